"""λ̂ ± s.e. and m̂ of saved nested curves, fitted again with the current ``learning_coefficient``.

Reads the pickles of ``benchmarks/lambda_curves.py`` / ``bench_devinterp.py --save`` (each a dict with the
row of ``lambda_case`` at sampling time and the curve) and prints, per curve, the fit at sampling time (the
estimator then) beside the current one, and for each group of seeds (calib-*) the calibration: Σ z² over the
seeds with z = (λ̂ − λ)/s.e., against χ²_k's 99 % band.

Usage: ``python benchmarks/bench_lambda_refit.py DIR [PREFIX ...]``.
"""

from __future__ import annotations

import pickle
import sys
import warnings
from collections import defaultdict
from pathlib import Path

import numpy as np
from scipy.stats import chi2

from bayesvol.volume.coefficient import AsymptoticWarning, learning_coefficient


def main() -> None:
    folder = Path(sys.argv[1])
    prefixes = sys.argv[2:] or [""]
    groups: dict[str, list[float]] = defaultdict(list)
    print(f"{'curve':<22} {'λ':>6} | {'then λ̂ ± s.e.':>17} {'m̂':>4} | {'now λ̂ ± s.e.':>17} {'m̂':>4} {'z':>6} "
          f"{'|Δλ|/λ':>7} {'b̂':>6} | fits now (m: λ_m, χ², b)")
    for path in sorted(folder.glob("*.pkl")):
        if not any(path.stem.startswith(p) for p in prefixes):
            continue
        with open(path, "rb") as f:
            saved = pickle.load(f)
        row, curve = saved["row"], saved["curve"]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", AsymptoticWarning)
            fit = learning_coefficient(curve)
        lam = row["lambda"]
        z = (fit.learning_coefficient - lam) / fit.stderr
        if path.stem.startswith("calib-"):
            groups[path.stem.rsplit("_", 1)[0]].append(z)
        then_m = "?" if row["m_hat"] is None else row["m_hat"]
        now_m = "?" if fit.multiplicity is None else fit.multiplicity
        fits = "; ".join(f"{f.multiplicity}: {f.learning_coefficient:.3f}, {f.chi2:.1f}, {f.shift:.3g}"
                         for f in fit.fits)
        note = "" if fit.asymptotic else " (not asymptotic)"
        rel = abs(fit.learning_coefficient - lam) / lam
        print(f"{path.stem:<22} {lam:>6.3g} | {row['lambda_hat']:>8.3f} ± {row['stderr']:<6.3f} "
              f"{then_m!s:>4} | {fit.learning_coefficient:>8.3f} ± {fit.stderr:<6.3f} {now_m!s:>4} {z:>6.2f} "
              f"{rel:>7.1%} {fit.shift:>6.3g} | {fits}{note}", flush=True)
    for name, zs in groups.items():
        zs = np.asarray(zs)
        k = zs.size
        lo, hi = chi2.ppf(0.005, k), chi2.ppf(0.995, k)
        print(f"{name}: {k} seeds, Σz² = {np.sum(zs**2):.2f} (χ²_{k} 99 % band [{lo:.2f}, {hi:.2f}]), "
              f"mean z {zs.mean():+.2f}, sd z {zs.std(ddof=1):.2f}, max |z| {np.abs(zs).max():.2f}")


if __name__ == "__main__":
    main()
