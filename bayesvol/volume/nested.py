"""The MCMC volume estimator: log V(t) = log w({θ : D(θ) ≤ t}) for a whole grid of t from one run.

Batch nested sampling (adaptive multilevel splitting) with the "likelihood" −D. Each of R independent
runs keeps N live points drawn from the prior restricted to {D < L_k}; the next level L_{k+1} is the K-th
largest D among them, the K points at or above it are replaced by clones of the survivors, and every
point is moved inside {D < L_{k+1}} (:mod:`bayesvol.volume.constrained_moves`): first by independence
Metropolis–Hastings proposals from the level's Laplace ellipsoid (at deep levels of a near-quadratic D about
half are accepted, each a fresh independent point for one evaluation), then by elliptical slice sampling
and, where D is singular, by slice sampling along single original coordinates. With perfect moves the
prior masses X_k = V(L_k) shrink by independent factors X_{k+1}/X_k ~ Beta(N−K+1, K), so

    E log X_k = k·(ψ(N−K+1) − ψ(N+1)),   Var log X_k = k·(ψ'(N−K+1) − ψ'(N+1)),

and between levels, with j of the N live points at level k having D ≤ t, log V(t) = log X_k +
ψ(j+½) − ψ(N+1) (the mean log of the uniform order statistics bracketing t). The R runs are independent:
the reported standard error pools their spread with the order-statistics variance (equal weights), so it
stays honest when the moves mix imperfectly and is not at the mercy of R−1 degrees of freedom when they
mix well (R = 1: the order statistics alone).

Preconditioning: ξ = B⁻¹(z − z̄), B = L·V, with L Lᵀ the prior covariance (from prior draws) and V the
eigenvectors of Lᵀ H L, H the Hessian of D at θ0 (``jax.hessian``, d ≤ 2000): the prior is ≈ N(0, I) and
the local KL ellipsoid is axis-aligned with curvatures h. The Gaussian that shapes the slice moves at
level L is computed from (h, ξ0, L) alone (:func:`bayesvol.volume.constrained_moves.level_reference`), never
from the points it moves.
Every move leaves the restricted prior exactly invariant given the level: its shape (reference, line
directions, bracket lengths) is a function of L, the quadratic model, the prior and fixed constants.

Singular D: where the Hessian leaves directions flat at eps2[0] and D still grows along them beyond its
quadratic model (:func:`bayesvol.volume.constrained_moves.singular_flat_directions`, 32 evaluations), the
level
sets are thin curved tubes that the elliptical moves cross only in tiny steps; each level then also gets
min(d, 32) slice updates per point along single original coordinates (``coordinate_steps``; the module
docstring of :mod:`bayesvol.volume.constrained_moves` gives the reasons and the measurements). A regular D
keeps
the elliptical moves alone.

Cost: reaching log V = −c takes ≈ 2c levels of R·N·(steps)·(≈ 3–6 evaluations per slice step) +
R·N·(coordinate steps)·(≈ 2–4 per update) evaluations of D (on reduced-rank regression an elliptical step
takes ≈ 10); Var log V ≈ c/(R·N) with perfect moves (nested sampling's information bound).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from functools import partial
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from bayesvol.divergence.kl import kl_function
from bayesvol.errors import as_key
from bayesvol.model.covariates import merge_covariates
from bayesvol.model.model_class import Array, ModelClass, ModelClassError, prior_sample
from bayesvol.progress import Progress, report
from bayesvol.study.shard import shard_leading
from bayesvol.volume.constrained_moves import (
    AUTO_COORDINATE_UPDATES,
    EllipsoidProposal,
    LevelState,
    MoveInfo,
    Reference,
    coordinate_directions,
    coordinate_slice_step,
    coordinate_widths,
    elliptical_slice_step,
    independence_step,
    level_proposal,
    level_reference,
    singular_flat_directions,
)
from bayesvol.volume.curve import VolumeCurve
from bayesvol.volume.nested_statistics import (
    NestedBudgetError,
    NestedInfo,
    NestedSamplingError,
    PoorMixingWarning,
    UnreachedVolumeWarning,
    _Levels,
    _summarize,
    nested_gibbs_bound,
    to_arviz,
)

__all__ = [
    "NestedBudgetError",
    "NestedInfo",
    "NestedSamplingError",
    "PoorMixingWarning",
    "UnreachedVolumeWarning",
    "nested_gibbs_bound",
    "nested_volume",
    "sampled_volume",
    "to_arviz",
]


@partial(jax.jit, static_argnames=("evaluate", "num_steps", "num_proposals", "coordinate_steps", "capacity",
                                   "max_shrink"))
def _run_levels(key: Array, positions: Array, log_prior: Array, divergence: Array, t_min: Array,
                shift: Array, basis: Array, curvature: Array, center: Array, directions: Array,
                direction_curvature: Array, progress_token: Array, *,
                evaluate: Callable[[Array], tuple[Array, Array]],
                max_levels: Array, num_steps: int, num_proposals: int, coordinate_steps: int, capacity: int,
                max_shrink: int) -> _Levels:
    runs, num_live, dim = positions.shape
    keep = num_live // 2
    evaluate_xi = lambda xi: evaluate(shift + basis @ xi)  # noqa: E731
    step = partial(elliptical_slice_step, evaluate=evaluate_xi, max_shrink=max_shrink)
    batch_step = jax.vmap(step, in_axes=(0, 0, None, None))
    batch_propose = jax.vmap(partial(independence_step, evaluate=evaluate_xi), in_axes=(0, 0, None, None))
    line_step = partial(coordinate_slice_step, evaluate=evaluate_xi, max_shrink=max_shrink)
    batch_line = jax.vmap(line_step, in_axes=(0, 0, 0, 0, None))

    def next_level(d: Array) -> Array:
        return jnp.sort(d, axis=-1)[..., keep]

    def select(xi: Array, logw: Array, d: Array) -> LevelState:
        # The K = N/2 points at or above the new level are replaced by one clone of each survivor.
        survivors = jnp.argsort(d)[:keep]
        arrange = jnp.concatenate([survivors, survivors])
        return LevelState(xi[arrange], logw[arrange], d[arrange])

    def first_nan(info: Any) -> Array:
        return info.nan_position.reshape(-1, dim)[jnp.argmax(info.nan_found.reshape(-1))]

    def run_proposals(key: Array, state: LevelState, proposal: EllipsoidProposal, level: Array):
        def propose(state: LevelState, key_s: Array):
            return batch_propose(jax.random.split(key_s, num_live), state, proposal, level)

        state, info = jax.lax.scan(propose, state, jax.random.split(key, num_proposals))
        return (state, jnp.mean(info.moved, dtype=float), jnp.sum(info.evaluations), jnp.any(info.nan_found),
                first_nan(info))

    # the coordinate updates of a level, spread over its elliptical steps (the remainder after the last)
    per_step, extra = divmod(coordinate_steps, num_steps)

    def one_run(key: Array, state: LevelState, reference: Reference, level: Array):
        widths = coordinate_widths(level, direction_curvature)

        def lines(state: LevelState, key: Array, count: int):
            def line(state: LevelState, key_s: Array):
                # each point picks its own original coordinate z_j, independently of where it is
                key_j, key_m = jax.random.split(key_s)
                j = jax.random.randint(key_j, (num_live,), 0, dim)
                return batch_line(jax.random.split(key_m, num_live), state, directions[j], widths[j], level)

            return jax.lax.scan(line, state, jax.random.split(key, count))

        def join(info: MoveInfo, more: MoveInfo) -> MoveInfo:
            return jax.tree.map(lambda a, b: jnp.concatenate([a.reshape(-1, *b.shape[1:]), b]), info, more)

        def move(state: LevelState, key_s: Array):
            if not per_step:
                return batch_step(jax.random.split(key_s, num_live), state, reference, level)
            key_e, key_c = jax.random.split(key_s)
            state, info = batch_step(jax.random.split(key_e, num_live), state, reference, level)
            state, more = lines(state, key_c, per_step)
            return state, join(info, more)

        key_e, key_c = jax.random.split(key) if extra else (key, key)
        state, info = jax.lax.scan(move, state, jax.random.split(key_e, num_steps))
        if extra:
            state, more = lines(state, key_c, extra)
            info = join(info, more)
        return (state, jnp.sum(info.evaluations), jnp.mean(info.moved), jnp.any(info.nan_found),
                first_nan(info))

    def cond(c: _Levels) -> Array:
        new = next_level(c.divergence)
        current = c.levels[c.count]
        reached = jnp.all(new < t_min)
        # D levelling off (a floor above eps2[0], a plateau): the relative decrease dies out
        stagnated = jnp.any((new >= current * (1.0 - 1e-10)) | (new <= 0.0))
        return (c.count < max_levels) & ~reached & ~stagnated & ~c.nan_found

    def body(c: _Levels) -> _Levels:
        level = next_level(c.divergence)
        key, sub = jax.random.split(c.key)
        state = jax.vmap(select)(c.positions, c.log_prior, c.divergence)
        reference = jax.vmap(level_reference, in_axes=(0, None, None))(level, curvature, center)
        start = jnp.log(state.divergence + 1e-300)
        key_propose, key_move = jax.random.split(sub)
        zeros = jnp.zeros(runs)

        def skip(state: LevelState):
            return state, zeros, jnp.zeros(runs, int), zeros > 0, jnp.zeros_like(state.position[:, 0])

        state, accepted, evals, nan_found, nan_xi = skip(state)
        if num_proposals:
            # Only where every curved axis is clearly inside or outside the prior's width (the deep regime):
            # in between, the product proposal misses the level set and would only cost evaluations.
            proposal, usable = jax.vmap(level_proposal, in_axes=(0, None, None, 0))(
                level, curvature, center, reference)
            state, accepted, evals, nan_found, nan_xi = jax.lax.cond(
                jnp.any(usable), lambda state: jax.vmap(run_proposals)(
                    jax.random.split(key_propose, runs), state, proposal, level), skip, state)
        state, move_evals, moved, move_nan, move_nan_xi = jax.vmap(one_run)(  # num_steps ≥ 1
            jax.random.split(key_move, runs), state, reference, level)
        evals = evals + move_evals
        nan_xi = jnp.where(nan_found[:, None], nan_xi, move_nan_xi)
        nan_found = nan_found | move_nan
        end = jnp.log(state.divergence + 1e-300)
        autocorr = jax.vmap(lambda a, b: jnp.corrcoef(a, b)[0, 1])(start, end)
        k = c.count
        # the bar (if any) is looked up by token on the host: the same program with and without one
        jax.debug.callback(partial(report, template="D ≤ {:.3g} (eps2[0] = {:.3g})"), progress_token, k + 1,
                           jnp.max(level), t_min)
        nan_position = jnp.where(c.nan_found, c.nan_position, nan_xi[jnp.argmax(nan_found)])
        return _Levels(k + 1, state.position, state.log_prior, state.divergence,
                       c.levels.at[k + 1].set(level), c.live.at[k + 1].set(jnp.sort(state.divergence, -1)),
                       c.evaluations.at[k].set(evals), c.moved.at[k].set(moved),
                       c.accepted.at[k].set(accepted),
                       c.autocorr.at[k].set(autocorr), c.nan_found | jnp.any(nan_found), nan_position, key)

    init = _Levels(
        jnp.zeros((), jnp.int32), positions, log_prior, divergence,
        jnp.full((capacity + 1, runs), jnp.inf), jnp.zeros((capacity + 1, runs, num_live))
        .at[0].set(jnp.sort(divergence, -1)), jnp.zeros((capacity, runs), int),
        jnp.zeros((capacity, runs)), jnp.zeros((capacity, runs)), jnp.zeros((capacity, runs)),
        jnp.zeros((), bool),
        jnp.zeros(positions.shape[-1]), key)
    return jax.lax.while_loop(cond, body, init)


@partial(jax.jit, static_argnames=("num_evaluated", "sample_prior", "evaluate"))
def _draw_prior(keys: Array, *, num_evaluated: int, sample_prior: Callable[[Array], Array],
                evaluate: Callable[[Array], tuple[Array, Array]]) -> tuple[Array, Array, Array]:
    """Prior draws z ~ w, with (log w, D) for the first ``num_evaluated`` (the rest shape the moves)."""
    z = jax.vmap(sample_prior)(keys)
    log_prior, divergence = jax.vmap(evaluate)(z[:num_evaluated])
    return z, log_prior, divergence


@partial(jax.jit, static_argnames=("divergence",))
def _hessian(z: Array, *, divergence: Callable[[Array], Array]) -> Array:
    return jax.hessian(divergence)(z)


class _Evaluator(NamedTuple):
    """z ↦ (log w(z), D(z)); hashable by its two functions, so the jitted run is compiled once."""

    log_prior: Callable[[Array], Array]
    divergence: Callable[[Array], Array]

    def __call__(self, z: Array) -> tuple[Array, Array]:
        return self.log_prior(z), self.divergence(z)


def _capacity(max_levels: int) -> int:
    """Static buffer size for ``max_levels`` levels: budgets up to 1024 share one compiled run."""
    return max(1024, 1 << (int(max_levels) - 1).bit_length())


def _check_eps2(eps2: Any) -> np.ndarray:
    t = np.asarray(eps2, dtype=float)
    if t.ndim != 1 or t.size == 0:
        raise NestedSamplingError(f"eps2 must be a non-empty 1-D array of radii, got shape {t.shape}")
    if not np.all(np.isfinite(t)) or np.any(t <= 0):
        raise NestedSamplingError(f"eps2 must be finite and > 0 (nats); got {t[~(np.isfinite(t) & (t > 0))]}")
    if np.any(np.diff(t) <= 0):
        raise NestedSamplingError("eps2 must be strictly increasing")
    return t


def _whitening(z: np.ndarray) -> np.ndarray:
    """A factor L with L Lᵀ ≈ the prior covariance, from prior draws z (n, d).

    Correlations below 4/√n are sampling noise (thresholded covariance, Bickel & Levina 2008): with
    independent priors the factor is exactly diagonal, so the whitened prior stays isotropic instead of
    inheriting the Marchenko–Pastur spread of a raw sample covariance.
    """
    n, d = z.shape
    std = np.maximum(z.std(axis=0, ddof=1), 1e-12)
    corr = np.corrcoef(z, rowvar=False).reshape(d, d)
    corr = np.where(np.abs(corr) >= 4.0 / np.sqrt(n), corr, 0.0)
    np.fill_diagonal(corr, 1.0)
    vals, vecs = np.linalg.eigh(corr)
    root = vecs * np.sqrt(np.clip(vals, 1e-3 * vals.max(), None))
    return std[:, None] * root


def _preconditioner(z: np.ndarray, center: Array, divergence: Callable[[Array], Array]
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, bool]:
    """(shift, basis, h, ξ0, exact): ξ = basis⁻¹(z − shift) has an isotropic prior, D ≈ ½ Σ h_i (ξ_i − ξ0_i)².

    h are the eigenvalues of the Hessian of D at θ0 in prior-whitened coordinates (0 where D is flat or,
    with a warning-free fallback, when the Hessian is not finite or d > 2000: a dense Hessian costs d
    gradients; the moves then keep the prior's shape, exact but slower at deep levels). ``exact``: the
    Hessian was used (False in the fallback, where h = 0 says nothing about D).
    """
    d = z.shape[1]
    shift = z.mean(axis=0)
    chol = _whitening(z)
    hess = np.asarray(_hessian(jnp.asarray(center), divergence=divergence)) if d <= 2000 else None
    exact = hess is not None and bool(np.all(np.isfinite(hess)))
    if not exact:
        hess = np.zeros((d, d))
    vals, vecs = np.linalg.eigh(chol.T @ (0.5 * (hess + hess.T)) @ chol)
    basis = chol @ vecs
    return (shift, basis, np.clip(vals, 0.0, None), np.linalg.solve(basis, np.asarray(center) - shift),
            exact)


@partial(jax.jit, static_argnames=("evaluate",))
def _evaluate_many(z: Array, *, evaluate: Callable[[Array], tuple[Array, Array]]) -> Array:
    return jax.vmap(evaluate)(z)[1]


def nested_volume(
    divergence: Callable[[Array], Array],
    log_prior: Callable[[Array], Array],
    sample_prior: Callable[[Array], Array],
    eps2: Any,
    *,
    key: Array,
    center: Array,
    unflatten: Callable[[Array], Mapping[str, Array]] | None = None,
    num_live: int = 64,
    num_runs: int = 8,
    num_steps: int = 4,
    num_proposals: int = 2,
    coordinate_steps: int | None = None,
    max_levels: int = 1000,
    max_shrink: int = 60,
    progress: bool = True,
) -> VolumeCurve:
    """Nested-sampling estimate of log V(t) = log w({z : D(z) ≤ t}) (nats) on flat coordinates z.

    Parameters
    ----------
    divergence, log_prior
        z ↦ D(z) and z ↦ log w(z) (unconstrained density, Jacobian included), jax-traceable. Reusing the
        same function objects across calls reuses the compiled run.
    sample_prior
        key ↦ z ~ w.
    eps2
        Increasing radii t > 0 (nats).
    key
        PRNG key.
    center
        z0 = θ0 flattened (where D = 0): the Hessian of D there shapes the moves.
    unflatten
        z ↦ constrained parameters, used to report where D is NaN.
    num_live, num_runs, num_steps
        N live points per run (a multiple of 4), R independent runs, elliptical slice steps per point
        per level (every point moves; 3–5 bring the correlation of log D across a level to ≈ 0.05–0.2,
        which the pooled standard error absorbs). K = N/2 points are replaced per level: the variance
        × cost of log V is nearly the same for every K/N (both scale like H²), and halving takes the
        fewest sequential levels.
    num_proposals
        Independence Metropolis–Hastings proposals per point per level before the slice steps, drawn from
        the level's Laplace ellipsoid (:func:`~bayesvol.volume.constrained_moves.level_proposal`): one
        evaluation
        each, and an accepted one is an independent point, so they are the cheap moves where D is
        near-quadratic; where it is not, they are mostly rejected and cost only their evaluations. Used
        only at levels where every curved axis is clearly narrower or wider than the prior (and evaluated
        only there).
    coordinate_steps
        Slice-sampling updates of every point per level along one original coordinate z_j each (j at
        random; :func:`bayesvol.volume.constrained_moves.coordinate_slice_step`), spread over the elliptical
        steps. None (default): min(d, 32) when D is singular (it exceeds its quadratic model by more than
        eps2[0] along directions that model leaves as wide as the prior at eps2[0]), else 0 (also when the
        Hessian is not computed: d > 2000 or not finite); 0: elliptical moves alone. A large eps2[0] on a
        regular but far from quadratic D (logistic regression with eps2[0] = 0.5) also switches them on:
        that costs evaluations, never accuracy.
    max_levels
        Level budget; reaching log V ≈ −c needs about N·c/K = 2c levels.
    max_shrink
        Cap on the evaluations of one slice step.
    progress
        Show a tqdm bar of the levels on stderr (only when stderr is a terminal). The numbers are the
        same either way.

    Returns
    -------
    VolumeCurve
        ``method="nested"``; ``diagnostics`` a :class:`NestedInfo`: ``num_evaluations`` (D evaluations,
        prior draws and the probes of a singular D included; the Hessian's d gradients not),
        ``num_levels``, ``num_steps``, ``coordinate_steps`` (as used), ``stop`` ("reached" or
        "stagnated"), ``seconds``; per (level, run): ``levels`` (L_k), ``acceptance``,
        ``proposal_acceptance``, ``evaluations``, ``evaluations_per_step`` (per point and elliptical step,
        its share of the coordinate updates and proposals included), ``divergence_autocorr``,
        ``moves_ess`` (see :meth:`NestedInfo.to_arviz`); per (run, t): ``log_volume_runs``; per t:
        ``stderr_theory`` (order statistics alone) and ``variance_inflation`` (runs' spread /
        order-statistics variance: ≈ 1 when the moves mix); ``live_divergence`` for
        :func:`nested_gibbs_bound`.

    """
    t = _check_eps2(eps2)
    if (num_live < 8 or num_live % 4 or num_runs < 1 or num_steps < 1 or num_proposals < 0
            or (coordinate_steps is not None and coordinate_steps < 0) or max_levels < 1):
        raise NestedSamplingError(
            f"need num_live ≥ 8 a multiple of 4, num_runs ≥ 1, num_steps ≥ 1, num_proposals ≥ 0, "
            f"coordinate_steps ≥ 0, max_levels ≥ 1; got num_live={num_live}, num_runs={num_runs}, "
            f"num_steps={num_steps}, num_proposals={num_proposals}, coordinate_steps={coordinate_steps}, "
            f"max_levels={max_levels}")
    key = as_key(key)
    num_delete = num_live // 2
    evaluate = _Evaluator(log_prior, divergence)
    start = time.perf_counter()
    key_init, key_run = jax.random.split(key)
    total = num_runs * num_live
    extra = max(2000, 20 * int(np.size(center)))  # prior draws for the whitening only
    draws, logw, d = _draw_prior(jax.random.split(key_init, total + extra), num_evaluated=total,
                                 sample_prior=sample_prior, evaluate=evaluate)
    draws, logw, d = np.asarray(draws), np.asarray(logw), np.asarray(d)
    z = draws[:total]
    bad = np.isnan(d) | np.isnan(logw)
    if np.any(bad):
        _raise_nan(z[np.argmax(bad)], unflatten)
    shift, basis, curvature, center_xi, hessian = _preconditioner(draws[total:], center, divergence)
    xi = np.linalg.solve(basis, (z - shift).T).T.reshape(num_runs, num_live, -1)
    directions, direction_curvature = coordinate_directions(basis, curvature)
    probes = 0
    if coordinate_steps is None and not hessian:  # no quadratic model: nothing to tell a singular D by
        coordinate_steps = 0
    if coordinate_steps is None:
        def divergence_at(points: np.ndarray) -> np.ndarray:
            return np.asarray(_evaluate_many(jnp.asarray(shift + points @ basis.T), evaluate=evaluate))

        singular, probes = singular_flat_directions(divergence_at, curvature, center_xi, float(t[0]),
                                                    jax.random.fold_in(key, 1))
        coordinate_steps = min(xi.shape[-1], AUTO_COORDINATE_UPDATES) if singular else 0
    with Progress(progress, "nested sampling", unit="level") as bar:
        # the R independent runs split over the devices present (host devices on a CPU: in parallel)
        runs = shard_leading(xi, logw.reshape(num_runs, num_live), d.reshape(num_runs, num_live))
        out = _run_levels(key_run, *runs, jnp.asarray(t[0]), jnp.asarray(shift),
                          jnp.asarray(basis), jnp.asarray(curvature), jnp.asarray(center_xi),
                          jnp.asarray(directions), jnp.asarray(direction_curvature), jnp.asarray(bar.token),
                          evaluate=evaluate, max_levels=jnp.asarray(max_levels), num_steps=num_steps,
                          num_proposals=num_proposals, coordinate_steps=coordinate_steps,
                          capacity=_capacity(max_levels), max_shrink=max_shrink)
        out = jax.tree.map(np.asarray, out)  # waits for the run, so the bar closes after its last level
    if out.nan_found:
        _raise_nan(shift + basis @ out.nan_position, unflatten)
    seconds = time.perf_counter() - start
    return _summarize(out, t, num_live, num_delete, num_steps, num_proposals, coordinate_steps, max_levels,
                      seconds, total + probes)


def _raise_nan(z: np.ndarray, unflatten: Callable[[Array], Mapping[str, Array]] | None) -> None:
    where = {k: np.asarray(v).tolist() for k, v in unflatten(jnp.asarray(z)).items()} if unflatten else None
    raise NestedSamplingError(f"D returned NaN at θ = {where if where is not None else z.tolist()} "
                              f"(unconstrained z = {np.asarray(z).tolist()})")


def sampled_volume(
    mc: ModelClass,
    params0: Mapping[str, Any],
    eps2: Any,
    *,
    key: Array,
    num_live: int = 64,
    num_runs: int = 8,
    num_steps: int = 4,
    num_proposals: int = 2,
    coordinate_steps: int | None = None,
    max_levels: int = 1000,
    kl_draws: int | None = None,
    progress: bool = True,
    covariates: Mapping[str, Any] | None = None,
    **model_kwargs: Any,
) -> VolumeCurve:
    """Log V(t) = log w({θ : D(P_θ0 ‖ P_θ) ≤ t}) (nats) for every t in ``eps2``, by nested sampling.

    One run of R independent batch nested samplers on the flat unconstrained z of ``mc`` (prior
    ``mc.log_prior``, Jacobian included), with D from :func:`bayesvol.kl_function` for the covariates
    ``model_kwargs`` (or the mapping ``covariates=``; per-row covariates are required). The standard
    errors pool the order-statistics variance of the shrinkage with the spread of the runs;
    ``volume_dimension`` is k(t) = 2 d log V / d log t on the ``eps2`` grid (central differences) with its
    error pooled the same way. The moves are independence proposals from the level's Laplace ellipsoid
    and elliptical slice steps, plus coordinate slice updates when D is singular (``coordinate_steps=None``:
    chosen automatically, see the module docstring). See :func:`nested_volume` for the options
    (``progress``: a tqdm bar of the levels on stderr, only on a terminal), :func:`nested_gibbs_bound` for
    B_n from the same run, ``curve.to_arviz()`` for the sampler's health. ``kl_draws``: Monte Carlo draws
    per row of D̂ for a likelihood without a closed-form KL (one fixed function of θ, see
    :func:`bayesvol.kl_function`).

    Raises
    ------
    NestedSamplingError
        eps2 not finite, not positive or not increasing; D NaN at some θ (reported).
    NestedBudgetError
        ``max_levels`` too small to reach eps2[0] (the message gives the budget needed).

    """
    if mc.has_factor:
        raise ModelClassError(
            f"sampled_volume needs a normalized prior w to draw from; the factor site(s) "
            f"{list(mc.factor_sites)} reweight it by an unknown constant (fit and log_marginal accept them)")
    divergence = kl_function(mc, params0, kl_draws=kl_draws,
                             covariates=merge_covariates(covariates, model_kwargs))
    sample_prior = partial(_flat_prior_sample, mc)
    return nested_volume(divergence, mc.log_prior, sample_prior, eps2, key=key, center=mc.flatten(params0),
                         unflatten=mc.unflatten, num_live=num_live, num_runs=num_runs,
                         num_steps=num_steps, num_proposals=num_proposals, coordinate_steps=coordinate_steps,
                         max_levels=max_levels, progress=progress)


def _flat_prior_sample(mc: ModelClass, key: Array) -> Array:
    return mc.flatten(prior_sample(mc, key))

