"""Laplace against sampling on a network (issue 12, item 5): log V(t) of both, k(t) of both, the verdict.

Cases:
  breast_cancer  zoo ``mlp_classification`` 30 → W → 2 (W = 32: d = 1,058) at θ* = the MAP fit on the 569
                 rows, D over those rows (as ``bayesvol volume --model mlp_classification --data
                 breast_cancer --option widths=[32]``);
  tanh281        the issue's 2 → 8 → 1 tanh regression (zoo ``mlp`` d_in=2, widths=[8]: d = 33) at the zoo's
                 truth, 200 covariate rows (as ``bayesvol volume --model mlp --option d_in=2 --option
                 widths=[8]``).

Printed per t: Laplace log V, nested log V ± s.e., importance log V ± s.e. and its ESS, k(t) of each, the
curve_agreement cause; then the summary, evaluations and wall times. The baseline of the ratio column is
the Laplace curve's wall time in the same run.

    .venv/bin/python benchmarks/bench_network_volume.py breast_cancer --width 32 --t-min 1e-2
"""

from __future__ import annotations

import argparse
import time
import warnings

import jax
import numpy as np

import bayesvol as bv
import bayesvol_zoo as models
from bayesvol.app.data_volume import at_fitted_truth
from bayesvol.app.experiments import load_data


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("case", choices=("breast_cancer", "tanh281"))
    parser.add_argument("--width", type=int, default=32)
    parser.add_argument("--t-min", type=float, default=1e-2)
    parser.add_argument("--num-live", type=int, default=32)
    parser.add_argument("--num-runs", type=int, default=4)
    parser.add_argument("--num-steps", type=int, default=4)
    parser.add_argument("--coordinate-steps", type=int, default=None)
    parser.add_argument("--no-importance", action="store_true")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    started = time.perf_counter()
    if args.case == "breast_cancer":
        data = load_data("breast_cancer")
        zoo = models.mlp(d_in=30, widths=(args.width,), d_out=2, task="classification")
        zoo, covariates, fitted = at_fitted_truth(zoo, data, data.y, {}, jax.random.PRNGKey(args.seed))
        print(f"θ*: MAP on {fitted.rows} rows, training log loss {fitted.train_log_loss:.4f}, "
              f"{fitted.seconds:.0f} s")
    else:
        zoo = models.mlp(d_in=2, widths=(8,), d_out=1)
        covariates = zoo.sample_covariates(jax.random.PRNGKey(args.seed), 200)
    mc, params = zoo.model_class, zoo.true_params
    print(f"case {args.case}: d = {mc.dim}, {np.shape(covariates['x'])[0]} covariate rows; "
          f"setup {time.perf_counter() - started:.0f} s", flush=True)
    eps2 = np.geomspace(args.t_min, 10.0, 1 + round(10 * np.log10(10.0 / args.t_min)))

    t0 = time.perf_counter()
    lap = bv.laplace_volume(mc, params, eps2, covariates=covariates)
    t_lap = time.perf_counter() - t0
    nonzero = int(np.sum(np.asarray(lap.eigenvalues) > 1e-12))
    print(f"Laplace: {t_lap:.1f} s; non-zero a_i: {nonzero}", flush=True)
    imp = None
    if not args.no_importance:
        t0 = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", bv.ImportanceCollapseWarning)
            imp = bv.importance_volume(mc, params, eps2, key=jax.random.PRNGKey(args.seed + 1),
                                       covariates=covariates)
        t_imp = time.perf_counter() - t0
        print(f"importance: {t_imp:.1f} s ({t_imp / t_lap:.1f}× Laplace), "
              f"{imp.diagnostics.num_evaluations} evaluations", flush=True)
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", bv.BayesvolWarning)
        ns = bv.sampled_volume(mc, params, eps2, key=jax.random.PRNGKey(args.seed + 2),
                               num_live=args.num_live, num_runs=args.num_runs, num_steps=args.num_steps,
                               coordinate_steps=args.coordinate_steps, progress=False, covariates=covariates)
    t_ns = time.perf_counter() - t0
    info = ns.diagnostics
    print(f"nested (N = {args.num_live}, R = {args.num_runs}, {args.num_steps} steps, "
          f"{info.coordinate_steps} coordinate updates): {t_ns:.1f} s ({t_ns / t_lap:.1f}× Laplace), "
          f"{info.num_evaluations} evaluations, {info.num_levels} levels, stop {info.stop}", flush=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", bv.BayesvolWarning)
        agreement = bv.curve_agreement(lap, ns)
    inflation = np.asarray(info.variance_inflation)
    print("| t | Laplace log V | nested log V ± s.e. | importance log V ± s.e. (ESS) | k Laplace "
          "| k nested ± s.e. | k importance | inflation | verdict |")
    print("|---|---|---|---|---|---|---|---|---|")
    for i, t in enumerate(eps2):
        cell = "—"
        k_imp = "—"
        if imp is not None:
            ess = float(imp.diagnostics.ess[i])
            cell = (f"{imp.log_volume[i]:.2f} ± {imp.stderr[i]:.2f} ({ess:.0f})"
                    if np.isfinite(imp.log_volume[i]) else f"collapsed ({ess:.0f})")
            k_imp = f"{imp.volume_dimension[i]:.2f}" if np.isfinite(imp.volume_dimension[i]) else "—"
        print(f"| {t:.3g} | {lap.log_volume[i]:.2f} | {ns.log_volume[i]:.2f} ± {ns.stderr[i]:.2f} | {cell} | "
              f"{lap.volume_dimension[i]:.2f} | {ns.volume_dimension[i]:.2f} ± "
              f"{ns.volume_dimension_stderr[i]:.2f} | {k_imp} | {inflation[i]:.2f} | {agreement.cause[i]} |")
    print(agreement.summary)
    print(f"total {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
