"""KL divergences: every closed form against a hand formula and a Monte Carlo estimate; the fallback."""

import warnings

import jax
import jax.numpy as jnp
import numpy as np
import numpyro
import numpyro.distributions as dist
import pytest
from conftest import assert_within_se
from scipy import integrate, special, stats

import bayesvol as bv
import bayesvol_zoo as models
from bayesvol.divergence.kl import distribution_kl, family

# ----------------------------------------------------------------------------- hand formulas (numpy)
p1, p2 = np.array([0.3, 0.05, 0.9]), np.array([0.6, 0.2, 0.85])
a1, b1 = np.array([2.0, 0.7, 5.0]), np.array([3.0, 1.5, 0.8])
a2, b2 = np.array([1.0, 2.5, 4.0]), np.array([1.0, 0.9, 2.0])
probs1 = np.array([[0.2, 0.3, 0.5], [0.7, 0.2, 0.1]])
probs2 = np.array([[0.4, 0.4, 0.2], [0.1, 0.1, 0.8]])
alpha1 = np.array([[1.0, 2.0, 3.0], [0.5, 0.5, 4.0]])
alpha2 = np.array([[2.0, 2.0, 2.0], [1.0, 3.0, 0.7]])
mu = np.array([0.5, -1.0])
cov1 = np.array([[1.0, 0.3], [0.3, 0.5]])
cov2 = np.array([[2.0, -0.4], [-0.4, 1.0]])
logit = special.logit


def _bernoulli(p, q):
    return p * np.log(p / q) + (1 - p) * np.log((1 - p) / (1 - q))


def _normal(m1, s1, m2, s2):
    return np.log(s2 / s1) + (s1**2 + (m1 - m2) ** 2) / (2 * s2**2) - 0.5


def _gamma(a, b, c, d):  # shape, rate
    return ((a - c) * special.digamma(a) - special.gammaln(a) + special.gammaln(c)
            + c * (np.log(b) - np.log(d)) + a * (d - b) / b)


def _beta(a, b, c, d):
    return (special.betaln(c, d) - special.betaln(a, b) + (a - c) * special.digamma(a)
            + (b - d) * special.digamma(b) + (c - a + d - b) * special.digamma(a + b))


def _dirichlet(a, b):
    a0, b0 = a.sum(-1), b.sum(-1)
    return (special.gammaln(a0) - special.gammaln(a).sum(-1) - special.gammaln(b0)
            + special.gammaln(b).sum(-1)
            + ((a - b) * (special.digamma(a) - special.digamma(a0)[..., None])).sum(-1))


def _mvn(m1, c1, m2, c2):
    k, inv2, diff = len(m1), np.linalg.inv(c2), m2 - m1
    return 0.5 * (np.trace(inv2 @ c1) + diff @ inv2 @ diff - k
                  + np.log(np.linalg.det(c2) / np.linalg.det(c1)))


def _mixture_quad(w, locs1, locs2):
    """KL of unit-variance normal mixtures by adaptive quadrature over ±12 sd around p's components."""

    def log_density(x, locs):
        return special.logsumexp([np.log(wi) + stats.norm.logpdf(x, m) for wi, m in zip(w, locs)], axis=0)

    def integrand(x):
        log_p = log_density(x, locs1)
        return np.exp(log_p) * (log_p - log_density(x, locs2))

    return integrate.quad(integrand, min(locs1) - 12, max(locs1) + 12, points=sorted(set(locs1)),
                          epsabs=1e-13, epsrel=1e-13, limit=400)[0]


def _mixture(w, locs):
    return dist.MixtureSameFamily(dist.Categorical(probs=jnp.asarray(w)), dist.Normal(jnp.asarray(locs), 1.0))


W = np.array([0.3, 0.7])
beta_a1, beta_b1 = np.array([2.0, 0.7, 5.0, 8.5, 8.0]), np.array([3.0, 1.5, 0.8, 18.5, 0.5])
beta_a2, beta_b2 = np.array([1.0, 2.5, 4.0, 12.5, 6.0]), np.array([1.0, 0.9, 2.0, 18.5, 0.7])
CASES = {
    "normal": (dist.Normal(jnp.array([0.0, 1.0, -2.0]), jnp.array([1.0, 0.5, 2.0])),
               dist.Normal(jnp.array([0.5, 1.0, 0.0]), jnp.array([2.0, 0.7, 1.5])),
               _normal(np.array([0.0, 1.0, -2.0]), np.array([1.0, 0.5, 2.0]),
                       np.array([0.5, 1.0, 0.0]), np.array([2.0, 0.7, 1.5]))),
    "mvn": (dist.MultivariateNormal(jnp.asarray(mu), covariance_matrix=jnp.asarray(cov1)),
            dist.MultivariateNormal(jnp.zeros(2), covariance_matrix=jnp.asarray(cov2)),
            _mvn(mu, cov1, np.zeros(2), cov2)),
    "bernoulli_probs": (dist.Bernoulli(probs=p1), dist.Bernoulli(probs=p2), _bernoulli(p1, p2)),
    "bernoulli_logits": (dist.Bernoulli(logits=logit(p1)), dist.Bernoulli(logits=logit(p2)),
                         _bernoulli(p1, p2)),
    "bernoulli_mixed": (dist.Bernoulli(probs=p1), dist.Bernoulli(logits=logit(p2)), _bernoulli(p1, p2)),
    "categorical_probs": (dist.Categorical(probs=probs1), dist.Categorical(probs=probs2),
                          np.sum(probs1 * np.log(probs1 / probs2), -1)),
    "categorical_logits": (dist.Categorical(logits=np.log(probs1) + 1.0),
                           dist.Categorical(logits=np.log(probs2) - 2.0),
                           np.sum(probs1 * np.log(probs1 / probs2), -1)),
    "categorical_mixed": (dist.Categorical(logits=np.log(probs1)), dist.Categorical(probs=probs2),
                          np.sum(probs1 * np.log(probs1 / probs2), -1)),
    "poisson": (dist.Poisson(a1), dist.Poisson(a2), a1 * np.log(a1 / a2) - a1 + a2),
    "binomial": (dist.Binomial(5, probs=p1), dist.Binomial(5, logits=logit(p2)), 5 * _bernoulli(p1, p2)),
    "exponential": (dist.Exponential(a1), dist.Exponential(a2), np.log(a1 / a2) + a2 / a1 - 1),
    "gamma": (dist.Gamma(a1, b1), dist.Gamma(a2, b2), _gamma(a1, b1, a2, b2)),
    # the last two pairs have moderate concentrations, where jax.scipy.special.betaln is off by ~1e-7
    "beta": (dist.Beta(beta_a1, beta_b1), dist.Beta(beta_a2, beta_b2),
             _beta(beta_a1, beta_b1, beta_a2, beta_b2)),
    "dirichlet": (dist.Dirichlet(alpha1), dist.Dirichlet(alpha2), _dirichlet(alpha1, alpha2)),
    "independent": (dist.Gamma(a1, b1).to_event(1), dist.Gamma(a2, b2).to_event(1),
                    np.sum(_gamma(a1, b1, a2, b2))),
    "expanded": (dist.Bernoulli(probs=0.3).expand([2, 3]), dist.Bernoulli(probs=0.6).expand([2, 3]),
                 np.full((2, 3), _bernoulli(0.3, 0.6))),
    "expanded_independent": (dist.Normal(0.0, 1.0).expand([4]).to_event(1),
                             dist.Normal(jnp.arange(4.0), 2.0).to_event(1),
                             np.sum(_normal(0.0, 1.0, np.arange(4.0), 2.0))),
    "normal_mixture": (_mixture(W, [-1.0, 2.0]), _mixture(W, [0.0, 1.5]),
                       _mixture_quad(W, [-1.0, 2.0], [0.0, 1.5])),
}


@pytest.mark.parametrize(("locs1", "locs2"), [
    ([0.0, 0.0], [3.0, -3.0]),  # q's poles at ≈ π/12 from the real axis: 80-node Gauss–Hermite is off by 1e-5
    ([-5.0, 5.0], [-4.0, 6.0]),
    ([0.0, 1.0], [20.0, -20.0]),
])
def test_normal_mixture_kl_far_components(locs1, locs2):
    value = distribution_kl(_mixture(W, locs1), _mixture(W, locs2)).value
    np.testing.assert_allclose(value, _mixture_quad(W, locs1, locs2), rtol=1e-12)


@pytest.mark.parametrize("name", sorted(CASES))
def test_closed_form_kl(name):
    p, q, hand = CASES[name]
    estimate = distribution_kl(p, q)  # a closed form: no KLFallbackWarning (warnings are errors)
    np.testing.assert_array_equal(estimate.stderr, 0.0)
    assert estimate.value.shape == np.shape(hand) == p.batch_shape
    # the hand formula (the normal mixture: adaptive quadrature)
    np.testing.assert_allclose(estimate.value, hand, rtol=1e-11)
    # Monte Carlo: E_p[log p − log q], within 4 standard errors
    n = 40_000


    @jax.jit
    def log_ratio_fn(key):
        draws = p.sample(key, (n,))
        return p.log_prob(draws) - q.log_prob(draws)

    log_ratio = np.asarray(log_ratio_fn(jax.random.PRNGKey(sorted(CASES).index(name))))
    assert_within_se(log_ratio.mean(0), log_ratio.std(0) / np.sqrt(n), estimate.value)
    # KL(p ‖ p) = 0 exactly
    np.testing.assert_array_equal(distribution_kl(p, p).value, 0.0)


def test_zero_probability_conventions():
    # 0·log(0/q) = 0; p·log(p/0) = ∞
    np.testing.assert_allclose(distribution_kl(dist.Bernoulli(probs=0.0), dist.Bernoulli(probs=0.3)).value,
                               -np.log(0.7), rtol=1e-14)
    assert distribution_kl(dist.Bernoulli(probs=0.3), dist.Bernoulli(probs=0.0)).value == np.inf
    p, q = jnp.array([0.0, 0.4, 0.6]), jnp.array([0.2, 0.3, 0.5])
    np.testing.assert_allclose(distribution_kl(dist.Categorical(probs=p), dist.Categorical(probs=q)).value,
                               0.4 * np.log(4 / 3) + 0.6 * np.log(6 / 5), rtol=1e-14)
    np.testing.assert_allclose(distribution_kl(dist.Poisson(0.0), dist.Poisson(2.5)).value, 2.5, rtol=1e-14)


def test_different_families_error():
    with pytest.raises(bv.ModelClassError, match="different families: Normal and StudentT"):
        distribution_kl(dist.Normal(0.0, 1.0), dist.StudentT(3.0, 0.0, 1.0))
    with pytest.raises(bv.ModelClassError, match="different families: Bernoulli and Categorical"):
        distribution_kl(dist.Bernoulli(probs=0.3), dist.Categorical(probs=jnp.array([0.7, 0.3])))
    with pytest.raises(bv.ModelClassError, match="different total_count"):
        distribution_kl(dist.Binomial(3, probs=0.3), dist.Binomial(4, probs=0.3))
    assert family(dist.Bernoulli(logits=0.0).expand([3]).to_event(1)) == "Bernoulli"


# ----------------------------------------------------------------------------- through a model class
def test_linear_model_kl_is_exact_quadratic():
    entry = models.linear_regression(d=4, sigma=0.7)
    mc = entry.model_class
    x = entry.sample_covariates(jax.random.PRNGKey(0), 50)["x"]
    theta0 = entry.true_params["theta"]
    thetas = theta0 + jax.random.normal(jax.random.PRNGKey(1), (6, 4))
    values = jax.jit(jax.vmap(lambda t: bv.kl(mc, entry.true_params, {"theta": t}, x=x)))(thetas)
    diff = np.asarray(thetas - theta0)
    xtx = np.asarray(x.T @ x)
    exact = np.einsum("bi,ij,bj->b", diff, xtx, diff) / (2 * 50 * 0.7**2)
    np.testing.assert_allclose(values, exact, rtol=1e-12, atol=1e-14)
    # the same through kl_function on flat z (θ is unconstrained here: z = θ)
    divergence = jax.jit(jax.vmap(bv.kl_function(mc, entry.true_params, x=x)))
    np.testing.assert_allclose(divergence(thetas), exact, rtol=1e-12, atol=1e-14)


def test_categorical_model_kl_and_batch():
    entry = models.categorical(k=3)
    mc = entry.model_class
    probs = jnp.array([[0.2, 0.3, 0.5], [0.6, 0.3, 0.1], [1 / 3, 1 / 3, 1 / 3]])
    values = jax.jit(jax.vmap(lambda t: bv.kl(mc, entry.true_params, {"theta": t})))(probs)
    p0 = np.asarray(entry.true_params["theta"])
    exact = np.sum(p0 * np.log(p0 / np.asarray(probs)), axis=1)
    np.testing.assert_allclose(values, exact, rtol=1e-12)
    # per-sample KL does not depend on the number of rows of a generative class
    np.testing.assert_allclose(bv.kl(mc, entry.true_params, {"theta": probs[1]}, n=7), exact[1], rtol=1e-12)


def _laplace_model(x, y=None):
    loc = numpyro.sample("loc", dist.Normal(0.0, 1.0))
    scale = numpyro.sample("scale", dist.HalfNormal(1.0))
    with numpyro.plate("data", jnp.shape(x)[0]):
        numpyro.sample("y", dist.Laplace(loc * x, scale), obs=y)


def _laplace_kl(m1, s1, m2, s2):
    delta = np.abs(m1 - m2)
    return np.log(s2 / s1) + delta / s2 + (s1 / s2) * np.exp(-delta / s1) - 1


def test_monte_carlo_fallback_is_calibrated():
    x = jnp.array([-1.0, 0.5, 2.0])
    mc = bv.ModelClass(_laplace_model, x=x)
    params0 = {"loc": jnp.asarray(0.5), "scale": jnp.asarray(1.0)}
    params = {"loc": jnp.asarray(-0.3), "scale": jnp.asarray(1.6)}
    exact = np.mean(_laplace_kl(0.5 * np.asarray(x), 1.0, -0.3 * np.asarray(x), 1.6))
    # default draws: max(32, ⌈8192/3⌉) = 2731 per row; the warning says so, once per class and cause
    with pytest.warns(bv.KLFallbackWarning, match=r"no closed-form KL for Laplace.*2731 draws per row.*"
                      r"relative standard error at this θ is .*kl_draws="):
        single = bv.kl_estimate(mc, params0, params, x=x)
    assert_within_se(single.value, single.stderr, exact)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        np.testing.assert_allclose(bv.kl(mc, params0, params, x=x), single.value, rtol=1e-14)
        # kl_function is the same fixed function of θ (same default key, same draws)
        divergence = bv.kl_function(mc, params0, x=x)
        np.testing.assert_allclose(divergence(mc.flatten(params)), single.value, rtol=1e-12)
    # calibration over 200 independent keys: the spread of the estimates matches the reported stderr
    reps, n = 200, 1024
    keys = jax.random.split(jax.random.PRNGKey(3), reps)
    with pytest.warns(bv.KLFallbackWarning, match="1024 draws per row"):
        batch = jax.jit(jax.vmap(
            lambda k: bv.kl_estimate(mc, params0, params, key=k, kl_draws=n, x=x)))(keys)
    values, stderrs = np.asarray(batch.value), np.asarray(batch.stderr)
    assert_within_se(values.mean(), values.std(ddof=1) / np.sqrt(reps), exact)
    # a sample sd over 200 near-normal estimates has relative sd 1/√(2·199) ≈ 0.05: allow 4 of them
    ratio = values.std(ddof=1) / np.sqrt(np.mean(stderrs**2))
    assert 0.8 <= ratio <= 1.2, ratio
    assert np.mean(np.abs(values - exact) <= 2 * stderrs) >= 0.9  # ≈ 0.95 for calibrated stderrs
    # D̂(θ0 ‖ θ0) is exactly 0, and with the control variate its gradient there is 0 too
    zero = bv.kl_estimate(mc, params0, params0, x=x)
    assert zero.value == 0.0 and zero.stderr == 0.0
    z0 = mc.flatten(params0)
    assert float(divergence(z0)) == 0.0
    np.testing.assert_allclose(jax.grad(divergence)(z0), 0.0, atol=1e-12)
    with pytest.raises(bv.InputError, match="kl_draws must be an integer"):
        bv.kl(mc, params0, params, kl_draws=1, x=x)


def test_kl_different_families_through_model_classes_error():
    entry = models.bernoulli()
    other = models.categorical(k=2)
    with pytest.raises(bv.ModelClassError, match="different families"):
        distribution_kl(entry.model_class.distribution(entry.true_params),
                        other.model_class.distribution(other.true_params))
