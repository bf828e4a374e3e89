"""SGLD's diagonal path (d > DENSE_MAX_DIM): the GGN diagonal, the prior's Hessian diagonal and the Lanczos
λ_max against the dense Hessian, and its draws against the dense path's and the exact posterior."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import bayesvol as bv
import bayesvol_zoo as models
from bayesvol.model.covariates import thaw
from bayesvol.regret import sgld as sgld_module
from bayesvol.regret.predictors import predictive_log_loss
from bayesvol.regret.sgld import sgld

K = jax.random.PRNGKey(0)


def _pieces(zoo, n, used_rows, seed=1):
    """The log posterior on the first ``used_rows`` of n simulated rows, and the path's arguments."""
    mc = zoo.model_class
    cov, y = zoo.simulate(jax.random.PRNGKey(seed), n)
    y = jnp.asarray(y)
    rowwise, static = mc.row_layout.split(mc.resolve_covariates(cov, {}, data=y))
    static_cov = thaw(static)
    used = jnp.arange(n) < used_rows

    def log_post(z):
        log_lik = mc.log_likelihood(z, y, covariates={**static_cov, **rowwise})
        return mc.log_prior(z) + jnp.sum(jnp.where(used, log_lik, 0.0))

    return mc, y, static_cov, rowwise, used, log_post


@pytest.mark.parametrize("zoo", [models.logistic_regression(d=5), models.polynomial_regression()],
                         ids=["logistic", "polynomial"])
def test_diagonal_path_is_the_dense_hessian_where_it_equals_the_ggn(zoo):
    """Logits / means linear in z: the Hessian is the GGN plus the prior's, so the diagonal path's
    curvature is diag(H) to rounding (1e-12 relative) at any point, not only the mode. λ_max: Lanczos
    with full reorthogonalization is exact when d ≤ its steps (logistic, d = 5); at d = 41 > 30 steps
    (the monomial design) its top Ritz value is a lower bound, measured equal to eigvalsh to rounding —
    asserted within 1e-8 relative (the Kaniel–Paige bound for its separated top eigenvalue is smaller)."""
    mc, y, static_cov, rowwise, used, log_post = _pieces(zoo, 60, 57)
    z = 0.3 * jax.random.normal(jax.random.PRNGKey(5), (mc.dim,))
    hessian = jax.jit(jax.hessian(lambda z: -log_post(z)))(z)
    prior = jax.jit(lambda z: sgld_module._prior_hessian_diagonal(mc, z))(z)
    np.testing.assert_allclose(prior, -jnp.diag(jax.hessian(mc.log_prior)(z)), rtol=1e-12, atol=0)
    ggn = jax.jit(lambda z: sgld_module._ggn_diagonal(mc, static_cov, rowwise, y, used, z))(z)
    np.testing.assert_allclose(ggn + prior, jnp.diag(hessian), rtol=1e-12, atol=0)
    root = 1.0 / jnp.sqrt(jnp.diag(hessian))
    exact = jnp.max(jnp.linalg.eigvalsh(root[:, None] * hessian * root[None, :]))
    lam = jax.jit(lambda z: sgld_module._lambda_max(lambda z: -log_post(z), z, root))(z)
    assert float(lam) <= float(exact) * (1 + 1e-12)
    assert abs(float(lam) - float(exact)) <= 1e-8 * float(exact)


def test_ggn_diagonal_of_a_network_is_the_dense_ggn_diagonal(monkeypatch):
    """Tanh MLP classifier 4 → 6 → 3 (d = 51): the GGN is not the Hessian there, so the check is
    against fisher.ggn's dense (1/m) Σ J_iᵀ Λ_i J_i (Λ from the closed-form KL; the same Λ for Categorical
    logits) times the m rows, to rounding — with chunks of 3 rows (the padding and the mask exercised)."""
    zoo = models.mlp(d_in=4, widths=(6,), d_out=3, task="classification")
    mc, y, static_cov, rowwise, used, _ = _pieces(zoo, 20, 20)
    z = 0.5 * jax.random.normal(jax.random.PRNGKey(6), (mc.dim,))
    dense = jnp.diag(bv.ggn(mc, mc.unflatten(z), covariates=rowwise)) * 20
    monkeypatch.setattr(sgld_module, "GGN_CHUNK_ENTRIES", 3 * 3 * mc.dim)
    diagonal = jax.jit(lambda used: sgld_module._ggn_diagonal(mc, static_cov, rowwise, y, used, z))
    np.testing.assert_allclose(diagonal(used), dense, rtol=1e-10, atol=1e-12)
    # the rows past num_rows do not count
    part = diagonal(jnp.arange(20) < 7)
    first = jnp.diag(bv.ggn(mc, mc.unflatten(z), covariates={"x": rowwise["x"][:7]})) * 7
    np.testing.assert_allclose(part, first, rtol=1e-10, atol=1e-12)


@pytest.fixture(scope="module")
def linear():
    zoo = models.linear_regression(d=3)
    cov_train, y_train = zoo.simulate(jax.random.PRNGKey(1), 40)
    cov_test, y_test = zoo.simulate(jax.random.PRNGKey(2), 50)
    return zoo, cov_train, y_train, cov_test, y_test


def test_forced_diagonal_path_gives_the_dense_paths_draws(linear, monkeypatch):
    """Linear-Gaussian (d = 3): both paths find the same M and λ_max (to rounding), hence the same chain."""
    zoo, cov, y, _, _ = linear
    dense = sgld(zoo.model_class, y, key=K, num_samples=50, num_burnin=50, covariates=cov)
    monkeypatch.setattr(sgld_module, "DENSE_MAX_DIM", 0)
    diagonal = sgld(zoo.model_class, y, key=K, num_samples=50, num_burnin=50, covariates=cov)
    np.testing.assert_allclose(diagonal, dense, rtol=0, atol=1e-9)


def test_forced_diagonal_path_against_the_exact_posterior(linear, monkeypatch):
    """The test_predictors check with the diagonal path forced: the SGLD mixture's mean log loss within
    0.05 nats/datum of the exact mixture. And 2,000 draws' mean and variance against the exact posterior
    N(m, S), within 4 s.e. of the draws' effective sample size (ArviZ's ESS, ≈ 200 here): the mean within
    4 sd/√ESS, the variance within 4·√(2/ESS) relative (measured on 6 keys: |z| ≤ 1.7, variance ratio
    0.97–1.14, i.e. SGLD's O(ε) bias ≈ +5 % at ε = 0.06 sits inside the Monte Carlo error)."""
    from arviz_stats.base import array_stats

    zoo, cov_train, y_train, cov_test, y_test = linear
    monkeypatch.setattr(sgld_module, "DENSE_MAX_DIM", 0)
    kwargs = dict(key=jax.random.PRNGKey(4), train_covariates=cov_train, test_covariates=cov_test)
    exact = np.asarray(predictive_log_loss(zoo.model_class, "mixture", y_train, y_test,
                                           exact_log_marginal=zoo.log_mixture, **kwargs).log_loss)
    approx = predictive_log_loss(zoo.model_class, "sgld", y_train, y_test, **kwargs)
    assert abs(float(np.mean(approx.log_loss)) - exact.mean()) < 0.05
    x = np.asarray(cov_train["x"])
    s = np.linalg.inv(x.T @ x + np.eye(3))
    m = s @ x.T @ np.asarray(y_train)
    draws = np.asarray(sgld(zoo.model_class, y_train, key=K, num_samples=2000, covariates=cov_train))
    ess = np.array([float(array_stats.ess(draws[None, :, j])) for j in range(3)])
    sd = draws.std(axis=0, ddof=1)
    assert np.all(np.abs(draws.mean(axis=0) - m) <= 4 * sd / np.sqrt(ess))
    assert np.all(np.abs(draws.var(axis=0, ddof=1) / np.diag(s) - 1) <= 4 * np.sqrt(2 / ess))


def test_map_options_are_checked(linear):
    zoo, cov_train, y_train, cov_test, y_test = linear
    for name, value in (("map_starts", 0), ("map_maxiter", 1.5)):
        with pytest.raises(bv.InputError, match=name):
            predictive_log_loss(zoo.model_class, "sgld", y_train, y_test, key=K, train_covariates=cov_train,
                                test_covariates=cov_test, options={name: value})


def test_a_path_beyond_memory_is_refused_before_any_work(linear, monkeypatch):
    from bayesvol import errors

    zoo, cov, y, _, _ = linear
    monkeypatch.setattr(errors, "_physical_memory", lambda: 8.0 * 3 * 100)  # 80 %: 240 steps of d = 3
    with pytest.raises(bv.InputError, match=r"SGLD's path \(2500 steps × d = 3\).*num_burnin"):
        sgld(zoo.model_class, y, key=K, start=jnp.zeros(3), covariates=cov)
