"""Preconditioned stochastic-gradient Langevin dynamics (SGLD) draws from the posterior w(z | data)."""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import Any

import jax
import jax.numpy as jnp

from bayesvol.errors import as_key, check_counts
from bayesvol.model.covariates import Static, thaw
from bayesvol.model.covariates import num_rows as _num_rows
from bayesvol.model.model_class import Array, ModelClass
from bayesvol.regret.erm import erm

__all__ = ["sgld"]


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
    covariates: Mapping[str, Any] | None = None,
    **model_kwargs: Any,
) -> Array:
    """Preconditioned stochastic-gradient Langevin draws from w(z | data); returns (num_samples, d).

    z ← z + (ε/2) M ∇̂ log w(z | data) + √ε M^{1/2} ξ, with ∇̂ the minibatch gradient scaled by n/B and M
    the inverse diagonal of the posterior Hessian at ``start`` (the MAP by default), so that ε is in
    units of the posterior scale; only the first ``num_rows`` rows count when given. Written out here
    (a few lines) because BlackJAX's ``sgld`` takes no preconditioner and the unpreconditioned chain
    needs a per-model step size.
    """
    key = as_key(key)
    check_counts(num_samples=num_samples, thin=thin, batch_size=batch_size)
    data, carried = mc.data_value(data)
    data = jnp.asarray(data)
    model_kwargs = mc.resolve_covariates(covariates, {**carried, **model_kwargs}, data=data)
    n = _num_rows(data) if num_rows is None else int(num_rows)
    rowwise, static = mc.row_layout.split(model_kwargs)
    key_fit, key_run = jax.random.split(key)
    if start is None:
        start = erm(mc, data, key=key_fit, penalty="map", num_starts=1, num_rows=n, covariates=model_kwargs).z
    runner = _sgld_runner(mc, static, min(batch_size, _num_rows(data)), num_burnin,
                          num_samples, thin, float(step_size))
    return runner(start, key_run, data, rowwise, jnp.asarray(n))


@functools.lru_cache(maxsize=64)
def _sgld_runner(mc: ModelClass, static: Static, batch: int, num_burnin: int,
                 num_samples: int, thin: int, step_size: float) -> Callable[..., Array]:
    static_cov = thaw(static)
    count = mc.row_layout.count

    def run(start: Array, key: Array, data: Array, rowwise: dict[str, Array], n: Array) -> Array:
        used = jnp.arange(data.shape[0]) < n

        def log_post(z: Array) -> Array:
            log_lik = mc.log_likelihood(z, data, covariates={**static_cov, **rowwise})
            return mc.log_prior(z) + jnp.sum(jnp.where(used, log_lik, 0.0))

        curvature = -jnp.diag(jax.hessian(log_post)(start))
        precond = 1.0 / jnp.where(curvature > 0, curvature, 1.0)
        batch_static = {k: (batch if k == count else v) for k, v in static_cov.items()}

        def minibatch_grad(z: Array, index: Array) -> Array:
            cov = {**batch_static, **{k: v[index] for k, v in rowwise.items()}}

            def log_post_batch(z: Array) -> Array:
                log_lik = mc.log_likelihood(z, data[index], covariates=cov)
                return mc.log_prior(z) + (n / batch) * jnp.sum(log_lik)

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
