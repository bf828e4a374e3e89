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

"Same standard error": the regret curve's s.d. over seeds is measured for both routes (NUTS may run on
fewer seeds, ``--nuts-seeds``: its cost per fit is stable); the seeds needed for a given s.e. grow as s.d.²
(the 1/√ rule), so the ratio of gradient evaluations per seed is reported as measured and scaled to equal
s.e. by the mean over n of (s.d._NUTS / s.d._SMC)², with SMC's s.d. over all its seeds and over the seeds
NUTS ran on. Several SMC settings (``--configs``) are compared against the same NUTS run.

Run: .venv/bin/python benchmarks/bench_smc_regret.py [--seeds 10] [--nuts-seeds 3]
     [--configs "64,1,4,0.5;128,1,4,0.5"] [--save out.npz]
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


def run_smc(mc, zoo, ns, seeds, key, config):
    """One SMC setting over the seeds: (dataset, gradients, wall time without compiling, compile time)."""
    particles, steps, leapfrog, ess = config
    options = {"num_particles": particles, "num_mcmc_steps": steps, "num_integration_steps": leapfrog,
               "target_ess": ess, "progress": False}
    start = time.perf_counter()  # warm the compilation so the wall times compare running, not compiling
    bv.regret_curve(mc, zoo, ns, [10_000], ("mixture",), key=key, smc_options=options)
    compile_smc = time.perf_counter() - start
    start = time.perf_counter()
    smc = bv.regret_curve(mc, zoo, ns, seeds, ("mixture",), key=key, smc_options=options)
    wall = time.perf_counter() - start
    return smc, int(smc["smc_gradients"].isel(n=-1).sum()), wall, compile_smc


def parse_config(text):
    particles, steps, leapfrog, ess = text.split(",")
    return int(particles), int(steps), int(leapfrog), float(ess)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--nuts-seeds", type=int, default=None,
                        help="NUTS refits on the first k seeds only (default: all; 0: no NUTS)")
    parser.add_argument("--max-n", type=int, default=1000)
    parser.add_argument("--d", type=int, default=10)
    parser.add_argument("--configs", default="96,1,3,0.4;128,1,4,0.5",  # the defaults; the setting before
                        help="SMC settings 'N,mcmc_steps,leapfrog,target_ess', several separated by ';'")
    parser.add_argument("--skip-nuts", action="store_true")
    parser.add_argument("--save", default=None, help="write the per-seed figures to this .npz")
    args = parser.parse_args()
    ns = sorted({round(v) for v in np.geomspace(10, args.max_n, 8)})
    seeds = list(range(args.seeds))
    nuts_seeds = 0 if args.skip_nuts else (args.seeds if args.nuts_seeds is None else args.nuts_seeds)
    configs = [parse_config(c) for c in args.configs.split(";")]
    zoo = models.logistic_regression(d=args.d)
    mc = zoo.model_class
    key = jax.random.PRNGKey(2026)
    print(f"logistic d = {args.d}, n = {ns}, SMC on {len(seeds)} seeds, NUTS on the first {nuts_seeds}, "
          f"200 test rows; SMC settings (N, HMC steps, leapfrog, ESS target): {configs}")
    saved = {"ns": np.asarray(ns)}
    results = []
    for config in configs:
        smc, grads, wall, compile_smc = run_smc(mc, zoo, ns, seeds, key, config)
        results.append((config, smc, grads))
        r = smc["regret"].sel(predictor="mixture").values
        tag = "smc_" + "_".join(str(c) for c in config)
        saved[tag + "_regret"], saved[tag + "_online"] = r, smc["online_regret"].values
        saved[tag + "_gradients"] = smc["smc_gradients"].values
        print(f"\nSMC {config}: first seed (compiling) {compile_smc:.1f} s; {len(seeds)} seeds {wall:.1f} s; "
              f"{grads:,} gradient evaluations ({grads / len(seeds):,.0f} per seed, moves and their HMC "
              f"initial gradients included); resample-moves per seed "
              f"{float(smc['smc_resample_steps'].isel(n=-1).mean()):.1f}, tempering steps per seed "
              f"{float(smc['smc_tempering_steps'].isel(n=-1).mean()):.1f}, smallest ESS "
              f"{float(smc['smc_ess_min'].min()):.1f}, smallest acceptance "
              f"{float(smc['smc_acceptance'].min()):.2f}, all healthy: {bool(smc['smc_ok'].all())}")
        print(f"{'n':>6} {'R_n':>16} {'r(n)':>20} {'s.d. r(n)':>10}")
        for i, n in enumerate(ns):
            print(f"{n:>6} {float(smc['online_regret_mean'][i]):8.3f} ± "
                  f"{float(smc['online_regret_stderr'][i]):5.3f} {r[i].mean():10.4f} ± "
                  f"{r[i].std(ddof=1) / np.sqrt(len(seeds)):7.4f} {r[i].std(ddof=1):10.4f}")
    if not nuts_seeds:
        if args.save:
            np.savez(args.save, **saved)
        return

    bv.register_predictor("mixture_nuts", counted_nuts, replace=True)
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        nuts = bv.regret_curve(mc, zoo, ns, seeds[:nuts_seeds], ("mixture_nuts",), key=key, online=False,
                               on_seed=lambda seed: print(
                                   f"  NUTS seed {seed} done at {time.perf_counter() - start:.0f} s, "
                                   f"{NUTS_STEPS['fits']} fits, "
                                   f"{NUTS_STEPS['warmup'] + NUTS_STEPS['sampling']:,} gradient evaluations "
                                   "so far", flush=True))
    wall_nuts = time.perf_counter() - start
    grads_nuts = NUTS_STEPS["warmup"] + NUTS_STEPS["sampling"]
    r_nuts = nuts["regret"].values[0]
    saved["nuts_regret"], saved["nuts_gradients"] = r_nuts, np.asarray([grads_nuts, NUTS_STEPS["warmup"]])
    if args.save:
        np.savez(args.save, **saved)
    sd_nuts = r_nuts.std(axis=1, ddof=1)
    per_seed_nuts = grads_nuts / nuts_seeds
    print(f"\nNUTS: {NUTS_STEPS['fits']} fits on {nuts_seeds} seeds, {wall_nuts:.1f} s (compilation "
          f"included), {grads_nuts:,} gradient evaluations ({NUTS_STEPS['warmup']:,} in warm-up; "
          f"{grads_nuts / NUTS_STEPS['fits']:,.0f} per fit, {per_seed_nuts:,.0f} per seed)")
    print(f"{'n':>6} {'r(n) NUTS':>20} {'s.d.':>8}")
    for i, n in enumerate(ns):
        print(f"{n:>6} {r_nuts[i].mean():10.4f} ± {sd_nuts[i] / np.sqrt(nuts_seeds):7.4f} {sd_nuts[i]:8.4f}")
    # equal s.e. by the 1/sqrt rule: seeds needed for a given s.e. ∝ s.d.² over seeds, so the cost of a
    # given s.e. is (gradients per seed) × s.d.²; the factor is the mean over n of (s.d._NUTS / s.d._SMC)²
    for config, smc, grads in results:
        r = smc["regret"].sel(predictor="mixture").values
        per_seed = grads / len(seeds)
        factor_all = float(np.mean((sd_nuts / r.std(axis=1, ddof=1)) ** 2))
        factor_same = float(np.mean((sd_nuts / r[:, :nuts_seeds].std(axis=1, ddof=1)) ** 2))
        diff = r[:, :nuts_seeds] - r_nuts
        print(f"\nSMC {config} vs NUTS: gradient evaluations per seed {per_seed_nuts / per_seed:.2f}× as "
              f"measured; at equal s.e. {per_seed_nuts * factor_all / per_seed:.2f}× (SMC s.d. over its "
              f"{len(seeds)} seeds, NUTS s.d. over its {nuts_seeds}; factor mean (sd_N/sd_S)² = "
              f"{factor_all:.3f}), {per_seed_nuts * factor_same / per_seed:.2f}× (both over the same "
              f"{nuts_seeds} seeds; factor {factor_same:.3f})")
        print(f"  s.d. ratio NUTS/SMC per n (SMC over {len(seeds)} seeds): "
              f"{np.round(sd_nuts / r.std(axis=1, ddof=1), 2).tolist()}")
        print("  paired difference SMC − NUTS of r(n) per n (mean ± s.e. over the common seeds): "
              + ", ".join(f"{diff[i].mean():+.4f} ± {diff[i].std(ddof=1) / np.sqrt(nuts_seeds):.4f}"
                          for i in range(len(ns))))


if __name__ == "__main__":
    main()
