"""The mixture gap: how many nats an approximate mixture loses against the exact Bayes mixture.

For training data S of n rows from the truth and m fresh test rows (x_j, y_j), a method q with budget b has

    gap(q, b) = (1/m) Σ_j [log Q(y_j | x_j; S) − log q_b(y_j | x_j; S)]   (nats per test datum),

Q the Bayes posterior predictive: exact (a closed-form ``exact_log_marginal``), by grid quadrature
(``reference="quadrature"``, d ≤ 2) or a long NUTS run (``reference="mixture"`` without an exact
marginal; its own Monte Carlo error is part of the gap). The gap is the difference of the two batch
regrets at n. It is ≥ 0 on average over truths drawn from the prior (the Bayes mixture minimizes the
prior-averaged code length), not for each truth: at a fixed truth an approximation can predict better
than the mixture (a negative gap), e.g. one that shrinks towards where that truth happens to lie.
Means and standard errors are over the seeds (one S and one test set per seed); every method is scored on
the same rows.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import jax
import numpy as np
import xarray as xr

from bayesvol.errors import InputError, as_key, check_counts
from bayesvol.inference.fit import prepare_data
from bayesvol.model.model_class import Array, ModelClass
from bayesvol.regret.approx import BUDGET_OPTIONS
from bayesvol.regret.predictors import PREDICTORS, predictive_log_loss
from bayesvol.regret.regret import as_truth

__all__ = ["mixture_gap"]


def _names(values: Any, what: str) -> list[str]:
    if isinstance(values, str) or not isinstance(values, Sequence) or not values:
        raise InputError(f"{what} must be a non-empty sequence of predictor names, got {values!r}")
    unknown = [v for v in values if v not in PREDICTORS]
    if unknown:
        raise InputError(f"unknown {what} {unknown}; choose from {tuple(PREDICTORS)}")
    return list(values)


def _counts(values: Any, what: str, minimum: int) -> list[int]:
    try:
        out = [int(v) for v in np.atleast_1d(np.asarray(values))]
        same = all(float(v) == float(w) for v, w in zip(out, np.atleast_1d(np.asarray(values))))
    except (TypeError, ValueError):
        out, same = [], False
    if not out or not same or min(out) < minimum:
        raise InputError(f"{what} must be a non-empty sequence of integers ≥ {minimum}, got {values!r}")
    return out


def _budget_options(method: str, budget: int, options: Mapping[str, Any]) -> dict[str, Any]:
    """Keyword arguments of predictive_log_loss that give ``method`` the budget ``budget``."""
    knob = BUDGET_OPTIONS.get(method)
    kwargs = {k: v for k, v in options.items() if k != "options"}
    extra = dict(options.get("options") or {})
    if knob is None:
        return {**kwargs, "options": extra}
    if method == "sgld":  # SGLD's settings go through fit_kwargs (bv.regret.sgld.sgld's arguments)
        kwargs["fit_kwargs"] = {**dict(kwargs.get("fit_kwargs") or {}), knob: int(budget)}
        return {**kwargs, "options": extra}
    return {**kwargs, "options": {**extra, knob: int(budget)}}


def mixture_gap(
    mc: ModelClass,
    truth: Any,
    n: int,
    methods: Sequence[str],
    budgets: Sequence[int] | Mapping[str, Sequence[int]],
    *,
    key: Array,
    seeds: Sequence[int] = (0, 1, 2, 3, 4),
    num_test: int = 200,
    reference: str = "mixture",
    exact_log_marginal: Callable[..., Array] | None = None,
    reference_options: Mapping[str, Any] | None = None,
    method_options: Mapping[str, Mapping[str, Any]] | None = None,
) -> xr.Dataset:
    """Excess code length (nats per test datum) of each method and budget over the Bayes mixture at n.

    Parameters
    ----------
    mc
        The model class.
    truth
        A :class:`~bayesvol.Truth`, a zoo entry or a dict of true parameters (see ``bv.regret.as_truth``);
        a data set through ``bv.dataset_truth``.
    n
        Training rows.
    methods
        Predictor names (e.g. "laplace_ggn", "sgld", "ensemble", "sgd_ensemble").
    budgets
        Positive integers, each method's own budget: ``rank`` of the GGN for "laplace_ggn", SGLD draws
        (``num_samples``) for "sgld", members for "ensemble" and "sgd_ensemble"; a method without a budget
        (a plug-in) is computed once per seed and shown at every budget. A mapping {method: budgets}
        gives each method its own list (the others' budgets are NaN for it); the reference is computed
        once per seed either way.
    key
        JAX PRNG key; seed s uses ``jax.random.fold_in(key, s)``.
    seeds
        Non-negative integer seeds (one training and one test set each).
    num_test
        Test rows per seed.
    reference
        The Bayes mixture: "mixture" (exact with ``exact_log_marginal``, else NUTS with
        ``reference_options["fit_kwargs"]``) or "quadrature" (d ≤ 2).
    exact_log_marginal
        ``f(data, **covariates) -> log Q(data)``; defaults to the truth's ``log_mixture`` when it has one.
    reference_options, method_options
        Extra keyword arguments of :func:`~bayesvol.regret.predictors.predictive_log_loss` for the
        reference and per method name (``{"sgld": {"fit_kwargs": {"step_size": 0.05}}}``).

    Returns
    -------
    xarray.Dataset
        ``gap`` and ``gradient_evaluations`` (predictor, budget, seed); ``gap_mean``, ``gap_stderr`` and
        ``gradient_evaluations_mean`` (predictor, budget) — the methods' dimension is named "predictor"
        as in ``regret_curve`` (a dimension named "method" would collide with ``.sel(method=...)``);
        ``seconds`` (predictor, budget, seed), wall time of each call (the first seed's includes
        compilation); ``reference_code_length`` and ``reference_seconds`` (seed), the reference's mean
        test log loss and wall time. Attributes: ``n``, ``num_test``, ``reference`` ("exact", "quadrature" or
        "NUTS"), ``units``.

    """
    methods = _names(methods, "methods")
    if reference not in PREDICTORS:
        raise InputError(f"unknown reference {reference!r}; choose from {tuple(PREDICTORS)}")
    if np.ndim(n) != 0:
        raise InputError(f"n must be one positive integer, got {n!r}")
    n = _counts([n], "n", 1)[0]
    if isinstance(budgets, Mapping):
        missing = [m for m in methods if m not in budgets]
        if missing or set(budgets) - set(methods):
            raise InputError(f"budgets as a mapping must name exactly the methods {methods}, got "
                             f"{list(budgets)}")
        own = {m: _counts(budgets[m], f"budgets[{m!r}]", 1) for m in methods}
    else:
        shared = _counts(budgets, "budgets", 1)
        own = {m: shared for m in methods}
    budgets = sorted({b for values in own.values() for b in values})
    seeds = _counts(seeds, "seeds", 0)
    check_counts(num_test=num_test)
    method_options = dict(method_options or {})
    stray = [name for name in method_options if name not in methods]
    if stray:
        raise InputError(f"method_options names {stray}, which are not in methods {methods}")
    key = as_key(key)
    if exact_log_marginal is None:
        exact_log_marginal = getattr(truth, "log_mixture", None)
    truth = as_truth(truth, mc)
    full = getattr(truth, "_full", None)
    if full is not None and n > int(np.shape(full[1])[0]):
        raise InputError(f"n = {n} is larger than the data set ({np.shape(full[1])[0]} rows)")
    label = "quadrature" if reference == "quadrature" else (
        "exact" if exact_log_marginal is not None and reference == "mixture" else "NUTS")
    gap = np.full((len(methods), len(budgets), len(seeds)), np.nan)
    grads = np.full((len(methods), len(budgets), len(seeds)), np.nan)
    seconds = np.full((len(methods), len(budgets), len(seeds)), np.nan)
    ref_length = np.full(len(seeds), np.nan)
    ref_seconds = np.full(len(seeds), np.nan)
    for s, seed in enumerate(seeds):
        key_data, key_test, key_ref, key_fit = jax.random.split(jax.random.fold_in(key, seed), 4)
        covariates, data = truth.simulate(key_data, n)
        data, covariates = prepare_data(mc, data, None, covariates)
        test_cov, test = truth.sample_test(key_test, num_test)
        test, test_cov = prepare_data(mc, test, None, test_cov)
        common = {"train_covariates": covariates, "test_covariates": test_cov, "validate": False,
                  "exact_log_marginal": exact_log_marginal}
        started = time.perf_counter()
        ref = predictive_log_loss(mc, reference, data, test, key=key_ref, **common,
                                  **dict(reference_options or {}))
        ref_loss = np.asarray(ref.log_loss)
        ref_seconds[s] = time.perf_counter() - started
        ref_length[s] = float(np.mean(ref_loss))
        for i, method in enumerate(methods):
            options = dict(method_options.get(method) or {})
            done: tuple[float, float, float] | None = None
            for b, budget in enumerate(budgets):
                if budget not in own[method]:
                    continue
                if done is None or method in BUDGET_OPTIONS:
                    started = time.perf_counter()
                    loss = predictive_log_loss(mc, method, data, test, key=jax.random.fold_in(key_fit, i),
                                               **common, **_budget_options(method, budget, options))
                    cost = np.nan if loss.gradient_evaluations is None else float(loss.gradient_evaluations)
                    done = (float(np.mean(np.asarray(loss.log_loss) - ref_loss)), cost,
                            time.perf_counter() - started)
                gap[i, b, s], grads[i, b, s], seconds[i, b, s] = done
    dims = ("predictor", "budget", "seed")
    ds = xr.Dataset({"gap": (dims, gap), "gradient_evaluations": (dims, grads), "seconds": (dims, seconds),
                     "reference_code_length": ("seed", ref_length),
                     "reference_seconds": ("seed", ref_seconds)},
                    coords={"predictor": methods, "budget": budgets, "seed": seeds})
    ds["gap_mean"] = ds["gap"].mean("seed")
    with np.errstate(invalid="ignore", divide="ignore"):
        ds["gap_stderr"] = (ds["gap"].std("seed", ddof=1) / np.sqrt(len(seeds))) if len(seeds) > 1 else \
            ds["gap_mean"] * np.nan
    ds["gradient_evaluations_mean"] = ds["gradient_evaluations"].mean("seed")
    ds.attrs.update(n=n, num_test=num_test, reference=label, units="nats per test datum")
    return ds
