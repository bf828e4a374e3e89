"""ModelClass overhead: per-datum log-likelihood and KL of the zoo MLP, against the same in plain JAX.

For an MLP regression class at d ≈ 10⁵ and d ≈ 10⁶ parameters with m = 1,000 covariate rows, time
(jitted, after warm-up, median of repeats, block_until_ready):
  * ``mc.log_likelihood(z, y, x=x)``    vs a hand-written unravel + tanh MLP + Gaussian log density;
  * ``bv.kl_function(mc, θ0, x=x)(z)``  vs the hand-written mean squared difference / (2σ²);
  * the gradient of that KL in z         (what curvature and sampling code differentiates).
The two implementations are timed alternately in the same run, so load on a shared machine hits both.
Goal: ratio ModelClass / plain ≤ 1.1. Medians and minima are printed: on a shared machine the
minimum is the less noisy measure of the computation itself; the ratio of XLA's flop counts of the two
compiled programs shows whether ModelClass adds any work at all, independently of load.

Run: ``.venv/bin/python benchmarks/bench_model_class.py [--small]`` (``--small`` skips d ≈ 10⁶).
"""

import argparse
import itertools
import statistics
import time

import jax
import jax.numpy as jnp
import numpy as np

import bayesvol as bv
import bayesvol_zoo as models
from bayesvol_zoo.neural import mlp_param_count

SIGMA = 0.5
M_ROWS = 1_000
CONFIGS = {"1e5": (100, (500, 100), 1), "1e6": (100, (1000, 900), 1)}


def plain_functions(sizes, x, truth):
    """The same computations written directly in JAX, on the same flat layout (sorted site names)."""
    shapes = {}
    for layer, (fan_in, fan_out) in enumerate(itertools.pairwise(sizes)):
        shapes[f"W{layer}"] = (fan_in, fan_out)
        shapes[f"b{layer}"] = (fan_out,)
    names = sorted(shapes)  # jax.flatten_util.ravel_pytree's order for a dict
    offsets = np.cumsum([0] + [int(np.prod(shapes[k])) for k in names])
    n_layers = len(sizes) - 1

    def unravel(z):
        return {k: z[offsets[i]:offsets[i + 1]].reshape(shapes[k]) for i, k in enumerate(names)}

    def forward(params, x):
        h = x
        for layer in range(n_layers):
            h = h @ params[f"W{layer}"] + params[f"b{layer}"]
            if layer < n_layers - 1:
                h = jnp.tanh(h)
        return h

    def log_likelihood(z, x, y):
        out = forward(unravel(z), x)
        return jnp.sum(-0.5 * ((y - out) / SIGMA) ** 2 - jnp.log(SIGMA) - 0.5 * jnp.log(2 * jnp.pi), axis=-1)

    out0 = forward(truth, x)

    def kl(z):
        return jnp.mean(jnp.sum((out0 - forward(unravel(z), x)) ** 2, axis=-1)) / (2 * SIGMA**2)

    return log_likelihood, kl


def compiled_cost(fn, args):
    """XLA's cost analysis of the compiled program: (flops, bytes accessed); load-independent."""
    cost = fn.lower(*args).compile().cost_analysis()
    cost = cost[0] if isinstance(cost, list) else cost
    return cost.get("flops", float("nan")), cost.get("bytes accessed", float("nan"))


def time_pair(fn_a, fn_b, args, repeats):
    """Seconds per call (median, min) of two jitted functions, timed alternately after a warm-up each."""
    compile_s = []
    for fn in (fn_a, fn_b):
        start = time.perf_counter()
        jax.block_until_ready(fn(*args))
        compile_s.append(time.perf_counter() - start)
    times = ([], [])
    for _ in range(repeats):
        for fn, record in zip((fn_a, fn_b), times):
            start = time.perf_counter()
            jax.block_until_ready(fn(*args))
            record.append(time.perf_counter() - start)
    return [(statistics.median(t), min(t)) for t in times], compile_s


def bench(label, sizes, repeats):
    d_in, widths, d_out = sizes
    entry = models.mlp(d_in=d_in, widths=widths, d_out=d_out, sigma=SIGMA)
    mc = entry.model_class
    d = mlp_param_count((d_in, *widths, d_out))
    assert mc.dim == d
    covariates, y = entry.simulate(jax.random.PRNGKey(0), M_ROWS)
    x = covariates["x"]
    truth = entry.true_params
    z = mc.flatten(truth) + 0.01 * jax.random.normal(jax.random.PRNGKey(1), (d,))

    ll_plain, kl_plain = plain_functions((d_in, *widths, d_out), x, truth)
    ll_mc = jax.jit(lambda z, x, y: mc.log_likelihood(z, y, x=x))
    kl_mc = bv.kl_function(mc, truth, x=x)
    pairs = {
        "log_likelihood (per datum)": (ll_mc, jax.jit(ll_plain), (z, x, y)),
        "KL D(z)": (jax.jit(kl_mc), jax.jit(kl_plain), (z,)),
        "grad KL": (jax.jit(jax.grad(kl_mc)), jax.jit(jax.grad(kl_plain)), (z,)),
    }
    rows = []
    for name, (fn_mc, fn_plain, args) in pairs.items():
        (t_mc, t_plain), compile_s = time_pair(fn_mc, fn_plain, args, repeats)
        # same numbers: the comparison is of one computation
        np.testing.assert_allclose(fn_mc(*args), fn_plain(*args), rtol=1e-9, atol=1e-12)
        flops = [compiled_cost(fn, args)[0] for fn in (fn_mc, fn_plain)]
        rows.append((d, name, t_mc, t_plain, compile_s, flops[0] / flops[1]))
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="skip d ≈ 10⁶")
    parser.add_argument("--repeats", type=int, default=31)
    args = parser.parse_args()
    print(f"jax {jax.__version__} on {jax.devices()[0].platform}, {M_ROWS} covariate rows, float64")
    rows = []
    for label, sizes in CONFIGS.items():
        if args.small and label == "1e6":
            continue
        rows += bench(label, sizes, args.repeats if label == "1e5" else max(5, args.repeats // 2))
    print("median (min) ms per call; ratio = ModelClass / plain JAX")
    print(f"{'d':>9} {'computation':<27} {'ModelClass':>17} {'plain JAX':>17} {'ratio':>14} "
          f"{'compile s':>10} {'flops ratio':>11}")
    for d, name, t_mc, t_plain, compile_s, flops_ratio in rows:
        print(f"{d:>9,} {name:<27} {1e3 * t_mc[0]:>8.2f} ({1e3 * t_mc[1]:>6.2f}) "
              f"{1e3 * t_plain[0]:>8.2f} ({1e3 * t_plain[1]:>6.2f}) "
              f"{t_mc[0] / t_plain[0]:>6.3f} ({t_mc[1] / t_plain[1]:.3f}) "
              f"{compile_s[0]:>4.1f}/{compile_s[1]:.1f} {flops_ratio:>11.4f}")
    worst = max(r[2][0] / r[3][0] for r in rows)
    print(f"worst median ratio {worst:.3f} (goal ≤ 1.1)")


if __name__ == "__main__":
    main()
