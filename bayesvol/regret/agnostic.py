"""The agnostic pipeline on a real data set: θ*, its volume curve, k_eff(n), B_n and the measured regret.

The truth is the empirical distribution P̂ of the data set (rows drawn uniformly with replacement, as
:func:`bayesvol.regret.regret.dataset_truth`); the reference θ* is fitted on all N rows, by one of two rules
(``projection``):

* ``"map"`` (the default): θ* = argmin_θ −(1/N) [Σ_i log P_θ(y_i | x_i) + log w(θ)]
  (:func:`fit_map_projection`, :func:`bayesvol.regret.erm.erm` with ``penalty="map"``, the fit
  ``bayesvol volume --data`` uses): the prior acts as a weight decay, so θ* is attained and the Fisher
  there does not vanish even when the class can interpolate the rows;
* ``"erm"``: θ* = argmin_θ −(1/N) Σ_i log P_θ(y_i | x_i) (:func:`fit_projection`), the projection of P̂ on the
  class, which a network that interpolates the rows never attains (:class:`InterpolationWarning`).

The labels the regret is measured on (``labels``): ``"data"``, the data set's own (then θ* is not the truth
and B_n is a number to compare with, not a theorem); or ``"theta_star"``, the *realizable surrogate*: the
same covariate rows, every drawn row's label drawn afresh from P_θ*(· | x) — P_θ* is then the truth, and the
Bayes mixture's expected excess code length is ≤ B_n (Barron; with x drawn from the rows D averages over).
Then

* the Laplace volume curve V(t) = w{θ : D(P_θ* ‖ P_θ) ≤ t} at θ*, D averaged over ``volume_rows`` data rows
  (through :func:`bayesvol.laplace_volume`, the Gram path when rows × outputs < d), k_eff(n) and the bounds
  B_n = −log ∫ e^{−nt} dV(t) and min_t [n t + Comp(t)] (:func:`bayesvol.regret_bound`);
* for each predictor, n and seed (:func:`network_regret`): the excess test log loss
  r(n) = E_P̂[log P_θ*(y | x) − log q(y | x; S_n)] on ``num_test`` fresh rows, and the block-prequential code
  length of the training sequence (each block (n_j, n_{j+1}] coded by the fit on the first n_j rows, the
  rows up to n_1 by the prior predictive), with its excess over −log P_θ*(x^n) — the cumulative regret that
  B_n bounds for the Bayes mixture.

One fit per (predictor, n, seed) serves both the batch regret and the prequential block (its test rows are
the fresh rows and the next block together): half the fits of ``regret_curve`` + ``block_prequential``.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
import xarray as xr

from bayesvol.errors import BayesvolWarning, InputError, as_key, check_counts
from bayesvol.inference.fit import prepare_data
from bayesvol.model.covariates import num_rows
from bayesvol.model.model_class import Array, ModelClass
from bayesvol.regret.erm import _lbfgs, log_likelihood, prior_draws
from bayesvol.regret.outputs import likelihood_family, observed_site_at
from bayesvol.regret.predictors import PREDICTORS, mixture_log_prob, predictive_log_loss
from bayesvol.regret.regret import summarize_over_seeds

__all__ = ["INTERPOLATION_LOSS", "LABELS", "PROJECTIONS", "HeldOut", "InterpolationWarning", "NetworkStudy",
           "ProjectionFit", "fit_map_projection", "fit_projection", "network_regret", "network_study"]

PROJECTIONS = ("map", "erm")
"""The rules for θ*: the MAP on every row (prior as weight decay; attained) or the ERM (the projection)."""

LABELS = ("data", "theta_star")
"""The labels of the regret: the data set's own, or drawn from P_θ*(· | x) (the realizable surrogate)."""

INTERPOLATION_LOSS = 1e-3
"""Mean training log loss (nats per row) below which θ* of a classifier is taken to interpolate the rows."""


class InterpolationWarning(BayesvolWarning):
    """θ* interpolates the rows: the projection is not attained; the Laplace volume at θ* bounds nothing."""



class ProjectionFit(NamedTuple):
    """θ* in flat z, by ``rule`` "erm" (:func:`fit_projection`) or "map" (:func:`fit_map_projection`).

    ``loss`` is the mean negative log-likelihood at ``z`` (nats per row), ``grad_norm`` ‖∇‖ of the objective
    the rule minimizes (the mean log loss for "erm", plus −log w(z)/N for "map") there, ``adam_steps`` /
    ``lbfgs_steps`` the iterations taken, ``seconds`` the wall time (compilation included), ``objective``
    the minimized objective's value (nats per row), ``loss_grad_norm`` ‖∇‖ of the mean log loss alone at
    ``z``: the linear term of the excess log loss L(θ) − L(θ*) there (for "map" ≈ ‖∇ log w‖/N, the prior's
    pull; for "erm" equal to ``grad_norm``).
    """

    z: Array
    loss: float
    grad_norm: float
    adam_steps: int
    lbfgs_steps: int
    seconds: float
    rule: str = "erm"
    objective: float = float("nan")
    loss_grad_norm: float = float("nan")


def fit_projection(mc: ModelClass, data: Any, *, key: Any, adam_steps: int = 1000,
                   learning_rate: float = 1e-2, lbfgs_steps: int = 500, tol: float = 1e-6,
                   covariates: Mapping[str, Any] | None = None, **model_kwargs: Any) -> ProjectionFit:
    """θ* by ERM on every row: ``adam_steps`` full-batch Adam steps, then optax L-BFGS to ‖∇‖ < ``tol``.

    Adam first because L-BFGS from a prior draw of a network stalls in its first line searches; L-BFGS
    after it because Adam alone stops at ‖∇‖ ≈ 1e-4. For a network that can interpolate the rows the
    infimum is 0 and not attained (θ* runs off to infinity): the reported loss and gradient norm say how
    far the fit went.
    """
    key = as_key(key)
    check_counts(adam_steps=adam_steps, lbfgs_steps=lbfgs_steps)
    data, cov = prepare_data(mc, data, covariates, model_kwargs)
    started = time.perf_counter()

    def objective(z: Array) -> Array:
        return -jnp.mean(mc.log_likelihood(z, data, covariates=cov))

    optimizer = optax.adam(learning_rate)

    @jax.jit
    def adam(z: Array) -> Array:
        def step(carry: tuple[Array, Any], _: Any) -> tuple[tuple[Array, Any], None]:
            z, state = carry
            updates, state = optimizer.update(jax.grad(objective)(z), state, z)
            return (optax.apply_updates(z, updates), state), None

        (z, _), _ = jax.lax.scan(step, (z, optimizer.init(z)), None, length=adam_steps)
        return z

    z = adam(prior_draws(mc, key, 1)[0])
    z, count = jax.jit(lambda z0: _lbfgs(objective, z0, lbfgs_steps, tol))(z)
    loss, grad = jax.value_and_grad(objective)(z)
    norm = float(jnp.linalg.norm(grad))
    return ProjectionFit(z, float(loss), norm, int(adam_steps), int(count), time.perf_counter() - started,
                         "erm", float(loss), norm)


def fit_map_projection(mc: ModelClass, data: Any, *, key: Any, num_starts: int = 4, maxiter: int = 500,
                       tol: float = 1e-9, covariates: Mapping[str, Any] | None = None, **model_kwargs: Any
                       ) -> ProjectionFit:
    """θ* = argmin_z −(1/N) [Σ_i log P_z(y_i | x_i) + log w(z)]: the MAP on every row (prior = weight decay).

    The fit of ``bayesvol volume --data`` (``app.data_volume.fitted_truth``): :func:`bayesvol.regret.erm.erm`
    with ``penalty="map"``, L-BFGS from z = 0 and ``num_starts − 1`` prior draws (zero alone is a saddle of a
    tanh network). The penalty −log w(z)/N grows without bound as ‖z‖ → ∞, so the minimum is attained even
    where the likelihood alone would run off to infinity; ``grad_norm`` is ‖∇‖ of this penalized objective.
    """
    from bayesvol.regret.erm import erm

    key = as_key(key)
    check_counts(num_starts=num_starts, maxiter=maxiter)
    data, cov = prepare_data(mc, data, covariates, model_kwargs)
    started = time.perf_counter()
    fit = erm(mc, data, key=key, penalty="map", num_starts=num_starts, maxiter=maxiter, tol=tol,
              covariates=cov)
    rows = num_rows(data)

    def objective(z: Array) -> Array:
        return -(jnp.sum(mc.log_likelihood(z, data, covariates=cov)) + mc.log_prior(z)) / rows

    def mean_loss(z: Array) -> Array:
        return -jnp.sum(mc.log_likelihood(z, data, covariates=cov)) / rows

    value, grad = jax.value_and_grad(objective)(fit.z)
    loss, loss_grad = jax.value_and_grad(mean_loss)(fit.z)
    best = int(jnp.argmin(fit.objectives))
    return ProjectionFit(fit.z, float(loss), float(jnp.linalg.norm(grad)), 0, int(fit.iterations[best]),
                         time.perf_counter() - started, "map", float(value),
                         float(jnp.linalg.norm(loss_grad)))


def _fit(mc: ModelClass, data: Any, projection: str, key: Any, cov: Mapping[str, Any],
         options: Mapping[str, Any]) -> ProjectionFit:
    if projection == "map":
        return fit_map_projection(mc, data, key=key, covariates=cov, **dict(options))
    return fit_projection(mc, data, key=key, covariates=cov, **dict(options))


def _draw_labels(mc: ModelClass, z: Array, covariates: Mapping[str, Any], key: Array, like: Any) -> Any:
    """Labels y_i ~ P_z(· | x_i), one independent draw per row (the realizable surrogate's rows)."""
    drawn = mc.simulate(key, mc.unflatten(z), covariates=covariates)
    return jnp.asarray(drawn, dtype=jnp.asarray(like).dtype).reshape(jnp.shape(like))


def _block_code(log_loss: np.ndarray) -> tuple[float, int]:
    finite = np.isfinite(log_loss)
    return float(log_loss[finite].sum()), int((~finite).sum())


def network_regret(
    mc: ModelClass,
    data: Any,
    reference_z: Array,
    ns: Sequence[int],
    seeds: Sequence[int],
    predictors: Sequence[str],
    *,
    key: Any,
    num_test: int = 200,
    prior_draws_first_block: int = 1000,
    predictor_options: Mapping[str, Mapping[str, Any]] | None = None,
    on_result: Callable[[str, int, int, float], None] | None = None,
    on_seed_result: Callable[[int, xr.Dataset], None] | None = None,
    labels: str = "data",
    covariates: Mapping[str, Any] | None = None,
    **model_kwargs: Any,
) -> xr.Dataset:
    """Batch and prequential regret of each predictor against P_θ* on a data set (nats; see the module).

    Parameters
    ----------
    mc
        The model class.
    data, covariates, **model_kwargs
        The data set's rows (the truth is their empirical distribution).
    reference_z
        θ* in flat z (e.g. :func:`fit_projection`'s ``z``).
    ns
        Increasing training sizes n_1 < … < n_J ≤ rows: the checkpoints of the prequential code.
    seeds
        Seed s draws its training sequence (n_J rows) and test rows with ``fold_in(key, s)``.
    key
        JAX PRNG key (typed or raw).
    predictors
        Registered predictor names (``bv.PREDICTORS``).
    num_test
        Fresh rows per (n, seed) for the batch regret.
    prior_draws_first_block
        Prior draws for the prior predictive E_w P_θ(y | x) that codes the rows up to n_1 (the same code
        for every predictor).
    predictor_options
        Per predictor name, the options handed to it (``options=`` of ``bv.predictive_log_loss``).
    on_result
        Called as ``(predictor, n, seed, seconds)`` after each fit (progress and timing).
    on_seed_result
        Called with each seed and its Dataset once it is done (saving as it goes).
    labels
        "data": the drawn rows keep their labels (the truth is P̂). "theta_star": the realizable surrogate —
        each drawn row (training and test alike) gets a fresh label y ~ P_θ*(· | x) (θ* = ``reference_z``),
        keys ``fold_in(key_data, 1)`` for the training sequence and ``fold_in(fold_in(key_test, n), 1)`` for
        the test rows at n; P_θ* is then the truth.

    Returns
    -------
    xarray.Dataset
        ``regret`` (predictor, n, seed): excess test log loss; ``code_length`` (predictor, n, seed):
        cumulative block-prequential code of x^n (nats, ∞ if a row had probability 0),
        ``reference_code_length`` (n, seed) = −log P_θ*(x^n), ``excess_code_length`` = their difference;
        ``*_mean`` / ``*_stderr`` over seeds; ``seconds`` and ``gradient_evaluations`` per fit.

    """
    key = as_key(key)
    data, cov = prepare_data(mc, data, covariates, model_kwargs)
    rows = num_rows(data)
    ns = [int(n) for n in ns]
    if not ns or ns[0] < 1 or sorted(set(ns)) != ns or ns[-1] > rows:
        raise InputError(f"ns must be increasing integers in [1, {rows}] (the data's rows), got {ns}")
    seeds = [int(s) for s in seeds]
    if not seeds or min(seeds) < 0:
        raise InputError(f"seeds must be non-empty non-negative integers, got {seeds}")
    if isinstance(predictors, str) or not predictors or any(p not in PREDICTORS for p in predictors):
        raise InputError(f"predictors must be a non-empty list of names from {tuple(PREDICTORS)}, got "
                         f"{predictors!r}")
    check_counts(num_test=num_test, prior_draws_first_block=prior_draws_first_block)
    _check_labels(labels)
    realizable = labels == "theta_star"
    reference_z = jnp.asarray(reference_z)
    if reference_z.shape != (mc.dim,):
        raise InputError(f"reference_z must be a flat z of shape ({mc.dim},), got {reference_z.shape}")
    options = {p: dict((predictor_options or {}).get(p) or {}) for p in predictors}
    layout = mc.row_layout
    shape = (len(predictors), len(ns), len(seeds))
    regret, code, seconds, gradients = (np.full(shape, np.nan) for _ in range(4))
    infinite = np.zeros(shape, dtype=int)
    reference_code = np.full((len(ns), len(seeds)), np.nan)
    for j, seed in enumerate(seeds):
        key_data, key_test, key_fit, key_prior = jax.random.split(jax.random.fold_in(key, seed), 4)
        train, train_cov = layout.take(data, cov, jax.random.randint(key_data, (ns[-1],), 0, rows))
        if realizable:
            train = _draw_labels(mc, reference_z, train_cov, jax.random.fold_in(key_data, 1), train)
        reference_code[:, j] = np.cumsum(-np.asarray(log_likelihood(mc, reference_z, train, train_cov)))[
            np.asarray(ns) - 1]
        # rows 1 … n_1: the prior predictive, row by row (a code that saw no data)
        first, first_cov = layout.prefix(train, train_cov, ns[0])
        prior_z = prior_draws(mc, key_prior, prior_draws_first_block)
        first_code, first_inf = _block_code(-np.asarray(mixture_log_prob(mc, prior_z, first, first_cov)))
        for i, n in enumerate(ns):
            test, test_cov = layout.take(data, cov, jax.random.randint(jax.random.fold_in(key_test, n),
                                                                       (num_test,), 0, rows))
            if realizable:
                test = _draw_labels(mc, reference_z, test_cov,
                                    jax.random.fold_in(jax.random.fold_in(key_test, n), 1), test)
            log_ref_test = np.asarray(log_likelihood(mc, reference_z, test, test_cov))
            block = jnp.arange(n, ns[i + 1]) if i + 1 < len(ns) else jnp.arange(0)
            block_rows, block_cov = layout.take(train, train_cov, block)
            both, both_cov = layout.concat((test, test_cov), (block_rows, block_cov))
            for p, name in enumerate(predictors):
                started = time.perf_counter()
                loss = predictive_log_loss(mc, name, train, both, key=jax.random.fold_in(key_fit, n),
                                           train_covariates=train_cov, test_covariates=both_cov,
                                           num_train=n, validate=False, options=options[name])
                values = np.asarray(loss.log_loss, dtype=float)
                seconds[p, i, j] = time.perf_counter() - started
                if loss.gradient_evaluations is not None:
                    gradients[p, i, j] = loss.gradient_evaluations
                regret[p, i, j] = float(np.mean(values[:num_test] + log_ref_test))
                block_code, block_inf = _block_code(values[num_test:])
                if i == 0:
                    code[p, 0, j], infinite[p, 0, j] = first_code, first_inf
                if i + 1 < len(ns):
                    code[p, i + 1, j] = code[p, i, j] + block_code
                    infinite[p, i + 1, j] = infinite[p, i, j] + block_inf
                if on_result is not None:
                    on_result(name, n, seed, seconds[p, i, j])
        if on_seed_result is not None:
            on_seed_result(seed, xr.Dataset(
                {"regret": (("predictor", "n"), regret[:, :, j].copy()),
                 "code_length": (("predictor", "n"), code[:, :, j].copy()),
                 "reference_code_length": ("n", reference_code[:, j].copy()),
                 "seconds": (("predictor", "n"), seconds[:, :, j].copy())},
                coords={"predictor": list(predictors), "n": ns},
                attrs={"seed": seed, "units": "nats", "labels": labels}))
    ds = _regret_dataset(regret, code, infinite, reference_code, seconds, gradients, predictors, ns, seeds,
                         num_test)
    ds.attrs["labels"] = labels
    return ds


def _check_labels(labels: Any) -> None:
    if not isinstance(labels, str) or labels not in LABELS:
        raise InputError(f"labels must be one of {LABELS} (the data set's labels, or labels drawn from "
                         f"P_θ*: the realizable surrogate), got {labels!r}")


def _regret_dataset(regret: np.ndarray, code: np.ndarray, infinite: np.ndarray, reference_code: np.ndarray,
                    seconds: np.ndarray, gradients: np.ndarray, predictors: Sequence[str], ns: Sequence[int],
                    seeds: Sequence[int], num_test: int) -> xr.Dataset:
    dims = ("predictor", "n", "seed")
    code = np.where(infinite > 0, np.inf, code)
    ds = xr.Dataset(
        {"regret": (dims, regret), "code_length": (dims, code), "num_infinite": (dims, infinite),
         "reference_code_length": (("n", "seed"), reference_code),
         "excess_code_length": (dims, code - reference_code[None]),
         "online_regret": (("n", "seed"), np.full(reference_code.shape, np.nan)),
         "seconds": (dims, seconds), "gradient_evaluations": (dims, gradients)},
        coords={"predictor": list(predictors), "n": list(ns), "seed": list(seeds)})
    summarize_over_seeds(ds)
    ds = ds.drop_vars(["online_regret", "online_regret_mean", "online_regret_stderr"])
    count = ds.excess_code_length.notnull().sum("seed")
    with np.errstate(invalid="ignore", divide="ignore"):
        for name in ("code_length", "excess_code_length"):
            ds[f"{name}_mean"] = ds[name].mean("seed")
            ds[f"{name}_stderr"] = (ds[name].std("seed", ddof=1) / np.sqrt(count) if len(seeds) > 1
                                    else ds[name].mean("seed") * np.nan)
    for name in ("regret", "code_length", "excess_code_length", "reference_code_length"):
        ds[name].attrs["units"] = "nats"
    ds.attrs.update(num_test=num_test, units="nats",
                    description="regret: excess test log loss against P_θ*; code_length: block-prequential "
                                "(refit at each n, the rows up to the first n coded by the prior predictive)")
    return ds


class HeldOut(NamedTuple):
    """θ* by the same rule fitted on the first ``train_rows`` of a random permutation, scored on the rest.

    ``log_loss`` ± ``stderr``: mean −log P_θ̂(y | x) over the ``test_rows`` held-out rows (nats per row).
    """

    log_loss: float
    stderr: float
    train_rows: int
    test_rows: int
    fit: ProjectionFit


class NetworkStudy(NamedTuple):
    """The agnostic pipeline's results (see :func:`network_study`); ``seconds`` per piece."""

    projection: ProjectionFit
    heldout: HeldOut
    curve: Any
    k_eff: np.ndarray
    bounds: Any
    regret: xr.Dataset
    ns: list[int]
    volume_rows: int
    seconds: dict[str, float]
    interpolates: bool = False
    regrets: Mapping[str, xr.Dataset] | None = None
    """Per labels ("data", "theta_star") the :func:`network_regret` Dataset; ``regret`` is the first's."""


def network_study(
    mc: ModelClass,
    data: Any,
    ns: Sequence[int],
    seeds: Sequence[int],
    predictors: Sequence[str],
    *,
    key: Any,
    eps2: Any = None,
    volume_rows: int = 200,
    split: float = 0.8,
    num_test: int = 200,
    fit_options: Mapping[str, Any] | None = None,
    predictor_options: Mapping[str, Mapping[str, Any]] | None = None,
    on_piece: Callable[[str, Any], None] | None = None,
    on_result: Callable[[str, int, int, float], None] | None = None,
    on_seed_result: Callable[[int, xr.Dataset], None] | None = None,
    projection: str = "map",
    labels: str | Sequence[str] = "data",
    covariates: Mapping[str, Any] | None = None,
    **model_kwargs: Any,
) -> NetworkStudy:
    """θ* on all rows, held-out log loss, Laplace V(t) at θ*, k_eff(n), B_n and the measured regret.

    The pieces in order, each passed to ``on_piece(name, value)`` as it finishes ("projection",
    "heldout", "volume", then "regret" once per labels, as ``(labels, Dataset)``): θ* on every row by
    ``projection`` ("map": :func:`fit_map_projection`, the default; "erm": :func:`fit_projection`, with
    ``fit_options`` handed to it); the same rule on a random ``split`` of the rows scored on the rest;
    :func:`bayesvol.laplace_volume` at θ* with D(P_θ* ‖ P_θ)
    averaged over ``volume_rows`` data rows drawn without replacement (curvature path "auto": dense for
    d ≤ 3000, Gram when rows × outputs < d, else Lanczos); k_eff(n) = Σ nλ_i/(1 + nλ_i) and
    :func:`bayesvol.regret_bound` at ``ns``; :func:`network_regret`. ``eps2`` defaults to 41 radii on
    [1e-6, 10] nats. ``labels``: "data", "theta_star" (the realizable surrogate, see the module) or
    a sequence of them, one :func:`network_regret` each, on the same seeds and keys; ``on_seed_result`` is
    called with the seed and the Dataset, whose ``attrs["labels"]`` says which.
    """
    from bayesvol.volume.bounds import regret_bound
    from bayesvol.volume.laplace import effective_dimension, laplace_volume

    key = as_key(key)
    data, cov = prepare_data(mc, data, covariates, model_kwargs)
    rows = num_rows(data)
    if not 0.0 < float(split) < 1.0:
        raise InputError(f"split must lie strictly between 0 and 1, got {split!r}")
    check_counts(volume_rows=volume_rows)
    if not isinstance(projection, str) or projection not in PROJECTIONS:
        raise InputError(f"projection must be one of {PROJECTIONS} (θ* by the MAP on every row, or by ERM), "
                         f"got {projection!r}")
    label_list = [labels] if isinstance(labels, str) else list(labels)
    if not label_list or len(set(label_list)) != len(label_list):
        raise InputError(f"labels must be one of {LABELS} or a list of distinct ones, got {labels!r}")
    for one in label_list:
        _check_labels(one)
    layout = mc.row_layout
    on_piece = on_piece or (lambda name, value: None)
    eps2 = np.geomspace(1e-6, 10.0, 41) if eps2 is None else np.asarray(eps2, dtype=float)
    key_fit, key_split, key_heldout, key_volume, key_regret = jax.random.split(key, 5)
    seconds: dict[str, float] = {}
    rule = projection
    projection_fit = _fit(mc, data, rule, key_fit, cov, fit_options or {})
    seconds["projection"] = projection_fit.seconds
    interpolates = _interpolates(mc, projection_fit, cov)
    on_piece("projection", projection_fit)

    order = jax.random.permutation(key_split, rows)
    cut = round(float(split) * rows)
    if not 1 <= cut < rows:
        raise InputError(f"split = {split} leaves no training or no test row of the {rows}")
    train, train_cov = layout.take(data, cov, order[:cut])
    test, test_cov = layout.take(data, cov, order[cut:])
    fitted = _fit(mc, train, rule, key_heldout, train_cov, fit_options or {})
    losses = -np.asarray(log_likelihood(mc, fitted.z, test, test_cov), dtype=float)
    heldout = HeldOut(float(losses.mean()), float(losses.std(ddof=1) / np.sqrt(losses.size)), cut, rows - cut,
                      fitted)
    seconds["heldout"] = fitted.seconds
    on_piece("heldout", heldout)

    started = time.perf_counter()
    m = min(int(volume_rows), rows)
    _, volume_cov = layout.take(data, cov, jax.random.permutation(key_volume, rows)[:m])
    curve = laplace_volume(mc, mc.unflatten(projection_fit.z), eps2, covariates=volume_cov)
    a = np.asarray(curve.eigenvalues)
    k_eff = effective_dimension(a, np.asarray(ns))
    bounds = regret_bound(curve, np.asarray(ns))
    seconds["volume"] = time.perf_counter() - started
    on_piece("volume", (curve, k_eff, bounds))

    regrets: dict[str, xr.Dataset] = {}
    for one in label_list:
        started = time.perf_counter()
        regrets[one] = network_regret(mc, data, projection_fit.z, ns, seeds, predictors, key=key_regret,
                                      num_test=num_test, predictor_options=predictor_options,
                                      on_result=on_result, on_seed_result=on_seed_result, labels=one,
                                      covariates=cov)
        seconds["regret" if one == label_list[0] else f"regret {one}"] = time.perf_counter() - started
        on_piece("regret", (one, regrets[one]))
    return NetworkStudy(projection_fit, heldout, curve, k_eff, bounds, regrets[label_list[0]],
                        [int(n) for n in ns], m, seconds, interpolates, regrets)


def _interpolates(mc: ModelClass, projection: ProjectionFit, covariates: Mapping[str, Any]) -> bool:
    """Warn (InterpolationWarning) and say True when a classifier's θ* fits every row to < INTERPOLATION_LOSS.

    A Bernoulli or categorical log loss is ≥ 0 and reaches 0 only as the logits run off to infinity: the
    projection is then not attained, the Fisher at the fit vanishes with the loss, and the Laplace volume,
    k_eff(n) and B_n computed there describe a point on the way, not a limit (measured on digits: B_n = 0.1
    nats against an excess code length of ≈ 2,000). For a continuous likelihood a small loss means nothing.
    """
    family = likelihood_family(observed_site_at(mc, projection.z, covariates)["fn"])
    if family not in ("bernoulli", "categorical") or not projection.loss < INTERPOLATION_LOSS:
        return False
    warnings.warn(InterpolationWarning(
        f"θ* interpolates the data (training log loss {projection.loss:.2g} nats per row < "
        f"{INTERPOLATION_LOSS:g}, ‖∇‖ = {projection.grad_norm:.2g}): the projection is not attained, the "
        "Fisher at θ* vanishes, and the Laplace volume, k_eff(n) and B_n at θ* are not bounds on the "
        "regret measured here"), stacklevel=3)
    return True
