"""Per-sample Kullback–Leibler divergence D(P_θ0 ‖ P_θ) between members of a model class.

D(θ) = (1/m) Σ_i KL(P_θ0(·|x_i) ‖ P_θ(·|x_i)) in nats, averaged over the m covariate rows (one row for
a generative class). Closed forms come from bayesvol's own dispatcher ``kl_dispatch`` (Bernoulli,
Categorical, Poisson, Binomial, Exponential, univariate normal mixtures, and more accurate Normal and Beta
forms), which falls back to NumPyro's ``kl_divergence`` for the pairs it lacks. NumPyro's global registry is
left untouched: importing bayesvol changes nothing for other NumPyro code in the process.

Any other family is estimated by Monte Carlo as one *fixed* function of θ (common random numbers): draws
x_{k,i} ~ P_θ0(·|x_i), k = 1..N, made once per row with a fixed key, and

    D̂(θ) = (1/(N m)) Σ_{k,i} [log p_θ0(x_ki) − log p_θ(x_ki) + (η_i(θ) − η_i(θ0))·∇_η log p_η(x_ki)|_θ0],

the last term a control variate (the score has mean 0 under P_θ0) in the distribution's own parameters η.
It makes D̂(θ0) = 0 with zero gradient, so D̂ ≈ ½ δᵀ F̂ δ near the truth (F̂ the Monte Carlo Fisher) instead
of a random linear term of size √(2t·d/(Nm)) that swamps D at small t; nested sampling and the Laplace
curvature then see one smooth D̂ whose relative error at small t is that of F̂, O(1/√(Nm)).
"""

from __future__ import annotations

import math
import warnings
import weakref
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import numpyro.distributions as dist
from jax.scipy.special import digamma, gammaln
from multipledispatch import Dispatcher
from numpyro.distributions.distribution import (
    Distribution,
    ExpandedDistribution,
    Independent,
    MaskedDistribution,
)
from numpyro.distributions.kl import kl_divergence as _numpyro_kl
from numpyro.distributions.util import scale_and_mask, sum_rightmost

from bayesvol.errors import BayesvolWarning, InputError, as_key
from bayesvol.model.model_class import Array, ModelClass, ModelClassError

__all__ = [
    "Estimate",
    "KLFallbackWarning",
    "distribution_kl",
    "family",
    "kl",
    "kl_dispatch",
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
# bayesvol's own dispatcher: registering with NumPyro's global ``kl_divergence`` would change the numbers
# every other NumPyro user in the process gets. Pairs not registered here go to NumPyro's dispatcher.
kl_dispatch = Dispatcher("bayesvol_kl")


@kl_dispatch.register(object, object)
def _kl_numpyro(p: Any, q: Any) -> Array:
    return _numpyro_kl(p, q)


# NumPyro's wrapper rules recurse into NumPyro's dispatcher; these recurse into ours, so that e.g.
# Independent(Bernoulli) reaches bayesvol's Bernoulli pair.
@kl_dispatch.register(Distribution, ExpandedDistribution)
def _kl_expanded_q(p: Any, q: Any) -> Array:
    shape = jax.lax.broadcast_shapes(p.batch_shape, q.batch_shape)
    return jnp.broadcast_to(kl_dispatch(p, q.base_dist), shape)


@kl_dispatch.register(ExpandedDistribution, Distribution)
def _kl_expanded_p(p: Any, q: Any) -> Array:
    shape = jax.lax.broadcast_shapes(p.batch_shape, q.batch_shape)
    return jnp.broadcast_to(kl_dispatch(p.base_dist, q), shape)


@kl_dispatch.register(ExpandedDistribution, ExpandedDistribution)
def _kl_expanded(p: Any, q: Any) -> Array:
    return jnp.broadcast_to(kl_dispatch(p.base_dist, q.base_dist),
                            jax.lax.broadcast_shapes(p.batch_shape, q.batch_shape))


@kl_dispatch.register(Independent, Independent)
def _kl_independent(p: Any, q: Any) -> Array:
    shared = min(p.reinterpreted_batch_ndims, q.reinterpreted_batch_ndims)
    p_ndims, q_ndims = p.reinterpreted_batch_ndims - shared, q.reinterpreted_batch_ndims - shared
    p = Independent(p.base_dist, p_ndims) if p_ndims else p.base_dist
    q = Independent(q.base_dist, q_ndims) if q_ndims else q.base_dist
    value = kl_dispatch(p, q)
    return sum_rightmost(value, shared) if shared else value


@kl_dispatch.register(MaskedDistribution, MaskedDistribution)
def _kl_masked(p: Any, q: Any) -> Array:
    if p._mask is False or q._mask is False:
        return jnp.zeros(())
    mask = q._mask if p._mask is True else p._mask if q._mask is True else p._mask & q._mask
    value = kl_dispatch(p.base_dist, q.base_dist)
    return value if mask is True else scale_and_mask(value, mask=mask)


# Closed forms NumPyro lacks, and more accurate ones for three pairs it has.
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


@kl_dispatch.register(_BERNOULLI, _BERNOULLI)
def _kl_bernoulli(p: Any, q: Any) -> Array:
    lp1, lp0 = _bernoulli_log_probs(p)
    lq1, lq0 = _bernoulli_log_probs(q)
    return _weighted_log_ratio(lp1, lq1) + _weighted_log_ratio(lp0, lq0)


def _categorical_log_probs(d: Any) -> Array:
    if isinstance(d, dist.CategoricalLogits):
        return jax.nn.log_softmax(d.logits, axis=-1)
    return jnp.log(d.probs)


@kl_dispatch.register(_CATEGORICAL, _CATEGORICAL)
def _kl_categorical(p: Any, q: Any) -> Array:
    return jnp.sum(_weighted_log_ratio(_categorical_log_probs(p), _categorical_log_probs(q)), axis=-1)


@kl_dispatch.register(_BINOMIAL, _BINOMIAL)
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
@kl_dispatch.register(dist.Normal, dist.Normal)
def _kl_normal(p: Any, q: Any) -> Array:
    log_scale_ratio = jnp.log(p.scale) - jnp.log(q.scale)
    return 0.5 * _expm1_minus(2.0 * log_scale_ratio) + 0.5 * jnp.square((p.loc - q.loc) / q.scale)


@kl_dispatch.register(dist.Poisson, dist.Poisson)
def _kl_poisson(p: Any, q: Any) -> Array:
    # λp log(λp/λq) − λp + λq = λp (e^r − 1 − r), r = log(λq/λp); 0 when λp = 0 (then KL = λq)
    safe = jnp.where(p.rate > 0, p.rate, 1.0)
    value = safe * _expm1_minus(jnp.log(q.rate) - jnp.log(safe))
    return jnp.where(p.rate > 0, value, q.rate)


@kl_dispatch.register(dist.Exponential, dist.Exponential)
def _kl_exponential(p: Any, q: Any) -> Array:
    return _expm1_minus(jnp.log(q.rate) - jnp.log(p.rate))


@kl_dispatch.register(dist.Beta, dist.Beta)
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
_GRID = np.arange(-12 * 64, 12 * 64 + 1) * _GRID_STEP
_GRID_WEIGHTS = _GRID_STEP * np.exp(-0.5 * _GRID**2) / np.sqrt(2.0 * np.pi)


@kl_dispatch.register(dist.MixtureSameFamily, dist.MixtureSameFamily)
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



# ---------------------------------------------------------------------------------------------
# Monte Carlo D as a fixed function of θ.
#
# Default draws: N = max(32, ⌈8192/m⌉) per covariate row (m rows), so N·m ≥ 8,192 in all. With the control
# variate the relative error of D̂ near the truth is that of the Monte Carlo Fisher F̂, ≈ c/√(N m). Measured
# on the Student-t regression of tests/test_user_models.py (d = 3, m = 200, df = 4) at points on the shell
# D = 1e-4 (the smallest t of the CLI's default grid), the relative spread of D̂ over 20 draw keys is
# 1.4–1.9% at N = 32 (N·m = 6,400), 0.5–0.7% at N = 256, 0.3–0.4% at N = 1,024: c ≈ 1.3. A 2% error in t
# moves log V by (d/2)·0.02 = 0.03 nats at d = 3, below the nested sampler's own stderr (≈ 0.1–0.3), while
# the cost of one evaluation of D, N·m log-densities, stays ≈ 8,192 (0.1 s per 512 points here at m = 200;
# N = 256 took 0.8 s and sampled_volume over 10 minutes).
KL_TOTAL_DRAWS = 8192
KL_MIN_DRAWS = 32
# Elements of the (draws × batch) log-density table evaluated at once: bounds the memory of one D
# evaluation vmapped over the sampler's points (512 points × 65,536 × 8 bytes ≈ 270 MB). Measured on the
# Student-t regression (m = 200, 512 points): N = 256 draws take 0.27 s unchunked, 0.36 s in chunks of
# 65,536, 0.71 s in chunks of 16,384; the default N = 41 fits one chunk (0.01–0.02 s).
_CHUNK_ELEMENTS = 65_536
# causes already warned about, per model class (weak: a new class at a recycled id() still warns)
_WARNED: weakref.WeakKeyDictionary[Any, set[tuple[str, int]]] = weakref.WeakKeyDictionary()
_WARNED_PAIRS: set[tuple[str, int]] = set()


def _float_leaves(d: Any) -> tuple[list[Any], Any, tuple[bool, ...]]:
    leaves, treedef = jax.tree_util.tree_flatten(d)
    is_float = tuple((hasattr(leaf, "dtype") and jnp.issubdtype(jnp.result_type(leaf), jnp.floating))
                     or isinstance(leaf, float) for leaf in leaves)
    return leaves, treedef, is_float


class _MonteCarloKL:
    """D̂ for one truth distribution p0: fixed draws, their log p0, and the control variate's score.

    ``total(q)`` = Σ_{k,i} [log p0(x) − log q(x) + (η_q − η0)·s(x)] over draws k and batch elements i, the
    log-densities evaluated in chunks of draws (memory bounded under vmap). ``per_draw(q)`` gives the N
    terms summed over the batch (i.i.d. across k), for the standard error.
    """

    def __init__(self, p0: Distribution, key: Array, num_draws: int):
        self.p0 = p0
        self.num_draws = num_draws
        self.draws = p0.sample(key, (num_draws,))
        self.log_p0 = p0.log_prob(self.draws)  # (N, *batch)
        leaves, self.treedef, self.is_float = _float_leaves(p0)
        self.leaves0 = leaves
        batch = max(1, math.prod(p0.batch_shape) * max(1, math.prod(p0.event_shape)))
        self.chunk = max(1, min(num_draws, _CHUNK_ELEMENTS // batch))
        # the control variate needs q's float parameters laid out as p0's; otherwise it is left out
        self.score = self._score_sum() if any(self.is_float) else None

    def _with_floats(self, floats: list[Any]) -> Any:
        it = iter(floats)
        return jax.tree_util.tree_unflatten(
            self.treedef, [next(it) if f else leaf for leaf, f in zip(self.leaves0, self.is_float)])

    def _floats(self, d: Any) -> list[Any] | None:
        leaves, treedef, is_float = _float_leaves(d)
        if treedef != self.treedef or is_float != self.is_float:
            return None
        out = [leaf for leaf, f in zip(leaves, is_float) if f]
        ref = [leaf for leaf, f in zip(self.leaves0, self.is_float) if f]
        if any(jnp.shape(a) != jnp.shape(b) for a, b in zip(out, ref)):
            return None
        return out

    def _score_sum(self) -> list[Array]:
        floats0 = [leaf for leaf, f in zip(self.leaves0, self.is_float) if f]

        def total_log_prob(floats: list[Array]) -> Array:
            return jnp.sum(self._with_floats(floats).log_prob(self.draws))

        return jax.grad(total_log_prob)(floats0)

    def _correction(self, q: Any, score: list[Array]) -> Array:
        floats = self._floats(q)
        if floats is None:
            return jnp.zeros(())
        ref = [leaf for leaf, f in zip(self.leaves0, self.is_float) if f]
        return sum((jnp.sum((a - b) * s) for a, b, s in zip(floats, ref, score)), jnp.zeros(()))

    def total(self, q: Any) -> Array:
        def one(pair: tuple[Array, Array]) -> Array:
            x, log_p0 = pair
            return jnp.sum(log_p0 - q.log_prob(x))

        per_draw = jax.lax.map(one, (self.draws, self.log_p0), batch_size=self.chunk)
        correction = self._correction(q, self.score) if self.score is not None else jnp.zeros(())
        return jnp.sum(per_draw) + correction

    def per_draw(self, q: Any) -> Array:
        log_ratio = jnp.reshape(self.log_p0 - q.log_prob(self.draws), (self.num_draws, -1)).sum(axis=1)
        if self.score is None or self._floats(q) is None:
            return log_ratio

        def draw_correction(x: Array) -> Array:
            floats0 = [leaf for leaf, f in zip(self.leaves0, self.is_float) if f]
            score = jax.grad(lambda fl: jnp.sum(self._with_floats(fl).log_prob(x)))(floats0)
            return self._correction(q, score)

        return log_ratio + jax.lax.map(draw_correction, self.draws, batch_size=self.chunk)


def _closed_form(p: Distribution, q: Distribution) -> Array | None:
    try:
        return kl_dispatch(p, q)
    except NotImplementedError:
        return None


def _check_pair(p: Distribution, q: Distribution) -> None:
    if family(p) != family(q):
        raise ModelClassError(
            f"KL between different families: {family(p)} and {family(q)}; bayesvol compares members "
            "of one model class"
        )
    if tuple(p.event_shape) != tuple(q.event_shape):
        raise ModelClassError(f"KL between event shapes {p.event_shape} and {q.event_shape}")


def _check_draws(kl_draws: Any, rows: int = 1) -> int:
    if kl_draws is None:
        return max(KL_MIN_DRAWS, -(-KL_TOTAL_DRAWS // max(rows, 1)))
    if isinstance(kl_draws, bool) or not isinstance(kl_draws, int) or kl_draws < 2:
        raise InputError(f"kl_draws must be an integer ≥ 2 (Monte Carlo draws per row), got {kl_draws!r}")
    return kl_draws


def _mc_key(key: Any) -> Array:
    # a fixed default key: D̂ is then the same function in every call (kl, kl_function, the estimators)
    return jax.random.PRNGKey(0) if key is None else as_key(key)


def _warn_once(mc: ModelClass | None, fam: str, kl_draws: int, relative: float | None) -> None:
    cause = (fam, kl_draws)
    seen = _WARNED_PAIRS if mc is None else _WARNED.setdefault(mc, set())
    if cause in seen:
        return
    seen.add(cause)
    precision = (f"; its relative standard error at this θ is {relative:.2g}" if relative is not None
                 else "; bv.kl_estimate gives its standard error")
    warnings.warn(
        f"no closed-form KL for {fam}: D is estimated by Monte Carlo with {kl_draws} draws per row from "
        f"P_θ0, the same draws for every θ (one fixed function of θ){precision}; set kl_draws= to change "
        "the number of draws",
        KLFallbackWarning,
        stacklevel=3,
    )


def distribution_kl(
    p: dist.Distribution,
    q: dist.Distribution,
    *,
    key: Array | None = None,
    kl_draws: int | None = None,
) -> Estimate:
    """KL(p ‖ q) elementwise over the batch shape: closed form, else Monte Carlo with its stderr.

    The Monte Carlo estimate (no control variate here: elementwise, for the curvature's Λ) uses ``kl_draws``
    draws from p (fixed ``key``; default ⌈8192 / batch size⌉, at least 32); it warns once per family and
    draw count.

    Raises
    ------
    ModelClassError
        When p and q belong to different families (or differ in event shape).

    """
    _check_pair(p, q)
    value = _closed_form(p, q)
    if value is not None:
        return Estimate(value, jnp.zeros_like(value))
    kl_draws = _check_draws(kl_draws, math.prod(p.batch_shape))
    _warn_once(None, family(p), kl_draws, None)
    draws = p.sample(_mc_key(key), (kl_draws,))
    log_ratio = p.log_prob(draws) - q.log_prob(draws)
    return Estimate(jnp.mean(log_ratio, axis=0), jnp.std(log_ratio, axis=0) / jnp.sqrt(kl_draws))


def _truth_site(mc: ModelClass, params0: Mapping[str, Any], model_kwargs: Mapping[str, Any]) -> Any:
    return mc.observed_trace(params0, model_kwargs)[mc.observed_site]


def _num_rows(mc: ModelClass, site0: Any) -> int:
    return int(mc.per_datum(site0, jnp.zeros(tuple(site0["fn"].batch_shape))).shape[0])


def kl_estimate(
    mc: ModelClass,
    params0: Mapping[str, Any],
    params: Mapping[str, Any],
    *,
    key: Array | None = None,
    kl_draws: int | None = None,
    covariates: Mapping[str, Any] | None = None,
    **model_kwargs: Any,
) -> Estimate:
    """D(P_θ0 ‖ P_θ) per sample, averaged over the covariate rows, with its standard error (nats).

    Closed form (stderr 0) where bayesvol or NumPyro has one; otherwise the Monte Carlo D̂ of
    :func:`kl_function` (``kl_draws`` draws per row from P_θ0 with ``key``, fixed by default) and its
    stderr sd_k(L_k)/(m √N), L_k the k-th draw's control-variated log-ratio summed over the m rows.
    """
    model_kwargs = mc.resolve_covariates(covariates, model_kwargs)
    key = None if key is None else as_key(key)  # checked even where the closed form needs no key
    site0 = _truth_site(mc, params0, model_kwargs)
    site = mc.observed_trace(params, model_kwargs)[mc.observed_site]
    fn0, fn = site0["fn"], site["fn"]
    _check_pair(fn0, fn)
    m = _num_rows(mc, site0)
    value = _closed_form(fn0, fn)
    if value is not None:
        return Estimate(jnp.mean(mc.per_datum(site0, value)), jnp.zeros(()))
    kl_draws = _check_draws(kl_draws, m)
    per_draw = _MonteCarloKL(fn0, _mc_key(key), kl_draws).per_draw(fn) / m
    estimate = Estimate(jnp.mean(per_draw), jnp.std(per_draw) / jnp.sqrt(kl_draws))
    relative = None
    if not isinstance(estimate.value, jax.core.Tracer) and float(estimate.value) > 0:
        relative = float(estimate.stderr / estimate.value)
    _warn_once(mc, family(fn0), kl_draws, relative)
    return estimate


def kl(
    mc: ModelClass,
    params0: Mapping[str, Any],
    params: Mapping[str, Any],
    *,
    key: Array | None = None,
    kl_draws: int | None = None,
    covariates: Mapping[str, Any] | None = None,
    **model_kwargs: Any,
) -> Array:
    """D(P_θ0 ‖ P_θ) per sample in nats: (1/m) Σ_i KL(P_θ0(·|x_i) ‖ P_θ(·|x_i)) over covariate rows.

    Closed form for the common likelihood families; otherwise the fixed Monte Carlo D̂ of
    :func:`kl_function` (a ``KLFallbackWarning`` once per class; :func:`kl_estimate` gives its standard
    error). Pure JAX: jit- and vmap-able over ``params``.
    """
    return kl_estimate(mc, params0, params, key=key, kl_draws=kl_draws, covariates=covariates,
                       **model_kwargs).value


def kl_function(
    mc: ModelClass,
    params0: Mapping[str, Any],
    *,
    key: Array | None = None,
    kl_draws: int | None = None,
    covariates: Mapping[str, Any] | None = None,
    **model_kwargs: Any,
) -> Callable[[Array], Array]:
    """D as a function of the flat unconstrained vector z: z ↦ D(P_θ0 ‖ P_T(z)) (nats).

    The truth's distribution is computed once, so the returned function evaluates only P_z. Without a
    closed form, D̂ uses ``kl_draws`` draws per row from P_θ0 (default max(32, ⌈8192/m⌉) for m rows) made
    here once (``key``, fixed by default) and reused for every z: one deterministic, smooth function (see
    the module docstring), evaluated in chunks of draws so that its memory stays bounded under vmap.
    """
    model_kwargs = mc.resolve_covariates(covariates, model_kwargs)
    key = None if key is None else as_key(key)
    site0 = _truth_site(mc, params0, model_kwargs)
    fn0 = site0["fn"]
    m = _num_rows(mc, site0)
    if _closed_form(fn0, fn0) is not None:

        def divergence(z: Array) -> Array:
            site = mc.observed_trace(mc.unflatten(z), model_kwargs)[mc.observed_site]
            _check_pair(fn0, site["fn"])
            return jnp.mean(mc.per_datum(site0, kl_dispatch(fn0, site["fn"])))

        return divergence

    kl_draws = _check_draws(kl_draws, m)
    estimator = _MonteCarloKL(fn0, _mc_key(key), kl_draws)
    _warn_once(mc, family(fn0), kl_draws, None)

    def mc_divergence(z: Array) -> Array:
        site = mc.observed_trace(mc.unflatten(z), model_kwargs)[mc.observed_site]
        _check_pair(fn0, site["fn"])
        return estimator.total(site["fn"]) / (m * kl_draws)

    return mc_divergence
