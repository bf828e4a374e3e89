
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.scipy.special import logsumexp

import bayesvol as bv
import bayesvol_zoo as models
from bayesvol.inference import smc
from bayesvol.inference.evidence import log_marginal, sequential_log_marginal, tempered_log_marginal


def gaussian_log_evidence(y, x, sigma, tau):
    """log N(y; 0, σ²I + τ²XXᵀ) in numpy float64."""
    y, x = np.asarray(y), np.asarray(x)
    cov = sigma**2 * np.eye(len(y)) + tau**2 * x @ x.T
    sign, logdet = np.linalg.slogdet(cov)
    assert sign > 0
    return -0.5 * (len(y) * np.log(2 * np.pi) + logdet + y @ np.linalg.solve(cov, y))


@pytest.fixture(scope="module")
def linear10():
    zoo = models.linear_regression(d=10)
    covariates, y = zoo.simulate(jax.random.PRNGKey(1), 200)
    return zoo, covariates, y


def test_exact_path_matches_closed_form(linear10):
    zoo, covariates, y = linear10
    exact = gaussian_log_evidence(y, covariates["x"], 1.0, 1.0)
    est = log_marginal(zoo.model_class, y, exact_log_marginal=zoo.log_mixture, **covariates)
    assert float(est.stderr) == 0.0
    assert abs(float(est.value) - exact) < 1e-8


def test_tempered_path_linear_gaussian(linear10):
    zoo, covariates, y = linear10
    exact = gaussian_log_evidence(y, covariates["x"], 1.0, 1.0)
    run = tempered_log_marginal(zoo.model_class, y, key=jax.random.PRNGKey(2), **covariates)
    # 1e-8: float64 rounding of a 200-term log-density of magnitude 300 (the closed form's own error)
    assert abs(run.value - exact) <= 3 * run.stderr + 1e-8
    assert abs(run.value - exact) <= 0.1
    assert run.num_evaluations > 0 and np.all(run.num_steps >= 1)


def logistic_grid_log_q(x, y, tau, half_width=8.0, h=0.04):
    """log ∫ N(w; 0, τ²I) Π Bernoulli(y | σ(xᵀw)) dw by the 2-D midpoint rule (converged: see below)."""
    g = jnp.arange(-half_width, half_width + h / 2, h)
    w = jnp.stack(jnp.meshgrid(g, g, indexing="ij"), -1).reshape(-1, 2)
    logits = w @ x.T
    log_lik = jnp.sum(y * jax.nn.log_sigmoid(logits) + (1 - y) * jax.nn.log_sigmoid(-logits), axis=1)
    log_prior = jnp.sum(jax.scipy.stats.norm.logpdf(w, 0.0, tau), axis=1)
    return float(logsumexp(log_lik + log_prior) + 2 * jnp.log(h))


@pytest.fixture(scope="module")
def logistic():
    zoo = models.logistic_regression(d=2)
    covariates, y = zoo.simulate(jax.random.PRNGKey(1), 100)
    return zoo, covariates, y


def test_grid_quadrature_is_converged(logistic):
    _, covariates, y = logistic
    # the midpoint rule converges geometrically for this analytic integrand: h = 0.04 is exact to 1e-9,
    # and the posterior mass beyond |w_i| = 8 (4 prior sd) is negligible
    default = logistic_grid_log_q(covariates["x"], y, 2.0)
    assert abs(default - logistic_grid_log_q(covariates["x"], y, 2.0, half_width=10.0, h=0.05)) < 1e-9


@pytest.mark.slow
def test_tempered_path_logistic_matches_grid(logistic):
    zoo, covariates, y = logistic
    exact = logistic_grid_log_q(covariates["x"], y, 2.0)
    run = tempered_log_marginal(zoo.model_class, y, key=jax.random.PRNGKey(3), num_repeats=8, **covariates)
    assert run.stderr > 0
    assert abs(run.value - exact) <= 3 * run.stderr


@pytest.mark.slow
def test_sequential_path_gives_the_whole_curve(logistic):
    zoo, covariates, y = logistic
    x40, y40 = covariates["x"][:40], y[:40]
    curve = sequential_log_marginal(zoo.model_class, y40, key=jax.random.PRNGKey(4), num_particles=256,
                                    num_repeats=16, x=x40)
    assert curve.log_q.shape == (40,)
    for t in (10, 20, 40):
        exact = logistic_grid_log_q(covariates["x"][:t], y[:t], 2.0)
        assert abs(curve.log_q[t - 1] - exact) <= 3 * curve.stderr[t - 1], t
    # the curve is a code length: log Q(x^t) decreases in t
    assert np.all(np.diff(curve.log_q) < 0)


def test_bad_input():
    bern = models.bernoulli()
    mc = bern.model_class
    with pytest.raises(bv.ModelClassError, match="support"):
        log_marginal(mc, jnp.array([0, 1, 2]), exact_log_marginal=bern.log_mixture)
    with pytest.raises(bv.ModelClassError, match="support"):
        log_marginal(mc, jnp.array([0, 1, 2]), key=jax.random.PRNGKey(0))
    lin = models.linear_regression(d=2)
    covariates, y = lin.simulate(jax.random.PRNGKey(0), 10)
    with pytest.raises(bv.ModelClassError, match="rows"):
        log_marginal(lin.model_class, y[:7], key=jax.random.PRNGKey(0), **covariates)
    with pytest.raises(ValueError, match="key"):
        log_marginal(lin.model_class, y, **covariates)
    with pytest.raises(ValueError, match="method"):
        log_marginal(lin.model_class, y, key=jax.random.PRNGKey(0), method="nested", **covariates)


def test_sequential_progress_changes_no_number_and_compiles_once(logistic, progress_spy):
    zoo, covariates, y = logistic
    x20, y20 = covariates["x"][:20], y[:20]
    options = {"key": jax.random.PRNGKey(5), "num_particles": 64, "num_repeats": 3, "x": x20}
    values, terminal = progress_spy()
    plain = sequential_log_marginal(zoo.model_class, y20, progress=False, **options)
    assert values == [] and terminal.getvalue() == ""
    shown = sequential_log_marginal(zoo.model_class, y20, **options)  # progress=True is the default
    assert max(values) == 20 and "sequential SMC" in terminal.getvalue()
    np.testing.assert_array_equal(shown.runs, plain.runs)  # bit-identical
    np.testing.assert_array_equal(shown.num_moves, plain.num_moves)
    runner = smc._runner(zoo.model_class, (), 64, True)
    assert runner._cache_size() == 1  # one program serves both


def test_tempered_progress_changes_no_number(linear10, progress_spy):
    zoo, covariates, y = linear10
    values, terminal = progress_spy()
    options = {"key": jax.random.PRNGKey(6), "num_particles": 64, "num_repeats": 2, **covariates}
    plain = tempered_log_marginal(zoo.model_class, y, progress=False, **options)
    assert values == []
    shown = tempered_log_marginal(zoo.model_class, y, progress=True, **options)
    assert max(values) == 2 and "tempered SMC" in terminal.getvalue()
    np.testing.assert_array_equal(shown.runs, plain.runs)
    # log_marginal passes progress through; off, nothing is drawn
    count = len(values)
    est = log_marginal(zoo.model_class, y, method="tempered", progress=False, **options)
    assert len(values) == count and float(est.value) == float(np.mean(plain.runs))
