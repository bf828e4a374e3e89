"""Regression classes: linear-Gaussian (exact), polynomial (over-parameterizable), logistic."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpyro
import numpyro.distributions as dist

from bayesvol_zoo._zoo import Facts, ZooModel, check_int, check_positive, check_sequence

__all__ = ["linear_regression", "logistic_regression", "polynomial_regression"]

Array = jax.Array


def _gaussian_log_evidence(y: Array, features: Array, sigma: float, tau: float) -> Array:
    """Log N(y; 0, σ²I + τ²ΦΦᵀ): the exact Bayes mixture of a linear-Gaussian class (nats)."""
    n = y.shape[0]
    cov = sigma**2 * jnp.eye(n) + tau**2 * features @ features.T
    return dist.MultivariateNormal(jnp.zeros(n), covariance_matrix=cov).log_prob(y)


def linear_regression(d: int = 5, sigma: float = 1.0, tau: float = 1.0, seed: int = 0) -> ZooModel:
    """Y = xᵀθ + N(0, σ²), θ ~ N(0, τ²I), x ~ N(0, I): D(θ) = (θ−θ0)ᵀ XᵀX (θ−θ0) / (2mσ²) exactly."""
    check_int("d", d, 1)
    check_positive("sigma", sigma)
    check_positive("tau", tau)
    check_int("seed", seed, 0)

    def model(x: Array, y: Array | None = None) -> None:
        theta = numpyro.sample("theta", dist.Normal(0.0, tau).expand([jnp.shape(x)[1]]).to_event(1))
        with numpyro.plate("data", jnp.shape(x)[0]):
            numpyro.sample("y", dist.Normal(x @ theta, sigma), obs=y)

    theta0 = tau * jax.random.normal(jax.random.PRNGKey(seed), (d,))
    return ZooModel(
        name="linear_regression", model=model, true_params={"theta": theta0},
        covariates=lambda key, m, params: {"x": jax.random.normal(key, (m, d))},
        facts=Facts(dim=d, learning_coefficient=d / 2, exact=("kl", "mixture", "volume"),
                    notes="D exactly quadratic; V(t) a generalized non-central χ² distribution function",
                    multiplicity=1),
        log_mixture=lambda y, x: _gaussian_log_evidence(y, x, sigma, tau),
        options={"d": d, "sigma": sigma, "tau": tau},
    )


def polynomial_features(x: Array, degree: int) -> Array:
    """Monomials (1, x, …, x^degree) of a scalar covariate in [−1, 1]; shape (m, degree + 1)."""
    return jnp.asarray(x)[:, None] ** jnp.arange(degree + 1)


def polynomial_regression(degree: int = 40, sigma: float = 0.5, tau: float = 1.0,
                          coefficients0: tuple[float, ...] = (0.5, -1.0, 1.5)) -> ZooModel:
    """Y = Σ_j θ_j x^j + N(0, σ²), θ ~ N(0, τ²I), x ~ U[−1, 1]; the default truth has degree 2.

    Monomials on [−1, 1] are nearly collinear: the Fisher spectrum decays geometrically, so the
    effective dimension grows like log n although d = degree + 1 (over-parameterized when d > n).
    """
    check_int("degree", degree, 0)
    check_positive("sigma", sigma)
    check_positive("tau", tau)
    check_sequence("coefficients0", coefficients0)
    d = degree + 1
    theta0 = jnp.zeros(d).at[: len(coefficients0)].set(jnp.asarray(coefficients0)[:d])

    def model(x: Array, y: Array | None = None) -> None:
        theta = numpyro.sample("theta", dist.Normal(0.0, tau).expand([d]).to_event(1))
        with numpyro.plate("data", jnp.shape(x)[0]):
            numpyro.sample("y", dist.Normal(polynomial_features(x, degree) @ theta, sigma), obs=y)

    def log_mixture(y: Array, x: Array) -> Array:
        return _gaussian_log_evidence(y, polynomial_features(x, degree), sigma, tau)

    return ZooModel(
        name="polynomial_regression", model=model, true_params={"theta": theta0},
        covariates=lambda key, m, params: {"x": jax.random.uniform(key, (m,), minval=-1.0, maxval=1.0)},
        facts=Facts(dim=d, learning_coefficient=d / 2, exact=("kl", "mixture", "volume"),
                    notes="linear-Gaussian in monomial features: exact like linear_regression"),
        log_mixture=log_mixture, options={"degree": degree, "sigma": sigma, "tau": tau},
    )


def logistic_regression(d: int = 2, tau: float = 2.0, weights0: tuple[float, ...] | None = None
                        ) -> ZooModel:
    """Y ~ Bernoulli(σ(xᵀw)), w ~ N(0, τ²I), x ~ N(0, I); d = 2 is exact by grid quadrature."""
    check_int("d", d, 1)
    check_positive("tau", tau)
    if weights0 is not None:
        check_sequence("weights0", weights0, d)
    w0 = jnp.asarray(weights0) if weights0 is not None else jnp.linspace(1.0, -0.5, d)

    def model(x: Array, y: Array | None = None) -> None:
        w = numpyro.sample("w", dist.Normal(0.0, tau).expand([jnp.shape(x)[1]]).to_event(1))
        with numpyro.plate("data", jnp.shape(x)[0]):
            numpyro.sample("y", dist.Bernoulli(logits=x @ w), obs=y)

    return ZooModel(
        name="logistic_regression", model=model, true_params={"w": w0},
        covariates=lambda key, m, params: {"x": jax.random.normal(key, (m, d))},
        facts=Facts(dim=d, learning_coefficient=d / 2, exact=("kl",),
                    notes="non-conjugate; d = 2 volumes and mixtures by grid quadrature"),
        options={"d": d, "tau": tau},
    )


