"""Laplace volume against exact answers (DESIGN.md §2) and its bad-input errors."""

import jax
import jax.numpy as jnp
import numpy as np
import numpyro
import numpyro.distributions as dist
import pytest
from scipy import optimize, stats

import bayesvol as bv
import bayesvol_zoo as models
from bayesvol.curvature.fisher import CurvatureError
from bayesvol.volume.gchisq import gchisq_log_cdf
from bayesvol.volume.laplace import LaplaceError, effective_dimension, laplace_volume


def exact_linear_gaussian(zoo, x):
    """Exact weights/centers of the linear-Gaussian volume: D = (θ−θ0)ᵀA(θ−θ0), A = XᵀX/(2mσ²), prior
    N(0, τ²I): Q = Σ τ²eig(A)_i (u_i − m_i)², m = Uᵀθ0/τ."""
    sigma, tau = zoo.options["sigma"], zoo.options["tau"]
    a_mat = x.T @ x / (2 * x.shape[0] * sigma**2)
    lam, u = np.linalg.eigh(a_mat)
    weights = tau**2 * lam
    keep = weights > 1e-12 * weights.max()  # the rank-deficient design's null space is exactly flat
    return weights[keep], (u.T @ np.asarray(zoo.true_params["theta"]) / tau)[keep]


@pytest.mark.parametrize(("d", "m", "t_min"), [(5, 40, 1e-35), (50, 200, 1e-2), (50, 20, 1e-7)])
def test_linear_gaussian_equals_exact_gchisq(d, m, t_min):
    zoo = models.get("linear_regression", d=d, sigma=0.7, tau=1.5)
    cov = zoo.sample_covariates(jax.random.PRNGKey(3), m)
    x = np.asarray(cov["x"])
    weights, centers = exact_linear_gaussian(zoo, x)
    # t spanning log V from about −1 down to −200
    t = np.geomspace(t_min, 1e3, 512)  # one size bucket of the gχ² code: compiled once per case
    exact = gchisq_log_cdf(t, weights, centers)
    span = (exact <= -1) & (exact >= -200)
    t = t[span]
    assert exact[span].min() < -150 and exact[span].max() > -1.5
    curve = laplace_volume(zoo.model_class, zoo.true_params, t, **cov)
    assert curve.method == "laplace" and np.all(curve.stderr == 0)
    assert curve.diagnostics.prior_exact_gaussian
    np.testing.assert_allclose(curve.log_volume, exact[span], atol=0.02, rtol=0)
    # the same to rounding: D is exactly quadratic and the prior exactly Gaussian
    np.testing.assert_allclose(curve.log_volume, exact[span], rtol=1e-8)
    rank = min(d, m)
    assert curve.eigenvalues.size == rank
    np.testing.assert_allclose(curve.volume_dimension[0], rank, rtol=1e-4)  # k(t) → rank as t → 0


def bernoulli_exact_log_volume(p0, t, a=0.5, b=0.5):
    """V(t) = Beta CDF difference over the KL-ball interval {p : KL(p0 ‖ p) ≤ t} (root-finding)."""
    def kl(p):
        return p0 * np.log(p0 / p) + (1 - p0) * np.log((1 - p0) / (1 - p))

    out = []
    for ti in t:
        lo = optimize.brentq(lambda p, ti=ti: kl(p) - ti, 1e-300, p0, xtol=1e-300, rtol=1e-15)
        hi = optimize.brentq(lambda p, ti=ti: kl(p) - ti, p0, 1 - 1e-16, xtol=1e-300, rtol=1e-15)
        out.append(np.log(stats.beta.cdf(hi, a, b) - stats.beta.cdf(lo, a, b)))
    return np.array(out)


def test_bernoulli_jeffreys_converges_as_t_to_zero():
    zoo = models.get("bernoulli", a=0.5, b=0.5, p0=0.3)
    t = np.array([1e-6, 1e-5, 1e-4, 1e-3, 1e-2])
    curve = laplace_volume(zoo.model_class, zoo.true_params, t, n=1)
    assert not curve.diagnostics.prior_exact_gaussian  # Beta(½,½) is not Gaussian in logit p
    error = np.abs(curve.log_volume - bernoulli_exact_log_volume(0.3, t))
    assert np.all(np.diff(error) > 0), error  # shrinks with t
    # the error is O(t) (≈ 0.08·t here): the expansion's cubic terms integrate to zero over the ball
    assert error[0] < 1e-6 and error[-1] < 1e-3, error
    np.testing.assert_allclose(curve.volume_dimension[0], 1.0, atol=1e-3)


def test_effective_dimension_regular_and_overparameterized():
    lin = models.get("linear_regression", d=5)
    cov = lin.sample_covariates(jax.random.PRNGKey(0), 100)
    curve = laplace_volume(lin.model_class, lin.true_params, [1e-3], **cov)
    k = effective_dimension(curve.eigenvalues, [1.0, 1e2, 1e4, 1e6])
    assert np.all(np.diff(k) > 0) and k[-1] > 4.99 and k[-1] <= 5.0  # → d

    poly = models.get("polynomial_regression", degree=40)
    cov = poly.sample_covariates(jax.random.PRNGKey(0), 200)
    curve = laplace_volume(poly.model_class, poly.true_params, [1e-3], **cov)
    k = effective_dimension(curve.eigenvalues, [10, 100, 1000])
    # monomials on [−1, 1]: the spectrum decays geometrically, so k_eff ≈ a few·log n ≪ 41
    assert k[0] < 6 and k[1] < 8 and k[2] < 10, k
    assert np.all(np.diff(k) > 0)


def _normal_model(prior_on_log_sigma):
    def model(n=1, y=None):
        mu = numpyro.sample("mu", dist.Normal(0.0, 2.0))
        if prior_on_log_sigma:
            sigma = jnp.exp(numpyro.sample("log_sigma", dist.Normal(0.3, 0.8)))
        else:
            sigma = numpyro.sample("sigma", dist.LogNormal(0.3, 0.8))
        with numpyro.plate("data", n if y is None else y.shape[0]):
            numpyro.sample("y", dist.Normal(mu, sigma), obs=y)
    return model


def test_reparameterization_invariance():
    t = np.geomspace(1e-6, 1.0, 12)
    on_sigma = laplace_volume(bv.ModelClass(_normal_model(False), n=1), {"mu": 0.5, "sigma": 1.7}, t, n=1)
    on_log = laplace_volume(bv.ModelClass(_normal_model(True), n=1), {"mu": 0.5, "log_sigma": np.log(1.7)},
                            t, n=1)
    np.testing.assert_allclose(on_sigma.log_volume, on_log.log_volume, rtol=1e-10)
    np.testing.assert_allclose(on_sigma.volume_dimension, on_log.volume_dimension, rtol=1e-8)


def test_non_gaussian_prior_keeps_density_at_truth():
    # Laplace prior N(0, ·) replaced by a logistic prior: log C ≠ 0 and V(t)/vol(ball) → w(z0) as t → 0
    def model(n=1, y=None):
        mu = numpyro.sample("mu", dist.Logistic(0.2, 1.0))
        with numpyro.plate("data", n if y is None else y.shape[0]):
            numpyro.sample("y", dist.Normal(mu, 1.0), obs=y)

    mc = bv.ModelClass(model, n=1)
    t = np.array([1e-10])
    curve = laplace_volume(mc, {"mu": 1.0}, t, n=1)
    # D = (μ − 1)²/2: the ball is |μ − 1| ≤ √(2t), V ≈ 2√(2t)·w(1)
    expected = np.log(2 * np.sqrt(2 * t)) + dist.Logistic(0.2, 1.0).log_prob(1.0)
    np.testing.assert_allclose(curve.log_volume, expected, atol=1e-6)


@pytest.mark.parametrize("eps2", [[0.0, 1.0], [-1.0], [np.nan], [np.inf], []])
def test_bad_eps2(eps2):
    zoo = models.get("bernoulli")
    with pytest.raises(LaplaceError, match="eps2"):
        laplace_volume(zoo.model_class, zoo.true_params, eps2, n=1)


def test_params0_outside_support():
    zoo = models.get("bernoulli")
    with pytest.raises(bv.ModelClassError, match=r"params0.*outside the support"):
        laplace_volume(zoo.model_class, {"p": 1.5}, [0.1], n=1)


def test_prior_without_laplace_approximation():
    def model(n=1, y=None):
        mu = numpyro.sample("mu", dist.StudentT(1.0, 0.0, 1.0))  # log-convex beyond |μ| = 1
        with numpyro.plate("data", n if y is None else y.shape[0]):
            numpyro.sample("y", dist.Normal(mu, 1.0), obs=y)

    mc = bv.ModelClass(model, n=1)
    with pytest.raises(LaplaceError, match=r"not concave.*sampled_volume"):
        laplace_volume(mc, {"mu": 3.0}, [0.1], n=1)


def test_negative_curvature_is_reported():
    # y ~ N(μ², 1): at μ = 0 with positive data the empirical loss has a maximum, curvature −2ȳ
    def model(n=1, y=None):
        mu = numpyro.sample("mu", dist.Normal(0.0, 1.0))
        with numpyro.plate("data", n if y is None else y.shape[0]):
            numpyro.sample("y", dist.Normal(mu**2, 1.0), obs=y)

    mc = bv.ModelClass(model, n=1)
    y = jnp.array([1.0, 2.0, 3.0])
    with pytest.raises(CurvatureError, match=r"negative eigenvalue -4 .*not a minimum"):
        laplace_volume(mc, {"mu": 0.0}, [0.1], data=y)


def test_correlated_gaussian_prior_is_exact():
    # θ ~ MVN(μ, C) with a full covariance: the whitening L = chol(C) path
    mu = jnp.array([0.3, -0.2, 0.1])
    c = jnp.array([[1.0, 0.6, 0.2], [0.6, 2.0, -0.3], [0.2, -0.3, 0.5]])

    def model(x, y=None):
        theta = numpyro.sample("theta", dist.MultivariateNormal(mu, c))
        with numpyro.plate("data", x.shape[0]):
            numpyro.sample("y", dist.Normal(x @ theta, 0.5), obs=y)

    x = jax.random.normal(jax.random.PRNGKey(0), (20, 3))
    mc = bv.ModelClass(model, x=x)
    theta0 = jnp.array([1.0, 0.5, -0.7])
    a_mat = np.asarray(x.T @ x) / (2 * 20 * 0.25)
    chol = np.linalg.cholesky(np.asarray(c))
    lam, u = np.linalg.eigh(chol.T @ a_mat @ chol)
    centers = u.T @ np.linalg.solve(chol, np.asarray(theta0 - mu))
    t = np.geomspace(1e-6, 10.0, 25)
    curve = laplace_volume(mc, {"theta": theta0}, t, x=x)
    assert curve.diagnostics.prior_exact_gaussian
    np.testing.assert_allclose(curve.log_volume, gchisq_log_cdf(t, lam, centers), rtol=1e-9)


def test_laplace_info_is_a_typed_record_and_effective_dim_is_deprecated():
    zoo = models.get("linear_regression", d=3, sigma=0.7, tau=1.5)
    cov = zoo.sample_covariates(jax.random.PRNGKey(3), 20)
    curve = laplace_volume(zoo.model_class, zoo.true_params, np.geomspace(1e-3, 1.0, 4), **cov)
    info = curve.diagnostics
    assert isinstance(info, bv.LaplaceInfo) and info.dim == 3 and info.curvature_exact
    assert info.centers.shape == curve.eigenvalues.shape
    leaves = jax.tree.leaves(info)  # a NamedTuple: a pytree, so it can cross jit/vmap boundaries
    assert any(leaf is info.centers for leaf in leaves)
    with pytest.raises(ValueError, match="no sampler run"):
        curve.to_arviz()
    # k(t) is volume_dimension; the old name is a read-only alias that says which name to use
    with pytest.warns(DeprecationWarning, match="volume_dimension"):
        alias = curve.effective_dim
    assert alias is curve.volume_dimension
    assert "volume_dimension" in curve.to_xarray() and "effective_dim" not in curve.to_xarray()
