"""Regret curve of a non-conjugate class: one data-sequential SMC run per seed vs NUTS refits per (n, seed).

Logistic regression (zoo ``logistic_regression``, d = 10, τ = 2), n on 8 log-spaced points 10 … 1,000, 10
seeds, 200 test rows per (n, seed). Both routes see the same data and test rows (same key).

* **SMC** (``regret_curve(..., mixture_method="smc")``, the default): one run per seed gives the online
  regret R_n and the mixture's batch regret r(n) at every n. Cost: ``smc_gradients`` (HMC gradient
  evaluations, all particles; each over the data added so far).
* **NUTS refits** (the route before SMC): for every (n, seed) a NUTS fit with ``bv.fit``'s defaults (4
  chains, 500 warm-up + 500 draws) on the first n rows, its draws averaged as the mixture. Cost: NumPyro's
  ``num_steps`` per transition, warm-up included (each leapfrog step is one gradient over n rows). NUTS
  gives no log Q(x^n): the old route's online regret came from a separate SMC, so only r(n) is compared.

"Same standard error": the regret curve's s.e. over seeds is measured for both routes; the ratio of
gradient evaluations is reported as measured and scaled to equal s.e. by the 1/√ rule
(evaluations ∝ 1/s.e.², i.e. NUTS × (s.e._NUTS / s.e._SMC)²), taking the mean over n of that factor.

Run: .venv/bin/python benchmarks/bench_smc_regret.py [--seeds 10] [--max-n 1000] [--particles 128] …
"""

import argparse
import time
import warnings

import jax
import jax.numpy as jnp
import numpy as np
from numpyro.infer import MCMC, NUTS

import bayesvol as bv
import bayesvol_zoo as models
from bayesvol.inference.fit import choose_chain_method
from bayesvol.regret.predictors import mixture_log_prob

NUTS_STEPS = {"warmup": 0, "sampling": 0, "fits": 0}


def counted_nuts(mc, train, train_covariates, test, test_covariates, *, key, num_train, options):
    """The old route's sampled mixture (bv.fit's defaults) with its gradient evaluations counted."""
    train, cov = mc.row_layout.prefix(train, train_covariates, num_train)
    kernel = NUTS(mc.model)
    mcmc = MCMC(kernel, num_warmup=500, num_samples=500, num_chains=4,
                chain_method=choose_chain_method(4), progress_bar=False)
    key_w, key_s = jax.random.split(key)
    arguments = {**cov, mc.observed_kwarg: train}
    mcmc.warmup(key_w, **arguments, collect_warmup=True, extra_fields=("num_steps",))
    NUTS_STEPS["warmup"] += int(np.sum(mcmc.get_extra_fields()["num_steps"]))
    mcmc.run(key_s, **arguments, extra_fields=("num_steps",))
    NUTS_STEPS["sampling"] += int(np.sum(mcmc.get_extra_fields()["num_steps"]))
    NUTS_STEPS["fits"] += 1
    z = jax.vmap(mc.flatten)({k: v for k, v in mcmc.get_samples().items() if k in mc.latent_sites})
    return mixture_log_prob(mc, jnp.asarray(z), test, test_covariates)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--max-n", type=int, default=1000)
    parser.add_argument("--d", type=int, default=10)
    parser.add_argument("--particles", type=int, default=128)
    parser.add_argument("--mcmc-steps", type=int, default=1)
    parser.add_argument("--leapfrog", type=int, default=4)
    parser.add_argument("--skip-nuts", action="store_true")
    args = parser.parse_args()
    ns = sorted({round(v) for v in np.geomspace(10, args.max_n, 8)})
    seeds = list(range(args.seeds))
    zoo = models.logistic_regression(d=args.d)
    mc = zoo.model_class
    key = jax.random.PRNGKey(2026)
    smc_options = {"num_particles": args.particles, "num_mcmc_steps": args.mcmc_steps,
                   "num_integration_steps": args.leapfrog, "progress": False}
    print(f"logistic d = {args.d}, n = {ns}, {len(seeds)} seeds, 200 test rows; SMC {smc_options}")

    # warm the compilations so the wall times compare running, not compiling (reported separately)
    start = time.perf_counter()
    bv.regret_curve(mc, zoo, ns, [10_000], ("mixture",), key=key, smc_options=smc_options)
    compile_smc = time.perf_counter() - start
    start = time.perf_counter()
    smc = bv.regret_curve(mc, zoo, ns, seeds, ("mixture",), key=key, smc_options=smc_options)
    wall_smc = time.perf_counter() - start
    grads_smc = int(smc["smc_gradients"].isel(n=-1).sum())
    r_smc, se_smc = smc["regret_mean"].sel(predictor="mixture").values, \
        smc["regret_stderr"].sel(predictor="mixture").values
    print(f"SMC: first seed (compiling) {compile_smc:.1f} s; {len(seeds)} seeds {wall_smc:.1f} s; "
          f"{grads_smc:,} gradient evaluations ({grads_smc / len(seeds):,.0f} per seed); "
          f"resample-moves per seed {float(smc['smc_resample_steps'].isel(n=-1).mean()):.1f}, "
          f"tempering steps per seed {float(smc['smc_tempering_steps'].isel(n=-1).mean()):.1f}, "
          f"smallest ESS {float(smc['smc_ess_min'].min()):.1f}, all healthy: {bool(smc['smc_ok'].all())}")
    online = [f"{float(m):8.3f} ± {float(s):5.3f}" for m, s in
              zip(smc["online_regret_mean"].values, smc["online_regret_stderr"].values, strict=True)]
    print(f"{'n':>6} {'R_n SMC':>16} {'r(n) SMC':>20}", end="")
    if args.skip_nuts:
        print()
        for i, n in enumerate(ns):
            print(f"{n:>6} {online[i]} {r_smc[i]:10.4f} ± {se_smc[i]:7.4f}")
        return

    bv.register_predictor("mixture_nuts", counted_nuts, replace=True)
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        nuts = bv.regret_curve(mc, zoo, ns, seeds, ("mixture_nuts",), key=key, online=False,
                               on_seed=lambda seed: print(
                                   f"  NUTS seed {seed} done at {time.perf_counter() - start:.0f} s, "
                                   f"{NUTS_STEPS['fits']} fits", flush=True))
    wall_nuts = time.perf_counter() - start
    grads_nuts = NUTS_STEPS["warmup"] + NUTS_STEPS["sampling"]
    r_nuts, se_nuts = nuts["regret_mean"].values[0], nuts["regret_stderr"].values[0]
    print(f" {'r(n) NUTS':>20} {'paired diff':>18}")
    diff = smc["regret"].sel(predictor="mixture").values - nuts["regret"].values[0]
    for i, n in enumerate(ns):
        print(f"{n:>6} {online[i]} {r_smc[i]:10.4f} ± {se_smc[i]:7.4f} {r_nuts[i]:10.4f} ± {se_nuts[i]:7.4f}"
              f" {diff[i].mean():8.4f} ± {diff[i].std(ddof=1) / np.sqrt(len(seeds)):7.4f}")
    print(f"NUTS: {NUTS_STEPS['fits']} fits, {wall_nuts:.1f} s (compilation included), {grads_nuts:,} "
          f"gradient evaluations ({NUTS_STEPS['warmup']:,} in warm-up)")
    factor = float(np.mean((se_nuts / se_smc) ** 2))
    print(f"s.e. ratio NUTS/SMC per n: {np.round(se_nuts / se_smc, 3).tolist()}")
    print(f"gradient evaluations NUTS / SMC: {grads_nuts / grads_smc:.1f}× as measured; "
          f"{grads_nuts * factor / grads_smc:.1f}× at equal s.e. (NUTS scaled by mean (se_NUTS/se_SMC)² "
          f"= {factor:.3f}); wall time NUTS / SMC: {wall_nuts / wall_smc:.1f}× "
          f"({wall_nuts / (wall_smc + compile_smc):.1f}× counting SMC's compilation)")


if __name__ == "__main__":
    main()
