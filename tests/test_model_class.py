"""ModelClass: coordinates, densities against NumPyro's own, batching, simulation and bad input."""

import jax
import jax.numpy as jnp
import numpy as np
import numpyro
import numpyro.distributions as dist
import pytest
from conftest import assert_within_se
from numpyro.distributions.transforms import biject_to
from numpyro.infer.util import log_density, log_likelihood, potential_energy, unconstrain_fn
from scipy import stats

import bayesvol as bv
import bayesvol_zoo as models

# ----------------------------------------------------------------------------- a model with everything
# Constrained priors (HalfNormal, Beta, Dirichlet, Gamma, LogNormal), a support depending on another
# site (Uniform(0, g)), a plate over a to_event vector site, a deterministic site, helper functions.


def _prior():
    sigma = numpyro.sample("sigma", dist.HalfNormal(2.0))
    p = numpyro.sample("p", dist.Beta(2.0, 3.0))
    w = numpyro.sample("w", dist.Dirichlet(jnp.array([1.0, 2.0, 3.0])))
    g = numpyro.sample("g", dist.Gamma(3.0, 2.0))
    s = numpyro.sample("s", dist.LogNormal(0.0, 0.5))
    u = numpyro.sample("u", dist.Uniform(0.0, g))
    with numpyro.plate("groups", 2):
        loc = numpyro.sample("loc", dist.Normal(0.0, 1.0).expand([3]).to_event(1))
    return {"sigma": sigma, "p": p, "w": w, "g": g, "s": s, "u": u, "loc": loc}


def _mean(x, theta):
    shift = theta["p"] * theta["g"] - theta["s"] * theta["loc"][1, 0] + theta["u"]
    return x @ (theta["loc"][0] * theta["w"]) + shift


def rich_model(x, y=None):
    theta = _prior()
    eta = numpyro.deterministic("eta", _mean(x, theta))
    with numpyro.plate("data", jnp.shape(x)[0]):
        numpyro.sample("y", dist.Normal(eta, theta["sigma"]), obs=y)


RICH_SHAPES = {"sigma": (), "p": (), "w": (3,), "g": (), "s": (), "u": (), "loc": (2, 3)}


@pytest.fixture(scope="module")
def rich():
    x = jax.random.normal(jax.random.PRNGKey(1), (4, 3))
    return bv.ModelClass(rich_model, x=x)


def _prior_draw(seed):
    """A draw from _prior's distribution by NumPy (JAX's Gamma sampler costs seconds to compile)."""
    rng = np.random.default_rng(seed)
    g = rng.gamma(3.0, 1 / 2.0)
    draw = {"sigma": abs(rng.normal(0.0, 2.0)), "p": rng.beta(2.0, 3.0), "w": rng.dirichlet([1.0, 2.0, 3.0]),
            "g": g, "s": rng.lognormal(0.0, 0.5), "u": rng.uniform(0.0, g), "loc": rng.normal(size=(2, 3))}
    return {k: jnp.asarray(v) for k, v in draw.items()}


def test_rich_structure(rich):
    assert rich.latent_sites == tuple(RICH_SHAPES)  # model order; the deterministic site is not θ
    assert rich.site_shapes == RICH_SHAPES
    assert rich.observed_site == "y" and rich.observed_kwarg == "y"
    # Dirichlet on the 3-simplex has 2 free coordinates; every other site its own size
    assert rich.dim == 1 + 1 + 2 + 1 + 1 + 1 + 6


def test_rich_round_trips(rich):
    for seed in range(3):
        params = _prior_draw(seed)
        back = rich.unflatten(rich.flatten(params))
        for k in RICH_SHAPES:
            np.testing.assert_allclose(back[k], params[k], rtol=1e-12, atol=1e-12)
        z = jax.random.normal(jax.random.PRNGKey(10 + seed), (rich.dim,))
        np.testing.assert_allclose(rich.flatten(rich.unflatten(z)), z, rtol=1e-10, atol=1e-12)
        constrained = rich.unflatten(z)
        assert np.all(np.asarray(constrained["sigma"]) > 0)
        assert 0 < constrained["u"] < constrained["g"]
        np.testing.assert_allclose(jnp.sum(constrained["w"]), 1.0, rtol=1e-14)


def test_rich_log_prior_equals_numpyro(rich):
    for seed in range(3):
        z = jax.random.normal(jax.random.PRNGKey(seed), (rich.dim,))
        params = rich.unflatten(z)
        # NumPyro's log density of the prior-only model at the constrained values ...
        log_p, trace = log_density(_prior, (), {}, params)
        # ... plus log|det J| of each site's bijection, supports read off the trace (u's depends on g)
        log_det = 0.0
        for k in RICH_SHAPES:
            transform = biject_to(trace[k]["fn"].support)
            u = transform.inv(params[k])
            log_det += jnp.sum(transform.log_abs_det_jacobian(u, params[k]))
        np.testing.assert_allclose(rich.log_prior(z), log_p + log_det, rtol=1e-12)
        # and independently: NumPyro's potential energy is −(log prior + log-Jacobian) at unconstrained values
        unconstrained = {k: biject_to(trace[k]["fn"].support).inv(params[k]) for k in RICH_SHAPES}
        np.testing.assert_allclose(rich.log_prior(z), -potential_energy(_prior, (), {}, unconstrained),
                                   rtol=1e-12)


def test_log_prior_hand_formula():
    # σ ~ HalfNormal(2), u ~ Uniform(0, σ): z = (log σ, logit(u/σ));
    # log w(z) = log HN(σ; 2) + log σ + log(1/σ) + log(σ s(1−s)) = log HN(σ; 2) + z₁ + log s + log(1−s).
    def model(y=None, n=1):
        sigma = numpyro.sample("sigma", dist.HalfNormal(2.0))
        u = numpyro.sample("u", dist.Uniform(0.0, sigma))
        with numpyro.plate("data", n if y is None else jnp.shape(y)[0]):
            numpyro.sample("y", dist.Normal(u, sigma), obs=y)

    mc = bv.ModelClass(model)
    assert mc.dim == 2
    for z in [jnp.array([0.3, -1.2]), jnp.array([-2.0, 0.5]), jnp.array([1.5, 3.0])]:
        sigma, s = np.exp(z[0]), 1 / (1 + np.exp(-z[1]))
        hand = stats.halfnorm.logpdf(sigma, scale=2.0) + z[0] + np.log(s) + np.log1p(-s)
        np.testing.assert_allclose(mc.log_prior(z), hand, rtol=1e-12)
        np.testing.assert_allclose(mc.unflatten(z)["u"], sigma * s, rtol=1e-12)


def test_rich_log_likelihood_equals_numpyro(rich):
    x = jax.random.normal(jax.random.PRNGKey(2), (9, 3))  # other rows than the example covariates
    z = jax.random.normal(jax.random.PRNGKey(3), (rich.dim,))
    params = rich.unflatten(z)
    y = rich.simulate(jax.random.PRNGKey(4), params, x=x)
    ll = rich.log_likelihood(z, y, x=x)
    assert ll.shape == (9,)
    ref = log_likelihood(rich_model, params, x, y=y, batch_ndims=0)["y"]
    np.testing.assert_allclose(ll, ref, rtol=1e-12)
    # and the sum against a difference of NumPyro log joint densities
    joint, _ = log_density(rich_model, (x,), {"y": y}, params)
    prior, _ = log_density(_prior, (), {}, params)
    np.testing.assert_allclose(jnp.sum(ll), joint - prior, rtol=1e-10)


# ----------------------------------------------------------------------------- every zoo model
ZOO = sorted(models.REGISTRY)


@pytest.mark.parametrize("name", ZOO)
def test_zoo_round_trip_and_densities(zoo, name):
    entry = zoo[name]
    mc = entry.model_class
    truth = entry.true_params
    back = mc.unflatten(mc.flatten(truth))
    for k in mc.latent_sites:
        np.testing.assert_allclose(back[k], truth[k], rtol=1e-10, atol=1e-12)
    covariates, data = entry.simulate(jax.random.PRNGKey(0), 5)
    # the model without its observed site: NumPyro's view of the prior
    prior_model = numpyro.handlers.block(numpyro.handlers.seed(entry.model, 0), hide=[mc.observed_site])

    @jax.jit  # one compilation instead of hundreds of eager operations
    def check(z):
        params = mc.unflatten(z)
        ll = mc.log_likelihood(z, data, **covariates)
        ref = log_likelihood(entry.model, params, batch_ndims=0, **covariates,
                             **{mc.observed_kwarg: data})[mc.observed_site]
        unconstrained = unconstrain_fn(prior_model, (), covariates, params)
        energy = potential_energy(prior_model, (), covariates, unconstrained)
        return mc.flatten(params), ll, ref, mc.log_prior(z), -energy

    z = 0.5 * jax.random.normal(jax.random.PRNGKey(0), (mc.dim,))
    z_back, ll, ref, log_prior, numpyro_log_prior = check(z)
    np.testing.assert_allclose(z_back, z, rtol=1e-10, atol=1e-12)
    # per-datum log-likelihood = NumPyro's log_likelihood of the observed site, row by row
    assert ll.shape == (5,) and ref.shape == (5,)
    np.testing.assert_allclose(ll, ref, rtol=1e-12)
    # log prior = −NumPyro's potential energy (prior + log-Jacobian) of the model without data
    np.testing.assert_allclose(log_prior, numpyro_log_prior, rtol=1e-12)


def test_vector_outputs_per_datum():
    # y is a vector per datum (to_event(1)): reduced-rank regression and an MLP with d_out = 3
    for entry in (models.reduced_rank_regression(m_in=3, n_out=2, hidden=2),
                  models.mlp(d_in=2, widths=(4,), d_out=3)):
        mc = entry.model_class
        covariates, y = entry.simulate(jax.random.PRNGKey(0), 5)
        assert y.shape == (5, entry.options.get("n_out", entry.options.get("d_out")))
        z = mc.flatten(entry.true_params)
        ll = mc.log_likelihood(z, y, **covariates)
        loc = mc.distribution(entry.true_params, **covariates).base_dist.loc
        sigma = entry.options["sigma"]
        hand = np.sum(stats.norm.logpdf(np.asarray(y), np.asarray(loc), sigma), axis=1)
        np.testing.assert_allclose(ll, hand, rtol=1e-12)


def test_plate_on_second_dimension_sums_the_rest():
    # the plate indexes dim −2; each datum is a row of 3 conditionally independent values
    def model(x, y=None):
        loc = numpyro.sample("loc", dist.Normal(0.0, 1.0).expand([3]).to_event(1))
        with numpyro.plate("data", jnp.shape(x)[0], dim=-2):
            numpyro.sample("y", dist.Normal(loc + x[:, :1], 1.0), obs=y)

    x = jnp.arange(4.0)[:, None]
    mc = bv.ModelClass(model, x=x)
    y = mc.simulate(jax.random.PRNGKey(0), {"loc": jnp.array([0.0, 1.0, 2.0])}, x=x)
    assert y.shape == (4, 3)
    z = jnp.array([0.1, -0.2, 0.3])
    hand = np.sum(stats.norm.logpdf(np.asarray(y), np.asarray(z + x[:, :1]), 1.0), axis=1)
    np.testing.assert_allclose(mc.log_likelihood(z, y, x=x), hand, rtol=1e-12)


def test_no_plate_rows_are_the_leading_dimension():
    def model(x, y=None):
        theta = numpyro.sample("theta", dist.Normal(0.0, 1.0))
        numpyro.sample("y", dist.Normal(theta * x, 1.0), obs=y)

    x = jnp.linspace(-1.0, 1.0, 5)
    mc = bv.ModelClass(model, x=x)
    y = jnp.arange(5.0)
    hand = stats.norm.logpdf(np.asarray(y), 0.7 * np.asarray(x), 1.0)
    np.testing.assert_allclose(mc.log_likelihood(jnp.array([0.7]), y, x=x), hand, rtol=1e-12)


# ----------------------------------------------------------------------------- jit and vmap
def test_jit_and_vmap_over_z(rich):
    x = jax.random.normal(jax.random.PRNGKey(5), (7, 3))
    params0 = _prior_draw(6)
    y = rich.simulate(jax.random.PRNGKey(7), params0, x=x)
    zs = 0.3 * jax.random.normal(jax.random.PRNGKey(8), (5, rich.dim))
    divergence = bv.kl_function(rich, params0, x=x)
    batched = {
        "log_prior": jax.jit(jax.vmap(rich.log_prior))(zs),
        "log_likelihood": jax.jit(jax.vmap(lambda z: rich.log_likelihood(z, y, x=x)))(zs),
        "kl": jax.jit(jax.vmap(divergence))(zs),
    }
    assert batched["log_likelihood"].shape == (5, 7)
    for i, z in enumerate(zs):
        np.testing.assert_allclose(batched["log_prior"][i], rich.log_prior(z), rtol=1e-12)
        np.testing.assert_allclose(batched["log_likelihood"][i], rich.log_likelihood(z, y, x=x), rtol=1e-12)
        np.testing.assert_allclose(batched["kl"][i], bv.kl(rich, params0, rich.unflatten(z), x=x),
                                   rtol=1e-12)
    # the normal-likelihood KL by hand: mean over rows of log(σ/σ0) + (σ0² + (η0−η)²)/(2σ²) − ½
    params = rich.unflatten(zs[0])
    eta0, eta = _mean(x, params0), _mean(x, params)
    s0, s = params0["sigma"], params["sigma"]
    hand = np.mean(np.log(s / s0) + (s0**2 + (eta0 - eta) ** 2) / (2 * s**2) - 0.5)
    np.testing.assert_allclose(batched["kl"][0], hand, rtol=1e-12)


# ----------------------------------------------------------------------------- simulation
def test_simulate_draws_from_p_theta():
    entry = models.bernoulli(p0=0.3)
    mc = entry.model_class
    x = mc.simulate(jax.random.PRNGKey(0), entry.true_params, n=20_000)
    assert x.shape == (20_000,) and set(np.unique(np.asarray(x))) <= {0, 1}
    assert_within_se(np.mean(x), np.sqrt(0.3 * 0.7 / 20_000), 0.3)
    # a supervised class: residuals y − xᵀθ0 are N(0, σ²)
    lin = models.linear_regression(d=3, sigma=0.5)
    covariates, y = lin.simulate(jax.random.PRNGKey(1), 5_000)
    residual = np.asarray(y - covariates["x"] @ lin.true_params["theta"])
    assert_within_se(residual.mean(), 0.5 / np.sqrt(5_000), 0.0)
    assert_within_se(residual.var(), 0.25 * np.sqrt(2 / 5_000), 0.25)
    # different keys, different draws; same key, same draw
    a = mc.simulate(jax.random.PRNGKey(2), entry.true_params, n=50)
    b = mc.simulate(jax.random.PRNGKey(2), entry.true_params, n=50)
    c = mc.simulate(jax.random.PRNGKey(3), entry.true_params, n=50)
    assert np.array_equal(a, b) and not np.array_equal(a, c)


def test_simulate_then_conjugate_fit_recovers_theta0():
    # exact Gaussian posterior N(μ, Σ), Σ = (XᵀX/σ² + I/τ²)⁻¹, μ = Σ Xᵀy/σ²
    sigma, tau, d, n = 1.0, 1.0, 4, 400
    entry = models.linear_regression(d=d, sigma=sigma, tau=tau)
    mc = entry.model_class
    covariates, y = entry.simulate(jax.random.PRNGKey(11), n)
    x = covariates["x"]
    precision = x.T @ x / sigma**2 + jnp.eye(d) / tau**2
    cov = jnp.linalg.inv(precision)
    mean = cov @ x.T @ y / sigma**2
    sd = jnp.sqrt(jnp.diag(cov))
    theta0 = entry.true_params["theta"]
    # a correct posterior holds θ0 within one posterior sd per coordinate with probability ≈ 0.68^d on
    # average, so the exact claim tested is the Mahalanobis one: (μ−θ0)ᵀΣ⁻¹(μ−θ0) ~ χ²_d, below its
    # 0.999 quantile; and every coordinate within 4 sd.
    assert np.all(np.abs(mean - theta0) <= 4 * sd)
    assert float((mean - theta0) @ precision @ (mean - theta0)) <= stats.chi2.ppf(0.999, d)
    assert float(jnp.max(sd)) < 0.06  # ≈ σ/√n: the recovery is sharp, not vacuous
    # ModelClass's log joint is this posterior: gradient zero at μ, Hessian −Σ⁻¹
    z_mean = mc.flatten({"theta": mean})
    grad = jax.jit(jax.grad(mc.log_joint))(z_mean, y, x=x)
    np.testing.assert_allclose(grad, 0.0, atol=1e-9)
    np.testing.assert_allclose(jax.jit(jax.hessian(mc.log_joint))(z_mean, y, x=x), -precision, rtol=1e-10)


def test_data_given_to_the_constructor_is_not_a_covariate():
    entry = _linear()
    covariates, y = entry.simulate(jax.random.PRNGKey(0), 6)
    mc = bv.ModelClass(entry.model, y=y, **covariates)
    assert (mc.observed_site, mc.observed_kwarg, sorted(mc.example_kwargs)) == ("y", "y", ["x"])
    z = mc.flatten(entry.true_params)
    np.testing.assert_allclose(mc.log_likelihood(z, y, **covariates),
                               entry.model_class.log_likelihood(z, y, **covariates), rtol=1e-14)
    assert not np.array_equal(mc.simulate(jax.random.PRNGKey(1), entry.true_params, **covariates), y)


def test_distribution_is_the_observed_site():
    entry = models.logistic_regression()
    mc = entry.model_class
    x = entry.sample_covariates(jax.random.PRNGKey(0), 5)["x"]
    d = mc.distribution(entry.true_params, x=x)
    assert isinstance(d, dist.BernoulliLogits)
    np.testing.assert_allclose(d.logits, x @ entry.true_params["w"], rtol=1e-14)


# ----------------------------------------------------------------------------- bad input
def _linear():
    return models.linear_regression(d=3)


def test_error_no_observed_site():
    def model(x):
        numpyro.sample("theta", dist.Normal(0.0, 1.0))

    with pytest.raises(bv.ModelClassError, match="no observed site"):
        bv.ModelClass(model, x=jnp.ones(3))


def test_error_several_observed_sites():
    def model(x, y1=None, y2=None):
        theta = numpyro.sample("theta", dist.Normal(0.0, 1.0))
        with numpyro.plate("data", x.shape[0]):
            numpyro.sample("y1", dist.Normal(theta * x, 1.0), obs=y1)
            numpyro.sample("y2", dist.Normal(theta, 1.0), obs=y2)

    x = jnp.ones(3)
    with pytest.raises(bv.ModelClassError, match=r"several observed sites \['y1', 'y2'\]"):
        bv.ModelClass(model, x=x)
    mc = bv.ModelClass(model, observed="y2", x=x)
    assert (mc.observed_site, mc.observed_kwarg, mc.latent_sites) == ("y2", "y2", ("theta",))
    # the other observed site is data, not θ: its values may come in as a covariate
    y2 = jnp.array([0.5, -1.0, 2.0])
    hand = stats.norm.logpdf(np.asarray(y2), 0.3, 1.0)
    ll = mc.log_likelihood(jnp.array([0.3]), y2, x=x, y1=jnp.zeros(3))
    np.testing.assert_allclose(ll, hand, rtol=1e-12)
    with pytest.raises(bv.ModelClassError, match="observed='theta' is not an observed site"):
        bv.ModelClass(model, observed="theta", x=x)


def test_error_discrete_latent_site():
    def model(x, y=None):
        k = numpyro.sample("k", dist.Bernoulli(0.5))
        numpyro.sample("y", dist.Normal(k * x, 1.0), obs=y)

    with pytest.raises(bv.ModelClassError, match="latent site 'k' has a discrete prior"):
        bv.ModelClass(model, x=jnp.ones(3))


def test_error_improper_prior():
    def model(x, y=None):
        theta = numpyro.sample("theta", dist.ImproperUniform(dist.constraints.real, (), ()))
        numpyro.sample("y", dist.Normal(theta * x, 1.0), obs=y)

    with pytest.raises(bv.ModelClassError, match="'theta' has an improper prior"):
        bv.ModelClass(model, x=jnp.ones(3))

    def vector_model(x, y=None):
        theta = numpyro.sample("theta", dist.ImproperUniform(dist.constraints.positive, (), (2,)))
        numpyro.sample("y", dist.Normal(theta[0] * x, theta[1]), obs=y)

    with pytest.raises(bv.ModelClassError, match="'theta' has an improper prior"):
        bv.ModelClass(vector_model, x=jnp.ones(3))


def test_factor_in_prior_is_recorded_and_refused_by_volumes():
    def model(x, y=None):
        theta = numpyro.sample("theta", dist.Normal(0.0, 1.0))
        numpyro.factor("tilt", -theta**4)
        numpyro.sample("y", dist.Normal(theta * x, 1.0), obs=y)

    x = jnp.ones(3)
    mc = bv.ModelClass(model, x=x)
    assert (mc.factor_sites, mc.has_factor, mc.latent_sites) == (("tilt",), True, ("theta",))
    # the unnormalized log prior includes the factor's log-weight
    z = jnp.array([0.7])
    np.testing.assert_allclose(mc.log_prior(z), stats.norm.logpdf(0.7) - 0.7**4, rtol=1e-14)
    params = {"theta": jnp.asarray(0.2)}
    with pytest.raises(bv.ModelClassError, match=r"laplace_volume needs a normalized prior.*\['tilt'\]"):
        bv.laplace_volume(mc, params, [0.1], x=x)
    with pytest.raises(bv.ModelClassError, match=r"sampled_volume needs a normalized prior.*\['tilt'\]"):
        bv.sampled_volume(mc, params, [0.1], key=jax.random.PRNGKey(0), x=x)


def test_error_params_missing_site(rich):
    params = _prior_draw(0)
    del params["w"]
    with pytest.raises(bv.ModelClassError, match=r"missing site\(s\) \['w'\]"):
        rich.flatten(params)
    with pytest.raises(bv.ModelClassError, match=r"missing site\(s\) \['w'\]"):
        bv.kl(rich, _prior_draw(0), params, x=jnp.ones((4, 3)))


def test_error_params_wrong_shape():
    mc = _linear().model_class
    with pytest.raises(bv.ModelClassError, match=r"params\['theta'\] has shape \(4,\).*\(3,\)"):
        mc.flatten({"theta": jnp.zeros(4)})
    with pytest.raises(bv.ModelClassError, match=r"z must have shape \(3,\)"):
        mc.log_prior(jnp.zeros(4))


def test_error_params_outside_support(rich):
    mc = rich
    for site, value in [("p", 1.5), ("sigma", -1.0)]:
        params = {**_prior_draw(0), site: jnp.asarray(value)}
        with pytest.raises(bv.ModelClassError, match=rf"params\['{site}'\] lies outside the support"):
            mc.flatten(params)
        with pytest.raises(bv.ModelClassError, match=rf"params\['{site}'\] lies outside the support"):
            bv.kl(mc, _prior_draw(0), params, x=jnp.ones((4, 3)))


def test_error_covariates_disagree_with_model():
    entry = _linear()
    mc = entry.model_class
    z = mc.flatten(entry.true_params)
    with pytest.raises(bv.ModelClassError, match=r"covariates \{'x': \(6, 2\)\}.*example covariates"):
        mc.log_likelihood(z, jnp.zeros(6), x=jnp.ones((6, 2)))
    with pytest.raises(bv.ModelClassError, match=r"data shape \(7,\)"):
        mc.log_likelihood(z, jnp.zeros(7), x=jnp.ones((6, 3)))


def test_error_nan_or_infinite_data():
    entry = _linear()
    mc = entry.model_class
    z = mc.flatten(entry.true_params)
    x = jnp.ones((3, 3))
    for bad in (jnp.nan, jnp.inf):
        with pytest.raises(bv.ModelClassError, match=r"data for site 'y' has 1 NaN or infinite"):
            mc.log_likelihood(z, jnp.array([0.0, bad, 1.0]), x=x)


def test_error_data_outside_support():
    entry = models.bernoulli()
    mc = entry.model_class
    z = mc.flatten(entry.true_params)
    with pytest.raises(bv.ModelClassError, match=r"site 'x' lies outside the support .*Boolean.*\[2\]"):
        mc.log_likelihood(z, jnp.array([0, 1, 2, 1]))


def test_error_not_a_model():
    with pytest.raises(bv.ModelClassError, match="callable"):
        bv.ModelClass(3)


def test_error_data_without_its_covariates():
    # y observed at 5 rows, scored without saying where: the constructor's example rows must not be used
    entry = _linear()
    mc = entry.model_class
    x = mc.example_kwargs["x"]
    y = mc.simulate(jax.random.PRNGKey(0), entry.true_params, x=x)
    z = mc.flatten(entry.true_params)
    with pytest.raises(bv.ModelClassError, match=r"covariates are missing: pass x=\.\.\."):
        mc.log_likelihood(z, y)
    with pytest.raises(bv.ModelClassError, match="covariates are missing"):
        mc.log_joint(z, y)
    assert mc.log_likelihood(z, y, x=x).shape == (x.shape[0],)


def test_z_layout_matches_the_flattening():
    entry = models.get("mlp_regression", d_in=3, widths=(5,), d_out=2)
    mc = entry.model_class
    index = mc._unravel(jnp.arange(mc.dim, dtype=float))
    for name, (offset, shape) in mc.z_layout.items():
        expected = offset + np.arange(np.prod(shape)).reshape(shape)
        np.testing.assert_array_equal(np.asarray(index[name]), expected)
    assert sum(int(np.prod(shape)) for _, shape in mc.z_layout.values()) == mc.dim
