"""Neural classes in plain JAX: MLP regression/classification and a one-layer attention model."""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence

import jax
import jax.numpy as jnp
import numpyro
import numpyro.distributions as dist

from bayesvol_zoo._zoo import Facts, ZooModel, ZooOptionError, check_int, check_positive, check_sequence

__all__ = ["attention", "mlp", "mlp_forward", "mlp_param_count", "random_features"]

Array = jax.Array


def mlp_param_count(sizes: Sequence[int]) -> int:
    """Σ_l (fan_in_l + 1)·fan_out_l for layer sizes (d_in, widths…, d_out)."""
    return sum((a + 1) * b for a, b in itertools.pairwise(sizes))


def mlp_forward(params: Mapping[str, Array], x: Array, n_layers: int) -> Array:
    """Tanh MLP: h ← tanh(h W_l + b_l) for hidden layers, linear output layer."""
    h = x
    for layer in range(n_layers):
        h = h @ params[f"W{layer}"] + params[f"b{layer}"]
        if layer < n_layers - 1:
            h = jnp.tanh(h)
    return h


def mlp(d_in: int = 4, widths: Sequence[int] = (16,), d_out: int = 1, task: str = "regression",
        sigma: float = 0.5, bias_scale: float = 1.0, truth_scale: float = 0.5, seed: int = 0) -> ZooModel:
    """A tanh MLP; W_l ~ N(0, 1/fan_in), b_l ~ N(0, bias_scale²); x ~ N(0, I).

    ``task="regression"``: y ~ N(f(x), σ²I) over d_out outputs; ``"classification"``: y ~
    Categorical(logits = f(x)) with d_out classes. The default truth is a prior draw shrunk by
    ``truth_scale`` (a simple function). Depth and width are free: (100, (1000, 900), 1) has ≈ 10⁶
    parameters.
    """
    if task not in ("regression", "classification"):
        raise ZooOptionError(f"task must be 'regression' or 'classification', got {task!r}")
    check_int("d_in", d_in, 1)
    check_sequence("widths", widths, kind="integer")
    if any(w < 1 for w in widths):
        raise ZooOptionError(f"widths must be integers ≥ 1, got {list(widths)!r}")
    check_int("d_out", d_out, 2 if task == "classification" else 1)
    check_positive("sigma", sigma)
    check_positive("bias_scale", bias_scale)
    check_positive("truth_scale", truth_scale, allow_zero=True)
    check_int("seed", seed, 0)
    sizes = (d_in, *widths, d_out)
    n_layers = len(sizes) - 1

    def model(x: Array, y: Array | None = None) -> None:
        params = {}
        for layer, (fan_in, fan_out) in enumerate(itertools.pairwise(sizes)):
            params[f"W{layer}"] = numpyro.sample(
                f"W{layer}", dist.Normal(0.0, fan_in**-0.5).expand([fan_in, fan_out]).to_event(2))
            params[f"b{layer}"] = numpyro.sample(
                f"b{layer}", dist.Normal(0.0, bias_scale).expand([fan_out]).to_event(1))
        out = mlp_forward(params, x, n_layers)
        with numpyro.plate("data", jnp.shape(x)[0]):
            if task == "regression":
                numpyro.sample("y", dist.Normal(out, sigma).to_event(1), obs=y)
            else:
                numpyro.sample("y", dist.Categorical(logits=out), obs=y)

    keys = jax.random.split(jax.random.PRNGKey(seed), 2 * n_layers)
    truth = {}
    for layer, (fan_in, fan_out) in enumerate(itertools.pairwise(sizes)):
        truth[f"W{layer}"] = truth_scale * fan_in**-0.5 * jax.random.normal(keys[2 * layer],
                                                                            (fan_in, fan_out))
        truth[f"b{layer}"] = truth_scale * bias_scale * jax.random.normal(keys[2 * layer + 1], (fan_out,))
    return ZooModel(
        name=f"mlp_{task}", model=model, true_params=truth,
        covariates=lambda key, m, params: {"x": jax.random.normal(key, (m, d_in))},
        facts=Facts(dim=mlp_param_count(sizes), singular=True, exact=("kl",),
                    notes="hidden-unit permutation and sign symmetries make the class singular"),
        options={"d_in": d_in, "widths": tuple(widths), "d_out": d_out, "task": task, "sigma": sigma},
    )


def attention(vocab: int = 5, length: int = 4, embed: int = 4, seed: int = 0,
              truth_scale: float = 1.0) -> ZooModel:
    """Next-token prediction by one softmax attention head over a sequence of `length` tokens.

    e = E[tokens]; q = e_last W_q; a = softmax(q (e W_k)ᵀ / √embed); y ~ Categorical(logits = (a e) W_o).
    Tokens are uniform on {0, …, vocab−1}.
    """
    check_int("vocab", vocab, 2)
    check_int("length", length, 1)
    check_int("embed", embed, 1)
    check_int("seed", seed, 0)
    check_positive("truth_scale", truth_scale, allow_zero=True)
    shapes = {"E": (vocab, embed), "W_q": (embed, embed), "W_k": (embed, embed), "W_o": (embed, vocab)}
    scales = {"E": 1.0, "W_q": embed**-0.5, "W_k": embed**-0.5, "W_o": embed**-0.5}

    def logits_fn(params: Mapping[str, Array], tokens: Array) -> Array:
        e = params["E"][tokens]  # (m, L, embed)
        q = e[:, -1, :] @ params["W_q"]
        k = e @ params["W_k"]
        weights = jax.nn.softmax(jnp.einsum("me,mle->ml", q, k) / jnp.sqrt(embed), axis=-1)
        return jnp.einsum("ml,mle->me", weights, e) @ params["W_o"]

    def model(tokens: Array, y: Array | None = None) -> None:
        params = {name: numpyro.sample(name, dist.Normal(0.0, scales[name]).expand(list(shape)).to_event(2))
                  for name, shape in shapes.items()}
        with numpyro.plate("data", jnp.shape(tokens)[0]):
            numpyro.sample("y", dist.Categorical(logits=logits_fn(params, tokens)), obs=y)

    keys = jax.random.split(jax.random.PRNGKey(seed), len(shapes))
    truth = {name: truth_scale * scales[name] * jax.random.normal(key, shape)
             for key, (name, shape) in zip(keys, shapes.items(), strict=True)}
    return ZooModel(
        name="attention", model=model, true_params=truth,
        covariates=lambda key, m, params: {"tokens": jax.random.randint(key, (m, length), 0, vocab)},
        facts=Facts(dim=sum(a * b for a, b in shapes.values()), singular=True, exact=("kl",),
                    notes="W_q W_kᵀ enters only through its product: a continuum of equivalent θ"),
        options={"vocab": vocab, "length": length, "embed": embed},
    )


def random_features(d_in: int = 4, width: int = 64, d_out: int = 3, task: str = "classification",
                    sigma: float = 0.5, bias_scale: float = 1.0, truth_scale: float = 0.5,
                    seed: int = 0) -> ZooModel:
    """Random features: a one-hidden-layer tanh MLP whose first layer is drawn once and frozen.

    φ(x) = tanh(x W₀ + b₀) with W₀ ~ N(0, 1/d_in), b₀ ~ N(0, bias_scale²) fixed by ``seed`` (not
    parameters); the parameters are the output layer only, W₁ ~ N(0, 1/width), b₁ ~ N(0, bias_scale²),
    so d = (width + 1)·d_out and the class is a generalized linear model in φ(x) (regular when the
    features have full rank). Likelihoods as :func:`mlp`.
    """
    if task not in ("regression", "classification"):
        raise ZooOptionError(f"task must be 'regression' or 'classification', got {task!r}")
    check_int("d_in", d_in, 1)
    check_int("width", width, 1)
    check_int("d_out", d_out, 2 if task == "classification" else 1)
    check_positive("sigma", sigma)
    check_positive("bias_scale", bias_scale)
    check_positive("truth_scale", truth_scale, allow_zero=True)
    check_int("seed", seed, 0)
    key_w, key_b, key_tw, key_tb = jax.random.split(jax.random.PRNGKey(seed), 4)
    frozen_w = d_in**-0.5 * jax.random.normal(key_w, (d_in, width))
    frozen_b = bias_scale * jax.random.normal(key_b, (width,))

    def model(x: Array, y: Array | None = None) -> None:
        w = numpyro.sample("W1", dist.Normal(0.0, width**-0.5).expand([width, d_out]).to_event(2))
        b = numpyro.sample("b1", dist.Normal(0.0, bias_scale).expand([d_out]).to_event(1))
        out = jnp.tanh(x @ frozen_w + frozen_b) @ w + b
        with numpyro.plate("data", jnp.shape(x)[0]):
            if task == "regression":
                numpyro.sample("y", dist.Normal(out, sigma).to_event(1), obs=y)
            else:
                numpyro.sample("y", dist.Categorical(logits=out), obs=y)

    truth = {"W1": truth_scale * width**-0.5 * jax.random.normal(key_tw, (width, d_out)),
             "b1": truth_scale * bias_scale * jax.random.normal(key_tb, (d_out,))}
    return ZooModel(
        name=f"random_features_{task}", model=model, true_params=truth,
        covariates=lambda key, m, params: {"x": jax.random.normal(key, (m, d_in))},
        facts=Facts(dim=(width + 1) * d_out, singular=False, exact=("kl",),
                    notes="the first layer is fixed at a draw: a generalized linear model in the features"),
        options={"d_in": d_in, "width": width, "d_out": d_out, "task": task, "sigma": sigma},
    )
