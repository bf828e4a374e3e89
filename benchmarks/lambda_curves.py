"""Nested volume curves for the λ estimator's checks, saved to disk so that the fit can be re-run on them.

The curves do not depend on the estimator (``learning_coefficient`` only reads them), so this script samples
them once and pickles (row, curve) per case; ``benchmarks/bench_lambda_refit.py`` fits them again. Jobs:

* ``table``: the six cases of ``bayesvol lambda`` with its default keys (split of PRNGKey(0)), N = 64, R = 8,
  radii extended to ``LAMBDA_DEPTH`` nats;
* ``depth-crossings``: the two normal crossings as in ``table`` (depth included) at keys PRNGKey(1000 s + i),
  s = 1 … 7, i the case's index;
* ``calib-linreg`` / ``calib-mixture``: the calibration set of RESULTS.md (N = 32 × R = 4, eps2 = 1e-8 … 1e-2,
  13 radii, seeds 100 … 109, 50 covariate rows);
* ``crossing24`` / ``crossing44``: the normal crossings θ1²θ2⁴ (m = 1) and θ1⁴θ2⁴ (m = 2) at the table's
  defaults, seeds PRNGKey(1 … 5);

(devinterp's reduced-rank sizes: ``bench_devinterp.py --save DIR``.)

Usage: ``python benchmarks/lambda_curves.py OUTDIR JOB [JOB ...]`` (each case saved as it finishes).
"""

from __future__ import annotations

import pickle
import sys
import time
from pathlib import Path

import jax
import numpy as np

import bayesvol_zoo as models
from bayesvol.app.experiments import LAMBDA_CASES, lambda_case, lambda_eps2
from bayesvol.model.problem import registry


def _save(out: Path, name: str, row: dict, curve) -> None:
    with open(out / f"{name}.pkl", "wb") as f:
        pickle.dump({"row": row, "curve": curve}, f)
    print(f"{time.strftime('%H:%M:%S')} {name}: λ̂ = {row['lambda_hat']:.3f} ± {row['stderr']:.3f} "
          f"(λ = {row['lambda']}), {row['evaluations']} evaluations, {row['seconds']:.0f} s", flush=True)


def main() -> None:
    out = Path(sys.argv[1])
    out.mkdir(parents=True, exist_ok=True)
    reg = registry()
    for job in sys.argv[2:]:
        if job == "table":
            keys = jax.random.split(jax.random.PRNGKey(0), len(LAMBDA_CASES))
            for i, ((label, name, opts), key) in enumerate(zip(LAMBDA_CASES, keys)):
                row, curve, _ = lambda_case(reg[name](**opts), lambda_eps2(), key, label=label)
                _save(out, f"table_{i}", row, curve)
        elif job.startswith("calib-"):
            zoo = models.linear_regression(d=2) if job == "calib-linreg" else models.gaussian_mixture()
            for seed in range(100, 110):
                row, curve, _ = lambda_case(zoo, np.geomspace(1e-8, 1e-2, 13), jax.random.PRNGKey(seed),
                                            num_live=32, num_runs=4, rows=50, depth=None)
                _save(out, f"{job}_{seed}", row, curve)
        elif job == "depth-crossings":
            for seed in range(1, 8):
                for i, (label, name, opts) in enumerate(LAMBDA_CASES):
                    if name == "normal_crossing":
                        row, curve, _ = lambda_case(reg[name](**opts), lambda_eps2(),
                                                    jax.random.PRNGKey(1000 * seed + i), label=label)
                        _save(out, f"depth_{i}_{seed}", row, curve)
        elif job.startswith("crossing"):  # crossing24 / crossing44: seeds 1 … 5 at the table's defaults
            powers = (1, 2) if job == "crossing24" else (2, 2)
            for seed in range(1, 6):
                row, curve, _ = lambda_case(models.normal_crossing(powers=powers), lambda_eps2(),
                                            jax.random.PRNGKey(seed))
                _save(out, f"{job}_{seed}", row, curve)
        else:
            raise SystemExit(f"unknown job {job!r}")


if __name__ == "__main__":
    main()
