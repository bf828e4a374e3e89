"""Singular classes with known learning coefficients: a Gaussian mixture, reduced-rank regression."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpyro
import numpyro.distributions as dist

from bayesvol_zoo._zoo import Facts, ZooModel, check_int, check_positive, check_sequence

__all__ = ["gaussian_mixture", "reduced_rank_learning_coefficient", "reduced_rank_regression"]

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
                    exact=("kl",), notes="KL by quadrature (divergence.py); λ = 3/4 at μ1 = μ2"),
        options={"mu0": tuple(mu0), "prior_scale": prior_scale},
    )


def reduced_rank_learning_coefficient(m_in: int, n_out: int, hidden: int, rank: int) -> tuple[float, int]:
    """(λ, multiplicity) of reduced-rank regression y = B A x, A: H×M, B: N×H, true rank r.

    Aoyagi & Watanabe (2005), "Stochastic complexities of reduced rank regression in Bayesian
    estimation", Neural Networks 18(7), Main Theorem.
    """
    M, N, H, r = m_in, n_out, hidden, rank
    if N + r <= M + H and M + r <= N + H and H + r <= M + N:
        s = 2 * (H + r) * (M + N) - (M - N) ** 2 - (H + r) ** 2
        if (M + H + N + r) % 2 == 0:
            return s / 8, 1
        return (s + 1) / 8, 2
    if M + H < N + r:
        return (H * M - H * r + N * r) / 2, 1
    if N + H < M + r:
        return (H * N - H * r + M * r) / 2, 1
    return M * N / 2, 1


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
                    exact=("kl",), notes=f"Aoyagi–Watanabe (2005): λ = {lam}, multiplicity {mult}"),
        options={"m_in": m_in, "n_out": n_out, "hidden": hidden, "rank": rank, "sigma": sigma},
    )
