"""The ``bayesvol`` command line.

``bayesvol run`` runs the embedded default experiment. Errors are one clear line and a non-zero exit
code; ``--debug`` shows the traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import Any

__all__ = ["main"]


def _default_experiment(seed: int) -> dict[str, Any]:
    """KL divergences of a few zoo parameter settings next to their hand-derived closed forms."""
    import jax
    import jax.numpy as jnp
    import numpy as np

    import bayesvol as bv
    import models

    rows = []
    lin = models.linear_regression(d=3, sigma=1.0)
    x = lin.sample_covariates(jax.random.PRNGKey(seed), 200)["x"]
    theta0 = lin.true_params["theta"]
    for delta in (0.0, 0.1, 0.5, 1.0):
        theta = theta0 + delta
        diff = theta - theta0
        exact = float(diff @ x.T @ x @ diff / (2 * x.shape[0] * 1.0**2))
        value = float(bv.kl(lin.model_class, lin.true_params, {"theta": theta}, x=x))
        rows.append({"model": "linear_regression", "theta": f"θ0 + {delta}", "kl": value, "exact": exact})
    bern = models.bernoulli()
    p0 = float(bern.true_params["p"])
    for p in (0.3, 0.5, 0.9):
        exact = p0 * np.log(p0 / p) + (1 - p0) * np.log((1 - p0) / (1 - p))
        value = float(bv.kl(bern.model_class, bern.true_params, {"p": jnp.asarray(p)}))
        rows.append({"model": "bernoulli", "theta": f"p = {p}", "kl": value, "exact": float(exact)})
    return {"experiment": "kl_check", "rows": rows}


def _print_table(result: dict[str, Any]) -> None:
    print("Per-sample KL divergence D(P_θ0 ‖ P_θ) in nats: bayesvol vs closed form")
    print(f"{'model':<20} {'θ':<12} {'bayesvol':>14} {'closed form':>14} {'|diff|':>10}")
    for row in result["rows"]:
        diff = abs(row["kl"] - row["exact"])
        print(f"{row['model']:<20} {row['theta']:<12} {row['kl']:>14.8f} {row['exact']:>14.8f} {diff:>10.1e}")


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="bayesvol",
        description="Prior volume near the truth and the regret of Bayes mixture predictors.",
    )
    parser.add_argument("--debug", action="store_true", help="show the full traceback on errors")
    sub = parser.add_subparsers(dest="command")
    run = sub.add_parser("run", help="run the embedded default experiment")
    run.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    run.add_argument("--json", action="store_true", help="print machine-readable results to stdout")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``bayesvol`` console script."""
    parser = _build_parser()
    args = parser.parse_args(argv)
    command = args.command or "run"
    try:
        if command == "run":
            result = _default_experiment(getattr(args, "seed", 0))
            if getattr(args, "json", False):
                json.dump(result, sys.stdout, indent=2)
                print()
            else:
                _print_table(result)
        return 0
    except Exception as err:
        if args.debug:
            raise
        print(f"bayesvol: error: {type(err).__name__}: {err}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
