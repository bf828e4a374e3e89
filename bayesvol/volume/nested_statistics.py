"""The statistics of a nested volume run: log V(t), k(t) and B_n with their errors, and the run's health.

Turns the levels of :func:`bayesvol.volume.nested.nested_volume` into a :class:`~bayesvol.VolumeCurve`. With
perfect moves the prior masses X_k = V(L_k) shrink by independent factors X_{k+1}/X_k ~ Beta(N−K+1, K);
between levels, with j of the N live points at level k having D ≤ t, log V(t) = log X_k + ψ(j+½) − ψ(N+1).
The R runs are independent: every reported error pools their spread with the order-statistics variance
(:func:`_pool`), and a spread far beyond it raises :class:`PoorMixingWarning`.
"""

from __future__ import annotations

import warnings
from typing import Any, NamedTuple

import jax
import numpy as np
import xarray as xr
from scipy.special import digamma, logsumexp, polygamma
from scipy.stats import chi2

from bayesvol.divergence.kl import Estimate
from bayesvol.errors import BayesvolWarning, InputError
from bayesvol.volume.constrained_moves import AUTO_COORDINATE_UPDATES
from bayesvol.volume.curve import VolumeCurve

__all__ = [
    "NestedBudgetError",
    "NestedInfo",
    "NestedSamplingError",
    "PoorMixingWarning",
    "UnreachedVolumeWarning",
    "nested_gibbs_bound",
    "to_arviz",
]

Array = jax.Array


class NestedSamplingError(InputError):
    """The nested volume estimator cannot run on these inputs (bad eps2, a NaN of D, …)."""


class NestedBudgetError(NestedSamplingError):
    """The level budget ran out before the smallest requested radius was reached."""


class PoorMixingWarning(BayesvolWarning):
    """The independent runs disagree far more than the shrinkage order statistics allow.

    The constrained moves are not mixing (typically a curved, singular level set that the automatic
    choice of coordinate moves missed or that needs more of them): the reported stderr includes the runs'
    spread, but the estimate itself may be biased low. Agreement is necessary, not sufficient: runs that
    agree can share a bias from moves that mix too slowly.
    """


class UnreachedVolumeWarning(BayesvolWarning):
    """Some radii lie below the deepest level the run could reach: their log V is NaN."""


class _Levels(NamedTuple):
    count: Array  # levels completed
    positions: Array  # (R, N, d)
    log_prior: Array  # (R, N)
    divergence: Array  # (R, N)
    levels: Array  # (capacity + 1, R)
    live: Array  # (capacity + 1, R, N), sorted D of each level's population
    evaluations: Array  # (capacity, R)
    moved: Array  # (capacity, R)
    accepted: Array  # (capacity, R), acceptance of the independence proposals
    autocorr: Array  # (capacity, R)
    nan_found: Array
    nan_position: Array  # (d,) in ξ coordinates
    key: Array


class NestedInfo(NamedTuple):
    """A nested volume run's details, beside its curve (``VolumeCurve.diagnostics``).

    Attributes
    ----------
    num_evaluations : int
        D evaluations, prior draws and the probes of a singular D included (the Hessian's not).
    num_levels, num_live, num_delete, num_runs : int
        Levels completed, N live points, K replaced per level, R independent runs.
    num_steps, num_proposals, coordinate_steps : int
        Elliptical slice steps, independence proposals and coordinate slice updates per point per level
        (``coordinate_steps`` as used).
    stop : str
        "reached" (every radius reached) or "stagnated" (D stopped decreasing above some radius).
    seconds : float
        Wall-clock time of the run.
    levels : (levels, R) array
        The levels L_k (nats).
    log_volume_levels : (levels,) array
        E log X_k = k (ψ(N−K+1) − ψ(N+1)).
    acceptance, proposal_acceptance, evaluations, evaluations_per_step, divergence_autocorr, moves_ess
        Per (level, run); see :meth:`to_arviz`.
    live_divergence : (levels + 1, R, N) array
        The sorted D of each level's population (what :func:`nested_gibbs_bound` integrates).
    log_volume_runs : (R, T) array
        Each run's log V(t).
    variance_inflation : (T,) array
        The runs' spread / order-statistics variance of log V(t): ≈ 1 when the moves mix.
    stderr_theory : (T,) array
        The standard error of log V(t) from the order statistics alone.
    dim : int
        The dimension d of the sampled space (0: not recorded); the multiplicity m of a pole is at most d.

    """

    num_evaluations: int
    num_levels: int
    num_live: int
    num_delete: int
    num_runs: int
    num_steps: int
    num_proposals: int
    coordinate_steps: int
    stop: str
    seconds: float
    levels: np.ndarray
    log_volume_levels: np.ndarray
    acceptance: np.ndarray
    evaluations: np.ndarray
    evaluations_per_step: np.ndarray
    proposal_acceptance: np.ndarray
    divergence_autocorr: np.ndarray
    moves_ess: np.ndarray
    live_divergence: np.ndarray
    log_volume_runs: np.ndarray
    variance_inflation: np.ndarray
    stderr_theory: np.ndarray
    dim: int = 0

    def to_arviz(self) -> xr.DataTree:
        """The sampler's health per (run, level) as an ArviZ DataTree (group ``sample_stats``).

        Variables: ``level`` (D threshold, nats), ``acceptance`` (fraction of slice updates, elliptical and
        coordinate, that found a new point), ``proposal_acceptance`` (fraction of independence proposals
        accepted; 0 at levels where they are not used), ``evaluations`` (D evaluations),
        ``evaluations_per_step``, ``steps`` (elliptical slice steps per point), ``coordinate_steps``
        (coordinate slice updates per point), ``divergence_autocorr`` (correlation of log D before/after
        the moves) and ``moves_ess`` (N(1−ρ)/(1+ρ), the effective number of fresh points per level).
        """
        from arviz_base import from_dict

        names = ["acceptance", "proposal_acceptance", "evaluations", "evaluations_per_step",
                 "divergence_autocorr", "moves_ess"]
        data = {"level": np.asarray(self.levels, dtype=float).T}
        data.update({k: np.asarray(getattr(self, k), dtype=float).T for k in names})
        data["steps"] = np.full_like(data["level"], self.num_steps)
        data["coordinate_steps"] = np.full_like(data["level"], self.coordinate_steps)
        return from_dict({"sample_stats": data}, sample_dims=["run", "level_index"],
                         attrs={"sample_stats": {"method": "nested",
                                                 "num_evaluations": self.num_evaluations}})


def _shrinkage(num_live: int, num_delete: int) -> tuple[float, float]:
    """Mean and variance of log X_{k+1}/X_k ~ log Beta(N−K+1, K)."""
    n, k = num_live, num_delete
    return (float(digamma(n - k + 1) - digamma(n + 1)),
            float(polygamma(1, n - k + 1) - polygamma(1, n + 1)))


def _pool(per_run: np.ndarray, theory_var: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean over runs (axis 0), its pooled standard error, and the spread/theory variance ratio."""
    runs = per_run.shape[0]
    mean = per_run.mean(axis=0)
    theory = theory_var.mean(axis=0)
    if runs == 1:
        return mean, np.sqrt(theory), np.full_like(mean, np.nan)
    spread = per_run.var(axis=0, ddof=1)
    return mean, np.sqrt(0.5 * (spread + theory) / runs), spread / theory


def _volume_dimension(log_v: np.ndarray, k_star: np.ndarray, j: np.ndarray, t: np.ndarray,
                      var_shrink: float, num_live: int) -> tuple[np.ndarray, np.ndarray]:
    """k(t) = 2 Δlog V / Δlog t per run (central differences, one-sided at the ends), pooled like log V.

    The order-statistics variance of a difference is that of the shrinkage over the levels between its two
    radii plus the two interpolation terms; it is pooled with the runs' spread as in :func:`_pool`.
    """
    size, log_t = t.size, np.log(t)
    lo = np.r_[0, np.arange(size - 2), size - 2]
    hi = np.r_[1, np.arange(2, size), size - 1]
    scale = 2.0 / (log_t[hi] - log_t[lo])
    dims = scale * (log_v[:, hi] - log_v[:, lo])
    interp = polygamma(1, j + 0.5) - polygamma(1, num_live + 1)
    theory = scale**2 * (np.abs(k_star[:, hi] - k_star[:, lo]) * var_shrink + interp[:, lo] + interp[:, hi])
    dim, dim_se, _ = _pool(dims, theory)
    return dim, dim_se


def _warn_poor_mixing(t: np.ndarray, inflation: np.ndarray, runs: int, num_live: int, num_steps: int,
                      coordinate_steps: int) -> None:
    """Warn once, naming the radii of ``eps2`` where the runs' variance exceeds the order statistics'.

    If the moves mixed, spread/theory ~ χ²_{R−1}/(R−1); the threshold is its 99.9 % point, so a healthy
    run warns with probability ≈ 1e-3 per radius. The radii are the caller's own values (``repr``), so
    they can be found in the grid.
    """
    if runs < 2:
        return
    threshold = chi2.ppf(0.999, runs - 1) / (runs - 1)
    bad = np.isfinite(inflation) & (inflation > threshold)
    if not np.any(bad):
        return
    worst = int(np.nanargmax(np.where(bad, inflation, -np.inf)))
    radii = [repr(float(v)) for v in t[bad]]
    shown = ", ".join(radii) if len(radii) <= 6 else ", ".join([*radii[:3], "…", *radii[-2:]])
    cure = (f"pass coordinate_steps={AUTO_COORDINATE_UPDATES} (or None, the automatic choice): slice "
            "updates along single coordinates are the cure for the curved level sets of a singular model"
            if coordinate_steps == 0 else f"raise coordinate_steps (now {coordinate_steps})")
    warnings.warn(
        f"the {runs} independent nested runs disagree beyond the shrinkage statistics at {int(bad.sum())} of "
        f"the {t.size} radii, eps2 = [{shown}] (worst: {inflation[worst]:.0f}× the order-statistics variance "
        f"at eps2 = {float(t[worst])!r}; 99.9 % threshold {threshold:.1f}): the constrained moves are not "
        "mixing there, so log_volume may be biased low even though its stderr includes the spread. "
        f"What to do: {cure}; raise num_steps (now {num_steps}) or num_live (now {num_live}); then check "
        "that a larger run agrees", PoorMixingWarning, stacklevel=3)


def _summarize(out: _Levels, t: np.ndarray, num_live: int, num_delete: int, num_steps: int,
               num_proposals: int, coordinate_steps: int, max_levels: int, seconds: float,
               initial_evaluations: int) -> VolumeCurve:
    count = int(out.count)
    evals, autocorr = out.evaluations[:count], out.autocorr[:count]
    levels, live = out.levels[: count + 1], out.live[: count + 1]
    mean_shrink, var_shrink = _shrinkage(num_live, num_delete)
    next_levels = live[:, :, num_live - num_delete]  # (count + 1, R)
    # deepest level k with L_k ≥ t, per run and radius
    k_star = np.sum(levels[:, :, None] >= t[None, None, :], axis=0) - 1  # (R, T)
    runs = np.arange(levels.shape[1])[:, None]
    reached = next_levels[k_star, runs] < t[None, :]
    j = np.sum(live[k_star, runs] <= t[None, :, None], axis=-1)
    log_v = k_star * mean_shrink + digamma(j + 0.5) - digamma(num_live + 1)
    var = k_star * var_shrink + polygamma(1, j + 0.5) - polygamma(1, num_live + 1)
    log_v = np.where(reached, log_v, np.nan)
    log_volume, stderr, inflation = _pool(log_v, var)
    if t.size > 1:
        dim, dim_se = _volume_dimension(log_v, k_star, j, t, var_shrink, num_live)
    else:
        dim = dim_se = np.full(1, np.nan)
    _warn_poor_mixing(t, inflation, int(levels.shape[1]), num_live, num_steps, coordinate_steps)
    stop = "reached" if np.all(reached) else ("budget" if count >= max_levels else "stagnated")
    deepest = float(np.max(levels[-1])) if count else np.inf
    if stop == "budget":
        _raise_budget(levels, mean_shrink, num_live, num_delete, t[0], max_levels)
    if stop == "stagnated":
        missed = ~np.all(reached, axis=0)
        warnings.warn(
            f"{int(missed.sum())} radius/radii eps2 ≤ {t[missed].max():.3g} lie below the deepest level the "
            f"run could reach (D ≈ {deepest:.3g} after {count} levels: D stops decreasing there); their "
            "log_volume is NaN (not extrapolated)", UnreachedVolumeWarning, stacklevel=3)
    info = NestedInfo(
        num_evaluations=int(evals.sum()) + initial_evaluations, num_levels=count, num_live=num_live,
        num_delete=num_delete, num_runs=int(levels.shape[1]), num_steps=num_steps,
        num_proposals=num_proposals, coordinate_steps=coordinate_steps, stop=stop, seconds=seconds,
        levels=levels[1:],
        log_volume_levels=mean_shrink * np.arange(1, count + 1), acceptance=out.moved[:count],
        evaluations=evals, evaluations_per_step=evals / (num_live * num_steps),
        proposal_acceptance=out.accepted[:count], divergence_autocorr=autocorr,
        moves_ess=num_live * np.clip((1 - autocorr) / (1 + autocorr), 0, 1), live_divergence=live,
        log_volume_runs=log_v, variance_inflation=inflation,
        stderr_theory=np.sqrt(var.mean(0) / var.shape[0]), dim=int(np.shape(out.positions)[-1]))
    return VolumeCurve(eps2=t, log_volume=log_volume, stderr=stderr, volume_dimension=dim,
                       volume_dimension_stderr=dim_se, method="nested", diagnostics=info)


def _raise_budget(levels: np.ndarray, mean_shrink: float, num_live: int, num_delete: int, t_min: float,
                  max_levels: int) -> None:
    deepest = np.median(levels[-1])
    back = min(10, levels.shape[0] - 2)
    slope = back * mean_shrink / np.log(deepest / np.median(levels[-1 - back])) if back > 0 else np.nan
    reached = max_levels * mean_shrink
    if not 0 < 2 * slope < 1e4:  # D barely decreasing: no sensible extrapolation
        raise NestedBudgetError(
            f"max_levels={max_levels} levels reached D ≈ {deepest:.3g} (log V ≈ {reached:.1f}) but the "
            f"smallest eps2 is {t_min:.3g}, and D is levelling off: eps2 that small may be out of reach")
    log_v_min = reached + slope * np.log(t_min / deepest)
    needed = int(np.ceil(log_v_min / mean_shrink))
    raise NestedBudgetError(
        f"max_levels={max_levels} levels reached D ≈ {deepest:.3g} (log V ≈ {reached:.1f}) but the smallest "
        f"eps2 is {t_min:.3g}. Extrapolating with the local volume dimension k ≈ {2 * slope:.2f}, "
        f"log V(eps2_min) ≈ {log_v_min:.1f}, which needs about N·(−log V_min)/K ≈ {needed} levels with "
        f"N={num_live}, K={num_delete}: pass max_levels ≥ {needed} (or a larger eps2[0])")


def nested_gibbs_bound(curve: VolumeCurve, n: Any) -> Estimate:
    """B_n = −log ∫ w e^{−nD} (nats) for every n, from the levels of a nested run, with its stderr.

    Per run, Z(n) = Σ_k (X_k/N) Σ_{points removed at level k} e^{−n D} + (X_last/N) Σ_{final live} e^{−n D};
    the error pools the runs' spread with the order-statistics variance of log X at the levels that carry
    the integral. Reliable while the final live points resolve e^{−nD}, i.e. n·(deepest level) ≲ dimension.
    """
    diag = curve.diagnostics
    if not isinstance(diag, NestedInfo):
        raise NestedSamplingError("nested_gibbs_bound needs a curve made by sampled_volume / nested_volume")
    n = np.atleast_1d(np.asarray(n, dtype=float))
    if not np.all(np.isfinite(n)) or np.any(n < 0):
        raise NestedSamplingError(f"n must be finite and ≥ 0, got {n}")
    live, num_live, num_delete = diag.live_divergence, diag.num_live, diag.num_delete
    count = live.shape[0] - 1
    mean_shrink, var_shrink = _shrinkage(num_live, num_delete)
    removed = live[:count, :, num_live - num_delete:]  # (count, R, K)
    depth = np.concatenate([np.repeat(np.arange(count), num_delete), np.full(num_live, count)])
    points = np.concatenate([removed.transpose(1, 0, 2).reshape(live.shape[1], -1), live[count]], axis=1)
    log_w = depth * mean_shrink - np.log(num_live)  # (P,)
    terms = log_w[None, None, :] - n[:, None, None] * points[None]  # (n, R, P)
    log_z = logsumexp(terms, axis=-1)
    weights = np.exp(terms - log_z[..., None])
    theory = var_shrink * np.sum(weights * depth, axis=-1)
    bound, stderr, _ = _pool(-log_z.T, theory.T)
    return Estimate(bound, stderr)


def to_arviz(curve: VolumeCurve) -> xr.DataTree:
    """The health of the nested run behind ``curve`` as an ArviZ DataTree (:meth:`NestedInfo.to_arviz`)."""
    if not isinstance(curve.diagnostics, NestedInfo):
        raise NestedSamplingError("to_arviz needs a curve made by sampled_volume / nested_volume")
    return curve.diagnostics.to_arviz()
