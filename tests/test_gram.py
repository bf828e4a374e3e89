"""G Gᵀ with rank-one weight blocks factored equals the dense product; other blocks fall back."""

import jax
import numpy as np
import pytest

import bayesvol_zoo as models
from bayesvol.curvature.fisher import fisher, fisher_spectrum, gram_factor, spectrum_from_matrix
from bayesvol.curvature.gram import gram_matrix, weight_blocks


def _rank_one_rows(rng, m, p, q, dtype=np.float64):
    h, delta = rng.standard_normal((m, p)), rng.standard_normal((m, q))
    return (h[:, :, None] * delta[:, None, :]).reshape(m, p * q).astype(dtype)


def test_factored_block_equals_dense_product():
    rng = np.random.default_rng(0)
    m, p, q = 30, 12, 20
    parts = [rng.standard_normal((m, 7)), _rank_one_rows(rng, m, p, q), rng.standard_normal((m, 5))]
    g = np.concatenate(parts, axis=1)
    gram, factored = gram_matrix(g, [(7, p, q)])
    assert factored == p * q
    np.testing.assert_allclose(gram, g @ g.T, rtol=1e-12, atol=1e-12 * np.abs(g @ g.T).max())


def test_block_that_is_not_rank_one_falls_back():
    rng = np.random.default_rng(1)
    m, p, q = 30, 12, 20
    block = _rank_one_rows(rng, m, p, q)
    block[3] += 1e-6 * rng.standard_normal(p * q)  # one row of rank two, far above rounding
    for g in (block, rng.standard_normal((m, p * q))):
        gram, factored = gram_matrix(g, [(0, p, q)])
        assert factored == 0
        np.testing.assert_allclose(gram, g @ g.T, rtol=1e-12, atol=1e-12 * np.abs(g @ g.T).max())


def test_float32_factored_within_float32_rounding():
    rng = np.random.default_rng(2)
    m, p, q = 40, 16, 24
    g = _rank_one_rows(rng, m, p, q, np.float32)
    gram, factored = gram_matrix(g, [(0, p, q)])
    assert factored == p * q
    exact = g.astype(np.float64) @ g.astype(np.float64).T
    np.testing.assert_allclose(gram, exact, atol=1e-5 * np.abs(exact).max())


def test_weight_blocks_only_where_factoring_saves_work():
    layout = {"W": (0, (10, 40)), "b": (400, (40,)), "v": (440, (40, 1)), "T": (480, (2, 3, 50))}
    assert weight_blocks(layout) == [(0, 10, 40), (480, 6, 50)]


@pytest.mark.slow
@pytest.mark.parametrize("sqrt_cov", [None, "graded"])
def test_mlp_fisher_spectrum_through_factored_blocks(sqrt_cov):
    # A dense layer's per-example gradient is x δᵀ: with an isotropic (or no) prior whitening the W0
    # block is factored; a graded whitening breaks the rank-one structure and the block goes dense.
    zoo = models.get("mlp_regression", d_in=10, widths=(40,), d_out=1, sigma=0.5)
    mc = zoo.model_class
    cov = zoo.sample_covariates(jax.random.PRNGKey(3), 30)
    scale = None if sqrt_cov is None else np.linspace(0.5, 1.5, mc.dim)
    dense = spectrum_from_matrix(np.asarray(fisher(mc, zoo.true_params, **cov)), sqrt_cov=scale)
    gram = fisher_spectrum(mc, zoo.true_params, method="gram", sqrt_cov=scale, **cov)
    assert gram.diagnostics["factored_columns"] == (400 if sqrt_cov is None else 0)
    np.testing.assert_allclose(gram.eigenvalues, dense.eigenvalues[:30], rtol=1e-9)


def test_gradients_of_float32_parameters_are_factored_at_float32_precision():
    # Gradients taken at float32 parameters are rank one only to float32 rounding (≈ 0.2 ε₃₂), though
    # stored in float64: the check runs at the parameters' precision, and the factored Gram matrix agrees
    # with the dense product of the same G to that precision.
    zoo = models.get("mlp_regression", d_in=10, widths=(40,), d_out=1, sigma=0.5)
    mc = zoo.model_class
    x = zoo.sample_covariates(jax.random.PRNGKey(3), 30)["x"].astype(np.float32)
    params = {k: np.asarray(v, np.float32) for k, v in zoo.true_params.items()}
    g, _ = gram_factor(mc, params, x=x)
    blocks = weight_blocks(mc.z_layout)
    assert gram_matrix(g, blocks)[1] == 0  # at G's own (float64) precision the blocks are not rank one
    gram, factored = gram_matrix(g, blocks, eps=float(np.finfo(np.float32).eps))
    assert factored == 400
    dense, _ = gram_matrix(g)
    np.testing.assert_allclose(gram, dense, atol=1e-6 * np.abs(dense).max())
    spectrum = fisher_spectrum(mc, params, method="gram", x=x)
    assert spectrum.diagnostics["factored_columns"] == 400
