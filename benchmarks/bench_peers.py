"""bayesvol's default routes vs nested-sampling peers (issue 15): D evaluations to reach a stated error.

Problems
--------
* linear-Gaussian KL ball: prior N(0, I), D(θ) = ½ (θ − θ0)ᵀ M (θ − θ0), M = XᵀX/m with m = 3d rows,
  θ0 ~ N(0, I); exact log V(t) (generalized χ²) and B_n (closed form). Targets: B_100 ± 0.1 and
  B_10000 ± 0.1 at d = 10, log V(1e-3) ± 0.3 at d = 10, 20, 50.
* two-weight logistic regression (the zoo's, 40 rows): exact log V(t) by polar quadrature and B_n by a
  trapezoid grid in the Laplace-whitened coordinates (as in tests/test_importance.py).
* a singular class: y ~ N(θ², 1), θ ~ N(0, 1), θ0 = 0, D = θ⁴/2 (λ = 1/4), V(t) = 2Φ((2t)^{1/4}) − 1 exactly;
  importance sampling collapses at t = 1e-10 and ``bv.volume(method="auto")`` answers by nested sampling.

bayesvol's default routes: ``bv.volume`` (method "auto": Laplace-guided importance sampling, 4096 draws) and
``bv.gibbs_bound`` (512 draws per n), through their flat-coordinate forms with the same functions across
seeds. Errors are measured against the exact answers over ``--seeds`` seeds (rms), next to the mean reported
standard error (calibration: rms / reported ≈ 1). "needed" = the evaluations of one default call when its
measured rms is already within the target (never scaled below it), else scaled by (rms/target)².

Peers (``--peers``; the ``bench`` extra: dynesty, nautilus-sampler) run on the small problems only (d = 2 and
the d = 10 B_n rows for nautilus), time-boxed; for the rest the figures measured in issue 15 are printed as
"issue" rows. blackjax.ns is reported as present or absent in the installed BlackJAX.

``--nested-depth`` (issue 15 item 3): where nested sampling must run, its evaluations of D per nat of depth
against dynesty's in the same run, on the linear-Gaussian ball at d = 10 and 20 (log V(1e-3) ± 0.3 over
``--seeds`` seeds): ``nested_volume`` (flat form, the same functions across seeds) at its defaults and at the
cheap levers of ``sampled_volume``'s options (num_steps, num_proposals, num_live), dynesty 3.1 (``--nlive``,
default 500) with its default sampler there (random walk, ndim + 20 steps per replacement). Per nat =
evaluations / |log V(1e-3)|; "needed" as above (never scaled below one call) and "equal-error" =
evaluations·(rms/0.3)² (scaled both ways: cost × variance, the figure of merit per nat at equal accuracy;
also from the reported standard errors, which 5 seeds estimate more stably than the rms: dynesty's is its
own √(H/nlive)).

Usage: .venv/bin/python benchmarks/bench_peers.py [--seeds 5] [--peers]
       .venv/bin/python benchmarks/bench_peers.py --nested-depth [--seeds 5] [--dims 10 20]
"""

from __future__ import annotations

import argparse
import importlib.util
import time
import warnings
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
import numpyro
import numpyro.distributions as dist
from scipy.stats import norm

import bayesvol as bv
import bayesvol_zoo as models
from bayesvol.volume.bounds import laplace_gibbs_bound
from bayesvol.volume.gibbs import gibbs_bound_fn
from bayesvol.volume.importance import flat_prior_sample, importance_volume_fn, laplace_geometry
from bayesvol.volume.laplace import PriorGaussian, prior_gaussian

# issue 15's measured evaluations: (best peer, its evaluations, bayesvol's nested sampling before this change)
ISSUE = {
    ("B_100", 10): ("nautilus 1.0.6", 6.9e3, 2.7e6), ("B_10000", 10): ("nautilus 1.0.6", 5.9e4, 5.6e6),
    ("logV(1e-3)", 10): ("dynesty 3.1 (nlive 500)", 1.3e5, 4.7e5),
    ("logV(1e-3)", 20): ("dynesty 3.1 (nlive 500)", 3.4e6, 1.6e6),
    ("logV(1e-3)", 50): ("blackjax.ns (nested slice, 500 live)", 1.2e9, 3.3e7),
}


def linear_problem(d: int, seed: int = 0):
    key_x, key_t = jax.random.split(jax.random.PRNGKey(seed))
    m = 3 * d
    x = np.asarray(jax.random.normal(key_x, (m, d)))
    mat = x.T @ x / m
    theta0 = np.asarray(jax.random.normal(key_t, (d,)))
    a, u = np.linalg.eigh(0.5 * mat)  # D = Σ a_i (u_i − c_i)² with the prior N(0, I): a = eig(½M)
    return mat, theta0, a, u.T @ theta0


def linear_functions(mat: np.ndarray, theta0: np.ndarray):
    mat_j, th0 = jnp.asarray(mat), jnp.asarray(theta0)
    d = theta0.size

    def divergence(z):
        r = z - th0
        return 0.5 * r @ mat_j @ r

    def log_prior(z):
        return -0.5 * z @ z - 0.5 * d * np.log(2 * np.pi)

    def sample_prior(key):
        return jax.random.normal(key, (d,))

    prior = PriorGaussian(jnp.zeros(d), jnp.ones(d), 0.0, True)
    return divergence, log_prior, sample_prior, prior, th0


def summarize(name: str, method: str, estimates, stderrs, evals, exact: float, target: float,
              fixed: float = 0.0) -> dict:
    err = np.asarray(estimates) - exact
    rms = float(np.sqrt(np.mean(err**2)))
    cost = float(np.mean(evals))
    needed = cost if rms <= target else fixed + (cost - fixed) * (rms / target) ** 2
    row = {"target": name, "method": method, "evals": cost, "rms": rms, "reported": float(np.mean(stderrs)),
           "needed": needed, "bias": float(np.mean(err))}
    print(f"{name:>22} {method:<34} evals/call {cost:9.3g}  rms {rms:9.2e}  "
          f"reported se {row['reported']:9.2e}  needed for ±{target:g}: {needed:9.3g}", flush=True)
    return row


def ours_linear(d: int, seeds: int) -> list[dict]:
    mat, theta0, a, c = linear_problem(d)
    divergence, log_prior, sample_prior, prior, th0 = linear_functions(mat, theta0)
    rows = []
    t = np.array([1e-3])
    exact_v = float(bv.gchisq_log_cdf(t, a, c)[0])
    est, se, ev = [], [], []
    for s in range(seeds):
        curve = importance_volume_fn(divergence, log_prior, sample_prior, prior, t,
                                     key=jax.random.PRNGKey(s), center=th0)
        est.append(curve.log_volume[0])
        se.append(curve.stderr[0])
        ev.append(curve.diagnostics.num_evaluations)
    rows.append(summarize(f"logV(1e-3) d={d}", "bayesvol importance (auto)", est, se, ev, exact_v, 0.3,
                          fixed=2 * d))
    if d == 10:
        for n in (100.0, 10000.0):
            exact_b = float(laplace_gibbs_bound(a, c, [n])[0])
            est, se, ev = [], [], []
            for s in range(seeds):
                b = gibbs_bound_fn(divergence, log_prior, sample_prior, prior, [n], key=jax.random.PRNGKey(s),
                                   center=th0)
                est.append(b.value[0])
                se.append(b.stderr[0])
                ev.append(b.num_evaluations)
            rows.append(summarize(f"B_{int(n)} d={d}", "bayesvol gibbs_bound", est, se, ev, exact_b, 0.1,
                                  fixed=2 * d))
    return rows


def logistic_setup():
    import sys
    sys.path.insert(0, "tests")
    from test_importance import logistic_exact_gibbs, logistic_exact_volume

    zoo = models.logistic_regression(d=2)
    mc = zoo.model_class
    x = zoo.sample_covariates(jax.random.PRNGKey(7), 40)["x"]
    divergence = bv.kl_function(mc, zoo.true_params, x=x)
    z0 = mc.flatten(zoo.true_params)
    bundle = (zoo, mc, x, divergence, z0)
    prior = prior_gaussian(mc, z0)
    geometry = laplace_geometry(divergence, prior, z0)
    exact_v = float(logistic_exact_volume(bundle, np.array([1e-4]))[0])
    exact_b = float(logistic_exact_gibbs(bundle, 100.0, geometry))
    return bundle, prior, exact_v, exact_b


def ours_logistic(seeds: int) -> list[dict]:
    (_, mc, _, divergence, z0), prior, exact_v, exact_b = logistic_setup()
    fns = (divergence, mc.log_prior, partial(flat_prior_sample, mc))
    est, se, ev = [], [], []
    for s in range(seeds):
        curve = importance_volume_fn(*fns, prior, [1e-4], key=jax.random.PRNGKey(s), center=z0)
        est.append(curve.log_volume[0])
        se.append(curve.stderr[0])
        ev.append(curve.diagnostics.num_evaluations)
    rows = [summarize("logV(1e-4) logistic2", "bayesvol importance (auto)", est, se, ev, exact_v, 0.1,
                      fixed=4)]
    est, se, ev = [], [], []
    for s in range(seeds):
        b = gibbs_bound_fn(*fns, prior, [100.0], key=jax.random.PRNGKey(s), center=z0)
        est.append(b.value[0])
        se.append(b.stderr[0])
        ev.append(b.num_evaluations)
    rows.append(summarize("B_100 logistic2", "bayesvol gibbs_bound", est, se, ev, exact_b, 0.1, fixed=4))
    return rows


def quartic(n=1, y=None):
    theta = numpyro.sample("theta", dist.Normal(0.0, 1.0))
    with numpyro.plate("data", n):
        numpyro.sample("y", dist.Normal(theta**2, 1.0), obs=y)


def ours_singular(seeds: int) -> list[dict]:
    mc = bv.ModelClass(quartic)
    t = np.array([1e-10])
    exact = float(np.log(2 * norm.cdf((2 * t[0]) ** 0.25) - 1))
    est, se, ev, src = [], [], [], []
    for s in range(seeds):
        curve = bv.volume(mc, {"theta": 0.0}, t, key=jax.random.PRNGKey(s),
                          nested_options={"num_live": 32, "num_runs": 4})
        est.append(curve.log_volume[0])
        se.append(curve.stderr[0])
        ev.append(curve.diagnostics.num_evaluations)
        src.append(curve.diagnostics.source[0])
    print(f"    singular quartic: answered by {sorted(set(src))}")
    return [summarize("logV(1e-10) quartic", "bayesvol auto (IS collapsed→nested)", est, se, ev, exact, 0.3)]


# ------------------------------------------------------------------------------------------- peers
def dynesty_logz(loglike, prior_transform, d: int, seed: int, nlive: int = 500, max_calls: int = 2_000_000):
    import dynesty

    sampler = dynesty.NestedSampler(loglike, prior_transform, d, nlive=nlive,
                                    rstate=np.random.default_rng(seed))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sampler.run_nested(print_progress=False, maxcall=max_calls)
    res = sampler.results
    return float(res.logz[-1]), float(res.logzerr[-1]), int(sampler.ncall)


def dynesty_volume(divergence_np, d: int, t: float, seed: int, nlive: int = 500, max_calls: int = 2_000_000):
    """log X at the first dead point with D ≤ t (dynesty's estimate of log V(t)), its calls."""
    import dynesty

    sampler = dynesty.NestedSampler(lambda th: -divergence_np(th), norm.ppf, d, nlive=nlive,
                                    rstate=np.random.default_rng(seed))
    log_x = np.nan
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for result in sampler.sample(dlogz=0.0, maxcall=max_calls):
            if -result[3] <= t:
                log_x = result[4]
                break
    return float(log_x), float(np.sqrt(-log_x / nlive)) if np.isfinite(log_x) else np.nan, int(sampler.ncall)


def nautilus_logz(loglike, d: int, seed: int, timeout: float):
    """nautilus's log Z with the prior N(0, I) (vectorized likelihood), stopped after ``timeout`` seconds."""
    from nautilus import Prior, Sampler

    prior = Prior()
    for i in range(d):
        prior.add_parameter(f"x{i}", dist=norm(0.0, 1.0))
    sampler = Sampler(prior, loglike, n_dim=d, vectorized=True, pass_dict=False, seed=seed)
    start = time.perf_counter()
    sampler.run(verbose=False, timeout=timeout)
    if time.perf_counter() - start >= timeout:
        print(f"    nautilus seed {seed}: stopped at the {timeout:g} s time box (not converged)")
    return float(sampler.log_z), float("nan"), int(sampler.n_like)


def peers(seeds: int, time_box: float) -> list[dict]:
    rows = []
    # two-weight logistic: dynesty for log V(1e-4) and B_100 (prior N(0, τ²I) through its ppf)
    (zoo, _, _, divergence, _), _, exact_v, exact_b = logistic_setup()
    tau = float(zoo.options["tau"])
    div_np = jax.jit(divergence)

    def d_np(th):
        return float(div_np(jnp.asarray(th)))

    def ppf(u):
        return tau * norm.ppf(u)

    for label, runner, exact, target in (
            ("logV(1e-4) logistic2", lambda s: dynesty_volume(lambda th: d_np(tau * th), 2, 1e-4, s), exact_v,
             0.1),
            ("B_100 logistic2", lambda s: dynesty_logz(lambda th: -100.0 * d_np(th), ppf, 2, s), exact_b,
             0.1)):
        est, se, ev, start = [], [], [], time.perf_counter()
        for s in range(seeds):
            value, err, calls = runner(s)
            est.append(-value if label.startswith("B_") else value)
            se.append(err)
            ev.append(calls)
            if time.perf_counter() - start > time_box:
                break
        rows.append(summarize(label, f"dynesty (nlive 500, {len(est)} seeds)", est, se, ev, exact, target))
    # the singular quartic D = θ⁴/2, prior N(0, 1): dynesty's log V(1e-10) beside bayesvol's auto route
    t_sing = 1e-10
    exact_sing = float(np.log(2 * norm.cdf((2 * t_sing) ** 0.25) - 1))
    est, se, ev, start = [], [], [], time.perf_counter()
    for s in range(seeds):
        value, err, calls = dynesty_volume(lambda th: 0.5 * float(th[0]) ** 4, 1, t_sing, s)
        est.append(value)
        se.append(err)
        ev.append(calls)
        if time.perf_counter() - start > time_box:
            break
    rows.append(summarize("logV(1e-10) quartic", f"dynesty (nlive 500, {len(est)} seeds)", est, se, ev,
                          exact_sing, 0.3))
    # nautilus for B_100 on the linear-Gaussian ball at d = 10 (the issue's best peer there)
    mat, theta0, a, c = linear_problem(10)
    exact = float(laplace_gibbs_bound(a, c, [100.0])[0])
    est, ev, start = [], [], time.perf_counter()
    for s in range(seeds):
        value, _, calls = nautilus_logz(
            lambda th: -50.0 * np.einsum("...i,ij,...j->...", th - theta0, mat, th - theta0), 10, s, time_box)
        est.append(-value)
        ev.append(calls)
        if time.perf_counter() - start > time_box:
            break
    rows.append(summarize("B_100 d=10", f"nautilus ({len(est)} seeds)", est, [np.nan] * len(est), ev, exact,
                          0.1))
    return rows


# ------------------------------------------------------------------- nested sampling's cost per nat of depth
# label: nested_volume options (defaults first; the rest are sampled_volume's cheap levers)
NESTED_SETTINGS = {
    "defaults (N 64, R 8, steps 4, proposals 2)": {},
    "steps 1, proposals 2": {"num_steps": 1},
    "steps 1, proposals 6": {"num_steps": 1, "num_proposals": 6},
    "steps 2, proposals 4": {"num_steps": 2, "num_proposals": 4},
    "N 32, R 16, steps 1, proposals 6": {"num_live": 32, "num_runs": 16, "num_steps": 1, "num_proposals": 6},
}


def depth_row(label: str, est, se, evals, exact: float, target: float = 0.3) -> dict:
    err = np.asarray(est, dtype=float) - exact
    rms = float(np.sqrt(np.mean(err**2)))
    cost = float(np.mean(evals))
    depth = -exact
    needed = cost if rms <= target else cost * (rms / target) ** 2
    equal = cost * (rms / target) ** 2
    reported = float(np.sqrt(np.nanmean(np.asarray(se, dtype=float) ** 2)))
    row = {"method": label, "evals": cost, "rms": rms, "reported": reported, "needed": needed,
           "equal": equal, "per_nat": needed / depth, "equal_per_nat": equal / depth, "seeds": len(err),
           "reported_per_nat": cost * (reported / target) ** 2 / depth}
    print(f"    {label:<44} seeds {len(err)}  evals/call {cost:9.3g}  rms {rms:6.3f} (reported "
          f"{reported:6.3f}, bias {np.mean(err):+6.3f})  needed/nat {row['per_nat']:9.3g}  "
          f"equal-error/nat {row['equal_per_nat']:9.3g}  (by reported se {row['reported_per_nat']:9.3g})",
          flush=True)
    return row


def nested_depth(dims: list[int], seeds: int, settings: list[str] | None, nlive: int) -> None:
    from bayesvol.volume.nested import nested_volume

    t = np.array([1e-3])
    for d in dims:
        mat, theta0, a, c = linear_problem(d)
        exact = float(bv.gchisq_log_cdf(t, a, c)[0])
        print(f"\nlinear-Gaussian d={d}: log V(1e-3) = {exact:.3f} (depth {-exact:.1f} nats), target ± 0.3",
              flush=True)
        divergence, log_prior, sample_prior, _, th0 = linear_functions(mat, theta0)
        rows = []

        def d_np(th, mat=mat, theta0=theta0):
            r = th - theta0
            return 0.5 * r @ mat @ r

        est, se, ev, start = [], [], [], time.perf_counter()
        for s in range(seeds):
            value, err, calls = dynesty_volume(d_np, d, float(t[0]), s, nlive=nlive)
            est.append(value)
            se.append(err)
            ev.append(calls)
        rows.append(depth_row(f"dynesty 3.1 (nlive {nlive}, rwalk {d + 20})", est, se, ev, exact))
        print(f"      ({time.perf_counter() - start:.0f} s; calls per replacement "
              f"{np.mean(ev) / (nlive * -exact):.1f})", flush=True)
        for label in settings or list(NESTED_SETTINGS):
            options = NESTED_SETTINGS[label]
            est, se, ev, start = [], [], [], time.perf_counter()
            for s in range(seeds):
                curve = nested_volume(divergence, log_prior, sample_prior, t, key=jax.random.PRNGKey(s),
                                      center=th0, progress=False, **options)
                est.append(curve.log_volume[0])
                se.append(curve.stderr[0])
                ev.append(curve.diagnostics.num_evaluations)
            rows.append(depth_row(f"bayesvol nested: {label}", est, se, ev, exact))
            print(f"      ({time.perf_counter() - start:.0f} s)", flush=True)
        base = rows[0]
        for row in rows[1:]:
            print(f"    ratio to dynesty (needed/nat, equal-error/nat, by reported se): "
                  f"{row['per_nat'] / base['per_nat']:.2f}, "
                  f"{row['equal_per_nat'] / base['equal_per_nat']:.2f}, "
                  f"{row['reported_per_nat'] / base['reported_per_nat']:.2f}  — {row['method']}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--peers", action="store_true")
    parser.add_argument("--time-box", type=float, default=300.0, help="seconds per peer and problem")
    parser.add_argument("--dims", type=int, nargs="*", default=None)
    parser.add_argument("--nested-depth", action="store_true",
                        help="nested sampling's evaluations per nat of depth vs dynesty (issue 15 item 3)")
    parser.add_argument("--settings", nargs="*", default=None, help="labels of NESTED_SETTINGS to run")
    parser.add_argument("--nlive", type=int, default=500, help="dynesty's live points (--nested-depth)")
    args = parser.parse_args()
    if args.nested_depth:
        nested_depth(args.dims or [10, 20], args.seeds, args.settings, args.nlive)
        return
    args.dims = args.dims or [10, 20, 50]
    has_ns = importlib.util.find_spec("blackjax.ns") is not None
    import blackjax
    print(f"BlackJAX {blackjax.__version__}: blackjax.ns {'present' if has_ns else 'absent'}")
    rows = []
    for d in args.dims:
        rows += ours_linear(d, args.seeds)
    rows += ours_logistic(args.seeds)
    rows += ours_singular(args.seeds)
    if args.peers:
        rows += peers(args.seeds, args.time_box)
    print("\nagainst the issue's best peer (evaluations to the target):")
    for (target, d), (who, peer, nested) in ISSUE.items():
        ours = next((r for r in rows if r["target"] == f"{target} d={d}"), None)
        if ours is not None:
            print(f"  {target} d={d}: bayesvol {ours['needed']:.3g} vs {who} {peer:.3g} (issue) → ratio "
                  f"{ours['needed'] / peer:.4f}; vs bayesvol nested {nested:.3g} → "
                  f"{ours['needed'] / nested:.4f} "
                  f"(rms {ours['rms']:.2e})")


if __name__ == "__main__":
    main()
