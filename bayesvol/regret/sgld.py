"""Preconditioned stochastic-gradient Langevin dynamics (SGLD) draws from the posterior w(z | data).

The default step size comes from the curvature at the start: with M the diagonal preconditioner and
H = −∇² log w(z | data) there, the drift of a full-batch step is stable only when ε λ_max(M^{1/2} H M^{1/2})
< 2, and an ill-conditioned design (monomials, a network) puts λ_max far above 1 even after the diagonal
rescaling; so ε = min(``STEP_CAP``, ``STABILITY`` / λ_max). A chain that still blows up (a non-finite
draw, or a log posterior that falls far below the start's) raises :class:`~bayesvol.SamplerError`: its
draws would be a wrong number, not an approximate mixture.

Two ways to M and λ_max. Up to ``DENSE_MAX_DIM`` parameters, the dense ``jax.hessian`` of the log posterior
(d² memory, d Hessian-vector products) gives diag(H) and eigvalsh its λ_max. Above it (a network:
d = 9,610 held 10.5 GB dense), nothing d × d is formed: diag(H) is replaced by the exact diagonal of the
generalized Gauss–Newton matrix Σ_i diag(J_iᵀ Λ_i J_i) plus the prior's exact Hessian diagonal
(``_ggn_diagonal``, ``_prior_hessian_diagonal``), and λ_max comes from ``LANCZOS_STEPS`` Lanczos steps on
Hessian-vector products of the true posterior Hessian; memory O(d · rows per chunk).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import Any

import jax
import jax.numpy as jnp

from bayesvol.curvature.fisher import lanczos
from bayesvol.errors import InputError, as_key, check_counts, check_memory
from bayesvol.inference.fit import SamplerError
from bayesvol.model.covariates import Static, thaw
from bayesvol.model.covariates import num_rows as _num_rows
from bayesvol.model.model_class import Array, ModelClass
from bayesvol.regret.erm import erm

__all__ = ["DENSE_MAX_DIM", "LANCZOS_STEPS", "STABILITY", "STEP_CAP", "curvature_gradients", "sgld",
           "sgld_step_size"]

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
#: Above this many parameters the preconditioner and λ_max come from the GGN diagonal and Lanczos instead
#: of the dense Hessian (module-level so that a test can lower it and run both paths on one class).
#: Measured on digits MLPs, n = 500, load 12–17 (RESULTS.md): a repeated call's curvature costs less on the
#: diagonal path from d = 85 on (0.07 vs 0.57 s; d = 1,210: 0.63 vs 30 s), but it compiles longer, and the
#: first call — what a predictor fit pays — is cheaper dense up to d ≈ 600 (23 vs 25 s) and diagonal at
#: d = 1,210 (33 vs 83 s). Below the threshold the exact Hessian diagonal is kept (every number as before).
DENSE_MAX_DIM = 1000
#: Lanczos steps (Hessian-vector products) for λ_max on the large path; the top Ritz value is a lower bound
#: of λ_max that converges first.
LANCZOS_STEPS = 30
#: Rows per chunk of the GGN diagonal: a chunk holds rows × k × d Jacobian entries (≈ 2²³ floats, 64 MB).
GGN_CHUNK_ENTRIES = 2**23


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
    dense = _dense(mc, rowwise)
    steps = num_burnin + num_samples * thin
    check_memory(8.0 * steps * mc.dim, f"SGLD's path ({steps} steps × d = {mc.dim})",
                 "fewer steps (num_burnin + num_samples × thin)")
    if dense:  # the dense Hessian; a class whose rows cannot be taken one at a time has no other path
        check_memory(3.0 * 8 * mc.dim**2, f"SGLD's dense Hessian ({mc.dim} × {mc.dim})",
                     "this class has no row layout for the diagonal path (give it per-row covariates or a "
                     "row-count argument)")
    runner = _sgld_runner(mc, static, min(batch_size, _num_rows(data)), num_burnin, num_samples, thin, dense)
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
                 num_samples: int, thin: int, dense: bool = True) -> Callable[..., tuple[Array, ...]]:
    static_cov = thaw(static)
    count = mc.row_layout.count

    def run(start: Array, key: Array, data: Array, rowwise: dict[str, Array], n: Array, step_size: Array
            ) -> tuple[Array, ...]:
        used = jnp.arange(data.shape[0]) < n

        def log_post(z: Array) -> Array:
            log_lik = mc.log_likelihood(z, data, covariates={**static_cov, **rowwise})
            return mc.log_prior(z) + jnp.sum(jnp.where(used, log_lik, 0.0))

        if dense:
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
        else:
            prior_curvature = _prior_hessian_diagonal(mc, start)
            curvature = _ggn_diagonal(mc, static_cov, rowwise, data, used, start) + prior_curvature
            curvature = jnp.maximum(curvature, prior_curvature)  # never wider than the prior (as above)
            precond = 1.0 / jnp.where(curvature > 0, curvature, 1.0)
            root = jnp.sqrt(precond)
            lam_max = _lambda_max(lambda z: -log_post(z), start, root)
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


def _lambda_max(loss: Callable[[Array], Array], z: Array, root: Array) -> Array:
    """λ_max of diag(root) ∇²loss(z) diag(root) by Lanczos on Hessian-vector products (no d × d matrix).

    The top Ritz value of ``LANCZOS_STEPS`` steps (full reorthogonalization, :func:`~bayesvol.curvature.
    fisher.lanczos`) is a lower bound that converges first; exact when d ≤ the steps. The start vector is
    fixed, so the default step does not depend on the chain's key. Not matfree's Lanczos: see ``lanczos``.
    """
    _, hvp = jax.linearize(jax.grad(loss), z)  # one linearization shared by every product
    start = jax.random.normal(jax.random.PRNGKey(0), z.shape, z.dtype)
    vals, _, _ = lanczos(lambda v: root * hvp(root * v), start, min(z.shape[0], LANCZOS_STEPS))
    return jnp.max(vals)


def _prior_hessian_diagonal(mc: ModelClass, z: Array, chunk: int = 256) -> Array:
    """−diag ∇² log w(z), exactly, by Hessian-vector products with ``chunk`` unit vectors at a time.

    d products of the prior's cost (O(d²) in all for a factorized prior, ≈ 10⁸ at d = 10⁴), memory
    chunk × d: no assumption that the prior's Hessian is diagonal (a hierarchical prior's is not).
    """
    d = z.shape[0]
    chunk = min(chunk, d)
    _, hvp = jax.linearize(jax.grad(mc.log_prior), z)

    def block(first: Array) -> Array:
        index = first + jnp.arange(chunk)
        rows = jax.vmap(hvp)(jax.nn.one_hot(index, d, dtype=z.dtype))  # index ≥ d: a zero row
        return jnp.take_along_axis(rows, jnp.minimum(index, d - 1)[:, None], axis=1)[:, 0]

    firsts = jnp.arange(0, -(-d // chunk) * chunk, chunk)
    return -jax.lax.map(block, firsts).reshape(-1)[:d]


def _ggn_diagonal(mc: ModelClass, static_cov: Mapping[str, Any], rowwise: Mapping[str, Array], data: Array,
                  used: Array, z: Array) -> Array:
    """Σ_{i used} diag(J_iᵀ Λ_i J_i): the exact diagonal of the likelihood's generalized Gauss–Newton matrix.

    η_i(z) are the float parameters of row i's distribution (its pytree leaves: logits, loc, …), J_i = ∂η_i/∂z
    (k reverse passes per row), Λ_i = ∇²_η(−log p_η(y_i)) at η_i(z) (k × k). The GGN is the Hessian of the
    negative log-likelihood without the term in ∇²η_i (exactly the Hessian when η is linear in z: linear
    and logistic regression). Rows go in chunks of ≈ ``GGN_CHUNK_ENTRIES`` / (k d), so memory is
    O(chunk · k · d), never the (n k × d) Jacobian.

    Why the GGN diagonal (measured on the digits MLP at its MAP, d = 9,610, n = 1,797; benchmarks/RESULTS.md):
    it is exact, ≥ 0 for logits and means (Λ_i ⪰ 0), costs k·n per-example gradients (k = 10; 4.7 s),
    and gave the smallest λ_max of M^{1/2}HM^{1/2} (30.7) and the lowest test loss of the chain (0.356
    nats, 2 keys); the empirical Fisher Σ_i g_i² left 38 % of the coordinates at the prior's floor
    (GGN: 16 %), λ_max 50.3, test loss 0.367; Hutchinson's z ⊙ Hz has a per-coordinate s.e. of 20 % at 10
    probes (7 % at 100), goes negative, and its chain scored 0.379.
    """

    def row_fn(z: Array, row: Mapping[str, Array]) -> Any:
        return _row_distribution(mc, static_cov, z, row)

    def row_diagonal(row: Mapping[str, Array], y: Array) -> Array:
        fn = row_fn(z, row)
        leaves, tree = jax.tree_util.tree_flatten(fn)
        is_float = [jnp.issubdtype(jnp.result_type(leaf), jnp.floating) for leaf in leaves]

        def eta(z: Array) -> Array:
            own = jax.tree_util.tree_leaves(row_fn(z, row))
            return jnp.concatenate([jnp.ravel(leaf) for leaf, f in zip(own, is_float) if f])

        def loss(e: Array) -> Array:
            out, at = [], 0
            for leaf, f in zip(leaves, is_float):
                if f:
                    size = leaf.size
                    out.append(e[at:at + size].reshape(leaf.shape))
                    at += size
                else:
                    out.append(leaf)
            return -jnp.sum(jax.tree_util.tree_unflatten(tree, out).log_prob(y[None]))

        jac = jax.jacrev(eta)(z)  # (k, d)
        lam = jax.hessian(loss)(eta(z))  # (k, k)
        return jnp.sum(jac * (lam @ jac), axis=0)

    rows_total = data.shape[0]
    outputs = _outputs_per_row(mc, static_cov, z, {k: v[0] for k, v in rowwise.items()})
    chunk = max(1, min(rows_total, GGN_CHUNK_ENTRIES // max(1, outputs * z.shape[0])))
    num_chunks = -(-rows_total // chunk)
    pad = num_chunks * chunk - rows_total

    def padded(x: Array) -> Array:  # repeat the first row (valid data), masked below
        return jnp.concatenate([x, jnp.repeat(x[:1], pad, axis=0)]).reshape(num_chunks, chunk, *x.shape[1:])

    def add_chunk(total: Array, part: tuple[Any, Array, Array]) -> tuple[Array, None]:
        rows, ys, mask = part
        diag = jax.vmap(row_diagonal)(rows, ys)
        return total + jnp.sum(jnp.where(mask[:, None], diag, 0.0), axis=0), None

    parts = ({k: padded(v) for k, v in rowwise.items()}, padded(data),
             padded(used) & (jnp.arange(num_chunks * chunk) < rows_total).reshape(num_chunks, chunk))
    total, _ = jax.lax.scan(add_chunk, jnp.zeros_like(z), parts)
    return total



def _row_distribution(mc: ModelClass, static_cov: Mapping[str, Any], z: Array, row: Mapping[str, Array]
                      ) -> Any:
    """The observed site's distribution on one row (its per-row covariates ``row``; row count 1)."""
    count = mc.row_layout.count
    cov = {**{k: (1 if k == count else v) for k, v in static_cov.items()},
           **{k: v[None] for k, v in row.items()}}
    return mc.observed_trace(mc.unflatten(z), cov)[mc.observed_site]["fn"]


def _outputs_per_row(mc: ModelClass, static_cov: Mapping[str, Any], z: Array, row: Mapping[str, Array]
                     ) -> int:
    """k: how many float parameters one row's distribution has (traced only for shapes)."""
    fn = jax.eval_shape(lambda: _row_distribution(mc, static_cov, z, row))
    leaves = jax.tree_util.tree_leaves(fn)
    return sum(leaf.size for leaf in leaves if jnp.issubdtype(leaf.dtype, jnp.floating))


def curvature_gradients(mc: ModelClass, num_rows: int, z: Array, covariates: Mapping[str, Any]) -> int:
    """Per-datum gradient evaluations of SGLD's preconditioner and λ_max on ``num_rows`` rows.

    Dense path (d ≤ ``DENSE_MAX_DIM``): d Hessian-vector products, 2 d n. Diagonal path: k n for the GGN
    diagonal's per-row Jacobians (k outputs per row) and 2 n per Lanczos step.
    """
    rowwise, static = mc.row_layout.split(covariates)
    if _dense(mc, rowwise):
        return 2 * mc.dim * num_rows
    k = _outputs_per_row(mc, thaw(static), z, {name: v[0] for name, v in rowwise.items()})
    return (k + 2 * min(mc.dim, LANCZOS_STEPS)) * num_rows


def _dense(mc: ModelClass, rowwise: Mapping[str, Array]) -> bool:
    """The dense path: d ≤ ``DENSE_MAX_DIM``, or a class whose rows cannot be taken one at a time."""
    return mc.dim <= DENSE_MAX_DIM or not (rowwise or mc.row_layout.count)
