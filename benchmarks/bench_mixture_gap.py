"""The mixture gap: excess code length (nats per test datum) of approximate mixtures over the Bayes mixture.

At n = 100 training rows, for each class with a known Bayes mixture, ``bv.mixture_gap`` scores every
method at each of its budgets on the same training and test sets (3 seeds × 200 test rows):

* classes: linear-Gaussian d = 50 and polynomial d = 41 (exact: the zoo's ``log_mixture``), Beta–Bernoulli
  d = 1 (exact), logistic d = 2 (grid quadrature, predictor "quadrature"), a tanh MLP d = 97
  (``mlp(d_in=4, widths=(16,))``, regression) against long NUTS (2 chains × 1000 warm-up + 2000 draws: the
  reference's own Monte Carlo error enters its gap);
* methods and budgets: ``laplace_ggn`` (rank of the GGN kept), ``sgld`` (draws after 500 burn-in steps,
  thin 5), ``ensemble`` (L-BFGS ERM fits from prior draws, members), ``sgd_ensemble`` (Adam runs from prior
  draws, members), every other setting at its default.

Printed: gap ± s.e. over seeds, mean per-datum gradient evaluations, and each method's wall time (median
over seeds) as a ratio to the reference predictor's on the same data in the same run (the baseline). Writes
``benchmarks/mixture_gap.json`` and the figure ``docs/mixture_gap.png`` (gap against gradient evaluations).

Run: .venv/bin/python benchmarks/bench_mixture_gap.py [--classes linear polynomial ...]  (≈ 10–30 min on 2
loaded cores; each class can be run alone and the figure is redrawn from the JSON with --plot-only)
"""

import argparse
import json
import time
import warnings
from pathlib import Path

import jax
import numpy as np

import bayesvol as bv
import bayesvol_zoo as models

N = 100
SEEDS = [0, 1, 2]
NUM_TEST = 200
OUT = Path(__file__).parent / "mixture_gap.json"
FIGURE = Path(__file__).parent.parent / "docs" / "mixture_gap.png"
COLORS = {"laplace_ggn": "C0", "sgld": "C1", "ensemble": "C2", "sgd_ensemble": "C3"}
BUDGETS = {"sgld": [25, 100, 400], "ensemble": [2, 5, 10], "sgd_ensemble": [2, 5, 10]}


def classes():
    return {
        "linear d=50": (models.linear_regression(d=50), "mixture", {}, [5, 20, 50]),
        "polynomial d=41": (models.polynomial_regression(), "mixture", {}, [5, 15, 41]),
        "Beta-Bernoulli d=1": (models.bernoulli(), "mixture", {}, [1]),
        "logistic d=2": (models.logistic_regression(d=2), "quadrature", {}, [1, 2]),
        "MLP d=97": (models.mlp(d_in=4, widths=(16,)), "mixture",
                     {"fit_kwargs": {"num_chains": 2, "num_warmup": 1000, "num_samples": 2000}},
                     [10, 40, 97]),
    }


def run_class(name, zoo, reference, ref_options, laplace_ranks, methods=None):
    """One mixture_gap call (the reference once per seed); wall times are medians over the seeds."""
    budgets = {"laplace_ggn": laplace_ranks, **BUDGETS}
    if methods:
        budgets = {k: v for k, v in budgets.items() if k in methods}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", bv.SamplerWarning)
        ds = bv.mixture_gap(zoo.model_class, zoo, N, list(budgets), budgets, key=jax.random.PRNGKey(0),
                            seeds=SEEDS, num_test=NUM_TEST, reference=reference,
                            reference_options=ref_options)
    base = float(np.median(ds["reference_seconds"].values))
    rows = []
    for method, method_budgets in budgets.items():
        for budget in method_budgets:
            sel = {"predictor": method, "budget": budget}
            seconds = float(np.median(ds["seconds"].sel(sel).values))
            rows.append({"class": name, "method": method, "budget": budget,
                         "gap": float(ds["gap_mean"].sel(sel)), "se": float(ds["gap_stderr"].sel(sel)),
                         "gradients": float(ds["gradient_evaluations_mean"].sel(sel)),
                         "seconds": seconds, "reference_seconds": base,
                         "reference": ds.attrs["reference"],
                         "reference_code_length": float(ds["reference_code_length"].mean())})
        print(f"{name:20s} {method:13s} " + "  ".join(
            f"b={r['budget']}: {r['gap']:+.4f} ± {r['se']:.4f} ({r['gradients']:.2e} grads, "
            f"{r['seconds'] / base:.2f}× ref time)" for r in rows if r["method"] == method), flush=True)
    print(f"{name}: reference ({ds.attrs['reference']}) {base:.2f} s per seed (median), code length "
          f"{float(ds['reference_code_length'].mean()):.4f} nats per test datum", flush=True)
    return rows


def plot(rows):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(dict.fromkeys(r["class"] for r in rows))
    fig, axes = plt.subplots(1, len(names), figsize=(3.4 * len(names), 3.2), squeeze=False)
    for ax, name in zip(axes[0], names):
        diverged = []
        for method in dict.fromkeys(r["method"] for r in rows):
            pts = [r for r in rows if r["class"] == name and r["method"] == method]
            # a diverged run (SGLD on the polynomial: gap ≈ 1e120) would squash every other curve
            if any(not abs(r["gap"]) <= 100 for r in pts):
                diverged.append(method)
            pts = [r for r in pts if abs(r["gap"]) <= 100]
            if not pts:
                continue
            g = np.array([r["gradients"] for r in pts])
            y = np.array([r["gap"] for r in pts])
            se = np.array([r["se"] for r in pts])
            ax.errorbar(g, y, yerr=2 * se, marker="o", ms=3, capsize=2, label=method,
                        color=COLORS.get(method))
        ax.set_xscale("log")
        ax.set_yscale("symlog", linthresh=1e-3)
        ax.axhline(0.0, color="0.6", lw=0.8)
        reference = next(r["reference"] for r in rows if r["class"] == name)
        ax.set_title(f"{name} (ref: {reference})", fontsize=9)
        if diverged:
            ax.text(0.02, 0.95, f"off the axis (gap > 100 nats): {', '.join(diverged)}",
                    transform=ax.transAxes, fontsize=7, va="top")
        ax.set_xlabel("per-datum gradient evaluations")
    axes[0][0].set_ylabel("gap (nats per test datum), ±2 s.e.")
    axes[0][-1].legend(fontsize=7)
    fig.suptitle(f"Mixture gap at n = {N} ({len(SEEDS)} seeds × {NUM_TEST} test rows)", fontsize=10)
    fig.tight_layout()
    FIGURE.parent.mkdir(exist_ok=True)
    fig.savefig(FIGURE, dpi=110)
    print(f"figure: {FIGURE}")


def table(rows):
    """The RESULTS.md table: per class and method, gap ± s.e. (nats per test datum) [gradient evaluations]
    at each budget."""
    print("| class (reference) | method (budget) | smallest budget | middle | largest |")
    print("|---|---|---|---|---|")
    for name in dict.fromkeys(r["class"] for r in rows):
        for method in dict.fromkeys(r["method"] for r in rows if r["class"] == name):
            pts = [r for r in rows if r["class"] == name and r["method"] == method]
            cells = []
            for r in pts:
                gap = (f"{r['gap']:+.2g} ± {r['se']:.1g}" if abs(r["gap"]) <= 100
                       else f"{r['gap']:.1e} (diverged)")
                cells.append(f"{r['budget']}: {gap} [{r['gradients']:.1e}]")
            if len(cells) == 2:
                cells = [cells[0], "", cells[1]]
            elif len(cells) == 1:
                cells = [cells[0], "", ""]
            knob = {"laplace_ggn": "rank", "sgld": "draws", "ensemble": "members",
                    "sgd_ensemble": "members"}.get(method, "budget")
            print(f"| {name} ({pts[0]['reference']}) | {method} ({knob}) | " + " | ".join(cells) + " |")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--classes", nargs="*", default=None, help="substrings of the class names to run")
    parser.add_argument("--plot-only", action="store_true", help="redraw the figure and table from the JSON")
    parser.add_argument("--methods", nargs="*", default=None,
                        help="run only these methods (their rows replace the JSON's; the others are kept)")
    args = parser.parse_args()
    rows = json.loads(OUT.read_text()) if OUT.exists() else []
    if not args.plot_only:
        for name, (zoo, reference, options, ranks) in classes().items():
            if args.classes and not any(c in name for c in args.classes):
                continue
            start = time.perf_counter()
            new = run_class(name, zoo, reference, options, ranks, args.methods)
            print(f"{name}: {time.perf_counter() - start:.0f} s", flush=True)
            replaced = {(r["class"], r["method"]) for r in new}
            rows = [r for r in rows if (r["class"], r["method"]) not in replaced
                    and (args.methods or r["class"] != name)] + new
            OUT.write_text(json.dumps(rows, indent=1))
    plot(rows)
    table(rows)


if __name__ == "__main__":
    main()
