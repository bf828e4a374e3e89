"""Singular classes with known learning coefficients.

A Gaussian mixture, reduced-rank regression, deep linear networks and normal crossings (the formulas:
:mod:`bayesvol_zoo.learning_coefficients`).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpyro
import numpyro.distributions as dist

from bayesvol_zoo._zoo import Facts, ZooModel, ZooOptionError, check_int, check_positive, check_sequence
from bayesvol_zoo.learning_coefficients import (
    deep_linear_learning_coefficient,
    normal_crossing_learning_coefficient,
    reduced_rank_learning_coefficient,
)

__all__ = ["deep_linear_network", "gaussian_mixture", "normal_crossing", "reduced_rank_learning_coefficient",
           "reduced_rank_regression"]

Array = jax.Array


def gaussian_mixture(mu0: tuple[float, float] = (0.0, 0.0), prior_scale: float = 1.0) -> ZooModel:
    """X ~ ½ N(μ1, 1) + ½ N(μ2, 1), μ_i ~ N(0, prior_scale²).

    At the truth μ1 = μ2 = 0, with m = (μ1+μ2)/2 and δ = (μ1−μ2)/2, D ≈ ½ m² + ¼ δ⁴: a normal crossing
    with learning coefficient λ = ½ + ¼ = ¾ (multiplicity 1), so V(t) ~ c t^{3/4}; regular d/2 = 1.
    """
    check_sequence("mu0", mu0, 2)
    check_positive("prior_scale", prior_scale)

    def model(x: Array | None = None, n: int = 1) -> None:
        mu = numpyro.sample("mu", dist.Normal(0.0, prior_scale).expand([2]).to_event(1))
        mixture = dist.MixtureSameFamily(dist.Categorical(probs=jnp.array([0.5, 0.5])), dist.Normal(mu, 1.0))
        with numpyro.plate("data", n if x is None else jnp.shape(x)[0]):
            numpyro.sample("x", mixture, obs=x)

    singular = bool(mu0[0] == mu0[1])
    return ZooModel(
        name="gaussian_mixture", model=model, true_params={"mu": jnp.asarray(mu0, dtype=float)},
        covariates=lambda key, m, params: {"n": m},
        facts=Facts(dim=2, singular=singular, learning_coefficient=0.75 if singular else 1.0,
                    exact=("kl",), notes="KL by quadrature (divergence.py); λ = 3/4 at μ1 = μ2",
                    multiplicity=1),
        options={"mu0": tuple(mu0), "prior_scale": prior_scale},
    )


def reduced_rank_regression(m_in: int = 3, n_out: int = 3, hidden: int = 2, rank: int = 1,
                            sigma: float = 1.0, seed: int = 0) -> ZooModel:
    """Y = B A x + N(0, σ²I_N), A ~ N(0, I) (H×M), B ~ N(0, I) (N×H); the truth has rank r < H."""
    check_int("m_in", m_in, 1)
    check_int("n_out", n_out, 1)
    check_int("hidden", hidden, 1)
    check_int("rank", rank, 0, hidden)
    check_positive("sigma", sigma)
    check_int("seed", seed, 0)

    def model(x: Array, y: Array | None = None) -> None:
        a = numpyro.sample("A", dist.Normal(0.0, 1.0).expand([hidden, m_in]).to_event(2))
        b = numpyro.sample("B", dist.Normal(0.0, 1.0).expand([n_out, hidden]).to_event(2))
        with numpyro.plate("data", jnp.shape(x)[0]):
            numpyro.sample("y", dist.Normal(x @ a.T @ b.T, sigma).to_event(1), obs=y)

    key_a, key_b = jax.random.split(jax.random.PRNGKey(seed))
    a0 = jnp.zeros((hidden, m_in)).at[:rank].set(jax.random.normal(key_a, (rank, m_in)))
    b0 = jnp.zeros((n_out, hidden)).at[:, :rank].set(jax.random.normal(key_b, (n_out, rank)))
    lam, mult = reduced_rank_learning_coefficient(m_in, n_out, hidden, rank)
    return ZooModel(
        name="reduced_rank_regression", model=model, true_params={"A": a0, "B": b0},
        covariates=lambda key, m, params: {"x": jax.random.normal(key, (m, m_in))},
        facts=Facts(dim=hidden * (m_in + n_out), singular=rank < hidden, learning_coefficient=lam,
                    exact=("kl",), notes=f"Aoyagi–Watanabe (2005): λ = {lam}, multiplicity {mult}",
                    multiplicity=mult),
        options={"m_in": m_in, "n_out": n_out, "hidden": hidden, "rank": rank, "sigma": sigma},
    )


def deep_linear_network(widths: tuple[int, ...] = (3, 2, 2, 3), rank: int = 1, sigma: float = 1.0,
                        seed: int = 0) -> ZooModel:
    """Deep linear network Y = W_L ⋯ W_1 x + N(0, σ²I), W_l ~ N(0, I), x ~ N(0, I).

    W_l has shape (H_{l+1}, H_l), widths (H_1, …, H_{L+1}) from input to output; the truth's product has rank
    r (its first r units carry it).

    λ and m by Aoyagi (2024), :func:`bayesvol_zoo.learning_coefficients.deep_linear_learning_coefficient`.
    """
    widths = check_sequence("widths", widths, kind="integer")
    if len(widths) < 3 or min(widths) < 1:
        raise ZooOptionError("widths must hold ≥ 3 positive integers (input, hidden…, output), "
                             f"got {list(widths)}")
    check_int("rank", rank, 0, min(widths))
    check_positive("sigma", sigma)
    check_int("seed", seed, 0)
    shapes = [(widths[i + 1], widths[i]) for i in range(len(widths) - 1)]

    def model(x: Array, y: Array | None = None) -> None:
        out = x
        for i, shape in enumerate(shapes):
            w = numpyro.sample(f"W{i + 1}", dist.Normal(0.0, 1.0).expand(list(shape)).to_event(2))
            out = out @ w.T
        with numpyro.plate("data", jnp.shape(x)[0]):
            numpyro.sample("y", dist.Normal(out, sigma).to_event(1), obs=y)

    keys = jax.random.split(jax.random.PRNGKey(seed), len(shapes))
    truth = {}
    for i, (shape, key) in enumerate(zip(shapes, keys)):
        block = jax.random.normal(key, (rank, rank) if 0 < i < len(shapes) - 1 else
                                  ((rank, shape[1]) if i == 0 else (shape[0], rank)))
        w = jnp.zeros(shape)
        w = w.at[:rank, :].set(block) if i == 0 else w.at[:, :rank].set(block) if i == len(shapes) - 1 \
            else w.at[:rank, :rank].set(block)
        truth[f"W{i + 1}"] = w
    lam, mult = deep_linear_learning_coefficient(widths, rank)
    dim = sum(a * b for a, b in shapes)
    return ZooModel(
        name="deep_linear_network", model=model, true_params=truth,
        covariates=lambda key, m, params: {"x": jax.random.normal(key, (m, widths[0]))},
        facts=Facts(dim=dim, singular=True, learning_coefficient=lam, exact=("kl",),
                    notes=f"Aoyagi (2024), Thm 1: λ = {lam}, multiplicity {mult}", multiplicity=mult),
        options={"widths": tuple(widths), "rank": rank, "sigma": sigma, "seed": seed},
    )


def normal_crossing(powers: tuple[int, ...] = (1, 2), prior_scale: float = 1.0) -> ZooModel:
    """X ~ N(Π_i θ_i^{k_i}, 1), θ_i ~ N(0, prior_scale²), truth θ = 0.

    D(θ) = ½ (Π θ_i^{k_i})² = ½ Π θ_i^{2k_i} exactly (the constant ½ of a unit-variance Normal's KL): a
    normal crossing, λ = min_i 1/(2k_i) with multiplicity m = #{i : k_i = max k} (Watanabe 2009, §2.4).
    """
    powers = check_sequence("powers", powers, kind="integer")
    if not powers or min(powers) < 1:
        raise ZooOptionError(f"powers must be integers ≥ 1, got {list(powers)}")
    check_positive("prior_scale", prior_scale)
    k = jnp.asarray(powers)

    def model(x: Array | None = None, n: int = 1) -> None:
        theta = numpyro.sample("theta", dist.Normal(0.0, prior_scale).expand([len(powers)]).to_event(1))
        with numpyro.plate("data", n if x is None else jnp.shape(x)[0]):
            numpyro.sample("x", dist.Normal(jnp.prod(theta**k), 1.0), obs=x)

    lam, mult = normal_crossing_learning_coefficient(powers)
    return ZooModel(
        name="normal_crossing", model=model, true_params={"theta": jnp.zeros(len(powers))},
        covariates=lambda key, m, params: {"n": m},
        facts=Facts(dim=len(powers), singular=len(powers) > 1 or max(powers) > 1, learning_coefficient=lam,
                    exact=("kl",), notes=f"D = ½ Π θ_i^(2k_i): λ = min 1/(2k_i) = {lam}, multiplicity {mult}",
                    multiplicity=mult),
        options={"powers": tuple(powers), "prior_scale": prior_scale},
    )
