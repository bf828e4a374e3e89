"""Singular models: the volume dimension approaches twice the learning coefficient, where Laplace fails.

For a singular class the KL ball's prior volume scales as V(t) ~ c t^λ (log 1/t)^{m−1}, λ Watanabe's
learning coefficient, so the volume dimension k(t) = 2 d log V / d log t → 2λ < d as t → 0. The Laplace
(quadratic) approximation only sees the non-degenerate directions of the Fisher information and gets
k(t) → rank F, with the wrong log V; nested sampling (MCMC) on the exact D gets 2λ.

Models: ½N(μ1,1) + ½N(μ2,1) at μ1 = μ2 = 0, where D ≈ ½ m² + ¼ δ⁴ (m, δ the half sum and difference of
μ1, μ2): λ = ½ + ¼ = ¾, so 2λ = 1.5 while d = 2 and the Fisher information has rank 1. Reduced-rank
regression y = BAx + noise (A 2×3, B 3×2, rank-1 truth): λ = 3.5 with multiplicity 2 (Aoyagi & Watanabe
2005), so V ~ c t^{7/2} log(1/t) and k(t) → 7 slowly (≈ 6.8 at t = 1e-4), while d = 12 and the Fisher
information has rank 5. Its level sets are thin curved tubes around a cross-shaped variety; the sampler
detects that D is singular and adds slice moves along single parameters, without which it does not mix.
The λ table: for the zoo's singular cases (and one regular class) λ and its multiplicity m are read off
dedicated nested curves by ``bv.learning_coefficient`` (a fit of log V = λ log t + (m−1) log(log(1/t) + b) + c
with the curve's correlated errors) and set against the published values; ``lambda.png`` shows k(t)
approaching 2λ. Run ``python examples/06_singular_models.py [--small] [--out DIR]``; writes
``singular.png``, ``lambda.png``, ``table.txt`` and ``lambda.txt`` into ``examples-out/singular_models/``.
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

NAME = "singular_models"


def main(small: bool = False, out: str | Path | None = None) -> dict:
    """Run the example; return k(t) and log V(t) of both estimators and 2λ per model, and the figure."""
    out_dir = Path(out) if out is not None else Path("examples-out") / NAME
    out_dir.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    # (model, options, radii, sampler settings): k(t) at the second radius is the secant of log V over the
    # two neighbouring intervals, whose stderr is several times below a local difference's. Mixture: radii
    # every 1.5 decades (1e-9 ≤ t ≤ 1e-6; small: 1e-6 ≤ t ≤ 1e-3), 5 elliptical slice steps per level.
    # Reduced-rank regression: log V falls ≈ 7.8 nats per decade (≈ −56 at 1e-6), so its radii stop higher
    # (small: every decade from 1e-3); the defaults (4 elliptical steps and, because D is singular there,
    # one coordinate slice update per coordinate and level) mix on its curved level sets.
    entries = [
        ("gaussian_mixture", {}, np.geomspace(1e-6, 1.0, 5) if small else np.geomspace(1e-9, 1.0, 7),
         {"num_steps": 5}),
        ("reduced_rank_regression", {"m_in": 3, "n_out": 3, "hidden": 2, "rank": 1},
         np.geomspace(1e-3, 1.0, 4) if small else np.geomspace(1e-6, 1.0, 5), {}),
    ]
    key = jax.random.PRNGKey(0)
    results = {}
    for i, (name, options, eps2, settings) in enumerate(entries):
        zoo = models.get(name, **options)
        mc = zoo.model_class
        key_cov, key_nested = jax.random.split(jax.random.fold_in(key, i))
        covariates = zoo.sample_covariates(key_cov, 200)
        nested = bv.sampled_volume(mc, zoo.true_params, eps2, key=key_nested, num_live=32 if small else 64,
                                   num_runs=8, **settings, **covariates)
        laplace = bv.laplace_volume(mc, zoo.true_params, eps2, **covariates)
        print(f"{name}: {nested.diagnostics.seconds:.0f} s, {nested.diagnostics.num_evaluations:.3g} "
              "evaluations of D")
        results[name] = {
            "dim": zoo.dim, "two_lambda": 2 * zoo.facts.learning_coefficient, "eps2": eps2,
            "k_mcmc": np.asarray(nested.volume_dimension),
            "k_mcmc_se": np.asarray(nested.volume_dimension_stderr),
            "k_laplace": np.asarray(laplace.volume_dimension),
            "log_v_mcmc": np.asarray(nested.log_volume), "log_v_mcmc_se": np.asarray(nested.stderr),
            "log_v_laplace": np.asarray(laplace.log_volume),
            "curves": {"Laplace": laplace, "MCMC (nested)": nested},
        }

    lines = ["Volume dimension k(t) = 2 d log V / d log t (nats); MCMC: nested sampling ± s.e.; "
             "Laplace: quadratic approximation."]
    for name, r in results.items():
        lines.append(f"{name}: d = {r['dim']}, 2λ = {r['two_lambda']:g}")
        lines.append(f"{'t':>10}{'log V MCMC':>18}{'log V Laplace':>15}{'k MCMC':>16}{'k Laplace':>11}")
        for j, t in enumerate(r["eps2"]):
            lines.append(f"{t:>10.1e}{r['log_v_mcmc'][j]:>10.2f} ± {r['log_v_mcmc_se'][j]:4.2f}"
                         f"{r['log_v_laplace'][j]:>15.2f}{r['k_mcmc'][j]:>9.2f} ± {r['k_mcmc_se'][j]:4.2f}"
                         f"{r['k_laplace'][j]:>11.2f}")
    table = "\n".join(lines)
    print(table)
    (out_dir / "table.txt").write_text(table + "\n")

    fig, axes = plt.subplots(len(results), 2, figsize=(11, 3.8 * len(results)), layout="constrained",
                             squeeze=False)
    for (left, right), (name, r) in zip(axes, results.items(), strict=True):
        t = r["eps2"]
        left.errorbar(t, r["log_v_mcmc"], yerr=2 * r["log_v_mcmc_se"], fmt="o-", ms=3, label="MCMC (nested)")
        left.plot(t, r["log_v_laplace"], "s--", ms=3, label="Laplace")
        left.set_xscale("log")
        left.set_xlabel("KL radius t (nats)")
        left.set_ylabel("log V(t) (nats)")
        left.set_title(f"{name}: prior volume of the KL ball")
        left.legend(fontsize=8)
        right.errorbar(t, r["k_mcmc"], yerr=2 * r["k_mcmc_se"], fmt="o-", ms=3, label="MCMC (nested)")
        right.plot(t, r["k_laplace"], "s--", ms=3, label="Laplace")
        right.axhline(r["two_lambda"], color="k", ls=":", label=f"2λ = {r['two_lambda']:g}")
        right.axhline(r["dim"], color="0.6", lw=1, label=f"d = {r['dim']}")
        right.set_xscale("log")
        right.set_xlabel("KL radius t (nats)")
        right.set_ylabel("volume dimension k(t)")
        right.set_title(f"{name}: k(t) → 2λ, not d")
        right.legend(fontsize=8)
    figure = out_dir / "singular.png"
    fig.savefig(figure)
    plt.close(fig)
    lambda_rows, lambda_figure = _lambda_table(small, out_dir, jax.random.fold_in(key, 100))
    seconds = time.perf_counter() - started
    print(f"figure: {figure}  ({seconds:.0f} s)")
    return {"models": results, "figure": figure, "lambda": lambda_rows, "lambda_figure": lambda_figure,
            "seconds": seconds}


def _lambda_table(small: bool, out_dir: Path, key: jax.Array) -> tuple[list[dict], Path]:
    """λ̂ ± s.e. and m̂ against the known λ, m (the rows of `bayesvol lambda`), and k(t) → 2λ.

    The small run keeps its short grid (no extension to LAMBDA_DEPTH nats): seconds, not minutes.
    """
    from bayesvol.app.experiments import LAMBDA_CASES, LAMBDA_DEPTH, lambda_case, lambda_eps2
    from bayesvol.app.plots import plot_volume_dimension_limits

    cases = LAMBDA_CASES[:2] if small else LAMBDA_CASES
    eps2 = lambda_eps2(quick=small)
    rows, curves = [], {}
    for j, (label, name, options) in enumerate(cases):
        row, curve, _ = lambda_case(models.get(name, **options), eps2, jax.random.fold_in(key, j),
                                    num_live=16 if small else 64, num_runs=4 if small else 8, label=label,
                                    depth=None if small else LAMBDA_DEPTH)
        rows.append(row)
        curves[label] = (curve, row["lambda"])
    lines = [f"{'case':<27}{'λ':>7}{'λ̂ ± s.e.':>17}{'m':>4}{'m̂':>7}{'|z|':>6}{'|Δλ|/λ':>8}"]
    for r in rows:
        m_hat = "undet." if r["m_hat"] is None else str(r["m_hat"])
        lines.append(f"{r['case']:<27}{r['lambda']:>7.3g}{r['lambda_hat']:>9.3f} ± {r['stderr']:<5.3f}"
                     f"{r['m']!s:>4}{m_hat:>7}{r['z']:>6.1f}{r['relative_error']:>8.1%}")
    table = "\n".join(lines)
    print(table)
    (out_dir / "lambda.txt").write_text(table + "\n")
    fig = plot_volume_dimension_limits(curves)
    figure = out_dir / "lambda.png"
    fig.savefig(figure)
    plt.close(fig)
    return rows, figure


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="reduced sizes (seconds, not minutes)")
    parser.add_argument("--out", default=None, help="output folder (default examples-out/singular_models)")
    args = parser.parse_args()
    main(small=args.small, out=args.out)
