"""Preconditioned stochastic-gradient Langevin dynamics (SGLD) draws from the posterior w(z | data).

The default step size comes from the curvature at the start: with M the diagonal preconditioner and
H = −∇² log w(z | data) there, the drift of a full-batch step is stable only when ε λ_max(M^{1/2} H M^{1/2})
< 2, and an ill-conditioned design (monomials, a network) puts λ_max far above 1 even after the diagonal
rescaling; so ε = min(``STEP_CAP``, ``STABILITY`` / λ_max). A chain that still blows up (a non-finite
draw, or a log posterior that falls far below the start's) raises :class:`~bayesvol.SamplerError`: its
draws would be a wrong number, not an approximate mixture.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import Any

import jax
import jax.numpy as jnp

from bayesvol.errors import InputError, as_key, check_counts
from bayesvol.inference.fit import SamplerError
from bayesvol.model.covariates import Static, thaw
from bayesvol.model.covariates import num_rows as _num_rows
from bayesvol.model.model_class import Array, ModelClass
from bayesvol.regret.erm import erm

__all__ = ["STABILITY", "STEP_CAP", "sgld", "sgld_step_size"]

#: Default step ε = min(STEP_CAP, STABILITY / λ_max(M^{1/2} H M^{1/2})): a twentieth of the full-batch
#: stability limit 2, since the minibatch gradient's noise and the curvature away from the start need a
#: margin (measured on the tanh MLP d = 97, n = 100, 3 data sets: ε = 0.5/λ_max diverged on all three,
#: a fixed ε = 0.03, i.e. ε λ_max = 0.12–0.38, ran on all three).
STABILITY = 0.1
#: The largest default step (in units of the preconditioned posterior scale): larger steps bias SGLD's
#: stationary law (no Metropolis correction) more than they speed its mixing.
STEP_CAP = 0.2
#: A draw whose log posterior is below the start's by more than DIVERGED_PER_DIM · d + DIVERGED_SLACK
#: nats has left the posterior (a Gaussian posterior's draws lie ≈ d/2 ± √(d/2) below its mode).
DIVERGED_PER_DIM = 10.0
DIVERGED_SLACK = 100.0


def sgld(
    mc: ModelClass,
    data: Any,
    *,
    key: Array,
    num_samples: int = 400,
    num_burnin: int = 500,
    thin: int = 5,
    step_size: float | None = None,
    batch_size: int = 32,
    start: Array | None = None,
    num_rows: int | None = None,
    covariates: Mapping[str, Any] | None = None,
    **model_kwargs: Any,
) -> Array:
    """Preconditioned stochastic-gradient Langevin draws from w(z | data); returns (num_samples, d).

    z ← z + (ε/2) M ∇̂ log w(z | data) + √ε M^{1/2} ξ, with ∇̂ the minibatch gradient scaled by n/B and M
    the inverse diagonal of the posterior Hessian at ``start`` (the MAP by default), so that ε is in
    units of the posterior scale; only the first ``num_rows`` rows count when given. ``step_size=None``
    (default): ε = min(STEP_CAP, STABILITY / λ_max(M^{1/2} H M^{1/2})) (:func:`sgld_step_size`). Raises
    :class:`~bayesvol.SamplerError` when the chain diverges (a non-finite draw, or a draw's log posterior
    more than 10 d + 100 nats below the start's). Written out here (a few lines) because BlackJAX's
    ``sgld`` takes no preconditioner and the unpreconditioned chain needs a per-model step size.
    """
    key = as_key(key)
    check_counts(num_samples=num_samples, thin=thin, batch_size=batch_size)
    if step_size is not None and (isinstance(step_size, bool) or not isinstance(step_size, (int, float))
                                  or not 0 < step_size < float("inf")):
        raise InputError(f"step_size must be a positive number or None (from the curvature), "
                         f"got {step_size!r}")
    data, carried = mc.data_value(data)
    data = jnp.asarray(data)
    model_kwargs = mc.resolve_covariates(covariates, {**carried, **model_kwargs}, data=data)
    n = _num_rows(data) if num_rows is None else int(num_rows)
    rowwise, static = mc.row_layout.split(model_kwargs)
    key_fit, key_run = jax.random.split(key)
    if start is None:
        start = erm(mc, data, key=key_fit, penalty="map", num_starts=1, num_rows=n, covariates=model_kwargs).z
    runner = _sgld_runner(mc, static, min(batch_size, _num_rows(data)), num_burnin, num_samples, thin)
    auto = step_size is None
    eps = jnp.asarray(-1.0 if auto else float(step_size))
    draws, eps, lam_max, drop, finite = runner(start, key_run, data, rowwise, jnp.asarray(n), eps)
    limit = DIVERGED_PER_DIM * mc.dim + DIVERGED_SLACK
    if not bool(finite) or not float(drop) <= limit:
        what = ("a non-finite draw" if not bool(finite)
                else f"a draw {float(drop):.3g} nats below the start's log posterior (limit {limit:.0f})")
        raise SamplerError(
            f"SGLD diverged: {what} at step size {float(eps):.3g} "
            f"({'from the curvature' if auto else 'given'}; "
            f"λ_max of the preconditioned Hessian at the start {float(lam_max):.3g}, stable below "
            f"2/λ_max = {2 / float(lam_max):.3g}): pass a smaller step_size")
    return draws


def sgld_step_size(lam_max: Array) -> Array:
    """The default SGLD step min(STEP_CAP, STABILITY / λ_max) (λ_max ≤ 0, a flat start: STEP_CAP)."""
    return jnp.where(lam_max > 0, jnp.minimum(STEP_CAP, STABILITY / jnp.maximum(lam_max, 1e-300)), STEP_CAP)


@functools.lru_cache(maxsize=64)
def _sgld_runner(mc: ModelClass, static: Static, batch: int, num_burnin: int,
                 num_samples: int, thin: int) -> Callable[..., tuple[Array, ...]]:
    static_cov = thaw(static)
    count = mc.row_layout.count

    def run(start: Array, key: Array, data: Array, rowwise: dict[str, Array], n: Array, step_size: Array
            ) -> tuple[Array, ...]:
        used = jnp.arange(data.shape[0]) < n

        def log_post(z: Array) -> Array:
            log_lik = mc.log_likelihood(z, data, covariates={**static_cov, **rowwise})
            return mc.log_prior(z) + jnp.sum(jnp.where(used, log_lik, 0.0))

        hessian = -jax.hessian(log_post)(start)
        # never wider than the prior: a direction the data barely curve at the start (a dead unit of a
        # network) would otherwise get a huge step once the chain leaves the start (a safeguard: it left
        # λ_max and the outcome unchanged on the zoo's polynomial and MLP, 3 data sets each)
        curvature = jnp.maximum(jnp.diag(hessian), -jnp.diag(jax.hessian(mc.log_prior)(start)))
        precond = 1.0 / jnp.where(curvature > 0, curvature, 1.0)
        # the preconditioned curvature's largest eigenvalue sets the stable step (the Hessian is formed
        # already for the diagonal, so a dense eigvalsh costs no further gradient)
        root = jnp.sqrt(precond)
        lam_max = jnp.max(jnp.linalg.eigvalsh(root[:, None] * hessian * root[None, :]))
        step_size = jnp.where(step_size > 0, step_size, sgld_step_size(lam_max))
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
        draws = path[num_burnin::thin]
        # divergence: every draw's full-data log posterior against the start's (no gradients)
        drop = log_post(start) - jnp.min(jax.vmap(log_post)(draws))
        finite = jnp.all(jnp.isfinite(path)) & jnp.isfinite(drop)
        return draws, step_size, lam_max, jnp.where(jnp.isnan(drop), jnp.inf, drop), finite

    return jax.jit(run)
