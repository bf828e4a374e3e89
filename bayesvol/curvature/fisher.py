"""Curvature of the divergence at the truth: Fisher information, Gauss–Newton and Hessians, and their spectra.

At the truth z0 (flat unconstrained coordinates of the ModelClass), the per-sample divergence
D(z) = (1/m) Σ_i KL(P_z0(·|x_i) ‖ P_z(·|x_i)) has gradient 0 and Hessian

    F = ∇²D(z0) = (1/m) Σ_i J_iᵀ Λ_i J_i,    J_i = ∂η_i/∂z,   Λ_i = ∇²_η KL(p_{η_i(z0)} ‖ p_η)|_{η_i(z0)},

the Fisher information of the per-sample log loss (= the expected Hessian at the truth = the generalized
Gauss–Newton matrix there), η_i the parameters of the likelihood's distribution on row i.

Choice of Λ. Rather than a table of output-space Fisher matrices per family (1/σ² for a Normal mean,
diag(p) − ppᵀ for Categorical logits, p(1 − p) for Bernoulli logits, …), Λ_i is derived generically as the
Hessian of KL(p0 ‖ p(η)) in the *flattened pytree leaves* η of the NumPyro distribution object on that row
(its loc/scale, logits, probs, …), using the closed-form KLs of
:mod:`bayesvol.divergence.kl`. This covers every
family with a closed-form KL, in whatever parameterization the model wrote it, and is exactly the Fisher
information of the family in η. Leaves that do not depend on z (a fixed σ, a ``total_count``) have zero
Jacobian rows and are dropped, so k counts only the outputs that move.

Three ways to the spectrum of the prior-whitened curvature F̃ = Lᵀ F L (Σ = L Lᵀ the prior covariance;
L = I by default):

* ``"dense"`` — jax.hessian of D (d ≲ a few thousand), eigh;
* ``"gram"`` — when m·k < d, the non-zero spectrum of F̃ = GᵀG (G the (mk × d) stack of C_iᵀ J_i L/√m,
  Λ_i = C_i C_iᵀ) is that of the (mk × mk) Gram matrix G Gᵀ: exact, with eigenvectors Gᵀw/√λ; per-example
  Jacobians by vmapped reverse mode (the cost of m·k per-example gradients);
* ``"lanczos"`` — Lanczos with full reorthogonalization on Hessian-vector products (see :func:`lanczos` for
  why not matfree's): the top of the spectrum, and a stochastic-Lanczos-quadrature spectral density from the
  Ritz weights.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import xarray as xr

from bayesvol.curvature.gram import gram_matrix, weight_blocks
from bayesvol.divergence.kl import distribution_kl, kl_function
from bayesvol.errors import InputError, as_key, check_counts, check_memory
from bayesvol.model.covariates import freeze, merge_covariates, num_rows, thaw
from bayesvol.model.model_class import Array, ModelClass, ModelClassError

__all__ = [
    "CurvatureError",
    "Spectrum",
    "fisher",
    "fisher_spectrum",
    "ggn",
    "gram_factor",
    "lanczos",
    "loss_hessian",
    "spectrum_from_matrix",
]

DENSE_MAX_DIM = 3000


class CurvatureError(InputError):
    """The curvature cannot be used as asked (indefinite where a minimum was expected, bad method, …)."""


@dataclass(frozen=True)
class Spectrum:
    """Eigen-decomposition of a (prior-whitened) curvature matrix F̃ = Lᵀ F L.

    Attributes
    ----------
    eigenvalues : (r,) array
        Eigenvalues, descending: all d (dense), the non-zero ones (gram, r ≤ mk) or Ritz values (lanczos).
    dim : int
        The dimension d; d − r eigenvalues are 0 (gram) or unresolved (lanczos).
    method : str
        "dense", "gram" or "lanczos".
    eigenvectors : (d, q) array or None
        The top q eigenvectors as columns (q as requested).
    projections : (p, r) array or None
        Uᵀb for each requested vector b (rows), in the order of ``eigenvalues``.
    weights : (r,) array
        Spectral weight of each eigenvalue: 1 for exact paths; for Lanczos, d·(e₁ᵀy_j)² (SLQ).
    exact : bool
        Whether ``eigenvalues`` is the exact spectrum (True for dense and gram).
    diagnostics : dict
        Path-specific details (Gram size, matvec count, …).

    """

    eigenvalues: np.ndarray
    dim: int
    method: str
    eigenvectors: np.ndarray | None = None
    projections: np.ndarray | None = None
    weights: np.ndarray | None = None
    exact: bool = True
    diagnostics: dict[str, Any] = field(default_factory=dict)

    def density(self, grid: np.ndarray, bandwidth: float | None = None) -> np.ndarray:
        """Gaussian-smoothed spectral density on ``grid`` (per unit eigenvalue, integrating to d).

        The d − r unresolved/zero eigenvalues of the exact paths are put at 0.
        """
        grid = np.asarray(grid, dtype=float)
        lam = np.asarray(self.eigenvalues, dtype=float)
        w = np.ones_like(lam) if self.weights is None else np.asarray(self.weights, dtype=float)
        if self.exact and self.dim > lam.size:
            lam, w = np.append(lam, 0.0), np.append(w, self.dim - lam.size)
        if bandwidth is None:
            bandwidth = 0.02 * max(float(np.ptp(grid)), 1e-300)
        z = (grid[:, None] - lam[None, :]) / bandwidth
        return (np.exp(-0.5 * z**2) * w).sum(axis=1) / (bandwidth * np.sqrt(2 * np.pi))

    def to_xarray(self) -> xr.Dataset:
        """Eigenvalues and weights over the coordinate ``index`` (0 = largest)."""
        n = len(self.eigenvalues)
        weights = np.ones(n) if self.weights is None else np.asarray(self.weights)
        ds = xr.Dataset({"eigenvalue": ("index", np.asarray(self.eigenvalues)), "weight": ("index", weights)},
                        coords={"index": np.arange(n)})
        ds.attrs.update(method=self.method, dim=self.dim, exact=int(self.exact))
        return ds


# ------------------------------------------------------------------------------------------------
# prior whitening L (Σ = L Lᵀ): None (identity), a (d,) diagonal, or a (d, d) matrix.
def _apply_l(sqrt_cov: Array | None, v: Array) -> Array:
    if sqrt_cov is None:
        return v
    return sqrt_cov * v if jnp.ndim(sqrt_cov) == 1 else sqrt_cov @ v


def _apply_lt(sqrt_cov: Array | None, v: Array) -> Array:
    if sqrt_cov is None:
        return v
    return sqrt_cov * v if jnp.ndim(sqrt_cov) == 1 else sqrt_cov.T @ v


def _check_sqrt_cov(sqrt_cov: Any, d: int) -> Array | None:
    if sqrt_cov is None:
        return None
    arr = jnp.asarray(sqrt_cov)
    if arr.shape not in ((d,), (d, d)):
        raise CurvatureError(f"sqrt_cov must have shape ({d},) or ({d}, {d}), got {arr.shape}")
    return arr


# ------------------------------------------------------------------------------------------------
def spectrum_from_matrix(matrix: Array, *, sqrt_cov: Array | None = None, project: Array | None = None,
                         num_eigenvectors: int = 0) -> Spectrum:
    """Spectrum of Lᵀ M L for a dense symmetric M (d × d), with projections Uᵀb of the rows of ``project``."""
    m = np.asarray(matrix, dtype=np.float64)
    d = m.shape[0]
    if sqrt_cov is not None:
        lmat = np.diag(np.asarray(sqrt_cov)) if np.ndim(sqrt_cov) == 1 else np.asarray(sqrt_cov)
        m = lmat.T @ m @ lmat
    m = 0.5 * (m + m.T)
    vals, vecs = np.linalg.eigh(m)
    order = np.argsort(vals)[::-1]
    vals, vecs = vals[order], vecs[:, order]
    proj = None if project is None else np.atleast_2d(np.asarray(project)) @ vecs
    return Spectrum(vals, d, "dense", eigenvectors=vecs[:, :num_eigenvectors] if num_eigenvectors else None,
                    projections=proj, weights=np.ones(d))


def _z(mc: ModelClass, params: Mapping[str, Any]) -> Array:
    try:
        return mc.flatten(params)
    except ModelClassError as err:
        raise ModelClassError(f"params0: {err}") from err


def _resolve(mc: ModelClass, covariates: Mapping[str, Any] | None, model_kwargs: Mapping[str, Any],
             data: Any = None) -> tuple[Any, dict[str, Any]]:
    """(data values or None, the resolved covariates): the one front-door step of every function here."""
    if data is None:
        return None, mc.resolve_covariates(covariates, model_kwargs)
    data, carried = mc.data_value(data)
    return data, mc.resolve_covariates(covariates, {**carried, **model_kwargs}, data=data)


def fisher(mc: ModelClass, params0: Mapping[str, Any], *, covariates: Mapping[str, Any] | None = None,
           **model_kwargs: Any) -> Array:
    """Dense Fisher information F = ∇²_z D(z)|_{z0} (d × d, nats per unit z²), D per sample at the truth."""
    _, model_kwargs = _resolve(mc, covariates, model_kwargs)
    z0 = _z(mc, params0)
    return _hessian(mc, z0, dict(params0), None, model_kwargs)


def loss_hessian(mc: ModelClass, params: Mapping[str, Any], *, data: Any = None,
                 params0: Mapping[str, Any] | None = None, covariates: Mapping[str, Any] | None = None,
                 **model_kwargs: Any) -> Array:
    """True Hessian (d × d) of a loss at ``params``: for θ̂, θ* or any other point.

    The loss is the empirical −(1/n) Σ log P_z(y_i | x_i) (``data`` given) or the expected excess loss
    D_{params0}(z) (``params0`` given), in nats.
    """
    if (data is None) == (params0 is None):
        raise CurvatureError("loss_hessian needs exactly one of data= (empirical loss) or params0= "
                             "(expected loss D(P_θ0 ‖ P_θ))")
    data, model_kwargs = _resolve(mc, covariates, model_kwargs, data)
    z = _z(mc, params)
    return _hessian(mc, z, None if params0 is None else dict(params0), data, model_kwargs)


def _loss_fn(mc: ModelClass, data: Any, params0: Mapping[str, Any] | None, model_kwargs: Mapping[str, Any],
             kl_draws: int | None = None) -> Callable[[Array], Array]:
    if data is not None:
        return lambda z: -jnp.mean(mc.log_likelihood(z, data, covariates=model_kwargs))
    return kl_function(mc, params0, kl_draws=kl_draws, covariates=model_kwargs)


@partial(jax.jit, static_argnums=(0, 1, 6))
def _dense_hessian(mc: ModelClass, static: tuple[tuple[str, Any], ...], z: Array, params0: Any, data: Any,
                   arrays: Mapping[str, Array], kl_draws: int | None = None) -> Array:
    loss = _loss_fn(mc, data, params0 if data is None else None, {**thaw(static), **arrays}, kl_draws)
    return jax.hessian(loss)(z)


def lanczos(matvec: Callable[[Array], Array], v0: Array, num: int) -> tuple[Array, Array, Array]:
    """Lanczos tridiagonalization with full reorthogonalization: Ritz values, Ritz vectors, SLQ weights.

    Returns the eigenvalues θ_j of the (num × num) tridiagonal T, the Ritz vectors (num × d, rows) and the
    weights (e₁ᵀy_j)² of stochastic Lanczos quadrature. Hand-written rather than ``matfree.decomp.
    tridiag_sym(reortho="full")`` because that costs ≈ 90 ms per step at d = 10⁵ (measured here: 30 → 60
    steps on a diagonal matvec, 3.3 s vs 0.7 s) — more than the Hessian-vector product it wraps; here one
    step is a matvec plus one classical Gram–Schmidt pass against the stored basis (2·num·d multiply-adds,
    memory-bound: it reads the basis twice).
    """
    d = v0.shape[0]
    q0 = v0 / jnp.linalg.norm(v0)

    def body(k: int, state: tuple[Array, ...]) -> tuple[Array, ...]:
        basis, alpha, beta, q, q_prev, b_prev = state
        basis = basis.at[k].set(q)
        w = matvec(q)
        a = jnp.dot(q, w)
        w = w - a * q - b_prev * q_prev
        w = w - (basis @ w) @ basis  # one classical Gram–Schmidt pass; rows beyond k are still zero
        b = jnp.linalg.norm(w)
        breakdown = b <= 1e-12 * jnp.maximum(jnp.abs(a), 1.0)  # an invariant subspace: stop growing it
        q_next = jnp.where(breakdown, 0.0, w / jnp.where(breakdown, 1.0, b))
        b = jnp.where(breakdown, 0.0, b)
        return basis, alpha.at[k].set(a), beta.at[k].set(b), q_next, q, b

    init = (jnp.zeros((num, d), v0.dtype), jnp.zeros(num, v0.dtype), jnp.zeros(num, v0.dtype), q0,
            jnp.zeros_like(q0), jnp.zeros((), v0.dtype))
    basis, alpha, beta, *_ = jax.lax.fori_loop(0, num, body, init)
    tri = jnp.diag(alpha) + jnp.diag(beta[:-1], 1) + jnp.diag(beta[:-1], -1)
    vals, vecs = jnp.linalg.eigh(tri)
    return vals, vecs.T @ basis, vecs[0] ** 2


@partial(jax.jit, static_argnums=(0, 1, 2, 9))
def _lanczos_core(mc: ModelClass, static: tuple[tuple[str, Any], ...], num: int, z: Array, v0: Array,
                  sqrt_cov: Array | None, params0: Any, data: Any, arrays: Mapping[str, Array],
                  kl_draws: int | None = None) -> tuple[Array, Array, Array]:
    loss = _loss_fn(mc, data, params0 if data is None else None, {**thaw(static), **arrays}, kl_draws)
    # linearize once: the primal forward/backward pass at z is shared by every Hessian-vector product
    _, hvp = jax.linearize(jax.grad(loss), z)

    def matvec(v: Array) -> Array:
        return _apply_lt(sqrt_cov, hvp(_apply_l(sqrt_cov, v)))

    return lanczos(matvec, v0, num)


def _hessian(mc: ModelClass, z: Array, params0: Any, data: Any, model_kwargs: Mapping[str, Any],
             kl_draws: int | None = None) -> Array:
    arrays, static = mc.row_layout.split(model_kwargs)
    return _dense_hessian(mc, static, z, params0, data, arrays, kl_draws)


# ------------------------------------------------------------------------------------------------
# Gram path: per-row distribution parameters η_i(z) and their output-space Fisher Λ_i.
def _split_rows(mc: ModelClass, model_kwargs: Mapping[str, Any]
                ) -> tuple[int, dict[str, Any], dict[str, Any]]:
    """(rows m, per-row covariates, the rest) by the class's row layout; m = 1 without per-row covariates."""
    rows, static = mc.row_layout.split(model_kwargs)
    return (num_rows(next(iter(rows.values()))) if rows else 1), rows, thaw(static)


def _is_float(x: Any) -> bool:
    return jnp.issubdtype(jnp.result_type(x), jnp.floating)


def _row_distribution(mc: ModelClass, z: Array, row: Mapping[str, Array], static: Mapping[str, Any],
                      batched: bool) -> Any:
    kwargs = {**static, **({k: v[None] for k, v in row.items()} if batched else {})}
    return mc.observed_trace(mc.unflatten(z), kwargs)[mc.observed_site]["fn"]


def _eta_row(mc: ModelClass, static: tuple[tuple[str, Any], ...], batched: bool, is_float: tuple[bool, ...],
             z: Array, row: Mapping[str, Array]) -> Array:
    """The float distribution parameters η_i(z) of one covariate row, flattened."""
    fn = _row_distribution(mc, z, row, thaw(static), batched)
    leaves = jax.tree_util.tree_leaves(fn)
    return jnp.concatenate([jnp.ravel(leaf) for leaf, f in zip(leaves, is_float) if f])


def _kl_of_eta(is_float: tuple[bool, ...], eta: Array, fn0: Any) -> Array:
    """KL(p0 ‖ p(η)) for one row, with η the float leaves of p's pytree."""
    out, start = [], 0
    for leaf, f in zip(jax.tree_util.tree_leaves(fn0), is_float):
        if f:
            size = int(np.size(leaf))
            out.append(eta[start:start + size].reshape(jnp.shape(leaf)))
            start += size
        else:
            out.append(leaf)
    fn = jax.tree_util.tree_unflatten(jax.tree_util.tree_structure(fn0), out)
    return jnp.sum(distribution_kl(fn0, fn).value)


# jitted with the class and the output structure static: compiled once per (class, covariate layout)
@partial(jax.jit, static_argnums=(0, 1, 2, 3))
def _moving_outputs(mc: ModelClass, static: tuple[tuple[str, Any], ...], batched: bool,
                    is_float: tuple[bool, ...], z: Array, rows: Mapping[str, Array]) -> Array:
    """Outputs that move with z: a random tangent's image is exactly 0 only on constant outputs (a.s.)."""
    tangent = jax.random.normal(jax.random.PRNGKey(0), z.shape, z.dtype)

    def eta(z: Array, row: Mapping[str, Array]) -> Array:
        return _eta_row(mc, static, batched, is_float, z, row)

    if batched:
        image = jax.vmap(lambda row: jax.jvp(lambda z: eta(z, row), (z,), (tangent,))[1])(rows)
        return jnp.any(image != 0, axis=0)
    return jax.jvp(lambda z: eta(z, {}), (z,), (tangent,))[1] != 0


@partial(jax.jit, static_argnums=(0, 1, 2, 3, 4, 5))
def _factor(mc: ModelClass, static: tuple[tuple[str, Any], ...], batched: bool, is_float: tuple[bool, ...],
            idx: tuple[int, ...], n_rows: int, z: Array, rows: Mapping[str, Array], sqrt_cov: Array | None
            ) -> tuple[Array, Array]:
    idx_arr = np.asarray(idx, dtype=int)
    d = z.shape[0]

    def eta(z: Array, row: Mapping[str, Array]) -> Array:
        return _eta_row(mc, static, batched, is_float, z, row)

    kl_hessian = jax.hessian(partial(_kl_of_eta, is_float))
    if batched:
        fn0 = jax.vmap(lambda row: _row_distribution(mc, z, row, thaw(static), True))(rows)
        lam = jax.vmap(kl_hessian)(jax.vmap(lambda row: eta(z, row))(rows), fn0)
    else:
        fn0 = _row_distribution(mc, z, {}, thaw(static), False)
        lam = kl_hessian(eta(z, {}), fn0)[None] / n_rows
    lam = lam[:, idx_arr][:, :, idx_arr]
    # Λ_i = C_i C_iᵀ by a symmetric square root (Λ_i ⪰ 0 up to rounding; clip only the rounding)
    evals, evecs = jnp.linalg.eigh(0.5 * (lam + jnp.swapaxes(lam, 1, 2)))
    lowest = jnp.min(evals) / jnp.max(jnp.abs(evals))
    c_t = jnp.swapaxes(evecs * jnp.sqrt(jnp.maximum(evals, 0.0))[:, None, :], 1, 2)  # C_iᵀ, (m, k, k)

    def row_factor(row: Mapping[str, Array], ct: Array) -> Array:
        g = ct @ jax.jacrev(lambda z: eta(z, row)[idx_arr])(z)  # (k, d): k per-example gradients
        if sqrt_cov is None:
            return g
        return g * sqrt_cov if sqrt_cov.ndim == 1 else g @ sqrt_cov

    g = jax.vmap(row_factor)(rows, c_t) if batched else row_factor({}, c_t[0])[None]
    return g.reshape(-1, d) / jnp.sqrt(lam.shape[0] * 1.0), lowest


def gram_factor(mc: ModelClass, params0: Mapping[str, Any], *, sqrt_cov: Array | None = None,
                covariates: Mapping[str, Any] | None = None, **model_kwargs: Any
                ) -> tuple[Array, dict[str, Any]]:
    """The factor G (mk × d) with Lᵀ F L = GᵀG: rows C_iᵀ J_i L / √m for each covariate row i.

    J_i (k × d) is the per-example Jacobian of the moving distribution parameters of row i (vmapped
    reverse mode: m·k per-example gradients), Λ_i = C_i C_iᵀ the Hessian of the row's KL in them.
    """
    _, model_kwargs = _resolve(mc, covariates, model_kwargs)
    z0 = _z(mc, params0)
    sqrt_cov = _check_sqrt_cov(sqrt_cov, mc.dim)
    m, rows, static_kwargs = _split_rows(mc, model_kwargs)
    batched = bool(rows)
    static = freeze(static_kwargs)
    fn0 = jax.vmap(lambda row: _row_distribution(mc, z0, row, static_kwargs, True))(rows) if batched \
        else _row_distribution(mc, z0, {}, static_kwargs, False)
    is_float = tuple(_is_float(leaf) for leaf in jax.tree_util.tree_leaves(fn0))
    idx = tuple(int(i) for i in np.flatnonzero(np.asarray(_moving_outputs(mc, static, batched, is_float,
                                                                          z0, rows))))
    n_rows = 1
    if not batched:  # no row-indexed covariates (a generative class): D is the mean over the site's rows
        site0 = mc.observed_trace(params0, static_kwargs)[mc.observed_site]
        n_rows = int(mc.per_datum(site0, jnp.zeros(site0["fn"].batch_shape)).shape[0])
    g, lowest = _factor(mc, static, batched, is_float, idx, n_rows, z0, rows, sqrt_cov)
    if float(lowest) < -1e-10:
        raise CurvatureError(f"the output-space Fisher Λ of the likelihood has a negative eigenvalue "
                             f"({float(lowest):.3g} relative): its KL is not convex at the truth")
    return g, {"rows": m if batched else 1, "outputs_per_row": len(idx)}


def ggn(mc: ModelClass, params: Mapping[str, Any], *, covariates: Mapping[str, Any] | None = None,
        **model_kwargs: Any) -> Array:
    """Dense generalized Gauss–Newton matrix (1/m) Σ_i J_iᵀ Λ_i J_i at any θ (d × d).

    Λ_i is the output-space Fisher information of row i's distribution at θ itself (the Hessian of
    KL(p_θ ‖ p_η) in η), so the GGN is positive semi-definite everywhere and equals the Fisher
    information ∇²D(z0) at the truth.
    """
    g, _ = gram_factor(mc, params, covariates=merge_covariates(covariates, model_kwargs))
    return g.T @ g


def _gram_spectrum(mc: ModelClass, params0: Mapping[str, Any], sqrt_cov: Array | None, project: Array | None,
                   num_eigenvectors: int, model_kwargs: Mapping[str, Any]) -> Spectrum:
    g, info = gram_factor(mc, params0, sqrt_cov=sqrt_cov, covariates=model_kwargs)
    # the gradients are as precise as the parameters they were taken at (float32 z: float32 rounding)
    eps = float(np.finfo(np.asarray(_z(mc, params0)).dtype).eps)
    gram, factored = gram_matrix(g, weight_blocks(mc.z_layout), eps=eps)
    vals, w = np.linalg.eigh(gram)
    order = np.argsort(vals)[::-1]
    vals, w = vals[order], w[:, order]
    tol = vals[0] * max(gram.shape) * np.finfo(np.float64).eps if vals.size else 0.0
    nonzero = vals > tol
    vals, w = vals[nonzero], w[:, nonzero]
    g_host = np.asarray(g)  # a view on CPU: products below are BLAS calls on it, no transposes
    proj = None
    if project is not None:
        b = np.atleast_2d(np.asarray(project, dtype=g_host.dtype))
        proj = ((g_host @ b.T).T.astype(np.float64) @ w) / np.sqrt(vals)  # Uᵀb = Λ^{-1/2} Wᵀ (G b)
    vecs = None
    if num_eigenvectors:
        q = min(num_eigenvectors, vals.size)
        vecs = g_host.T @ (w[:, :q] / np.sqrt(vals[:q])).astype(g_host.dtype)
    info = {**info, "gram_size": int(gram.shape[0]), "rank": int(vals.size), "factored_columns": factored}
    return Spectrum(vals, mc.dim, "gram", eigenvectors=vecs, projections=proj, weights=np.ones(vals.size),
                    diagnostics=info)


def _lanczos_spectrum(mc: ModelClass, z: Array, params0: Any, data: Any, model_kwargs: Mapping[str, Any],
                      sqrt_cov: Array | None, project: Array | None, num_eigenvectors: int, num_matvecs: int,
                      key: Array, kl_draws: int | None = None) -> Spectrum:
    d = mc.dim
    v0 = jax.random.normal(key, (d,), z.dtype)
    num = min(num_matvecs, d)
    arrays, static = mc.row_layout.split(model_kwargs)
    vals, vecs, slq = _lanczos_core(mc, static, num, z, v0, sqrt_cov, params0, data, arrays, kl_draws)
    vals, vecs, slq = np.asarray(vals), np.asarray(vecs), np.asarray(slq)  # vecs: (num, d) rows
    order = np.argsort(vals)[::-1]
    vals, vecs, weights = vals[order], vecs[order], d * slq[order]
    proj = None if project is None else np.atleast_2d(np.asarray(project)) @ vecs.T
    q = min(num_eigenvectors, num)
    return Spectrum(vals, d, "lanczos", eigenvectors=vecs[:q].T if q else None, projections=proj,
                    weights=weights, exact=False, diagnostics={"num_matvecs": num})


def fisher_spectrum(
    mc: ModelClass,
    params0: Mapping[str, Any],
    *,
    method: str = "auto",
    sqrt_cov: Array | None = None,
    project: Array | None = None,
    num_eigenvectors: int = 0,
    num_matvecs: int = 80,
    data: Any = None,
    key: Array | None = None,
    kl_draws: int | None = None,
    covariates: Mapping[str, Any] | None = None,
    **model_kwargs: Any,
) -> Spectrum:
    """Spectrum of the prior-whitened curvature Lᵀ F L at the truth (nats per unit z²).

    F is the Fisher information ∇²D(z0) of the per-sample log loss averaged over the covariate rows
    (``data=None``), or — for an agnostic truth θ* — the Hessian of the empirical loss
    −(1/n) Σ log P_z(y_i|x_i) at ``params0`` (``data`` given).

    Parameters
    ----------
    mc, params0, **model_kwargs
        The class, the truth (dict of constrained values) and the covariate rows (or ``covariates=``,
        one mapping, for argument names that collide with these parameters).
    method
        "dense" (jax.hessian; d ≤ a few thousand), "gram" (exact non-zero spectrum through the (mk × mk)
        Gram matrix; Fisher only), "lanczos" (top of the spectrum), or "auto": dense when
        d ≤ 3000, else gram when m·k < d, else lanczos.
    sqrt_cov
        L with Σ = L Lᵀ the prior covariance in z: a (d,) diagonal or a (d, d) matrix; None = identity.
    project
        Vectors b (rows, in whitened coordinates) whose coordinates Uᵀb in the eigenbasis are returned.
    num_eigenvectors
        How many top eigenvectors to return.
    num_matvecs
        Lanczos steps (Hessian-vector products).
    data
        Observed data for the empirical-loss Hessian.
    key
        PRNG key of the Lanczos start vector (typed or raw).
    kl_draws
        Monte Carlo draws per row for a likelihood without a closed-form KL (see
        :func:`bayesvol.kl_function`; dense and Lanczos paths).
    covariates
        The covariates as one mapping, for argument names that collide with these parameters.

    """
    d = mc.dim
    data, model_kwargs = _resolve(mc, covariates, model_kwargs, data)
    sqrt_cov = _check_sqrt_cov(sqrt_cov, d)
    if method not in ("auto", "dense", "gram", "lanczos"):
        raise CurvatureError(f"method must be 'auto', 'dense', 'gram' or 'lanczos', got {method!r}")
    if method == "gram" and data is not None:
        raise CurvatureError("method='gram' gives the Gauss–Newton/Fisher matrix, not the Hessian of an "
                             "empirical loss: use 'dense' or 'lanczos' with data=")
    if method == "auto":
        if d <= DENSE_MAX_DIM:
            method = "dense"
        elif data is None and (_split_rows(mc, model_kwargs)[0] * _outputs_guess(mc, params0, model_kwargs)
                               < d):
            method = "gram"
        else:
            method = "lanczos"
    if method == "gram":
        rows = _split_rows(mc, model_kwargs)[0] * _outputs_guess(mc, params0, model_kwargs)
        check_memory(8.0 * rows * (rows + d),
                     f"the Gram path's per-example gradients ({rows} × {d}) and Gram matrix ({rows}²)",
                     "use fewer covariate rows, or method='lanczos'")
        return _gram_spectrum(mc, params0, sqrt_cov, project, num_eigenvectors, model_kwargs)
    z0 = _z(mc, params0)
    p0 = dict(params0) if data is None else None
    if method == "dense":
        check_memory(8.0 * 3 * d * d, f"a dense {d} × {d} Hessian (with its eigendecomposition)",
                     "use method='gram' or method='lanczos'")
        return spectrum_from_matrix(_hessian(mc, z0, p0, data, model_kwargs, kl_draws), sqrt_cov=sqrt_cov,
                                    project=project, num_eigenvectors=num_eigenvectors)
    key = jax.random.PRNGKey(0) if key is None else as_key(key)
    check_counts(error=CurvatureError, num_matvecs=num_matvecs)
    check_memory(8.0 * min(num_matvecs, d) * d, f"the Lanczos basis ({min(num_matvecs, d)} × {d})",
                 "use fewer num_matvecs")
    return _lanczos_spectrum(mc, z0, p0, data, model_kwargs, sqrt_cov, project, num_eigenvectors, num_matvecs,
                             key, kl_draws)


def _outputs_guess(mc: ModelClass, params0: Mapping[str, Any], model_kwargs: Mapping[str, Any]) -> int:
    """Number k of float distribution parameters per row (an upper bound on the moving ones)."""
    _, rows, static = _split_rows(mc, model_kwargs)
    first = {k: v[0] for k, v in rows.items()}
    fn = _row_distribution(mc, _z(mc, params0), first, static, bool(rows))
    return sum(int(np.size(leaf)) for leaf in jax.tree_util.tree_leaves(fn) if _is_float(leaf))
