"""Approximate Bayes mixtures for large d, and a quadrature reference for small d.

Each is a predictor of :mod:`bayesvol.regret.predictors` (one :class:`~bayesvol.regret.predictors.Predictor`
signature, registered by name) returning log q(y_j | x_j; S) per test row with its cost in per-datum
gradient evaluations (``Prediction.gradient_evaluations``):

* ``"laplace_ggn"`` — the linearized Laplace predictive at the MAP ẑ: z ~ N(ẑ, Σ), Σ⁻¹ = −∇² log w(ẑ) +
  n·GGN(ẑ), the GGN from :func:`bayesvol.curvature.fisher.fisher_spectrum` (dense / Gram / Lanczos) in
  prior-whitened coordinates, keeping its top ``rank`` eigenpairs (the other directions stay at the prior:
  low rank + prior). The network's outputs η(x; z) are linearized at ẑ, η ≈ η̂ + J(z − ẑ). A Normal
  likelihood with a fixed scale gives the closed form N(y; η̂, σ² + J Σ Jᵀ) — for a linear-Gaussian class
  the exact Bayes mixture; Bernoulli and categorical likelihoods average p(y | logits) over ``num_mc``
  draws of the linearized logits (Monte Carlo); other likelihoods are refused. The MAP is erm's L-BFGS from
  ``num_starts`` starts, at most ``map_maxiter`` iterations each (default 500).
* ``"sgd_ensemble"`` — the practitioner's recipe: ``num_members`` Adam runs (optax) on minibatches of the
  penalized empirical risk −(1/n)[Σ log P_z(x_i) + log w(z)] (the prior as weight decay) from prior draws,
  each stopped when the full-data gradient norm falls below ``sgd_tol`` (checked every ``sgd_check``
  steps) or after ``sgd_max_steps``; an equal-weight mixture of the members.
* ``"quadrature"`` — the exact Bayes mixture of a class with d ≤ 2 by a tensor grid of ``grid_points``
  per axis over ±``grid_width`` Laplace standard deviations around the MAP (a reference, no gradients).

The named empirical-risk minimizers (``erm_min_norm``, ``erm_gd``) are in
:mod:`bayesvol.regret.named_erm`, which shares the helpers below on the observed site's outputs. The
Gaussian/linearized algebra is written here rather than taken from laplace-torch-style libraries: none
exists for JAX/NumPyro models, and the curvature already comes from :mod:`bayesvol.curvature.fisher`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.scipy.special import logsumexp

from bayesvol.curvature.fisher import fisher_spectrum
from bayesvol.errors import InputError
from bayesvol.model.covariates import Static, thaw
from bayesvol.model.model_class import Array, ModelClass
from bayesvol.regret.erm import ErmFit, erm, prior_draws
from bayesvol.regret.outputs import (
    likelihood_family,
    observed_outputs,
    observed_site_at,
    per_datum_log_prob,
)
from bayesvol.regret.predictors import (
    Prediction,
    lbfgs_gradients,
    mixture_log_prob,
    register_predictor,
)
from bayesvol.volume.laplace import prior_gaussian

__all__ = [
    "APPROXIMATE_MIXTURES",
    "BUDGET_OPTIONS",
    "likelihood_family",
    "observed_outputs",
    "observed_site_at",
    "option_value",
    "per_datum_log_prob",
    "positive_float_option",
    "positive_int_option",
]

#: The approximate mixtures this module registers, with the option that sets each one's budget.
APPROXIMATE_MIXTURES = {"laplace_ggn": "rank", "sgd_ensemble": "num_members"}


def option_value(options: Mapping[str, Any], name: str, default: Any) -> Any:
    """``options[name]``, or ``default`` when absent or None."""
    value = options.get(name)
    return default if value is None else value


def positive_int_option(options: Mapping[str, Any], name: str, default: int) -> int:
    """A predictor option that must be a positive integer (InputError naming it otherwise)."""
    value = option_value(options, name, default)
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
        raise InputError(f"option {name} must be a positive integer, got {value!r}")
    return int(value)


def positive_float_option(options: Mapping[str, Any], name: str, default: float) -> float:
    """A predictor option that must be a positive finite number (InputError naming it otherwise)."""
    value = option_value(options, name, default)
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise InputError(f"option {name} must be a positive number, got {value!r}") from None
    if not value > 0 or not np.isfinite(value):
        raise InputError(f"option {name} must be a positive number, got {value!r}")
    return value


# ------------------------------------------------------------------------------- the observed outputs
# ------------------------------------------------------------------------------------------ laplace_ggn
class _Laplace:
    """The Gaussian N(ẑ, Σ) of the linearized Laplace approximation, Σ = L (I − U diag(c) Uᵀ) Lᵀ.

    L is the prior's square root at ẑ (diagonal or lower-triangular), U the top eigenvectors of the
    prior-whitened GGN Lᵀ F L (per datum), c = nλ/(1 + nλ).
    """

    def __init__(self, z: Array, sqrt_cov: Array, vectors: Array, shrink: Array) -> None:
        self.z, self.sqrt_cov, self.vectors, self.shrink = z, sqrt_cov, vectors, shrink

    def l_apply(self, v: Array) -> Array:
        return self.sqrt_cov * v if self.sqrt_cov.ndim == 1 else self.sqrt_cov @ v

    def lt_apply(self, v: Array) -> Array:
        return self.sqrt_cov * v if self.sqrt_cov.ndim == 1 else self.sqrt_cov.T @ v

    def cov_apply(self, v: Array) -> Array:
        u = self.lt_apply(v)
        return self.l_apply(u - self.vectors @ (self.shrink * (self.vectors.T @ u)))

    def sqrt_apply(self, xi: Array) -> Array:
        """Σ^{1/2} ξ = L (ξ + U ((1 − c)^{1/2} − 1) ⊙ Uᵀξ): exact, U has orthonormal columns."""
        return self.l_apply(xi + self.vectors @ ((jnp.sqrt(1.0 - self.shrink) - 1.0) * (self.vectors.T @ xi)))


def _curvature_cost(method: str, d: int, n: int, k: int, num_matvecs: int) -> int:
    """Per-datum gradients of the GGN: dense = d HVPs, Gram = n·k Jacobian rows, Lanczos = its HVPs."""
    if method == "dense":
        return 2 * d * n
    if method == "gram":
        return n * k
    return 2 * min(num_matvecs, d) * n


def _laplace_fit(mc: ModelClass, train: Array, train_covariates: Mapping[str, Any], key: Array,
                 num_train: int, options: Mapping[str, Any]) -> tuple[_Laplace, int, Any]:
    num_starts = positive_int_option(options, "num_starts", 4)
    rank = options.get("rank")
    if rank is not None:
        rank = positive_int_option(options, "rank", 1)
    method = option_value(options, "curvature_method", "auto")
    num_matvecs = positive_int_option(options, "num_matvecs", 80)
    # the MAP's L-BFGS budget per start (erm's default 500): on a d = 10⁴ network each iteration is a
    # full-data pass with up to 30 line-search evaluations, the largest cost of the predictor
    maxiter = positive_int_option(options, "map_maxiter", 500)
    fitted = erm(mc, train, key=key, penalty="map", num_starts=num_starts, num_rows=num_train,
                 maxiter=maxiter, covariates=train_covariates)
    cost = lbfgs_gradients(fitted, num_train)
    z_hat = fitted.z
    prefix, prefix_cov = mc.row_layout.prefix(train, train_covariates, num_train)
    prior = prior_gaussian(mc, z_hat)
    spectrum = fisher_spectrum(mc, mc.unflatten(z_hat), method=method, sqrt_cov=prior.sqrt_cov,
                               num_eigenvectors=mc.dim if rank is None else rank, num_matvecs=num_matvecs,
                               key=jax.random.fold_in(key, 1), covariates=prefix_cov)
    keep = spectrum.eigenvectors.shape[1] if spectrum.eigenvectors is not None else 0
    lam = jnp.maximum(jnp.asarray(spectrum.eigenvalues[:keep]), 0.0)
    vectors = jnp.asarray(spectrum.eigenvectors) if keep else jnp.zeros((mc.dim, 0))
    shrink = num_train * lam / (1.0 + num_train * lam)
    k = int(spectrum.diagnostics.get("outputs_per_row", 1))
    cost += _curvature_cost(spectrum.method, mc.dim, num_train, k, num_matvecs)
    laplace = _Laplace(z_hat, jnp.asarray(prior.sqrt_cov), vectors, shrink)
    # one Gauss–Newton step z ← ẑ + Σ ∇ log w(z | S): L-BFGS stops at a gradient tolerance, this step
    # makes the mean exact for a linear-Gaussian class (kept only if it raises the log posterior)
    log_post = _log_posterior(mc, prefix_cov)
    value, grad = log_post(z_hat, prefix)
    stepped = z_hat + laplace.cov_apply(grad)
    cost += num_train
    new_value = float(log_post(stepped, prefix)[0])
    # "no worse to rounding": at an L-BFGS optimum the step's gain is below the values' last digits
    if np.isfinite(new_value) and new_value >= float(value) - 1e-12 * max(1.0, abs(float(value))):
        laplace.z = stepped
        cost += num_train
    return laplace, cost, spectrum


def _log_posterior(mc: ModelClass, covariates: Mapping[str, Any]) -> Callable[[Array, Array], Any]:
    rows, static = mc.row_layout.split(covariates)
    fn = _log_posterior_fn(mc, static)
    return lambda z, data: fn(z, data, rows)


@functools.lru_cache(maxsize=64)
def _log_posterior_fn(mc: ModelClass, static: Static) -> Callable[..., Any]:
    def log_post(z: Array, data: Array, rows: Mapping[str, Array]) -> Array:
        return mc.log_prior(z) + jnp.sum(mc.log_likelihood(z, data, covariates={**thaw(static), **rows}))

    return jax.jit(jax.value_and_grad(log_post))


def _laplace_ggn(mc: ModelClass, train: Array, train_covariates: Mapping[str, Any], test: Array,
                 test_covariates: Mapping[str, Any], *, key: Array, num_train: int,
                 options: Mapping[str, Any]) -> Prediction:
    """Linearized Laplace (GGN) predictive at the MAP (see the module docstring)."""
    family = likelihood_family(observed_site_at(mc, jnp.zeros(mc.dim), test_covariates)["fn"])
    if family not in ("normal", "bernoulli", "categorical"):
        raise InputError(f"laplace_ggn's linearized predictive is written for Normal (fixed scale), "
                         f"Bernoulli and Categorical likelihoods; the observed site {mc.observed_site!r} "
                         f"is {family}")
    num_mc = positive_int_option(options, "num_mc", 1000)
    key_fit, key_mc = jax.random.split(key)
    laplace, cost, _ = _laplace_fit(mc, train, train_covariates, key_fit, num_train, options)
    test = jnp.asarray(test)
    rows, static = mc.row_layout.split(test_covariates)
    m = int(test.shape[0])
    z = laplace.z
    if family == "normal":
        fixed_scale = _scale_is_fixed(mc, z, test_covariates)
        if not fixed_scale:
            raise InputError(f"laplace_ggn needs a Normal likelihood whose scale does not depend on the "
                             f"parameters (a fixed σ); {mc.observed_site!r} has a fitted scale")
        log_q, k = _gaussian_predictive(mc, static)(z, laplace.sqrt_cov, laplace.vectors, laplace.shrink,
                                                    test, rows)
        cost += m * int(k)
    else:
        xi = jax.random.normal(key_mc, (num_mc, mc.dim))
        deltas = jax.vmap(laplace.sqrt_apply)(xi)
        log_q = _mc_predictive(mc, family, static)(z, deltas, test, rows)
        cost += num_mc * m  # one JVP (≈ one gradient) per draw and test row
    return Prediction(log_q, gradient_evaluations=int(cost))


def _scale_is_fixed(mc: ModelClass, z: Array, covariates: Mapping[str, Any]) -> bool:
    tangent = jax.random.normal(jax.random.PRNGKey(0), z.shape)
    _, moved = jax.jvp(lambda z: observed_outputs(mc, "normal", z, covariates)[1], (z,), (tangent,))
    return bool(jnp.all(moved == 0))


@functools.lru_cache(maxsize=64)
def _gaussian_predictive(mc: ModelClass, static: Static) -> Callable[..., tuple[Array, int]]:
    def predict(z: Array, sqrt_cov: Array, vectors: Array, shrink: Array, test: Array,
                rows: Mapping[str, Array]) -> tuple[Array, Array]:
        cov = {**thaw(static), **rows}
        m = test.shape[0]
        loc, scale = observed_outputs(mc, "normal", z, cov)
        loc = jnp.broadcast_to(loc, jnp.shape(test)).reshape(m, -1)
        scale = jnp.broadcast_to(scale, jnp.shape(test)).reshape(m, -1)
        k = loc.shape[1]

        def mean(z: Array) -> Array:
            return jnp.broadcast_to(observed_outputs(mc, "normal", z, cov)[0], jnp.shape(test)).reshape(m, -1)

        jac = jax.jacrev(mean)(z)  # (m, k, d)
        a = jac * sqrt_cov if sqrt_cov.ndim == 1 else jac @ sqrt_cov  # J L
        b = a @ vectors  # J L U
        s = a @ jnp.swapaxes(a, 1, 2) - (b * shrink) @ jnp.swapaxes(b, 1, 2)
        pred_cov = s + jax.vmap(jnp.diag)(scale**2)
        resid = test.reshape(m, -1) - loc
        chol = jnp.linalg.cholesky(pred_cov)
        w = jax.scipy.linalg.solve_triangular(chol, resid[..., None], lower=True)[..., 0]
        log_det = 2.0 * jnp.sum(jnp.log(jnp.diagonal(chol, axis1=1, axis2=2)), axis=1)
        return -0.5 * (jnp.sum(w**2, axis=1) + log_det + k * jnp.log(2 * jnp.pi)), jnp.asarray(k)

    return jax.jit(predict)


@functools.lru_cache(maxsize=64)
def _mc_predictive(mc: ModelClass, family: str, static: Static) -> Callable[..., Array]:
    def predict(z: Array, deltas: Array, test: Array, rows: Mapping[str, Array]) -> Array:
        cov = {**thaw(static), **rows}
        site = observed_site_at(mc, z, cov)
        eta, lin = jax.linearize(lambda z: observed_outputs(mc, family, z, cov)[0], z)

        def one(delta: Array) -> Array:
            return per_datum_log_prob(mc, family, site, eta + lin(delta), 0.0, test)

        log_p = jax.lax.map(one, deltas, batch_size=64)
        return logsumexp(log_p, axis=0) - jnp.log(deltas.shape[0])

    return jax.jit(predict)


# ------------------------------------------------------------------------------------------ sgd_ensemble
@functools.lru_cache(maxsize=64)
def _adam_runner(mc: ModelClass, static: Static, batch: int, learning_rate: float, tol: float,
                 check_every: int, max_steps: int) -> Callable[..., tuple[Array, Array, Array]]:
    static_cov = thaw(static)
    count = mc.row_layout.count
    optimizer = optax.adam(learning_rate)

    def run(starts: Array, keys: Array, data: Array, rowwise: dict[str, Array], n: Array
            ) -> tuple[Array, Array, Array]:
        used = jnp.arange(data.shape[0]) < n
        batch_static = {k: (batch if k == count else v) for k, v in static_cov.items()}

        def full_objective(z: Array) -> Array:
            log_lik = mc.log_likelihood(z, data, covariates={**static_cov, **rowwise})
            return -(jnp.sum(jnp.where(used, log_lik, 0.0)) + mc.log_prior(z)) / n

        def batch_objective(z: Array, index: Array) -> Array:
            cov = {**batch_static, **{k: v[index] for k, v in rowwise.items()}}
            log_lik = mc.log_likelihood(z, data[index], covariates=cov)
            return -(jnp.mean(log_lik) + mc.log_prior(z) / n)

        def member(z0: Array, key: Array) -> tuple[Array, Array, Array]:
            def inner(carry: tuple[Array, Any, Array], _: Any) -> tuple[tuple[Array, Any, Array], None]:
                z, state, key = carry
                key, key_b = jax.random.split(key)
                # with replacement from the first n rows: fixed shapes for every prefix of the data
                index = jax.random.randint(key_b, (batch,), 0, n)
                grad = jax.grad(batch_objective)(z, index)
                updates, state = optimizer.update(grad, state, z)
                return (optax.apply_updates(z, updates), state, key), None

            def body(carry: tuple[Array, Any, Array, Array, Array]) -> tuple[Array, Any, Array, Array, Array]:
                z, state, key, steps, _ = carry
                (z, state, key), _ = jax.lax.scan(inner, (z, state, key), None, length=check_every)
                return z, state, key, steps + check_every, jnp.linalg.norm(jax.grad(full_objective)(z))

            def keep_going(carry: tuple[Array, Any, Array, Array, Array]) -> Array:
                _, _, _, steps, norm = carry
                return (norm >= tol) & (steps < max_steps)

            init = (z0, optimizer.init(z0), key, jnp.asarray(0), jnp.asarray(jnp.inf))
            z, _, _, steps, norm = jax.lax.while_loop(keep_going, body, init)
            return z, steps, norm

        return jax.vmap(member)(starts, keys)

    return jax.jit(run)


def _sgd_ensemble(mc: ModelClass, train: Array, train_covariates: Mapping[str, Any], test: Array,
                  test_covariates: Mapping[str, Any], *, key: Array, num_train: int,
                  options: Mapping[str, Any]) -> Prediction:
    """Equal-weight mixture of Adam runs from prior draws (see the module docstring)."""
    members = positive_int_option(options, "num_members", 5)
    batch = min(positive_int_option(options, "batch_size", 32), num_train)
    learning_rate = positive_float_option(options, "learning_rate", 1e-2)
    tol = positive_float_option(options, "sgd_tol", 1e-3)
    check_every = positive_int_option(options, "sgd_check", 50)
    max_steps = positive_int_option(options, "sgd_max_steps", 5000)
    key_init, key_run = jax.random.split(key)
    starts = prior_draws(mc, key_init, members)
    rowwise, static = mc.row_layout.split(train_covariates)
    runner = _adam_runner(mc, static, batch, learning_rate, tol, check_every, max_steps)
    z, steps, _ = runner(starts, jax.random.split(key_run, members), jnp.asarray(train), rowwise,
                         jnp.asarray(num_train))
    steps = np.asarray(steps)
    cost = int(np.sum(steps) * batch + np.sum(steps // check_every) * num_train)
    log_q = mixture_log_prob(mc, z, test, test_covariates)
    return Prediction(log_q, gradient_evaluations=cost)


# ------------------------------------------------------------------------------------------ quadrature
@functools.lru_cache(maxsize=64)
def _grid_fn(mc: ModelClass, train_static: Static, test_static: Static) -> Callable[..., Array]:
    def log_q(grid: Array, train: Array, train_rows: Mapping[str, Array], n: Array, test: Array,
              test_rows: Mapping[str, Array]) -> Array:
        used = jnp.arange(train.shape[0]) < n

        def log_post(z: Array) -> Array:
            log_lik = mc.log_likelihood(z, train, covariates={**thaw(train_static), **train_rows})
            return mc.log_prior(z) + jnp.sum(jnp.where(used, log_lik, 0.0))

        def test_lik(z: Array) -> Array:
            return mc.log_likelihood(z, test, covariates={**thaw(test_static), **test_rows})

        lp = jax.lax.map(log_post, grid, batch_size=1024)
        lt = jax.lax.map(test_lik, grid, batch_size=1024)  # (G, m)
        return logsumexp(lp[:, None] + lt, axis=0) - logsumexp(lp)

    return jax.jit(log_q)


def _quadrature(mc: ModelClass, train: Array, train_covariates: Mapping[str, Any], test: Array,
                test_covariates: Mapping[str, Any], *, key: Array, num_train: int,
                options: Mapping[str, Any]) -> Prediction:
    """Exact Bayes mixture for d ≤ 2 by a uniform grid over the posterior's Laplace box (see module)."""
    if mc.dim > 2:
        raise InputError(f"predictor 'quadrature' integrates over a grid and needs d ≤ 2; the class has "
                         f"d = {mc.dim}")
    points = positive_int_option(options, "grid_points", 301)
    width = positive_float_option(options, "grid_width", 9.0)
    fitted: ErmFit = erm(mc, train, key=key, penalty="map", num_starts=2, num_rows=num_train,
                         covariates=train_covariates)
    prefix, prefix_cov = mc.row_layout.prefix(train, train_covariates, num_train)
    hessian = -jax.hessian(lambda z: _log_posterior(mc, prefix_cov)(z, prefix)[0])(fitted.z)
    sqrt_cov = jnp.linalg.cholesky(jnp.linalg.inv(0.5 * (hessian + hessian.T)))
    axis = jnp.linspace(-width, width, points)
    mesh = jnp.stack(jnp.meshgrid(*([axis] * mc.dim), indexing="ij"), axis=-1).reshape(-1, mc.dim)
    grid = fitted.z + mesh @ sqrt_cov.T
    train_rows, train_static = mc.row_layout.split(train_covariates)
    test_rows, test_static = mc.row_layout.split(test_covariates)
    log_q = _grid_fn(mc, train_static, test_static)(grid, jnp.asarray(train), train_rows,
                                                    jnp.asarray(num_train), jnp.asarray(test), test_rows)
    return Prediction(log_q)


register_predictor("laplace_ggn", _laplace_ggn)
register_predictor("sgd_ensemble", _sgd_ensemble)
register_predictor("quadrature", _quadrature)

# the budgets of the pre-existing approximate mixtures, for bayesvol.regret.gap
BUDGET_OPTIONS = {**APPROXIMATE_MIXTURES, "sgld": "num_samples", "ensemble": "num_members"}
