"""The Gibbs bound B_n = −log ∫ w(θ) e^{−n D(θ)} dθ (nats) at given n, by Laplace-guided importance sampling.

Adaptive tempered SMC answers where importance sampling collapses. In the coordinates ξ of
:class:`bayesvol.volume.importance.LaplaceGeometry` (prior's Gaussian view C·N(0, I),
D ≈ Q(ξ) = Σ a_i (ξ_i − c_i)²) the Laplace approximation of w·e^{−nD} is
C·N(ξ; 0, I)·e^{−nQ(ξ)} = C·M(n)·q_n(ξ),
with q_n the tilted Gaussian (precision 1 + 2na, mean 2nac/(1 + 2na)) and −log C − log M(n) the closed-form
Laplace B_n (:func:`bayesvol.volume.bounds.laplace_gibbs_bound`). Hence

    e^{−B_n} = E_q [ w e^{−nD} / q ],   q = (1 − α) q_n + α w   (defensive mixture: weights ≤ e^{−nD}/α),

with the standard error from the weights (stratified over the two components) and the ESS as the health
check: exactly quadratic D with a Gaussian prior gives equal weights on q_n's draws (B_n exact). Where the
ESS falls below ``min_ess`` (a non-Gaussian target at this n), B_n comes from BlackJAX's adaptive tempered
SMC along q_n^{1−λ} (w e^{−nD})^λ (HMC moves preconditioned by q_n's covariance), independent repeats
giving the standard error — the same path as :func:`bayesvol.inference.evidence.tempered_log_marginal`,
whose data likelihood is here replaced by e^{−nD}.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from functools import lru_cache
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import xarray as xr
from scipy.special import logsumexp

from bayesvol.errors import BayesvolError, InputError, as_key
from bayesvol.model.covariates import merge_covariates
from bayesvol.model.model_class import Array, ModelClass, ModelClassError
from bayesvol.volume.bounds import laplace_gibbs_bound
from bayesvol.volume.importance import (
    LaplaceGeometry,
    PriorSampler,
    _draw_prior,
    _log_normal_diag,
    evaluate,
    laplace_geometry,
    laplace_setup,
    tilted_gaussian,
)
from bayesvol.volume.laplace import PriorGaussian

__all__ = ["GibbsBound", "GibbsBoundError", "gibbs_bound", "gibbs_bound_fn"]


class GibbsBoundError(BayesvolError, RuntimeError):
    """The tempered fallback could not finish (non-finite weights, too many steps)."""


class GibbsBound(NamedTuple):
    """B_n = −log ∫ w e^{−nD} (nats) per n, with its standard error and how it was computed.

    Attributes
    ----------
    n : (N,) array
        Sample sizes.
    value, stderr : (N,) arrays
        B_n and its standard error (nats).
    laplace : (N,) array
        The Laplace closed form −log C − log M(n) (what the sampler corrects).
    ess : (N,) array
        Effective sample size of the importance weights.
    method : tuple of str
        Per n: "importance" or "tempered-smc" (the ESS fell below ``min_ess``).
    evaluations : (N,) array
        D evaluations per n (gradients counted as one each for the tempered path).
    num_evaluations : int
        All of them, plus 2d for the Hessian of D.
    seconds : float
        Wall time.

    """

    n: np.ndarray
    value: np.ndarray
    stderr: np.ndarray
    laplace: np.ndarray
    ess: np.ndarray
    method: tuple[str, ...]
    evaluations: np.ndarray
    num_evaluations: int
    seconds: float

    def to_xarray(self) -> xr.Dataset:
        """The bound as an xarray Dataset over ``n``."""
        ds = xr.Dataset({"gibbs": ("n", self.value), "stderr": ("n", self.stderr),
                         "laplace": ("n", self.laplace), "ess": ("n", self.ess),
                         "method": ("n", np.asarray(self.method)), "evaluations": ("n", self.evaluations)},
                        coords={"n": self.n})
        ds["gibbs"].attrs.update(units="nats", long_name="B_n = −log ∫ w e^{−nD}")
        ds.attrs["num_evaluations"] = self.num_evaluations
        return ds


def _check_n(n: Any) -> np.ndarray:
    arr = np.atleast_1d(np.asarray(n, dtype=np.float64))
    if arr.ndim != 1 or arr.size == 0 or not np.all(np.isfinite(arr) & (arr > 0)):
        raise InputError(f"n must be one or more finite sample sizes > 0, got {np.asarray(n).tolist()!r}")
    return arr


def _check_options(num_draws: Any, defensive: Any, min_ess: Any, num_particles: Any,
                   num_repeats: Any) -> None:
    if not (isinstance(num_draws, int | np.integer) and num_draws >= 16):
        raise InputError(f"num_draws must be an integer ≥ 16, got {num_draws!r}")
    if not 0.0 < defensive < 1.0:
        raise InputError(f"defensive (the prior's share of the draws) must be in (0, 1), got {defensive!r}")
    if not (min_ess >= 1 and isinstance(num_particles, int) and num_particles >= 8
            and isinstance(num_repeats, int) and num_repeats >= 2):
        raise InputError("need min_ess ≥ 1, num_particles ≥ 8, num_repeats ≥ 2; got "
                         f"min_ess={min_ess!r}, "
                         f"num_particles={num_particles!r}, num_repeats={num_repeats!r}")


def _importance(n: float, g: LaplaceGeometry, divergence: Callable, log_prior: Callable,
                sample_prior: Callable, key: Array, num_draws: int, defensive: float
                ) -> tuple[float, float, float]:
    """(B_n, stderr, ESS) from the defensive mixture (1 − α) q_n + α w."""
    mean, sd = tilted_gaussian(g.a, g.centers, n)
    n_prior = max(1, round(defensive * num_draws))
    n_tilt = num_draws - n_prior
    key_p, key_q = jax.random.split(key)
    z_prior = np.asarray(_draw_prior(jax.random.split(key_p, n_prior), sample_prior=sample_prior))
    xi_tilt = mean + sd * np.asarray(jax.random.normal(key_q, (n_tilt, g.a.size)))
    xi = np.concatenate([g.to_xi(z_prior), xi_tilt])
    z = np.concatenate([z_prior, g.to_z(xi_tilt)])
    log_w, d = evaluate(z, divergence, log_prior)
    log_w_xi = log_w + g.log_det_basis
    log_q = np.logaddexp(np.log(n_prior / num_draws) + log_w_xi,
                         np.log(n_tilt / num_draws) + _log_normal_diag(xi, mean, sd))
    log_wt = np.where(np.isfinite(log_w) & ~np.isnan(d), log_w_xi - n * d - log_q, -np.inf)
    top = logsumexp(log_wt)
    if not np.isfinite(top):
        return np.nan, np.nan, 0.0
    f = np.exp(log_wt - top)  # weights / their sum
    rel = num_draws * f       # W_i / W̄
    var = (n_prior * np.var(rel[:n_prior], ddof=1) + n_tilt * np.var(rel[n_prior:], ddof=1)) / num_draws**2
    return float(-(top - np.log(num_draws))), float(np.sqrt(var)), float(1.0 / np.sum(f**2))


@lru_cache(maxsize=16)
def _tempered_kernel(divergence: Callable, log_prior: Callable, num_mcmc_steps: int) -> Callable[..., Any]:
    """A compiled adaptive-tempered SMC step from q_n (Gaussian in z) to w e^{−nD}."""
    import blackjax  # imported here: importing BlackJAX runs JAX code, which would start JAX's backend
    from blackjax.smc.resampling import systematic

    def step(key: Array, state: Any, params: dict[str, Array], n: Array, mean: Array, inv_basis: Array,
             log_norm: Array, xi_mean: Array, xi_sd: Array) -> tuple[Any, Any]:
        def log_q(z: Array) -> Array:
            xi = inv_basis @ (z - mean)
            return jnp.sum(-0.5 * ((xi - xi_mean) / xi_sd) ** 2 - jnp.log(xi_sd)) + log_norm

        def log_ratio(z: Array) -> Array:
            value = log_prior(z) - n * divergence(z) - log_q(z)
            return jnp.where(jnp.isnan(value), -jnp.inf, value)

        kernel = blackjax.smc.adaptive_tempered.build_kernel(
            log_q, log_ratio, blackjax.hmc.build_kernel(), blackjax.hmc.init, systematic, target_ess=0.5)
        return kernel(key, state, num_mcmc_steps, params)

    return jax.jit(step)


def _tempered(n: float, g: LaplaceGeometry, divergence: Callable, log_prior: Callable, key: Array,
              num_particles: int, num_repeats: int, num_mcmc_steps: int = 2, num_integration_steps: int = 5,
              max_steps: int = 200) -> tuple[float, float, int]:
    """(B_n, stderr, evaluations) by adaptive tempered SMC from q_n (see the module docstring)."""
    import blackjax  # see _tempered_kernel

    xi_mean, xi_sd = tilted_gaussian(g.a, g.centers, n)
    dim = g.a.size
    log_norm = -g.log_det_basis - 0.5 * dim * np.log(2 * np.pi)
    inv_basis = np.linalg.inv(g.basis)
    scale = g.basis * xi_sd  # z = μ + B (m + sd·ε): covariance (B sd)(B sd)ᵀ
    cov = scale @ scale.T
    kernel = _tempered_kernel(divergence, log_prior, num_mcmc_steps)
    args = (jnp.asarray(n), jnp.asarray(g.mean), jnp.asarray(inv_basis), jnp.asarray(log_norm),
            jnp.asarray(xi_mean), jnp.asarray(xi_sd))
    runs, evaluations = [], 0
    for run_key in jax.random.split(key, num_repeats):
        key_init, run_key = jax.random.split(run_key)
        eps = np.asarray(jax.random.normal(key_init, (num_particles, dim)))
        particles = jnp.asarray(g.mean + (xi_mean + xi_sd * eps) @ g.basis.T)
        state = blackjax.smc.tempered.init(particles)
        step_size, log_z, count = 0.5 / dim**0.25, 0.0, 0
        while float(state.tempering_param) < 1.0:
            if count >= max_steps:
                raise GibbsBoundError(f"tempered SMC for B_n at n = {n:g} did not finish in {max_steps} "
                                      "steps")
            run_key, step_key = jax.random.split(run_key)
            params = blackjax.smc.extend_params({
                "step_size": jnp.asarray(step_size), "inverse_mass_matrix": jnp.asarray(cov),
                "num_integration_steps": jnp.asarray(num_integration_steps)})
            state, info = kernel(step_key, state, params, *args)
            increment = float(info.log_likelihood_increment)
            if not np.isfinite(increment):
                raise GibbsBoundError(f"tempered SMC for B_n at n = {n:g}: non-finite weight increment")
            log_z += increment
            acceptance = float(jnp.mean(info.update_info.acceptance_rate))
            step_size *= 0.7 if acceptance < 0.65 else (1.2 if acceptance > 0.9 else 1.0)
            count += 1
        runs.append(log_z)
        evaluations += count * num_particles * (2 + num_mcmc_steps * num_integration_steps)
    runs_arr = np.asarray(runs)
    # log ∫ w e^{−nD} = log ∫ q_n · (w e^{−nD}/q_n); q_n is normalized
    return float(-np.mean(runs_arr)), float(np.std(runs_arr, ddof=1) / np.sqrt(num_repeats)), evaluations


def gibbs_bound_fn(
    divergence: Callable[[Array], Array],
    log_prior: Callable[[Array], Array],
    sample_prior: Callable[[Array], Array],
    prior: PriorGaussian,
    n: Any,
    *,
    key: Array,
    center: Array,
    num_draws: int = 512,
    defensive: float = 0.1,
    min_ess: float = 50.0,
    fallback: bool = True,
    num_particles: int = 256,
    num_repeats: int = 4,
    geometry: LaplaceGeometry | None = None,
) -> GibbsBound:
    """B_n for every n on flat coordinates z (module docstring); the arguments as in :func:`gibbs_bound`."""
    n_arr = _check_n(n)
    _check_options(num_draws, defensive, min_ess, num_particles, num_repeats)
    key = as_key(key)
    start = time.perf_counter()
    hessian_cost = 0
    if geometry is None:
        geometry = laplace_geometry(divergence, prior, center)
        hessian_cost = 2 * int(np.size(center))
    g = geometry
    keep = g.a > 0
    laplace = laplace_gibbs_bound(g.a[keep], g.centers[keep], n_arr, g.log_normalization)
    value, stderr, ess = (np.full(n_arr.size, np.nan) for _ in range(3))
    evals = np.zeros(n_arr.size, dtype=int)
    methods = []
    for i, (ni, ki) in enumerate(zip(n_arr, jax.random.split(key, n_arr.size), strict=True)):
        key_is, key_smc = jax.random.split(ki)
        value[i], stderr[i], ess[i] = _importance(float(ni), g, divergence, log_prior, sample_prior, key_is,
                                                  num_draws, defensive)
        evals[i] = num_draws
        if ess[i] >= min_ess and np.isfinite(value[i]):
            methods.append("importance")
            continue
        if not fallback:
            value[i] = stderr[i] = np.nan
            methods.append("collapsed")
            continue
        value[i], stderr[i], cost = _tempered(float(ni), g, divergence, log_prior, key_smc, num_particles,
                                              num_repeats)
        evals[i] += cost
        methods.append("tempered-smc")
    return GibbsBound(n_arr, value, stderr, laplace, ess, tuple(methods), evals,
                      int(evals.sum()) + hessian_cost, time.perf_counter() - start)


def gibbs_bound(
    mc: ModelClass,
    params0: Mapping[str, Any],
    n: Any,
    *,
    key: Array,
    num_draws: int = 512,
    defensive: float = 0.1,
    min_ess: float = 50.0,
    fallback: bool = True,
    num_particles: int = 256,
    num_repeats: int = 4,
    kl_draws: int | None = None,
    covariates: Mapping[str, Any] | None = None,
    **model_kwargs: Any,
) -> GibbsBound:
    """B_n = −log ∫ w(θ) e^{−n D(P_θ0 ‖ P_θ)} dθ (nats) for every n, with its standard error.

    Importance sampling from the Laplace approximation of w·e^{−nD} (``num_draws`` draws per n, a
    ``defensive`` share from the prior), falling back to adaptive tempered SMC (``num_particles`` ×
    ``num_repeats``) at any n where the weights' ESS is below ``min_ess`` (``fallback=False``: NaN there,
    method "collapsed"). Cost: ``num_draws`` evaluations of D per n and one dense Hessian of D (d ≤ 2000).

    Raises
    ------
    InputError
        Bad n or options; d > 2000; no Laplace approximation of the prior (``LaplaceError``).
    ModelClassError
        Factor sites (no normalized prior); params0 outside the support.
    GibbsBoundError
        The tempered fallback did not finish.

    """
    if mc.has_factor:
        raise ModelClassError(
            f"gibbs_bound needs a normalized prior w; the factor site(s) {list(mc.factor_sites)} reweight it "
            "by an unknown constant")
    _check_n(n)
    _check_options(num_draws, defensive, min_ess, num_particles, num_repeats)
    key = as_key(key)
    z0, divergence, prior = laplace_setup(mc, params0, kl_draws, merge_covariates(covariates, model_kwargs))
    return gibbs_bound_fn(divergence, mc.log_prior, PriorSampler(mc), prior, n, key=key,
                          center=z0,
                          num_draws=num_draws, defensive=defensive, min_ess=min_ess, fallback=fallback,
                          num_particles=num_particles, num_repeats=num_repeats)
