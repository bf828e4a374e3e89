"""Nested volume estimator vs dynesty: D evaluations and wall time to log V ≈ −200 within ±0.3 nats.

Problem: linear-Gaussian, D(θ) = (θ−θ0)ᵀA(θ−θ0) with A = XᵀX/(2m) (m = 4d rows), prior N(0, I); the exact
log V(t) is a generalized χ² distribution function (bayesvol.gchisq). Both samplers get the same "likelihood"
−D and the same prior (dynesty through prior_transform = Gaussian ppf); dynesty's estimate of log V(t) is
its log X at the first dead point with D ≤ t.

Accuracy: both estimators' variances scale like 1/(number of live points) at fixed depth, at a cost
proportional to it, so the evaluations needed for ±0.3 nats at log V = −200 are (evaluations of a run) ×
(its error / 0.3)². Ours uses the root-mean-square error against the exact answer of single runs (each of
the R runs of a call is an independent estimator), measured over seeds × R runs; dynesty's is nested
sampling's ideal √(200/nlive) (a lower bound: its moves are not perfect either), with its evaluations
per iteration measured on a time-limited run and scaled to nlive·200 iterations when the run cannot
reach −200 within the time limit.

Usage: .venv/bin/python benchmarks/bench_nested.py [--quick]
"""

from __future__ import annotations

import sys
import time

import jax
import jax.numpy as jnp
import numpy as np
from scipy.stats import norm

import bayesvol  # noqa: F401  (float64)
from bayesvol.gchisq import gchisq_log_cdf
from bayesvol.nested import nested_volume

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
             seeds: int):
    a_j, th0 = jnp.asarray(a_mat), jnp.asarray(theta0)

    def divergence(z):
        return (z - th0) @ a_j @ (z - th0)

    def log_prior(z):
        return -0.5 * z @ z - 0.5 * d * np.log(2 * np.pi)

    def sample_prior(key):
        return jax.random.normal(key, (d,))

    eps2 = t_target * np.logspace(0, 1, 3)
    exact = gchisq_log_cdf(eps2, a, centers)[0]
    kwargs = dict(center=th0, num_live=num_live, num_runs=num_runs, num_steps=num_steps)
    start = time.perf_counter()
    nested_volume(divergence, log_prior, sample_prior, eps2, key=jax.random.PRNGKey(1), **kwargs)
    with_compile = time.perf_counter() - start
    evals, walls, run_errors, pooled_z, autocorr, per_step = [], [], [], [], [], []
    for seed in range(seeds):
        start = time.perf_counter()
        curve = nested_volume(divergence, log_prior, sample_prior, eps2, key=jax.random.PRNGKey(2 + seed),
                              **kwargs)
        walls.append(time.perf_counter() - start)
        diag = curve.diagnostics
        evals.append(diag["num_evaluations"])
        run_errors.extend(diag["log_volume_runs"][:, 0] - exact)  # R independent estimators per seed
        pooled_z.append((curve.log_volume[0] - exact) / curve.stderr[0])
        autocorr.append(float(np.mean(diag["divergence_autocorr"])))
        per_step.append(float(np.mean(diag["evaluations_per_step"])))
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
            "autocorr": float(np.mean(autocorr)), "evals_per_step": float(np.mean(per_step))}


def run_dynesty(d: int, a_mat, theta0, a, centers, t_target, nlive: int, time_limit: float):
    import dynesty

    def loglike(x):
        r = x - theta0
        return -(r @ a_mat @ r)

    sampler = dynesty.NestedSampler(loglike, norm.ppf, d, nlive=nlive, rstate=np.random.default_rng(0))
    start = time.perf_counter()
    log_x, reached_d, iterations = 0.0, np.inf, 0
    for result in sampler.sample(dlogz=0.0, maxiter=int(nlive * (-TARGET) * 1.2)):
        iterations += 1
        reached_d, log_x = -result[3], result[4]  # loglstar, logvol
        if reached_d <= t_target or time.perf_counter() - start > time_limit:
            break
    wall = time.perf_counter() - start
    calls = int(sampler.ncall)
    exact = float(gchisq_log_cdf(np.array([reached_d]), a, centers)[0])
    per_iteration = calls / max(iterations, 1)
    # ideal nested-sampling error at depth −log X with nlive points; to reach ±0.3 at −200:
    nlive_needed = -TARGET / ACCURACY**2
    needed = per_iteration * nlive_needed * (-TARGET)
    return {"nlive": nlive, "iterations": iterations, "calls": calls, "wall": wall,
            "reached_log_x": log_x, "exact_at_reached": exact, "error": log_x - exact,
            "ideal_stderr": np.sqrt(-exact / nlive) if exact < 0 else 0.0,
            "reached_target": reached_d <= t_target, "calls_per_iteration": per_iteration,
            "needed_evals": needed, "needed_wall": wall / max(calls, 1) * needed}


def main(quick: bool = False) -> None:
    print(f"nested volume vs dynesty, linear-Gaussian, log V → {TARGET:.0f} within ±{ACCURACY} nats "
          f"({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())})")
    # (N, R, slice steps, seeds, dynesty nlive, its time limit in s); 3 steps minimize evaluations × variance
    settings = {10: (64, 8, 3, 4, 100, 120.0), 50: (64, 8, 3, 4, 100, 120.0), 200: (64, 8, 3, 2, 400, 120.0)}
    if quick:
        settings = {10: (32, 4, 5, 1, 50, 10.0)}
    for d, (num_live, num_runs, num_steps, seeds, nlive, limit) in settings.items():
        prob = problem(d)
        ours = run_ours(d, *prob, num_live=num_live, num_runs=num_runs, num_steps=num_steps, seeds=seeds)
        print(f"\nd = {d}: t at log V = {TARGET:.0f} is {prob[-1]:.3g}")
        print(f"  ours   : N={num_live} R={num_runs} steps={num_steps}, {seeds} seeds: {ours['evals']:.3g} "
              f"evaluations and {ours['wall']:.1f} s per call ({ours['compile_wall']:.1f} s with "
              f"compilation); D autocorr per level {ours['autocorr']:.2f}, "
              f"{ours['evals_per_step']:.1f} evaluations per slice step")
        print(f"           one run's error over {ours['runs']} runs: rmse {ours['run_rmse']:.2f}, bias "
              f"{ours['run_bias']:+.2f} ± {ours['run_bias_se']:.2f}; pooled estimate z-scores "
              f"{np.array2string(ours['pooled_z'], precision=1)}")
        print(f"           for ±{ACCURACY}: {ours['needed_evals']:.3g} evaluations, "
              f"{ours['needed_wall']:.1f} s")
        dyn = run_dynesty(d, *prob, nlive=nlive, time_limit=limit)
        status = "reached" if dyn["reached_target"] else f"stopped by the {limit:.0f} s limit at"
        print(f"  dynesty: nlive={nlive}: {status} log X = {dyn['reached_log_x']:.1f} (exact "
              f"{dyn['exact_at_reached']:.1f}, error {dyn['error']:+.2f}, "
              f"ideal stderr {dyn['ideal_stderr']:.2f}) "
              f"after {dyn['iterations']} iterations, {dyn['calls']:.3g} calls, {dyn['wall']:.1f} s "
              f"({dyn['calls_per_iteration']:.1f} calls/iteration)")
        print(f"           for ±{ACCURACY} at {TARGET:.0f}: ≥ {dyn['needed_evals']:.3g} evaluations "
              f"(≥ {dyn['needed_wall'] / 3600:.1f} h at its measured rate)")
        print(f"  ratio of evaluations (ours / dynesty): {ours['needed_evals'] / dyn['needed_evals']:.3f}; "
              f"wall time: {ours['needed_wall'] / dyn['needed_wall']:.2g}")


if __name__ == "__main__":
    main(quick="--quick" in sys.argv)
