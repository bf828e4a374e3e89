"""The learning coefficient λ and its multiplicity m read off a nested volume curve.

For a singular class V(t) ≍ a t^λ (log 1/t + b)^(m−1) as t → 0 (Watanabe 2009, Thm 6.6; b is the next-order
term of the asymptotic expansion), so on a window of small radii

    log V(t) = λ log t + (m − 1) log(log(1/t) + b) + c.

The shift b matters at reachable t: for m = 2 the local slope is λ − 1/(log(1/t) + b), and on the normal
crossing θ1⁴θ2⁴ (λ = ¼, m = 2) a fit with b = 0 missed λ by 5 s.e. on the exact curve, and a fit with m = 1 by
30 % on the nested one. For m = 1 the form is linear in log t (no b); for m ≥ 2, b is profiled on a grid of
u = 1/(L₊ + b) ∈ [0, 1/(0.02 L₊)] (L₊ = log(1/t) at the window's largest radius, so log(1/t) + b > 0 on the
window) refined by a bounded 1-D solve, with λ and c by GLS given b. u = 0 (b → ∞) is the m = 1 fit: the
m ≥ 2 families contain it (there their λ tends to the m = 1 slope), so a curve that shows no log factor gives
"undetermined", never a wrong m ≥ 2, and m = 1 is never *declared* by this rule (only read as the best fit).

:func:`learning_coefficient` fits by generalized least squares with the curve's full covariance of log V
across t. That covariance is not diagonal: the runs' log V at two radii share every level above the
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

λ's standard error for m ≥ 2 includes b's effect by profile likelihood: the half-width of
{λ : min_b χ²(λ, b) ≤ χ²_min + 1} (at fixed b the GLS χ² is quadratic in λ with the m = 1 design's s.e., so
the set is the union over the b grid of λ(b) ± s.e.·√(χ²_min + 1 − χ²(b))); for m = 1 it is the GLS s.e.

The window (the stated rule): the radii below ``t_max`` where every run reached and the curve is at least
``min_depth`` (:data:`MIN_DEPTH`, 3) nats deep, grown from the deepest
``min_points`` towards larger t, one radius at a time, for as long as the asymptotic form with its best
integer m fits within the correlated errors (χ² p-value ≥ ``p_min``); the window stops at the first radius
that breaks it. m: each integer 1 … ``max_multiplicity`` is fitted on that window and scored by the
penalized χ²_m + ``shift_penalty``·[m ≥ 2] (b's parameter is charged ``shift_penalty``, default 6.63, the 99 %
point of χ²₁); m is determined when every other integer scores worse by ≥ ``delta_chi2`` (default 6.63),
otherwise "undetermined" (``multiplicity=None``). So m ≥ 2 is declared against m = 1 only where b lowers χ²
by ≥ 13.3, m = 2 against m = 3 (both with b) by Δχ² ≥ 6.63, and m = 1 never (the m ≥ 2 families contain
it). λ̂ and its standard error average the fits over m with weights ∝ e^{−score_m/2} (the variance adds the
spread of the λ_m): where the curve cannot tell m = 1 from m = 2 the two fits' λ differ by several of their
own standard errors, and reporting one of them would give a miscalibrated error bar (measured: |z| up to 8
on a normal crossing). Why the penalty is that large (measured, benchmarks/RESULTS.md): a pre-asymptotic
power-law correction of an m = 1 curve (θ1²θ2⁴: V ≈ a t^{1/4}(1 + β t^{1/4})) is fitted by the m = 2 form
with b as well as a true log factor is; with the Akaike charge (2) its exact curve read λ 20 % high, with
6.63 10 %, while the m = 2 crossing θ1⁴θ2⁴'s exact curve reads 5 % either way. ``multiplicity=`` fixes m
where the theory gives it (b is still fitted for m ≥ 2).

Depth, not t, is what separates the two readings: an m ≥ 2 curve's slope drifts like 1/log(1/t) over every
decade, an m = 1 curve's power-law correction dies out like t^κ. Nested sampling pays per nat of depth, and a
small λ spreads those nats over many decades, so :func:`radii_to_depth` extends a pilot curve's radii down to
a stated depth (the λ table: 20 nats, t ≈ 1e-36 … 1e-48 for the normal crossings). Measured on 8 seeds of
each crossing (N 64 × R 8, depth 20, ``min_depth`` 3): θ1²θ2⁴ mean |Δλ|/λ 1.6 %, max 3.6 %; θ1⁴θ2⁴ 2.8 %,
max 6.7 %, where the 1e-8 … 1e-2 grid gave up to 18 % and 26 % (RESULTS.md).
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

__all__ = [
    "MIN_DEPTH",
    "AsymptoticWarning",
    "LearningCoefficient",
    "MultiplicityFit",
    "learning_coefficient",
    "log_volume_covariance",
    "radii_to_depth",
]


MIN_DEPTH = 3.0
"""Radii where the curve is shallower than MIN_DEPTH nats (log V > −MIN_DEPTH) never enter the fit. An m = 1
curve's leading correction is a power, relative t^κ with κ of the order of λ, i.e. ≈ V^{κ/λ}: a fixed depth
bounds it for every λ, where a fixed t does not (θ1²θ2⁴, λ = κ = ¼: 38 % at t = 1e-2, 3 % at V = e^{-3}, where
the m = 2 form with b took it for a log factor and read λ 10 % high; RESULTS.md)."""


class AsymptoticWarning(BayesvolWarning):
    """The volume curve does not reach the regime where log V = λ log t + (m−1) log(log 1/t + b) + c holds."""


class MultiplicityFit(NamedTuple):
    """The fit of λ, c (and b for m ≥ 2) on the window for one fixed multiplicity m.

    ``shift`` is b in (m−1) log(log(1/t) + b) (0 for m = 1, where it does not enter; inf for the b → ∞ limit,
    the m = 1 fit); ``stderr`` includes b's effect (profile likelihood); ``num_parameters`` is 2 or 3.
    """

    multiplicity: int
    learning_coefficient: float
    stderr: float
    log_constant: float
    chi2: float
    dof: int
    shift: float = 0.0
    num_parameters: int = 2


class LearningCoefficient(NamedTuple):
    """λ and m of a volume curve (:func:`learning_coefficient`).

    Attributes
    ----------
    learning_coefficient, stderr : float
        λ̂ and its standard error (from the curve's correlated errors), averaged over the multiplicities
        tried with weights ∝ e^{−(χ²_m + shift_penalty·[m ≥ 2])/2} (the given m alone with ``multiplicity=``).
    multiplicity : int or None
        m̂ when the data decide it (see the module docstring), None when they do not ("undetermined").
    multiplicity_used : int
        The m of the best fit (the given ``multiplicity=``, else the best-scoring integer); ``log_constant``,
        ``chi2``, ``dof`` and ``p_value`` are that fit's.
    multiplicity_given : bool
        Whether m was fixed by the caller rather than read off the curve.
    log_constant, shift : float
        c and b in log V = λ log t + (m−1) log(log(1/t) + b) + c (b = 0 for m = 1).
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
    shift: float = 0.0

    def to_dict(self) -> dict:
        """JSON-able summary (for reports)."""
        return {"learning_coefficient": self.learning_coefficient, "stderr": self.stderr,
                "multiplicity": self.multiplicity, "multiplicity_used": self.multiplicity_used,
                "multiplicity_given": self.multiplicity_given, "log_constant": self.log_constant,
                "window": list(self.window), "num_points": self.num_points, "chi2": self.chi2,
                "dof": self.dof, "p_value": self.p_value, "asymptotic": self.asymptotic,
                "num_evaluations": self.num_evaluations, "shift": _finite_or_none(self.shift),
                "fits": [{**f._asdict(), "shift": _finite_or_none(f.shift)} for f in self.fits]}


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
                         delta_chi2: float = 6.63, shift_penalty: float = 6.63,
                         min_depth: float = MIN_DEPTH) -> LearningCoefficient:
    """λ ± s.e. and m from a nested volume curve: fit of log V = λ log t + (m−1) log(log(1/t) + b) + c.

    Over the window of small t chosen by the rule in the module docstring, with the covariance of
    :func:`log_volume_covariance`. ``multiplicity``: fix m (else the integers 1 … ``max_multiplicity`` are
    compared; never more than the curve's dimension d, since the order m of the largest pole of
    ζ(z) = ∫ D(θ)^z w(θ) dθ is at most d); ``t_max``: only radii t < t_max (< 1) enter; ``min_depth``: nor
    radii with log V > −min_depth (:data:`MIN_DEPTH`); ``min_points``: the smallest window (≥ 3);
    ``p_min``: the χ² p-value below which a window is rejected; ``delta_chi2``: how much worse every other m
    must score for m to count as determined; ``shift_penalty``: the χ² charged for b in the m ≥ 2 forms.
    Raises :class:`AsymptoticWarning` when even the deepest
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
    if not min_depth >= 0:
        raise InputError(f"min_depth must be ≥ 0 nats, got {min_depth!r}")
    if not 0 < p_min < 1:
        raise InputError(f"p_min must be in (0, 1), got {p_min!r}")
    if not delta_chi2 > 0:
        raise InputError(f"delta_chi2 must be > 0, got {delta_chi2!r}")
    if not shift_penalty >= 0:
        raise InputError(f"shift_penalty must be ≥ 0, got {shift_penalty!r}")
    t = np.asarray(curve.eps2, dtype=float)
    y = np.asarray(curve.log_volume, dtype=float)
    cov = log_volume_covariance(curve)
    return _fit_curve(t, y, cov, num_evaluations=info.num_evaluations, multiplicity=multiplicity,
                      t_max=t_max, min_depth=min_depth, max_dimension=info.dim, min_points=min_points,
                      max_multiplicity=max_multiplicity, p_min=p_min,
                      delta_chi2=delta_chi2, shift_penalty=shift_penalty)


def _fit_curve(t: np.ndarray, y: np.ndarray, cov: np.ndarray, *, num_evaluations: int,
               multiplicity: int | None, t_max: float, min_points: int, max_multiplicity: int,
               min_depth: float = 0.0, max_dimension: int = 0,
               p_min: float, delta_chi2: float, shift_penalty: float = 6.63) -> LearningCoefficient:
    """The window rule, the fits over m and their average (module docstring) on radii t, log V y, cov."""
    usable = np.flatnonzero((t < t_max) & np.isfinite(y) & np.isfinite(np.diag(cov)) & (y <= -min_depth))
    if usable.size < min_points:
        raise InputError(
            f"learning_coefficient needs ≥ {min_points} radii eps2 < t_max = {t_max:g} with a finite log V "
            f"≤ −min_depth = {-min_depth:g}; "
            f"the curve has {usable.size} (eps2 = {t.tolist()}): pass a grid reaching deeper (for example "
            "eps2 = np.geomspace(1e-8, 1e-2, 13))")
    ms = [multiplicity] if multiplicity is not None else list(range(1, max_multiplicity + 1))
    if multiplicity is None and max_dimension > 0:  # m ≤ d: the pole of ζ(z) = ∫ D^z w has order ≤ d
        ms = ms[:max(1, max_dimension)]

    def fit_window(size: int) -> list[MultiplicityFit]:
        idx = usable[:size]  # the deepest `size` radii (eps2 is increasing)
        return [_fit_multiplicity(t[idx], y[idx], cov[np.ix_(idx, idx)], m) for m in ms]

    def acceptable(fits: list[MultiplicityFit]) -> bool:
        return any(f.dof <= 0 or chi2.sf(f.chi2, f.dof) >= p_min for f in fits)

    size = min_points
    fits = fit_window(size)
    asymptotic = acceptable(fits)
    while asymptotic and size < usable.size:
        wider = fit_window(size + 1)
        if not acceptable(wider):
            break
        size, fits = size + 1, wider
    scores = np.array([f.chi2 + shift_penalty * (f.num_parameters - 2) for f in fits])  # the cost of b
    best = fits[int(np.argmin(scores))]
    if multiplicity is not None:
        decided = multiplicity
    else:
        others = [sc - scores.min() for f, sc in zip(fits, scores) if f.multiplicity != best.multiplicity]
        # m = 1 is the b → ∞ end of every m ≥ 2 family: a curve can fail to show the log factor, not show
        # its absence, so m = 1 is never declared against them
        nested = best.multiplicity == 1 and len(fits) > 1
        decided = best.multiplicity if all(d >= delta_chi2 for d in others) and not nested else None
    # model average over m (weights e^{−score/2}, shifted by the best score against underflow)
    weights = np.exp(-0.5 * (scores - scores.min()))
    weights /= weights.sum()
    lams = np.array([f.learning_coefficient for f in fits])
    lam = float(weights @ lams)
    stderr = float(np.sqrt(weights @ (np.array([f.stderr for f in fits]) ** 2 + (lams - lam) ** 2)))
    p_value = float(chi2.sf(best.chi2, best.dof)) if best.dof > 0 else 1.0
    window = (float(t[usable[0]]), float(t[usable[size - 1]]))
    if not asymptotic:
        warnings.warn(
            f"the volume curve is not yet asymptotic: on its deepest {size} radii eps2 in [{window[0]:.3g}, "
            f"{window[1]:.3g}] log V = λ log t + (m−1) log(log(1/t) + b) + c fits with χ² = {best.chi2:.1f} "
            "on "
            f"{best.dof} degrees of freedom (p = {p_value:.2g} < {p_min}); "
            f"λ = {best.learning_coefficient:.3g} is a local slope, not the learning coefficient. Reach "
            "smaller eps2 (a deeper grid and "
            "max_levels) or run more live points", AsymptoticWarning, stacklevel=2)
    return LearningCoefficient(
        learning_coefficient=lam, stderr=stderr, multiplicity=decided,
        multiplicity_used=best.multiplicity, multiplicity_given=multiplicity is not None,
        log_constant=best.log_constant, window=window, num_points=size, chi2=best.chi2, dof=best.dof,
        p_value=p_value, asymptotic=asymptotic, fits=tuple(fits), num_evaluations=num_evaluations,
        shift=best.shift)


def radii_to_depth(curve: VolumeCurve, depth: float, *, per_decade: float = 1.0,
                   max_decades: float = 200.0) -> np.ndarray:
    """The pilot ``curve``'s radii extended downwards until log V(t) ≈ −``depth`` nats.

    Below the pilot's deepest reached radius t₀ the grid continues at ``per_decade`` radii per decade down
    to t_min = t₀ · exp(−(depth − H₀)/s), where H₀ = −log V(t₀) and s > 0 is the slope d log V / d log t of
    the m = 1 fit to the pilot's deepest four radii (for m ≥ 2 the slope still grows towards λ below t₀, so
    the depth reached is at least ``depth``). Returns the pilot's radii unchanged when it is already
    ``depth`` deep. Why depth and not a fixed t: nested sampling's cost is per nat of depth, and a small λ
    spreads those nats over many decades of t — the decades that separate a log factor (m ≥ 2, a slope
    drifting like 1/log(1/t)) from an m = 1 curve's power-law corrections (which die out like t^κ).
    """
    if not depth > 0:
        raise InputError(f"depth must be > 0 nats, got {depth!r}")
    if not per_decade > 0 or not max_decades > 0:
        raise InputError(f"per_decade and max_decades must be > 0, got {per_decade!r}, {max_decades!r}")
    t = np.asarray(curve.eps2, dtype=float)
    y = np.asarray(curve.log_volume, dtype=float)
    reached = np.flatnonzero(np.isfinite(y))
    if reached.size < 4:
        raise InputError(f"radii_to_depth needs a pilot curve with ≥ 4 reached radii, got {reached.size}")
    h0 = -float(y[reached[0]])
    if h0 >= depth:
        return t
    deep = reached[:4]
    slope = _gls(t[deep], y[deep], np.diag(np.asarray(curve.stderr, dtype=float)[deep] ** 2 + 1e-12), 1)
    s = slope.learning_coefficient
    if not s > 0:
        raise InputError(f"the pilot curve's deepest slope d log V / d log t = {s:.3g} is not positive: "
                         "it cannot be extrapolated to a depth")
    decades = min((depth - h0) / s / np.log(10.0), max_decades)
    t0 = float(t[reached[0]])
    count = max(1, int(np.ceil(decades * per_decade)))
    below = t0 * 10.0 ** (-decades * np.arange(count, 0, -1) / count)
    return np.concatenate([below, t[reached[0]:]])


def _nested_info(curve: VolumeCurve, who: str = "learning_coefficient") -> NestedInfo:
    if not isinstance(curve, VolumeCurve) or not isinstance(curve.diagnostics, NestedInfo):
        raise InputError(f"{who} needs a VolumeCurve made by sampled_volume / nested_volume "
                         f"(its per-run log V and levels give the covariance across t), got "
                         f"{getattr(curve, 'method', type(curve).__name__)!r}")
    return curve.diagnostics


def _finite_or_none(x: float) -> float | None:
    return float(x) if np.isfinite(x) else None


_SHIFT_GRID = 400  # grid points of u = 1/(L₊ + b) before the 1-D refinement
_SHIFT_U_MAX = 50.0  # u·L₊ ≤ 50: log(1/t) + b ≥ L₊/50 on the window


def _fit_multiplicity(t: np.ndarray, y: np.ndarray, cov: np.ndarray, m: int) -> MultiplicityFit:
    """The fit for one m: GLS for m = 1; for m ≥ 2 b profiled, λ's s.e. by profile likelihood (module doc).

    Hand-written rather than a generic optimizer: at fixed b the model is linear (GLS, closed form), so the
    profile over the one nonlinear parameter is a grid plus scipy's bounded scalar solve.
    """
    linear = _gls(t, y, cov, 1)
    if m == 1:
        return linear
    log_inv = np.log(1.0 / t)
    l_plus = float(log_inv.min())
    whiten, keep = _whitener(cov)
    design = whiten.T @ np.column_stack([np.log(t), np.ones_like(t)])
    pinv = np.linalg.pinv(design)
    resid_proj = np.eye(design.shape[0]) - design @ pinv

    def solve(u: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(λ, c, χ²) at each u > 0 (b = 1/u − L₊)."""
        u = np.atleast_1d(u)
        log_term = np.log(1.0 + u[None, :] * (log_inv[:, None] - l_plus)) - np.log(u)[None, :]
        targets = whiten.T @ (y[:, None] - (m - 1) * log_term)
        beta = pinv @ targets
        resid = resid_proj @ targets
        return beta[0], beta[1], np.sum(resid**2, axis=0)

    scale = 1.0 / l_plus
    grid = scale * np.linspace(0.0, _SHIFT_U_MAX, _SHIFT_GRID + 1)[1:]
    lam, _, chis = solve(grid)
    lam = np.concatenate([[linear.learning_coefficient], lam])  # u = 0: b → ∞, the m = 1 fit
    chis = np.concatenate([[linear.chi2], chis])
    us = np.concatenate([[0.0], grid])
    i = int(np.argmin(chis))
    u_best, c_best, chi_best = us[i], linear.log_constant, chis[i]
    if i > 0:  # refine between the grid's neighbours (the grid brackets the minimum)
        from scipy.optimize import minimize_scalar

        lo, hi = us[i - 1], us[min(i + 1, us.size - 1)]
        res = minimize_scalar(lambda v: float(solve(np.array([v]))[2][0]), method="bounded",
                              bounds=(max(lo, 1e-12 * scale), hi), options={"xatol": 1e-6 * scale})
        if res.fun < chi_best:
            u_best, chi_best = float(res.x), float(res.fun)
        lam_best, c_arr, _ = solve(np.array([u_best]))
        lam_hat, c_best = float(lam_best[0]), float(c_arr[0])
    else:
        lam_hat = linear.learning_coefficient
    # profile likelihood over λ (b free): union of λ(u) ± s·√(χ²_min + 1 − χ²(u)), s the GLS s.e. at fixed b
    # (the same for every b: the design (log t, 1) does not depend on it)
    room = chi_best + 1.0 - chis
    inside = room >= 0
    half = linear.stderr * np.sqrt(np.where(inside, room, 0.0))
    lo_l = min(float(np.min((lam - half)[inside], initial=lam_hat)), lam_hat - linear.stderr)
    hi_l = max(float(np.max((lam + half)[inside], initial=lam_hat)), lam_hat + linear.stderr)
    shift = np.inf if u_best == 0.0 else 1.0 / u_best - l_plus
    return MultiplicityFit(multiplicity=m, learning_coefficient=lam_hat, stderr=0.5 * (hi_l - lo_l),
                           log_constant=float(c_best), chi2=float(chi_best), dof=int(keep.sum()) - 3,
                           shift=float(shift), num_parameters=3)


def _whitener(cov: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """W with C⁺ = W Wᵀ and the eigen-directions kept (see :func:`_gls`)."""
    values, vectors = np.linalg.eigh(0.5 * (cov + cov.T))
    keep = values > 1e-10 * values.max()
    return vectors[:, keep] / np.sqrt(values[keep]), keep


def _gls(t: np.ndarray, y: np.ndarray, cov: np.ndarray, m: int) -> MultiplicityFit:
    """GLS of y − (m−1) log log(1/t) on (log t, 1) with covariance ``cov`` (b = 0; m = 1 is the linear fit).

    The covariance can be singular (two radii in the same level with the same count of points below them
    have identical log V in every run): its pseudo-inverse drops those exact duplicates, and the degrees of
    freedom count only the directions kept.
    """
    target = y - (m - 1) * np.log(np.log(1.0 / t))
    design = np.column_stack([np.log(t), np.ones_like(t)])
    whiten, keep = _whitener(cov)
    a, b = whiten.T @ design, whiten.T @ target
    beta, *_ = np.linalg.lstsq(a, b, rcond=None)
    beta_cov = np.linalg.pinv(a.T @ a)
    resid = b - a @ beta
    return MultiplicityFit(multiplicity=m, learning_coefficient=float(beta[0]),
                           stderr=float(np.sqrt(beta_cov[0, 0])), log_constant=float(beta[1]),
                           chi2=float(resid @ resid), dof=int(keep.sum()) - 2)
