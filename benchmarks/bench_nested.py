"""Nested volume estimator vs dynesty: D evaluations and wall time to log V ≈ −200 within ±0.3 nats.

Problem: linear-Gaussian, D(θ) = (θ−θ0)ᵀA(θ−θ0) with A = XᵀX/(2m) (m = 4d rows), prior N(0, I); the exact
log V(t) is a generalized χ² distribution function (bayesvol.volume.gchisq). Both
samplers get the same "likelihood"
−D and the same prior (dynesty through prior_transform = Gaussian ppf); dynesty's estimate of log V(t) is
its log X at the first dead point with D ≤ t.

Accuracy: both estimators' variances scale like depth/(number of live points), at a cost proportional to
both, so the evaluations needed for ±0.3 nats at log V = −200 are (evaluations of a run) × (its error /
0.3)². Ours uses the root-mean-square error against the exact answer of single runs (each of the R runs of
a call is an independent estimator), over seeds × R runs, for two move settings: elliptical slice steps
only, and one slice step after two independence proposals from the level's Laplace ellipsoid. dynesty
runs (default settings, several seeds) to −200 or a call budget; its cost is its calls per iteration ×
nlive·200 iterations, with nlive set by either nested sampling's ideal error √(depth/nlive) — a lower
bound on its cost — or its root-mean-square error measured at the depth it reached (scaled ∝ depth).

Usage: .venv/bin/python benchmarks/bench_nested.py [--quick]
"""

from __future__ import annotations

import sys
import time
import warnings

import jax
import jax.numpy as jnp
import numpy as np
from scipy.stats import norm

import bayesvol  # noqa: F401  (float64)
from bayesvol.volume.gchisq import gchisq_log_cdf
from bayesvol.volume.nested import nested_volume

TARGET, ACCURACY = -200.0, 0.3


def problem(d: int, seed: int = 0):
    key_x, key_t = jax.random.split(jax.random.PRNGKey(seed))
    m = 4 * d
    x = np.asarray(jax.random.normal(key_x, (m, d)))
    a_mat = x.T @ x / (2 * m)
    theta0 = np.asarray(jax.random.normal(key_t, (d,)))
    a, u = np.linalg.eigh(a_mat)
    centers = u.T @ theta0
    grid = np.logspace(-30, 1, 600)
    exact = gchisq_log_cdf(grid, a, centers)
    t_target = float(np.interp(TARGET, exact, grid))
    return a_mat, theta0, a, centers, t_target


def run_ours(d: int, a_mat, theta0, a, centers, t_target, num_live: int, num_runs: int, num_steps: int,
             num_proposals: int, seeds: int):
    a_j, th0 = jnp.asarray(a_mat), jnp.asarray(theta0)

    def divergence(z):
        return (z - th0) @ a_j @ (z - th0)

    def log_prior(z):
        return -0.5 * z @ z - 0.5 * d * np.log(2 * np.pi)

    def sample_prior(key):
        return jax.random.normal(key, (d,))

    eps2 = t_target * np.logspace(0, 1, 3)
    exact = gchisq_log_cdf(eps2, a, centers)[0]
    kwargs = dict(center=th0, num_live=num_live, num_runs=num_runs, num_steps=num_steps,
                  num_proposals=num_proposals)
    start = time.perf_counter()
    nested_volume(divergence, log_prior, sample_prior, eps2, key=jax.random.PRNGKey(1), **kwargs)
    with_compile = time.perf_counter() - start
    evals, walls, run_errors, pooled_z, autocorr, acceptance = [], [], [], [], [], []
    for seed in range(seeds):
        start = time.perf_counter()
        curve = nested_volume(divergence, log_prior, sample_prior, eps2, key=jax.random.PRNGKey(2 + seed),
                              **kwargs)
        walls.append(time.perf_counter() - start)
        diag = curve.diagnostics
        evals.append(diag.num_evaluations)
        run_errors.extend(diag.log_volume_runs[:, 0] - exact)  # R independent estimators per seed
        pooled_z.append((curve.log_volume[0] - exact) / curve.stderr[0])
        autocorr.append(float(np.mean(diag.divergence_autocorr)))
        acceptance.append(float(np.mean(diag.proposal_acceptance)))
    run_errors = np.asarray(run_errors)
    # One run is one estimator: its mean squared error against the exact answer, over seeds × R runs,
    # scaled to ±ACCURACY (variance ∝ 1/(live points) at a cost ∝ live points)
    mse = float(np.mean(run_errors**2))
    evals_per_run = float(np.mean(evals)) / num_runs
    scale = mse / ACCURACY**2
    return {"evals": float(np.mean(evals)), "wall": float(np.mean(walls)), "compile_wall": with_compile,
            "runs": run_errors.size, "run_rmse": np.sqrt(mse), "run_bias": float(run_errors.mean()),
            "run_bias_se": float(run_errors.std(ddof=1) / np.sqrt(run_errors.size)),
            "pooled_z": np.asarray(pooled_z), "needed_evals": evals_per_run * scale,
            "needed_wall": float(np.mean(walls)) / num_runs * scale,
            "autocorr": float(np.mean(autocorr)), "acceptance": float(np.mean(acceptance))}


def run_dynesty(d: int, a_mat, theta0, a, centers, t_target, nlive: int, max_calls: float, seeds: int):
    """Seeded dynesty runs to log V = −200 or ``max_calls``; its error at the depth reached, per seed."""
    import dynesty

    def loglike(x):
        r = x - theta0
        return -(r @ a_mat @ r)

    rows = []
    for seed in range(seeds):
        sampler = dynesty.NestedSampler(loglike, norm.ppf, d, nlive=nlive, rstate=np.random.default_rng(seed))
        start = time.perf_counter()
        log_x, reached_d, iterations = 0.0, np.inf, 0
        warnings.filterwarnings("ignore", module="dynesty")  # "stopped short": the call budget, on purpose
        for result in sampler.sample(dlogz=0.0, maxiter=int(nlive * (-TARGET) * 1.2), maxcall=int(max_calls)):
            iterations += 1
            reached_d, log_x = -result[3], result[4]  # loglstar, logvol
            if reached_d <= t_target:
                break
        exact = float(gchisq_log_cdf(np.array([reached_d]), a, centers)[0])
        rows.append({"wall": time.perf_counter() - start, "calls": int(sampler.ncall),
                     "iterations": iterations, "log_x": log_x, "exact": exact, "error": log_x - exact})
    calls, iterations = sum(r["calls"] for r in rows), sum(r["iterations"] for r in rows)
    per_iteration = calls / max(iterations, 1)
    depth = -np.mean([r["exact"] for r in rows])
    errors = np.array([r["error"] for r in rows])
    # to ±0.3 at −200: nested sampling's variance grows like depth/nlive, at a cost of nlive·depth iterations
    nlive_ideal = -TARGET / ACCURACY**2  # its ideal error √(depth/nlive)
    nlive_measured = nlive * np.mean(errors**2) * (-TARGET / depth) / ACCURACY**2  # its measured error
    per_call = sum(r["wall"] for r in rows) / max(calls, 1)
    return {"nlive": nlive, "rows": rows, "calls_per_iteration": per_iteration, "depth": depth,
            "rmse": float(np.sqrt(np.mean(errors**2))), "ideal_stderr": float(np.sqrt(depth / nlive)),
            "needed_ideal": per_iteration * nlive_ideal * (-TARGET),
            "needed_measured": per_iteration * nlive_measured * (-TARGET), "per_call": per_call}


def main(quick: bool = False) -> None:
    print(f"nested volume vs dynesty, linear-Gaussian, log V → {TARGET:.0f} within ±{ACCURACY} nats "
          f"({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())})")
    # d: (N, R, seeds, dynesty nlive, dynesty call budget per seed, dynesty seeds)
    settings = {10: (64, 8, 4, 100, 2e6, 3), 50: (64, 8, 4, 250, 1e6, 3), 200: (64, 8, 2, 400, 1e6, 2)}
    # ours: (elliptical slice steps, independence proposals) per point per level
    moves = [(3, 0), (1, 2)]
    if quick:
        settings, moves = {10: (32, 4, 1, 50, 2e5, 1)}, [(1, 2)]
    for d, (num_live, num_runs, seeds, nlive, max_calls, dyn_seeds) in settings.items():
        prob = problem(d)
        print(f"\nd = {d}: t at log V = {TARGET:.0f} is {prob[-1]:.3g}")
        dyn = run_dynesty(d, *prob, nlive=nlive, max_calls=max_calls, seeds=dyn_seeds)
        for row in dyn["rows"]:
            print(f"  dynesty nlive={nlive}: log X {row['log_x']:.1f} (exact {row['exact']:.1f}, error "
                  f"{row['error']:+.2f}) after {row['iterations']} iterations, {row['calls']:.3g} calls, "
                  f"{row['wall']:.0f} s")
        print(f"    {dyn['calls_per_iteration']:.1f} calls/iteration; at depth {dyn['depth']:.0f} its rmse "
              f"is {dyn['rmse']:.2f} against nested sampling's ideal {dyn['ideal_stderr']:.2f}")
        print(f"    for ±{ACCURACY} at {TARGET:.0f}: {dyn['needed_ideal']:.3g} evaluations with its ideal "
              f"error (a lower bound), {dyn['needed_measured']:.3g} with its measured error")
        for num_steps, num_proposals in moves:
            ours = run_ours(d, *prob, num_live=num_live, num_runs=num_runs, num_steps=num_steps,
                            num_proposals=num_proposals, seeds=seeds)
            print(f"  ours N={num_live} R={num_runs}, {num_steps} slice steps + {num_proposals} independence "
                  f"proposals, {seeds} seeds: {ours['evals']:.3g} evaluations and {ours['wall']:.1f} s per "
                  f"call; acceptance of proposals {ours['acceptance']:.2f}, D autocorr per level "
                  f"{ours['autocorr']:.2f}")
            print(f"    one run's error over {ours['runs']} runs: rmse {ours['run_rmse']:.2f}, bias "
                  f"{ours['run_bias']:+.2f} ± {ours['run_bias_se']:.2f}; pooled z-scores "
                  f"{np.array2string(ours['pooled_z'], precision=1)}")
            print(f"    for ±{ACCURACY}: {ours['needed_evals']:.3g} evaluations, {ours['needed_wall']:.1f} s;"
                  " "
                  f"ratio to dynesty {ours['needed_evals'] / dyn['needed_ideal']:.3f} (its ideal error), "
                  f"{ours['needed_evals'] / dyn['needed_measured']:.3f} (its measured error); wall "
                  f"{ours['needed_wall'] / (dyn['per_call'] * dyn['needed_ideal']):.2g}")


if __name__ == "__main__":
    main(quick="--quick" in sys.argv)
