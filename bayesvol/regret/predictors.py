"""Predictors of new data given training data, through one registry, scored by the same log loss (nats).

For training data S = (x_i, y_i)_{i≤n} and a new datum (x, y), each predictor gives log q(y | x; S):

* ``"mixture"`` — the Bayes posterior predictive Q_s(y | x; S) = ∫ w(θ | S) P_θ(y | x) dθ. Exact when an
  exact log-marginal ``log Q(data, **covariates)`` is supplied (conjugate classes):
  log Q(y | x; S) = log Q(S ∪ {(x, y)}) − log Q(S); otherwise a posterior sample average,
  log Q ≈ logsumexp_s log P_{θ_s}(y | x) − log S, over NUTS draws (``bv.fit``).
* ``"plugin"`` — P_θ̂ with θ̂ the maximum-likelihood (ERM) fit that is best of ``num_starts`` L-BFGS starts
  (z = 0 and prior draws); where the minimizers are not a point (n < d, a flat direction) this is one
  interpolant among many, and ``erm_spread`` says how far apart the starts' equally good fits lie.
  ``"map"`` — θ̂ the posterior mode (:mod:`bayesvol.regret.erm`; an escaped fit gives −∞ where the
  limit does). The other named ERMs (``erm_min_norm``, ``erm_gd``) and the approximate mixtures
  (``laplace_ggn``, ``sgd_ensemble``) are in :mod:`bayesvol.regret.approx`.
* ``"sgld"`` — stochastic-gradient Langevin draws used as a mixture (:mod:`bayesvol.regret.sgld`);
  ``"ensemble"`` — a deep ensemble of ERM fits from random starts used as an equal-weight mixture.

Every predictor is a function with one signature, :data:`Predictor`, registered by name with
:func:`register_predictor`; :func:`predictive_log_loss` validates the data and dispatches by name.
Losses of +∞ (probability 0) are returned as ``inf`` and counted (``num_infinite``), never clipped.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, KeysView, Mapping
from typing import Any, NamedTuple, Protocol

import jax
import jax.numpy as jnp
from jax.scipy.special import logsumexp

from bayesvol.errors import InputError, as_key, check_counts
from bayesvol.inference.fit import Posterior, fit, prepare_data
from bayesvol.model.covariates import Static, thaw
from bayesvol.model.covariates import num_rows as _num_rows
from bayesvol.model.model_class import Array, ModelClass, ModelClassError
from bayesvol.regret.erm import ErmFit, erm, log_likelihood, plugin_log_prob, prior_draws
from bayesvol.regret.outputs import flat_directions
from bayesvol.regret.sgld import curvature_gradients, sgld

__all__ = [
    "PREDICTORS",
    "ErmFit",
    "Prediction",
    "PredictiveLoss",
    "Predictor",
    "erm",
    "erm_spread",
    "exact_log_q",
    "lbfgs_gradients",
    "log_likelihood",
    "mixture_log_prob",
    "predictive_log_loss",
    "register_predictor",
    "sgld",
]

ExactLogMarginal = Callable[..., Array]


class Prediction(NamedTuple):
    """What a predictor may return instead of a bare array: log q per test row and what it cost.

    ``posterior`` is the NUTS fit behind a sampled mixture; ``gradient_evaluations`` the number of
    per-datum gradients ∇_z log P_z(x_i) the predictor took (training and test rows; a Hessian-vector
    product counts 2, the prior's gradient is not counted; None where not counted); ``erm_spread`` the
    largest distance ‖ẑ_k − ẑ‖ (z units) between the best fit and another start whose objective is as
    good (within 1e-6 relative): > 0 when the empirical-risk minimizers are not a point;
    ``erm_flat_directions`` d − the numerical rank of the training outputs' Jacobian at an ERM fit
    (:func:`bayesvol.regret.outputs.flat_directions`): > 0 when the minimizers are a set of that
    dimension near the fit, which the spread misses where no other start reaches the same objective.
    """

    log_prob: Array
    posterior: Posterior | None = None
    gradient_evaluations: int | None = None
    erm_spread: float | None = None
    erm_flat_directions: int | None = None


class Predictor(Protocol):
    """``predict(mc, train, train_covariates, test, test_covariates, *, key, num_train, options)``.

    Returns log q(test_j | x_j; the first ``num_train`` rows of train) for every test row j, shape (m,)
    (−inf where q = 0), or a :class:`Prediction` that also carries the sampler fit it used. ``train``
    and ``test`` are validated data arrays, the covariates resolved mappings; ``options`` holds
    ``exact_log_marginal``, ``posterior_z``, ``num_starts``, ``num_members``, ``fit_kwargs`` and any user
    options.
    """

    def __call__(self, mc: ModelClass, train: Array, train_covariates: Mapping[str, Any], test: Array,
                 test_covariates: Mapping[str, Any], *, key: Array, num_train: int,
                 options: Mapping[str, Any]) -> Array | Prediction:
        """Log q(test_j | x_j; train[:num_train]) for every test row j (nats, −inf where q = 0)."""
        ...


class _Entry(NamedTuple):
    predict: Predictor
    needs_train: bool


_REGISTRY: dict[str, _Entry] = {}
#: The registered predictors' names (a live view: names registered later appear here).
PREDICTORS: KeysView[str] = _REGISTRY.keys()


def register_predictor(name: str, predict: Predictor, *, needs_train: bool = True,
                       replace: bool = False) -> None:
    """Register ``predict`` (signature :class:`Predictor`) under ``name`` for :func:`predictive_log_loss`.

    With ``needs_train`` (the default) it is refused for zero training rows before it is called.
    """
    if not isinstance(name, str) or not name:
        raise InputError(f"predictor name must be a non-empty string, got {name!r}")
    if not callable(predict):
        raise InputError(f"predictor {name!r} must be callable, got {type(predict).__name__}")
    if name in _REGISTRY and not replace:
        raise InputError(f"predictor {name!r} is already registered (pass replace=True to replace it)")
    _REGISTRY[name] = _Entry(predict, bool(needs_train))


class PredictiveLoss(NamedTuple):
    """Per-datum log loss −log q(y_j | x_j; S) of a predictor (nats); ``inf`` where q = 0.

    ``posterior`` is the NUTS fit behind a sampled "mixture" (its R-hat, ESS, divergences), else None;
    ``gradient_evaluations``, ``erm_spread`` and ``erm_flat_directions`` as in :class:`Prediction`;
    ``code_length`` ± ``stderr`` the mean over the test rows.
    """

    log_loss: Array
    num_infinite: int
    predictor: str
    posterior: Posterior | None = None
    gradient_evaluations: int | None = None
    erm_spread: float | None = None
    erm_flat_directions: int | None = None

    @property
    def code_length(self) -> float:
        """Mean code length −(1/m) Σ_j log q(y_j | x_j; S) over the test rows (nats per datum)."""
        return float(jnp.mean(self.log_loss))

    @property
    def stderr(self) -> float:
        """Standard error of :attr:`code_length` over the test rows (NaN for one row or an infinite loss)."""
        loss = jnp.asarray(self.log_loss)
        if loss.size < 2 or not bool(jnp.all(jnp.isfinite(loss))):
            return float("nan")
        return float(jnp.std(loss, ddof=1) / jnp.sqrt(loss.size))


@functools.lru_cache(maxsize=128)
def _exact_fn(exact_log_marginal: ExactLogMarginal, static: Static) -> Callable[..., Array]:
    return jax.jit(lambda data, rows: exact_log_marginal(data, **thaw(static), **rows))


def exact_log_q(mc: ModelClass, exact_log_marginal: ExactLogMarginal, data: Any,
                covariates: Mapping[str, Any]) -> Array:
    """``exact_log_marginal(data, **covariates)``, compiled once per covariate layout and data shape."""
    rows, static = mc.row_layout.split(covariates)
    return _exact_fn(exact_log_marginal, static)(jnp.asarray(data), rows)


@functools.lru_cache(maxsize=128)
def _exact_mixture_fn(mc: ModelClass, exact_log_marginal: ExactLogMarginal, train_static: Static,
                      test_static: Static) -> Callable[..., Array]:
    """Compiled (train, train rows, test, test rows) -> log Q(test_j | train) for every test row j."""

    def log_prob(train: Array, train_rows: dict[str, Array], test: Array,
                 test_rows: dict[str, Array]) -> Array:
        layout = mc.row_layout
        train_cov = {**thaw(train_static), **train_rows}
        log_q_train = exact_log_marginal(train, **train_cov) if train.shape[0] > 0 else 0.0

        def one(datum: Array, row_cov: Mapping[str, Array]) -> Array:
            single = {**{k: v[None] for k, v in row_cov.items()}, **layout.single(thaw(test_static))}
            data, cov = layout.concat((train, train_cov), (datum[None], single))
            return exact_log_marginal(data, **cov)

        return jax.vmap(one)(test, test_rows) - log_q_train

    return jax.jit(log_prob)


@functools.lru_cache(maxsize=128)
def _mixture_fn(mc: ModelClass, static: Static) -> Callable[..., Array]:
    def log_prob(z: Array, log_weights: Array, test: Array, rows: dict[str, Array]) -> Array:
        cov = {**thaw(static), **rows}
        log_lik = jax.vmap(lambda zs: mc.log_likelihood(zs, test, covariates=cov))(z)
        return logsumexp(log_lik + (log_weights - logsumexp(log_weights))[:, None], axis=0)

    return jax.jit(log_prob)


def mixture_log_prob(mc: ModelClass, z: Array, test: Any, test_covariates: Mapping[str, Any],
                     log_weights: Array | None = None) -> Array:
    """Log Σ_s w_s P_{z_s}(test_j) for posterior draws z (S, d), weights uniform unless given."""
    test = jnp.asarray(test)
    rows, static = mc.row_layout.split(test_covariates)
    log_weights = jnp.zeros(z.shape[0]) if log_weights is None else jnp.asarray(log_weights)
    return _mixture_fn(mc, static)(z, log_weights, test, rows)


# ----------------------------------------------------------------------------------------- predictors
def _mixture(mc: ModelClass, train: Array, train_covariates: Mapping[str, Any], test: Array,
             test_covariates: Mapping[str, Any], *, key: Array, num_train: int,
             options: Mapping[str, Any]) -> Array:
    """Bayes mixture: exact log Q(S ∪ {x_j}) − log Q(S), else a mean over posterior (or prior) draws."""
    if train is not None:
        train, train_covariates = mc.row_layout.prefix(train, train_covariates, num_train)
    exact_log_marginal = options.get("exact_log_marginal")
    if exact_log_marginal is not None:
        train_rows, train_static = mc.row_layout.split(train_covariates)
        test_rows, test_static = mc.row_layout.split(test_covariates)
        fn = _exact_mixture_fn(mc, exact_log_marginal, train_static, test_static)
        return fn(jnp.asarray(train) if num_train else jnp.zeros((0,)), train_rows, jnp.asarray(test),
                  test_rows)
    posterior_z, posterior = options.get("posterior_z"), None
    if posterior_z is None:
        if not num_train:
            posterior_z = prior_draws(mc, key, 2000)
        else:
            posterior = fit(mc, train, key=key, **dict(options.get("fit_kwargs") or {}),
                            covariates=train_covariates)
            posterior_z = posterior.z
    return Prediction(mixture_log_prob(mc, posterior_z, test, test_covariates), posterior)


def lbfgs_gradients(fitted: ErmFit, num_train: int) -> int:
    """Per-datum gradients of an L-BFGS fit: one full-data gradient per iteration, summed over the starts.

    A lower bound: backtracking steps beyond the first trial of a line search are not counted.
    """
    return int(jnp.sum(fitted.iterations)) * int(num_train)


def erm_spread(fitted: ErmFit, rtol: float = 1e-6) -> float:
    """Largest ‖ẑ_k − ẑ‖ over the starts k whose objective is within ``rtol`` (relative) of the best."""
    best = fitted.objectives[jnp.argmin(fitted.objectives)]
    good = fitted.objectives <= best + rtol * jnp.maximum(1.0, jnp.abs(best))
    dist = jnp.linalg.norm(fitted.starts - fitted.z, axis=1)
    return float(jnp.max(jnp.where(good, dist, 0.0)))


def _erm_fit(mc: ModelClass, train: Array, train_covariates: Mapping[str, Any], key: Array,
             num_train: int, penalty: str, num_starts: int) -> ErmFit:
    return erm(mc, train, key=key, penalty=penalty, num_starts=num_starts, num_rows=num_train,
               covariates=train_covariates)


def _plugin(mc: ModelClass, train: Array, train_covariates: Mapping[str, Any], test: Array,
            test_covariates: Mapping[str, Any], *, key: Array, num_train: int,
            options: Mapping[str, Any]) -> Array:
    """Plug-in P_θ̂, θ̂ the best L-BFGS start's ML fit (its limit along the escape ray when not attained)."""
    fitted = _erm_fit(mc, train, train_covariates, key, num_train, "none", options["num_starts"])
    flat = None if bool(fitted.escaped) else flat_directions(mc, fitted.z, train, train_covariates,
                                                             num_rows=num_train)
    return Prediction(plugin_log_prob(mc, fitted, test, test_covariates),
                      gradient_evaluations=lbfgs_gradients(fitted, num_train), erm_spread=erm_spread(fitted),
                      erm_flat_directions=flat)


def _map(mc: ModelClass, train: Array, train_covariates: Mapping[str, Any], test: Array,
         test_covariates: Mapping[str, Any], *, key: Array, num_train: int,
         options: Mapping[str, Any]) -> Array:
    """Plug-in P_θ̂ with θ̂ the posterior mode (MAP) in the unconstrained coordinates z."""
    fitted = _erm_fit(mc, train, train_covariates, key, num_train, "map", options["num_starts"])
    return Prediction(plugin_log_prob(mc, fitted, test, test_covariates),
                      gradient_evaluations=lbfgs_gradients(fitted, num_train))


def _sgld(mc: ModelClass, train: Array, train_covariates: Mapping[str, Any], test: Array,
          test_covariates: Mapping[str, Any], *, key: Array, num_train: int,
          options: Mapping[str, Any]) -> Array:
    """Mean of P_{z_s}(test_j) over SGLD draws z_s, started at the MAP.

    The MAP: ``map_starts`` L-BFGS starts (default 1: z = 0; a tanh network needs 2, z = 0 is a stationary
    point there), at most ``map_maxiter`` iterations each (default 500). Cost: the MAP's L-BFGS gradients,
    the diagonal preconditioner and λ_max (:func:`~bayesvol.regret.sgld.curvature_gradients`) and one
    minibatch of B per-datum gradients per step (burn-in + samples × thin).
    """
    kwargs = dict(options.get("fit_kwargs") or {})
    map_starts = 1 if options.get("map_starts") is None else options["map_starts"]
    map_maxiter = 500 if options.get("map_maxiter") is None else options["map_maxiter"]
    check_counts(map_starts=map_starts, map_maxiter=map_maxiter)
    key_fit, key_run = jax.random.split(key)
    start = erm(mc, train, key=key_fit, penalty="map", num_starts=map_starts, num_rows=num_train,
                maxiter=map_maxiter, covariates=train_covariates)
    draws = sgld(mc, train, key=key_run, num_rows=num_train, start=start.z, **kwargs,
                 covariates=train_covariates)
    batch = min(int(kwargs.get("batch_size", 32)), _num_rows(train))
    steps = int(kwargs.get("num_burnin", 500)) + draws.shape[0] * int(kwargs.get("thin", 5))
    cost = (lbfgs_gradients(start, num_train) + curvature_gradients(mc, num_train, start.z, train_covariates)
            + steps * batch)
    return Prediction(mixture_log_prob(mc, draws, test, test_covariates), gradient_evaluations=cost)


def _ensemble(mc: ModelClass, train: Array, train_covariates: Mapping[str, Any], test: Array,
              test_covariates: Mapping[str, Any], *, key: Array, num_train: int,
              options: Mapping[str, Any]) -> Array:
    """Equal-weight mixture of the ERM fits from ``num_members`` starts (failed fits get weight 0)."""
    fitted = _erm_fit(mc, train, train_covariates, key, num_train, "none", options["num_members"])
    return Prediction(mixture_log_prob(mc, fitted.starts, test, test_covariates,
                                       log_weights=jnp.where(jnp.isfinite(fitted.objectives), 0.0, -jnp.inf)),
                      gradient_evaluations=lbfgs_gradients(fitted, num_train))


register_predictor("mixture", _mixture, needs_train=False)
register_predictor("plugin", _plugin)
register_predictor("map", _map)
register_predictor("sgld", _sgld)
register_predictor("ensemble", _ensemble)


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
    options: Mapping[str, Any] | None = None,
) -> PredictiveLoss:
    """Log loss −log q(test_j | x_j; train) of one predictor, per test datum (nats).

    Parameters
    ----------
    mc
        The model class.
    predictor
        A name in ``PREDICTORS``: "mixture", "plugin", "map", "sgld", "ensemble", "laplace_ggn",
        "sgd_ensemble", "erm_min_norm", "erm_gd", "quadrature" (:mod:`bayesvol.regret.approx`), or one
        added with :func:`register_predictor`.
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
    options
        Further options handed to the predictor (for registered user predictors).

    Returns
    -------
    PredictiveLoss
        ``log_loss`` (m,) with ``inf`` where the predictor gives probability 0, and their count.

    """
    entry = _REGISTRY.get(predictor) if isinstance(predictor, str) else None
    if entry is None:
        raise InputError(f"unknown predictor {predictor!r}; choose from {tuple(PREDICTORS)}")
    key = as_key(key)
    if validate:
        test, test_covariates = prepare_data(mc, test, test_covariates, {})
        if train is not None:
            train, train_covariates = prepare_data(mc, train, train_covariates, {})
    train_covariates = dict(train_covariates or {})
    test_covariates = dict(test_covariates or {})
    n_train = _num_rows(train) if train is not None else 0
    if num_train is None:
        num_train = n_train
    elif not 0 <= num_train <= n_train:
        raise InputError(f"num_train = {num_train} is larger than the {n_train} training rows")
    if num_train == 0 and entry.needs_train:
        raise ModelClassError(f"predictor {predictor!r} needs at least one training datum")
    all_options = {"exact_log_marginal": exact_log_marginal, "posterior_z": posterior_z,
                   "num_starts": num_starts, "num_members": num_members, "fit_kwargs": fit_kwargs,
                   **dict(options or {})}
    out = entry.predict(mc, train, train_covariates, test, test_covariates, key=key,
                        num_train=int(num_train), options=all_options)
    prediction = out if isinstance(out, Prediction) else Prediction(out)
    loss = -jnp.asarray(prediction.log_prob)
    return PredictiveLoss(loss, int(jnp.sum(jnp.isinf(loss))), predictor, prediction.posterior,
                          prediction.gradient_evaluations, prediction.erm_spread,
                          prediction.erm_flat_directions)
