import jax
import jax.numpy as jnp
import numpy as np
import pytest

import bayesvol as bv
import bayesvol_zoo as models
from bayesvol.inference.fit import SamplerError, SamplerWarning, choose_chain_method, fit


@pytest.fixture(scope="module")
def linear():
    zoo = models.linear_regression(d=2)
    covariates, y = zoo.simulate(jax.random.PRNGKey(1), 40)
    return zoo, covariates, y


def test_fit_matches_the_conjugate_posterior(linear):
    zoo, covariates, y = linear
    post = fit(zoo.model_class, y, key=jax.random.PRNGKey(2), num_chains=2, num_warmup=300,
               num_samples=500, **covariates)
    assert post.samples["theta"].shape == (2, 500, 2)
    assert post.z.shape == (1000, 2)
    assert post.divergences == 0 and post.ok
    assert post.chain_method == ("parallel" if jax.local_device_count() >= 2 else "vectorized")
    # exact posterior N(m, S): S = (XᵀX + I)⁻¹, m = S Xᵀy (σ = τ = 1)
    x = np.asarray(covariates["x"])
    s = np.linalg.inv(x.T @ x + np.eye(2))
    mean = s @ x.T @ np.asarray(y)
    draws = post.samples["theta"].reshape(-1, 2)
    mcse = np.sqrt(np.diag(s) / post.ess_bulk["theta"])  # the smallest ESS: a conservative MCSE
    assert np.all(np.abs(draws.mean(0) - mean) <= 4 * mcse)
    # the posterior variances too: a variance estimate's standard error is ≈ var·√(2 / ESS)
    assert np.all(np.abs(draws.var(0) - np.diag(s)) <= 4 * np.diag(s) * np.sqrt(2 / post.ess_bulk["theta"]))
    tree = post.to_arviz()
    assert {"posterior", "sample_stats", "log_likelihood", "observed_data"} <= set(tree.children)
    assert tree["log_likelihood"]["y"].shape == (2, 500, 40)


def test_chain_method_uses_the_host_devices():
    assert choose_chain_method(1) == "sequential"
    devices = jax.local_device_count()
    assert choose_chain_method(devices + 1) == "vectorized"
    # one chain per host device runs in parallel; a single device runs one chain sequentially
    assert choose_chain_method(devices) == ("parallel" if devices >= 2 else "sequential")
    assert choose_chain_method(2) == ("parallel" if devices >= 2 else "vectorized")


def test_poor_diagnostics_warn(linear):
    zoo, covariates, y = linear
    with pytest.warns(SamplerWarning, match="bulk ESS"):
        fit(zoo.model_class, y, key=jax.random.PRNGKey(3), num_chains=2, num_warmup=50, num_samples=50,
            **covariates)


def test_all_chains_diverging_is_an_error(linear):
    zoo, covariates, y = linear
    with pytest.raises(SamplerError, match="diverged"):
        fit(zoo.model_class, 100 * y, key=jax.random.PRNGKey(4), num_chains=2, num_warmup=20,
            num_samples=20, nuts_kwargs={"step_size": 50.0, "adapt_step_size": False}, **covariates)


def test_bad_input(linear):
    zoo, covariates, y = linear
    with pytest.raises(bv.ModelClassError, match="rows"):
        fit(zoo.model_class, y[:30], key=jax.random.PRNGKey(0), **covariates)
    bern = models.bernoulli()
    with pytest.raises(bv.ModelClassError, match="support"):
        fit(bern.model_class, jnp.array([0, 1, 2]), key=jax.random.PRNGKey(0))


def test_one_chain_ok_rests_on_ess_and_divergences(linear):
    """R-hat needs two chains in ArviZ (NaN with one): a healthy single chain is ok on ESS and
    divergences alone, and summary() says what ok was decided on."""
    zoo, covariates, y = linear
    post = fit(zoo.model_class, y, key=jax.random.PRNGKey(5), num_chains=1, num_warmup=300, num_samples=800,
               **covariates)
    assert np.isnan(post.rhat["theta"])
    assert post.ess_bulk["theta"] >= 400 and post.divergences == 0
    assert post.ok and post.problems == []
    table = post.summary()
    assert "bulk ESS and divergences alone (one chain" in table.attrs["ok"]
    assert table.attrs["ok"].startswith("ok = True")


def test_one_chain_with_too_few_draws_is_not_ok(linear):
    zoo, covariates, y = linear
    with pytest.warns(SamplerWarning, match="bulk ESS") as caught:
        post = fit(zoo.model_class, y, key=jax.random.PRNGKey(6), num_chains=1, num_warmup=50, num_samples=60,
                   **covariates)
    assert len(caught) == 1 and "R-hat" not in str(caught[0].message)
    assert not post.ok and len(post.problems) == 1 and post.problems[0].startswith("bulk ESS")
    assert "R-hat, bulk ESS and divergences" not in post.summary().attrs["ok"]
