"""Regret of predictors against the truth (or its projection), over sample sizes and seeds (nats).

For a reference P_ref — the truth P_θ0 when it lies in the class (realizable), else the projection
P_θ* = argmax_θ E_P log P_θ fitted by maximum likelihood on a large sample (agnostic) — and a predictor q:

* **online (cumulative)** R_n = log P_ref(x^n) − log Q(x^n), for the Bayes mixture Q, at every n of the
  grid from one data set per seed (exact log-marginal, or one data-sequential SMC run);
* **batch / supervised** r(n) = E_{(x,y)} [log P_ref(y | x) − log q(y | x; S_n)], the excess test log loss
  after n training data, averaged over ``num_test`` fresh draws from the truth (for a generative class
  this is the batch regret r_{n+1} of DESIGN.md §1; for a supervised one the supervised regret r_n);
* expected regret = the mean over seeds, with its standard error.
Chain rule: E R_N − E R_1 = Σ_{n=1}^{N−1} E r(n) (a consistency check between the two code paths).

**Truth.** A :class:`Truth` holds a sampler of (covariates, data) and, when known, the truth's own
log-likelihood. Any object with ``model_class``, ``true_params``, ``sample_covariates(key, m)`` and
``simulate(key, n)`` (e.g. a zoo entry) converts with :func:`as_truth`; :func:`dataset_truth` makes the
empirical distribution of a finite data set the truth (rows drawn with replacement), its projection θ*
fitted on the whole data set.

**Bounds.** From a volume curve V(t) on a grid t_1 < … < t_K, :func:`volume_bounds` returns
B_n = −log ∫ e^{−nt} dV(t) and min_t [n t − log V(t)] (DESIGN.md §1), through
``bayesvol.volume.bounds.regret_bound``
(closed form for a Laplace curve, else its Riemann bracket's midpoint).
"""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import xarray as xr

from bayesvol.errors import InputError, as_key, check_counts
from bayesvol.inference.evidence import sequential_log_marginal
from bayesvol.inference.fit import ESS_MIN, RHAT_MAX, SamplerWarning, prepare_data
from bayesvol.inference.smc import SMCRun, sequential_smc
from bayesvol.model.covariates import RowLayout, infer_layout, num_rows
from bayesvol.model.model_class import Array, ModelClass, ModelClassError
from bayesvol.regret import approx as _approx  # noqa: F401  (registers laplace_ggn, sgd_ensemble, quadrature)
from bayesvol.regret import named_erm as _named_erm  # noqa: F401  (registers erm_min_norm, erm_gd)
from bayesvol.regret.erm import erm, log_likelihood
from bayesvol.regret.predictors import PREDICTORS, exact_log_q, mixture_log_prob, predictive_log_loss
from bayesvol.volume.bounds import regret_bound
from bayesvol.volume.curve import VolumeCurve

__all__ = [
    "Truth",
    "as_truth",
    "compare",
    "dataset_truth",
    "model_truth",
    "online_regret",
    "regret_curve",
    "volume_bounds",
]

Sampler = Callable[[Array, int], tuple[dict[str, Any], Array]]


@dataclass(frozen=True)
class Truth:
    """A data-generating process P.

    Attributes
    ----------
    simulate : ``(key, n) -> (covariates, data)``
        Draws n rows from P (a training set; rows may be dependent, e.g. a Markov chain).
    sample_test : ``(key, m) -> (covariates, data)``
        Draws m independent test rows from P (for the supervised / batch regret).
    model_class, params : optional
        P's own class and parameters, when P is a model: log P(data) is then its log-likelihood.
        ``None`` for a data set (the regret is then measured against the projection θ*).

    """

    simulate: Sampler
    sample_test: Sampler
    model_class: ModelClass | None = None
    params: Mapping[str, Array] | None = None

    def log_likelihood(self, data: Any, covariates: Mapping[str, Any]) -> Array:
        """Per-datum log P(data_i | covariates_i) under the truth (nats)."""
        if self.model_class is None or self.params is None:
            raise ModelClassError("this truth has no likelihood of its own (a data set): use its projection")
        z = self.model_class.flatten(self.params)
        return log_likelihood(self.model_class, z, data, covariates)


def model_truth(mc: ModelClass, params: Mapping[str, Any],
                sample_covariates: Callable[[Array, int], Mapping[str, Any]] | None = None) -> Truth:
    """The truth P_θ0 of a model class at true parameters ``params`` (a dict of constrained site values).

    A supervised class needs ``sample_covariates(key, m) -> {argument: rows}`` (the covariate
    distribution); a generative one draws its rows through its row count (``n``).
    """
    if not isinstance(mc, ModelClass):
        raise InputError(f"model_truth needs a bv.ModelClass, got {type(mc).__name__}")
    mc.flatten(params)  # validates the sites, shapes and supports now, not deep inside a run
    layout = mc.row_layout
    if layout.rows and sample_covariates is None:
        raise InputError(
            f"the class reads per-row covariates {list(layout.rows)}: pass sample_covariates=(key, m) -> "
            f"{{{', '.join(repr(k) for k in layout.rows)}: ...}} to draw them")

    def covariates_for(key: Array, m: int) -> dict[str, Any]:
        if sample_covariates is not None:
            return dict(sample_covariates(key, m))
        return {layout.count: int(m)} if layout.count is not None else {}

    def simulate(key: Array, n: int) -> tuple[dict[str, Any], Array]:
        key_x, key_y = jax.random.split(key)
        covariates = covariates_for(key_x, n)
        return covariates, mc.simulate(key_y, params, covariates=covariates)

    return Truth(simulate=simulate, sample_test=simulate, model_class=mc, params=dict(params))


def as_truth(obj: Any, mc: ModelClass | None = None) -> Truth:
    """A :class:`Truth` from itself, a zoo-like object or a dict of true parameters of ``mc``.

    A zoo-like object has ``model_class``, ``true_params``, ``sample_covariates`` and ``simulate``; a dict
    of true parameters goes through :func:`model_truth` (generative classes; a supervised class needs its
    covariate sampler: call :func:`model_truth` yourself).
    """
    if isinstance(obj, Truth):
        return obj
    if isinstance(obj, Mapping):
        if mc is None:
            raise InputError("a dict of true parameters needs the model class it belongs to")
        return model_truth(mc, obj)
    needed = ("model_class", "true_params", "sample_covariates", "simulate")
    missing = [name for name in needed if not hasattr(obj, name)]
    if missing:
        raise InputError(
            f"truth must be a dict of true parameters, a bv.Truth (bv.model_truth(mc, params, "
            f"sample_covariates) or bv.dataset_truth(data, ...)), or a zoo entry; got {type(obj).__name__}")
    mc, params = obj.model_class, obj.true_params

    def sample_test(key: Array, m: int) -> tuple[dict[str, Any], Array]:
        key_x, key_y = jax.random.split(key)
        covariates = obj.sample_covariates(key_x, m)
        return covariates, mc.simulate(key_y, params, covariates=covariates)

    return Truth(simulate=obj.simulate, sample_test=sample_test, model_class=mc, params=params)


def dataset_truth(data: Any, *, covariates: Mapping[str, Any] | None = None, mc: ModelClass | None = None,
                  **model_kwargs: Any) -> Truth:
    """The empirical distribution of a data set as the truth: rows drawn uniformly with replacement.

    With the model class ``mc`` the data (an array or a mapping {site: value}) and covariates are
    validated against it and its row layout says which covariates are per-row; without it, arrays with
    as many rows as the data are per-row (:func:`bayesvol.model.covariates.infer_layout`).
    """
    if mc is not None:
        data, covariates = prepare_data(mc, data, covariates, model_kwargs)
        layout: RowLayout = mc.row_layout
    else:
        covariates = {**dict(covariates or {}), **model_kwargs}
        data = jnp.asarray(data)
        layout = infer_layout(num_rows(data), covariates)
    rows = num_rows(data)
    if rows < 1 or jnp.ndim(data) == 0:
        raise InputError(f"dataset_truth needs a data set with rows, got shape {tuple(jnp.shape(data))}")

    def sample(key: Array, n: int) -> tuple[dict[str, Any], Array]:
        taken, cov = layout.take(data, covariates, jax.random.randint(key, (n,), 0, rows))
        return cov, taken

    truth = Truth(simulate=sample, sample_test=sample)
    object.__setattr__(truth, "_full", (covariates, data))
    return truth


# ----------------------------------------------------------------------------------------- bounds
def _integers(values: Any, name: str) -> list[int]:
    try:
        out = [int(v) for v in np.atleast_1d(np.asarray(values))]
    except (TypeError, ValueError):
        raise InputError(f"{name} must be a sequence of integers, got {values!r}") from None
    if any(float(v) != float(w) for v, w in zip(out, np.atleast_1d(np.asarray(values)))):
        raise InputError(f"{name} must be integers, got {values!r}")
    return out


def volume_bounds(curve: VolumeCurve, ns: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
    """B_n = −log ∫ e^{−nt} dV(t) and min_t [n t − log V(t)] for each n (nats), from a volume curve.

    Thin wrapper of :func:`bayesvol.volume.bounds.regret_bound` (closed form for a Laplace curve, else the
    midpoint of its Riemann bracket) that ignores the points a sampler could not reach (NaN).
    """
    log_v = np.asarray(curve.log_volume, dtype=float)
    keep = np.isfinite(log_v)
    if not keep.any():
        raise InputError("the volume curve has no finite point")
    if not keep.all():
        curve = dataclasses.replace(
            curve, eps2=np.asarray(curve.eps2)[keep], log_volume=log_v[keep],
            stderr=np.asarray(curve.stderr)[keep], volume_dimension=np.asarray(curve.volume_dimension)[keep],
            volume_dimension_stderr=np.asarray(curve.volume_dimension_stderr)[keep])
    result = regret_bound(curve, np.asarray(ns))
    return np.asarray(result.gibbs), np.asarray(result.ball)


# ----------------------------------------------------------------------------------------- regret
def online_regret(
    mc: ModelClass,
    params: Mapping[str, Any],
    data: Any,
    ns: Sequence[int] | None = None,
    *,
    key: Array | None = None,
    exact_log_marginal: Callable[..., Array] | None = None,
    smc_options: Mapping[str, Any] | None = None,
    covariates: Mapping[str, Any] | None = None,
    **model_kwargs: Any,
) -> tuple[np.ndarray, np.ndarray]:
    """R_n = log P_params(x^n) − log Q(x^n) of one data set for every n in ``ns`` (default 1…N), nats.

    Exact with ``exact_log_marginal``; otherwise from one data-sequential SMC run (``key`` needed).
    Returns (R_n, stderr) arrays over ``ns``; the stderr is 0 on the exact path.
    """
    data, model_kwargs = prepare_data(mc, data, covariates, model_kwargs)
    rows = num_rows(data)
    ns_arr = np.arange(1, rows + 1) if ns is None else np.asarray([int(n) for n in ns])
    if ns_arr.size == 0 or ns_arr.min() < 1 or ns_arr.max() > rows:
        raise InputError(f"ns must lie in [1, {rows}] (the rows of data), got {ns_arr.tolist()}")
    log_ref = np.cumsum(np.asarray(log_likelihood(mc, mc.flatten(params), data, model_kwargs)))
    if exact_log_marginal is not None:
        prefixes = (mc.row_layout.prefix(data, model_kwargs, n) for n in ns_arr)
        log_q = np.asarray([float(exact_log_q(mc, exact_log_marginal, x, cov)) for x, cov in prefixes])
        return log_ref[ns_arr - 1] - log_q, np.zeros(ns_arr.size)
    if key is None:
        raise InputError("online_regret needs key= for data-sequential SMC (no exact_log_marginal given)")
    curve = sequential_log_marginal(mc, data, key=key, **dict(smc_options or {}), covariates=model_kwargs)
    return log_ref[ns_arr - 1] - curve.log_q[ns_arr - 1], curve.stderr[ns_arr - 1]


def _reference(mc: ModelClass, truth: Truth, key: Array, projection_size: int
               ) -> tuple[Callable[[Any, Mapping[str, Any]], Array], bool, Array | None]:
    """The reference log-likelihood: the truth's own (realizable) or the projection P_θ* (agnostic)."""
    realizable = truth.model_class is not None and (
        truth.model_class is mc or truth.model_class.model is mc.model)
    if realizable:
        return truth.log_likelihood, True, None
    full = getattr(truth, "_full", None)
    covariates, data = full if full is not None else truth.sample_test(key, projection_size)
    z_star = erm(mc, data, key=jax.random.fold_in(key, 1), covariates=covariates).z

    def log_lik(data: Any, covariates: Mapping[str, Any]) -> Array:
        return log_likelihood(mc, z_star, data, covariates)

    return log_lik, False, z_star


def _check_predictors(predictors: Sequence[str]) -> None:
    if isinstance(predictors, str):
        raise InputError(f"predictors must be a sequence of names, got the string {predictors!r}")
    unknown = [p for p in predictors if p not in PREDICTORS]
    if unknown:
        raise InputError(f"unknown predictor(s) {unknown}; choose from {tuple(PREDICTORS)}")


def summarize_over_seeds(ds: xr.Dataset) -> None:
    """Add the means and standard errors of ``regret`` and ``online_regret`` over the seed axis, in place.

    The standard error is the seeds' spread / √(seeds with a value); NaN with a single seed.
    """
    seeds = ds.sizes["seed"]
    for name in ("regret", "online_regret"):
        values = ds[name]
        count = values.notnull().sum("seed")
        ds[f"{name}_mean"] = values.mean("seed")
        with np.errstate(invalid="ignore", divide="ignore"):
            ds[f"{name}_stderr"] = (values.std("seed", ddof=1) / np.sqrt(count) if seeds > 1
                                    else values.mean("seed") * np.nan)


def regret_curve(
    mc: ModelClass,
    truth: Any,
    ns: Sequence[int],
    seeds: Sequence[int],
    predictors: Sequence[str] = ("mixture", "plugin"),
    *,
    key: Array,
    exact_log_marginal: Callable[..., Array] | None = None,
    num_test: int = 200,
    online: bool = True,
    volume_curves: VolumeCurve | Mapping[str, VolumeCurve] | None = None,
    projection_size: int = 20000,
    predictor_options: Mapping[str, Any] | None = None,
    smc_options: Mapping[str, Any] | None = None,
    on_seed: Callable[[int], None] | None = None,
    on_seed_result: Callable[[int, xr.Dataset], None] | None = None,
    mixture_method: str = "smc",
) -> xr.Dataset:
    """Regret of each predictor for every n in ``ns`` and every seed, with means and standard errors.

    Parameters
    ----------
    mc
        The model class whose predictors are scored.
    truth
        A :class:`Truth`, or a zoo-like object (see :func:`as_truth`).
    ns
        Training-set sizes (increasing); the largest is drawn once per seed and the others are its
        prefixes, so the online regret of every n comes from one run.
    seeds
        Non-negative integer seeds: data set s is drawn from ``jax.random.fold_in(key, s)``.
    predictors
        Names from ``bayesvol.regret.predictors.PREDICTORS``.
    key
        JAX PRNG key.
    exact_log_marginal
        Exact log Q(data, **covariates) for conjugate classes (exact mixture and online regret).
    num_test
        Fresh test rows per seed and n for the batch / supervised regret.
    online
        Whether to compute the online regret R_n of the mixture (data-sequential SMC when not exact);
        with ``predictors=()`` only the online regret is computed.
    volume_curves
        A VolumeCurve (or a dict of them by name): the bounds B_n and min_t [n t + Comp(t)] are added.
    projection_size
        Rows drawn from an agnostic truth to fit the projection θ*.
    predictor_options, smc_options
        Extra keyword arguments for :func:`~bayesvol.regret.predictors.predictive_log_loss` and the
        data-sequential SMC (:func:`~bayesvol.inference.smc.sequential_smc` with ``mixture_method="smc"``,
        :func:`~bayesvol.inference.evidence.sequential_log_marginal` with ``"nuts"``).
    on_seed
        Called with each seed once its data set is done (progress reporting).
    on_seed_result
        Called with each seed and its results once its data set is done (saving as it goes): a Dataset
        with ``regret`` (predictor, n) and ``online_regret`` (n) of that seed, attribute ``seed``.
    mixture_method
        How the mixture is computed without ``exact_log_marginal``: ``"smc"`` (default) — one
        data-sequential SMC run per seed (:func:`~bayesvol.inference.smc.sequential_smc`) gives log Q(x^n)
        (online regret) and the weighted posterior sample (the "mixture" predictor's batch regret) at every
        n of ``ns``; ``"nuts"`` — a NUTS refit per (n, seed) for the batch regret and a separate
        data-sequential SMC for the online regret (the route before SMC).

    Returns
    -------
    xarray.Dataset
        ``regret`` (predictor, n, seed): excess test log loss r(n); ``online_regret`` (n, seed): R_n of
        the mixture; ``*_mean`` / ``*_stderr`` over seeds; ``num_infinite`` (predictor, n): seeds whose
        test log loss was +∞; ``gradient_evaluations`` (predictor, n, seed): per-datum gradients each
        predictor took, where counted; ``erm_spread`` (predictor, n, seed): for an ERM from several
        starts, the largest distance (z units) between the best fit and another start's equally good
        one (> 0: the empirical-risk minimizers are not a point); ``erm_flat_directions`` (predictor, n,
        seed): for an ERM ("plugin", "erm_min_norm", "erm_gd"), d − the numerical rank of the Jacobian
        of the training rows' outputs at the fit (rcond = max(rows, d)·ε), the dimension of the set of
        minimizers near it, which the spread misses where no other start reaches it; with volume curves,
        ``bound_gibbs`` / ``bound_ball`` (curve, n); with a sampled mixture, its NUTS fit per (n, seed):
        ``fit_rhat`` (largest R-hat; NaN with one chain),
        ``fit_ess_bulk`` (smallest bulk ESS), ``fit_divergences`` and ``fit_ok`` — one
        :class:`~bayesvol.SamplerWarning` sums up the fits that failed a diagnostic. With the SMC mixture,
        per (n, seed): ``smc_ess`` (ESS of the weighted sample kept at n, particles), ``smc_ess_min``
        (smallest ESS over the data up to n), ``smc_acceptance`` (mean HMC acceptance of the moves up to
        n), ``smc_resample_steps``, ``smc_tempering_steps`` and ``smc_gradients`` (cumulative up to n) and
        ``smc_ok``; one :class:`~bayesvol.SamplerWarning` sums up the runs that failed a health check.
        Attributes: ``realizable`` and, agnostic, ``projection`` (θ* as flat z).

    """
    ns = _integers(ns, "ns")
    seeds = _integers(seeds, "seeds")
    if not ns or any(n < 1 for n in ns) or sorted(ns) != ns or len(set(ns)) != len(ns):
        raise InputError(f"ns must be increasing positive integers, got {ns}")
    if not seeds or min(seeds) < 0:
        raise InputError(f"seeds must be non-empty non-negative integers, got {seeds}")
    _check_predictors(predictors)
    check_counts(num_test=num_test)
    if mixture_method not in ("smc", "nuts"):
        raise InputError(f"mixture_method must be 'smc' or 'nuts', got {mixture_method!r}")
    key = as_key(key)
    truth = as_truth(truth, mc)
    # one SMC run per seed serves the online regret and the "mixture" predictor at every n
    use_smc = exact_log_marginal is None and mixture_method == "smc" and (online or "mixture" in predictors)
    smc = _SmcHealth(len(ns), len(seeds)) if use_smc else None
    if use_smc and "num_repeats" in dict(smc_options or {}):
        raise InputError("smc_options: num_repeats belongs to mixture_method='nuts' (its online regret); "
                         "with 'smc' each seed is one run and the seeds give the standard error")
    full = getattr(truth, "_full", None)
    if full is not None and ns[-1] > int(jnp.shape(full[1])[0]):
        raise InputError(f"n = {ns[-1]} is larger than the data set ({jnp.shape(full[1])[0]} rows)")
    options = dict(predictor_options or {})
    key_reference, key = jax.random.split(key)
    reference, realizable, z_star = _reference(mc, truth, key_reference, projection_size)
    n_max = ns[-1]
    regret = np.full((len(predictors), len(ns), len(seeds)), np.nan)
    online_regret = np.full((len(ns), len(seeds)), np.nan)
    infinite = np.zeros((len(predictors), len(ns)), dtype=int)
    # the sampled mixture's NUTS fit per (n, seed): NaN / −1 where there was none
    fit_rhat = np.full((len(ns), len(seeds)), np.nan)
    fit_ess = np.full((len(ns), len(seeds)), np.nan)
    fit_divergences = np.full((len(ns), len(seeds)), -1)
    fit_ok = np.zeros((len(ns), len(seeds)), dtype=bool)
    fitted = np.zeros((len(ns), len(seeds)), dtype=bool)
    # each predictor's cost and, for an ERM, how far apart its starts' equally good fits lie (NaN: none)
    gradients = np.full((len(predictors), len(ns), len(seeds)), np.nan)
    spread = np.full((len(predictors), len(ns), len(seeds)), np.nan)
    flat = np.full((len(predictors), len(ns), len(seeds)), np.nan)
    for j, seed in enumerate(seeds):
        key_s = jax.random.fold_in(key, seed)
        key_data, key_test, key_fit, key_smc = jax.random.split(key_s, 4)
        covariates, data = truth.simulate(key_data, n_max)
        data, covariates = prepare_data(mc, data, None, covariates)
        run = None
        if smc is not None:
            run = sequential_smc(mc, data, key=key_smc, grid=ns, warn=False, **dict(smc_options or {}),
                                 covariates=covariates)
            smc.record(run, j)
        if online:
            log_ref = np.cumsum(np.asarray(reference(data, covariates)))
            if run is not None:
                online_regret[:, j] = log_ref[np.asarray(ns) - 1] - run.log_q[np.asarray(ns) - 1]
            elif exact_log_marginal is not None:
                for i, n in enumerate(ns):
                    train, train_cov = mc.row_layout.prefix(data, covariates, n)
                    online_regret[i, j] = log_ref[n - 1] - float(exact_log_q(mc, exact_log_marginal, train,
                                                                             train_cov))
            else:
                curve = sequential_log_marginal(mc, data, key=key_smc, **dict(smc_options or {}),
                                                covariates=covariates)
                online_regret[:, j] = log_ref[np.asarray(ns) - 1] - curve.log_q[np.asarray(ns) - 1]
        for i, n in enumerate(ns if predictors else []):
            test_cov, test = truth.sample_test(jax.random.fold_in(key_test, n), num_test)
            log_ref_test = np.asarray(reference(test, test_cov))
            for p, name in enumerate(predictors):
                if run is not None and name == "mixture":
                    # the weighted SMC sample after n data: Q(y | x; x^n) = Σ_i W_i P_{z_i}(y | x)
                    log_q = np.asarray(mixture_log_prob(mc, jnp.asarray(run.particles[i]), test, test_cov,
                                                        log_weights=jnp.asarray(run.log_weights[i])))
                    infinite[p, i] += bool(np.any(np.isinf(log_q)))
                    regret[p, i, j] = float(np.mean(log_ref_test - log_q))
                    continue
                with warnings.catch_warnings():
                    # one warning for all the fits, after the loop (their figures go in the dataset)
                    warnings.filterwarnings("ignore", category=SamplerWarning)
                    # the whole data set with num_train = n: one compilation serves every n
                    loss = predictive_log_loss(
                        mc, name, data, test, key=jax.random.fold_in(key_fit, n),
                        train_covariates=covariates, test_covariates=test_cov, num_train=n,
                        exact_log_marginal=exact_log_marginal, validate=False, **options)
                if loss.posterior is not None:
                    post = loss.posterior
                    fitted[i, j], fit_ok[i, j] = True, post.ok
                    fit_rhat[i, j] = max(post.rhat.values())
                    fit_ess[i, j] = min(post.ess_bulk.values())
                    fit_divergences[i, j] = post.divergences
                infinite[p, i] += loss.num_infinite > 0
                if loss.gradient_evaluations is not None:
                    gradients[p, i, j] = loss.gradient_evaluations
                if loss.erm_spread is not None:
                    spread[p, i, j] = loss.erm_spread
                if loss.erm_flat_directions is not None:
                    flat[p, i, j] = loss.erm_flat_directions
                regret[p, i, j] = float(np.mean(np.asarray(loss.log_loss) + log_ref_test))
        if on_seed is not None:
            on_seed(seed)
        if on_seed_result is not None:
            seed_ds = xr.Dataset(
                {"regret": (("predictor", "n"), regret[:, :, j].copy()),
                 "online_regret": ("n", online_regret[:, j].copy())},
                coords={"predictor": list(predictors), "n": ns}, attrs={"seed": seed, "units": "nats"})
            if fitted[:, j].any():  # the seed's NUTS health too, so a resumed run loses nothing
                seed_ds = seed_ds.assign(fit_rhat=("n", fit_rhat[:, j].copy()),
                                         fit_ess_bulk=("n", fit_ess[:, j].copy()),
                                         fit_divergences=("n", fit_divergences[:, j].copy()),
                                         fit_ok=("n", fit_ok[:, j].copy()))
            on_seed_result(seed, seed_ds)
    dims = ("predictor", "n", "seed")
    coords = {"predictor": list(predictors), "n": ns, "seed": seeds}
    ds = xr.Dataset(
        {"regret": (dims, regret), "online_regret": (("n", "seed"), online_regret),
         "num_infinite": (("predictor", "n"), infinite)},
        coords=coords,
    )
    summarize_over_seeds(ds)
    if np.isfinite(gradients).any():
        ds["gradient_evaluations"] = (dims, gradients)
    if np.isfinite(spread).any():
        ds["erm_spread"] = (dims, spread)
    if np.isfinite(flat).any():
        ds["erm_flat_directions"] = (dims, flat)
        ds["erm_flat_directions"].attrs.update(
            description="d − numerical rank of the training outputs' Jacobian at the ERM fit (NaN: not "
                        "an ERM, or a likelihood without η)",
            rcond="max(rows, d)·ε₆₄ × the largest singular value")
    if volume_curves is not None:
        curves = {"volume": volume_curves} if isinstance(volume_curves, VolumeCurve) else dict(volume_curves)
        gibbs, ball = zip(*(volume_bounds(c, ns) for c in curves.values()), strict=True)
        ds["bound_gibbs"] = (("curve", "n"), np.asarray(gibbs))
        ds["bound_ball"] = (("curve", "n"), np.asarray(ball))
        ds = ds.assign_coords(curve=list(curves))
    if smc is not None:
        smc.add_to(ds, ns, seeds)
    if fitted.any():
        ds["fit_rhat"] = (("n", "seed"), fit_rhat)
        ds["fit_ess_bulk"] = (("n", "seed"), fit_ess)
        ds["fit_divergences"] = (("n", "seed"), fit_divergences)
        ds["fit_ok"] = (("n", "seed"), fit_ok)
        _warn_unhealthy_fits(fitted, fit_ok, fit_rhat, fit_ess, fit_divergences, ns, seeds)
    ds.attrs.update(realizable=int(realizable), num_test=num_test, units="nats")
    if z_star is not None:
        ds.attrs["projection"] = np.asarray(z_star)
    for name in ("regret", "online_regret"):
        ds[name].attrs.update(units="nats")
    return ds


class _SmcHealth:
    """The SMC runs' health per (n, seed) of a regret curve, and one warning for all of them."""

    def __init__(self, num_n: int, num_seeds: int):
        shape = (num_n, num_seeds)
        self.ess, self.ess_min, self.acceptance = np.full(shape, np.nan), np.full(shape, np.nan), \
            np.full(shape, np.nan)
        self.resample, self.tempering, self.gradients = (np.zeros(shape, dtype=np.int64) for _ in range(3))
        self.ok = np.ones(shape, dtype=bool)
        self.problems: list[tuple[int, list[str]]] = []

    def record(self, run: SMCRun, j: int) -> None:
        w = np.exp(run.log_weights)
        self.ess[:, j] = 1.0 / np.sum(w**2, axis=1)
        for i, n in enumerate(run.grid):
            moved = run.num_resample[:n]
            self.ess_min[i, j] = float(run.ess[:n].min())
            self.acceptance[i, j] = float(np.sum(np.nan_to_num(run.acceptance[:n]) * moved)
                                          / max(int(moved.sum()), 1)) if moved.any() else np.nan
            self.resample[i, j] = int(moved.sum())
            self.tempering[i, j] = int(run.num_tempering[:n].sum())
            self.gradients[i, j] = int(run.num_gradients[:n].sum())
            prefix = run._replace(ess=run.ess[:n], acceptance=run.acceptance[:n], distinct=run.distinct[:n],
                                  capped=bool(np.any(run.num_tempering[:n] >= run.max_tempering)))
            self.ok[i, j] = not prefix.problems()
        problems = run.problems()
        if problems:
            self.problems.append((j, problems))

    def add_to(self, ds: xr.Dataset, ns: Sequence[int], seeds: Sequence[int]) -> None:
        for name, values in (("smc_ess", self.ess), ("smc_ess_min", self.ess_min),
                             ("smc_acceptance", self.acceptance), ("smc_resample_steps", self.resample),
                             ("smc_tempering_steps", self.tempering), ("smc_gradients", self.gradients),
                             ("smc_ok", self.ok)):
            ds[name] = (("n", "seed"), values)
        if self.problems:
            j, first = self.problems[0]
            warnings.warn(
                f"{len(self.problems)} of the {len(seeds)} data-sequential SMC runs of the mixture failed a "
                f"health check (first seed {seeds[j]}: " + "; ".join(first) + "). The mixture's regret "
                "there may be off; the figures per (n, seed) are in the returned dataset (smc_ess, "
                "smc_ess_min, smc_acceptance, smc_ok). What to do: smc_options={'num_particles': ..., "
                "'num_mcmc_steps': ...}", SamplerWarning, stacklevel=3)


def _warn_unhealthy_fits(fitted: np.ndarray, ok: np.ndarray, rhat: np.ndarray, ess: np.ndarray,
                         divergences: np.ndarray, ns: Sequence[int], seeds: Sequence[int]) -> None:
    """One :class:`SamplerWarning` for all the NUTS fits of a regret curve, with the worst figures."""
    bad = fitted & ~ok
    if not bad.any():
        return
    worst_rhat = np.nanmax(np.where(bad, rhat, np.nan)) if np.isfinite(rhat[bad]).any() else np.nan
    lowest_ess = float(np.nanmin(np.where(bad, ess, np.nan)))
    i, j = np.argwhere(bad)[0]
    figures = [f"largest R-hat {worst_rhat:.3f} (threshold {RHAT_MAX})" if np.isfinite(worst_rhat) else None,
               f"smallest bulk ESS {lowest_ess:.0f} (threshold {ESS_MIN:.0f})",
               f"{int(divergences[bad].sum())} divergent transition(s) in all"]
    warnings.warn(
        f"{int(bad.sum())} of the {int(fitted.sum())} NUTS fits of the sampled mixture failed a diagnostic "
        f"(first at n = {ns[i]}, seed {seeds[j]}): " + "; ".join(f for f in figures if f) + ". The mixture's "
        "regret there may be off. Each fit's figures are in the returned dataset (fit_rhat, fit_ess_bulk, "
        "fit_divergences, fit_ok over (n, seed)). What to do: more draws, e.g. "
        "predictor_options={'fit_kwargs': {'num_warmup': 1000, 'num_samples': 1000}}; against divergences, "
        "also 'nuts_kwargs': {'target_accept_prob': 0.95} in fit_kwargs", SamplerWarning, stacklevel=3)


def compare(
    mc: ModelClass,
    data: Any,
    predictors: Sequence[str] = ("mixture", "plugin"),
    *,
    key: Array,
    test_fraction: float = 0.25,
    prequential_starts: Sequence[int] | None = None,
    exact_log_marginal: Callable[..., Array] | None = None,
    predictor_options: Mapping[str, Any] | None = None,
    covariates: Mapping[str, Any] | None = None,
    **model_kwargs: Any,
) -> xr.Dataset:
    """Held-out and prequential log loss of each predictor on a data set without a known truth (nats).

    The rows are shuffled once; the last ``test_fraction`` are held out. Held-out loss: mean −log q over
    the held-out rows after training on the rest. Prequential loss at n: mean −log q(x_{n+1} | x^n) over
    the ``prequential_starts`` n (default: 8 sizes spread over the training rows), each predictor
    refitted on the first n rows.

    Returns
    -------
    xarray.Dataset
        ``heldout`` (predictor) and ``heldout_stderr``; ``prequential`` (predictor, n).

    """
    if not 0.0 < test_fraction < 1.0:
        raise InputError(f"test_fraction must lie in (0, 1), got {test_fraction}")
    _check_predictors(predictors)
    key = as_key(key)
    data, model_kwargs = prepare_data(mc, data, covariates, model_kwargs)
    rows = num_rows(data)
    layout = mc.row_layout
    key_perm, key_fit = jax.random.split(key)
    perm = jax.random.permutation(key_perm, rows)
    data, covariates = layout.take(data, model_kwargs, perm)
    n_train = rows - max(1, round(test_fraction * rows))
    if n_train < 2:
        raise InputError(f"compare needs at least 2 training rows; the data have {rows} rows and "
                         f"test_fraction={test_fraction} leaves {n_train}")
    train, train_cov = layout.take(data, covariates, jnp.arange(n_train))
    test, test_cov = layout.take(data, covariates, jnp.arange(n_train, rows))
    if prequential_starts is None:
        prequential_starts = sorted({int(v) for v in np.geomspace(2, n_train - 1, 8)})
    if any(not 1 <= n < n_train for n in prequential_starts):
        raise InputError(f"prequential_starts must lie in [1, {n_train - 1}], got {list(prequential_starts)}")
    options = dict(predictor_options or {})
    heldout = np.zeros(len(predictors))
    heldout_se = np.zeros(len(predictors))
    preq = np.zeros((len(predictors), len(prequential_starts)))
    for p, name in enumerate(predictors):
        loss = np.asarray(predictive_log_loss(
            mc, name, train, test, key=key_fit, train_covariates=train_cov, test_covariates=test_cov,
            exact_log_marginal=exact_log_marginal, **options).log_loss)
        heldout[p] = loss.mean()
        with np.errstate(invalid="ignore"):  # an infinite loss (ERM on separable data) has no stderr: NaN
            heldout_se[p] = loss.std(ddof=1) / np.sqrt(loss.size) if loss.size > 1 else np.nan
        for i, n in enumerate(prequential_starts):
            # the training rows with num_train = n: the optimizers compile once for every n
            nxt, nxt_cov = layout.take(train, train_cov, jnp.arange(n, n + 1))
            preq[p, i] = float(predictive_log_loss(
                mc, name, train, nxt, key=jax.random.fold_in(key_fit, n), train_covariates=train_cov,
                test_covariates=nxt_cov, exact_log_marginal=exact_log_marginal, validate=False,
                num_train=n, **options).log_loss[0])
    return xr.Dataset(
        {"heldout": ("predictor", heldout), "heldout_stderr": ("predictor", heldout_se),
         "prequential": (("predictor", "n"), preq)},
        coords={"predictor": list(predictors), "n": list(prequential_starts)},
        attrs={"units": "nats", "num_train": n_train, "num_test": rows - n_train},
    )

