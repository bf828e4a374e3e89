"""ERM flat directions (named_erm.flat_directions) and SGLD's default step and divergence check."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import bayesvol as bv
import bayesvol_zoo as models
from bayesvol.inference.fit import SamplerError
from bayesvol.regret.sgld import sgld

K = jax.random.PRNGKey(0)


def test_flat_directions_is_the_null_space_dimension():
    """Exact counts: a random linear design of n < d rows leaves d − n flat directions, n ≥ d none; a
    repeated row adds none; a covariate column that is twice another is flat whatever n; logits count
    like means (logistic, d = 5, 2 rows: 3)."""
    zoo = models.linear_regression(d=6)
    mc = zoo.model_class
    cov, y = zoo.simulate(jax.random.PRNGKey(1), 40)
    z = jnp.zeros(6)
    assert bv.flat_directions(mc, z, y, cov, num_rows=3) == 3
    assert bv.flat_directions(mc, z, y, cov) == 0
    x = cov["x"]
    assert bv.flat_directions(mc, z, jnp.concatenate([y[:3], y[:3]]),
                              {"x": jnp.concatenate([x[:3], x[:3]])}) == 3
    assert bv.flat_directions(mc, z, y, {"x": x.at[:, 1].set(2 * x[:, 0])}) == 1
    logistic = models.logistic_regression(d=5)
    lcov, ly = logistic.simulate(jax.random.PRNGKey(2), 10)
    assert bv.flat_directions(logistic.model_class, jnp.zeros(5), ly, lcov, num_rows=2) == 3
    # an escaped (non-finite) fit has no Jacobian: None, never a number
    assert bv.flat_directions(mc, jnp.full(6, jnp.inf), y, cov) is None


def test_flat_directions_past_the_jacobian_budget_is_unknown(monkeypatch):
    # a Jacobian larger than FLAT_MAX_ENTRIES is not formed (a 9,610-parameter network on 1,797 digits
    # asked for 1e11 bytes): None, never a number; at the limit itself it is still counted
    from bayesvol.regret import outputs

    zoo = models.linear_regression(d=6)
    cov, y = zoo.simulate(jax.random.PRNGKey(1), 40)
    monkeypatch.setattr(outputs, "FLAT_MAX_ENTRIES", 40 * 6 - 1)
    assert bv.flat_directions(zoo.model_class, jnp.zeros(6), y, cov) is None
    monkeypatch.setattr(outputs, "FLAT_MAX_ENTRIES", 40 * 6)
    assert bv.flat_directions(zoo.model_class, jnp.zeros(6), y, cov) == 0


def test_flat_directions_of_the_monomial_design_match_numpy_rank():
    """Polynomial d = 41: the count is d − numpy.linalg.matrix_rank of the scaled design (its default
    tolerance, max(rows, d)·ε·s_max). At n = 20 the design has full row rank (21 = d − n flat), but from
    n = 40 on the monomial columns are numerically dependent: more flat directions than d − n, and some
    even at n = 160 > d, where the ERM is a point on paper."""
    zoo = models.polynomial_regression()
    mc = zoo.model_class
    cov, y = zoo.simulate(jax.random.PRNGKey(3), 160)
    jac = jax.jacfwd(lambda z: bv.regret.approx.observed_outputs(mc, "normal", z, cov)[0])(jnp.zeros(41))
    flat = {}
    for n in (20, 40, 160):
        flat[n] = bv.flat_directions(mc, jnp.zeros(41), y, cov, num_rows=n)
        assert flat[n] == 41 - np.linalg.matrix_rank(np.asarray(jac)[:n] / 0.5)
    assert flat[20] == 21 and flat[40] > 1 and flat[160] > 0


@pytest.mark.slow
def test_regret_curve_reports_flat_directions_beside_the_spread():
    zoo = models.linear_regression(d=6)
    ds = bv.regret_curve(zoo.model_class, zoo, [3, 40], [0], ("plugin", "erm_min_norm", "erm_gd"), key=K,
                         exact_log_marginal=zoo.log_mixture, online=False, num_test=10)
    flat = ds["erm_flat_directions"]
    assert flat.dims == ("predictor", "n", "seed") and "rcond" in flat.attrs
    np.testing.assert_array_equal(flat.sel(seed=0).values, [[3, 0], [3, 0], [3, 0]])
    assert "erm_spread" in ds


@pytest.mark.slow
def test_sgld_default_step_is_stable_on_the_monomial_design():
    """Polynomial d = 41, n = 40: the old fixed step 0.2 diverged here (gap 3e117 at n = 100); the default
    step from the preconditioned curvature stays finite and its mixture is within 0.1 nats per datum of
    the exact Bayes mixture (mean over 100 test rows; measured 0.028–0.048 on 2 data sets at n = 40, 100:
    SGLD has no Metropolis correction, so this bounds its bias, it has no standard error)."""
    zoo = models.polynomial_regression()
    mc = zoo.model_class
    cov, y = zoo.simulate(jax.random.PRNGKey(3), 40)
    cov_t, y_t = zoo.simulate(jax.random.PRNGKey(13), 100)
    args = dict(key=K, train_covariates=cov, test_covariates=cov_t)
    exact = bv.predictive_log_loss(mc, "mixture", y, y_t, exact_log_marginal=zoo.log_mixture, **args)
    approx = bv.predictive_log_loss(mc, "sgld", y, y_t, **args)
    assert np.isfinite(approx.code_length)
    assert abs(approx.code_length - exact.code_length) < 0.1
    # the old default step is far past the stability limit here: an error naming the cure, never a number
    with pytest.raises(SamplerError, match=r"SGLD diverged.*step_size"):
        sgld(mc, y, key=K, step_size=0.2, covariates=cov)
