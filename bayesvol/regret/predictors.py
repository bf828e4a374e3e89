"""Predictors of new data given training data, all scored by the same log loss (nats per datum).

For training data S = (x_i, y_i)_{i≤n} and a new datum (x, y), each predictor gives −log q(y | x; S):

* ``"mixture"`` — the Bayes posterior predictive Q_s(y | x; S) = ∫ w(θ | S) P_θ(y | x) dθ. Exact when an
  exact log-marginal ``log Q(data, **covariates)`` is supplied (conjugate classes):
  log Q(y | x; S) = log Q(S ∪ {(x, y)}) − log Q(S); otherwise a posterior sample average,
  log Q ≈ logsumexp_s log P_{θ_s}(y | x) − log S, over NUTS draws (``bv.fit``).
* ``"plugin"`` — P_θ̂ with θ̂ the maximum-likelihood (ERM) fit; ``"map"`` — θ̂ the posterior mode.
  Both by L-BFGS (optax) in the flat unconstrained coordinates z, from several starts.
* ``"sgld"`` — stochastic-gradient Langevin draws used as a mixture; ``"ensemble"`` — a deep ensemble
  of ERM fits from random starts used as an equal-weight mixture.

A plug-in can assign probability 0 to an observed outcome: when the likelihood's supremum is not attained
(the optimizer runs off to infinity in z, e.g. a Bernoulli sample of only zeros), θ̂ is the limit along
the ray t·ẑ, t → ∞, and a datum whose log-probability keeps falling along that ray has log loss +∞. Such
losses are returned as ``inf`` and counted (``num_infinite``), never clipped.

Covariates follow ModelClass: the model's keyword arguments. Arrays are indexed by row (their leading
axis); a scalar keyword (the generative row count ``n``) counts rows and is added when sets are joined.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
import optax.tree_utils as otu
from jax.scipy.special import logsumexp

from bayesvol.inference.fit import Posterior, check_data, fit
from bayesvol.model.model_class import Array, ModelClass, ModelClassError, prior_sample

__all__ = [
    "PREDICTORS",
    "ErmFit",
    "PredictiveLoss",
    "concat_rows",
    "erm",
    "exact_log_q",
    "log_likelihood",
    "mixture_log_prob",
    "predictive_log_loss",
    "prefix_rows",
    "sgld",
    "take_rows",
]

PREDICTORS = ("mixture", "plugin", "map", "sgld", "ensemble")
ExactLogMarginal = Callable[..., Array]


class PredictiveLoss(NamedTuple):
    """Per-datum log loss −log q(y_j | x_j; S) of a predictor (nats); ``inf`` where q = 0.

    ``posterior`` is the NUTS fit behind a sampled "mixture" (its R-hat, ESS, divergences), else None.
    """

    log_loss: Array
    num_infinite: int
    predictor: str
    posterior: Posterior | None = None


class ErmFit(NamedTuple):
    """An empirical-risk (maximum-likelihood or MAP) fit in flat unconstrained coordinates.

    ``z`` is the best start's solution, ``objective`` its mean negative log-likelihood (plus the
    negative log prior / n for MAP), ``escaped`` whether the supremum is not attained (z → ∞ along
    the ray through ``z``), ``starts`` every start's solution, ``objectives`` their objectives and
    ``iterations`` their L-BFGS iteration counts.
    """

    z: Array
    objective: Array
    escaped: Array
    starts: Array
    objectives: Array
    iterations: Array


# ----------------------------------------------------------------------------------------- rows
def _num_rows(data: Any) -> int:
    return int(jnp.shape(data)[0]) if jnp.ndim(data) > 0 else 1


def take_rows(data: Any, covariates: Mapping[str, Any], index: Any) -> tuple[Any, dict[str, Any]]:
    """The rows ``index`` (an integer array) of the data and of every row-indexed covariate."""
    index = jnp.asarray(index)
    rows = _num_rows(data)
    taken = {}
    for name, value in covariates.items():
        if jnp.ndim(value) > 0 and jnp.shape(value)[0] == rows:
            taken[name] = jnp.asarray(value)[index]
        elif jnp.ndim(value) == 0 and isinstance(value, (int, np.integer)):
            taken[name] = int(index.shape[0])
        else:
            taken[name] = value
    return jnp.asarray(data)[index], taken


@functools.lru_cache(maxsize=128)
def _exact_fn(exact_log_marginal: ExactLogMarginal, static: tuple[tuple[str, Any], ...]
              ) -> Callable[..., Array]:
    return jax.jit(lambda data, rows: exact_log_marginal(data, **dict(static), **rows))


def exact_log_q(exact_log_marginal: ExactLogMarginal, data: Any, covariates: Mapping[str, Any]) -> Array:
    """``exact_log_marginal(data, **covariates)``, compiled once per covariate layout and data shape."""
    data = jnp.asarray(data)
    rows, static = _row_split(data, covariates)
    return _exact_fn(exact_log_marginal, _hashable(static))(data, rows)


def prefix_rows(data: Any, covariates: Mapping[str, Any], n: int) -> tuple[Array, dict[str, Any]]:
    """The first n rows of the data and of every row-indexed covariate (row counts ``n`` set to n)."""
    rows = _num_rows(data)
    out = {}
    for name, value in covariates.items():
        if jnp.ndim(value) > 0 and jnp.shape(value)[0] == rows:
            out[name] = value[:n]
        elif isinstance(value, (int, np.integer)):
            out[name] = int(n)
        else:
            out[name] = value
    return jnp.asarray(data)[:n], out


def concat_rows(a: tuple[Any, Mapping[str, Any]], b: tuple[Any, Mapping[str, Any]]
                ) -> tuple[Array, dict[str, Any]]:
    """Join two (data, covariates) sets row-wise: arrays concatenated, row counts ``n`` added."""
    (data_a, cov_a), (data_b, cov_b) = a, b
    rows_a = _num_rows(data_a)
    joined = {}
    for name, value in cov_a.items():
        other = cov_b[name]
        if jnp.ndim(value) > 0 and jnp.shape(value)[0] == rows_a:
            joined[name] = jnp.concatenate([jnp.asarray(value), jnp.asarray(other)])
        elif jnp.ndim(value) == 0 and isinstance(value, (int, np.integer)):
            joined[name] = int(value) + int(other)
        else:
            joined[name] = value
    return jnp.concatenate([jnp.asarray(data_a), jnp.asarray(data_b)]), joined


def _row_split(data: Any, covariates: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Split covariates into row-indexed arrays and the rest (static)."""
    rows = _num_rows(data)
    rowwise = {k: v for k, v in covariates.items() if jnp.ndim(v) > 0 and jnp.shape(v)[0] == rows}
    static = {k: v for k, v in covariates.items() if k not in rowwise}
    return rowwise, static


# ----------------------------------------------------------------------------------------- ERM
def _lbfgs(objective: Callable[[Array], Array], z0: Array, maxiter: int, tol: float
           ) -> tuple[Array, Array]:
    """Minimize a smooth objective with optax's L-BFGS (jit- and vmap-able).

    A backtracking (Armijo) line search rather than optax's default zoom: the same solutions here, and
    half the compilation time, which dominates for the small problems of a regret curve.
    """
    opt = optax.lbfgs(linesearch=optax.scale_by_backtracking_linesearch(
        max_backtracking_steps=30, store_grad=True))
    value_and_grad = optax.value_and_grad_from_state(objective)

    def step(carry: tuple[Array, Any]) -> tuple[Array, Any]:
        z, state = carry
        value, grad = value_and_grad(z, state=state)
        updates, state = opt.update(grad, state, z, value=value, grad=grad, value_fn=objective)
        return optax.apply_updates(z, updates), state

    def keep_going(carry: tuple[Array, Any]) -> Array:
        _, state = carry
        count = otu.tree_get(state, "count")
        grad = otu.tree_get(state, "grad")
        return (count == 0) | ((count < maxiter) & (otu.tree_norm(grad) >= tol))

    z, state = jax.lax.while_loop(keep_going, step, (z0, opt.init(z0)))
    return z, otu.tree_get(state, "count")


def _hashable(static: Mapping[str, Any]) -> tuple[tuple[str, Any], ...]:
    items = tuple(sorted(static.items()))
    try:
        hash(items)
    except TypeError:
        raise ModelClassError(
            f"covariates {sorted(static)} are neither row-indexed arrays nor hashable scalars"
        ) from None
    return items


@functools.lru_cache(maxsize=32)
def _prior_draws(mc: ModelClass) -> Callable[[Array], Array]:
    """Compiled keys (K, 2) -> K prior draws as flat z (K, d)."""
    return jax.jit(jax.vmap(lambda k: mc.flatten(prior_sample(mc, k))))


@functools.lru_cache(maxsize=128)
def _log_lik_fn(mc: ModelClass, static: tuple[tuple[str, Any], ...]) -> Callable[..., Array]:
    return jax.jit(lambda z, data, rows: mc.log_likelihood(z, data, **dict(static), **rows))


def log_likelihood(mc: ModelClass, z: Array, data: Any, covariates: Mapping[str, Any]) -> Array:
    """Per-datum log P_z(data_i | covariates_i) (nats), compiled once per class and covariate layout."""
    data = jnp.asarray(data)
    rows, static = _row_split(data, covariates)
    return _log_lik_fn(mc, _hashable(static))(jnp.asarray(z), data, rows)


@functools.lru_cache(maxsize=128)
def _erm_solver(mc: ModelClass, penalty: str, maxiter: int, tol: float,
                static: tuple[tuple[str, Any], ...]) -> Callable[..., tuple[Array, Array, Array, Array]]:
    """Compiled (z0 (K, d), data, rows, rows used m) -> (solutions, objectives, at 2z, iterations)."""

    def solve(z0: Array, data: Array, rowwise: dict[str, Array], m: Array
              ) -> tuple[Array, Array, Array, Array]:
        covariates = {**dict(static), **rowwise}
        used = jnp.arange(data.shape[0]) < m

        def objective(z: Array) -> Array:
            value = -jnp.sum(jnp.where(used, mc.log_likelihood(z, data, **covariates), 0.0))
            if penalty == "map":
                value = value - mc.log_prior(z)
            return value / m

        solutions, iterations = jax.vmap(lambda z: _lbfgs(objective, z, maxiter, tol))(z0)
        values = jax.vmap(objective)(solutions)
        doubled = jax.vmap(objective)(2.0 * solutions)
        return solutions, jnp.where(jnp.isfinite(values), values, jnp.inf), doubled, iterations

    return jax.jit(solve)


def erm(
    mc: ModelClass,
    data: Any,
    *,
    key: Array,
    penalty: str = "none",
    num_starts: int = 4,
    maxiter: int = 500,
    tol: float = 1e-9,
    escape_norm: float = 8.0,
    num_rows: int | None = None,
    **model_kwargs: Any,
) -> ErmFit:
    """Minimize the empirical log loss −(1/n) Σ_i log P_z(x_i) (+ −log w(z)/n for ``penalty="map"``).

    With ``num_rows`` = n only the first n rows count (one compilation then serves every prefix of a
    data set).

    L-BFGS (optax, backtracking line search) from z = 0 and ``num_starts − 1`` prior draws, vmapped and
    compiled once per model class and data shape; the best objective wins. The fit has ``escaped`` set
    when ‖ẑ‖ > ``escape_norm`` and the objective still decreases along the ray t·ẑ (the supremum
    lies at infinity in z, on the boundary of the parameter space).
    """
    if penalty not in ("none", "map"):
        raise ValueError(f"penalty must be 'none' or 'map', got {penalty!r}")
    data = jnp.asarray(data)
    rowwise, static = _row_split(data, model_kwargs)
    starts = [jnp.zeros((1, mc.dim))]
    if num_starts > 1:
        starts.append(_prior_draws(mc)(jax.random.split(key, num_starts - 1)))
    solver = _erm_solver(mc, penalty, maxiter, tol, _hashable(static))
    m = _num_rows(data) if num_rows is None else int(num_rows)
    if not 1 <= m <= _num_rows(data):
        raise ValueError(f"num_rows = {m} must lie in [1, {_num_rows(data)}] (the rows of data)")
    solutions, values, doubled, iterations = solver(jnp.concatenate(starts), data, rowwise, jnp.asarray(m))
    best = jnp.argmin(values)
    z = solutions[best]
    escaped = (jnp.linalg.norm(z) > escape_norm) & (doubled[best] <= values[best])
    return ErmFit(z, values[best], escaped, solutions, values, iterations)


def _plugin_log_prob(mc: ModelClass, fit: ErmFit, test: Any, test_covariates: Mapping[str, Any],
                     escape_norm: float = 8.0) -> Array:
    """Log P_θ̂(test_j); for an escaped fit, the limit along the ray t·ẑ (−∞ where it keeps falling).

    A datum's log-probability "keeps falling" when it decreases from the ray's point at norm
    ``escape_norm`` to ẑ, or from ẑ to 2ẑ: both are checked because a likelihood that clamps its
    probabilities (NumPyro's Bernoulli does, at 1 − 2⁻⁵²) is flat far out along the ray.
    """
    at_fit = log_likelihood(mc, fit.z, test, test_covariates)
    further = log_likelihood(mc, 2.0 * fit.z, test, test_covariates)
    near = log_likelihood(mc, fit.z * escape_norm / jnp.maximum(jnp.linalg.norm(fit.z), escape_norm),
                          test, test_covariates)
    tol = 1e-12 * jnp.abs(at_fit)
    falling = (further < at_fit - tol) | (at_fit < near - tol)
    limit = jnp.where(falling, -jnp.inf, further)
    return jnp.where(fit.escaped, limit, at_fit)


# ----------------------------------------------------------------------------------------- SGLD
def sgld(
    mc: ModelClass,
    data: Any,
    *,
    key: Array,
    num_samples: int = 400,
    num_burnin: int = 500,
    thin: int = 5,
    step_size: float = 0.2,
    batch_size: int = 32,
    start: Array | None = None,
    num_rows: int | None = None,
    **model_kwargs: Any,
) -> Array:
    """Preconditioned stochastic-gradient Langevin draws from w(z | data); returns (num_samples, d).

    z ← z + (ε/2) M ∇̂ log w(z | data) + √ε M^{1/2} ξ, with ∇̂ the minibatch gradient scaled by n/B and M
    the inverse diagonal of the posterior Hessian at ``start`` (the MAP by default), so that ε is in
    units of the posterior scale; only the first ``num_rows`` rows count when given. Written out here
    (a few lines) because BlackJAX's ``sgld`` takes no preconditioner and the unpreconditioned chain
    needs a per-model step size.
    """
    data = jnp.asarray(data)
    n = _num_rows(data) if num_rows is None else int(num_rows)
    rowwise, static = _row_split(data, model_kwargs)
    key_fit, key_run = jax.random.split(key)
    if start is None:
        start = erm(mc, data, key=key_fit, penalty="map", num_starts=1, num_rows=n, **model_kwargs).z
    runner = _sgld_runner(mc, _hashable(static), min(batch_size, _num_rows(data)), num_burnin,
                          num_samples, thin, float(step_size))
    return runner(start, key_run, data, rowwise, jnp.asarray(n))


@functools.lru_cache(maxsize=64)
def _sgld_runner(mc: ModelClass, static: tuple[tuple[str, Any], ...], batch: int, num_burnin: int,
                 num_samples: int, thin: int, step_size: float) -> Callable[..., Array]:
    static_cov = dict(static)

    def run(start: Array, key: Array, data: Array, rowwise: dict[str, Array], n: Array) -> Array:
        used = jnp.arange(data.shape[0]) < n

        def log_post(z: Array) -> Array:
            log_lik = mc.log_likelihood(z, data, **static_cov, **rowwise)
            return mc.log_prior(z) + jnp.sum(jnp.where(used, log_lik, 0.0))

        curvature = -jnp.diag(jax.hessian(log_post)(start))
        precond = 1.0 / jnp.where(curvature > 0, curvature, 1.0)
        batch_static = {k: (batch if isinstance(v, (int, np.integer)) else v) for k, v in static_cov.items()}

        def minibatch_grad(z: Array, index: Array) -> Array:
            cov = {**batch_static, **{k: v[index] for k, v in rowwise.items()}}

            def log_post_batch(z: Array) -> Array:
                return mc.log_prior(z) + (n / batch) * jnp.sum(mc.log_likelihood(z, data[index], **cov))

            return jax.grad(log_post_batch)(z)

        def step(z: Array, key_t: Array) -> tuple[Array, Array]:
            key_b, key_n = jax.random.split(key_t)
            # with replacement from the first n rows: unbiased for Σ_{i<n} ∇ log P_z(x_i), fixed shapes
            index = jax.random.randint(key_b, (batch,), 0, n)
            noise = jax.random.normal(key_n, z.shape)
            z = (z + 0.5 * step_size * precond * minibatch_grad(z, index)
                 + jnp.sqrt(step_size * precond) * noise)
            return z, z

        total = num_burnin + num_samples * thin
        _, path = jax.lax.scan(step, start, jax.random.split(key, total))
        return path[num_burnin::thin]

    return jax.jit(run)


# ----------------------------------------------------------------------------------------- losses
@functools.lru_cache(maxsize=128)
def _exact_mixture_fn(exact_log_marginal: ExactLogMarginal, train_static: tuple[tuple[str, Any], ...],
                      test_static: tuple[tuple[str, Any], ...]) -> Callable[..., Array]:
    """Compiled (train, train rows, test, test rows) -> log Q(test_j | train) for every test row j."""

    def log_prob(train: Array, train_rows: dict[str, Array], test: Array,
                 test_rows: dict[str, Array]) -> Array:
        train_cov = {**dict(train_static), **train_rows}
        log_q_train = exact_log_marginal(train, **train_cov) if train.shape[0] > 0 else 0.0

        def one(datum: Array, row_cov: Mapping[str, Array]) -> Array:
            single = {**{k: v[None] for k, v in row_cov.items()},
                      **{k: (1 if isinstance(v, (int, np.integer)) else v) for k, v in test_static}}
            data, cov = concat_rows((train, train_cov), (datum[None], single))
            return exact_log_marginal(data, **cov)

        return jax.vmap(one)(test, test_rows) - log_q_train

    return jax.jit(log_prob)


def _mixture_exact(exact_log_marginal: ExactLogMarginal, train: Any, test: Any,
                   train_covariates: Mapping[str, Any], test_covariates: Mapping[str, Any]) -> Array:
    """Log Q(test_j | train) = log Q(train ∪ {test_j}) − log Q(train), for every test row j."""
    train, test = jnp.asarray(train), jnp.asarray(test)
    train_rows, train_static = _row_split(train, train_covariates)
    test_rows, test_static = _row_split(test, test_covariates)
    fn = _exact_mixture_fn(exact_log_marginal, _hashable(train_static), _hashable(test_static))
    return fn(train, train_rows, test, test_rows)


@functools.lru_cache(maxsize=128)
def _mixture_fn(mc: ModelClass, static: tuple[tuple[str, Any], ...]) -> Callable[..., Array]:
    def log_prob(z: Array, log_weights: Array, test: Array, rows: dict[str, Array]) -> Array:
        cov = {**dict(static), **rows}
        log_lik = jax.vmap(lambda zs: mc.log_likelihood(zs, test, **cov))(z)
        return logsumexp(log_lik + (log_weights - logsumexp(log_weights))[:, None], axis=0)

    return jax.jit(log_prob)


def mixture_log_prob(mc: ModelClass, z: Array, test: Any, test_covariates: Mapping[str, Any],
                     log_weights: Array | None = None) -> Array:
    """Log Σ_s w_s P_{z_s}(test_j) for posterior draws z (S, d), weights uniform unless given."""
    test = jnp.asarray(test)
    rows, static = _row_split(test, test_covariates)
    log_weights = jnp.zeros(z.shape[0]) if log_weights is None else jnp.asarray(log_weights)
    return _mixture_fn(mc, _hashable(static))(z, log_weights, test, rows)


def predictive_log_loss(
    mc: ModelClass,
    predictor: str,
    train: Any,
    test: Any,
    *,
    key: Array,
    train_covariates: Mapping[str, Any] | None = None,
    test_covariates: Mapping[str, Any] | None = None,
    exact_log_marginal: ExactLogMarginal | None = None,
    posterior_z: Array | None = None,
    num_starts: int = 4,
    num_members: int = 5,
    fit_kwargs: Mapping[str, Any] | None = None,
    validate: bool = True,
    num_train: int | None = None,
) -> PredictiveLoss:
    """Log loss −log q(test_j | x_j; train) of one predictor, per test datum (nats).

    Parameters
    ----------
    mc
        The model class.
    predictor
        One of ``PREDICTORS``: "mixture", "plugin", "map", "sgld", "ensemble".
    train, test
        Observed-site values of the training and the new data.
    key
        JAX PRNG key (restarts, SGLD noise, NUTS).
    train_covariates, test_covariates
        The model's keyword arguments for each set.
    exact_log_marginal
        ``f(data, **covariates) -> log Q(data)``; makes "mixture" exact (e.g. ``zoo.log_mixture``).
    posterior_z
        Posterior draws (S, d) for a sampled "mixture"; drawn with ``bv.fit`` when absent.
    num_starts
        L-BFGS starts for "plugin" / "map".
    num_members
        Deep-ensemble members for "ensemble".
    fit_kwargs
        Extra keyword arguments for ``bv.fit`` (sampled mixture) or :func:`sgld`.
    validate
        Check both sets against the class (support, covariate rows); callers that already did may skip.
    num_train
        Use only the first ``num_train`` training rows (the optimizers and SGLD then compile once for
        every prefix of one data set).

    Returns
    -------
    PredictiveLoss
        ``log_loss`` (m,) with ``inf`` where the predictor gives probability 0, and their count.

    """
    train_covariates = dict(train_covariates or {})
    test_covariates = dict(test_covariates or {})
    if predictor not in PREDICTORS:
        raise ValueError(f"unknown predictor {predictor!r}; choose from {PREDICTORS}")
    n_train = _num_rows(train) if train is not None else 0
    if validate:
        check_data(mc, test, test_covariates)
        if n_train:
            check_data(mc, train, train_covariates)
    if num_train is not None:
        if not 0 <= num_train <= n_train:
            raise ValueError(f"num_train = {num_train} is larger than the {n_train} training rows")
        if predictor == "mixture" or num_train == 0:
            train, train_covariates = prefix_rows(train, train_covariates, num_train)
            n_train, num_train = num_train, None
    posterior = None
    if predictor == "mixture" and exact_log_marginal is not None:
        log_prob = _mixture_exact(exact_log_marginal, train if n_train else jnp.zeros((0,)), test,
                                  train_covariates, test_covariates)
    elif predictor == "mixture":
        if posterior_z is None:
            if not n_train:
                posterior_z = _prior_draws(mc)(jax.random.split(key, 2000))
            else:
                posterior = fit(mc, train, key=key, **dict(fit_kwargs or {}), **train_covariates)
                posterior_z = posterior.z
        log_prob = mixture_log_prob(mc, posterior_z, test, test_covariates)
    elif not n_train:
        raise ModelClassError(f"predictor {predictor!r} needs at least one training datum")
    elif predictor in ("plugin", "map"):
        fitted = erm(mc, train, key=key, penalty="none" if predictor == "plugin" else "map",
                     num_starts=num_starts, num_rows=num_train, **train_covariates)
        log_prob = _plugin_log_prob(mc, fitted, test, test_covariates)
    elif predictor == "sgld":
        draws = sgld(mc, train, key=key, num_rows=num_train, **dict(fit_kwargs or {}), **train_covariates)
        log_prob = mixture_log_prob(mc, draws, test, test_covariates)
    else:
        fitted = erm(mc, train, key=key, num_starts=num_members, num_rows=num_train, **train_covariates)
        log_prob = mixture_log_prob(mc, fitted.starts, test, test_covariates,
                                    log_weights=jnp.where(jnp.isfinite(fitted.objectives), 0.0, -jnp.inf))
    loss = -jnp.asarray(log_prob)
    return PredictiveLoss(loss, int(jnp.sum(jnp.isinf(loss))), predictor, posterior)
