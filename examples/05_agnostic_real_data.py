"""Agnostic learning on a real data set: the projection θ*, the volume near it, mixture vs ERM log loss.

No model is true for scikit-learn's breast-cancer data; the class (logistic regression on a few
standardized features) is judged against its projection θ* = argmax_θ E_P log P_θ(y | x), the best
member. Regret becomes excess log loss E_P[log P_θ*(y|x) − log Q(y|x)], and the volume is that of
{θ : E_P[log P_θ* − log P_θ] ≤ t}, Laplace-approximated with the Hessian of the empirical loss at θ*.

Run ``python examples/05_agnostic_real_data.py [--small] [--out DIR]``; writes ``agnostic.png`` and
``table.txt`` into ``examples-out/agnostic_real_data/``.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_breast_cancer

import bayesvol as bv
import bayesvol_zoo as models
from bayesvol.app import plots

NAME = "agnostic_real_data"
FEATURES = ("mean radius", "mean texture", "mean smoothness", "mean concave points")


def main(small: bool = False, out: str | Path | None = None) -> dict:
    """Run the example; return θ*, the held-out log losses and the regret table, and the figure path."""
    out_dir = Path(out) if out is not None else Path("examples-out") / NAME
    out_dir.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    bunch = load_breast_cancer()
    columns = [list(bunch.feature_names).index(f) for f in FEATURES]
    x = np.asarray(bunch.data[:, columns], dtype=float)
    x = (x - x.mean(0)) / x.std(0)
    x = np.concatenate([np.ones((x.shape[0], 1)), x], axis=1)  # an intercept column
    y = jnp.asarray(bunch.target, dtype=jnp.int32)
    x = jnp.asarray(x)
    zoo = models.get("logistic_regression", d=x.shape[1], tau=2.0)  # w ~ N(0, 2² I)
    mc = zoo.model_class
    key = jax.random.PRNGKey(0)
    key_compare, key_regret = jax.random.split(key)

    # the mixture's posterior is sampled by bv.fit (NUTS) for every training set
    options = {"fit_kwargs": {"num_chains": 2, "num_warmup": 200, "num_samples": 600}} if small else None
    # 1. held-out log loss on a quarter of the rows, and prequential loss at a few training sizes
    heldout = bv.compare(mc, y, ("mixture", "plugin"), key=key_compare, x=x,
                         prequential_starts=[20] if small else None, predictor_options=options)
    # 2. regret against the projection θ* (rows drawn with replacement from the data set)
    ns = [20, 80] if small else [10, 20, 40, 80, 160, 320]
    seeds = list(range(2 if small else 8))
    truth = bv.dataset_truth(y, x=x)
    regret = bv.regret_curve(mc, truth, ns, seeds, ("mixture", "plugin"), key=key_regret, online=False,
                             num_test=len(y), predictor_options=options)
    z_star = jnp.asarray(regret.attrs["projection"])
    theta_star = mc.unflatten(z_star)
    # 3. volume near θ*, with the Hessian of the empirical loss at θ* (data=...) as the curvature; for
    # logistic regression (canonical link) it equals the Fisher information of P_θ*: y drops out
    eps2 = np.geomspace(1e-4, 10.0, 31)
    curve = bv.laplace_volume(mc, theta_star, eps2, data=y, x=x)
    b_hess = bv.regret_bound(curve, np.asarray(ns)).gibbs

    heldout_rows = {str(p): (float(heldout["heldout"].sel(predictor=p)),
                             float(heldout["heldout_stderr"].sel(predictor=p)))
                    for p in heldout["predictor"].values}
    # ERM is +∞ on a seed whose resample is linearly separable (the fit diverges): counted, not averaged
    lines = [f"Breast cancer ({len(y)} rows), logistic regression on {', '.join(FEATURES)} + intercept; "
             "nats.",
             "θ* (projection) = " + ", ".join(f"{v:.2f}" for v in np.asarray(theta_star["w"])),
             f"held-out log loss per sample ({heldout.attrs['num_test']} rows): " + "; ".join(
                 f"{p} {m:.4f} ± {s:.4f}" for p, (m, s) in heldout_rows.items()),
             "log V(t) near θ* (Laplace): " + ", ".join(
                 f"t={t:.2g}: {v:.1f}"
                 for t, v in zip(curve.eps2[::10], curve.log_volume[::10], strict=True)),
             f"{'n':>5}{'r_n mixture':>18}{'r_n ERM':>18}{'B_n/n (Hessian)':>17}",
             ]
    for i, n in enumerate(ns):
        rm, sm = (float(regret[v].sel(predictor="mixture")[i]) for v in ("regret_mean", "regret_stderr"))
        re, se = (float(regret[v].sel(predictor="plugin")[i]) for v in ("regret_mean", "regret_stderr"))
        k = int(regret["num_infinite"].sel(predictor="plugin")[i])
        erm = f"{re:>10.4f} ± {se:.4f}" if k == 0 else f"{f'∞ ({k}/{len(seeds)} seeds)':>18}"
        lines.append(f"{n:>5}{rm:>10.4f} ± {sm:.4f}{erm}{b_hess[i] / n:>17.4f}")
    table = "\n".join(lines)
    print(table)
    (out_dir / "table.txt").write_text(table + "\n")

    fig, axes = plt.subplots(1, 3, figsize=(15, 4), layout="constrained")
    plots.plot_volume({"Laplace, Hessian at θ*": curve}, ax=axes[0])
    axes[0].set_xlabel("excess-loss radius t (nats)")
    axes[0].set_title("Prior volume near the projection θ*")
    n_arr = np.asarray(ns, dtype=float)
    for p, color in (("mixture", "C0"), ("plugin", "C3")):
        mean = regret["regret_mean"].sel(predictor=p).values
        se = regret["regret_stderr"].sel(predictor=p).values
        finite = np.isfinite(mean)
        axes[1].errorbar(n_arr[finite], mean[finite], yerr=2 * se[finite], fmt="o-", ms=3, color=color,
                         label="Bayes mixture" if p == "mixture" else "ERM (plug-in)")
    axes[1].set_xscale("log")
    axes[1].set_xlabel("training rows n (resampled)")
    axes[1].set_ylabel("excess log loss over θ* (nats per sample)")
    axes[1].set_title("Regret against the projection (ERM: finite n only)")
    axes[1].legend(fontsize=8)
    labels = list(heldout_rows)
    axes[2].bar(labels, [heldout_rows[p][0] for p in labels],
                yerr=[2 * heldout_rows[p][1] for p in labels], color=["C0", "C3"])
    axes[2].set_ylabel("held-out log loss (nats per sample)")
    axes[2].set_title("Held-out log loss, ±2 s.e.")
    figure = out_dir / "agnostic.png"
    fig.savefig(figure)
    plt.close(fig)
    seconds = time.perf_counter() - started
    print(f"figure: {figure}  ({seconds:.0f} s)")
    return {"theta_star": np.asarray(theta_star["w"]), "heldout": heldout_rows, "ns": np.asarray(ns),
            "regret_mixture": regret["regret_mean"].sel(predictor="mixture").values,
            "regret_mixture_se": regret["regret_stderr"].sel(predictor="mixture").values,
            "regret_erm": regret["regret_mean"].sel(predictor="plugin").values,
            "regret_erm_se": regret["regret_stderr"].sel(predictor="plugin").values,
            "B_n_hessian": np.asarray(b_hess), "log_volume": np.asarray(curve.log_volume),
            "volume_dim": np.asarray(curve.volume_dimension), "dim": mc.dim,
            "figure": figure, "seconds": seconds}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="reduced sizes (seconds, not minutes)")
    parser.add_argument("--out", default=None, help="output folder (default examples-out/agnostic_real_data)")
    args = parser.parse_args()
    main(small=args.small, out=args.out)
