"""Nested volume estimator vs dynesty: D evaluations and wall time to log V ≈ −200 within ±0.3 nats.

Problem: linear-Gaussian, D(θ) = (θ−θ0)ᵀA(θ−θ0) with A = XᵀX/(2m) (m = 4d rows), prior N(0, I); the exact
log V(t) is a generalized χ² distribution function (bayesvol.gchisq). Both samplers get the same "likelihood"
−D and the same prior (dynesty through prior_transform = Gaussian ppf); dynesty's estimate of log V(t) is
its log X at the first dead point with D ≤ t.

Accuracy: both estimators' variances scale like 1/(number of live points) at fixed depth, at a cost
proportional to it, so the evaluations needed for a standard error of 0.3 nats at log V = −200 are
(evaluations of a run) × (its standard error / 0.3)². Ours uses its reported (calibrated) standard error,
checked against the exact answer; dynesty's is nested sampling's ideal √(200/nlive) (a lower bound: its
moves are not perfect either), with its evaluations per iteration measured on a time-limited run and
scaled to nlive·200 iterations when the run cannot reach −200 within the time limit.

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


def run_ours(d: int, a_mat, theta0, a, centers, t_target, num_live: int, num_runs: int, num_steps: int):
    a_j, th0 = jnp.asarray(a_mat), jnp.asarray(theta0)

    def divergence(z):
        return (z - th0) @ a_j @ (z - th0)

    def log_prior(z):
        return -0.5 * z @ z - 0.5 * d * np.log(2 * np.pi)

    def sample_prior(key):
        return jax.random.normal(key, (d,))

    eps2 = t_target * np.logspace(0, 1, 3)
    kwargs = dict(center=th0, num_live=num_live, num_runs=num_runs, num_steps=num_steps)
    start = time.perf_counter()
    nested_volume(divergence, log_prior, sample_prior, eps2, key=jax.random.PRNGKey(1), **kwargs)
    with_compile = time.perf_counter() - start
    start = time.perf_counter()
    curve = nested_volume(divergence, log_prior, sample_prior, eps2, key=jax.random.PRNGKey(2), **kwargs)
    wall = time.perf_counter() - start
    exact = gchisq_log_cdf(eps2, a, centers)
    se, err = float(curve.stderr[0]), float(curve.log_volume[0] - exact[0])
    evals = curve.diagnostics["num_evaluations"]
    scale = (se / ACCURACY) ** 2
    return {"evals": evals, "wall": wall, "compile_wall": with_compile, "stderr": se, "error": err,
            "z": err / se, "needed_evals": evals * scale, "needed_wall": wall * scale,
            "autocorr": float(np.mean(curve.diagnostics["divergence_autocorr"])),
            "evals_per_step": float(np.mean(curve.diagnostics["evaluations_per_step"]))}


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
    # (N, R, slice steps, dynesty nlive, dynesty time limit in s); 3 steps minimize evaluations × variance
    settings = {10: (64, 8, 3, 100, 30.0), 50: (64, 8, 3, 100, 40.0), 200: (64, 8, 3, 400, 40.0)}
    if quick:
        settings = {10: (32, 4, 5, 50, 10.0)}
    for d, (num_live, num_runs, num_steps, nlive, limit) in settings.items():
        prob = problem(d)
        ours = run_ours(d, *prob, num_live=num_live, num_runs=num_runs, num_steps=num_steps)
        print(f"\nd = {d}: t at log V = {TARGET:.0f} is {prob[-1]:.3g}")
        print(f"  ours   : N={num_live} R={num_runs} steps={num_steps}: {ours['evals']:.3g} evaluations, "
              f"{ours['wall']:.1f} s ({ours['compile_wall']:.1f} s with compilation); "
              f"stderr {ours['stderr']:.2f}, error {ours['error']:+.2f} ({ours['z']:+.1f} se); "
              f"D autocorr per level {ours['autocorr']:.2f}, "
              f"{ours['evals_per_step']:.1f} evaluations per slice step")
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
