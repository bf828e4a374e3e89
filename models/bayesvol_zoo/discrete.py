"""Conjugate discrete classes: Bernoulli (Beta prior), categorical (Dirichlet), Markov chains of order k."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import jax
import jax.numpy as jnp
import numpyro
import numpyro.distributions as dist
from jax.scipy.special import gammaln

from bayesvol_zoo._zoo import Facts, ZooModel, ZooOptionError, check_int, check_positive, check_sequence

__all__ = ["bernoulli", "categorical", "markov_chain"]

Array = jax.Array


def _dirichlet_multinomial_log_q(counts: Array, alpha: Array) -> Array:
    """Log ∫ Dir(θ; α) Π_j θ_j^{n_j} dθ for a sequence with counts n (last axis: categories)."""
    a0 = jnp.sum(alpha, axis=-1)
    return jnp.sum(
        gammaln(a0) - gammaln(a0 + jnp.sum(counts, axis=-1))
        + jnp.sum(gammaln(alpha + counts) - gammaln(alpha), axis=-1)
    )


def _log_beta(a: Array, b: Array) -> Array:
    """Log B(a, b) = log Γ(a) + log Γ(b) − log Γ(a + b).

    jax.scipy.special.betaln is off by up to ~5e-7 nats in float64 for moderate arguments
    (e.g. betaln(8, 0.5)), too coarse for exact answers.
    """
    return gammaln(a) + gammaln(b) - gammaln(a + b)


def bernoulli(a: float = 0.5, b: float = 0.5, p0: float = 0.3) -> ZooModel:
    """x_i ~ Bernoulli(p), p ~ Beta(a, b); a = b = ½ is Krichevsky–Trofimov (Jeffreys)."""
    check_positive("a", a)
    check_positive("b", b)
    check_positive("p0", p0, below=1.0)

    def model(x: Array | None = None, n: int = 1) -> None:
        p = numpyro.sample("p", dist.Beta(a, b))
        with numpyro.plate("data", n if x is None else jnp.shape(x)[0]):
            numpyro.sample("x", dist.Bernoulli(probs=p), obs=x)

    def log_mixture(x: Array, **_: Any) -> Array:
        k = jnp.sum(x)
        return _log_beta(k + a, x.shape[0] - k + b) - _log_beta(a, b)

    return ZooModel(
        name="bernoulli", model=model, true_params={"p": jnp.asarray(p0)},
        covariates=lambda key, m, params: {"n": m},
        facts=Facts(dim=1, learning_coefficient=0.5, exact=("kl", "mixture", "volume"),
                    notes="V(t) is a difference of Beta distribution functions; KT regret → "
                          "½ log(n/(2πe)) + log π"),
        log_mixture=log_mixture, options={"a": a, "b": b, "p0": p0},
    )


def categorical(k: int = 3, alpha: float = 1.0, probs0: tuple[float, ...] | None = None) -> ZooModel:
    """x_i ~ Categorical(θ), θ ~ Dirichlet(α·1_k)."""
    check_int("k", k, 2)
    check_positive("alpha", alpha)
    if probs0 is not None and (any(p <= 0 for p in check_sequence("probs0", probs0, k))
                               or abs(sum(probs0) - 1.0) > 1e-9):
        raise ZooOptionError(f"probs0 must be {k} positive numbers summing to 1, got {list(probs0)!r}")
    probs0 = jnp.asarray(probs0 if probs0 is not None else jnp.arange(1, k + 1) / (k * (k + 1) / 2))
    concentration = jnp.full((k,), float(alpha))

    def model(x: Array | None = None, n: int = 1) -> None:
        theta = numpyro.sample("theta", dist.Dirichlet(concentration))
        with numpyro.plate("data", n if x is None else jnp.shape(x)[0]):
            numpyro.sample("x", dist.Categorical(probs=theta), obs=x)

    def log_mixture(x: Array, **_: Any) -> Array:
        counts = jnp.sum(jax.nn.one_hot(x, k), axis=0)
        return _dirichlet_multinomial_log_q(counts, concentration)

    return ZooModel(
        name="categorical", model=model, true_params={"theta": probs0},
        covariates=lambda key, m, params: {"n": m},
        facts=Facts(dim=k - 1, learning_coefficient=(k - 1) / 2, exact=("kl", "mixture"),
                    notes="Dirichlet–categorical: Q in closed form"),
        log_mixture=log_mixture, options={"k": k, "alpha": alpha},
    )


def _simulate_chain(key: Array, n: int, transition: Array, order: int, k: int) -> tuple[Array, Array]:
    """Run a Markov chain of the given order for `burn + n` steps; return (contexts, next states)."""
    burn = 100
    powers = k ** jnp.arange(order - 1, -1, -1)

    def step(history: Array, key_t: Array) -> tuple[Array, tuple[Array, Array]]:
        context = jnp.sum(history * powers)
        x = jax.random.categorical(key_t, jnp.log(transition[context]))
        return jnp.concatenate([history[1:], x[None]]), (context, x)

    key0, key = jax.random.split(key)
    history = jax.random.randint(key0, (order,), 0, k)
    _, (contexts, xs) = jax.lax.scan(step, history, jax.random.split(key, burn + n))
    return contexts[burn:], xs[burn:]


def markov_chain(order: int = 1, k: int = 2, alpha: float = 0.5, seed: int = 0) -> ZooModel:
    """x_t ~ Categorical(P[c_t]) with c_t the previous `order` states; each row of P ~ Dirichlet(α).

    The data are (context, next state) pairs: the context is the covariate, so the per-sample KL is the
    KL rate averaged over the contexts of the chain (its stationary distribution).
    """
    check_int("order", order, 0)
    check_int("k", k, 2)
    check_positive("alpha", alpha)
    check_int("seed", seed, 0)
    n_contexts = k**order
    concentration = jnp.full((k,), float(alpha))
    transition0 = jax.random.dirichlet(jax.random.PRNGKey(seed), jnp.full((k,), 2.0), (n_contexts,))

    def model(context: Array, x: Array | None = None) -> None:
        with numpyro.plate("contexts", n_contexts):
            transition = numpyro.sample("transition", dist.Dirichlet(concentration))
        with numpyro.plate("data", jnp.shape(context)[0]):
            numpyro.sample("x", dist.Categorical(probs=transition[context]), obs=x)

    def simulator(key: Array, n: int, params: Mapping[str, Array]) -> tuple[dict[str, Any], Array]:
        contexts, xs = _simulate_chain(key, n, params["transition"], order, k)
        return {"context": contexts}, xs

    def log_mixture(x: Array, context: Array) -> Array:
        counts = jnp.zeros((n_contexts, k)).at[context, x].add(1.0)
        return _dirichlet_multinomial_log_q(counts, concentration)

    return ZooModel(
        name="markov_chain", model=model, true_params={"transition": transition0},
        covariates=lambda key, m, params: {"context": simulator(key, m, params)[0]["context"]},
        facts=Facts(dim=n_contexts * (k - 1), learning_coefficient=n_contexts * (k - 1) / 2,
                    exact=("kl", "mixture"),
                    notes="Dirichlet rows: Q is a product of Dirichlet–multinomial terms"),
        log_mixture=log_mixture, simulator=simulator, options={"order": order, "k": k, "alpha": alpha},
    )
