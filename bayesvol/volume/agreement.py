"""Where a Laplace and a sampled volume curve agree, and why they part where they do.

At each radius t the two estimates of log V(t) agree when |log V̂ − log V_L| ≤ max(tol, z·s.e.). Where they
do not, the measured evidence names the cause:

- ``mixing``: the sampler's independent runs disagree beyond the shrinkage statistics at t (the variance
  inflation of :class:`~bayesvol.volume.nested_statistics.NestedInfo` past its χ² 99.9 % point): the sampled
  number is not to be trusted there;
- ``singular``: the sampled volume dimension k(t) departs from the Laplace count beyond its error — D is not
  quadratic at that scale (a singular class, or t beyond the quadratic region) — at t, or at a larger radius
  of the same stretch of departures: log V(t) = log V(T) − ½ ∫_t^T k(s) d log s, so a gap opened where k
  departed is carried down to every smaller t (a network on real data: k̂ above the Laplace count where the
  logits saturate, t ≈ 0.3–0.8, and the gap stays below, where k agrees again);
- ``prior``: k(t) agrees but log V is offset, and the prior is not Gaussian in z — the Laplace curve expands
  log w to second order at θ0, which misjudges the prior's mass in the flat directions;
- ``curvature``: the Laplace spectrum is not exact (Lanczos: unresolved directions counted as flat);
- ``unexplained``: none of the above was measured.
"""

from __future__ import annotations

import warnings
from typing import NamedTuple

import numpy as np
import xarray as xr
from scipy.stats import chi2

from bayesvol.errors import BayesvolWarning, InputError
from bayesvol.volume.curve import VolumeCurve

__all__ = ["CAUSES", "CurveAgreement", "CurvesDisagreeWarning", "curve_agreement"]

CAUSES = ("agree", "mixing", "singular", "prior", "curvature", "unexplained", "unreached")


class CurvesDisagreeWarning(BayesvolWarning):
    """The Laplace and the sampled log V(t) differ beyond max(tol, z·s.e.) somewhere on the grid."""


class CurveAgreement(NamedTuple):
    """Per radius: the gap (sampled − Laplace, nats) with its s.e., both k(t), and the cause of any gap.

    ``agree_down_to`` is the smallest t of the run of agreeing radii that contains the largest t (None when
    the curves differ already there); ``summary`` is one sentence computed from the numbers.
    """

    eps2: np.ndarray
    gap: np.ndarray
    gap_stderr: np.ndarray
    k_laplace: np.ndarray
    k_sampled: np.ndarray
    k_sampled_stderr: np.ndarray
    cause: np.ndarray
    agree_down_to: float | None
    summary: str

    def to_xarray(self) -> xr.Dataset:
        """The record as an xarray Dataset over ``eps2``."""
        return xr.Dataset(
            {"gap": ("eps2", self.gap), "gap_stderr": ("eps2", self.gap_stderr),
             "k_laplace": ("eps2", self.k_laplace), "k_sampled": ("eps2", self.k_sampled),
             "k_sampled_stderr": ("eps2", self.k_sampled_stderr), "cause": ("eps2", self.cause.astype(str))},
            coords={"eps2": self.eps2},
            attrs={"summary": self.summary, "agree_down_to": np.nan if self.agree_down_to is None
                   else self.agree_down_to},
        )


def _mixing_flags(sampled: VolumeCurve) -> np.ndarray:
    info = sampled.diagnostics
    inflation = getattr(info, "variance_inflation", None)
    runs = int(getattr(info, "num_runs", 1) or 1)
    if inflation is None or runs < 2:
        return np.zeros(sampled.eps2.size, dtype=bool)
    threshold = chi2.ppf(0.999, runs - 1) / (runs - 1)  # the threshold of PoorMixingWarning
    inflation = np.asarray(inflation, dtype=float)
    return np.isfinite(inflation) & (inflation > threshold)


def _departed_above(t: np.ndarray, agree: np.ndarray, k_departs: np.ndarray) -> np.ndarray:
    """Per radius: whether k departed at a larger radius of the current stretch.

    A stretch ends (scanning down from the largest t) at a radius where the curves agree and k does too;
    within it, the gap opened where k departed is carried down to every smaller t.
    """
    out = np.zeros(t.size, dtype=bool)
    departed = False
    for i in np.argsort(t)[::-1]:
        if agree[i] and not k_departs[i]:
            departed = False
        out[i] = departed
        departed = departed or bool(k_departs[i])
    return out


def curve_agreement(laplace: VolumeCurve, sampled: VolumeCurve, *, tol: float = 0.5, z: float = 3.0,
                    warn: bool = True) -> CurveAgreement:
    """Compare log V(t) of a Laplace curve and a sampled one on their common grid, naming each gap's cause.

    Agreement at t: |log V̂(t) − log V_L(t)| ≤ max(tol, z·s.e.(t)); the volume dimensions agree when
    |k̂(t) − k_L(t)| ≤ z·s.e.(k̂). Warns (:class:`CurvesDisagreeWarning`) once when any radius disagrees.
    """
    from bayesvol.volume.laplace import LaplaceInfo

    if not isinstance(laplace.diagnostics, LaplaceInfo):
        raise InputError(f"laplace must be a curve from bv.laplace_volume, got method {laplace.method!r}")
    if laplace.eps2.shape != sampled.eps2.shape or not np.allclose(laplace.eps2, sampled.eps2, rtol=1e-12):
        raise InputError(f"the two curves must share their eps2 grid; got {laplace.eps2.size} and "
                         f"{sampled.eps2.size} radii ({laplace.eps2[:3]}… vs {sampled.eps2[:3]}…)")
    if not (np.isfinite(tol) and tol >= 0 and np.isfinite(z) and z > 0):
        raise InputError(f"tol must be ≥ 0 and z > 0, got tol = {tol!r}, z = {z!r}")
    info: LaplaceInfo = laplace.diagnostics
    t = np.asarray(sampled.eps2, dtype=float)
    gap = np.asarray(sampled.log_volume, float) - np.asarray(laplace.log_volume, float)
    se = np.asarray(sampled.stderr, float)
    k_lap = np.asarray(laplace.volume_dimension, float)
    k_hat = np.asarray(sampled.volume_dimension, float)
    k_se = np.asarray(sampled.volume_dimension_stderr, float)
    reached = np.isfinite(gap)
    agree = reached & (np.abs(gap) <= np.maximum(tol, z * se))
    k_departs = np.isfinite(k_hat) & (np.abs(k_hat - k_lap) > z * k_se)
    k_local = k_departs
    k_departs = k_departs | _departed_above(t, agree, k_departs)
    mixing = _mixing_flags(sampled)
    cause = np.full(t.size, "unexplained", dtype=object)
    cause[agree] = "agree"
    cause[~reached] = "unreached"
    open_ = ~agree & reached
    for name, flag in (("mixing", mixing), ("singular", k_departs),
                       ("prior", np.full(t.size, not info.prior_exact_gaussian)),
                       ("curvature", np.full(t.size, not info.curvature_exact))):
        hit = open_ & flag
        cause[hit] = name
        open_ &= ~hit
    order = np.argsort(t)[::-1]  # from the largest radius down
    agree_down_to = None
    for i in order:
        if not agree[i]:
            break
        agree_down_to = float(t[i])
    k_z = np.where(k_local, np.abs(k_hat - k_lap) / np.where(k_se > 0, k_se, np.inf), -np.inf)
    summary = _summary(t, cause, gap, se, k_hat, k_lap, agree_down_to, tol, z,
                       int(np.argmax(k_z)) if np.any(k_local) else None)
    if warn and np.any(reached & ~agree):
        warnings.warn(summary, CurvesDisagreeWarning, stacklevel=2)
    return CurveAgreement(t, gap, se, k_lap, k_hat, k_se, cause, agree_down_to, summary)


def _summary(t: np.ndarray, cause: np.ndarray, gap: np.ndarray, se: np.ndarray, k_hat: np.ndarray,
             k_lap: np.ndarray, agree_down_to: float | None, tol: float, z: float,
             k_worst: int | None) -> str:
    differ = [c for c in CAUSES[1:-1] if np.any(cause == c)]
    if not differ:
        return (f"the sampled and the Laplace log V(t) agree within max({tol:g}, {z:g} s.e.) at every "
                f"reached radius ({t.min():.3g} … {t.max():.3g})")
    parts = []
    for name in differ:
        where = cause == name
        worst = int(np.nanargmax(np.where(where, np.abs(gap), -np.inf)))
        at = worst if k_worst is None else k_worst  # where k departs most (in s.e.), maybe above the gap
        detail = {
            "mixing": "the sampler's runs disagree beyond the shrinkage statistics (its number is not to be "
                      "trusted there)",
            "singular": f"the volume dimension departs from the Laplace count (most at t = {t[at]:.3g}: k̂ = "
                        f"{k_hat[at]:.2f} vs {k_lap[at]:.2f}; a gap opened there is carried down to smaller "
                        "t): D is not quadratic at that scale",
            "prior": "k(t) agrees but the prior is not Gaussian in z: the Laplace curve's second-order "
                     "expansion of log w misjudges the prior mass",
            "curvature": "the Laplace spectrum is not exact (Lanczos)",
            "unexplained": "no measured cause",
        }[name]
        parts.append(f"{name} at {int(where.sum())} radii (largest gap {gap[worst]:+.2f} ± {se[worst]:.2f} "
                     f"nats at t = {t[worst]:.3g}; {detail})")
    head = ("the curves agree down to t = " + f"{agree_down_to:.3g}" if agree_down_to is not None
            else "the curves differ already at the largest radius")
    return f"Laplace vs sampled log V(t): {head}; they part by " + "; ".join(parts)
