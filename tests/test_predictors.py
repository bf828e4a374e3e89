import jax
import jax.numpy as jnp
import numpy as np
import pytest

import bayesvol as bv
import bayesvol_zoo as models
from bayesvol.regret.predictors import erm, predictive_log_loss


@pytest.fixture(scope="module")
def kt():
    return models.bernoulli(a=0.5, b=0.5)


def test_bernoulli_mixture_map_and_plugin(kt):
    mc = kt.model_class
    train = jnp.array([0, 0, 1, 0, 0, 0, 1])  # k = 2 of n = 7
    test = jnp.array([0, 1])
    kt_prob_one = (2 + 0.5) / (7 + 1.0)  # the Krichevsky–Trofimov rule
    exact = -np.log([1 - kt_prob_one, kt_prob_one])
    cov = {"train_covariates": {"n": 7}, "test_covariates": {"n": 2}}
    mixture = predictive_log_loss(mc, "mixture", train, test, key=jax.random.PRNGKey(0),
                                  exact_log_marginal=kt.log_mixture, **cov)
    assert np.max(np.abs(np.asarray(mixture.log_loss) - exact)) < 1e-12
    # the posterior mode in the logit coordinate of Beta(k + ½, n − k + ½) is the KT rule again
    map_loss = predictive_log_loss(mc, "map", train, test, key=jax.random.PRNGKey(0), **cov)
    assert np.max(np.abs(np.asarray(map_loss.log_loss) - exact)) < 1e-7
    plugin = predictive_log_loss(mc, "plugin", train, test, key=jax.random.PRNGKey(0), **cov)
    assert np.max(np.abs(np.asarray(plugin.log_loss) + np.log([5 / 7, 2 / 7]))) < 1e-7
    assert plugin.num_infinite == 0


def test_plugin_probability_zero_is_infinite_and_counted(kt):
    mc = kt.model_class
    fitted = erm(mc, jnp.zeros(5), key=jax.random.PRNGKey(0), n=5)
    assert bool(fitted.escaped)
    loss = predictive_log_loss(mc, "plugin", jnp.zeros(5), jnp.array([0, 1, 1]), key=jax.random.PRNGKey(0),
                               train_covariates={"n": 5}, test_covariates={"n": 3})
    assert loss.num_infinite == 2
    assert np.isinf(loss.log_loss[1]) and np.isinf(loss.log_loss[2])
    assert abs(float(loss.log_loss[0])) < 1e-6


@pytest.fixture(scope="module")
def linear():
    zoo = models.linear_regression(d=3)
    cov_train, y_train = zoo.simulate(jax.random.PRNGKey(1), 40)
    cov_test, y_test = zoo.simulate(jax.random.PRNGKey(2), 50)
    return zoo, cov_train, y_train, cov_test, y_test


def test_plugin_is_least_squares_and_ensemble_agrees(linear):
    zoo, cov_train, y_train, cov_test, y_test = linear
    x, xt = np.asarray(cov_train["x"]), np.asarray(cov_test["x"])
    theta_hat = np.linalg.lstsq(x, np.asarray(y_train), rcond=None)[0]
    exact = 0.5 * np.log(2 * np.pi) + 0.5 * (np.asarray(y_test) - xt @ theta_hat) ** 2
    args = (zoo.model_class,)
    kwargs = dict(key=jax.random.PRNGKey(3), train_covariates=cov_train, test_covariates=cov_test)
    plugin = predictive_log_loss(*args, "plugin", y_train, y_test, **kwargs)
    assert np.max(np.abs(np.asarray(plugin.log_loss) - exact)) < 1e-6
    # a convex class: every deep-ensemble member is the same least-squares fit
    ensemble = predictive_log_loss(*args, "ensemble", y_train, y_test, **kwargs)
    assert np.max(np.abs(np.asarray(ensemble.log_loss) - exact)) < 1e-6


def test_sampled_mixture_and_sgld_against_exact(linear):
    zoo, cov_train, y_train, cov_test, y_test = linear
    kwargs = dict(key=jax.random.PRNGKey(4), train_covariates=cov_train, test_covariates=cov_test)
    exact = np.asarray(predictive_log_loss(zoo.model_class, "mixture", y_train, y_test,
                                           exact_log_marginal=zoo.log_mixture, **kwargs).log_loss)
    # i.i.d. draws from the exact Gaussian posterior: the Monte Carlo error of each predictive density
    x = np.asarray(cov_train["x"])
    s = np.linalg.inv(x.T @ x + np.eye(3))
    m = s @ x.T @ np.asarray(y_train)
    draws = np.random.default_rng(0).multivariate_normal(m, s, size=4000)
    sampled = predictive_log_loss(zoo.model_class, "mixture", y_train, y_test, posterior_z=jnp.asarray(draws),
                                  **kwargs)
    xt, yt = np.asarray(cov_test["x"]), np.asarray(y_test)
    dens = np.exp(-0.5 * (yt[None, :] - draws @ xt.T) ** 2) / np.sqrt(2 * np.pi)
    se = dens.std(0) / np.sqrt(len(draws)) / dens.mean(0)  # delta method for −log of the mean
    assert np.all(np.abs(np.asarray(sampled.log_loss) - exact) <= 4 * se)
    # SGLD is an approximation: its mean log loss is within 0.05 nats/datum of the exact mixture here
    sgld = predictive_log_loss(zoo.model_class, "sgld", y_train, y_test, **kwargs)
    assert abs(float(np.mean(sgld.log_loss)) - exact.mean()) < 0.05


def test_bad_input(kt, linear):
    mc = kt.model_class
    with pytest.raises(bv.ModelClassError, match="support"):
        predictive_log_loss(mc, "mixture", jnp.array([0, 2]), jnp.array([1]), key=jax.random.PRNGKey(0),
                            train_covariates={"n": 2}, test_covariates={"n": 1},
                            exact_log_marginal=kt.log_mixture)
    with pytest.raises(ValueError, match="unknown predictor"):
        predictive_log_loss(mc, "oracle", jnp.array([0]), jnp.array([1]), key=jax.random.PRNGKey(0))
    with pytest.raises(ValueError, match="larger than"):
        predictive_log_loss(mc, "plugin", jnp.array([0, 1]), jnp.array([1]), key=jax.random.PRNGKey(0),
                            num_train=3)
    zoo, cov_train, y_train, cov_test, y_test = linear
    with pytest.raises(bv.ModelClassError, match="rows"):
        predictive_log_loss(zoo.model_class, "plugin", y_train, y_test[:10], key=jax.random.PRNGKey(0),
                            train_covariates=cov_train, test_covariates=cov_test)


def test_a_registered_predictor_is_dispatched_with_the_one_signature(kt):
    from bayesvol.regret import predictors

    def laplace_rule(mc, train, train_covariates, test, test_covariates, *, key, num_train, options):
        # Laplace's rule of succession on the first num_train rows: q(1) = (k + 1) / (n + 2)
        k = jnp.sum(jnp.asarray(train)[:num_train])
        p_one = (k + options["pseudo"]) / (num_train + 2 * options["pseudo"])
        return jnp.where(jnp.asarray(test) == 1, jnp.log(p_one), jnp.log1p(-p_one))

    bv.register_predictor("laplace-rule", laplace_rule)
    try:
        assert "laplace-rule" in bv.PREDICTORS
        train = jnp.array([1, 0, 0, 1, 1, 1])  # k = 1 in the first 3 rows
        loss = bv.predictive_log_loss(kt.model_class, "laplace-rule", train, jnp.array([0, 1]),
                                      key=jax.random.key(0), num_train=3, options={"pseudo": 1.0},
                                      train_covariates={"n": 6}, test_covariates={"n": 2})
        np.testing.assert_allclose(np.asarray(loss.log_loss), -np.log([3 / 5, 2 / 5]), rtol=1e-14)
        assert loss.predictor == "laplace-rule"
        with pytest.raises(bv.ModelClassError, match="at least one training datum"):
            bv.predictive_log_loss(kt.model_class, "laplace-rule", train, jnp.array([1]),
                                   key=jax.random.key(0), num_train=0, options={"pseudo": 1.0})
        with pytest.raises(bv.InputError, match="already registered"):
            bv.register_predictor("laplace-rule", laplace_rule)
    finally:
        del predictors._REGISTRY["laplace-rule"]
    assert tuple(bv.PREDICTORS) == ("mixture", "plugin", "map", "sgld", "ensemble", "laplace_ggn",
                                    "sgd_ensemble", "quadrature", "erm_min_norm", "erm_gd")
