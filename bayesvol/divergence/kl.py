"""Per-sample Kullback–Leibler divergence D(P_θ0 ‖ P_θ) between members of a model class.

D(θ) = (1/m) Σ_i KL(P_θ0(·|x_i) ‖ P_θ(·|x_i)) in nats, averaged over the m covariate rows (one row for
a generative class). Closed forms come from NumPyro's own ``kl_divergence`` dispatcher; the pairs it lacks
(Bernoulli, Categorical with logits, Poisson, Binomial, Exponential, univariate normal mixtures) are
registered with it here, so any NumPyro user benefits; Beta's is replaced by a more accurate one. Any
other family falls back to a Monte Carlo estimate with a standard error.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpyro.distributions as dist
from jax.scipy.special import digamma, gammaln
from numpyro.distributions.kl import kl_divergence as _numpyro_kl

from bayesvol.errors import BayesvolWarning, as_key
from bayesvol.model.model_class import Array, ModelClass, ModelClassError

__all__ = [
    "Estimate",
    "KLFallbackWarning",
    "distribution_kl",
    "family",
    "kl",
    "kl_estimate",
    "kl_function",
]


class Estimate(NamedTuple):
    """A number with its standard error (nats); ``stderr`` is 0 for a closed form."""

    value: Array
    stderr: Array


class KLFallbackWarning(BayesvolWarning):
    """No closed-form KL divergence for a pair of distributions: a Monte Carlo estimate is used."""


# ---------------------------------------------------------------------------------------------
# Closed forms NumPyro lacks, registered with NumPyro's dispatcher.
_BERNOULLI = (dist.BernoulliProbs, dist.BernoulliLogits)
_CATEGORICAL = (dist.CategoricalProbs, dist.CategoricalLogits)
_BINOMIAL = (dist.BinomialProbs, dist.BinomialLogits)


def _bernoulli_log_probs(d: Any) -> tuple[Array, Array]:
    """(log p, log(1 − p)) computed from whichever parameter the distribution stores, stably."""
    if isinstance(d, (dist.BernoulliLogits, dist.BinomialLogits)):
        return jax.nn.log_sigmoid(d.logits), jax.nn.log_sigmoid(-d.logits)
    return jnp.log(d.probs), jnp.log1p(-d.probs)


def _weighted_log_ratio(log_p: Array, log_q: Array) -> Array:
    """p·(log p − log q) with the convention 0·log(0/q) = 0, and +∞ where q = 0 < p."""
    p = jnp.exp(log_p)
    safe = jnp.where(p > 0, log_p - log_q, 0.0)
    return jnp.where(p > 0, p * safe, 0.0)


@_numpyro_kl.register(_BERNOULLI, _BERNOULLI)
def _kl_bernoulli(p: Any, q: Any) -> Array:
    lp1, lp0 = _bernoulli_log_probs(p)
    lq1, lq0 = _bernoulli_log_probs(q)
    return _weighted_log_ratio(lp1, lq1) + _weighted_log_ratio(lp0, lq0)


def _categorical_log_probs(d: Any) -> Array:
    if isinstance(d, dist.CategoricalLogits):
        return jax.nn.log_softmax(d.logits, axis=-1)
    return jnp.log(d.probs)


@_numpyro_kl.register(_CATEGORICAL, _CATEGORICAL)
def _kl_categorical(p: Any, q: Any) -> Array:
    return jnp.sum(_weighted_log_ratio(_categorical_log_probs(p), _categorical_log_probs(q)), axis=-1)


@_numpyro_kl.register(_BINOMIAL, _BINOMIAL)
def _kl_binomial(p: Any, q: Any) -> Array:
    n_p, n_q = p.total_count, q.total_count
    if all(isinstance(n, (int, float)) or not isinstance(n, jax.core.Tracer) for n in (n_p, n_q)):
        if not bool(jnp.all(jnp.asarray(n_p) == jnp.asarray(n_q))):
            raise ModelClassError("KL between Binomials with different total_count is not supported")
    return n_p * _kl_bernoulli(p, q)


def _expm1_minus(r: Array) -> Array:
    """e^r − 1 − r without cancellation near r = 0 (it is ≈ r²/2 there)."""
    return jnp.expm1(r) - r


# The three pairs below are written as e^r − 1 − r of a log-ratio r: the textbook forms (ratio − log ratio
# − 1) lose every digit below ≈ 1e-16 nats, which put a floor under D near the truth and kept the volume
# estimators from radii t < 1e-16 (needed for log V ≈ −200 in d = 10).
@_numpyro_kl.register(dist.Normal, dist.Normal)
def _kl_normal(p: Any, q: Any) -> Array:
    log_scale_ratio = jnp.log(p.scale) - jnp.log(q.scale)
    return 0.5 * _expm1_minus(2.0 * log_scale_ratio) + 0.5 * jnp.square((p.loc - q.loc) / q.scale)


@_numpyro_kl.register(dist.Poisson, dist.Poisson)
def _kl_poisson(p: Any, q: Any) -> Array:
    # λp log(λp/λq) − λp + λq = λp (e^r − 1 − r), r = log(λq/λp); 0 when λp = 0 (then KL = λq)
    safe = jnp.where(p.rate > 0, p.rate, 1.0)
    value = safe * _expm1_minus(jnp.log(q.rate) - jnp.log(safe))
    return jnp.where(p.rate > 0, value, q.rate)


@_numpyro_kl.register(dist.Exponential, dist.Exponential)
def _kl_exponential(p: Any, q: Any) -> Array:
    return _expm1_minus(jnp.log(q.rate) - jnp.log(p.rate))


@_numpyro_kl.register(dist.Beta, dist.Beta)
def _kl_beta(p: Any, q: Any) -> Array:
    # Replaces NumPyro's own pair, whose jax.scipy.special.betaln is off by up to ~5e-7 nats in float64
    # for moderate concentrations (e.g. Beta(8.5, 18.5) vs Beta(12.5, 18.5)); log-gammas are exact.
    a, b = p.concentration1, p.concentration0
    c, d = q.concentration1, q.concentration0
    log_beta_ratio = gammaln(c) + gammaln(d) - gammaln(c + d) - gammaln(a) - gammaln(b) + gammaln(a + b)
    return (log_beta_ratio + (a - c) * digamma(a) + (b - d) * digamma(b)
            + (c - a + d - b) * digamma(a + b))


# E_{N(μ,s²)} f = ∫ φ(t) f(μ + s t) dt by the trapezoid rule on a fixed grid t ∈ [−12, 12], step h = 1/64.
# For an integrand analytic in the strip |Im t| < δ the rule converges like exp(−2πδ/h) (Trefethen &
# Weideman 2014, SIAM Review 56(3)), truncation costs φ(12) ≈ 1e-32. The log-density of a mixture has
# complex poles at distance ≈ π/(2Δ) for components Δ standard deviations apart, which Gauss–Hermite
# rules reach only slowly (80 nodes: relative error 1e-5 at Δ = 6); this grid agrees with adaptive
# quadrature to ≈ 1e-15 relative at Δ = 6 … 40 (tests/test_divergence.py). Hand-written because no kept
# library offers a jit-able fixed rule.
_GRID_STEP = 1.0 / 64.0
_GRID = jnp.arange(-12 * 64, 12 * 64 + 1) * _GRID_STEP
_GRID_WEIGHTS = _GRID_STEP * jnp.exp(-0.5 * _GRID**2) / jnp.sqrt(2.0 * jnp.pi)


@_numpyro_kl.register(dist.MixtureSameFamily, dist.MixtureSameFamily)
def _kl_normal_mixture(p: Any, q: Any) -> Array:
    """KL of univariate normal mixtures: Σ_j π_j E_{N(μ_j, s_j²)}[log p − log q] by quadrature."""
    if not (isinstance(p.component_distribution, dist.Normal)
            and isinstance(q.component_distribution, dist.Normal) and p.event_shape == ()):
        raise NotImplementedError
    comp = p.component_distribution
    # nodes: (..., components, nodes)
    x = comp.loc[..., None] + comp.scale[..., None] * _GRID
    x_batch = jnp.moveaxis(x, (-2, -1), (0, 1))
    log_ratio = jnp.moveaxis(p.log_prob(x_batch) - q.log_prob(x_batch), (0, 1), (-2, -1))
    weights = p.mixing_distribution.probs
    inner = jnp.sum(log_ratio * _GRID_WEIGHTS, axis=-1)
    return jnp.sum(weights * inner, axis=-1)


# ---------------------------------------------------------------------------------------------
def family(d: dist.Distribution) -> str:
    """Family name of a distribution, unwrapping Independent/Expanded/Masked and Probs/Logits forms."""
    while isinstance(d, (dist.Independent, dist.ExpandedDistribution, dist.MaskedDistribution)):
        d = d.base_dist
    name = type(d).__name__
    for suffix in ("Probs", "Logits"):
        if name.endswith(suffix) and name != suffix:
            return name[: -len(suffix)]
    return name


def distribution_kl(
    p: dist.Distribution,
    q: dist.Distribution,
    *,
    key: Array | None = None,
    num_samples: int = 4096,
) -> Estimate:
    """KL(p ‖ q) elementwise over the batch shape: closed form, else Monte Carlo with its stderr.

    Raises
    ------
    ModelClassError
        When p and q belong to different families (or differ in event shape).

    """
    if family(p) != family(q):
        raise ModelClassError(
            f"KL between different families: {family(p)} and {family(q)}; bayesvol compares members "
            "of one model class"
        )
    if tuple(p.event_shape) != tuple(q.event_shape):
        raise ModelClassError(f"KL between event shapes {p.event_shape} and {q.event_shape}")
    try:
        value = _numpyro_kl(p, q)
        return Estimate(value, jnp.zeros_like(value))
    except NotImplementedError:
        pass
    warnings.warn(
        f"no closed-form KL for {family(p)}; using a Monte Carlo estimate with {num_samples} draws "
        "(its standard error is returned)",
        KLFallbackWarning,
        stacklevel=3,
    )
    key = jax.random.PRNGKey(0) if key is None else key
    draws = p.sample(key, (num_samples,))
    log_ratio = p.log_prob(draws) - q.log_prob(draws)
    return Estimate(jnp.mean(log_ratio, axis=0), jnp.std(log_ratio, axis=0) / jnp.sqrt(num_samples))


def kl_estimate(
    mc: ModelClass,
    params0: Mapping[str, Any],
    params: Mapping[str, Any],
    *,
    key: Array | None = None,
    num_samples: int = 4096,
    covariates: Mapping[str, Any] | None = None,
    **model_kwargs: Any,
) -> Estimate:
    """D(P_θ0 ‖ P_θ) per sample, averaged over the covariate rows, with its standard error (nats)."""
    model_kwargs = mc.resolve_covariates(covariates, model_kwargs)
    key = None if key is None else as_key(key)
    trace0 = mc.observed_trace(params0, model_kwargs)
    trace = mc.observed_trace(params, model_kwargs)
    site0, site = trace0[mc.observed_site], trace[mc.observed_site]
    estimate = distribution_kl(site0["fn"], site["fn"], key=key, num_samples=num_samples)
    rows = mc.per_datum(site0, estimate.value)
    row_var = mc.per_datum(site0, jnp.square(estimate.stderr))
    m = rows.shape[0]
    return Estimate(jnp.mean(rows), jnp.sqrt(jnp.sum(row_var)) / m)


def kl(
    mc: ModelClass,
    params0: Mapping[str, Any],
    params: Mapping[str, Any],
    *,
    key: Array | None = None,
    num_samples: int = 4096,
    covariates: Mapping[str, Any] | None = None,
    **model_kwargs: Any,
) -> Array:
    """D(P_θ0 ‖ P_θ) per sample in nats: (1/m) Σ_i KL(P_θ0(·|x_i) ‖ P_θ(·|x_i)) over covariate rows.

    Closed form for the common likelihood families; otherwise a Monte Carlo estimate (with a
    ``KLFallbackWarning``; use :func:`kl_estimate` for its standard error). Pure JAX: jit- and
    vmap-able over ``params``.
    """
    return kl_estimate(mc, params0, params, key=key, num_samples=num_samples, covariates=covariates,
                       **model_kwargs).value


def kl_function(
    mc: ModelClass,
    params0: Mapping[str, Any],
    *,
    covariates: Mapping[str, Any] | None = None,
    **model_kwargs: Any,
) -> Callable[[Array], Array]:
    """D as a function of the flat unconstrained vector z: z ↦ D(P_θ0 ‖ P_T(z)) (nats).

    The truth's distribution is computed once, so the returned function evaluates only P_z.
    """
    model_kwargs = mc.resolve_covariates(covariates, model_kwargs)
    site0 = mc.observed_trace(params0, model_kwargs)[mc.observed_site]
    fn0 = site0["fn"]

    def divergence(z: Array) -> Array:
        params = mc.unflatten(z)
        site = mc.observed_trace(params, model_kwargs)[mc.observed_site]
        estimate = distribution_kl(fn0, site["fn"])
        return jnp.mean(mc.per_datum(site0, estimate.value))

    return divergence
