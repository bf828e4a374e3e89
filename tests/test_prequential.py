import jax
import jax.numpy as jnp
import numpy as np
import pytest

import bayesvol_zoo as models
from bayesvol.errors import InputError
from bayesvol.regret.prequential import block_prequential


@pytest.fixture(scope="module")
def coin():
    zoo = models.bernoulli(a=0.5, b=0.5, p0=0.3)
    x = jax.random.bernoulli(jax.random.PRNGKey(0), 0.3, (24,)).astype(jnp.int32)
    return zoo, x


def test_a_checkpoint_every_row_is_the_exact_code(coin):
    zoo, x = coin
    out = block_prequential(zoo.model_class, x, range(1, 25), key=jax.random.PRNGKey(1),
                            predictor_options={"exact_log_marginal": zoo.log_mixture})
    exact = -float(zoo.log_mixture(x))
    assert abs(float(out.code_length[-1]) - exact) < 1e-9
    prefix = -float(zoo.log_mixture(x[:10]))
    assert abs(float(out.code_length.sel(n=10)) - prefix) < 1e-9


def test_blocks_code_with_the_fit_on_earlier_rows_only(coin):
    # blocks (0, 5], (5, 24]: the first is coded by the prior predictive (½ each, no updates within a block),
    # the second by the KT predictive from the first 5 rows, unchanged
    zoo, x = coin
    out = block_prequential(zoo.model_class, x, [5, 24], key=jax.random.PRNGKey(1),
                            predictor_options={"exact_log_marginal": zoo.log_mixture})
    k5 = int(x[:5].sum())
    p1 = (k5 + 0.5) / 6.0
    rest = x[5:]
    expected = 5 * np.log(2.0) - float(jnp.sum(rest * np.log(p1) + (1 - rest) * np.log(1 - p1)))
    assert abs(float(out.code_length[-1]) - expected) < 1e-9


def test_plugin_blocks_count_infinite_rows():
    zoo = models.bernoulli()
    x = jnp.array([1, 1, 1, 1, 0, 1, 0, 0])  # the plug-in fitted on four 1s gives a 0 probability 0
    out = block_prequential(zoo.model_class, x, [4, 8], "plugin", key=jax.random.PRNGKey(0),
                            predictor_options={"exact_log_marginal": zoo.log_mixture})
    assert int(out.infinite[-1]) == 3 and np.isinf(float(out.code_length[-1]))
    assert np.isfinite(float(out.code_length[0]))


def test_bad_checkpoints(coin):
    zoo, x = coin
    for bad in ([], [0, 5], [25], ["a"]):
        with pytest.raises(InputError, match="checkpoints"):
            block_prequential(zoo.model_class, x, bad, key=jax.random.PRNGKey(0))
