import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.special import betaln
from scipy.stats import binom

import bayesvol as bv
import bayesvol_zoo as models
from bayesvol.regret.regret import (
    Truth,
    compare,
    dataset_truth,
    online_regret,
    regret_curve,
    volume_bounds,
)
from bayesvol.volume.gchisq import gchisq_log_cdf

P0 = 0.3


def kt_regret(k, n, p=P0):
    """log P_p(x^n) − log Q_KT(x^n) for a sequence with k ones (closed form, numpy)."""
    return k * np.log(p) + (n - k) * np.log1p(-p) - (betaln(k + 0.5, n - k + 0.5) - betaln(0.5, 0.5))


def kt_expected_regret(n, p=P0, moment=1):
    k = np.arange(n + 1)
    return float(np.sum(binom.pmf(k, n, p) * kt_regret(k, n, p) ** moment))


def clarke_barron(n):
    return 0.5 * np.log(n / (2 * np.pi * np.e)) + np.log(np.pi)


@pytest.fixture(scope="module")
def kt():
    return models.bernoulli(a=0.5, b=0.5, p0=P0)


def test_kt_expected_regret_exact_sum_and_asymptote(kt):
    mc = kt.model_class
    n = 100
    # the engine's online regret of one representative sequence per k (Q is exchangeable)
    def engine_expected_regret(n):
        per_k = np.array([
            online_regret(mc, kt.true_params, jnp.arange(n) < k, [n], exact_log_marginal=kt.log_mixture,
                          n=n)[0][0]
            for k in range(n + 1)])
        assert np.max(np.abs(per_k - kt_regret(np.arange(n + 1), n))) < 1e-10
        return float(np.sum(binom.pmf(np.arange(n + 1), n, P0) * per_k))

    expected = engine_expected_regret(n)
    assert abs(expected - kt_expected_regret(n)) < 1e-10
    # Clarke–Barron with Jeffreys prior, on the engine's numbers: the gap to ½ log(n/(2πe)) + log π
    # shrinks like 1/n (measured −2.0e-3 at n = 25, −3.5e-4 at n = 100: a ratio 5.6, 4 asymptotically)
    gap_100 = abs(expected - clarke_barron(n))
    gap_25 = abs(engine_expected_regret(25) - clarke_barron(25))
    assert gap_100 < 1e-3
    assert 3 * gap_100 < gap_25 < 8 * gap_100


@pytest.mark.slow
def test_kt_regret_curve_seeds(kt):
    ns = [1, 2, 10, 50]
    ds = regret_curve(kt.model_class, kt, ns, range(30), ("mixture", "plugin"), key=jax.random.PRNGKey(0),
                      exact_log_marginal=kt.log_mixture, num_test=50)
    assert ds.regret.dims == ("predictor", "n", "seed")
    exact = np.array([kt_expected_regret(n) for n in ns])
    # the standard error from the exact variance: with few, discrete outcomes (n = 1, 2) the sample
    # standard deviation of 30 seeds is itself unreliable
    sd = np.sqrt([kt_expected_regret(n, moment=2) - kt_expected_regret(n) ** 2 for n in ns])
    mean = ds.online_regret_mean.values
    assert np.all(np.abs(mean - exact) <= 4 * sd / np.sqrt(30)), (mean, exact, sd)
    # the plug-in after one observation gives probability 0 to the other outcome: infinite, counted
    assert int(ds.num_infinite.sel(predictor="plugin", n=1)) == 30
    assert np.isinf(float(ds.regret_mean.sel(predictor="plugin", n=1)))
    assert int(ds.num_infinite.sel(predictor="mixture").sum()) == 0
    assert np.all(np.isfinite(ds.regret.sel(predictor="mixture").values))


def linear_closed_forms(x, theta0, sigma, tau):
    """Expected regret D(N(Xθ0, σ²I) ‖ N(0, C)) and B_n of DESIGN.md §2 for the design X (n × d)."""
    n, d = x.shape
    c = sigma**2 * np.eye(n) + tau**2 * x @ x.T
    mu = x @ theta0
    c_inv = np.linalg.inv(c)
    regret = 0.5 * (np.trace(sigma**2 * c_inv) - n + mu @ c_inv @ mu + np.linalg.slogdet(c)[1]
                    - n * np.log(sigma**2))
    nf = x.T @ x / sigma**2  # n·F with F the per-sample Fisher information on this design
    m = np.eye(d) + tau**2 * nf
    bound = 0.5 * np.linalg.slogdet(m)[1] + 0.5 * theta0 @ nf @ np.linalg.solve(m, theta0)
    return regret, bound, 0.5 * np.trace(np.eye(n) - sigma**2 * c_inv)


def exact_volume_curve(x, theta0, sigma, tau, eps2):
    """V(t) for D(θ) = (θ−θ0)ᵀ XᵀX (θ−θ0)/(2mσ²), θ ~ N(0, τ²I): a generalized χ² distribution function."""
    m = x.shape[0]
    a = x.T @ x / (2 * m * sigma**2)
    evals, evecs = np.linalg.eigh(tau**2 * a)
    evals = np.clip(evals, 0.0, None)
    centers = evecs.T @ theta0 / tau
    log_v = gchisq_log_cdf(eps2, evals, centers)
    zeros = np.zeros_like(eps2)
    return bv.VolumeCurve(eps2, log_v, zeros, zeros, zeros, "exact")


@pytest.mark.slow
def test_linear_expected_regret_and_bounds():
    d, n_max, sigma, tau = 6, 24, 1.0, 1.0
    zoo = models.linear_regression(d=d, sigma=sigma, tau=tau)
    theta0 = np.asarray(zoo.true_params["theta"])
    x = np.asarray(jax.random.normal(jax.random.PRNGKey(5), (n_max, d)))

    def simulate(key, n):  # a fixed design: the regret is D(P_θ0^n ‖ Q) given X
        return {"x": jnp.asarray(x[:n])}, jnp.asarray(x[:n] @ theta0) + sigma * jax.random.normal(key, (n,))

    def sample_test(key, m):  # unused: with predictors=() only the online regret is computed
        raise AssertionError

    truth = Truth(simulate, sample_test, zoo.model_class, zoo.true_params)
    ns = [3, 6, 12, 24]  # n = 3 < d: a rank-deficient design with flat directions
    ds = regret_curve(zoo.model_class, truth, ns, range(150), (), key=jax.random.PRNGKey(1),
                      exact_log_marginal=zoo.log_mixture)
    eps2 = np.geomspace(1e-6, 1e3, 300)
    for n in ns:
        regret, bound, gap = linear_closed_forms(x[:n], theta0, sigma, tau)
        mean = float(ds.online_regret_mean.sel(n=n))
        se = float(ds.online_regret_stderr.sel(n=n))
        assert abs(mean - regret) <= 4 * se, (n, mean, regret, se)
        # DESIGN.md §2: R_n = B_n − ½ tr(I − σ²C⁻¹), on the engine's estimate of R_n
        assert abs(mean - (bound - gap)) <= 4 * se, (n, mean, bound - gap, se)
        # a Gaussian prior and a quadratic D: the engine's Laplace B_n is the exact closed form
        laplace = bv.laplace_volume(zoo.model_class, zoo.true_params, eps2[::6], x=jnp.asarray(x[:n]))
        assert abs(float(bv.regret_bound(laplace, n).gibbs[0]) - bound) < 1e-8
        gibbs, ball = volume_bounds(exact_volume_curve(x[:n], theta0, sigma, tau, eps2), [n])
        assert regret <= bound <= ball[0]
        assert abs(gibbs[0] - bound) < 0.05  # B_n from the 300-point grid of the exact curve


@pytest.mark.slow
def test_polynomial_overparameterized():
    zoo = models.polynomial_regression(degree=40)
    ns = [10, 30, 100]
    ds = regret_curve(zoo.model_class, zoo, ns, range(4), ("mixture", "plugin"), key=jax.random.PRNGKey(2),
                      exact_log_marginal=zoo.log_mixture, num_test=100)
    online = ds.online_regret_mean.values
    # d = 41 parameters, (41/2) log n = 47, 70, 94 nats; measured ≈ 5, 8, 13
    assert np.all(online < 0.2 * 20.5 * np.log(ns)), online
    assert np.all(np.diff(online) > 0)
    # the interpolating ERM's excess test loss is heavy-tailed (10⁴–10⁶ nats at n = 10): compare seed
    # by seed — the mixture wins on every one of the 12 (n, seed) pairs
    mixture, plugin = ds.regret.sel(predictor="mixture"), ds.regret.sel(predictor="plugin")
    assert np.all(plugin > mixture), (plugin.values, mixture.values)
    assert np.all(mixture.mean("seed") < 0.3)  # measured 0.25, 0.10, 0.03 nats per test datum


@pytest.fixture(scope="module")
def lin2():
    return models.linear_regression(d=2)


@pytest.mark.slow
def test_chain_rule(lin2):
    zoo = lin2
    ns = [1, 2, 3, 4]
    ds = regret_curve(zoo.model_class, zoo, ns, range(100), ("mixture",), key=jax.random.PRNGKey(3),
                      exact_log_marginal=zoo.log_mixture, num_test=50)
    # R_4 − R_1 = Σ_{n=1}^{3} r(n), the batch regret after n data; seed-wise differences carry the
    # correlations between the two estimates
    online = ds.online_regret
    batch = ds.regret.sel(predictor="mixture")
    gap = (online.sel(n=4) - online.sel(n=1)) - batch.sel(n=[1, 2, 3]).sum("n")
    se = float(gap.std(ddof=1)) / np.sqrt(gap.size)
    assert abs(float(gap.mean())) <= 4 * se, (float(gap.mean()), se)


@pytest.mark.slow
def test_agnostic_dataset_truth(lin2):
    zoo = lin2
    # a data set outside the class: heavy-tailed noise and a quadratic term
    key_x, key_e = jax.random.split(jax.random.PRNGKey(4))
    x = jax.random.normal(key_x, (400, 2))
    y = x @ jnp.array([1.0, -0.5]) + 0.3 * x[:, 0] ** 2 + jax.random.t(key_e, 4.0, (400,))
    truth = dataset_truth(y, x=x)
    ds = regret_curve(zoo.model_class, truth, [40], range(3), ("mixture", "plugin"),
                      key=jax.random.PRNGKey(5), exact_log_marginal=zoo.log_mixture, num_test=200)
    assert ds.attrs["realizable"] == 0
    assert np.asarray(ds.attrs["projection"]).shape == (2,)
    assert np.all(np.isfinite(ds.regret.values))
    with pytest.raises(ValueError, match="larger than the data set"):
        regret_curve(zoo.model_class, truth, [20, 500], [0], key=jax.random.PRNGKey(0))


@pytest.mark.slow
def test_compare_heldout_and_prequential(lin2):
    zoo = lin2
    covariates, y = zoo.simulate(jax.random.PRNGKey(6), 60)
    ds = compare(zoo.model_class, y, ("mixture", "plugin"), key=jax.random.PRNGKey(7),
                 prequential_starts=[5, 40], exact_log_marginal=zoo.log_mixture, **covariates)
    assert ds.heldout.dims == ("predictor",)
    assert ds.prequential.dims == ("predictor", "n")
    assert np.all(np.isfinite(ds.heldout.values)) and np.all(ds.heldout_stderr.values > 0)


def test_bad_input(kt, lin2):
    mc = kt.model_class
    with pytest.raises(bv.ModelClassError, match="support"):
        online_regret(mc, kt.true_params, jnp.array([0, 2, 1]), exact_log_marginal=kt.log_mixture, n=3)
    with pytest.raises(ValueError, match="ns"):
        online_regret(mc, kt.true_params, jnp.array([0, 1, 1]), [4], exact_log_marginal=kt.log_mixture, n=3)
    with pytest.raises(ValueError, match="increasing"):
        regret_curve(mc, kt, [5, 2], [0], key=jax.random.PRNGKey(0))
    with pytest.raises(ValueError, match="unknown predictor"):
        regret_curve(mc, kt, [2], [0], ("bayes",), key=jax.random.PRNGKey(0))
    covariates, y = lin2.simulate(jax.random.PRNGKey(0), 10)
    with pytest.raises(bv.ModelClassError, match="rows"):
        compare(lin2.model_class, y[:8], key=jax.random.PRNGKey(0), **covariates)


@pytest.mark.slow
def test_agnostic_truth_from_another_model():
    import numpyro
    import numpyro.distributions as dist
    from jax.scipy.special import log_ndtr

    def probit(x, y=None):  # P(y = 1) = Φ(xᵀw), written through stable log Φ as logits
        w = numpyro.sample("w", dist.Normal(0.0, 2.0).expand([2]).to_event(1))
        eta = x @ w
        with numpyro.plate("data", x.shape[0]):
            numpyro.sample("y", dist.Bernoulli(logits=log_ndtr(eta) - log_ndtr(-eta)), obs=y)

    truth = models.logistic_regression(d=2)
    mc = bv.ModelClass(probit, x=jnp.zeros((3, 2)))
    ds = regret_curve(mc, truth, [50], range(2), ("plugin",), key=jax.random.PRNGKey(8), online=False,
                      projection_size=4000, num_test=200)
    assert ds.attrs["realizable"] == 0
    w_star = np.asarray(ds.attrs["projection"])
    # the probit projection of a logistic truth: w* ≈ w0 / 1.7 (the classical logit/probit scale ratio)
    w0 = np.asarray(truth.true_params["w"])
    assert np.allclose(w_star * 1.7, w0, atol=0.15), (w_star, w0)
    assert np.all(np.isfinite(ds.regret.values))


def test_regret_curve_summarizes_its_fits_in_one_warning(lin2):
    """Four sampled-mixture fits (2 n × 2 seeds) with too few draws: one SamplerWarning for all of them,
    counting the unhealthy fits and naming the worst figures; every fit's figures are in the dataset."""
    zoo = lin2
    fits = {"num_chains": 2, "num_warmup": 40, "num_samples": 40}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ds = regret_curve(zoo.model_class, zoo, [4, 8], range(2), ("mixture",), key=jax.random.PRNGKey(9),
                          online=False, num_test=20, predictor_options={"fit_kwargs": fits},
                          mixture_method="nuts")
    sampler = [w for w in caught if issubclass(w.category, bv.SamplerWarning)]
    assert len(sampler) == 1, [str(w.message) for w in caught]
    assert len(caught) == 1, [str(w.message) for w in caught]  # nothing else either
    message = str(sampler[0].message)
    assert ds.fit_ess_bulk.shape == (2, 2) and np.all(ds.fit_ess_bulk < 400)  # 80 draws in all
    bad = int((~ds.fit_ok).sum())
    assert bad == 4 and message.startswith(f"{bad} of the 4 NUTS fits")
    assert f"smallest bulk ESS {float(ds.fit_ess_bulk.min()):.0f}" in message
    assert f"largest R-hat {float(ds.fit_rhat.max()):.3f}" in message
    assert f"{int(ds.fit_divergences.sum())} divergent transition(s) in all" in message
    assert "num_samples" in message  # what to do
    assert np.all(ds.fit_divergences >= 0) and np.all(ds.fit_rhat >= 1.0 - 0.1)
