"""The model zoo: structure, simulators, exact mixtures, learning coefficients, the mixture KL."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import assert_within_se
from scipy import integrate, stats

import bayesvol as bv
import bayesvol_zoo as models
from bayesvol_zoo.singular import reduced_rank_learning_coefficient

ZOO = sorted(models.REGISTRY)


@pytest.mark.parametrize("name", ZOO)
def test_entry_builds_and_simulates(zoo, name):
    entry = zoo[name]
    mc = entry.model_class
    assert entry.name == name or entry.name.startswith(name.split("_")[0])
    assert mc.dim == entry.facts.dim == entry.dim
    assert set(mc.latent_sites) == set(entry.true_params)
    covariates, data = entry.simulate(jax.random.PRNGKey(0), 5)
    assert jnp.shape(data)[0] == 5
    for value in covariates.values():
        assert value == 5 if np.ndim(value) == 0 else jnp.shape(value)[0] == 5
    z0 = mc.flatten(entry.true_params)
    assert mc.log_likelihood(z0, data, **covariates).shape == (5,)
    assert np.isfinite(mc.log_prior(z0))
    # D(θ0 ‖ θ0) = 0 exactly, D > 0 elsewhere
    assert bv.kl(mc, entry.true_params, entry.true_params, **covariates) == 0.0
    other = mc.unflatten(z0 + 0.3)
    assert bv.kl(mc, entry.true_params, other, **covariates) > 0.0


def test_unknown_name():
    with pytest.raises(KeyError, match="unknown model 'nope'"):
        models.get("nope")


# ----------------------------------------------------------------------------- exact mixtures
def _simulate_and_mix(entry, key, n):
    """(covariates, data, log Q(data)) in one compiled call (eager NumPyro costs a compile per op)."""

    @jax.jit
    def run(key):
        covariates, data = entry.simulate(key, n)
        return covariates, data, entry.log_mixture(data, **covariates)

    return run(key)


def _sequential_gaussian(y, features, sigma, tau):
    """Σ_i log N(y_i; φ_iᵀμ_{i−1}, σ² + φ_iᵀΣ_{i−1}φ_i): the product of posterior predictives."""
    d = features.shape[1]
    mean, cov, total = np.zeros(d), tau**2 * np.eye(d), 0.0
    for f, target in zip(np.asarray(features), np.asarray(y)):
        var = sigma**2 + f @ cov @ f
        total += stats.norm.logpdf(target, f @ mean, np.sqrt(var))
        gain = cov @ f / var
        mean = mean + gain * (target - f @ mean)
        cov = cov - np.outer(gain, f @ cov)
    return total


def _sequential_dirichlet(xs, contexts, alpha, k):
    """Σ_i log (n_{c_i, x_i} + α) / (n_{c_i} + kα) with counts of the earlier rows."""
    counts, total = {}, 0.0
    for c, x in zip(np.asarray(contexts).tolist(), np.asarray(xs).tolist()):
        row = counts.setdefault(c, np.zeros(k))
        total += np.log((row[x] + alpha) / (row.sum() + k * alpha))
        row[x] += 1
    return total


def test_bernoulli_mixture_by_quadrature_over_the_model_class():
    entry = models.bernoulli(a=0.5, b=0.5, p0=0.3)
    mc = entry.model_class
    _, x, log_q = _simulate_and_mix(entry, jax.random.PRNGKey(1), 30)
    log_q = float(log_q)
    log_joint = jax.jit(lambda z: mc.log_prior(z) + jnp.sum(mc.log_likelihood(z, x)))
    integral = integrate.quad(lambda z: np.exp(float(log_joint(jnp.array([z]))) - log_q), -40, 40,
                              epsabs=1e-12, epsrel=1e-12, limit=200)[0]
    np.testing.assert_allclose(integral, 1.0, rtol=1e-8)
    k = int(np.sum(x))
    np.testing.assert_allclose(log_q, _sequential_dirichlet(x, np.zeros(30), 0.5, 2), rtol=1e-12)
    assert 0 < k < 30


def test_categorical_mixture_is_product_of_predictives():
    entry = models.categorical(k=4, alpha=0.7)
    _, x, log_q = _simulate_and_mix(entry, jax.random.PRNGKey(2), 40)
    np.testing.assert_allclose(log_q, _sequential_dirichlet(x, np.zeros(40), 0.7, 4),
                               rtol=1e-12)


def test_markov_chain_mixture_is_product_of_predictives():
    entry = models.markov_chain(order=2, k=3, alpha=0.5)
    assert entry.dim == 9 * 2
    covariates, x, log_q = _simulate_and_mix(entry, jax.random.PRNGKey(3), 60)
    expected = _sequential_dirichlet(x, covariates["context"], 0.5, 3)
    np.testing.assert_allclose(log_q, expected, rtol=1e-12)


def test_markov_chain_simulator_follows_the_transition_matrix():
    entry = models.markov_chain(order=1, k=2)
    covariates, x = jax.jit(entry.simulate, static_argnums=1)(jax.random.PRNGKey(4), 20_000)
    contexts, x = np.asarray(covariates["context"]), np.asarray(x)
    # the context of row t is the state of row t − 1
    np.testing.assert_array_equal(contexts[1:], x[:-1])
    transition = np.asarray(entry.true_params["transition"])
    for c in (0, 1):
        rows = x[contexts == c]
        p = transition[c, 1]
        assert_within_se(rows.mean(), np.sqrt(p * (1 - p) / rows.size), p)


@pytest.mark.parametrize(("name", "options", "n"), [
    ("linear_regression", {"d": 3, "sigma": 0.8, "tau": 1.5}, 25),
    ("polynomial_regression", {"degree": 4, "sigma": 0.5}, 20),
    ("polynomial_regression", {"degree": 12, "sigma": 0.5}, 6),  # over-parameterized: d = 13 > n
])
def test_gaussian_mixture_is_product_of_predictives(name, options, n):
    entry = models.get(name, **options)
    covariates, y, log_q = _simulate_and_mix(entry, jax.random.PRNGKey(5), n)
    x = covariates["x"]
    if name == "polynomial_regression":
        x_features = np.asarray(x)[:, None] ** np.arange(options["degree"] + 1)
    else:
        x_features = x
    expected = _sequential_gaussian(y, x_features, entry.options["sigma"], entry.options["tau"])
    np.testing.assert_allclose(log_q, expected, rtol=1e-10)


# ----------------------------------------------------------------------------- singular classes
@pytest.mark.parametrize(("m", "n", "h"), [(1, 1, 1), (3, 3, 2), (2, 5, 2), (5, 2, 2), (4, 3, 3), (6, 6, 1)])
def test_reduced_rank_regular_when_rank_is_full(m, n, h):
    # rank r = H: a regular model of dimension H(M+N) − H² (the GL(H) orbit is a redundancy)
    lam, multiplicity = reduced_rank_learning_coefficient(m, n, h, h)
    assert (lam, multiplicity) == ((h * (m + n) - h * h) / 2, 1)


def test_reduced_rank_hand_cases():
    # M = N = H = 1, r = 0: K ∝ (ab)², a normal crossing: λ = ½ with multiplicity 2
    assert reduced_rank_learning_coefficient(1, 1, 1, 0) == (0.5, 2)
    # M = N = 1, H ≥ 2, r = 0: K ∝ f², f = Σ_h a_h b_h a quadratic form of rank 2H; off the origin f = 0 is
    # a smooth hypersurface (λ = ½, multiplicity 1), the origin only contributes 2H/4 ≥ 1
    assert reduced_rank_learning_coefficient(1, 1, 2, 0) == (0.5, 1)  # Aoyagi–Watanabe case 1, even
    assert reduced_rank_learning_coefficient(1, 1, 3, 0) == (0.5, 1)  # case M + N < H + r
    # H ≥ M + N − r … far from the truth's rank: λ never exceeds d/2 = H(M+N)/2
    for m, n, h, r in [(3, 3, 2, 1), (2, 4, 3, 0), (5, 1, 2, 1)]:
        lam, _ = reduced_rank_learning_coefficient(m, n, h, r)
        assert 0 < lam <= h * (m + n) / 2
    entry = models.reduced_rank_regression(m_in=3, n_out=3, hidden=2, rank=1)
    # Aoyagi–Watanabe, case 1 with M+H+N+r = 9 odd: λ = (2·3·6 − 0 − 9 + 1)/8 = 3.5, multiplicity 2
    assert entry.facts.learning_coefficient == 3.5 and entry.facts.singular
    assert np.linalg.matrix_rank(np.asarray(entry.true_params["B"] @ entry.true_params["A"])) == 1


def test_gaussian_mixture_kl():
    entry = models.gaussian_mixture()
    mc = entry.model_class
    truth = entry.true_params
    thetas = jnp.array([[0.5, -0.2], [1.0, 1.0], [-2.0, 0.3]])
    values = jax.jit(jax.vmap(lambda mu: bv.kl(mc, truth, {"mu": mu})))(thetas)
    n = 20_000
    for i, mu in enumerate(thetas):
        p, q = mc.distribution(truth, n=1), mc.distribution({"mu": mu}, n=1)
        draws = p.sample(jax.random.PRNGKey(i), (n,))
        log_ratio = np.asarray(jax.jit(lambda y, p=p, q=q: p.log_prob(y) - q.log_prob(y))(draws))[:, 0]
        assert_within_se(values[i], log_ratio.std() / np.sqrt(n), log_ratio.mean())

        locs = np.asarray(mu)

        def integrand(x, locs=locs):  # the normalizing constants cancel in log p − log q
            log_p = -0.5 * x**2
            log_q = np.logaddexp(-0.5 * (x - locs[0]) ** 2, -0.5 * (x - locs[1]) ** 2) - np.log(2)
            return np.exp(log_p) / np.sqrt(2 * np.pi) * (log_p - log_q)

        exact = integrate.quad(integrand, -20, 20, epsabs=1e-13, epsrel=1e-13, limit=200)[0]
        np.testing.assert_allclose(values[i], exact, rtol=1e-9)
    # the singular shape at μ1 = μ2 = 0: with μ = (δ, −δ), log q(x) = log N(x; 0, 1) − δ²/2 + log cosh δx,
    # so D = δ⁴/4 − δ⁶/3 + O(δ⁸) (the δ⁸ term is 17·105/2520 δ⁸ ≈ 0.71 δ⁸, relative 2.8 δ⁴ = 3e-4 here)
    delta = 0.1
    np.testing.assert_allclose(bv.kl(mc, truth, {"mu": jnp.array([delta, -delta])}),
                               delta**4 / 4 - delta**6 / 3, rtol=1e-3)
