"""The Bayes mixture's code length: log Q(x^n) = log ∫ w(θ) Π_i P_θ(x_i) dθ, with a standard error (nats).

Three paths, all returning the same :class:`~bayesvol.divergence.kl.Estimate`:

* **exact** — an exact log-marginal function supplied by the caller (a conjugate class's closed form);
* **tempered SMC from the Laplace approximation** (default sampling path) — BlackJAX's adaptive tempered
  SMC from q = N(ẑ_MAP, H⁻¹) (H the Hessian of −log posterior at the mode, in flat unconstrained z) to the
  posterior along π_λ ∝ q^{1−λ} (w P)^λ, with HMC moves preconditioned by H⁻¹. log Q = Σ_steps log of the
  mean incremental weight. Starting at the Laplace approximation rather than the prior makes the cost
  independent of how far the posterior has contracted (the prior-to-posterior information, ≈ (d/2) log n
  nats, is what nested sampling pays for); if the posterior is Gaussian the path has one step.
  Independent repeats give the standard error.
* **data-sequential SMC** (:func:`sequential_log_marginal`, repeats of
  :func:`bayesvol.inference.smc.sequential_smc`) — adds the data one point at a time,
  log Q(x^t) = Σ_{s≤t} log Σ_i W_i P_{z_i}(x_s | x^{s−1}), resampling and moving the particles (HMC with the
  particle covariance) when the effective sample size falls below half, tempering a datum in where it
  would drop it further. One run gives the whole sequential code-length curve t ↦ log Q(x^t), i.e. the
  online regret for every n.
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import numpyro.distributions as dist

from bayesvol.divergence.kl import Estimate
from bayesvol.errors import BayesvolError, InputError, as_key, check_counts
from bayesvol.inference.fit import SamplerWarning, prepare_data
from bayesvol.inference.smc import sequential_smc
from bayesvol.model.covariates import Static, merge_covariates, thaw
from bayesvol.model.model_class import Array, ModelClass
from bayesvol.progress import Progress
from bayesvol.regret.erm import erm

__all__ = [
    "EvidenceError",
    "EvidenceRun",
    "SequentialEvidence",
    "log_marginal",
    "sequential_log_marginal",
    "tempered_log_marginal",
]


class EvidenceError(BayesvolError, RuntimeError):
    """The evidence estimator could not run (non-finite densities, a path that does not finish)."""


class EvidenceRun(NamedTuple):
    """Tempered-SMC estimate of log Q(data) with its cost.

    Attributes
    ----------
    value, stderr : float
        Mean of the independent runs' log Q and its standard error (std / √runs), nats.
    runs : (R,) array
        Each run's log Q.
    num_steps : (R,) array
        Tempering steps per run.
    num_evaluations : int
        Log-density evaluations, gradients included, all runs together (each gradient counted as one
        evaluation; the optimizer and Hessian of the Laplace start included).
    acceptance : float
        Mean HMC acceptance rate of the moves.

    """

    value: float
    stderr: float
    runs: np.ndarray
    num_steps: np.ndarray
    num_evaluations: int
    acceptance: float


class SequentialEvidence(NamedTuple):
    """The sequential code length log Q(x^t) for every t ≤ n, from data-sequential SMC.

    Attributes
    ----------
    log_q : (n,) array
        Mean over runs of log Q(x^t), nats.
    stderr : (n,) array
        Its standard error from the spread of the independent runs.
    runs : (R, n) array
        Each run's curve.
    num_moves : (R,) array
        Resample-move steps per run.
    num_gradients : (R,) array
        Gradient evaluations per run (HMC moves, all particles).

    """

    log_q: np.ndarray
    stderr: np.ndarray
    runs: np.ndarray
    num_moves: np.ndarray
    num_gradients: np.ndarray | None = None


# ------------------------------------------------------------------------------------------- tempered
@functools.lru_cache(maxsize=32)
def _tempered_kernel(mc: ModelClass, static: Static, num_mcmc_steps: int
                     ) -> Callable[..., Any]:
    """A compiled adaptive-tempered SMC step (key, state, params, data, rows, mean, cov_chol)."""
    import blackjax  # imported here: importing BlackJAX runs JAX code, which would start JAX's backend
    from blackjax.smc.resampling import systematic

    static_cov = thaw(static)

    def step(key: Array, state: Any, mcmc_parameters: dict[str, Array], data: Array,
             rows: dict[str, Array], mean: Array, chol: Array) -> tuple[Any, Any]:
        q = dist.MultivariateNormal(mean, scale_tril=chol)

        def log_joint(z: Array) -> Array:
            return mc.log_prior(z) + jnp.sum(mc.log_likelihood(z, data, covariates={**static_cov, **rows}))

        def log_ratio(z: Array) -> Array:
            value = log_joint(z) - q.log_prob(z)
            return jnp.where(jnp.isnan(value), -jnp.inf, value)

        kernel = blackjax.smc.adaptive_tempered.build_kernel(
            q.log_prob, log_ratio, blackjax.hmc.build_kernel(), blackjax.hmc.init, systematic,
            target_ess=0.5)
        return kernel(key, state, num_mcmc_steps, mcmc_parameters)

    return jax.jit(step)


def _laplace_start(mc: ModelClass, data: Array, key: Array, model_kwargs: Mapping[str, Any],
                   num_starts: int) -> tuple[Array, Array, int]:
    """MAP ẑ and the Cholesky factor of H⁻¹ (H = −∇² log posterior at ẑ); evaluations used."""
    fitted = erm(mc, data, key=key, penalty="map", num_starts=num_starts, covariates=model_kwargs)

    def log_joint(z: Array) -> Array:
        return mc.log_prior(z) + jnp.sum(mc.log_likelihood(z, data, covariates=model_kwargs))

    hessian = -jax.jit(jax.hessian(log_joint))(fitted.z)
    hessian = 0.5 * (hessian + hessian.T)
    eigenvalues, vectors = jnp.linalg.eigh(hessian)
    if not bool(jnp.all(jnp.isfinite(eigenvalues))):
        raise EvidenceError("the Hessian of the log posterior at the mode is not finite")
    # A mode that is not a strict maximum (flat or negative curvature) gets the prior's scale there.
    eigenvalues = jnp.maximum(eigenvalues, 1e-6 * jnp.max(jnp.abs(eigenvalues)) + 1e-12)
    cov = (vectors / eigenvalues) @ vectors.T
    chol = jnp.linalg.cholesky(0.5 * (cov + cov.T))
    # per L-BFGS iteration one value-and-gradient and (typically) one line-search trial; a dense
    # Hessian by forward-over-reverse costs d Hessian-vector products ≈ 2d gradients
    evaluations = int(2 * jnp.sum(fitted.iterations)) + 2 * mc.dim
    return fitted.z, chol, evaluations


def tempered_log_marginal(
    mc: ModelClass,
    data: Any,
    *,
    key: Array,
    num_particles: int = 256,
    num_repeats: int = 5,
    num_mcmc_steps: int = 2,
    num_integration_steps: int = 5,
    num_starts: int = 1,
    max_steps: int = 500,
    progress: bool = True,
    covariates: Mapping[str, Any] | None = None,
    **model_kwargs: Any,
) -> EvidenceRun:
    """Log Q(data) by adaptive tempered SMC from the Laplace approximation (see the module docstring).

    The mode is found by L-BFGS from ``num_starts`` points (z = 0, then prior draws); a poor Laplace
    start costs more tempering steps, not accuracy. The HMC step size starts at 0.5 d^{−1/4} (in units
    of the Laplace scale, through the mass matrix) and is scaled after each tempering step towards
    acceptance 0.65–0.9. Runs are independent (fresh keys). ``progress``: a tqdm bar on stderr (runs,
    advancing with the tempering λ), only when stderr is a terminal.
    """
    key = as_key(key)
    check_counts(num_particles=num_particles, num_repeats=num_repeats, num_mcmc_steps=num_mcmc_steps,
                  num_integration_steps=num_integration_steps, num_starts=num_starts, max_steps=max_steps)
    data, model_kwargs = prepare_data(mc, data, covariates, model_kwargs)
    rows, static = mc.row_layout.split(model_kwargs)
    key_fit, key_runs = jax.random.split(key)
    mean, chol, evaluations = _laplace_start(mc, data, key_fit, model_kwargs, num_starts)
    cov = chol @ chol.T
    kernel = _tempered_kernel(mc, static, num_mcmc_steps)
    import blackjax  # see _tempered_kernel
    runs, steps, acceptances = [], [], []
    with Progress(progress, "tempered SMC", total=num_repeats, unit="run") as bar:
        for r, run_key in enumerate(jax.random.split(key_runs, num_repeats)):
            key_init, run_key = jax.random.split(run_key)
            particles = mean + jax.random.normal(key_init, (num_particles, mc.dim)) @ chol.T
            state = blackjax.smc.tempered.init(particles)
            step_size, log_q, count = 0.5 / mc.dim**0.25, 0.0, 0
            while float(state.tempering_param) < 1.0:
                if count >= max_steps:
                    raise EvidenceError(f"tempered SMC did not reach the posterior in {max_steps} steps")
                run_key, step_key = jax.random.split(run_key)
                params = blackjax.smc.extend_params({
                    "step_size": jnp.asarray(step_size), "inverse_mass_matrix": cov,
                    "num_integration_steps": jnp.asarray(num_integration_steps)})
                state, info = kernel(step_key, state, params, data, rows, mean, chol)
                increment = float(info.log_likelihood_increment)
                if not np.isfinite(increment):
                    raise EvidenceError(f"tempered SMC step {count} has a non-finite weight increment")
                log_q += increment
                acceptance = float(jnp.mean(info.update_info.acceptance_rate))
                acceptances.append(acceptance)
                step_size *= 0.7 if acceptance < 0.65 else (1.2 if acceptance > 0.9 else 1.0)
                count += 1
                bar.update_to(r + float(state.tempering_param), f"λ = {float(state.tempering_param):.3g}")
            runs.append(log_q)
            steps.append(count)
            evaluations += count * num_particles * (2 + num_mcmc_steps * num_integration_steps)
    runs_arr = np.asarray(runs)
    stderr = float(np.std(runs_arr, ddof=1) / np.sqrt(num_repeats)) if num_repeats > 1 else float("nan")
    return EvidenceRun(float(np.mean(runs_arr)), stderr, runs_arr, np.asarray(steps), int(evaluations),
                       float(np.mean(acceptances)))


# ------------------------------------------------------------------------------------------- sequential
def sequential_log_marginal(
    mc: ModelClass,
    data: Any,
    *,
    key: Array,
    num_particles: int = 512,
    num_repeats: int = 5,
    num_mcmc_steps: int = 2,
    num_integration_steps: int = 4,
    progress: bool = True,
    covariates: Mapping[str, Any] | None = None,
    **model_kwargs: Any,
) -> SequentialEvidence:
    """The code-length curve log Q(x^t), t = 1…n, by SMC adding one datum at a time (nats).

    ``num_repeats`` independent runs of :func:`bayesvol.inference.smc.sequential_smc` (HMC moves,
    adaptive resampling, tempering within a datum where the posterior jumps) give the standard error at
    every t. The data order is the given order. ``progress``: a tqdm bar of the data added, on stderr,
    only when stderr is a terminal; the numbers are the same either way. A degraded run raises one
    :class:`~bayesvol.SamplerWarning`.
    """
    key = as_key(key)
    check_counts(num_particles=num_particles, num_repeats=num_repeats, num_mcmc_steps=num_mcmc_steps,
                 num_integration_steps=num_integration_steps)
    data, model_kwargs = prepare_data(mc, data, covariates, model_kwargs)
    runs = []
    with Progress(progress, "sequential SMC", total=int(data.shape[0]), unit="datum") as bar:
        for run_key in jax.random.split(key, num_repeats):
            runs.append(sequential_smc(mc, data, key=run_key, num_particles=num_particles,
                                       num_mcmc_steps=num_mcmc_steps, warn=False,
                                       num_integration_steps=num_integration_steps,
                                       progress_token=bar.token, covariates=model_kwargs))
    curves = np.stack([run.log_q for run in runs])
    if not np.all(np.isfinite(curves)):
        raise EvidenceError("data-sequential SMC produced a non-finite code length (a datum with zero "
                            "probability under every particle)")
    problems = sorted({p for run in runs for p in run.problems()})
    if problems:
        warnings.warn("data-sequential SMC degraded: " + "; ".join(problems), SamplerWarning, stacklevel=2)
    stderr = np.std(curves, axis=0, ddof=1) / np.sqrt(num_repeats) if num_repeats > 1 else \
        np.full(curves.shape[1], np.nan)
    return SequentialEvidence(curves.mean(axis=0), stderr, curves,
                              np.asarray([run.num_resample.sum() for run in runs]),
                              np.asarray([run.total_gradients for run in runs]))


# ------------------------------------------------------------------------------------------- front door
_TEMPERED_ONLY = ("num_starts", "max_steps")


def log_marginal(
    mc: ModelClass,
    data: Any,
    *,
    key: Array | None = None,
    exact_log_marginal: Callable[..., Array] | None = None,
    method: str = "tempered",
    num_particles: int | None = None,
    num_repeats: int | None = None,
    num_mcmc_steps: int | None = None,
    num_integration_steps: int | None = None,
    num_starts: int | None = None,
    max_steps: int | None = None,
    progress: bool = True,
    covariates: Mapping[str, Any] | None = None,
    **model_kwargs: Any,
) -> Estimate:
    """Log Q(data) = log ∫ w(θ) Π_i P_θ(data_i | covariates_i) dθ with its standard error (nats).

    For a model with ``numpyro.factor`` sites (``mc.has_factor``) w is unnormalized and log Q is the
    marginal of the model's unnormalized joint, ∫ exp(−U(θ)) dθ with U NumPyro's potential energy (factors
    included): it differs from the evidence of a normalized prior by the factors' unknown log-normalizer.
    Only ``method="tempered"`` accepts such models (the sequential path starts from prior draws).

    Parameters
    ----------
    mc
        The model class.
    data
        Values of the observed site (an array, or a mapping {site: value}).
    key
        JAX PRNG key, typed or raw (needed by the sampling paths).
    exact_log_marginal
        ``f(data, **covariates) -> log Q``: used when given (stderr 0), e.g. a conjugate class's formula.
    method
        Sampling path: "tempered" (:func:`tempered_log_marginal`) or "sequential"
        (:func:`sequential_log_marginal`, its last point).
    num_particles, num_repeats, num_mcmc_steps, num_integration_steps, num_starts, max_steps
        The sampling path's settings (None: that path's default); the last two are the tempered path's.
    progress
        Show a tqdm bar on stderr while sampling (only when stderr is a terminal); the numbers are the
        same either way.
    covariates, **model_kwargs
        Covariates (the model's keyword arguments), as keywords or as one mapping ``covariates=`` — the
        way to pass an argument named like a setting above (``covariates={"num_particles": ...}``).

    Returns
    -------
    Estimate
        ``value`` log Q (nats) and ``stderr`` (0 when exact).

    """
    if method not in ("tempered", "sequential"):
        raise InputError(f"method must be 'tempered' or 'sequential', got {method!r}")
    settings = {k: v for k, v in {
        "num_particles": num_particles, "num_repeats": num_repeats, "num_mcmc_steps": num_mcmc_steps,
        "num_integration_steps": num_integration_steps, "num_starts": num_starts, "max_steps": max_steps,
    }.items() if v is not None}
    if exact_log_marginal is not None:
        data, model_kwargs = prepare_data(mc, data, covariates, model_kwargs)
        value = jnp.asarray(exact_log_marginal(data, **model_kwargs))
        return Estimate(value, jnp.zeros_like(value))
    if key is None:
        raise InputError("log_marginal needs key= for its sampling path (no exact_log_marginal given)")
    if method == "tempered":
        run = tempered_log_marginal(mc, data, key=key, covariates=merge_covariates(covariates, model_kwargs),
                                    progress=progress, **settings)
        return Estimate(jnp.asarray(run.value), jnp.asarray(run.stderr))
    wrong = [k for k in _TEMPERED_ONLY if k in settings]
    if wrong:
        raise InputError(f"{wrong} belong to method='tempered', not 'sequential'")
    curve = sequential_log_marginal(mc, data, key=key, covariates=merge_covariates(covariates, model_kwargs),
                                    progress=progress, **settings)
    return Estimate(jnp.asarray(curve.log_q[-1]), jnp.asarray(curve.stderr[-1]))
