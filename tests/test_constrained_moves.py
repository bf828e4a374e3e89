"""The constrained moves leave the restricted prior π(ξ) ∝ w(ξ) 1{D(ξ) < L} invariant, on a cross.

D(ξ) = (ξ1 ξ2)² with w = N(0, I₂) and L = 0.05: the set {|ξ1 ξ2| < 0.22} is the cross-shaped neighbourhood of
the two axes that singular models produce (one coordinate can be large only while the other is small).
2,000 independent chains start at the origin and take 100 steps; their final states are compared with
exact draws (rejection from the prior). The statistics are means of bounded or light-tailed functions,
compared within 4 standard errors of the chains' mean (conftest.assert_within_se).
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import assert_within_se

import bayesvol  # noqa: F401  (float64)
from bayesvol.volume.constrained_moves import (
    LevelState,
    Reference,
    coordinate_slice_step,
    coordinate_widths,
    elliptical_slice_step,
)

LEVEL = 0.05
CHAINS, STEPS = 2000, 100


def evaluate(xi):
    return -0.5 * jnp.sum(xi**2) - jnp.log(2 * jnp.pi), (xi[0] * xi[1]) ** 2


def statistics(xi):
    """E ξ1², P(|ξ1| > 1), P(ξ1 > 0), P(both |ξ_i| < ½): the arms, symmetry and the centre of the cross."""
    xi = np.asarray(xi)
    return np.stack([xi[:, 0] ** 2, np.abs(xi[:, 0]) > 1, xi[:, 0] > 0, np.all(np.abs(xi) < 0.5, axis=1)], 1)


def exact_statistics():
    xi = np.random.default_rng(0).normal(size=(2_000_000, 2))
    return statistics(xi[(xi[:, 0] * xi[:, 1]) ** 2 < LEVEL]).mean(axis=0)


def run_chains(step):
    start = LevelState(jnp.zeros((CHAINS, 2)), jnp.full(CHAINS, -jnp.log(2 * jnp.pi)), jnp.zeros(CHAINS))

    @jax.jit
    def chains(key):
        def one(state, key):
            return jax.vmap(step)(jax.random.split(key, CHAINS), state)[0], None

        return jax.lax.scan(one, start, jax.random.split(key, STEPS))[0]

    final = chains(jax.random.PRNGKey(3))
    assert np.all(np.asarray(final.divergence) < LEVEL)
    return statistics(final.position)


def coordinate_step(key, state):
    # a random axis, bracket of 4 prior standard deviations (D has no curvature at the origin)
    key_j, key_s = jax.random.split(key)
    direction = jnp.eye(2)[jax.random.randint(key_j, (), 0, 2)]
    width = coordinate_widths(jnp.asarray(LEVEL), jnp.zeros(()))
    return coordinate_slice_step(key_s, state, direction, width, LEVEL, evaluate)


def elliptical_step(key, state):
    return elliptical_slice_step(key, state, Reference(jnp.zeros(2), jnp.ones(2)), LEVEL, evaluate)


@pytest.mark.parametrize("step", [coordinate_step, elliptical_step], ids=["coordinate", "elliptical"])
def test_moves_leave_the_restricted_prior_invariant(step):
    stats = run_chains(step)
    exact = exact_statistics()
    assert_within_se(stats.mean(axis=0), stats.std(axis=0, ddof=1) / np.sqrt(CHAINS), exact)


def test_coordinate_widths_follow_the_quadratic_model():
    # prior scale where the quadratic model is flat or wider; 4 half-widths √(2L/c) where it is narrower
    widths = np.asarray(coordinate_widths(jnp.asarray(0.02), jnp.array([0.0, 1e-3, 100.0])))
    np.testing.assert_allclose(widths, [4.0, 4.0, 4.0 * np.sqrt(2 * 0.02 / 100.0)])
