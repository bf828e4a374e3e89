"""Posterior sampling for a model class: NumPyro's NUTS on w(θ | data), with ArviZ diagnostics.

``fit(mc, data, key=...)`` runs several NUTS chains on the posterior w(θ | x^n) ∝ w(θ) Π_i P_θ(x_i) and
returns a :class:`Posterior`: the draws (constrained site values, and flat unconstrained z for the
predictors), R-hat, bulk ESS and the divergence count, and a ``to_arviz()`` DataTree. A
:class:`SamplerWarning` is raised when R-hat > 1.01, bulk ESS < 400 or any transition diverged; a run in
which every transition diverged raises :class:`SamplerError` instead of returning draws.

Chains run in parallel (``chain_method="parallel"``, one XLA host device per chain) when JAX has at least
``num_chains`` devices — :func:`use_host_devices` asks for them, before JAX starts (the ``bayesvol`` command
does; importing bayesvol does not); otherwise they are vectorized into one compiled program
(``"vectorized"``), which beats ``"sequential"`` on a CPU because it compiles once and keeps the cores
busy inside XLA's own thread pool.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import arviz_base
import arviz_stats
import jax
import jax.numpy as jnp
import numpy as np
from numpyro.infer import MCMC, NUTS

from bayesvol.errors import BayesvolError, BayesvolWarning, InputError, as_key, check_counts
from bayesvol.model.covariates import num_rows
from bayesvol.model.model_class import Array, ModelClass, ModelClassError

__all__ = ["Posterior", "SamplerError", "SamplerWarning", "choose_chain_method", "fit", "use_host_devices"]

RHAT_MAX = 1.01
ESS_MIN = 400.0


class SamplerWarning(BayesvolWarning):
    """The sampler's diagnostics fail a threshold (R-hat > 1.01, bulk ESS < 400, or divergences)."""


class SamplerError(BayesvolError, RuntimeError):
    """The sampler failed outright (e.g. every transition diverged); no draws are returned."""


@dataclass(frozen=True)
class Posterior:
    """Draws from the posterior w(θ | data) with their diagnostics.

    Attributes
    ----------
    samples : dict of str to array
        Constrained site values, each shaped (chains, draws, *site_shape).
    z : (chains · draws, d) array
        The same draws as flat unconstrained vectors (``mc.flatten``), for the predictors.
    rhat : dict of str to float
        Largest rank-normalized split R-hat over each site's elements; NaN with one chain (ArviZ needs
        two chains, and then :attr:`ok` rests on bulk ESS and divergences alone).
    ess_bulk : dict of str to float
        Smallest bulk effective sample size over each site's elements.
    divergences : int
        Number of divergent transitions after warm-up, all chains together.
    num_chains, num_samples : int
        Chains and draws per chain.
    chain_method : str
        How the chains ran ("parallel", "vectorized" or "sequential").

    """

    samples: dict[str, np.ndarray]
    z: Array
    rhat: dict[str, float]
    ess_bulk: dict[str, float]
    divergences: int
    num_chains: int
    num_samples: int
    chain_method: str
    mcmc: MCMC = field(repr=False, compare=False)

    @property
    def problems(self) -> list[str]:
        """The failed checks, in words: R-hat > 1.01 (several chains only), bulk ESS < 400, divergences."""
        problems = []
        site = max(self.rhat, key=lambda k: np.nan_to_num(self.rhat[k], nan=np.inf))
        if self.num_chains > 1 and not self.rhat[site] <= RHAT_MAX:
            problems.append(f"R-hat {self.rhat[site]:.3f} > {RHAT_MAX} (site {site!r})")
        if min(self.ess_bulk.values()) < ESS_MIN:
            site = min(self.ess_bulk, key=self.ess_bulk.get)
            problems.append(f"bulk ESS {self.ess_bulk[site]:.0f} < {ESS_MIN:.0f} (site {site!r})")
        if self.divergences:
            problems.append(f"{self.divergences} divergent transition(s)")
        return problems

    @property
    def ok(self) -> bool:
        """Whether every diagnostic passes: R-hat ≤ 1.01, bulk ESS ≥ 400, no divergence.

        With one chain R-hat is not defined (ArviZ's rank-normalized split R-hat needs two chains): ``ok``
        is then decided on bulk ESS and divergences alone.
        """
        return not self.problems

    def to_arviz(self) -> Any:
        """The run as an ArviZ DataTree (posterior, sample_stats, log_likelihood, observed_data)."""
        return arviz_base.from_numpyro(self.mcmc, log_likelihood=True)

    def summary(self) -> Any:
        """ArviZ's summary table (mean, sd, interval, bulk/tail ESS, R-hat, MCSE) of every site.

        The table's ``attrs["ok"]`` says what :attr:`ok` was decided on; with one chain its R-hat column is
        NaN and ``ok`` rests on bulk ESS and divergences alone.
        """
        import arviz

        table = arviz.summary(self.to_arviz())
        basis = "R-hat, bulk ESS and divergences" if self.num_chains > 1 else (
            "bulk ESS and divergences alone (one chain: R-hat needs two chains)")
        table.attrs["ok"] = f"ok = {self.ok}, decided on {basis}"
        return table


class HostDevicesError(BayesvolError, RuntimeError):
    """JAX's CPU backend has already started, so the host device count can no longer change."""


def use_host_devices(count: int) -> None:
    """Ask JAX for ``count`` CPU devices, so that :func:`fit` runs that many NUTS chains in parallel.

    Sets JAX's ``jax_num_cpu_devices`` option (the successor of XLA's
    ``--xla_force_host_platform_device_count``; no environment variable is touched). It must run before
    JAX's first computation, which creates the CPU backend; the ``bayesvol`` command calls it first thing.

    Raises
    ------
    InputError
        ``count`` is not a positive integer.
    HostDevicesError
        JAX's backend is already initialized with another device count.

    """
    check_counts(count=count)
    try:
        jax.config.update("jax_num_cpu_devices", int(count))
    except RuntimeError as err:
        raise HostDevicesError(
            f"use_host_devices({count}) came too late: JAX's CPU backend already started with "
            f"{jax.local_device_count('cpu')} device(s). Call it right after importing bayesvol, before any "
            "JAX computation (or set XLA_FLAGS=--xla_force_host_platform_device_count before starting Python)"
        ) from err


def choose_chain_method(num_chains: int) -> str:
    """"parallel" when JAX has a host device per chain, else "vectorized" (see the module docstring)."""
    if num_chains <= 1:
        return "sequential"
    return "parallel" if jax.local_device_count() >= num_chains else "vectorized"


def prepare_data(mc: ModelClass, data: Any, covariates: Mapping[str, Any] | None,
                 model_kwargs: Mapping[str, Any]) -> tuple[Array, dict[str, Any]]:
    """Data values and the resolved covariates, validated against the class: the front door for data.

    ``data`` is the observed site's array (or nested list) or a mapping {site: value}; covariates come as
    keywords or as the mapping ``covariates=`` (:meth:`ModelClass.resolve_covariates`).

    Raises
    ------
    ModelClassError
        Data outside the support of the observed site, NaN, or covariates whose rows do not match the data.

    """
    data, carried = mc.data_value(data)
    kwargs = mc.resolve_covariates(covariates, {**carried, **model_kwargs}, data=data)
    data = jnp.asarray(data)
    rows = num_rows(data)
    log_lik = mc.log_likelihood(jnp.zeros(mc.dim), data, covariates=kwargs)
    if log_lik.shape[0] != rows:
        raise ModelClassError(
            f"the model reads {log_lik.shape[0]} rows from data of shape {jnp.shape(data)}: check the "
            "covariates passed with it"
        )
    return data, kwargs


def check_data(mc: ModelClass, data: Any, model_kwargs: Mapping[str, Any]) -> int:
    """Validate data against the class (:func:`prepare_data`); return the number of rows."""
    return num_rows(prepare_data(mc, data, None, model_kwargs)[0])


def _summaries(samples: Mapping[str, np.ndarray]) -> tuple[dict[str, float], dict[str, float]]:
    tree = arviz_base.from_dict({"posterior": dict(samples)})
    ess_ds = arviz_stats.ess(tree, method="bulk").to_dataset()
    ess = {k: float(np.min(ess_ds[k].values)) for k in samples}
    if next(iter(samples.values())).shape[0] < 2:  # R-hat needs several chains
        return {k: float("nan") for k in samples}, ess
    rhat_ds = arviz_stats.rhat(tree).to_dataset()
    return {k: float(np.max(rhat_ds[k].values)) for k in samples}, ess


def fit(
    mc: ModelClass,
    data: Any,
    *,
    key: Array,
    num_chains: int = 4,
    num_warmup: int = 500,
    num_samples: int = 500,
    chain_method: str | None = None,
    nuts_kwargs: Mapping[str, Any] | None = None,
    covariates: Mapping[str, Any] | None = None,
    **model_kwargs: Any,
) -> Posterior:
    """Sample the posterior w(θ | data) ∝ w(θ) Π_i P_θ(data_i | covariates_i) with NumPyro's NUTS.

    Parameters
    ----------
    mc
        The model class.
    data
        Values of the observed site, passed to the model through ``mc.observed_kwarg``.
    key
        JAX PRNG key.
    num_chains, num_warmup, num_samples
        Chains, warm-up iterations and kept draws per chain.
    chain_method
        NumPyro's chain method; by default :func:`choose_chain_method`.
    nuts_kwargs
        Extra keyword arguments for ``numpyro.infer.NUTS`` (e.g. ``target_accept_prob``).
    covariates, **model_kwargs
        Covariates (the model's own keyword arguments), as keywords or as one mapping ``covariates=``
        (for argument names that collide with these parameters).

    Returns
    -------
    Posterior
        Draws, flat z, R-hat, bulk ESS, divergences; ``.to_arviz()`` gives the DataTree.

    Raises
    ------
    ModelClassError
        Data outside the model's support or covariates with the wrong number of rows.
    SamplerError
        Every post-warm-up transition diverged.

    Warns
    -----
    SamplerWarning
        R-hat > 1.01, bulk ESS < 400, or any divergence.

    """
    key = as_key(key)
    check_counts(num_chains=num_chains, num_samples=num_samples)
    check_counts(low=0, num_warmup=num_warmup)
    if chain_method not in (None, "parallel", "vectorized", "sequential"):
        raise InputError(
            f"chain_method must be 'parallel', 'vectorized' or 'sequential', got {chain_method!r}")
    data, model_kwargs = prepare_data(mc, data, covariates, model_kwargs)
    if mc.observed_kwarg is None:
        raise ModelClassError(f"the observed site {mc.observed_site!r} is not fed by a keyword argument")
    method = chain_method or choose_chain_method(num_chains)
    kernel = NUTS(mc.model, **dict(nuts_kwargs or {}))
    mcmc = MCMC(kernel, num_warmup=num_warmup, num_samples=num_samples, num_chains=num_chains,
                chain_method=method, progress_bar=False)
    arguments = {**model_kwargs, mc.observed_kwarg: data}
    if {"rng_key", "extra_fields", "init_params"} & set(arguments):
        # the model's own argument names collide with MCMC.run's: bind them instead of passing them
        model = mc.model
        kernel = NUTS(lambda: model(**arguments), **dict(nuts_kwargs or {}))
        mcmc = MCMC(kernel, num_warmup=num_warmup, num_samples=num_samples, num_chains=num_chains,
                    chain_method=method, progress_bar=False)
        arguments = {}
    mcmc.run(key, **arguments, extra_fields=("diverging",))
    diverging = np.asarray(mcmc.get_extra_fields()["diverging"])
    divergences = int(diverging.sum())
    if divergences == diverging.size:
        raise SamplerError(
            f"every one of the {diverging.size} NUTS transitions diverged: the posterior geometry defeats "
            "the sampler (check the data scale, or reparameterize); no draws returned"
        )
    grouped = {k: np.asarray(v) for k, v in mcmc.get_samples(group_by_chain=True).items()
               if k in mc.latent_sites}
    flat_params = {k: jnp.reshape(v, (-1, *v.shape[2:])) for k, v in grouped.items()}
    z = jnp.asarray(jax.vmap(mc.flatten)(flat_params))
    rhat, ess_bulk = _summaries(grouped)
    posterior = Posterior(grouped, z, rhat, ess_bulk, divergences, num_chains, num_samples, method, mcmc)
    if posterior.problems:
        warnings.warn("NUTS diagnostics: " + "; ".join(posterior.problems), SamplerWarning, stacklevel=2)
    return posterior
