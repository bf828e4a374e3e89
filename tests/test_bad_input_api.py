"""Bad input at the public API's front doors: one clear error each, naming the argument, site or shape.

Every case is a tiny call that must raise a ``bv.BayesvolError`` subclass (``InputError`` is also a
``ValueError``) whose message matches the pattern given, and must do so quickly: before any sampling,
fitting or compilation of the model's heavy work.
"""

import time
from types import SimpleNamespace

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import bayesvol as bv
import bayesvol_zoo as models

K = jax.random.PRNGKey(0)
EPS2 = np.array([0.01, 0.1, 1.0])


@pytest.fixture(scope="module")
def ctx():
    kt = models.bernoulli()
    lin = models.linear_regression(d=2)
    cov, y = lin.simulate(jax.random.PRNGKey(1), 6)
    zeros = np.zeros(3)
    return SimpleNamespace(
        kmc=kt.model_class, kp=kt.true_params, kt=kt, kx=jnp.array([0, 1, 1, 0]),
        lmc=lin.model_class, lp=lin.true_params, lin=lin, x=cov["x"], y=y,
        curve=bv.VolumeCurve(EPS2, np.log(EPS2), zeros, zeros, zeros, "exact"))


def _cell(coords, key):
    return None


def _nan_at_0(a):
    return jnp.asarray(a, dtype=float).at[0].set(jnp.nan)


def _model_no_args():
    import numpyro
    import numpyro.distributions as dist

    numpyro.sample("y", dist.Normal(0.0, 1.0), obs=None)


# (id, call(ctx), pattern the message must match)
CASES = [
    # ---- keys that are not keys
    ("kl_estimate/key-int", lambda c: bv.kl_estimate(c.lmc, c.lp, c.lp, key=0, x=c.x), "key"),
    ("fit/key-list", lambda c: bv.fit(c.kmc, c.kx, key=[0, 0], n=4), "key"),
    ("sampled_volume/key-float-array",
     lambda c: bv.sampled_volume(c.kmc, c.kp, EPS2, key=jnp.zeros(2), n=1), "key"),
    ("sequential_log_marginal/key-batch",
     lambda c: bv.sequential_log_marginal(c.kmc, c.kx, key=jax.random.split(K, 3), n=4), "key"),
    ("predictive_log_loss/key-float",
     lambda c: bv.predictive_log_loss(c.kmc, "plugin", c.kx, c.kx, key=1.5), "key"),
    ("regret_curve/key-None", lambda c: bv.regret_curve(c.kmc, c.kt, [2], [0], key=None), "key"),
    ("compare/key-str", lambda c: bv.compare(c.kmc, c.kx, key="abc", n=4), "key"),
    ("simulate/key-int", lambda c: c.kmc.simulate(5, c.kp, n=3), "key"),
    ("log_marginal/key-list3", lambda c: bv.log_marginal(c.kmc, c.kx, key=[1, 2, 3], n=4), "key"),
    ("kl/key-typed-batch",
     lambda c: bv.kl(c.lmc, c.lp, c.lp, key=jax.random.split(jax.random.key(0), 2), x=c.x), "key"),
    # ---- zero or negative sizes
    ("fit/num_chains-0", lambda c: bv.fit(c.kmc, c.kx, key=K, num_chains=0, n=4), "num_chains"),
    ("fit/num_samples-neg", lambda c: bv.fit(c.kmc, c.kx, key=K, num_samples=-1, n=4), "num_samples"),
    ("fit/num_warmup-neg", lambda c: bv.fit(c.kmc, c.kx, key=K, num_warmup=-5, n=4), "num_warmup"),
    ("sampled_volume/num_live-0",
     lambda c: bv.sampled_volume(c.kmc, c.kp, EPS2, key=K, num_live=0, n=1), "num_live"),
    ("sampled_volume/num_runs-0",
     lambda c: bv.sampled_volume(c.kmc, c.kp, EPS2, key=K, num_runs=0, n=1), "num_runs"),
    ("sequential_log_marginal/num_particles-0",
     lambda c: bv.sequential_log_marginal(c.kmc, c.kx, key=K, num_particles=0, n=4), "num_particles"),
    ("regret_curve/num_test-0",
     lambda c: bv.regret_curve(c.kmc, c.kt, [2], [0], key=K, num_test=0), "num_test"),
    ("predictive_log_loss/num_starts-0",
     lambda c: bv.predictive_log_loss(c.kmc, "plugin", c.kx, c.kx, key=K, num_starts=0), "num_starts"),
    ("predictive_log_loss/num_members-0",
     lambda c: bv.predictive_log_loss(c.kmc, "ensemble", c.kx, c.kx, key=K, num_members=0), "num_"),
    ("predictive_log_loss/num_train-neg",
     lambda c: bv.predictive_log_loss(c.kmc, "plugin", c.kx, c.kx, key=K, num_train=-1), "num_train"),
    ("log_marginal/num_particles-neg",
     lambda c: bv.log_marginal(c.kmc, c.kx, key=K, num_particles=-3, n=4), "num_particles"),
    ("compare/test_fraction-1.5",
     lambda c: bv.compare(c.kmc, c.kx, key=K, test_fraction=1.5, n=4), "test_fraction"),
    ("compare/test_fraction-0", lambda c: bv.compare(c.kmc, c.kx, key=K, test_fraction=0.0, n=4),
     "test_fraction"),
    ("regret_curve/ns-empty", lambda c: bv.regret_curve(c.kmc, c.kt, [], [0], key=K), "ns"),
    ("regret_curve/ns-0", lambda c: bv.regret_curve(c.kmc, c.kt, [0], [0], key=K), "ns"),
    ("regret_curve/ns-neg", lambda c: bv.regret_curve(c.kmc, c.kt, [-2], [0], key=K), "ns"),
    ("regret_curve/ns-unsorted", lambda c: bv.regret_curve(c.kmc, c.kt, [3, 2], [0], key=K), "ns"),
    ("regret_curve/seeds-empty", lambda c: bv.regret_curve(c.kmc, c.kt, [2], [], key=K), "seeds"),
    ("online_regret/ns-beyond-data",
     lambda c: bv.online_regret(c.kmc, c.kp, c.kx, [9], exact_log_marginal=c.kt.log_mixture, n=4), "ns"),
    # ---- NaN, data outside the support, lists, shapes
    ("fit/data-NaN", lambda c: bv.fit(c.lmc, _nan_at_0(c.y), key=K, x=c.x), "NaN|finite|y"),
    ("fit/data-outside-support", lambda c: bv.fit(c.kmc, jnp.array([0, 1, 2]), key=K, n=3), "support"),
    ("fit/data-ragged-list", lambda c: bv.fit(c.kmc, [[0, 1], [1]], key=K, n=2), "data|rectangular"),
    ("fit/data-string", lambda c: bv.fit(c.kmc, "abc", key=K, n=3), "data"),
    ("fit/data-wrong-shape", lambda c: bv.fit(c.lmc, jnp.zeros((6, 2)), key=K, x=c.x), "shape|y"),
    ("fit/data-wrong-rows", lambda c: bv.fit(c.lmc, c.y[:4], key=K, x=c.x), "rows"),
    ("fit/covariate-NaN", lambda c: bv.fit(c.lmc, c.y, key=K, x=_nan_at_0(c.x)), "x"),
    ("kl/covariate-NaN", lambda c: bv.kl(c.lmc, c.lp, c.lp, x=_nan_at_0(c.x)), "x"),
    ("log_marginal/data-NaN",
     lambda c: bv.log_marginal(c.lmc, _nan_at_0(c.y), exact_log_marginal=c.lin.log_mixture, x=c.x),
     "NaN|finite|y"),
    ("sequential_log_marginal/data-outside-support",
     lambda c: bv.sequential_log_marginal(c.kmc, jnp.array([0, 3]), key=K, n=2), "support"),
    ("online_regret/data-outside-support",
     lambda c: bv.online_regret(c.kmc, c.kp, jnp.array([0, 2, 1]), exact_log_marginal=c.kt.log_mixture,
                                n=3), "support"),
    ("predictive_log_loss/test-outside-support",
     lambda c: bv.predictive_log_loss(c.kmc, "mixture", c.kx, jnp.array([5]), key=K,
                                      exact_log_marginal=c.kt.log_mixture), "support"),
    ("predictive_log_loss/test-NaN",
     lambda c: bv.predictive_log_loss(c.lmc, "plugin", c.y, _nan_at_0(c.y), key=K,
                                      train_covariates={"x": c.x}, test_covariates={"x": c.x}),
     "NaN|finite|y"),
    ("compare/data-NaN", lambda c: bv.compare(c.lmc, _nan_at_0(c.y), key=K, x=c.x), "NaN|finite|y"),
    ("dataset_truth/data-NaN", lambda c: bv.dataset_truth(_nan_at_0(c.y), x=c.x, mc=c.lmc), "NaN|finite|y"),
    ("dataset_truth/data-empty", lambda c: bv.dataset_truth(jnp.zeros((0,)), x=jnp.zeros((0, 2))),
     "empty|rows|data"),
    ("log_likelihood/z-wrong-shape", lambda c: c.lmc.log_likelihood(jnp.zeros(3), c.y, x=c.x), "z|shape"),
    ("log_likelihood/data-outside-support",
     lambda c: c.kmc.log_likelihood(jnp.zeros(1), jnp.array([0, 2]), n=2), "support"),
    ("simulate/params-unknown-site", lambda c: c.kmc.simulate(K, {"p": 0.3, "q": 1.0}, n=3), "q"),
    # ---- covariates: unknown, missing, wrong rows, wrong shapes
    ("fit/covariate-unknown",
     lambda c: bv.fit(c.lmc, c.y, key=K, covariates={"x": c.x, "w": 1.0}), "w"),
    ("fit/covariate-missing", lambda c: bv.fit(c.lmc, c.y, key=K), "x"),
    ("kl/covariate-missing", lambda c: bv.kl(c.lmc, c.lp, c.lp), "x"),
    ("laplace_volume/covariate-unknown",
     lambda c: bv.laplace_volume(c.lmc, c.lp, EPS2, x=c.x, bogus=1), "bogus"),
    ("fit/covariate-wrong-width", lambda c: bv.fit(c.lmc, c.y, key=K, x=jnp.zeros((6, 3))), "x|shape"),
    ("fit/covariates-not-mapping", lambda c: bv.fit(c.lmc, c.y, key=K, covariates=[c.x]), "covariates"),
    ("predictive_log_loss/test-covariate-rows",
     lambda c: bv.predictive_log_loss(c.lmc, "plugin", c.y, c.y[:3], key=K, train_covariates={"x": c.x},
                                      test_covariates={"x": c.x}), "rows"),
    ("compare/covariate-rows", lambda c: bv.compare(c.lmc, c.y[:4], key=K, x=c.x), "rows"),
    ("fisher/covariate-missing", lambda c: bv.fisher(c.lmc, c.lp), "x"),
    # ---- radii
    ("laplace_volume/eps2-negative",
     lambda c: bv.laplace_volume(c.kmc, c.kp, [-1.0, 1.0], n=1), "eps2"),
    ("laplace_volume/eps2-NaN", lambda c: bv.laplace_volume(c.kmc, c.kp, [0.1, np.nan], n=1), "eps2"),
    ("laplace_volume/eps2-2d", lambda c: bv.laplace_volume(c.kmc, c.kp, [[0.1, 1.0]], n=1), "eps2"),
    ("sampled_volume/eps2-unsorted",
     lambda c: bv.sampled_volume(c.kmc, c.kp, [1.0, 0.1], key=K, n=1), "eps2"),
    ("regret_curve/seeds-negative", lambda c: bv.regret_curve(c.kmc, c.kt, [2], [-1], key=K), "seeds"),
    ("compare/predictors-string", lambda c: bv.compare(c.kmc, c.kx, "plugin", key=K, n=4), "predictors"),
    ("laplace_volume/eps2-empty", lambda c: bv.laplace_volume(c.kmc, c.kp, [], n=1), "eps2"),
    ("sampled_volume/eps2-negative",
     lambda c: bv.sampled_volume(c.kmc, c.kp, [-0.5, 0.1], key=K, n=1), "eps2"),
    ("sampled_volume/eps2-empty", lambda c: bv.sampled_volume(c.kmc, c.kp, [], key=K, n=1), "eps2"),
    ("sampled_volume/eps2-NaN", lambda c: bv.sampled_volume(c.kmc, c.kp, [np.nan], key=K, n=1), "eps2"),
    ("gchisq_log_cdf/weights-negative", lambda c: bv.gchisq_log_cdf(EPS2, [-1.0, 1.0]), "weights"),
    ("gchisq_log_cdf/t-NaN", lambda c: bv.gchisq_log_cdf([np.nan], [1.0, 1.0]), "t"),
    ("gchisq_log_cdf/centers-shape", lambda c: bv.gchisq_log_cdf(EPS2, [1.0, 1.0], [0.0, 0.0, 0.0]),
     "centers"),
    ("effective_dimension/a-negative", lambda c: bv.effective_dimension([-1.0, 2.0], 10), "a|eigen"),
    ("effective_dimension/n-negative", lambda c: bv.effective_dimension([1.0, 2.0], -10), "n"),
    ("regret_bound/n-negative", lambda c: bv.regret_bound(c.curve, -5), "n"),
    ("regret_bound/n-NaN", lambda c: bv.regret_bound(c.curve, np.nan), "n"),
    ("regret_bound/not-a-curve", lambda c: bv.regret_bound([1.0, 2.0], 5), "VolumeCurve|Spectrum"),
    ("nested_gibbs_bound/n-zero", lambda c: bv.nested_gibbs_bound(c.curve, 0), "n"),
    ("learning_coefficient/not-nested", lambda c: bv.learning_coefficient(c.curve),
     "needs a VolumeCurve made by sampled_volume"),
    ("learning_coefficient/not-a-curve", lambda c: bv.learning_coefficient([1.0, 2.0]),
     "needs a VolumeCurve made by sampled_volume"),
    ("log_volume_covariance/not-nested", lambda c: bv.log_volume_covariance(c.curve), "sampled_volume"),
    # ---- unknown names
    ("predictive_log_loss/predictor-unknown",
     lambda c: bv.predictive_log_loss(c.kmc, "oracle", c.kx, c.kx, key=K), "predictor"),
    ("predictive_log_loss/predictor-None",
     lambda c: bv.predictive_log_loss(c.kmc, None, c.kx, c.kx, key=K), "predictor"),
    ("regret_curve/predictor-unknown",
     lambda c: bv.regret_curve(c.kmc, c.kt, [2], [0], ("bayes",), key=K), "predictor"),
    ("compare/predictor-unknown", lambda c: bv.compare(c.kmc, c.kx, ("bayes",), key=K, n=4), "predictor"),
    ("laplace_volume/method-unknown",
     lambda c: bv.laplace_volume(c.kmc, c.kp, EPS2, method="bogus", n=1), "method"),
    ("fisher_spectrum/method-unknown",
     lambda c: bv.fisher_spectrum(c.kmc, c.kp, method="bogus", n=1), "method"),
    ("log_marginal/method-unknown", lambda c: bv.log_marginal(c.kmc, c.kx, key=K, method="bogus", n=4),
     "method"),
    ("fit/chain_method-unknown", lambda c: bv.fit(c.kmc, c.kx, key=K, chain_method="bogus", n=4),
     "chain_method"),
    ("register_predictor/not-callable", lambda c: bv.register_predictor("mine", 3), "mine"),
    ("register_predictor/taken-name", lambda c: bv.register_predictor("plugin", lambda *a, **k: 0), "plugin"),
    # ---- parameters and truths
    ("model_truth/unknown-site", lambda c: bv.model_truth(c.kmc, {"p": 0.3, "zz": 1.0}), "zz"),
    ("model_truth/outside-support", lambda c: bv.model_truth(c.kmc, {"p": 1.5}), "p"),
    ("regret_curve/dict-truth-unknown-site",
     lambda c: bv.regret_curve(c.kmc, {"p": 0.3, "zz": 1.0}, [2], [0], key=K), "zz"),
    ("regret_curve/truth-not-a-truth", lambda c: bv.regret_curve(c.kmc, 3.0, [2], [0], key=K), "truth"),
    ("kl/params-missing-site", lambda c: bv.kl(c.kmc, c.kp, {}, n=1), "p"),
    ("kl/params-unknown-site", lambda c: bv.kl(c.kmc, c.kp, {"p": 0.5, "zz": 0.0}, n=1), "zz"),
    ("laplace_volume/params-outside-support",
     lambda c: bv.laplace_volume(c.kmc, {"p": 1.5}, EPS2, n=1), "p"),
    ("fisher_spectrum/params-wrong-shape",
     lambda c: bv.fisher_spectrum(c.lmc, {"theta": jnp.zeros(3)}, x=c.x), "theta"),
    ("Sweep/fn-not-callable", lambda c: bv.Sweep(3, {"x": [1]}), "Sweep fn must be a function"),
    ("Sweep/unknown-command", lambda c: bv.Sweep("nosuch", {"m": [10]}), "one of the commands"),
    ("Sweep/empty-grid", lambda c: bv.Sweep(_cell, {}), "grid must be a non-empty mapping"),
    ("Sweep/axis-a-string", lambda c: bv.Sweep(_cell, {"x": "abc"}), "axis 'x' must be a non-empty list"),
    ("Sweep/axis-repeats", lambda c: bv.Sweep(_cell, {"x": [1, 1]}), "axis 'x' repeats a value"),
    ("Sweep/odd-coordinate", lambda c: bv.Sweep(_cell, {"x": [object()]}), "coordinate must be a number"),
    ("Sweep/seed", lambda c: bv.Sweep(_cell, {"x": [1]}, seed=-1), "seed must be an integer"),
    ("Sweep/axis-and-option", lambda c: bv.Sweep(_cell, {"x": [1]}, options={"x": 2}), "'x' is both"),
    ("Sweep/command-option", lambda c: bv.Sweep("volume", {"seed": [1]}), "'seed' is not an option"),
    ("Sweep.run/executor", lambda c: bv.Sweep(_cell, {"x": [1]}).run("/nonexistent/s", executor="mpi"),
     "executor must be one of inline, processes, ray"),
    ("Sweep.run/workers", lambda c: bv.Sweep(_cell, {"x": [1]}).run("/nonexistent/s", workers=0),
     "workers must be a positive integer"),
    ("open_study/no-study", lambda c: bv.open_study("/nonexistent/study"), "holds no study"),
    ("shard_map_keys/not-keys", lambda c: bv.shard_map_keys(lambda k: k, jnp.zeros(3)), "keys must be"),
    ("ModelClass/not-callable", lambda c: bv.ModelClass(3), "model"),
    ("ModelClass/unknown-observed", lambda c: bv.ModelClass(c.lin.model_class.model, observed="nope",
                                                            x=c.x), "nope"),
    ("ModelClass/unknown-argument", lambda c: bv.ModelClass(c.lin.model_class.model, x=c.x, zz=1), "zz"),
    # ---- approximate mixtures, named ERMs and the mixture gap
    ("predictive_log_loss/erm_min_norm-not-least-squares",
     lambda c: bv.predictive_log_loss(c.kmc, "erm_min_norm", c.kx, c.kx, key=K), "least-squares|Normal"),
    ("predictive_log_loss/erm_gd-bad-init",
     lambda c: bv.predictive_log_loss(c.kmc, "erm_gd", c.kx, c.kx, key=K, options={"gd_init": "ones"}),
     "gd_init"),
    ("predictive_log_loss/laplace_ggn-rank-0",
     lambda c: bv.predictive_log_loss(c.kmc, "laplace_ggn", c.kx, c.kx, key=K, options={"rank": 0}), "rank"),
    ("min_norm_erm/rcond-negative",
     lambda c: bv.min_norm_erm(c.lmc, c.y, {"x": c.x}, rcond=-1.0), "rcond"),
    ("flat_directions/z-shape", lambda c: bv.flat_directions(c.lmc, jnp.zeros(3), c.y, {"x": c.x}), "z"),
    ("flat_directions/rcond-negative",
     lambda c: bv.flat_directions(c.lmc, jnp.zeros(2), c.y, {"x": c.x}, rcond=-1.0), "rcond"),
    ("flat_directions/num_rows-beyond",
     lambda c: bv.flat_directions(c.lmc, jnp.zeros(2), c.y, {"x": c.x}, num_rows=7), "num_rows"),
    ("sgld/step_size-negative",
     lambda c: bv.regret.sgld.sgld(c.lmc, c.y, key=K, step_size=-0.1, x=c.x), "step_size"),
    ("mixture_gap/methods-string",
     lambda c: bv.mixture_gap(c.kmc, c.kt, 5, "laplace_ggn", [1], key=K), "methods"),
    ("mixture_gap/method-unknown",
     lambda c: bv.mixture_gap(c.kmc, c.kt, 5, ["oracle"], [1], key=K), "oracle"),
    ("mixture_gap/budget-0", lambda c: bv.mixture_gap(c.kmc, c.kt, 5, ["sgld"], [0], key=K), "budgets"),
    ("mixture_gap/n-0", lambda c: bv.mixture_gap(c.kmc, c.kt, 0, ["sgld"], [1], key=K), "n"),
    ("mixture_gap/reference-unknown",
     lambda c: bv.mixture_gap(c.kmc, c.kt, 5, ["sgld"], [1], key=K, reference="truth"), "reference"),
    ("mixture_gap/method_options-stray",
     lambda c: bv.mixture_gap(c.kmc, c.kt, 5, ["sgld"], [1], key=K, method_options={"map": {}}), "map"),
    # ---- data-sequential SMC
    ("sequential_smc/grid-beyond-rows",
     lambda c: bv.sequential_smc(c.kmc, c.kx, key=K, grid=[2, 9], n=4), "grid"),
    ("sequential_smc/grid-unsorted",
     lambda c: bv.sequential_smc(c.kmc, c.kx, key=K, grid=[3, 2], n=4), "grid"),
    ("sequential_smc/target_ess-1", lambda c: bv.sequential_smc(c.kmc, c.kx, key=K, target_ess=1.0, n=4),
     "target_ess"),
    ("sequential_smc/num_particles-1",
     lambda c: bv.sequential_smc(c.kmc, c.kx, key=K, num_particles=1, n=4), "num_particles"),
    ("sequential_smc/num_mcmc_steps-negative",
     lambda c: bv.sequential_smc(c.kmc, c.kx, key=K, num_mcmc_steps=-1, n=4), "num_mcmc_steps"),
    ("sequential_smc/key-int", lambda c: bv.sequential_smc(c.kmc, c.kx, key=3, n=4), "key"),
    ("regret_curve/mixture_method-unknown",
     lambda c: bv.regret_curve(c.kmc, c.kt, [2], [0], key=K, mixture_method="mcmc"), "mixture_method"),
    # issue 15: the volume front door, importance sampling, B_n
    ("volume/method-unknown", lambda c: bv.volume(c.kmc, c.kp, EPS2, method="magic", key=K, n=1), "method"),
    ("volume/key-missing", lambda c: bv.volume(c.kmc, c.kp, EPS2, n=1), "key"),
    ("volume/key-int", lambda c: bv.volume(c.kmc, c.kp, EPS2, key=3, n=1), "key"),
    ("importance_volume/eps2-negative",
     lambda c: bv.importance_volume(c.kmc, c.kp, [-1.0], key=K, n=1), "eps2"),
    ("importance_volume/num_draws-small",
     lambda c: bv.importance_volume(c.kmc, c.kp, EPS2, key=K, num_draws=3, n=1), "num_draws"),
    ("importance_volume/params-outside-support",
     lambda c: bv.importance_volume(c.kmc, {"p": 1.5}, EPS2, key=K, n=1), "p"),
    ("gibbs_bound/n-negative",
     lambda c: bv.gibbs_bound(c.kmc, c.kp, [-1.0], key=K, covariates={"n": 1}), "n must be"),
    ("gibbs_bound/defensive-above-1",
     lambda c: bv.gibbs_bound(c.kmc, c.kp, [10.0], key=K, defensive=1.5, covariates={"n": 1}), "defensive"),
    ("gibbs_bound/key-str",
     lambda c: bv.gibbs_bound(c.kmc, c.kp, [10.0], key="k", covariates={"n": 1}), "key"),
    ("fit_projection/adam_steps-0",
     lambda c: bv.fit_projection(c.lmc, c.y, key=K, adam_steps=0, x=c.x), "adam_steps"),
    ("fit_projection/key-str", lambda c: bv.fit_projection(c.lmc, c.y, key="k", x=c.x), "key"),
    ("network_regret/ns-beyond-data",
     lambda c: bv.network_regret(c.lmc, c.y, jnp.zeros(c.lmc.dim), [2, 7], [0], ["plugin"], key=K, x=c.x),
     "ns must be increasing integers in \\[1, 6\\]"),
    ("network_regret/reference-shape",
     lambda c: bv.network_regret(c.lmc, c.y, jnp.zeros(1), [2], [0], ["plugin"], key=K, x=c.x),
     "reference_z must be a flat z of shape"),
    ("network_regret/predictor-str",
     lambda c: bv.network_regret(c.lmc, c.y, jnp.zeros(c.lmc.dim), [2], [0], "plugin", key=K, x=c.x),
     "predictors must be a non-empty list"),
    ("network_study/split-1",
     lambda c: bv.network_study(c.lmc, c.y, [2], [0], ["plugin"], key=K, split=1.0, x=c.x), "split"),
    ("network_study/projection-unknown",
     lambda c: bv.network_study(c.lmc, c.y, [2], [0], ["plugin"], key=K, projection="mle", x=c.x),
     "projection must be one of \\('map', 'erm'\\)"),
    ("network_study/labels-unknown",
     lambda c: bv.network_study(c.lmc, c.y, [2], [0], ["plugin"], key=K, labels="truth", x=c.x),
     "labels must be one of \\('data', 'theta_star'\\)"),
    ("network_study/labels-repeated",
     lambda c: bv.network_study(c.lmc, c.y, [2], [0], ["plugin"], key=K, labels=["data", "data"], x=c.x),
     "labels must be one of .* or a list of distinct ones"),
    ("network_regret/labels-list",
     lambda c: bv.network_regret(c.lmc, c.y, jnp.zeros(c.lmc.dim), [2], [0], ["plugin"], key=K,
                                 labels=["theta_star"], x=c.x), "labels must be one of"),
]


@pytest.mark.parametrize("call, pattern", [pytest.param(f, p, id=i) for i, f, p in CASES])
def test_bad_input_is_a_clear_error(ctx, call, pattern):
    start = time.perf_counter()
    with pytest.raises(bv.BayesvolError, match=pattern) as info:
        call(ctx)
    assert "\n" not in str(info.value).strip() or len(str(info.value)) < 400
    # raised at the front door: far less than any sampling or fitting would take
    assert time.perf_counter() - start < 5.0


def test_case_count():
    assert len({i for i, _, _ in CASES}) == len(CASES) >= 60


def test_lists_of_numbers_are_data(ctx):
    """Rectangular nested lists of numbers are accepted wherever arrays are, with the same numbers."""
    as_list = bv.log_marginal(ctx.kmc, [0, 1, 1, 0], exact_log_marginal=ctx.kt.log_mixture, n=4)
    as_array = bv.log_marginal(ctx.kmc, ctx.kx, exact_log_marginal=ctx.kt.log_mixture, n=4)
    assert float(as_list.value) == float(as_array.value)
    loss = bv.predictive_log_loss(ctx.lmc, "plugin", np.asarray(ctx.y).tolist(), np.asarray(ctx.y).tolist(),
                                  key=K, train_covariates={"x": np.asarray(ctx.x).tolist()},
                                  test_covariates={"x": ctx.x})
    assert np.all(np.isfinite(loss.log_loss))
