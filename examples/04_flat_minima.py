"""Flat minima: SGD with small vs large batches ends in minima of different sharpness — and different volume.

Two optax SGD runs from the same start on a small MLP regression (same learning rate and epochs, batch
size 8 vs the full data set) end at θ̂_small and θ̂_large. Near each, the Laplace volume
V(t) = w({θ : D(P_θ̂ ‖ P_θ) ≤ t}) ≈ P[Σ a_i (u_i − m_i)² ≤ t] (a_i = ½ eig(Σ^½ F Σ^½)) measures how much prior
mass predicts like θ̂: a flatter minimum has a smaller curvature, a larger volume, a lower complexity and
so a smaller mixture regret bound B_n = −log ∫ w e^{−nD} around it; shown next to the test log loss.

Run ``python examples/04_flat_minima.py [--small] [--out DIR]``; writes ``flat_minima.png`` and
``table.txt`` into ``examples-out/flat_minima/``.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np
import optax

import bayesvol as bv
import bayesvol_zoo as models

NAME = "flat_minima"


def train(mc: bv.ModelClass, z0: jax.Array, x: jax.Array, y: jax.Array, *, batch: int, epochs: int,
          learning_rate: float, key: jax.Array) -> jax.Array:
    """Plain SGD (optax) on the mean negative log-likelihood over minibatches of ``batch`` rows."""
    rows = y.shape[0]
    steps_per_epoch = rows // batch
    optimizer = optax.sgd(learning_rate)

    def loss(z: jax.Array, xb: jax.Array, yb: jax.Array) -> jax.Array:
        return -jnp.mean(mc.log_likelihood(z, yb, x=xb))

    def epoch(carry: tuple, key_epoch: jax.Array) -> tuple:
        z, state = carry
        order = jax.random.permutation(key_epoch, rows)[: steps_per_epoch * batch]

        def step(carry: tuple, idx: jax.Array) -> tuple:
            z, state = carry
            grads = jax.grad(loss)(z, x[idx], y[idx])
            updates, state = optimizer.update(grads, state, z)
            return (optax.apply_updates(z, updates), state), None

        (z, state), _ = jax.lax.scan(step, (z, state), order.reshape(steps_per_epoch, batch))
        return (z, state), None

    (z, _), _ = jax.jit(lambda c, k: jax.lax.scan(epoch, c, k))((z0, optimizer.init(z0)),
                                                                 jax.random.split(key, epochs))
    return z


def main(small: bool = False, out: str | Path | None = None) -> dict:
    """Run the example; return sharpness, complexity, B_n and test loss of each minimum, and the figure."""
    out_dir = Path(out) if out is not None else Path("examples-out") / NAME
    out_dir.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    n = 128 if small else 256
    epochs = 150 if small else 400
    zoo = models.get("mlp_regression", d_in=2, widths=(16,), sigma=0.3, truth_scale=1.5)
    mc = zoo.model_class
    key = jax.random.PRNGKey(0)
    key_data, key_test, key_init, key_sgd = jax.random.split(key, 4)
    cov, y = zoo.simulate(key_data, n)
    cov_test, y_test = zoo.simulate(key_test, 2000)
    x = cov["x"]
    # start far from the truth: a prior draw of the weights, in flat unconstrained coordinates
    z0 = 1.5 * jax.random.normal(key_init, (mc.dim,)) / np.sqrt(16.0)
    eps2 = np.geomspace(1e-4, 1.0, 25)
    results = {}
    curves = {}
    for label, batch in (("small batch (8)", 8), (f"full batch ({n})", n)):
        z = train(mc, z0, x, y, batch=batch, epochs=epochs, learning_rate=0.05, key=key_sgd)
        params = mc.unflatten(z)
        # the KL ball around the fitted predictor: Fisher information of P_θ̂ over the training inputs
        curve = bv.laplace_volume(mc, params, eps2, x=x)
        curves[label] = curve
        a = np.asarray(curve.eigenvalues)
        bound = bv.regret_bound(curve, np.asarray([n]))
        results[label] = {
            "batch": batch,
            "train_loss": float(-jnp.mean(mc.log_likelihood(z, y, x=x))),
            "test_loss": float(-jnp.mean(mc.log_likelihood(z, y_test, **cov_test))),
            "top_curvature": float(a.max()),
            "trace_curvature": float(a.sum()),
            "comp": float(np.interp(np.log(1.0 / n), np.log(curve.eps2), curve.complexity)),
            "B_n": float(bound.gibbs[0]),
            "ball": float(bound.ball[0]),
            "k_eff": float(bv.effective_dimension(a, n)),
        }

    lines = [f"MLP regression (d = {mc.dim}), n = {n} training rows, {epochs} epochs of SGD (lr 0.05); nats. "
             "a_i: prior-whitened curvature at θ̂; Comp(1/n) = −log V(1/n); B_n: mixture regret bound near θ̂.",
             f"{'run':<20}{'train loss':>11}{'test loss':>10}{'max a_i':>10}{'Σ a_i':>10}{'k_eff(n)':>9}"
             f"{'Comp(1/n)':>10}{'B_n':>8}{'ball':>8}"]
    for label, r in results.items():
        lines.append(f"{label:<20}{r['train_loss']:>11.3f}{r['test_loss']:>10.3f}{r['top_curvature']:>10.3g}"
                     f"{r['trace_curvature']:>10.3g}{r['k_eff']:>9.1f}{r['comp']:>10.1f}{r['B_n']:>8.1f}"
                     f"{r['ball']:>8.1f}")
    table = "\n".join(lines)
    print(table)
    (out_dir / "table.txt").write_text(table + "\n")

    fig, axes = plt.subplots(1, 3, figsize=(15, 4), layout="constrained")
    for (label, curve), color in zip(curves.items(), ("C0", "C3"), strict=True):
        a = np.sort(np.asarray(curve.eigenvalues))[::-1]
        axes[0].semilogy(np.arange(1, a.size + 1), a, ".", color=color, label=label)
        axes[1].plot(curve.eps2, curve.log_volume, color=color, label=label)
    axes[0].set_xlabel("index i")
    axes[0].set_ylabel("curvature a_i (prior-whitened)")
    axes[0].set_title("Curvature spectrum at each minimum")
    axes[0].legend(fontsize=8)
    axes[1].axvline(1.0 / n, color="k", lw=0.8, ls=":", label="t = 1/n")
    axes[1].set_xscale("log")
    axes[1].set_xlabel("KL radius t (nats)")
    axes[1].set_ylabel("log V(t) (nats)")
    axes[1].set_title("Prior volume of the KL ball around each θ̂")
    axes[1].legend(fontsize=8)
    labels = list(results)
    pos = np.arange(len(labels))
    axes[2].bar(pos - 0.2, [results[k]["comp"] for k in labels], 0.4, color="C2", label="Comp(1/n)")
    axes[2].bar(pos + 0.2, [results[k]["B_n"] for k in labels], 0.4, color="C1", label="B_n")
    axes[2].set_xticks(pos, [f"{k}\ntest log loss {results[k]['test_loss']:.3f}" for k in labels])
    axes[2].set_ylabel("nats")
    axes[2].set_title(f"Comp(1/n) and the regret bound B_n near θ̂ (n = {n})")
    axes[2].legend(fontsize=8)
    figure = out_dir / "flat_minima.png"
    fig.savefig(figure)
    plt.close(fig)
    seconds = time.perf_counter() - started
    print(f"figure: {figure}  ({seconds:.0f} s)")
    return {"n": n, "dim": mc.dim, "runs": results, "figure": figure, "seconds": seconds}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="reduced sizes (seconds, not minutes)")
    parser.add_argument("--out", default=None, help="output folder (default examples-out/flat_minima)")
    args = parser.parse_args()
    main(small=args.small, out=args.out)
