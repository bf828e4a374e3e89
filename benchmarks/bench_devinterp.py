"""Learning coefficients side by side: bayesvol's volume-curve fit and devinterp's SGLD LLC estimator.

Cases: reduced-rank regression at the five sizes of devinterp's own test (tests/slt/rrr_test.py of devinterp
1.3.2), (M, H, N) = (5,3,5), (5,4,5), (4,3,8), (8,3,4), (3,8,4), true product of rank 0 (noise σ = 1),
λ by Aoyagi–Watanabe (2005). For each case:

* bayesvol: ``sampled_volume`` on eps2 = 1e-6 … 1e-2 and ``learning_coefficient`` (its default window rule
  and m read off the curve); evaluations = evaluations of D (each over the 50 covariate rows);
* devinterp at its documented settings, exactly as its rrr_test: 1000 rows x, y ~ N(0, I), Adam 5000 steps
  from its default init, then ``estimate_learning_coeff_with_summary`` with SGLD lr = 6e-4, localization 1,
  nβ = default_nbeta (batch 1000: 1000/log 1000), 3 chains × 2000 draws, MSE loss; evaluations = gradient
  steps (each a full batch of 1000 rows, forward + backward);
* devinterp at the same number of evaluations as bayesvol (draws = bayesvol's D evaluations / 3 chains),
  capped at ``--max-draws`` per chain to keep the run short (the cap is printed when it binds).

Printed: λ, the estimates, |λ̂ − λ|/λ and the evaluations of each, and wall-clock seconds; the ratio column
is devinterp's relative error over bayesvol's, measured in the same run. Needs the ``bench`` extra
(devinterp 1.3.2, CPU PyTorch): ``pip install -e ".[bench]"``.

Usage: ``python benchmarks/bench_devinterp.py [--quick] [--sizes 1,2] [--max-draws 20000] [--live 64 --runs 8]
[--save DIR] [--devinterp-only]``. ``--sizes``: indices into SIZES; ``--max-draws 0``: no matched devinterp
run; ``--save DIR``: pickle each bayesvol (row, curve) so that the fit can be re-run on it
(benchmarks/bench_lambda_refit.py); ``--devinterp-only``: no bayesvol run, devinterp documented and with
``--max-draws`` draws per chain for the first size (a larger budget than its documented 2,000);
``--bayesvol-only``: no devinterp run.
"""

from __future__ import annotations

import argparse
import pickle
import time
import warnings
from pathlib import Path

import jax
import numpy as np

import bayesvol_zoo as models
from bayesvol.app.experiments import lambda_case
from bayesvol_zoo.learning_coefficients import reduced_rank_learning_coefficient

SIZES = [(5, 3, 5), (5, 4, 5), (4, 3, 8), (8, 3, 4), (3, 8, 4)]  # (M, H, N) as devinterp writes them


def devinterp_llc(m: int, h: int, n: int, num_draws: int = 2000, num_chains: int = 3
                  ) -> tuple[float, float, int]:
    """devinterp's rrr_test, verbatim in its settings: (LLC mean, its std over chains, gradient steps)."""
    import torch
    import torch.nn.functional as F
    from devinterp.optim import SGLD
    from devinterp.slt.sampler import estimate_learning_coeff_with_summary
    from devinterp.test_utils import ReducedRankRegressor
    from devinterp.utils import default_nbeta, evaluate_mse, get_init_loss_multi_batch
    from torch.utils.data import DataLoader, TensorDataset

    # one thread: these matrices are tiny, and OpenMP's spinning barriers on a shared, loaded machine cost
    # more than the products (measured: > 20 min stuck in gomp_team_barrier_wait_end for one size)
    torch.set_num_threads(1)
    torch.manual_seed(1)
    np.random.seed(1)  # noqa: NPY002 - devinterp's test seeds the legacy global generator
    x, y = torch.randn(1000, m), torch.randn(1000, n)
    loader = DataLoader(TensorDataset(x, y), batch_size=1000, shuffle=True)
    model = ReducedRankRegressor(m, h, n)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    for _ in range(5000):
        optimizer.zero_grad()
        F.mse_loss(model(x), y).backward()
        optimizer.step()
    init_loss = get_init_loss_multi_batch(loader, num_chains, model, evaluate_mse, device="cpu")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # its own nbeta notice
        stats = estimate_learning_coeff_with_summary(
            model, loader, evaluate=evaluate_mse, sampling_method=SGLD,
            optimizer_kwargs={"lr": 0.0006, "localization": 1.0, "nbeta": default_nbeta(loader)},
            num_chains=num_chains, num_draws=num_draws, init_loss=init_loss, verbose=False, seed=42)
    return float(stats["llc/mean"]), float(stats["llc/std"]), num_chains * num_draws + 5000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="one size, small runs")
    parser.add_argument("--max-draws", type=int, default=20_000,
                        help="cap on devinterp's matched draws per chain")
    parser.add_argument("--live", type=int, default=32, help="bayesvol's live points per run")
    parser.add_argument("--runs", type=int, default=4, help="bayesvol's independent runs")
    parser.add_argument("--sizes", default=None, help="comma-separated indices into SIZES (default: all)")
    parser.add_argument("--save", default=None, help="folder for each size's pickled bayesvol (row, curve)")
    parser.add_argument("--devinterp-only", action="store_true",
                        help="skip bayesvol; devinterp documented, and for the first size also at "
                             "--max-draws "
                             "draws per chain (when > 2000)")
    parser.add_argument("--bayesvol-only", action="store_true", help="skip devinterp")
    args = parser.parse_args()
    sizes = SIZES[:1] if args.quick else SIZES
    if args.sizes:
        sizes = [SIZES[int(i)] for i in args.sizes.split(",")]
    eps2 = np.geomspace(1e-6, 1e-2, 9)
    print(f"{'(M,H,N)':>9} {'λ':>5} | {'bayesvol λ̂':>15} {'m̂':>3} {'rel':>6} {'evals':>9} {'s':>5} | "
          f"{'devinterp doc.':>15} {'rel':>6} {'evals':>7} {'s':>5} | {'devinterp matched':>17} {'rel':>6} "
          f"{'evals':>9} {'s':>5} | ratio")
    rows = []
    for m, h, n in sizes:
        i = SIZES.index((m, h, n))  # the key of a size does not depend on which sizes run
        lam, _ = reduced_rank_learning_coefficient(m, n, h, 0)
        if args.devinterp_only:
            larger = (args.max_draws,) if args.max_draws > 2000 and (m, h, n) == sizes[0] else ()
            for draws in (2000, *larger):
                start = time.perf_counter()
                est, sd, evals = devinterp_llc(m, h, n, num_draws=draws)
                print(f"  devinterp {(m, h, n)} λ = {lam}: {draws} draws/chain: {est:.3f} ± {sd:.3f} "
                      f"(|λ̂ − λ|/λ = {abs(est - lam) / lam:.1%}), {evals} gradient steps, "
                      f"{time.perf_counter() - start:.0f} s", flush=True)
            continue
        zoo = models.reduced_rank_regression(m_in=m, n_out=n, hidden=h, rank=0)
        row, curve, _ = lambda_case(zoo, eps2, jax.random.PRNGKey(i), num_live=args.live, num_runs=args.runs,
                                    rows=50)
        if args.save:
            Path(args.save).mkdir(parents=True, exist_ok=True)
            with open(Path(args.save) / f"rrr_{m}{h}{n}.pkl", "wb") as f:
                pickle.dump({"row": row, "curve": curve}, f)
        print(f"  bayesvol {(m, h, n)}: λ̂ = {row['lambda_hat']:.3f} ± {row['stderr']:.3f}, "
              f"m̂ = {row['m_hat']}, window {row['window']}, χ² {row['chi2']:.1f}/{row['dof']}, "
              f"{row['evaluations']} evaluations, "
              f"{row['seconds']:.0f} s", flush=True)
        if args.bayesvol_only:
            continue
        start = time.perf_counter()
        doc, doc_sd, doc_evals = devinterp_llc(m, h, n)
        doc_s = time.perf_counter() - start
        draws = min(args.max_draws, max(1, row["evaluations"] // 3))
        start = time.perf_counter()
        matched, _, matched_evals = (devinterp_llc(m, h, n, num_draws=draws) if draws > 0
                                     else (float("nan"), float("nan"), 0))
        matched_s = time.perf_counter() - start
        rel_bv, rel_doc, rel_matched = (abs(v - lam) / lam for v in (row["lambda_hat"], doc, matched))
        rows.append((m, h, n, lam, row, doc, matched))
        m_hat = "?" if row["m_hat"] is None else row["m_hat"]
        cap = "*" if draws == args.max_draws else ""
        print(f"{(m, h, n)!s:>9} {lam:>5.2f} | {row['lambda_hat']:>7.2f} ± {row['stderr']:<5.2f} "
              f"{m_hat!s:>3} {rel_bv:>6.1%} {row['evaluations']:>9} {row['seconds']:>5.0f} | "
              f"{doc:>7.2f} ± {doc_sd:<5.2f} {rel_doc:>6.1%} {doc_evals:>7} {doc_s:>5.0f} | "
              f"{matched:>16.2f}{cap} {rel_matched:>6.1%} "
              f"{matched_evals:>9} {matched_s:>5.0f} | {rel_doc / max(rel_bv, 1e-9):>5.1f}", flush=True)
    print("rel = |λ̂ − λ|/λ; evals: bayesvol's D evaluations, devinterp's gradient steps (+5000 Adam steps of "
          "its fit); * = matched draws capped at --max-draws per chain; ratio = devinterp documented / "
          "bayesvol")


if __name__ == "__main__":
    main()
