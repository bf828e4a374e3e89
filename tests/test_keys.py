"""Every public function that takes a key accepts both key kinds and gives identical numbers with both.

``jax.random.key(0)`` (a typed key) and ``jax.random.PRNGKey(0)`` (a raw uint32[2] key) are the same
key; each call below is tiny, and its numbers must agree bit for bit between the two.
"""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import xarray as xr

import bayesvol as bv
import bayesvol_zoo as models
from bayesvol.regret.erm import erm, prior_draws
from bayesvol.regret.sgld import sgld

EPS2 = np.array([0.1, 1.0])


@pytest.fixture(scope="module")
def kt():
    return models.bernoulli()


@pytest.fixture(scope="module")
def lin():
    zoo = models.linear_regression(d=2)
    cov, y = zoo.simulate(jax.random.PRNGKey(1), 6)
    return zoo, cov["x"], y


KX = jnp.array([0, 1, 1, 0, 1, 0, 0, 1])
TINY_SGLD = {"num_samples": 5, "num_burnin": 5, "thin": 1}


def _calls(kt, lin):
    zoo, x, y = lin
    kmc, kp, lmc, lp = kt.model_class, kt.true_params, zoo.model_class, zoo.true_params
    other = {"theta": lp["theta"] + 0.5}
    return {
        "kl": lambda k: bv.kl(lmc, lp, other, key=k, kl_draws=16, x=x),
        "kl_estimate": lambda k: bv.kl_estimate(kmc, kp, {"p": 0.5}, key=k, kl_draws=16, n=3),
        "fisher_spectrum": lambda k: bv.fisher_spectrum(lmc, lp, method="lanczos", num_matvecs=2, key=k, x=x),
        "laplace_volume": lambda k: bv.laplace_volume(lmc, lp, EPS2, key=k, x=x),
        "sampled_volume": lambda k: bv.sampled_volume(kmc, kp, EPS2, key=k, num_live=8, num_runs=2,
                                                      num_steps=1, n=4),
        "fit": lambda k: bv.fit(kmc, KX, key=k, num_chains=1, num_warmup=5, num_samples=5, n=8).z,
        "log_marginal": lambda k: bv.log_marginal(kmc, KX, key=k, num_particles=8, num_repeats=2, n=8),
        "sequential_log_marginal": lambda k: bv.sequential_log_marginal(
            kmc, KX, key=k, num_particles=64, num_repeats=2, num_mcmc_steps=1, n=8).log_q,
        "online_regret": lambda k: bv.online_regret(
            kmc, kp, KX, [4, 8], key=k, smc_options={"num_particles": 64, "num_repeats": 2,
                                                     "num_mcmc_steps": 1}, n=8),
        "predictive_log_loss/plugin": lambda k: bv.predictive_log_loss(kmc, "plugin", KX, KX, key=k),
        "predictive_log_loss/ensemble": lambda k: bv.predictive_log_loss(kmc, "ensemble", KX, KX, key=k),
        "predictive_log_loss/sgld": lambda k: bv.predictive_log_loss(kmc, "sgld", KX, KX, key=k,
                                                                     fit_kwargs=TINY_SGLD),
        "predictive_log_loss/mixture-prior": lambda k: bv.predictive_log_loss(kmc, "mixture", None, KX,
                                                                              key=k),
        "regret_curve": lambda k: bv.regret_curve(kmc, kt, [2, 4], [0], ("plugin",), key=k, num_test=3,
                                                  exact_log_marginal=kt.log_mixture),
        "compare": lambda k: bv.compare(kmc, KX, ("plugin",), key=k, exact_log_marginal=kt.log_mixture,
                                        prequential_starts=[3], n=8),
        "ModelClass.simulate": lambda k: kmc.simulate(k, kp, n=5),
        "model_truth.simulate": lambda k: bv.model_truth(kmc, kp).simulate(k, 5),
        "dataset_truth.simulate": lambda k: bv.dataset_truth(y, x=x).simulate(k, 4),
        "erm": lambda k: erm(kmc, KX, key=k, n=8),
        "sgld": lambda k: sgld(kmc, KX, key=k, n=8, **TINY_SGLD),
        "prior_draws": lambda k: prior_draws(kmc, k, 3),
        "volume/importance": lambda k: bv.volume(lmc, lp, EPS2, method="importance", key=k, num_draws=64,
                                                 x=x),
        "gibbs_bound": lambda k: bv.gibbs_bound(lmc, lp, [10.0], key=k, num_draws=32, min_ess=8, x=x),
    }


# 25–90 s each on a loaded machine (compilation); their modules have fast tests elsewhere
SLOW = {"sampled_volume", "fit", "log_marginal", "sequential_log_marginal", "online_regret"}
NAMES = [
    "kl", "kl_estimate", "fisher_spectrum", "laplace_volume", "sampled_volume", "fit", "log_marginal",
    "sequential_log_marginal", "online_regret", "predictive_log_loss/plugin", "predictive_log_loss/ensemble",
    "predictive_log_loss/sgld", "predictive_log_loss/mixture-prior", "regret_curve", "compare",
    "ModelClass.simulate", "model_truth.simulate", "dataset_truth.simulate", "erm", "sgld", "prior_draws",
    "volume/importance", "gibbs_bound"]


def _numbers(result):
    """Every number in a result (arrays, named tuples, dataclasses, xarray datasets, dicts), except the
    wall-clock ``seconds`` of a diagnostics record."""
    if isinstance(result, xr.Dataset):
        return [np.asarray(v) for _, v in sorted(result.data_vars.items())]
    if dataclasses.is_dataclass(result):
        result = {f.name: getattr(result, f.name) for f in dataclasses.fields(result)}
    if isinstance(result, tuple) and hasattr(result, "_asdict"):  # typed records (NestedInfo, …)
        result = result._asdict()
    if isinstance(result, dict):
        return [n for k, v in result.items() if k != "seconds" for n in _numbers(v)]
    if isinstance(result, (tuple, list)):
        return [n for v in result for n in _numbers(v)]
    if isinstance(result, (np.ndarray, jax.Array, float, int, np.number)):
        return [np.asarray(result)]
    return []


@pytest.mark.filterwarnings("ignore::bayesvol.BayesvolWarning")
@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.slow) if n in SLOW else n for n in NAMES])
def test_typed_and_raw_keys_give_identical_numbers(kt, lin, name):
    call = _calls(kt, lin)[name]
    typed, raw = _numbers(call(jax.random.key(0))), _numbers(call(jax.random.PRNGKey(0)))
    assert len(typed) == len(raw) > 0
    for a, b in zip(typed, raw, strict=True):
        np.testing.assert_array_equal(a, b)
