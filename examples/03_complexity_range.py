"""Broad complexity range: the complexity of simple and complex truths in a deep narrow vs a shallow wide MLP.

Comp(t) = −log V(t), V(t) = w({θ : D(P_θ0 ‖ P_θ) ≤ t}), is the prior mass a class puts near a truth θ0;
the mixture pays about Comp(1/n) + 1 nats of regret on it. A class that learns well keeps Comp low for
simple truths while still reaching complex ones. Truths here are prior draws scaled by s (s small: a
nearly linear function; s large: a saturated, wiggly one), Comp(t) from the Laplace (generalized χ²) curve.

Run ``python examples/03_complexity_range.py [--small] [--out DIR]``; writes ``complexity_range.png`` and
``table.txt`` into ``examples-out/complexity_range/``.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np
from numpyro.infer import Predictive

import bayesvol as bv
import bayesvol_zoo as models
from bayesvol.app import plots

NAME = "complexity_range"

# two tanh MLPs with about the same number of parameters (2 inputs, 1 output)
ARCHITECTURES = {"deep narrow (8, 8, 8)": (8, 8, 8), "shallow wide (48,)": (48,)}


def main(small: bool = False, out: str | Path | None = None) -> dict:
    """Run the example; return Comp(t) per architecture and truth scale, and the figure path."""
    out_dir = Path(out) if out is not None else Path("examples-out") / NAME
    out_dir.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    scales = [0.25, 2.0] if small else [0.25, 0.5, 1.0, 1.5, 2.0]
    per_scale = 3 if small else 12
    t = 0.01  # the KL radius (nats) at which Comp is read: about the resolution of n = 100 samples
    eps2 = np.geomspace(1e-4, 1.0, 13)
    key = jax.random.PRNGKey(0)
    comp: dict[str, dict[float, np.ndarray]] = {}
    dims = {}
    for a, (label, widths) in enumerate(ARCHITECTURES.items()):
        zoo = models.get("mlp_regression", d_in=2, widths=widths, sigma=0.5)
        mc = zoo.model_class
        dims[label] = zoo.dim
        key_arch = jax.random.fold_in(key, a)
        covariates = zoo.sample_covariates(jax.random.fold_in(key_arch, 0), 60 if small else 200)
        # prior draws of every weight and bias (NumPyro's own prior predictive), then scaled by s
        draws = Predictive(zoo.model, num_samples=per_scale)(jax.random.fold_in(key_arch, 1), **covariates)
        comp[label] = {}
        for s in scales:
            values = []
            for i in range(per_scale):
                truth = {site: s * jnp.asarray(draws[site][i]) for site in zoo.true_params}
                curve = bv.laplace_volume(mc, truth, eps2, **covariates)
                values.append(float(np.interp(np.log(t), np.log(curve.eps2), curve.complexity)))
            comp[label][s] = np.asarray(values)

    lines = [f"Comp(t) = −log V(t) at t = {t} nats (Laplace), {per_scale} truths per scale s "
             "(truth = s × a prior draw); mean [min, max], nats",
             f"{'s':>6}" + "".join(f"{label + f' d={dims[label]}':>34}" for label in comp)]
    for s in scales:
        cells = [f"{v[s].mean():>14.1f} [{v[s].min():6.1f}, {v[s].max():6.1f}]" for v in comp.values()]
        lines.append(f"{s:>6}" + "".join(f"{c:>34}" for c in cells))
    table = "\n".join(lines)
    print(table)
    (out_dir / "table.txt").write_text(table + "\n")

    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4), layout="constrained")
    plots.plot_complexity_spectrum({f"{label} (d={dims[label]})": np.concatenate(list(v.values()))
                                    for label, v in comp.items()}, ax=left)
    left.set_title(f"Comp(t = {t}) over all truths")
    for label, v in comp.items():
        means = np.asarray([v[s].mean() for s in scales])
        lo = np.asarray([v[s].min() for s in scales])
        hi = np.asarray([v[s].max() for s in scales])
        right.plot(scales, means, "o-", ms=3, label=label)
        right.fill_between(scales, lo, hi, alpha=0.2, lw=0)
    right.set_xlabel("truth scale s (× a prior draw)")
    right.set_ylabel(f"Comp(t = {t}) (nats)")
    right.set_title("Simple truths are cheap, complex ones reachable")
    right.legend(fontsize=8)
    figure = out_dir / "complexity_range.png"
    fig.savefig(figure)
    plt.close(fig)
    seconds = time.perf_counter() - started
    print(f"figure: {figure}  ({seconds:.0f} s)")
    return {"t": t, "scales": np.asarray(scales), "dims": dims,
            "complexity": {label: np.stack([v[s] for s in scales]) for label, v in comp.items()},
            "figure": figure, "seconds": seconds}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="reduced sizes (seconds, not minutes)")
    parser.add_argument("--out", default=None, help="output folder (default examples-out/complexity_range)")
    args = parser.parse_args()
    main(small=args.small, out=args.out)
