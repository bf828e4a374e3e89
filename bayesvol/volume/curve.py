"""The result of a volume estimator: log V(t) = log w({θ : D(θ) ≤ t}) over a grid of t, with errors."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import xarray as xr

from bayesvol.errors import InputError

__all__ = ["VolumeCurve"]


@dataclass(frozen=True)
class VolumeCurve:
    """Prior volume of KL balls around the truth, V(t) = w({θ : D(P_θ0 ‖ P_θ) ≤ t}).

    Attributes
    ----------
    eps2 : (T,) array
        The radii t (nats), increasing.
    log_volume : (T,) array
        log V(t), natural log; NaN where the estimator could not reach t (with a warning).
    stderr : (T,) array
        Standard error of ``log_volume`` (nats); 0 for a deterministic formula.
    volume_dimension : (T,) array
        The volume dimension k(t) = 2 d log V / d log t: d for a regular class as t → 0, twice the
        learning coefficient for a singular one; for the Laplace curve, the number of curvature
        directions resolved at radius t. (Not k_eff(n) = Σ nλ_i/(1 + nλ_i): see
        :func:`bayesvol.effective_dimension`.)
    volume_dimension_stderr : (T,) array
        Standard error of ``volume_dimension`` (0 when exact).
    method : str
        Which estimator made the curve ("laplace", "nested", "exact", …).
    eigenvalues : array or None
        The curvature eigenvalues a_i used (Laplace), in prior-whitened coordinates, if any.
    diagnostics : typed record or None
        The estimator's own record, defined beside it: :class:`bayesvol.volume.laplace.LaplaceInfo` or
        :class:`bayesvol.volume.nested_statistics.NestedInfo` (None for a curve made by hand).

    """

    eps2: np.ndarray
    log_volume: np.ndarray
    stderr: np.ndarray
    volume_dimension: np.ndarray
    volume_dimension_stderr: np.ndarray
    method: str
    eigenvalues: np.ndarray | None = None
    diagnostics: Any = None

    @property
    def effective_dim(self) -> np.ndarray:
        """Deprecated alias of :attr:`volume_dimension` (k(t), not k_eff(n))."""
        warnings.warn("VolumeCurve.effective_dim is deprecated: use VolumeCurve.volume_dimension (the volume "
                      "dimension k(t) = 2 d log V / d log t)", DeprecationWarning, stacklevel=2)
        return self.volume_dimension

    @property
    def effective_dim_stderr(self) -> np.ndarray:
        """Deprecated alias of :attr:`volume_dimension_stderr`."""
        warnings.warn("VolumeCurve.effective_dim_stderr is deprecated: use "
                      "VolumeCurve.volume_dimension_stderr", DeprecationWarning, stacklevel=2)
        return self.volume_dimension_stderr

    @property
    def complexity(self) -> np.ndarray:
        """Comp(t) = −log V(t) (nats)."""
        return -np.asarray(self.log_volume)

    def to_arviz(self) -> Any:
        """The sampler run behind the curve as an ArviZ DataTree (its ``diagnostics.to_arviz()``).

        Raises
        ------
        ValueError
            For a curve made without a sampler (Laplace, exact).

        """
        to_arviz = getattr(self.diagnostics, "to_arviz", None)
        if to_arviz is None:
            raise ValueError(f"a {self.method!r} volume curve has no sampler run to diagnose")
        return to_arviz()

    def to_xarray(self) -> xr.Dataset:
        """The curve as an xarray Dataset over the coordinate ``eps2``."""
        data = {
            "log_volume": ("eps2", np.asarray(self.log_volume)),
            "stderr": ("eps2", np.asarray(self.stderr)),
            "volume_dimension": ("eps2", np.asarray(self.volume_dimension)),
            "volume_dimension_stderr": ("eps2", np.asarray(self.volume_dimension_stderr)),
        }
        ds = xr.Dataset(data, coords={"eps2": np.asarray(self.eps2)})
        ds.attrs["method"] = self.method
        ds["log_volume"].attrs.update(units="nats", long_name="log prior volume of the KL ball")
        ds["volume_dimension"].attrs.update(long_name="volume dimension k(t) = 2 d log V / d log t")
        ds["eps2"].attrs.update(units="nats", long_name="KL radius t")
        return ds


def check_eps2(eps2: Any, error: type[Exception] = InputError) -> np.ndarray:
    """The radii t sorted as float64, or ``error`` naming the bad ones (finite, > 0, 1-D, non-empty)."""
    t = np.atleast_1d(np.asarray(eps2, dtype=np.float64))
    if t.ndim != 1 or t.size == 0:
        raise error(f"eps2 must be a non-empty 1-D array of radii (nats), got shape {np.shape(eps2)}")
    if not np.all(np.isfinite(t)) or np.any(t <= 0):
        raise error("eps2 must be finite and > 0 (KL radii in nats); got "
                    f"{t[~(np.isfinite(t) & (t > 0))][:3].tolist()}")
    return np.sort(t)

