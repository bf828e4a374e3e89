"""Over-parameterization: the mixture's regret tracks the effective dimension, not the parameter count.

Polynomial regression of degree 2…60 (d = degree + 1 parameters) with a fixed degree-2 truth, at a fixed
sample size n. The Laplace bound gives R_n ≲ ½ Σ_i log(1 + nλ_i) + …, which grows like (k_eff/2) log n with
k_eff(n) = Σ_i nλ_i/(1 + nλ_i) (λ_i = eig(ΣF)) rather than (d/2) log n; the plug-in ERM fit interpolates
once d > n and its excess test log loss explodes.

The mixture is exact here (linear-Gaussian class: Q = N(0, σ²I + τ²ΦΦᵀ)). Run
``python examples/02_overparameterization.py [--small] [--out DIR]``; writes ``overparameterization.png``
and ``table.txt`` into ``examples-out/overparameterization/``.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import jax
import matplotlib.pyplot as plt
import numpy as np

import bayesvol as bv
import bayesvol_zoo as models

NAME = "overparameterization"


def main(small: bool = False, out: str | Path | None = None) -> dict:
    """Run the example; return per-degree arrays (d, k_eff, R_n, B_n, batch regrets) and the figure path."""
    out_dir = Path(out) if out is not None else Path("examples-out") / NAME
    out_dir.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    degrees = [2, 10, 40] if small else [2, 5, 10, 20, 40, 60]
    n = 20 if small else 30
    seeds = list(range(4 if small else 10))
    eps2 = np.geomspace(1e-5, 10.0, 31)
    key = jax.random.PRNGKey(0)
    rows = []
    for degree in degrees:
        zoo = models.get("polynomial_regression", degree=degree)  # truth 0.5 − x + 1.5x² for every degree
        mc = zoo.model_class
        key_cov, key_regret = jax.random.split(jax.random.fold_in(key, degree))
        covariates = zoo.sample_covariates(key_cov, 500)
        laplace = bv.laplace_volume(mc, zoo.true_params, eps2, **covariates)
        ds = bv.regret_curve(mc, zoo, [n], seeds, ("mixture", "plugin"), key=key_regret,
                             exact_log_marginal=zoo.log_mixture, volume_curves={"Laplace": laplace})
        rows.append({
            "degree": degree, "d": zoo.dim,
            "k_eff": float(bv.effective_dimension(laplace.eigenvalues, n)),
            "R_n": float(ds["online_regret_mean"][0]), "R_n_se": float(ds["online_regret_stderr"][0]),
            "B_n": float(ds["bound_gibbs"].sel(curve="Laplace")[0]),
            "r_mixture": float(ds["regret_mean"].sel(predictor="mixture")[0]),
            "r_mixture_se": float(ds["regret_stderr"].sel(predictor="mixture")[0]),
            "r_erm": float(ds["regret_mean"].sel(predictor="plugin")[0]),
            "r_erm_se": float(ds["regret_stderr"].sel(predictor="plugin")[0]),
        })

    lines = [f"Polynomial regression, degree-2 truth, n = {n}, {len(seeds)} seeds (nats). R_n: online regret "
             "of the mixture; B_n: its Gibbs bound; r_n: excess test log loss per sample.",
             f"{'degree':>6}{'d':>4}{'k_eff(n)':>9}{'(d/2)log n':>11}{'R_n mixture':>16}{'B_n':>8}"
             f"{'r_n mixture':>17}{'r_n ERM':>22}"]
    for r in rows:
        lines.append(f"{r['degree']:>6}{r['d']:>4}{r['k_eff']:>9.2f}{0.5 * r['d'] * np.log(n):>11.1f}"
                     f"{r['R_n']:>9.2f} ± {r['R_n_se']:4.2f}{r['B_n']:>8.2f}"
                     f"{r['r_mixture']:>10.3f} ± {r['r_mixture_se']:5.3f}"
                     f"{r['r_erm']:>13.3g} ± {r['r_erm_se']:7.3g}")
    table = "\n".join(lines)
    print(table)
    (out_dir / "table.txt").write_text(table + "\n")

    arrays = {k: np.asarray([r[k] for r in rows], dtype=float) for k in rows[0]}
    d = arrays["d"]
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4), layout="constrained")
    left.errorbar(d, arrays["R_n"], yerr=2 * arrays["R_n_se"], fmt="o-", ms=3, label="mixture R_n")
    left.plot(d, arrays["B_n"], "--", label="B_n (exact here)")
    left.plot(d, 0.5 * arrays["k_eff"] * np.log(n), "s:", ms=3, label="(k_eff(n)/2) log n")
    left.plot(d, 0.5 * d * np.log(n), color="0.6", label="(d/2) log n")
    left.axvline(n, color="k", lw=0.8, ls=":")
    left.set_xscale("log")
    left.set_yscale("log")
    left.set_xlabel("number of parameters d (vertical line: d = n)")
    left.set_ylabel("cumulative regret (nats)")
    left.set_title(f"Online regret at n = {n} follows k_eff, not d")
    left.legend(fontsize=8)
    right.errorbar(d, arrays["r_mixture"], yerr=2 * arrays["r_mixture_se"], fmt="o-", ms=3, color="C0",
                   label="Bayes mixture")
    right.errorbar(d, arrays["r_erm"], yerr=2 * arrays["r_erm_se"], fmt="o-", ms=3, color="C3",
                   label="ERM (plug-in)")
    right.axvline(n, color="k", lw=0.8, ls=":")
    right.set_xscale("log")
    right.set_yscale("log")
    right.set_xlabel("number of parameters d")
    right.set_ylabel("excess test log loss r_n (nats per sample)")
    right.set_title("Batch regret: ERM explodes once d > n")
    right.legend(fontsize=8)
    for ax in (left, right):
        ax.set_xticks(d, [str(int(v)) for v in d], minor=False)
        ax.xaxis.set_minor_formatter(plt.NullFormatter())
    figure = out_dir / "overparameterization.png"
    fig.savefig(figure)
    plt.close(fig)
    seconds = time.perf_counter() - started
    print(f"figure: {figure}  ({seconds:.0f} s)")
    return {"n": n, **arrays, "figure": figure, "seconds": seconds}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="reduced sizes (seconds, not minutes)")
    parser.add_argument("--out", default=None,
                        help="output folder (default examples-out/overparameterization)")
    args = parser.parse_args()
    main(small=args.small, out=args.out)
