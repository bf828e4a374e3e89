"""Laplace volume: the whole curve log V(t) from the curvature at the truth and a Gaussian view of the prior.

Near the truth z0 (flat unconstrained coordinates), D(z) ≈ ½ (z − z0)ᵀ F (z − z0). The prior is taken
exactly when it is Gaussian in z, otherwise through its second-order expansion at z0 (DESIGN.md §1):

    log w(z) ≈ log w(z0) + gᵀ(z − z0) − ½ (z − z0)ᵀ H (z − z0),   g = ∇log w(z0),  H = −∇²log w(z0) ≻ 0,

i.e. C·N(z; μ, Σ) with Σ = H⁻¹, μ = z0 + Σg and log C = log w(z0) − log N(z0; μ, Σ) (0 for a Gaussian prior),
which keeps the density at z0 exact, so V(t) is exact as t → 0. In whitened coordinates u = L⁻¹(z − μ)
(Σ = L Lᵀ) the ball is {Q(u) ≤ t}, Q(u) = Σ_i a_i (u_i − m_i)² with a_i = ½ eig_i(Lᵀ F L) and
m = Uᵀ L⁻¹(z0 − μ), so

    log V(t) = log C + log P[Q ≤ t],  u ~ N(0, I)

— a generalized non-central χ² distribution function (:mod:`bayesvol.volume.gchisq`), flat directions
(a_i = 0)
contributing nothing. The volume dimension k(t) = 2 d log V / d log t comes from the same contour integral.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.scipy.linalg import solve_triangular

from bayesvol.curvature.fisher import DENSE_MAX_DIM, CurvatureError, Spectrum, fisher_spectrum
from bayesvol.errors import InputError
from bayesvol.model.covariates import merge_covariates
from bayesvol.model.model_class import ModelClass, ModelClassError
from bayesvol.volume.curve import VolumeCurve, check_eps2
from bayesvol.volume.gchisq import gchisq_volume

__all__ = ["LaplaceError", "LaplaceInfo", "PriorGaussian", "effective_dimension", "laplace_volume",
           "prior_gaussian"]

# eigenvalues above −_NEG_TOL·max|λ| are rounding, not indefiniteness (float64 Hessians: ~1e-14)
_NEG_TOL = 1e-9


class LaplaceError(InputError):
    """The Laplace approximation does not apply (bad radii, a prior or curvature that is not concave)."""


class LaplaceInfo(NamedTuple):
    """What :func:`laplace_volume` used, beside its curve (``VolumeCurve.diagnostics``).

    Attributes
    ----------
    centers : (r,) array
        The centers m_i of Q(u) = Σ a_i (u_i − m_i)², one per eigenvalue a_i > 0 kept.
    log_normalization : float
        log C of the prior's Gaussian view (nats; 0 for a Gaussian prior).
    prior_exact_gaussian : bool
        Whether the prior is exactly Gaussian in z (then only the curvature is approximated).
    curvature_method : str
        The curvature path ("dense", "gram", "lanczos").
    curvature_exact : bool
        Whether the spectrum is exact (False for Lanczos, whose unresolved directions count as flat,
        which tends to overestimate V at small t).
    dim : int
        d, the number of flat coordinates z.
    curvature : dict
        The curvature path's own details (``Spectrum.diagnostics``: Gram size, matvec count, …).

    """

    centers: np.ndarray
    log_normalization: float
    prior_exact_gaussian: bool
    curvature_method: str
    curvature_exact: bool
    dim: int
    curvature: dict[str, Any]


class PriorGaussian(NamedTuple):
    """The prior's Gaussian view C·N(μ, Σ) in unconstrained coordinates, Σ = L Lᵀ.

    Attributes
    ----------
    mean : (d,) array
        μ.
    sqrt_cov : (d,) or (d, d) array
        L: a diagonal (for a prior that factorizes over coordinates) or the lower Cholesky factor.
    log_normalization : float
        log C = log w(z0) − log N(z0; μ, Σ) (nats); 0 for a Gaussian prior.
    exact : bool
        Whether log w is exactly quadratic in z (within rounding), i.e. the prior is Gaussian in z.

    """

    mean: jax.Array
    sqrt_cov: jax.Array
    log_normalization: float
    exact: bool

    def whiten(self, z: jax.Array) -> jax.Array:
        """Whitened coordinates u = L⁻¹ (z − μ)."""
        if self.sqrt_cov.ndim == 1:
            return (z - self.mean) / self.sqrt_cov
        return solve_triangular(self.sqrt_cov, z - self.mean, lower=True)


def _not_concave(value: float, where: str) -> LaplaceError:
    return LaplaceError(
        f"the prior has no Laplace approximation at params0: −∇² log w(z0) has {where} eigenvalue "
        f"{value:.4g} (log w is not concave there, or not twice differentiable); use the sampling "
        "estimator bv.sampled_volume instead"
    )


# Module-level jitted derivatives keyed on the (hashable) model class: compiled once per class, not per call.
@partial(jax.jit, static_argnums=0)
def _prior_value_and_grad(mc: ModelClass, z: jax.Array) -> tuple[jax.Array, jax.Array]:
    return jax.value_and_grad(mc.log_prior)(z)


@partial(jax.jit, static_argnums=0)
def _prior_neg_hessian(mc: ModelClass, z: jax.Array) -> jax.Array:
    return -jax.hessian(mc.log_prior)(z)


@partial(jax.jit, static_argnums=0)
def _prior_neg_hvp(mc: ModelClass, z: jax.Array, v: jax.Array) -> jax.Array:
    return -jax.jvp(jax.grad(mc.log_prior), (z,), (v,))[1]


def prior_gaussian(mc: ModelClass, z0: jax.Array) -> PriorGaussian:
    """Second-order expansion of log w at z0 as C·N(μ, Σ) (see the module docstring).

    Dense −∇² log w for d ≤ 3000; above that the prior must factorize over coordinates (the usual
    independent priors of large models), checked with two Hessian-vector products.

    Raises
    ------
    LaplaceError
        If −∇² log w(z0) is not positive definite (or not finite).

    """
    d = mc.dim
    log_w0, g = _prior_value_and_grad(mc, z0)
    if not (np.isfinite(float(log_w0)) and bool(jnp.all(jnp.isfinite(g)))):
        raise LaplaceError("the prior's log density or its gradient is not finite at params0; use "
                           "bv.sampled_volume")
    if d <= DENSE_MAX_DIM:
        neg_hessian = partial(_prior_neg_hessian, mc)
        h = neg_hessian(z0)
        h = 0.5 * (h + h.T)
        if not bool(jnp.all(jnp.isfinite(h))):
            raise _not_concave(float("nan"), "a non-finite")
        evals = jnp.linalg.eigvalsh(h)
        if float(evals[0]) <= 0:
            raise _not_concave(float(evals[0]), "its smallest")
        diagonal = bool(jnp.all(h == jnp.diag(jnp.diag(h))))
        if diagonal:
            sqrt_cov = 1.0 / jnp.sqrt(jnp.diag(h))
            shift = g / jnp.diag(h)
        else:
            cov = jnp.linalg.inv(h)
            cov = 0.5 * (cov + cov.T)
            sqrt_cov = jnp.linalg.cholesky(cov)
            shift = cov @ g
        log_det_h = float(jnp.sum(jnp.log(evals)))
        # exactness: a Gaussian log density has a constant Hessian; compare at a whitened unit step away
        probe = z0 + (sqrt_cov * jnp.ones(d) if diagonal else sqrt_cov @ jnp.ones(d)) / float(np.sqrt(d))
        h_probe = neg_hessian(probe)
        exact = bool(jnp.allclose(h_probe, h, rtol=1e-9, atol=1e-12 * float(jnp.max(jnp.abs(h)))))
    else:
        ones = jnp.ones(d, z0.dtype)
        hvp = partial(_prior_neg_hvp, mc)
        diag = hvp(z0, ones)
        v = jax.random.normal(jax.random.PRNGKey(0), (d,), z0.dtype)
        hv = hvp(z0, v)
        tol = 1e3 * float(jnp.finfo(z0.dtype).eps)  # rounding of the dtype (float32 for huge models)
        if not bool(jnp.allclose(hv, diag * v, rtol=tol, atol=tol * float(jnp.max(jnp.abs(diag))))):
            raise LaplaceError(f"d = {d} > {DENSE_MAX_DIM} and the prior does not factorize over "
                               "coordinates: no matrix-free Laplace approximation of it; use "
                               "bv.sampled_volume")
        if float(jnp.min(diag)) <= 0:
            raise _not_concave(float(jnp.min(diag)), "its smallest")
        sqrt_cov = 1.0 / jnp.sqrt(diag)
        shift = g / diag
        log_det_h = float(jnp.sum(jnp.log(diag)))
        probe = z0 + sqrt_cov / float(np.sqrt(d))
        diag_probe = hvp(probe, ones)
        exact = bool(jnp.allclose(diag_probe, diag, rtol=tol))
    mean = z0 + shift
    # log N(z0; μ, Σ) = −(d/2) log 2π + ½ log det H − ½ gᵀ Σ g   (z0 − μ = −Σg)
    quad = float(jnp.dot(g, shift))
    log_gauss_z0 = -0.5 * d * np.log(2 * np.pi) + 0.5 * log_det_h - 0.5 * quad
    log_norm = 0.0 if exact else float(log_w0) - log_gauss_z0
    return PriorGaussian(mean, sqrt_cov, log_norm, exact)


def _check_eps2(eps2: Any) -> np.ndarray:
    return check_eps2(eps2, LaplaceError)


def check_curvature(spectrum: Spectrum, what: str) -> np.ndarray:
    """Eigenvalues with rounding-level values set to 0; a genuinely negative one is an error."""
    lam = np.asarray(spectrum.eigenvalues, dtype=np.float64)
    scale = float(np.max(np.abs(lam))) if lam.size else 0.0
    if lam.size and lam.min() < -_NEG_TOL * scale:
        raise CurvatureError(
            f"the curvature ({what}) has a negative eigenvalue {lam.min():.4g} (largest {lam.max():.4g}): "
            "params0 is not a minimum of the loss, so the quadratic approximation has no ball to measure; "
            "use the minimizer (θ̂ or θ*) or bv.sampled_volume"
        )
    # |λ| below the rounding level of a float64 Hessian (10·d·eps·max|λ|) is numerically 0: a flat direction
    return np.where(np.abs(lam) <= 10 * spectrum.dim * np.finfo(np.float64).eps * scale, 0.0,
                    np.maximum(lam, 0.0))


def laplace_volume(
    mc: ModelClass,
    params0: Mapping[str, Any],
    eps2: Any,
    *,
    method: str = "auto",
    data: Any = None,
    num_matvecs: int = 80,
    key: jax.Array | None = None,
    kl_draws: int | None = None,
    covariates: Mapping[str, Any] | None = None,
    **model_kwargs: Any,
) -> VolumeCurve:
    """Laplace approximation of log V(t) = log w({θ : D(P_θ0 ‖ P_θ) ≤ t}) for every t in ``eps2`` (nats).

    Parameters
    ----------
    mc
        The model class.
    params0
        The truth θ0 (dict of constrained site values); for an agnostic truth, the projection θ*.
    eps2
        Radii t > 0 (nats); returned sorted.
    method
        Curvature path: "dense", "gram", "lanczos" or "auto" (see :func:`bayesvol.fisher_spectrum`).
        Lanczos resolves only the top of the spectrum: the rest is treated as flat (an approximation,
        flagged by ``diagnostics.curvature_exact``).
    data
        If given (agnostic truth), the curvature is the Hessian of the empirical loss at ``params0``
        instead of the Fisher information at the truth.
    num_matvecs, key
        Lanczos steps and start vector.
    kl_draws
        Monte Carlo draws per row of D̂ for a likelihood without closed-form KL
        (:func:`bayesvol.kl_function`).
    covariates, **model_kwargs
        Covariate rows over which D is averaged: keywords, or one mapping ``covariates=`` (for argument
        names that collide with these parameters). Per-row covariates are required.

    Returns
    -------
    VolumeCurve
        ``log_volume``; ``volume_dimension`` = the volume dimension k(t) = 2 d log V/d log t (d as t → 0 for a
        regular class, the number of resolved curvature directions at radius t in general);
        ``stderr`` = 0 (deterministic); ``eigenvalues`` = the a_i > 0 used; ``diagnostics`` a
        :class:`LaplaceInfo` (the centers m_i, log C, the curvature path, whether the prior is exactly
        Gaussian in z).

    Raises
    ------
    LaplaceError
        Bad radii; a prior that is not log-concave at params0 (use ``bv.sampled_volume``).
    CurvatureError
        A curvature with a negative eigenvalue (params0 not a minimum).
    ModelClassError
        params0 outside the support of the prior.

    """
    t = _check_eps2(eps2)
    if mc.has_factor:
        raise ModelClassError(
            f"laplace_volume needs a normalized prior w; the factor site(s) {list(mc.factor_sites)} reweight "
            "it by an unknown constant (fit and log_marginal accept them)")
    if method not in ("auto", "dense", "gram", "lanczos"):  # before the prior's Gaussian fit
        raise LaplaceError(f"method must be 'auto', 'dense', 'gram' or 'lanczos', got {method!r}")
    try:
        z0 = mc.flatten(params0)
    except ModelClassError as err:
        raise ModelClassError(f"params0: {err}") from err
    prior = prior_gaussian(mc, z0)
    offset = prior.whiten(z0)
    spectrum = fisher_spectrum(mc, params0, method=method, sqrt_cov=prior.sqrt_cov, project=offset[None],
                               data=data, num_matvecs=num_matvecs, key=key, kl_draws=kl_draws,
                               covariates=merge_covariates(covariates, model_kwargs))
    lam = check_curvature(spectrum, "Hessian of the empirical loss" if data is not None
                          else "Fisher information at the truth")
    a = 0.5 * lam
    centers = np.asarray(spectrum.projections[0], dtype=np.float64)
    keep = a > 0
    a, centers = a[keep], centers[keep]
    res = gchisq_volume(t, a, centers)
    info = LaplaceInfo(centers=centers, log_normalization=float(prior.log_normalization),
                       prior_exact_gaussian=bool(prior.exact), curvature_method=spectrum.method,
                       curvature_exact=bool(spectrum.exact), dim=mc.dim, curvature=dict(spectrum.diagnostics))
    zeros = np.zeros_like(t)
    return VolumeCurve(eps2=t, log_volume=prior.log_normalization + res.log_cdf, stderr=zeros,
                       volume_dimension=2.0 * res.dlog_cdf_dlog_t, volume_dimension_stderr=zeros.copy(),
                       method="laplace", eigenvalues=a, diagnostics=info)


def effective_dimension(a: Any, n: Any) -> np.ndarray:
    """Effective dimension k_eff(n) = Σ_i n λ_i / (1 + n λ_i), λ_i = eig(ΣF) = 2 a_i.

    Convention: with the gχ² weights a_i of :func:`laplace_volume` (a_i = ½ eig(ΣF)), this is the k for
    which the log-det part of the Laplace bound, ½ Σ log(1 + nλ_i), grows locally like (k/2) log n
    (k_eff = 2n ∂_n of it). Each direction counts ≈ 1 once nλ_i ≫ 1 and ≈ 0 while nλ_i ≪ 1, so
    k_eff → d for a regular class and stays ≪ d for a fast-decaying spectrum. Vectorized over n.
    """
    lam = 2.0 * np.asarray(a, dtype=np.float64).reshape(-1)
    n_arr = np.asarray(n, dtype=np.float64)
    if not np.all(np.isfinite(lam) & (lam >= 0)):
        raise InputError(f"a (the gχ² weights ½ eig(ΣF)) must be finite and ≥ 0, got min {lam.min() / 2:.3g}")
    if not np.all(np.isfinite(n_arr) & (n_arr >= 0)):
        raise InputError(f"n must be finite and ≥ 0, got {n_arr[~(np.isfinite(n_arr) & (n_arr >= 0))][:3]}")
    x = n_arr[..., None] * lam
    return np.sum(x / (1.0 + x), axis=-1)
