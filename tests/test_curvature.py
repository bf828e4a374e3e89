"""Curvature paths agree with each other and with closed forms."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import bayesvol_zoo as models
from bayesvol.curvature.fisher import (
    CurvatureError,
    Spectrum,
    fisher,
    fisher_spectrum,
    ggn,
    loss_hessian,
    spectrum_from_matrix,
)


@pytest.fixture(scope="module")
def mlp():
    """MLP with d = 1981, m = 50 rows, and its dense Fisher ∇²D(z0) by jax.hessian (computed once)."""
    zoo = models.get("mlp_regression", d_in=20, widths=(90,), d_out=1, sigma=0.5)
    cov = zoo.sample_covariates(jax.random.PRNGKey(1), 50)
    return zoo, cov, np.asarray(fisher(zoo.model_class, zoo.true_params, **cov))


def test_linear_gaussian_fisher_is_2a():
    zoo = models.get("linear_regression", d=4, sigma=0.7)
    cov = zoo.sample_covariates(jax.random.PRNGKey(0), 25)
    x = np.asarray(cov["x"])
    expected = x.T @ x / (25 * 0.7**2)  # F = 2A, A = XᵀX/(2mσ²)
    np.testing.assert_allclose(fisher(zoo.model_class, zoo.true_params, **cov), expected, rtol=1e-12)
    gram = fisher_spectrum(zoo.model_class, zoo.true_params, method="gram", **cov)
    np.testing.assert_allclose(gram.eigenvalues, np.linalg.eigvalsh(expected)[::-1], rtol=1e-10)


def test_bernoulli_fisher_in_logit():
    zoo = models.get("bernoulli", p0=0.3)
    np.testing.assert_allclose(fisher(zoo.model_class, zoo.true_params, n=1), [[0.21]], rtol=1e-12)
    # generative class with several rows: D is a mean over rows, so the Fisher per sample is unchanged
    gram = fisher_spectrum(zoo.model_class, zoo.true_params, method="gram", n=7)
    np.testing.assert_allclose(gram.eigenvalues, [0.21], rtol=1e-12)


@pytest.mark.slow
def test_gram_equals_dense_for_mlp(mlp):
    zoo, cov, f_dense = mlp
    mc = zoo.model_class
    assert 1900 < mc.dim < 2100
    scale = jnp.linspace(0.5, 1.5, mc.dim)  # a non-trivial diagonal prior whitening L
    dense = spectrum_from_matrix(f_dense, sqrt_cov=scale)
    gram = fisher_spectrum(mc, zoo.true_params, method="gram", sqrt_cov=scale, num_eigenvectors=3, **cov)
    assert gram.diagnostics["gram_size"] == 50 and gram.eigenvalues.size == 50  # σ is fixed: k = 1
    np.testing.assert_allclose(gram.eigenvalues, dense.eigenvalues[:50], rtol=1e-6)
    assert np.all(np.abs(dense.eigenvalues[50:]) < 1e-10 * dense.eigenvalues[0])  # the rest is flat
    # eigenvectors: unit norm and F̃v = λv (checked against the dense matrix)
    f_tilde = np.asarray(scale)[:, None] * f_dense * np.asarray(scale)
    v = gram.eigenvectors
    np.testing.assert_allclose(np.linalg.norm(v, axis=0), 1.0, rtol=1e-8)
    np.testing.assert_allclose(f_tilde @ v, v * gram.eigenvalues[:3], atol=1e-8 * gram.eigenvalues[0])


@pytest.mark.slow
def test_lanczos_matches_dense_on_top_eigenvalues(mlp):
    zoo, cov, f_dense = mlp
    mc = zoo.model_class
    dense = spectrum_from_matrix(f_dense)
    lanczos = fisher_spectrum(mc, zoo.true_params, method="lanczos", num_matvecs=60, **cov)
    assert not lanczos.exact
    np.testing.assert_allclose(lanczos.eigenvalues[:5], dense.eigenvalues[:5], rtol=1e-8)
    # SLQ weights are a probability distribution times d
    np.testing.assert_allclose(lanczos.weights.sum(), mc.dim, rtol=1e-8)


@pytest.mark.slow
def test_categorical_gram_rank():
    zoo = models.get("mlp_classification", d_in=3, widths=(8,), d_out=3)
    cov = zoo.sample_covariates(jax.random.PRNGKey(2), 10)
    dense = fisher_spectrum(zoo.model_class, zoo.true_params, method="dense", **cov)
    gram = fisher_spectrum(zoo.model_class, zoo.true_params, method="gram", **cov)
    # softmax Fisher diag(p) − ppᵀ has rank 2 per row: rank ≤ 10·2 = 20 of d = 59
    assert gram.eigenvalues.size == 20
    np.testing.assert_allclose(gram.eigenvalues, dense.eigenvalues[:20], rtol=1e-8)


def test_hessian_at_any_point_and_empirical_loss():
    zoo = models.get("logistic_regression", d=2)
    mc = zoo.model_class
    cov = zoo.sample_covariates(jax.random.PRNGKey(0), 30)
    # at the truth the Hessian of D is the Fisher: Σ p(1 − p) x xᵀ / m
    x = np.asarray(cov["x"])
    p = 1 / (1 + np.exp(-x @ np.asarray(zoo.true_params["w"])))
    expected = (x * (p * (1 - p))[:, None]).T @ x / 30
    np.testing.assert_allclose(loss_hessian(mc, zoo.true_params, params0=zoo.true_params, **cov), expected,
                               rtol=1e-10)
    # the empirical loss has the same Hessian (it does not depend on y for a GLM with canonical link)
    y = jnp.zeros(30)
    other = {"w": jnp.array([0.3, -0.2])}
    p = 1 / (1 + np.exp(-x @ np.array([0.3, -0.2])))
    np.testing.assert_allclose(loss_hessian(mc, other, data=y, **cov),
                               (x * (p * (1 - p))[:, None]).T @ x / 30, rtol=1e-10)
    # the GGN at any point is the Fisher there; for a GLM with canonical link it equals the Hessian
    np.testing.assert_allclose(ggn(mc, other, **cov), loss_hessian(mc, other, data=y, **cov), rtol=1e-10)
    np.testing.assert_allclose(ggn(mc, zoo.true_params, **cov), expected, rtol=1e-10)
    with pytest.raises(CurvatureError, match="exactly one"):
        loss_hessian(mc, other, **cov)


def test_spectrum_object_density_and_xarray():
    spec = spectrum_from_matrix(np.diag([3.0, 1.0, 0.0]))
    assert isinstance(spec, Spectrum)
    grid = np.linspace(-1, 4, 2001)
    dens = spec.density(grid, bandwidth=0.05)
    np.testing.assert_allclose(np.trapezoid(dens, grid), 3.0, rtol=1e-6)  # integrates to d
    ds = spec.to_xarray()
    np.testing.assert_allclose(ds["eigenvalue"].values, [3.0, 1.0, 0.0])


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [({"method": "qr"}, "method must be"), ({"sqrt_cov": np.ones(3)}, "sqrt_cov must have shape")],
)
def test_bad_arguments(kwargs, match):
    zoo = models.get("linear_regression", d=4)
    cov = zoo.sample_covariates(jax.random.PRNGKey(0), 5)
    with pytest.raises(CurvatureError, match=match):
        fisher_spectrum(zoo.model_class, zoo.true_params, **kwargs, **cov)


def test_gram_refuses_empirical_hessian():
    zoo = models.get("linear_regression", d=4)
    cov = zoo.sample_covariates(jax.random.PRNGKey(0), 5)
    with pytest.raises(CurvatureError, match="Gauss–Newton"):
        fisher_spectrum(zoo.model_class, zoo.true_params, method="gram", data=jnp.zeros(5), **cov)
