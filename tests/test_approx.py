"""Approximate mixtures and named ERMs (bayesvol.regret.approx) and the mixture gap, against exact answers."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import bayesvol as bv
import bayesvol_zoo as models

K = jax.random.PRNGKey(0)


def _sets(zoo, n, m=60, seed=1):
    cov, y = zoo.simulate(jax.random.PRNGKey(seed), n)
    cov_t, y_t = zoo.simulate(jax.random.PRNGKey(seed + 100), m)
    return {"train": y, "test": y_t, "train_covariates": cov, "test_covariates": cov_t}


def test_laplace_ggn_is_the_exact_mixture_for_linear_gaussian():
    """Linear-Gaussian d = 6: the linearized Laplace predictive is the posterior predictive itself (to 1e-8
    nats) with n = 30 > d and n = 4 < d rows; at rank 2 < d the dropped directions keep the prior's
    variance, so the predictive is wider than the exact one (more nats on average)."""
    zoo = models.linear_regression(d=6)
    sets = _sets(zoo, 30, m=40)
    mc, train, test = zoo.model_class, sets.pop("train"), sets.pop("test")
    options = {"num_starts": 1}  # the MAP is unique: one L-BFGS start
    for n in (4, 30):
        exact = bv.predictive_log_loss(mc, "mixture", train, test, key=K, exact_log_marginal=zoo.log_mixture,
                                       num_train=n, **sets)
        ggn = bv.predictive_log_loss(mc, "laplace_ggn", train, test, key=K, num_train=n, options=options,
                                     **sets)
        assert np.max(np.abs(np.asarray(ggn.log_loss) - np.asarray(exact.log_loss))) < 1e-8, n
        assert ggn.gradient_evaluations > 0
    low = bv.predictive_log_loss(mc, "laplace_ggn", train, test, key=K, options={**options, "rank": 2},
                                 **sets)
    assert low.code_length > exact.code_length + 0.05  # exact: n = 30, as low


@pytest.mark.slow
def test_laplace_ggn_bernoulli_monte_carlo_near_the_exact_mixture():
    """Beta–Bernoulli at n = 200: the linearized-logit predictive (MC over 1000 draws) is within 0.005 nats
    per datum of the exact Krichevsky–Trofimov mixture (the Laplace error is O(1/n²) per datum here)."""
    zoo = models.bernoulli()
    train = zoo.simulate(jax.random.PRNGKey(1), 200)[1]
    test = jnp.array([0, 1])
    kwargs = {"train_covariates": {"n": 200}, "test_covariates": {"n": 2}}
    exact = bv.predictive_log_loss(zoo.model_class, "mixture", train, test, key=K,
                                   exact_log_marginal=zoo.log_mixture, **kwargs)
    ggn = bv.predictive_log_loss(zoo.model_class, "laplace_ggn", train, test, key=K, **kwargs)
    assert np.max(np.abs(np.asarray(ggn.log_loss) - np.asarray(exact.log_loss))) < 5e-3


def test_min_norm_erm_is_the_pseudo_inverse_solution_when_well_conditioned():
    zoo = models.linear_regression(d=6)
    sets = _sets(zoo, 4)  # n < d: a 2-dimensional affine set of interpolants
    z, rank = bv.min_norm_erm(zoo.model_class, sets["train"], sets["train_covariates"])
    x = np.asarray(sets["train_covariates"]["x"])
    assert rank == 4
    expected_z = np.linalg.pinv(x) @ np.asarray(sets["train"])
    np.testing.assert_allclose(np.asarray(z), expected_z, rtol=0, atol=1e-12)
    loss = bv.predictive_log_loss(zoo.model_class, "erm_min_norm", sets["train"], sets["test"], key=K,
                                  train_covariates=sets["train_covariates"],
                                  test_covariates=sets["test_covariates"])
    y_t, x_t = np.asarray(sets["test"]), np.asarray(sets["test_covariates"]["x"])
    expected = 0.5 * np.log(2 * np.pi) + 0.5 * (y_t - x_t @ np.asarray(z)) ** 2  # σ = 1
    np.testing.assert_allclose(np.asarray(loss.log_loss), expected, rtol=1e-12)


def test_min_norm_erm_is_stable_where_the_gram_pseudo_inverse_fails():
    """A square design with singular values 1 … 1e-10 (condition 1e10): the SVD of X recovers θ★ = X⁻¹y to
    1e-5, while pinv(XᵀX) Xᵀy (condition 1e20, below float64's reach) loses the small directions."""
    d = 8
    rng = np.random.default_rng(0)
    u, _ = np.linalg.qr(rng.normal(size=(d, d)))
    v, _ = np.linalg.qr(rng.normal(size=(d, d)))
    x = u @ np.diag(np.logspace(0, -10, d)) @ v.T
    theta = rng.normal(size=d)
    y = x @ theta
    mc = models.linear_regression(d=d).model_class
    z, rank = bv.min_norm_erm(mc, y, {"x": x})
    assert rank == d
    assert np.linalg.norm(np.asarray(z) - theta) < 1e-5 * np.linalg.norm(theta)
    gram = np.linalg.pinv(x.T @ x) @ x.T @ y
    assert np.linalg.norm(gram - theta) > 0.1 * np.linalg.norm(theta)


def test_gd_from_zero_converges_to_the_min_norm_erm():
    """Least squares with n < d: gradient descent from z = 0 stays in the row space, so it converges to
    the minimum-norm interpolant (to the stated tolerance); from a prior draw it does not."""
    zoo = models.linear_regression(d=10)
    sets = _sets(zoo, 5)
    mc = zoo.model_class
    z_min, _ = bv.min_norm_erm(mc, sets["train"], sets["train_covariates"])
    z_gd, steps, norm, _ = bv.erm_gd_fit(mc, sets["train"], sets["train_covariates"], jnp.zeros(10),
                                         num_rows=5, tol=1e-8)
    assert norm < 1e-8 and steps < 20000
    # ‖∇‖ < 1e-8 on a mean loss whose smallest non-zero curvature is ≈ 0.1: within 1e-6 of the limit
    assert np.max(np.abs(np.asarray(z_gd) - np.asarray(z_min))) < 1e-6
    z0 = jax.random.normal(jax.random.PRNGKey(4), (10,))
    z_far, _, _, _ = bv.erm_gd_fit(mc, sets["train"], sets["train_covariates"], z0, num_rows=5, tol=1e-8)
    assert np.linalg.norm(np.asarray(z_far) - np.asarray(z_min)) > 0.1


def _exp_mean_model(x, y=None):
    import numpyro
    import numpyro.distributions as dist

    theta = numpyro.sample("theta", dist.Normal(0.0, 1.0).expand([2]).to_event(1))
    with numpyro.plate("data", x.shape[0]):
        numpyro.sample("y", dist.Normal(jnp.exp(x @ theta), 1.0), obs=y)


def test_min_norm_erm_refuses_a_nonlinear_mean():
    x = jax.random.normal(K, (5, 2))
    mc = bv.ModelClass(_exp_mean_model, x=x)
    with pytest.raises(bv.InputError, match="linear in the parameters"):
        bv.predictive_log_loss(mc, "erm_min_norm", jnp.ones(5), jnp.ones(5), key=K,
                               train_covariates={"x": x}, test_covariates={"x": x})


def test_plugin_reports_the_spread_of_its_interpolants_and_the_regret_curve_records_costs():
    """n = 3 < d = 6: L-BFGS from z = 0 and from prior draws ends at different interpolants (spread > 0);
    n = 40 > d: one minimizer (spread ≈ 0). regret_curve carries both and the gradient counts."""
    zoo = models.linear_regression(d=6)
    ds = bv.regret_curve(zoo.model_class, zoo, [3, 40], [0, 1], ("plugin", "erm_min_norm"), key=K,
                         exact_log_marginal=zoo.log_mixture, online=False, num_test=20)
    spread = ds["erm_spread"].sel(predictor="plugin")
    assert float(spread.sel(n=3).min()) > 0.1
    assert float(spread.sel(n=40).max()) < 1e-4
    grads = ds["gradient_evaluations"]
    assert np.all(np.asarray(grads.sel(predictor="erm_min_norm")) == np.array([[3, 3], [40, 40]]))
    assert float(grads.sel(predictor="plugin").min()) > 0


def test_sgd_ensemble_members_reach_the_map():
    """Adam on the prior-penalized risk (weight decay = the prior) from prior draws: on a linear-Gaussian
    class every member ends near the MAP, so the ensemble's loss is the MAP plug-in's to 0.01 nats."""
    zoo = models.linear_regression(d=3)
    sets = _sets(zoo, 40)
    kwargs = {k: v for k, v in sets.items() if k not in ("train", "test")}
    ens = bv.predictive_log_loss(zoo.model_class, "sgd_ensemble", sets["train"], sets["test"], key=K,
                                 options={"num_members": 3}, **kwargs)
    map_fit = bv.predictive_log_loss(zoo.model_class, "map", sets["train"], sets["test"], key=K, **kwargs)
    assert abs(ens.code_length - map_fit.code_length) < 0.01
    assert ens.gradient_evaluations > 0


def test_mixture_gap_is_zero_for_the_exact_methods_and_matches_the_code_lengths():
    """Linear-Gaussian d = 4: laplace_ggn at full rank (budget 4) has gap 0 (to 1e-8), at rank 2 a gap > 0
    on every seed (the prior's variance kept in two directions); the min-norm ERM's gap is finite and
    ≥ 0 on average over seeds within 3 s.e."""
    zoo = models.linear_regression(d=4)
    ds = bv.mixture_gap(zoo.model_class, zoo, 8, ["laplace_ggn", "erm_min_norm"], [2, 4], key=K,
                        seeds=[0, 1, 2], num_test=30)
    assert ds.attrs["reference"] == "exact"
    assert set(ds["gap"].dims) == {"predictor", "budget", "seed"}
    laplace = ds["gap"].sel(predictor="laplace_ggn")
    assert np.max(np.abs(laplace.sel(budget=4).values)) < 1e-8
    assert np.min(laplace.sel(budget=2).values) > 0
    erm = {"predictor": "erm_min_norm", "budget": 4}
    assert np.all(np.isfinite(ds["gap"].sel(erm).values))
    assert float(ds["gap_mean"].sel(erm)) > -3 * float(ds["gap_stderr"].sel(erm))
    # a method without a budget is computed once and shown at every budget
    np.testing.assert_array_equal(ds["gap"].sel(predictor="erm_min_norm", budget=2).values,
                                  ds["gap"].sel(erm).values)


def test_mixture_gap_quadrature_is_exact_on_beta_bernoulli():
    """Beta–Bernoulli, exact reference: the quadrature predictor (the grid behind the logistic d = 2
    reference) has gap 0 to 1e-9 on every seed."""
    zoo = models.bernoulli()
    ds = bv.mixture_gap(zoo.model_class, zoo, 20, ["quadrature"], [1], key=K, seeds=[0, 1], num_test=10)
    assert np.max(np.abs(ds["gap"].values)) < 1e-9
