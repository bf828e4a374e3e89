"""Data-sequential SMC: one run gives log Q(x^t) for every t and a weighted posterior sample at every n.

The particles z_i (flat unconstrained coordinates) start as prior draws and the data are added one at a
time, in the given order. Adding datum t reweights by its likelihood and contributes

    log Q(x_t | x^{t−1}) = log Σ_i W_i P_{z_i}(x_t | x^{t−1}),      log Q(x^t) = Σ_{s≤t} log Q(x_s | x^{s−1}),

W the normalized weights. When the whole datum would drop the effective sample size (ESS) below
``target_ess`` · N, its likelihood is bridged in by tempering, π_λ ∝ w Π_{s<t} P_s · P_t^λ: each exponent
step is the largest that keeps the ESS at the target (bisection, BlackJAX's ``smc.solver.dichotomy``), and
after every bridge step, and whenever the ESS falls below the target, the particles are resampled
(BlackJAX's systematic resampling) and moved by ``num_mcmc_steps`` BlackJAX HMC steps on the current
target (mass matrix = the weighted particle covariance, step size adapted between sweeps from the
population's acceptance rate; ``num_integration_steps=1`` is MALA). The weighted particles after the first
n data are a sample of w(θ | x^n): the posterior predictive Q(y | x; x^n) = Σ_i W_i P_{z_i}(y | x) gives
the batch / supervised regret at every n of a grid from the same run.

Hand-written around BlackJAX's pieces (HMC kernel, systematic resampling, dichotomy): BlackJAX's SMC
drivers (``adaptive_tempered``, ``tempered``, ``inner_kernel_tuning``) temper a single fixed likelihood
from uniform weights, while here the target grows one datum at a time and a datum's bridge starts from the
non-uniform weights the previous data left; its ``ess_solver`` assumes uniform weights too.
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import xarray as xr
from jax.scipy.special import logsumexp

from bayesvol.errors import InputError, as_key, check_counts
from bayesvol.inference.fit import SamplerWarning, prepare_data
from bayesvol.model.covariates import Static, thaw
from bayesvol.model.model_class import Array, ModelClass, ModelClassError, prior_sample
from bayesvol.progress import Progress, report

__all__ = ["ACCEPTANCE_MIN", "ESS_FLOOR", "SMCRun", "sequential_smc", "smc_problems"]

#: A resample-move whose mean HMC acceptance is below this does not move the particles.
ACCEPTANCE_MIN = 0.1
#: Fewer effective particles than this anywhere (after reweighting) is a collapse.
ESS_FLOOR = 20.0
#: Distinct particles after a resample-move below this fraction of N: the moves do not refresh them.
DISTINCT_MIN = 0.5


class SMCRun(NamedTuple):
    """One data-sequential SMC run (see the module docstring); every curve is over t = 1…n.

    Attributes
    ----------
    log_q : (n,) array
        log Q(x^t), nats.
    increments : (n,) array
        log Q(x_t | x^{t−1}) (``log_q`` is their cumulative sum).
    grid : (G,) int array
        The n at which the weighted sample was kept.
    particles : (G, N, d) array
        The particles (flat z) after the first ``grid[g]`` data.
    log_weights : (G, N) array
        Their normalized log-weights.
    ess : (n,) array
        The smallest ESS (particles, not a fraction) after any reweighting while adding datum t.
    acceptance : (n,) array
        Mean HMC acceptance of the moves made while adding datum t (NaN where none were made).
    distinct : (n,) array
        Smallest number of distinct particles after a move at datum t (N where none were made).
    num_resample : (n,) int array
        Resample-move steps while adding datum t.
    num_tempering : (n,) int array
        Exponent steps for datum t (1: added whole).
    step_size : (n,) array
        HMC step size after datum t (in units of the particle covariance).
    num_gradients : (n,) int array
        Gradient evaluations of the log posterior while adding datum t, all particles together (each
        over all the data added so far); ``total_gradients`` sums them.
    num_particles, num_mcmc_steps, num_integration_steps, max_tempering : int
        The settings.
    target_ess : float
        Resampling threshold as a fraction of N.
    capped : bool
        Whether some datum used up ``max_tempering`` steps (its remainder was then added whole).

    """

    log_q: np.ndarray
    increments: np.ndarray
    grid: np.ndarray
    particles: np.ndarray
    log_weights: np.ndarray
    ess: np.ndarray
    acceptance: np.ndarray
    distinct: np.ndarray
    num_resample: np.ndarray
    num_tempering: np.ndarray
    step_size: np.ndarray
    num_gradients: np.ndarray
    num_particles: int
    num_mcmc_steps: int
    num_integration_steps: int
    max_tempering: int
    target_ess: float
    capped: bool

    @property
    def total_gradients(self) -> int:
        """Gradient evaluations of the whole run."""
        return int(np.sum(self.num_gradients))

    def problems(self) -> list[str]:
        """What failed a health check, one line each (empty when healthy); see :func:`smc_problems`."""
        return smc_problems(self)

    def to_arviz(self) -> xr.DataTree:
        """The sampler's health per datum t as an ArviZ DataTree (group ``sample_stats``, dim ``t``).

        Variables: ``ess``, ``acceptance``, ``distinct``, ``resample_steps``, ``tempering_steps``,
        ``step_size``, ``gradients``, ``log_q_increment``; attributes: the settings and the totals.
        """
        from arviz_base import from_dict

        data = {"ess": self.ess, "acceptance": self.acceptance, "distinct": self.distinct,
                "resample_steps": self.num_resample, "tempering_steps": self.num_tempering,
                "step_size": self.step_size, "gradients": self.num_gradients,
                "log_q_increment": self.increments}
        data = {k: np.asarray(v)[None, None] for k, v in data.items()}  # chain, draw = 1, 1
        attrs = {"method": "data-sequential SMC", "num_particles": self.num_particles,
                 "num_mcmc_steps": self.num_mcmc_steps, "num_integration_steps": self.num_integration_steps,
                 "target_ess": self.target_ess, "total_gradients": self.total_gradients,
                 "capped": int(self.capped)}
        t = np.arange(1, self.log_q.size + 1)
        return from_dict({"sample_stats": data}, dims={k: ["t"] for k in data}, coords={"t": t},
                         attrs={"sample_stats": attrs})


def smc_problems(run: SMCRun) -> list[str]:
    """The health checks of a run: ESS ≥ ESS_FLOOR, acceptance ≥ ACCEPTANCE_MIN, distinct ≥ DISTINCT_MIN·N."""
    out = []
    t = np.arange(1, run.ess.size + 1)
    low = run.ess < ESS_FLOOR
    if low.any():
        out.append(f"ESS fell to {float(run.ess.min()):.1f} particles (floor {ESS_FLOOR:.0f}; first at "
                   f"t = {int(t[low][0])}): use more particles")
    moved = np.isfinite(run.acceptance)
    bad = moved & (run.acceptance < ACCEPTANCE_MIN)
    if bad.any():
        out.append(f"HMC acceptance {float(np.nanmin(run.acceptance)):.2f} < {ACCEPTANCE_MIN} at "
                   f"{int(bad.sum())} resample-move step(s) (first at t = {int(t[bad][0])}): the moves do "
                   "not refresh the particles")
    few = run.distinct < DISTINCT_MIN * run.num_particles
    if few.any():
        out.append(f"only {int(run.distinct.min())} of {run.num_particles} particles distinct after a move "
                   f"(first at t = {int(t[few][0])}): use more MCMC steps")
    if run.capped:
        out.append(f"some datum needed more than max_tempering = {run.max_tempering} tempering steps")
    return out


def _ess(log_w: Array) -> Array:
    return jnp.exp(2 * logsumexp(log_w) - logsumexp(2 * log_w))


@functools.lru_cache(maxsize=32)
def _runner(mc: ModelClass, static: Static, num_particles: int, dense: bool) -> Callable[..., Any]:
    """Compiled (key, data, rows, grid position per datum, grid, settings, progress token) -> run outputs.

    The settings (MCMC steps, leapfrog steps, ESS target, tempering cap, step size) are traced values, so
    one program serves them all; it is compiled per class, covariate layout, N, data length and grid length.
    """
    import blackjax  # imported here: importing BlackJAX runs JAX code, which would start JAX's backend
    from blackjax.smc.resampling import systematic
    from blackjax.smc.solver import dichotomy

    static_cov = thaw(static)
    hmc_kernel = blackjax.hmc.build_kernel()

    def run(key: Array, data: Array, rows: dict[str, Array], grid_pos: Array, num_grid_arr: Array,
            settings: dict[str, Array], progress_token: Array) -> tuple[Any, ...]:
        n = data.shape[0]
        num_mcmc_steps, num_integration_steps = settings["num_mcmc_steps"], settings["num_integration_steps"]
        target_ess, max_tempering = settings["target_ess"], settings["max_tempering"]
        target = target_ess * num_particles

        def log_lik_rows(z: Array) -> Array:
            value = mc.log_likelihood(z, data, covariates={**static_cov, **rows})
            return jnp.where(jnp.isnan(value), -jnp.inf, value)

        key_init, key_scan = jax.random.split(key)
        z = jax.vmap(lambda k: mc.flatten(prior_sample(mc, k)))(jax.random.split(key_init, num_particles))
        d = z.shape[1]
        table = jax.vmap(log_lik_rows)(z)  # (N, n) per-particle, per-datum log-likelihoods

        def move(z: Array, log_w: Array, t: Array, lam: Array, step_size: Array, key_m: Array
                 ) -> tuple[Array, Array, Array, Array, Array]:
            weights = jnp.exp(log_w - logsumexp(log_w))
            centred = z - weights @ z
            if dense:
                cov = (weights[:, None] * centred).T @ centred
                cov = cov + 1e-10 * jnp.trace(cov) / d * jnp.eye(d) + 1e-12 * jnp.eye(d)
            else:
                cov = weights @ centred**2 + 1e-12
            key_r, key_k = jax.random.split(key_m)
            z = z[systematic(key_r, weights, num_particles)]
            coef = jnp.where(jnp.arange(n) < t, 1.0, jnp.where(jnp.arange(n) == t, lam, 0.0))

            def log_post(zi: Array) -> Array:
                # all n rows, masked: one compiled shape for every t (a gradient is counted as one
                # evaluation whatever t; it costs O(n) here, O(t) would need a program per t)
                ll = log_lik_rows(zi)
                return mc.log_prior(zi) + jnp.sum(jnp.where(coef > 0, coef * ll, 0.0))

            def sweep(_: Array, carry: tuple[Any, Array, Array, Array]) -> tuple[Any, Array, Array, Array]:
                states, eps, acc_sum, k = carry
                k, k_step = jax.random.split(k)
                states, info = jax.vmap(lambda s, kk: hmc_kernel(
                    kk, s, log_post, eps, cov, num_integration_steps))(
                        states, jax.random.split(k_step, num_particles))
                acc = jnp.mean(info.acceptance_rate)
                # population-wide adaptation (one step size for all particles, so each step is a valid
                # kernel for the current target); aims at HMC's usual 0.65–0.9
                eps = eps * jnp.where(acc < 0.65, 0.7, jnp.where(acc > 0.9, 1.25, 1.0))
                return states, eps, acc_sum + acc, k

            states = jax.vmap(lambda zi: blackjax.hmc.init(zi, log_post))(z)
            states, step_size, acc_sum, _ = jax.lax.fori_loop(
                0, num_mcmc_steps, sweep, (states, step_size, jnp.asarray(0.0), key_k))
            z = states.position
            first = jnp.sort(z @ jnp.cos(jnp.arange(1.0, d + 1.0)))  # distinct points by a fixed projection
            distinct = 1 + jnp.sum(jnp.diff(first) != 0)
            acc = acc_sum / jnp.maximum(num_mcmc_steps, 1)  # 0 without moves: flagged as stuck
            return z, jax.vmap(log_lik_rows)(z), acc, distinct, step_size

        def datum(carry: tuple[Any, ...], inputs: tuple[Array, Array, Array]) -> tuple[tuple[Any, ...], Any]:
            z, table, log_w, step_size, kept_z, kept_w = carry
            t, key_t, pos = inputs

            def bridge_cond(c: tuple[Any, ...]) -> Array:
                return (c[4] < 1.0) & (c[8] < max_tempering)

            def bridge(c: tuple[Any, ...]) -> tuple[Any, ...]:
                z, table, log_w, step_size, lam, inc, ess_min, acc_sum, count, moves, distinct, key = c
                ell = table[:, t]
                log_wn = log_w - logsumexp(log_w)

                def ess_gap(delta: Array) -> Array:  # in fractions of N, decreasing in delta
                    return _ess(log_wn + delta * ell) / num_particles - target_ess

                rest = 1.0 - lam
                whole = (ess_gap(rest) >= 0) | (count == max_tempering - 1) | (ess_gap(1e-12 * rest) < 0)
                delta = jnp.where(whole, rest, dichotomy(ess_gap, 0.0, rest, eps=1e-3, max_iter=60))
                delta = jnp.where(whole, rest, jnp.maximum(delta, 1e-9))
                lam = jnp.where(whole, 1.0, lam + delta)
                inc = inc + logsumexp(log_wn + delta * ell)
                log_w = log_wn + delta * ell
                ess = _ess(log_w)
                key, key_m = jax.random.split(key)
                do_move = (~whole) | (ess < target)
                z, table, acc, dist, step_size = jax.lax.cond(
                    do_move, lambda: move(z, log_w, t, lam, step_size, key_m),
                    lambda: (z, table, jnp.asarray(0.0), jnp.asarray(num_particles), step_size))
                log_w = jnp.where(do_move, 0.0, log_w)
                return (z, table, log_w, step_size, lam, inc, jnp.minimum(ess_min, ess), acc_sum + acc,
                        count + 1, moves + do_move, jnp.minimum(distinct, dist), key)

            init = (z, table, log_w, step_size, jnp.asarray(0.0), jnp.asarray(0.0), jnp.asarray(jnp.inf),
                    jnp.asarray(0.0), jnp.asarray(0), jnp.asarray(0), jnp.asarray(num_particles), key_t)
            (z, table, log_w, step_size, _, inc, ess_min, acc_sum, count, moves, distinct,
             _key) = jax.lax.while_loop(bridge_cond, bridge, init)
            # keep the weighted sample at the grid's n (pos = −1 elsewhere)
            g = jnp.maximum(pos, 0)
            kept_z = kept_z.at[g].set(jnp.where(pos >= 0, z, kept_z[g]))
            kept_w = kept_w.at[g].set(jnp.where(pos >= 0, log_w - logsumexp(log_w), kept_w[g]))
            acceptance = jnp.where(moves > 0, acc_sum / jnp.maximum(moves, 1), jnp.nan)
            grads = moves * num_particles * (1 + num_mcmc_steps * num_integration_steps)
            jax.debug.callback(report, progress_token, t + 1)
            out = (inc, ess_min, acceptance, distinct, moves, count, step_size, grads)
            return (z, table, log_w, step_size, kept_z, kept_w), out

        num_grid = num_grid_arr.shape[0]  # a shape, so one program per grid length
        carry = (z, table, jnp.zeros(num_particles), settings["step_size"],
                 jnp.zeros((num_grid, num_particles, z.shape[1])), jnp.zeros((num_grid, num_particles)))
        (_, _, _, _, kept_z, kept_w), outs = jax.lax.scan(
            datum, carry, (jnp.arange(n), jax.random.split(key_scan, n), grid_pos))
        return (kept_z, kept_w, *outs)

    return jax.jit(run)


def sequential_smc(
    mc: ModelClass,
    data: Any,
    *,
    key: Array,
    grid: Sequence[int] | None = None,
    num_particles: int = 96,
    num_mcmc_steps: int = 1,
    num_integration_steps: int = 3,
    target_ess: float = 0.4,
    max_tempering: int = 50,
    step_size: float | None = None,
    warn: bool = True,
    progress: bool = True,
    progress_token: int | None = None,
    covariates: Mapping[str, Any] | None = None,
    **model_kwargs: Any,
) -> SMCRun:
    """One data-sequential SMC run: log Q(x^t) for t = 1…n and w(θ | x^n) as weighted particles at ``grid``.

    Parameters
    ----------
    mc
        The model class (a normalized prior: the particles start as its draws).
    data
        Values of the observed site, in the order they are added.
    key
        JAX PRNG key, typed or raw.
    grid
        Increasing n in [1, rows] at which the weighted sample is kept (default: the last n only).
    num_particles
        Particles N (≥ 2). The defaults (N = 96, one HMC step of 3 leapfrog steps per resample-move, ESS
        target 0.4) were chosen on logistic regression d = 10, n ≤ 1,000 (benchmarks/RESULTS.md): the
        regret curve's spread over seeds is the data's, not the sampler's, so N = 128–256 or more moves
        bought no smaller standard error there at 2–8× the gradients; raise them for harder posteriors
        (the health checks say when).
    num_mcmc_steps
        HMC steps per resample-move (0: resampling without moves, which degenerates; for tests).
    num_integration_steps
        Leapfrog steps per HMC step (1 is MALA). The mass matrix is the weighted particle covariance,
        dense for d ≤ 100, its diagonal above.
    target_ess
        Resample when the ESS falls below ``target_ess`` · N; the bridge keeps it there. In (0, 1).
    max_tempering
        Most exponent steps per datum; past it the rest of the datum is added whole (and reported).
    step_size
        Initial HMC step size in units of the particle covariance (default 0.5 d^{−1/4}); adapted after.
    warn
        Raise one :class:`~bayesvol.SamplerWarning` listing :meth:`SMCRun.problems` when there are any.
    progress
        A tqdm bar of the data added, on stderr, only when stderr is a terminal (same numbers either way).
    progress_token
        Report to this open :class:`~bayesvol.progress.Progress` bar instead (callers running several).
    covariates, **model_kwargs
        Covariates, as keywords or one mapping ``covariates=``.

    Returns
    -------
    SMCRun
        The curves, the weighted samples at ``grid`` and the health per datum.

    """
    key = as_key(key)
    check_counts(num_particles=num_particles, low=2)
    check_counts(num_integration_steps=num_integration_steps, max_tempering=max_tempering)
    check_counts(num_mcmc_steps=num_mcmc_steps, low=0)
    if isinstance(target_ess, bool) or not isinstance(target_ess, (int, float)) or not 0.0 < target_ess < 1.0:
        raise InputError(f"target_ess must lie in (0, 1), got {target_ess!r}")
    if mc.has_factor:
        raise ModelClassError(
            f"sequential_smc starts from prior draws and needs a normalized prior: the factor site(s) "
            f"{list(mc.factor_sites)} reweight it by an unknown constant (use "
            "log_marginal(method='tempered'), or regret_curve(..., mixture_method='nuts'))")
    data, model_kwargs = prepare_data(mc, data, covariates, model_kwargs)
    rows_n = int(jnp.shape(data)[0])
    grid_arr = np.asarray([rows_n] if grid is None else _grid(grid, rows_n))
    pos = np.full(rows_n, -1, dtype=np.int32)
    pos[grid_arr - 1] = np.arange(grid_arr.size)
    if step_size is None:
        step_size = 0.5 / mc.dim**0.25
    elif isinstance(step_size, bool) or not isinstance(step_size, (int, float)) or not step_size > 0:
        raise InputError(f"step_size must be a positive number, got {step_size!r}")
    rows, static = mc.row_layout.split(model_kwargs)
    runner = _runner(mc, static, int(num_particles), mc.dim <= 100)
    settings = {"num_mcmc_steps": jnp.asarray(num_mcmc_steps), "num_integration_steps":
                jnp.asarray(num_integration_steps), "target_ess": jnp.asarray(float(target_ess)),
                "max_tempering": jnp.asarray(max_tempering), "step_size": jnp.asarray(float(step_size))}
    with Progress(progress and progress_token is None, "sequential SMC", total=rows_n, unit="datum") as bar:
        token = bar.token if progress_token is None else progress_token
        outs = runner(key, data, rows, jnp.asarray(pos), jnp.zeros(grid_arr.size), settings,
                      jnp.asarray(token))
        outs = [np.asarray(o) for o in outs]  # waits for the run, so the bar closes after its last datum
    kept_z, kept_w, inc, ess, acc, distinct, moves, count, steps, grads = (np.asarray(o) for o in outs)
    run = SMCRun(
        log_q=np.cumsum(inc), increments=inc, grid=grid_arr, particles=kept_z, log_weights=kept_w, ess=ess,
        acceptance=acc, distinct=distinct.astype(int), num_resample=moves.astype(int),
        num_tempering=count.astype(int), step_size=steps, num_gradients=grads.astype(np.int64),
        num_particles=int(num_particles), num_mcmc_steps=int(num_mcmc_steps),
        num_integration_steps=int(num_integration_steps), max_tempering=int(max_tempering),
        target_ess=float(target_ess), capped=bool(np.any(count >= max_tempering)))
    if warn:
        problems = run.problems()
        if problems:
            warnings.warn("data-sequential SMC degraded: " + "; ".join(problems), SamplerWarning,
                          stacklevel=2)
    return run


def _grid(grid: Sequence[int], rows: int) -> list[int]:
    try:
        values = [int(v) for v in np.atleast_1d(np.asarray(grid))]
    except (TypeError, ValueError):
        raise InputError(f"grid must be a sequence of integers, got {grid!r}") from None
    if not values or sorted(set(values)) != values or values[0] < 1 or values[-1] > rows:
        raise InputError(f"grid must be increasing integers in [1, {rows}] (the rows of data), got {values}")
    return values
