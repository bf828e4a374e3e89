"""Empirical-risk minimizers named by how they are computed, for when the minimizers are not a point.

When n < d, or along a flat direction of the empirical risk, the ERMs form a set (an affine set of
interpolants for least squares), and "the ERM" is whichever one an algorithm returns. Two are offered as
predictors (registered in :mod:`bayesvol.regret.predictors`), beside ``"plugin"`` (the best of several
L-BFGS starts, whose spread ``erm_spread`` reports):

* ``"erm_min_norm"`` — the minimum-norm least-squares fit ẑ = argmin{‖z‖ : z minimizes Σ (y_i − η_i(z))²/σ_i²}
  for a class whose mean η is affine in z under a fixed-scale Normal likelihood (checked; other classes
  are refused), computed by an SVD of the (n × d) design in float64 (LAPACK least squares, rcond =
  max(n, d)·ε unless ``rcond`` is given), never by inverting an ill-conditioned Gram matrix.
* ``"erm_gd"`` — full-batch gradient descent on the empirical risk −(1/n) Σ log P_z(x_i) from a prior draw
  (``gd_init="prior"``) or z = 0 (``"zero"``), with an Armijo backtracking step (optax), stopped when the
  gradient norm is below ``gd_tol`` or after ``gd_max_steps``: the ERM a practitioner's gradient descent
  returns (from z = 0 on least squares, the minimum-norm ERM).

Where the ERMs are a set, how big a set is reported beside each ERM fit (``erm_flat_directions``,
:func:`flat_directions`): d − the numerical rank of the Jacobian J = ∂η/∂z of the training rows' outputs at
the fit (η the Normal mean, scaled by 1/σ, or the logits), singular values below rcond · s_max counting
as 0, rcond = max(rows, d)·ε₆₄ by default (NumPy's ``matrix_rank``). The empirical risk depends on z
only through η, so each null direction of J is flat to first order at the fit: the minimizers near it
form a set of that dimension. The L-BFGS starts' spread (``erm_spread``) cannot show it where no other
start reaches the same objective.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
import optax.tree_utils as otu

from bayesvol.errors import InputError
from bayesvol.model.covariates import Static, thaw
from bayesvol.model.model_class import Array, ModelClass
from bayesvol.regret.approx import option_value, positive_float_option, positive_int_option
from bayesvol.regret.erm import log_likelihood, prior_draws
from bayesvol.regret.outputs import (
    FLAT_FAMILIES,
    flat_directions,
    likelihood_family,
    observed_outputs,
    observed_site_at,
)
from bayesvol.regret.predictors import Prediction, register_predictor

__all__ = ["FLAT_FAMILIES", "NAMED_ERMS", "erm_gd_fit", "flat_directions", "min_norm_erm"]

#: The named empirical-risk minimizers this module registers.
NAMED_ERMS = ("erm_min_norm", "erm_gd")
@functools.lru_cache(maxsize=64)
def _design_fn(mc: ModelClass, static: Static) -> Callable[..., tuple[Array, ...]]:
    """Compiled (data, rows) -> mean, Jacobian and scale of the Normal outputs at z = 0 and at a probe."""

    def design(data: Array, rows: Mapping[str, Array]) -> tuple[Array, ...]:
        cov = {**thaw(static), **rows}

        def mean(z: Array) -> Array:
            return jnp.broadcast_to(observed_outputs(mc, "normal", z, cov)[0], data.shape).reshape(-1)

        def scale(z: Array) -> Array:
            return jnp.broadcast_to(observed_outputs(mc, "normal", z, cov)[1], data.shape).reshape(-1)

        zero = jnp.zeros(mc.dim)
        probe = jax.random.normal(jax.random.PRNGKey(0), (mc.dim,))
        return (mean(zero), jax.jacrev(mean)(zero), mean(probe), jax.jacrev(mean)(probe), scale(zero),
                scale(probe), probe)

    return jax.jit(design)


def _affine_design(mc: ModelClass, data: Array, covariates: Mapping[str, Any]
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(J, offset, σ) with η(z) = offset + J z on the rows of ``data`` (fixed-scale Normal); or InputError."""
    family = likelihood_family(observed_site_at(mc, jnp.zeros(mc.dim), covariates)["fn"])
    if family != "normal":
        raise InputError(f"erm_min_norm needs a least-squares class (a Normal likelihood with its mean "
                         f"linear in the parameters); the observed site {mc.observed_site!r} is {family}")
    rows, static = mc.row_layout.split(covariates)
    offset, jac, at_probe, jac_probe, scale, scale_probe, probe = _design_fn(mc, static)(data, rows)
    atol = 1e-9 * (1 + jnp.max(jnp.abs(offset)))
    linear = jnp.allclose(at_probe, offset + jac @ probe, rtol=1e-9, atol=atol)
    linear &= jnp.allclose(jac_probe, jac, rtol=1e-9, atol=1e-12)
    if not bool(linear):
        raise InputError(f"erm_min_norm needs a class whose mean is linear in the parameters z (checked at "
                         f"two random points); the mean of {mc.observed_site!r} is not, so its ERMs have no "
                         f"minimum-norm closed form: use 'erm_gd' or 'plugin'")
    if not bool(jnp.all(scale_probe == scale)):
        raise InputError(f"erm_min_norm needs a fixed Normal scale; the scale of {mc.observed_site!r} "
                         f"depends on the parameters")
    return np.asarray(jac, np.float64), np.asarray(offset, np.float64), np.asarray(scale, np.float64)


def min_norm_erm(mc: ModelClass, data: Any, covariates: Mapping[str, Any], *, rcond: float | None = None,
                 num_rows: int | None = None) -> tuple[Array, int]:
    """The minimum-norm least-squares ERM ẑ and the numerical rank of the scaled design (float64 SVD).

    ẑ = argmin{‖z‖ : z minimizes Σ_{i<n} (y_i − η_i(z))² / σ_i²}, η affine in z (checked), by
    LAPACK's SVD least squares (``numpy.linalg.lstsq`` on the host: the cut design has a new shape for
    every n, which ``jnp.linalg.lstsq`` would compile anew) of the design A itself, never a pseudo-inverse
    of the Gram AᵀA, whose condition number is squared; singular values below ``rcond``·s_max count as 0,
    default max(n, d)·ε₆₄ (NumPy's).
    Only the first ``num_rows`` rows count when given. Raises InputError for any other class.
    """
    if rcond is not None and not 0 <= float(rcond) < 1:
        raise InputError(f"rcond must lie in [0, 1), got {rcond!r}")
    data = jnp.asarray(data, dtype=jnp.float64)
    covariates = dict(covariates)
    rows = int(data.shape[0]) if num_rows is None else int(num_rows)
    if not 1 <= rows <= int(data.shape[0]):
        raise InputError(f"num_rows = {rows} must lie in [1, {int(data.shape[0])}] (the rows of data)")
    jac, offset, scale = _affine_design(mc, data, covariates)
    cut = rows * (int(offset.shape[0]) // int(data.shape[0]))  # outputs of the first rows (rows first)
    a = jac[:cut] / scale[:cut, None]
    b = (np.asarray(data, np.float64).reshape(-1)[:cut] - offset[:cut]) / scale[:cut]
    if rcond is None:
        rcond = max(a.shape) * float(np.finfo(np.float64).eps)
    z, _, rank, _ = np.linalg.lstsq(a, b, rcond=float(rcond))
    return jnp.asarray(z), int(rank)


def _erm_min_norm(mc: ModelClass, train: Array, train_covariates: Mapping[str, Any], test: Array,
                  test_covariates: Mapping[str, Any], *, key: Array, num_train: int,
                  options: Mapping[str, Any]) -> Prediction:
    """Plug-in at the minimum-norm ERM (least-squares classes only); its Jacobian rows are the cost."""
    rcond = options.get("rcond")
    # the design of every training row (one compilation for every n), cut to the first num_train rows
    z, rank = min_norm_erm(mc, train, train_covariates, rcond=rcond, num_rows=num_train)
    k = int(np.prod(jnp.shape(train))) // max(int(jnp.shape(train)[0]), 1)
    return Prediction(log_likelihood(mc, z, test, test_covariates), gradient_evaluations=num_train * k,
                      erm_spread=0.0, erm_flat_directions=mc.dim - rank)


@functools.lru_cache(maxsize=64)
def _gd_solver(mc: ModelClass, static: Static, tol: float, max_steps: int
               ) -> Callable[..., tuple[Array, Array, Array, Array]]:
    static_cov = thaw(static)
    # GD with an Armijo backtracking step (optax's line search); the guess grows ×2 after each step
    optimizer = optax.chain(optax.sgd(learning_rate=1.0), optax.scale_by_backtracking_linesearch(
        max_backtracking_steps=40, increase_factor=2.0, store_grad=True))

    def solve(z0: Array, data: Array, rowwise: dict[str, Array], n: Array
              ) -> tuple[Array, Array, Array, Array]:
        used = jnp.arange(data.shape[0]) < n

        def objective(z: Array) -> Array:
            log_lik = mc.log_likelihood(z, data, covariates={**static_cov, **rowwise})
            return -jnp.sum(jnp.where(used, log_lik, 0.0)) / n

        value_and_grad = optax.value_and_grad_from_state(objective)

        def step(carry: tuple[Array, Any, Array, Array]) -> tuple[Array, Any, Array, Array]:
            z, state, count, evaluations = carry
            value, grad = value_and_grad(z, state=state)
            updates, state = optimizer.update(grad, state, z, value=value, grad=grad, value_fn=objective)
            trials = otu.tree_get(state, "num_linesearch_steps")
            return optax.apply_updates(z, updates), state, count + 1, evaluations + trials

        def keep_going(carry: tuple[Array, Any, Array, Array]) -> Array:
            _, state, count, _ = carry
            grad = otu.tree_get(state, "grad")
            return (count == 0) | ((count < max_steps) & (otu.tree_norm(grad) >= tol))

        init = (z0, optimizer.init(z0), jnp.asarray(0), jnp.asarray(0))
        z, state, count, evaluations = jax.lax.while_loop(keep_going, step, init)
        return z, count, otu.tree_norm(otu.tree_get(state, "grad")), evaluations

    return jax.jit(solve)


def erm_gd_fit(mc: ModelClass, data: Any, covariates: Mapping[str, Any], z0: Array, *, num_rows: int,
               tol: float = 1e-6, max_steps: int = 20000) -> tuple[Array, int, float, int]:
    """Gradient descent on −(1/n) Σ_{i<n} log P_z(x_i) from z0: (ẑ, steps, final gradient norm, evaluations).

    Stops when ‖∇‖ < ``tol`` or after ``max_steps`` steps; ``evaluations`` counts every function and
    gradient evaluation of the line search (each costs n per-datum gradients).
    """
    rowwise, static = mc.row_layout.split(covariates)
    solver = _gd_solver(mc, static, float(tol), int(max_steps))
    z, steps, norm, evaluations = solver(jnp.asarray(z0), jnp.asarray(data), rowwise, jnp.asarray(num_rows))
    return z, int(steps), float(norm), int(steps) + int(evaluations)


def _erm_gd(mc: ModelClass, train: Array, train_covariates: Mapping[str, Any], test: Array,
            test_covariates: Mapping[str, Any], *, key: Array, num_train: int,
            options: Mapping[str, Any]) -> Prediction:
    """Plug-in at the ERM gradient descent reaches from the prior's initialization (or z = 0)."""
    init = option_value(options, "gd_init", "prior")
    if init not in ("prior", "zero"):
        raise InputError(f"option gd_init must be 'prior' or 'zero', got {init!r}")
    z0 = jnp.zeros(mc.dim) if init == "zero" else prior_draws(mc, key, 1)[0]
    z, _, _, evaluations = erm_gd_fit(mc, train, train_covariates, z0, num_rows=num_train,
                                      tol=positive_float_option(options, "gd_tol", 1e-6),
                                      max_steps=positive_int_option(options, "gd_max_steps", 20000))
    return Prediction(log_likelihood(mc, z, test, test_covariates),
                      gradient_evaluations=evaluations * num_train,
                      erm_flat_directions=flat_directions(mc, z, train, train_covariates, num_rows=num_train))


register_predictor("erm_min_norm", _erm_min_norm)
register_predictor("erm_gd", _erm_gd)
