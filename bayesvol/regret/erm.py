"""Empirical-risk fits: maximum likelihood (ERM) and MAP by L-BFGS, and the plug-in's log-probabilities.

ẑ = argmin_z −(1/n) Σ_i log P_z(x_i) (+ −log w(z)/n for MAP), in the flat unconstrained coordinates z,
from several starts. A plug-in can assign probability 0 to an observed outcome: when the likelihood's
supremum is not attained (the optimizer runs off to infinity in z, e.g. a Bernoulli sample of only
zeros), θ̂ is the limit along the ray t·ẑ, t → ∞, and a datum whose log-probability keeps falling along
that ray has log-probability −∞ (:func:`plugin_log_prob`); never clipped.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax
import optax.tree_utils as otu

from bayesvol.errors import InputError, as_key, check_counts
from bayesvol.model.covariates import Static, thaw
from bayesvol.model.covariates import num_rows as _num_rows
from bayesvol.model.model_class import Array, ModelClass, prior_sample

__all__ = [
    "ErmFit",
    "erm",
    "log_likelihood",
    "plugin_log_prob",
    "prior_draws",
]


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


@functools.lru_cache(maxsize=32)
def _prior_draws(mc: ModelClass) -> Callable[[Array], Array]:
    """Compiled keys (K, 2) -> K prior draws as flat z (K, d)."""
    return jax.jit(jax.vmap(lambda k: mc.flatten(prior_sample(mc, k))))


def prior_draws(mc: ModelClass, key: Array, num: int) -> Array:
    """``num`` independent draws z ~ w from the prior, flat unconstrained (num, d); one key per draw."""
    check_counts(num=num)
    return _prior_draws(mc)(jax.random.split(as_key(key), num))


@functools.lru_cache(maxsize=128)
def _log_lik_fn(mc: ModelClass, static: Static) -> Callable[..., Array]:
    return jax.jit(lambda z, data, rows: mc.log_likelihood(z, data, covariates={**thaw(static), **rows}))


def log_likelihood(mc: ModelClass, z: Array, data: Any, covariates: Mapping[str, Any]) -> Array:
    """Per-datum log P_z(data_i | covariates_i) (nats), compiled once per class and covariate layout."""
    rows, static = mc.row_layout.split(covariates)
    return _log_lik_fn(mc, static)(jnp.asarray(z), jnp.asarray(data), rows)


@functools.lru_cache(maxsize=128)
def _erm_solver(mc: ModelClass, penalty: str, maxiter: int, tol: float,
                static: Static) -> Callable[..., tuple[Array, Array, Array, Array]]:
    """Compiled (z0 (K, d), data, rows, rows used m) -> (solutions, objectives, at 2z, iterations)."""

    def solve(z0: Array, data: Array, rowwise: dict[str, Array], m: Array
              ) -> tuple[Array, Array, Array, Array]:
        covariates = {**thaw(static), **rowwise}
        used = jnp.arange(data.shape[0]) < m

        def objective(z: Array) -> Array:
            value = -jnp.sum(jnp.where(used, mc.log_likelihood(z, data, covariates=covariates), 0.0))
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
    covariates: Mapping[str, Any] | None = None,
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
        raise InputError(f"penalty must be 'none' or 'map', got {penalty!r}")
    key = as_key(key)
    check_counts(num_starts=num_starts, maxiter=maxiter)
    data, carried = mc.data_value(data)
    data = jnp.asarray(data)
    model_kwargs = mc.resolve_covariates(covariates, {**carried, **model_kwargs}, data=data)
    rowwise, static = mc.row_layout.split(model_kwargs)
    starts = [jnp.zeros((1, mc.dim))]
    if num_starts > 1:
        starts.append(_prior_draws(mc)(jax.random.split(key, num_starts - 1)))
    solver = _erm_solver(mc, penalty, maxiter, tol, static)
    m = _num_rows(data) if num_rows is None else int(num_rows)
    if not 1 <= m <= _num_rows(data):
        raise InputError(f"num_rows = {m} must lie in [1, {_num_rows(data)}] (the rows of data)")
    solutions, values, doubled, iterations = solver(jnp.concatenate(starts), data, rowwise, jnp.asarray(m))
    best = jnp.argmin(values)
    z = solutions[best]
    escaped = (jnp.linalg.norm(z) > escape_norm) & (doubled[best] <= values[best])
    return ErmFit(z, values[best], escaped, solutions, values, iterations)


def plugin_log_prob(mc: ModelClass, fit: ErmFit, test: Any, test_covariates: Mapping[str, Any],
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
