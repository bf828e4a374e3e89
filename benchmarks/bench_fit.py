"""Posterior sampling: NUTS through bv.fit vs NumPyro's MCMC called directly on the same model.

Same model, data, chains, warm-up, draws and chain method; each call builds a fresh MCMC (as a script
would), so both include compilation. bv.fit adds data validation, flat-z conversion and the ArviZ
diagnostics (R-hat, bulk ESS). Goal: wall-time ratio ≤ 1.05.

Run: .venv/bin/python benchmarks/bench_fit.py   (≈ 1–2 minutes on 2 cores)
"""

import statistics
import time

import jax
from numpyro.infer import MCMC, NUTS

import bayesvol as bv  # noqa: F401  (host devices, float64)
import bayesvol_zoo as models
from bayesvol.inference.fit import choose_chain_method, fit


def main():
    zoo = models.logistic_regression(d=5, weights0=(1.0, -0.5, 0.3, 0.0, 0.8))
    covariates, y = zoo.simulate(jax.random.PRNGKey(0), 1000)
    chains, warmup, samples = 4, 1000, 1000
    method = choose_chain_method(chains)

    def direct(key):
        mcmc = MCMC(NUTS(zoo.model), num_warmup=warmup, num_samples=samples, num_chains=chains,
                    chain_method=method, progress_bar=False)
        mcmc.run(key, **covariates, y=y, extra_fields=("diverging",))
        return mcmc.get_samples()["w"].block_until_ready()

    def wrapped(key):
        return fit(zoo.model_class, y, key=key, num_chains=chains, num_warmup=warmup,
                   num_samples=samples, **covariates).z.block_until_ready()

    times = {"numpyro": [], "bv.fit": []}
    for rep in range(3):  # alternate, so that load on the shared machine hits both alike
        for name, fn in (("numpyro", direct), ("bv.fit", wrapped)):
            start = time.perf_counter()
            fn(jax.random.PRNGKey(rep))
            times[name].append(time.perf_counter() - start)
    med = {k: statistics.median(v) for k, v in times.items()}
    print(f"chain_method={method}, devices={jax.local_device_count()}, {chains} chains × "
          f"({warmup} warm-up + {samples} draws), logistic regression d=5, n=1000")
    for name, value in med.items():
        print(f"  {name:<8} median wall {value:6.2f} s  (runs {', '.join(f'{t:.2f}' for t in times[name])})")
    print(f"  ratio bv.fit / numpyro = {med['bv.fit'] / med['numpyro']:.3f} (goal ≤ 1.05)")


if __name__ == "__main__":
    main()
