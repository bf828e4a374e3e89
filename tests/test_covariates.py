"""Covariates and data: the row layout, the covariates= mapping, data as a mapping, omitted covariates."""

import jax
import jax.numpy as jnp
import numpy as np
import numpyro
import numpyro.distributions as dist
import pytest

import bayesvol as bv
from bayesvol.model.covariates import RowLayout, infer_layout

SIGMA = 0.5


def linear(x, y=None):
    w = numpyro.sample("w", dist.Normal(0.0, 1.0).expand([x.shape[1]]).to_event(1))
    with numpyro.plate("rows", x.shape[0]):
        numpyro.sample("y", dist.Normal(x @ w, SIGMA), obs=y)


def colliding(data, key, y=None):
    """A model whose covariates are named like API parameters (``data``, ``key``)."""
    w = numpyro.sample("w", dist.Normal(0.0, 1.0).expand([data.shape[1]]).to_event(1))
    with numpyro.plate("rows", data.shape[0]):
        numpyro.sample("y", dist.Normal(data @ w + key, SIGMA), obs=y)


def offsets(x, shift, y=None):
    """``shift`` is per feature; with as many features as rows it must not be taken for a per-row array."""
    w = numpyro.sample("w", dist.Normal(0.0, 1.0).expand([x.shape[1]]).to_event(1))
    with numpyro.plate("rows", x.shape[0]):
        numpyro.sample("y", dist.Normal(x @ (w + shift), SIGMA), obs=y)


def counted(n=1, y=None):
    p = numpyro.sample("p", dist.Beta(1.0, 1.0))
    with numpyro.plate("n", n):
        numpyro.sample("y", dist.Bernoulli(p), obs=y)


@pytest.fixture(scope="module")
def design():
    return jax.random.normal(jax.random.PRNGKey(0), (40, 2))


def test_row_layout_is_discovered_by_tracing(design):
    assert bv.ModelClass(linear, x=design).row_layout == RowLayout(("x",), None)
    assert bv.ModelClass(counted, n=4).row_layout == RowLayout((), "n")
    # 3 features and 3 example rows: shift has the row count by coincidence, and doubling it breaks x @ w
    mc = bv.ModelClass(offsets, x=jnp.ones((3, 3)), shift=jnp.zeros(3))
    assert mc.row_layout == RowLayout(("x",), None)
    # without a model class the rule is the leading dimension (here it cannot tell)
    assert infer_layout(3, {"x": jnp.ones((3, 3)), "shift": jnp.zeros(3)}).rows == ("shift", "x")


def fixed_rows(x, y=None):
    """Hard-codes its row count: it cannot be traced at another one."""
    w = numpyro.sample("w", dist.Normal(0.0, 1.0).expand([2]).to_event(1))
    with numpyro.plate("rows", 40):
        numpyro.sample("y", dist.Normal(x.reshape(40, 2) @ w, SIGMA), obs=y)


def test_untraceable_row_count_keeps_the_candidates_required(design):
    mc = bv.ModelClass(fixed_rows, x=design)
    assert mc.row_layout.rows == ("x",)
    with pytest.raises(bv.ModelClassError, match=r"covariates are missing: pass x=\.\.\."):
        bv.kl(mc, {"w": jnp.zeros(2)}, {"w": jnp.ones(2)})


def test_take_prefix_concat_follow_the_layout(design):
    mc = bv.ModelClass(linear, x=design)
    y = jnp.arange(40.0)
    data, cov = mc.row_layout.take(y, {"x": design}, jnp.array([3, 1]))
    np.testing.assert_array_equal(data, [3.0, 1.0])
    np.testing.assert_array_equal(cov["x"], design[jnp.array([3, 1])])
    head, head_cov = mc.row_layout.prefix(y, {"x": design}, 5)
    joined, joined_cov = mc.row_layout.concat((head, head_cov), mc.row_layout.prefix(y, {"x": design}, 2))
    assert joined.shape == (7,) and joined_cov["x"].shape == (7, 2)
    gen = bv.ModelClass(counted, n=4)
    _, cov = gen.row_layout.prefix(jnp.zeros(10), {"n": 10}, 3)
    assert cov == {"n": 3}


def test_covariates_named_like_api_parameters(design):
    """A model with arguments `data` and `key` works through covariates= everywhere, with the same numbers."""
    mc = bv.ModelClass(colliding, data=design, key=0.0)
    ref = bv.ModelClass(linear, x=design)
    w0, w1 = {"w": jnp.array([1.0, -0.5])}, {"w": jnp.array([0.2, 0.1])}
    cov = {"data": design, "key": 0.0}
    y = mc.simulate(jax.random.key(1), w0, covariates=cov)
    np.testing.assert_allclose(y, ref.simulate(jax.random.key(1), w0, x=design), rtol=0, atol=0)
    # D = (w − w0)ᵀ XᵀX (w − w0) / (2 m σ²) exactly
    delta = w1["w"] - w0["w"]
    exact = float(delta @ design.T @ design @ delta / (2 * 40 * SIGMA**2))
    assert abs(float(bv.kl(mc, w0, w1, covariates=cov)) - exact) < 1e-12
    z = mc.flatten(w1)
    np.testing.assert_allclose(mc.log_likelihood(z, y, covariates=cov), ref.log_likelihood(z, y, x=design),
                               rtol=1e-14)
    lap = bv.laplace_volume(mc, w0, [1e-2, 1e-1], covariates=cov)
    np.testing.assert_allclose(lap.log_volume, bv.laplace_volume(ref, w0, [1e-2, 1e-1], x=design).log_volume,
                               rtol=1e-12)
    # the exact log marginal N(y; 0, σ²I + XXᵀ) through the data mapping and covariates=
    cov_y = SIGMA**2 * np.eye(40) + np.asarray(design @ design.T)
    exact_q = float(jax.scipy.stats.multivariate_normal.logpdf(y, jnp.zeros(40), cov_y))
    q = bv.log_marginal(mc, {"y": y}, key=jax.random.key(2), covariates=cov, num_particles=256,
                        num_repeats=4, progress=False)
    assert abs(float(q.value) - exact_q) < 4 * float(q.stderr) + 1e-3


def test_data_as_a_mapping_equals_the_array(design):
    mc = bv.ModelClass(linear, x=design)
    y = mc.simulate(jax.random.PRNGKey(3), {"w": jnp.array([0.5, 0.5])}, x=design)
    z = jnp.array([0.1, -0.2])
    np.testing.assert_array_equal(mc.log_likelihood(z, {"y": y}, x=design), mc.log_likelihood(z, y, x=design))
    np.testing.assert_array_equal(mc.log_likelihood(z, np.asarray(y).tolist(), x=design),
                                  mc.log_likelihood(z, y, x=design))
    with pytest.raises(bv.ModelClassError, match="latent site"):
        mc.log_likelihood(z, {"w": y}, x=design)
    with pytest.raises(bv.ModelClassError, match="unknown site"):
        mc.log_likelihood(z, {"y": y, "nosuch": y}, x=design)


@pytest.mark.parametrize("call", ["kl", "laplace_volume", "sampled_volume", "log_likelihood", "fit"])
def test_omitted_covariates_are_an_error_everywhere(design, call):
    mc = bv.ModelClass(linear, x=design)
    w0 = {"w": jnp.array([1.0, -0.5])}
    calls = {
        "kl": lambda: bv.kl(mc, w0, w0),
        "laplace_volume": lambda: bv.laplace_volume(mc, w0, [0.1]),
        "sampled_volume": lambda: bv.sampled_volume(mc, w0, [0.1], key=jax.random.key(0)),
        "log_likelihood": lambda: mc.log_likelihood(jnp.zeros(2), jnp.zeros(40)),
        "fit": lambda: bv.fit(mc, jnp.zeros(40), key=jax.random.key(0)),
    }
    with pytest.raises(bv.ModelClassError, match=r"covariates are missing: pass x=\.\.\."):
        calls[call]()


def test_covariate_given_twice_or_unknown(design):
    mc = bv.ModelClass(linear, x=design)
    w0 = {"w": jnp.array([1.0, -0.5])}
    with pytest.raises(bv.InputError, match=r"\['x'\] given both"):
        bv.kl(mc, w0, w0, covariates={"x": design}, x=design)
    with pytest.raises(bv.ModelClassError, match=r"\['z'\] are not arguments of linear\(x, y\)"):
        bv.kl(mc, w0, w0, x=design, z=design)
    with pytest.raises(bv.ModelClassError, match="feeds the observed site"):
        bv.kl(mc, w0, w0, x=design, y=jnp.zeros(40))


def test_regret_curve_takes_true_parameters(design):
    """A dict of true parameters of a generative class is a truth; the exact KT mixture gives R_1 exactly."""
    mc = bv.ModelClass(counted, n=4)
    ds = bv.regret_curve(mc, {"p": jnp.asarray(0.3)}, [1], [0, 1], predictors=(), key=jax.random.key(0),
                         exact_log_marginal=lambda y, n: jnp.log(0.5) * jnp.ones(()))
    # R_1 = log P_θ0(x_1) − log Q(x_1) with Q(x_1) = 1/2 under the uniform prior
    values = np.asarray(ds["online_regret"].sel(n=1))
    assert set(np.round(values, 12)) <= {round(np.log(0.3 / 0.5), 12), round(np.log(0.7 / 0.5), 12)}
    linear_mc = bv.ModelClass(linear, x=design)
    with pytest.raises(bv.InputError, match="sample_covariates"):
        bv.regret_curve(linear_mc, {"w": jnp.zeros(2)}, [5], [0], key=jax.random.key(0))
    truth = bv.model_truth(linear_mc, {"w": jnp.zeros(2)},
                           sample_covariates=lambda key, m: {"x": jax.random.normal(key, (m, 2))})
    covariates, data = truth.simulate(jax.random.key(1), 7)
    assert covariates["x"].shape == (7, 2) and data.shape == (7,)
