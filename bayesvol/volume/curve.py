"""The result of a volume estimator: log V(t) = log w({θ : D(θ) ≤ t}) over a grid of t, with errors."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import xarray as xr

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
    effective_dim : (T,) array
        The volume dimension k(t) = 2 d log V / d log t: d for a regular class as t → 0, twice the
        learning coefficient for a singular one; for the Laplace curve, the number of curvature
        directions resolved at radius t.
    effective_dim_stderr : (T,) array
        Standard error of ``effective_dim`` (0 when exact).
    method : str
        Which estimator made the curve ("laplace", "nested", "exact", …).
    eigenvalues : array or None
        The curvature eigenvalues a_i used (Laplace), in prior-whitened coordinates, if any.
    diagnostics : dict
        Estimator-specific health (acceptance, evaluations, levels, …); see each estimator.

    """

    eps2: np.ndarray
    log_volume: np.ndarray
    stderr: np.ndarray
    effective_dim: np.ndarray
    effective_dim_stderr: np.ndarray
    method: str
    eigenvalues: np.ndarray | None = None
    diagnostics: dict[str, Any] = field(default_factory=dict)

    @property
    def complexity(self) -> np.ndarray:
        """Comp(t) = −log V(t) (nats)."""
        return -np.asarray(self.log_volume)

    def to_arviz(self) -> Any:
        """The sampler run behind the curve as an ArviZ DataTree (:func:`bayesvol.volume.nested.to_arviz`).

        Raises
        ------
        ValueError
            For a curve made without a sampler (Laplace, exact).

        """
        if self.method != "nested":
            raise ValueError(f"a {self.method!r} volume curve has no sampler run to diagnose")
        from bayesvol.volume.nested import to_arviz

        return to_arviz(self)

    def to_xarray(self) -> xr.Dataset:
        """The curve as an xarray Dataset over the coordinate ``eps2``."""
        data = {
            "log_volume": ("eps2", np.asarray(self.log_volume)),
            "stderr": ("eps2", np.asarray(self.stderr)),
            "effective_dim": ("eps2", np.asarray(self.effective_dim)),
            "effective_dim_stderr": ("eps2", np.asarray(self.effective_dim_stderr)),
        }
        ds = xr.Dataset(data, coords={"eps2": np.asarray(self.eps2)})
        ds.attrs["method"] = self.method
        ds["log_volume"].attrs.update(units="nats", long_name="log prior volume of the KL ball")
        ds["eps2"].attrs.update(units="nats", long_name="KL radius t")
        return ds
