"""The Gram matrix G Gᵀ of per-example gradients, using the rank-one structure of weight-matrix gradients.

For a weight matrix W (p × q) that enters a row's output only through one product h·W (a dense layer),
the row's gradient with respect to W is the outer product h δᵀ (h the layer's input, δ the gradient at
its output), so that block contributes

    (G_W G_Wᵀ)_ij = ⟨h_i δ_iᵀ, h_j δ_jᵀ⟩ = (ĥ_i · ĥ_j)(δ_i · δ_j),   ĥ = h/|h|,

at a cost of m²(p + q) instead of m²pq. The factors are read off each row's gradient block B_i (p × q)
by two power-iteration steps from a fixed random vector (ĥ ∝ B_i B_iᵀ B_i u, δ = B_iᵀ ĥ), and the
structure is *verified*, not assumed: a block is used in factored form only if every row satisfies
‖B_i − ĥ_i δ_iᵀ‖_F ≤ 16 ε ‖B_i‖_F, ε the precision the gradients were computed in; otherwise (a weight
shared across positions, a non-linear reparameterization, …) it goes to the dense product, BLAS ``syrk``
(one triangle, m²d flops) on a zero-copy host view of G.

Hand-written because no maintained library computes this for an arbitrary NumPyro model: neural-tangents'
structured-derivatives NTK does it by rewriting jaxprs and does not follow current JAX; here the check on
the computed gradients makes the shortcut model-agnostic. (Per-example gradient Gram matrices by rank-one
factors: Goodfellow 2015, "Efficient per-example gradient computations"; Novak et al. 2022, "Fast finite
width neural tangent kernel".)
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
from scipy.linalg import blas

__all__ = ["gram_matrix", "weight_blocks"]

# Factor a block only when it saves work: p·q ≥ 4(p + q) (below that the dense product is as cheap).
_MIN_SAVING = 4
# Tolerance of the rank-one check in units of the working precision's epsilon: measured residuals of
# genuinely rank-one MLP blocks are ≤ 2.6 ε in float64 (p·q up to 10⁵) and ≈ 0.2 ε₃₂ when the gradients were
# computed from float32 parameters and stored in float64.
_TOL_ULPS = 16.0


def weight_blocks(z_layout: Mapping[str, tuple[int, tuple[int, ...]]]) -> list[tuple[int, int, int]]:
    """Blocks (offset, p, q) of flat z worth trying in factored form: sites of ≥ 2 axes, p = ∏ shape[:-1]."""
    blocks = []
    for offset, shape in z_layout.values():
        if len(shape) < 2:
            continue
        q = int(shape[-1])
        p = int(np.prod(shape[:-1]))
        if p >= 2 and q >= 2 and p * q >= _MIN_SAVING * (p + q):
            blocks.append((int(offset), p, q))
    return sorted(blocks)


def _syrk(a: np.ndarray) -> np.ndarray:
    """A Aᵀ (float64, full symmetric) from one triangle computed by BLAS syrk in A's precision."""
    syrk = blas.ssyrk if a.dtype == np.float32 else blas.dsyrk
    upper = syrk(1.0, a.T if a.flags.c_contiguous else np.asfortranarray(a.T), trans=1)
    upper = np.asarray(upper, dtype=np.float64)
    return np.triu(upper) + np.triu(upper, 1).T


@partial(jax.jit, static_argnums=(1, 2, 3))
def _rank_one_fit(g: jax.Array, offset: int, p: int, q: int) -> tuple[jax.Array, ...]:
    """Per row i of G: ĥ_i, δ_i = B_iᵀĥ_i, ‖B_i − ĥ_i δ_iᵀ‖_F and ‖B_i‖_F for the block B_i (p × q)."""
    u = jax.random.normal(jax.random.PRNGKey(0), (q,), g.dtype)

    def unit(h: jax.Array) -> jax.Array:
        norm = jnp.linalg.norm(h)
        return jnp.where(norm > 0, h / jnp.where(norm > 0, norm, 1.0), 0.0)

    def fit(block: jax.Array) -> tuple[jax.Array, ...]:
        h = block @ u
        for _ in range(2):  # power iteration on B Bᵀ: ĥ accurate to rounding even when δ·u is small
            h = block @ (unit(h) @ block)
        h = unit(h)
        delta = h @ block
        return h, delta, jnp.linalg.norm(block - jnp.outer(h, delta)), jnp.linalg.norm(block)

    rows = g[:, offset:offset + p * q].reshape(g.shape[0], p, q)
    return jax.lax.map(fit, rows, batch_size=8)  # 8 rows at a time: each block is read from cache


def _rank_one_factors(g: jax.Array, offset: int, p: int, q: int, eps: float
                      ) -> tuple[np.ndarray, np.ndarray] | None:
    """(ĥ (m × p), δ (m × q)) with block_i = ĥ_i δ_iᵀ to rounding, or None if some row is not rank one."""
    h, delta, resid, total = (np.asarray(v) for v in _rank_one_fit(g, offset, p, q))
    tol = _TOL_ULPS * eps
    zero_h = ~np.any(h != 0, axis=1)
    if np.any(resid > tol * total) or np.any(zero_h & (total > 0)):
        return None
    return h, delta


def gram_matrix(g: jax.Array | np.ndarray, blocks: Iterable[tuple[int, int, int]] = (),
                eps: float | None = None) -> tuple[np.ndarray, int]:
    """G Gᵀ (float64) for G (m × d): factored rank-one weight blocks, the rest by dense ``syrk``.

    ``blocks`` are (offset, p, q) column ranges of G to try in factored form (see :func:`weight_blocks`);
    ``eps`` is the precision G was computed in (default: its dtype's), the scale of the rank-one check.
    Returns the Gram matrix and the number of G's columns that went through a factored block.
    """
    g_dev = jnp.asarray(g)
    a = np.asarray(g_dev)  # on CPU a view of the jax buffer, not a copy
    m, d = a.shape
    eps = float(np.finfo(a.dtype).eps) if eps is None else max(float(eps), float(np.finfo(a.dtype).eps))
    gram = np.zeros((m, m))
    dense = np.ones(d, bool)
    for offset, p, q in blocks:
        factors = _rank_one_factors(g_dev, offset, p, q, eps)
        if factors is None:
            continue
        h_unit, delta = factors
        gram += _syrk(h_unit) * _syrk(delta)
        dense[offset:offset + p * q] = False
    factored = int(d - dense.sum())
    if not factored:
        return _syrk(a), 0
    if dense.any():
        gram += _syrk(np.ascontiguousarray(a[:, dense]))
    return gram, factored
