"""Evidence: bayesvol's sampling path of log_marginal vs dynesty, linear-Gaussian d = 10 and 50, n = 500.

Both estimate log Q(y) = log ∫ N(θ; 0, τ²I) Π N(y_i; x_iᵀθ, σ²) dθ, known in closed form. For each we
report the error, the reported standard error, likelihood evaluations and wall time. bayesvol counts every
log-density and every gradient as one evaluation (the optimizer and Hessian of its Laplace start
included). dynesty (static nested sampling, random-slice moves) is run with a fixed number of live points;
its evaluations to reach ±0.1 nats are extrapolated as ncall · (logzerr / 0.1)², since logzerr ∝ 1/√nlive
and the calls ∝ nlive; a run stopped by ``maxcall`` before converging (d = 50 within this budget) gives
only a lower bound. Goal: ≤ 1/5 of dynesty's evaluations at equal accuracy.

The posterior here is exactly Gaussian, so bayesvol's Laplace start is exact and the tempered path takes
one step: the best case of that design (a non-Gaussian posterior costs more tempering steps).

Run: .venv/bin/python benchmarks/bench_evidence.py   (≈ 3–5 minutes on 2 cores)
"""

import time
import warnings

import jax
import numpy as np
from scipy.stats import norm

import bayesvol  # noqa: F401  (float64)
import bayesvol_zoo as models
from bayesvol.inference.evidence import tempered_log_marginal


def closed_form(y, x, sigma, tau):
    cov = sigma**2 * np.eye(len(y)) + tau**2 * x @ x.T
    _, logdet = np.linalg.slogdet(cov)
    return -0.5 * (len(y) * np.log(2 * np.pi) + logdet + y @ np.linalg.solve(cov, y))


def run_dynesty(y, x, sigma, tau, nlive, maxcall, seed=0):
    import dynesty

    d = x.shape[1]
    xtx, xty, yty = x.T @ x, x.T @ y, y @ y
    const = -0.5 * len(y) * np.log(2 * np.pi * sigma**2)

    def loglike(theta):  # Σ log N(y_i; x_iᵀθ, σ²) through sufficient statistics: O(d²) per call
        return const - 0.5 * (yty - 2 * theta @ xty + theta @ xtx @ theta) / sigma**2

    def prior_transform(u):
        return tau * norm.ppf(u)

    sampler = dynesty.NestedSampler(loglike, prior_transform, d, nlive=nlive, sample="rslice",
                                    rstate=np.random.default_rng(seed))
    start = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        sampler.run_nested(dlogz=0.01, maxcall=maxcall, print_progress=False)
    converged = not any("stopped short" in str(w.message) for w in caught)
    wall = time.perf_counter() - start
    res = sampler.results
    return float(res.logz[-1]), float(res.logzerr[-1]), int(np.sum(res.ncall)), wall, converged


def main():
    n, sigma, tau = 500, 1.0, 1.0
    print(f"{'d':>3} {'method':<24} {'error':>9} {'stderr':>9} {'evaluations':>12} {'to ±0.1':>12} "
          f"{'wall s':>7}")
    for d, nlive, maxcall in ((10, 200, 800_000), (50, 150, 300_000)):
        zoo = models.linear_regression(d=d, sigma=sigma, tau=tau)
        covariates, y = zoo.simulate(jax.random.PRNGKey(d), n)
        x, yv = np.asarray(covariates["x"]), np.asarray(y)
        exact = closed_form(yv, x, sigma, tau)
        tempered_log_marginal(zoo.model_class, y, key=jax.random.PRNGKey(0), num_repeats=2, **covariates)
        start = time.perf_counter()
        run = tempered_log_marginal(zoo.model_class, y, key=jax.random.PRNGKey(1), **covariates)
        wall = time.perf_counter() - start
        ours = run.num_evaluations
        print(f"{d:>3} {'bayesvol tempered SMC':<24} {run.value - exact:>9.2e} {run.stderr:>9.2e} "
              f"{ours:>12d} {ours:>12d} {wall:>7.1f}")
        logz, logzerr, ncall, dwall, converged = run_dynesty(yv, x, sigma, tau, nlive, maxcall)
        # a run stopped by maxcall has not reached the posterior: its calls are only a lower bound
        needed = int(ncall * max(1.0, (logzerr / 0.1) ** 2)) if converged else ncall
        bound = "" if converged else ">"
        print(f"{d:>3} {f'dynesty nlive={nlive}':<24} {logz - exact:>9.2e} {logzerr:>9.2e} {ncall:>12d} "
              f"{bound + str(needed):>12} {dwall:>7.1f}")
        print(f"    ratio of evaluations to ±0.1 nats (bayesvol / dynesty): {'<' if bound else ''}"
              f"{ours / needed:.4f} (goal ≤ 0.2)"
              + ("" if converged else f"; dynesty stopped at maxcall={maxcall} before converging"))


if __name__ == "__main__":
    main()
