"""The learning coefficient λ and its multiplicity m read off a nested volume curve.

For a singular class V(t) ≍ c t^λ (log 1/t)^(m−1) as t → 0 (Watanabe 2009, Thm 6.6), so on a window of small
radii

    log V(t) = λ log t + (m − 1) log log(1/t) + c.

:func:`learning_coefficient` fits this by generalized least squares with the curve's full covariance of
log V across t. That covariance is not diagonal: the runs' log V at two radii share every level above the
larger radius, so neighbouring log V are almost perfectly correlated and the information on λ lies in their
differences; a diagonal (ordinary) fit would count the same shrinkage noise many times and misstate the
error of λ. The covariance is built like the curve's own stderr (:mod:`bayesvol.volume.nested_statistics`),
pooling with equal weights

* the order-statistics model of one run: log X_k is a sum of k independent log Beta(N−K+1, K) shrinkages and
  between levels log V(t) = log X_k + log U_(j) (U the uniform order statistics of the level's N points),
  so Cov(log V(t_a), log V(t_b)) = min(k_a, k_b)·ψ'-variance of one shrinkage, plus, when both radii fall in
  the same level, Var log U_(max(j_a, j_b)) = ψ'(j+½) − ψ'(N+1) (nested uniform order statistics); and
* the sample covariance of the R independent runs' log V (R − 1 degrees of freedom),

so its diagonal is the curve's stderr² exactly (a unit test checks it).

The window (the stated rule): the radii below ``t_max`` where every run reached, grown from the deepest
``min_points`` towards larger t, one radius at a time, for as long as the asymptotic form with its best
integer m fits within the correlated errors (χ² p-value ≥ ``p_min``); the window stops at the first radius
that breaks it. m: each integer 1 … ``max_multiplicity`` is fitted on that window (λ and c free); m is
determined when every other integer fits worse by Δχ² ≥ ``delta_chi2`` (default 6.63, the 99 % point of
χ²₁: a likelihood ratio of e^3.3), otherwise "undetermined" (``multiplicity=None``). λ̂ and its standard
error average the fits over m with weights ∝ e^{−χ²_m/2} (equal prior weight on each m; the variance adds
the spread of the λ_m): where the curve cannot tell m = 1 from m = 2 the two fits' λ differ by several of
their own standard errors, and reporting one of them would give a miscalibrated error bar (measured: |z| up
to 8 on a normal crossing). Where m is determined the average is the best fit to within its weight
(< 4 %). ``multiplicity=`` fixes m where the theory gives it.
"""

from __future__ import annotations

import warnings
from typing import NamedTuple

import numpy as np
from scipy.special import polygamma
from scipy.stats import chi2

from bayesvol.errors import BayesvolWarning, InputError
from bayesvol.volume.curve import VolumeCurve
from bayesvol.volume.nested_statistics import NestedInfo, _shrinkage

__all__ = ["AsymptoticWarning", "LearningCoefficient", "MultiplicityFit", "learning_coefficient",
           "log_volume_covariance"]


class AsymptoticWarning(BayesvolWarning):
    """The volume curve does not reach the regime where log V = λ log t + (m−1) log log(1/t) + c holds."""


class MultiplicityFit(NamedTuple):
    """The GLS fit of λ and c on the window for one fixed multiplicity m."""

    multiplicity: int
    learning_coefficient: float
    stderr: float
    log_constant: float
    chi2: float
    dof: int


class LearningCoefficient(NamedTuple):
    """λ and m of a volume curve (:func:`learning_coefficient`).

    Attributes
    ----------
    learning_coefficient, stderr : float
        λ̂ and its standard error (from the curve's correlated errors), averaged over the multiplicities
        tried with weights ∝ e^{−χ²_m/2} (the given m alone when ``multiplicity=`` was passed).
    multiplicity : int or None
        m̂ when the data decide it (see the module docstring), None when they do not ("undetermined").
    multiplicity_used : int
        The m of the best fit (the given ``multiplicity=``, else the best-fitting integer); ``log_constant``,
        ``chi2``, ``dof`` and ``p_value`` are that fit's.
    multiplicity_given : bool
        Whether m was fixed by the caller rather than read off the curve.
    log_constant : float
        c in log V = λ log t + (m−1) log log(1/t) + c.
    window : (float, float)
        The smallest and largest radius t of the fitting window.
    num_points : int
        Radii in the window.
    chi2, dof, p_value : float, int, float
        The reported fit's χ² = rᵀ C⁻¹ r with the curve's covariance C, its degrees of freedom, and
        P(χ²_dof ≥ chi2).
    asymptotic : bool
        False when even the deepest ``min_points`` radii reject the asymptotic form (an
        :class:`AsymptoticWarning` was raised).
    fits : tuple of MultiplicityFit
        The fit for every integer m tried, on the same window.
    num_evaluations : int
        Evaluations of D behind the curve (its ``NestedInfo``).

    """

    learning_coefficient: float
    stderr: float
    multiplicity: int | None
    multiplicity_used: int
    multiplicity_given: bool
    log_constant: float
    window: tuple[float, float]
    num_points: int
    chi2: float
    dof: int
    p_value: float
    asymptotic: bool
    fits: tuple[MultiplicityFit, ...]
    num_evaluations: int

    def to_dict(self) -> dict:
        """JSON-able summary (for reports)."""
        return {"learning_coefficient": self.learning_coefficient, "stderr": self.stderr,
                "multiplicity": self.multiplicity, "multiplicity_used": self.multiplicity_used,
                "multiplicity_given": self.multiplicity_given, "log_constant": self.log_constant,
                "window": list(self.window), "num_points": self.num_points, "chi2": self.chi2,
                "dof": self.dof, "p_value": self.p_value, "asymptotic": self.asymptotic,
                "num_evaluations": self.num_evaluations,
                "fits": [f._asdict() for f in self.fits]}


def log_volume_covariance(curve: VolumeCurve) -> np.ndarray:
    """The (T, T) covariance of the curve's log V across its radii (nats²); NaN rows where unreached.

    Equal-weight pool of the order-statistics covariance of one run and the runs' sample covariance, each
    divided by R (module docstring); its diagonal equals ``curve.stderr**2``.
    """
    info = _nested_info(curve, "log_volume_covariance")
    t = np.asarray(curve.eps2, dtype=float)
    runs, num_live = info.num_runs, info.num_live
    _, var_shrink = _shrinkage(num_live, info.num_delete)
    levels = np.concatenate([np.full((1, runs), np.inf), np.asarray(info.levels)])  # L_0 = +∞
    live = np.asarray(info.live_divergence)
    k_star = np.sum(levels[:, :, None] >= t[None, None, :], axis=0) - 1  # (R, T), as in the curve
    k_star = np.minimum(k_star, live.shape[0] - 1)
    run_index = np.arange(runs)[:, None]
    j = np.sum(live[k_star, run_index] <= t[None, :, None], axis=-1)  # (R, T)
    same = k_star[:, :, None] == k_star[:, None, :]
    j_max = np.maximum(j[:, :, None], j[:, None, :])
    interp = polygamma(1, j_max + 0.5) - polygamma(1, num_live + 1)
    theory = (np.minimum(k_star[:, :, None], k_star[:, None, :]) * var_shrink
              + np.where(same, interp, 0.0)).mean(axis=0)
    log_v = np.asarray(info.log_volume_runs, dtype=float)
    finite = np.all(np.isfinite(log_v), axis=0)
    cov = np.full((t.size, t.size), np.nan)
    block = np.ix_(finite, finite)
    if runs == 1:
        cov[block] = theory[block]
    else:
        spread = np.cov(log_v[:, finite], rowvar=False, ddof=1).reshape(finite.sum(), finite.sum())
        cov[block] = 0.5 * (spread + theory[block]) / runs
    return cov


def learning_coefficient(curve: VolumeCurve, *, multiplicity: int | None = None, t_max: float = 0.1,
                         min_points: int = 4, max_multiplicity: int = 3, p_min: float = 0.01,
                         delta_chi2: float = 6.63) -> LearningCoefficient:
    """λ ± s.e. and m from a nested volume curve: GLS fit of log V = λ log t + (m−1) log log(1/t) + c.

    Over the window of small t chosen by the rule in the module docstring, with the covariance of
    :func:`log_volume_covariance`. ``multiplicity``: fix m (else the integers 1 … ``max_multiplicity`` are
    compared); ``t_max``: only radii t < t_max (< 1) enter; ``min_points``: the smallest window (≥ 3);
    ``p_min``: the χ² p-value below which a window is rejected; ``delta_chi2``: how much worse every other m
    must fit for m to count as determined. Raises :class:`AsymptoticWarning` when even the deepest
    ``min_points`` radii reject the asymptotic form.
    """
    info = _nested_info(curve)
    if multiplicity is not None and (isinstance(multiplicity, bool) or not isinstance(multiplicity, int)
                                     or multiplicity < 1):
        raise InputError(f"multiplicity must be an integer ≥ 1 or None, got {multiplicity!r}")
    if isinstance(max_multiplicity, bool) or not isinstance(max_multiplicity, int) or max_multiplicity < 1:
        raise InputError(f"max_multiplicity must be an integer ≥ 1, got {max_multiplicity!r}")
    if isinstance(min_points, bool) or not isinstance(min_points, int) or min_points < 3:
        raise InputError(f"min_points must be an integer ≥ 3 (two parameters and one degree of freedom), "
                         f"got {min_points!r}")
    if not 0 < t_max <= 1:
        raise InputError(f"t_max must be in (0, 1] (log log(1/t) needs t < 1), got {t_max!r}")
    if not 0 < p_min < 1:
        raise InputError(f"p_min must be in (0, 1), got {p_min!r}")
    if not delta_chi2 > 0:
        raise InputError(f"delta_chi2 must be > 0, got {delta_chi2!r}")
    t = np.asarray(curve.eps2, dtype=float)
    y = np.asarray(curve.log_volume, dtype=float)
    cov = log_volume_covariance(curve)
    usable = np.flatnonzero((t < t_max) & np.isfinite(y) & np.isfinite(np.diag(cov)))
    if usable.size < min_points:
        raise InputError(
            f"learning_coefficient needs ≥ {min_points} radii eps2 < t_max = {t_max:g} with a finite log V; "
            f"the curve has {usable.size} (eps2 = {t.tolist()}): pass a grid reaching deeper (for example "
            "eps2 = np.geomspace(1e-8, 1e-2, 13))")
    ms = [multiplicity] if multiplicity is not None else list(range(1, max_multiplicity + 1))

    def fit_window(size: int) -> list[MultiplicityFit]:
        idx = usable[:size]  # the deepest `size` radii (eps2 is increasing)
        return [_gls(t[idx], y[idx], cov[np.ix_(idx, idx)], m) for m in ms]

    def acceptable(fits: list[MultiplicityFit]) -> bool:
        best = min(fits, key=lambda f: f.chi2)
        return best.dof == 0 or chi2.sf(best.chi2, best.dof) >= p_min

    size = min_points
    fits = fit_window(size)
    asymptotic = acceptable(fits)
    while asymptotic and size < usable.size:
        wider = fit_window(size + 1)
        if not acceptable(wider):
            break
        size, fits = size + 1, wider
    best = min(fits, key=lambda f: f.chi2)
    if multiplicity is not None:
        decided = multiplicity
    else:
        others = [f.chi2 - best.chi2 for f in fits if f.multiplicity != best.multiplicity]
        decided = best.multiplicity if all(d >= delta_chi2 for d in others) else None
    # model average over m (weights ∝ e^{−χ²/2}, shifted by the best χ² against underflow)
    weights = np.exp(-0.5 * (np.array([f.chi2 for f in fits]) - best.chi2))
    weights /= weights.sum()
    lams = np.array([f.learning_coefficient for f in fits])
    lam = float(weights @ lams)
    stderr = float(np.sqrt(weights @ (np.array([f.stderr for f in fits]) ** 2 + (lams - lam) ** 2)))
    p_value = float(chi2.sf(best.chi2, best.dof)) if best.dof > 0 else 1.0
    window = (float(t[usable[0]]), float(t[usable[size - 1]]))
    if not asymptotic:
        warnings.warn(
            f"the volume curve is not yet asymptotic: on its deepest {size} radii eps2 in [{window[0]:.3g}, "
            f"{window[1]:.3g}] log V = λ log t + (m−1) log log(1/t) + c fits with χ² = {best.chi2:.1f} on "
            f"{best.dof} degrees of freedom (p = {p_value:.2g} < {p_min}); "
            f"λ = {best.learning_coefficient:.3g} is a local slope, not the learning coefficient. Reach "
            "smaller eps2 (a deeper grid and "
            "max_levels) or run more live points", AsymptoticWarning, stacklevel=2)
    return LearningCoefficient(
        learning_coefficient=lam, stderr=stderr, multiplicity=decided,
        multiplicity_used=best.multiplicity, multiplicity_given=multiplicity is not None,
        log_constant=best.log_constant, window=window, num_points=size, chi2=best.chi2, dof=best.dof,
        p_value=p_value, asymptotic=asymptotic, fits=tuple(fits), num_evaluations=info.num_evaluations)


def _nested_info(curve: VolumeCurve, who: str = "learning_coefficient") -> NestedInfo:
    if not isinstance(curve, VolumeCurve) or not isinstance(curve.diagnostics, NestedInfo):
        raise InputError(f"{who} needs a VolumeCurve made by sampled_volume / nested_volume "
                         f"(its per-run log V and levels give the covariance across t), got "
                         f"{getattr(curve, 'method', type(curve).__name__)!r}")
    return curve.diagnostics


def _gls(t: np.ndarray, y: np.ndarray, cov: np.ndarray, m: int) -> MultiplicityFit:
    """GLS of y − (m−1) log log(1/t) on (log t, 1) with covariance ``cov``.

    The covariance can be singular (two radii in the same level with the same count of points below them
    have identical log V in every run): its pseudo-inverse drops those exact duplicates, and the degrees of
    freedom count only the directions kept.
    """
    target = y - (m - 1) * np.log(np.log(1.0 / t))
    design = np.column_stack([np.log(t), np.ones_like(t)])
    values, vectors = np.linalg.eigh(0.5 * (cov + cov.T))
    keep = values > 1e-10 * values.max()
    whiten = vectors[:, keep] / np.sqrt(values[keep])  # C⁺ = W Wᵀ
    a, b = whiten.T @ design, whiten.T @ target
    beta, *_ = np.linalg.lstsq(a, b, rcond=None)
    beta_cov = np.linalg.pinv(a.T @ a)
    resid = b - a @ beta
    return MultiplicityFit(multiplicity=m, learning_coefficient=float(beta[0]),
                           stderr=float(np.sqrt(beta_cov[0, 0])), log_constant=float(beta[1]),
                           chi2=float(resid @ resid), dof=int(keep.sum()) - 2)
