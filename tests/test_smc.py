"""Data-sequential SMC (bayesvol.inference.smc) and the regret curve it gives, against grid quadrature."""

import functools
import inspect

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.scipy.special import logsumexp

import bayesvol as bv
import bayesvol_zoo as models
from bayesvol.inference.smc import sequential_smc
from bayesvol.regret.regret import as_truth

TAU = 2.0
NS = [5, 10, 20, 40]
SEEDS = list(range(8))
NUM_TEST = 100
# sequential_smc's defaults (particles, HMC steps and leapfrog steps per move, ESS target)
DEFAULT = {k: p.default for k, p in inspect.signature(sequential_smc).parameters.items()}
N = DEFAULT["num_particles"]


def grid_mixture(x, y, test_x, test_y, ns, half_width=8.0, h=0.04):
    """Logistic d = 2, w ~ N(0, τ²I), by the 2-D midpoint rule (converged to ~1e-9: test_evidence.py).

    ``test_x``, ``test_y``: one test set per n, stacked. Returns log Q(x^n) for each n and
    log Q(y_j | x_j; x^n) for each n and its test row j.
    """
    return _grid_mixture(jnp.asarray(x), jnp.asarray(y), jnp.asarray(test_x), jnp.asarray(test_y),
                         tuple(ns), half_width, h)


@functools.partial(jax.jit, static_argnums=(4, 5, 6))
def _grid_mixture(x, y, test_x, test_y, ns, half_width, h):
    g = jnp.arange(-half_width, half_width + h / 2, h)
    w = jnp.stack(jnp.meshgrid(g, g, indexing="ij"), -1).reshape(-1, 2)

    def log_lik(xs, ys):
        logits = w @ xs.T
        return ys * jax.nn.log_sigmoid(logits) + (1 - ys) * jax.nn.log_sigmoid(-logits)

    log_prior = jnp.sum(jax.scipy.stats.norm.logpdf(w, 0.0, TAU), axis=1) + 2 * jnp.log(h)
    cumulative = log_prior[:, None] + jnp.cumsum(log_lik(x, y), axis=1)
    log_q, predictive = [], []
    for i, n in enumerate(ns):
        joint = cumulative[:, n - 1]
        log_q.append(logsumexp(joint))
        predictive.append(logsumexp(joint[:, None] - log_q[-1] + log_lik(test_x[i], test_y[i]), axis=0))
    return jnp.stack(log_q), jnp.stack(predictive)


@pytest.fixture(scope="module")
def logistic():
    return models.logistic_regression(d=2, tau=TAU)


@pytest.mark.slow
def test_regret_curve_from_one_run_matches_quadrature(logistic):
    """Online and batch regret of the SMC mixture against the exact (quadrature) mixture, same data."""
    key = jax.random.PRNGKey(7)
    with np.errstate(all="ignore"):
        ds = bv.regret_curve(logistic.model_class, logistic, NS, SEEDS, ("mixture",), key=key,
                             num_test=NUM_TEST)
    assert int(ds["smc_gradients"].isel(n=-1).min()) > 0 and bool(ds["smc_ok"].all())
    # the same data and test rows as regret_curve draws them (a change there makes this fail loudly)
    truth = as_truth(logistic)
    online, batch = np.zeros((len(NS), len(SEEDS))), np.zeros((len(NS), len(SEEDS)))
    _, key = jax.random.split(key)
    for j, seed in enumerate(SEEDS):
        key_data, key_test, _, _ = jax.random.split(jax.random.fold_in(key, seed), 4)
        cov, y = truth.simulate(key_data, NS[-1])
        tests = [truth.sample_test(jax.random.fold_in(key_test, n), NUM_TEST) for n in NS]
        log_ref = np.cumsum(np.asarray(truth.log_likelihood(y, cov)))
        log_q, predictive = grid_mixture(cov["x"], y, jnp.stack([c["x"] for c, _ in tests]),
                                         jnp.stack([t for _, t in tests]), NS)
        online[:, j] = log_ref[np.asarray(NS) - 1] - np.asarray(log_q)
        for i, (test_cov, test_y) in enumerate(tests):
            ref_test = np.asarray(truth.log_likelihood(test_y, test_cov))
            batch[i, j] = float(np.mean(ref_test - np.asarray(predictive[i])))
    for name, exact in (("online_regret", online), ("regret", batch)):
        estimate = ds[name].values if name == "online_regret" else ds[name].sel(predictor="mixture").values
        # paired over seeds: the SMC error alone (the data's spread cancels), a far stricter test than
        # the curve's own stderr over seeds
        diff = estimate - exact
        z = diff.mean(axis=1) / (diff.std(axis=1, ddof=1) / np.sqrt(len(SEEDS)))
        print(f"{name}: paired z per n {np.round(z, 2).tolist()}, mean difference "
              f"{np.round(diff.mean(axis=1), 4).tolist()}")  # shown with pytest -s: the acceptance figure
        assert np.all(np.abs(z) < 3), (name, z, diff.mean(axis=1))
        # and the curve's own mean ± stderr covers the exact mixture's mean over the same seeds
        mean = ds[f"{name}_mean"].values.reshape(-1)[-len(NS):]
        stderr = ds[f"{name}_stderr"].values.reshape(-1)[-len(NS):]
        assert np.all(np.abs(mean - exact.mean(axis=1)) < 3 * stderr), name


def test_run_is_deterministic_and_complete(logistic):
    cov, y = logistic.simulate(jax.random.PRNGKey(1), 40)
    options = {"key": jax.random.PRNGKey(3), "grid": NS, "x": cov["x"]}
    one = sequential_smc(logistic.model_class, y, **options)
    two = sequential_smc(logistic.model_class, y, **options)
    for name in ("log_q", "particles", "log_weights", "ess", "num_gradients"):
        np.testing.assert_array_equal(getattr(one, name), getattr(two, name))
    assert one.log_q.shape == (40,) and one.particles.shape == (4, N, 2)
    np.testing.assert_allclose(np.cumsum(one.increments), one.log_q)
    np.testing.assert_allclose(logsumexp(one.log_weights, axis=1), 0.0, atol=1e-12)
    assert np.all(np.diff(one.log_q) < 0)  # a code length grows with t
    assert one.total_gradients == int(one.num_resample.sum()) * N * (
        1 + DEFAULT["num_mcmc_steps"] * DEFAULT["num_integration_steps"]) > 0
    # a different key gives a different run
    other = sequential_smc(logistic.model_class, y, **{**options, "key": jax.random.PRNGKey(4)})
    assert not np.array_equal(other.log_q, one.log_q)
    tree = one.to_arviz()
    stats = tree["sample_stats"]
    assert {"ess", "acceptance", "resample_steps", "tempering_steps", "gradients"} <= set(stats.data_vars)
    assert stats["ess"].shape == (1, 1, 40)
    assert stats.attrs["total_gradients"] == one.total_gradients


def test_tempering_bridges_a_surprising_datum(logistic):
    """Data the prior finds very unlikely are tempered in: several exponent steps, ESS held at the target."""
    x = jnp.array([[6.0, 0.0], [0.0, 6.0], [-6.0, 0.0], [0.0, -6.0]] * 10)
    y = jnp.array([1, 1, 0, 0] * 10)
    run = sequential_smc(logistic.model_class, y, key=jax.random.PRNGKey(0), grid=NS, x=x)
    assert run.num_tempering.max() >= 2
    # the bridge holds the ESS at the target (bisection tolerance)
    assert run.ess.min() >= DEFAULT["target_ess"] * N * 0.99
    exact, _ = grid_mixture(x, y, x[None, :1], y[None, :1], [40])
    # one run without its stderr: a loose check that the bridge's increments add up
    assert abs(run.log_q[-1] - float(exact[0])) < 0.3


def test_degraded_runs_warn(logistic):
    cov, y = logistic.simulate(jax.random.PRNGKey(1), 40)
    options = {"key": jax.random.PRNGKey(0), "grid": NS, "x": cov["x"]}
    with pytest.warns(bv.SamplerWarning, match="acceptance 0.00.*distinct"):
        run = sequential_smc(logistic.model_class, y, num_mcmc_steps=0, **options)
    assert run.total_gradients == int(run.num_resample.sum()) * N > 0
    with pytest.warns(bv.SamplerWarning, match="ESS fell"):
        sequential_smc(logistic.model_class, y, target_ess=0.02, **options)


def test_regret_curve_smc_health_and_warning(logistic):
    with pytest.warns(bv.SamplerWarning, match="data-sequential SMC runs"):
        ds = bv.regret_curve(logistic.model_class, logistic, NS, [0], ("mixture",), key=jax.random.PRNGKey(0),
                             num_test=NUM_TEST, smc_options={"num_mcmc_steps": 0})
    for name in ("smc_ess", "smc_ess_min", "smc_acceptance", "smc_resample_steps", "smc_gradients",
                 "smc_ok"):
        assert ds[name].dims == ("n", "seed"), name
    assert not bool(ds["smc_ok"].all())
    assert np.all(np.diff(ds["smc_gradients"].values[:, 0]) >= 0)
    assert np.isfinite(ds["regret"].values).all() and np.isfinite(ds["online_regret"].values).all()
    assert "fit_rhat" not in ds  # no NUTS fit on this route
