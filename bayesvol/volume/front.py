"""One front door for log V(t): ``bv.volume(mc, params0, eps2, method=...)``.

``method="auto"`` (default): Laplace-guided importance sampling (:mod:`bayesvol.volume.importance`), whose
radii with a collapsed effective sample size (singular classes, curved level sets, priors far from their
Gaussian view) are answered by nested sampling (:func:`bayesvol.volume.nested.sampled_volume`) instead —
never by the collapsed sampler; where importance sampling does not apply at all (no Laplace approximation
of the prior, d > 2000, a Hessian that is not finite), nested sampling answers every radius.
"laplace", "importance" and "nested" call one estimator.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Any, NamedTuple

import jax
import numpy as np

from bayesvol.errors import InputError, as_key
from bayesvol.model.covariates import merge_covariates
from bayesvol.model.model_class import Array, ModelClass
from bayesvol.volume.curve import VolumeCurve
from bayesvol.volume.importance import ImportanceInfo, importance_volume
from bayesvol.volume.laplace import laplace_volume
from bayesvol.volume.nested import sampled_volume
from bayesvol.volume.nested_statistics import NestedInfo

__all__ = ["METHODS", "AutoVolumeInfo", "volume"]

METHODS = ("auto", "laplace", "importance", "nested")


class AutoVolumeInfo(NamedTuple):
    """Which estimator answered each radius of a ``method="auto"`` curve, and their records.

    Attributes
    ----------
    source : tuple of str
        Per radius: "importance" or "nested".
    importance : ImportanceInfo or None
        The importance run (None where it did not apply).
    nested : NestedInfo or None
        The nested run on the radii importance sampling could not answer (None if there were none).
    reason : str
        Why nested sampling ran ("" when it did not).
    num_evaluations : int
        D evaluations of both together.

    """

    source: tuple[str, ...]
    importance: ImportanceInfo | None
    nested: NestedInfo | None
    reason: str
    num_evaluations: int

    def to_arviz(self) -> Any:
        """The importance run's health (:meth:`ImportanceInfo.to_arviz`), else the nested run's."""
        return (self.importance or self.nested).to_arviz()


def volume(
    mc: ModelClass,
    params0: Mapping[str, Any],
    eps2: Any,
    *,
    method: str = "auto",
    key: Array | None = None,
    num_draws: int = 4096,
    importance_options: Mapping[str, Any] | None = None,
    nested_options: Mapping[str, Any] | None = None,
    kl_draws: int | None = None,
    covariates: Mapping[str, Any] | None = None,
    **model_kwargs: Any,
) -> VolumeCurve:
    """Log V(t) = log w({θ : D(P_θ0 ‖ P_θ) ≤ t}) (nats) for every t in ``eps2``, by the chosen estimator.

    Parameters
    ----------
    mc, params0, eps2
        The model class, the truth θ0 (constrained site values) and the radii t > 0 (nats).
    method
        "auto" (importance sampling, nested sampling for the radii where its ESS collapses), "laplace",
        "importance" or "nested".
    key
        PRNG key (required except for "laplace").
    num_draws
        Importance-sampling draws (evaluations of D).
    importance_options, nested_options
        Further options of :func:`bayesvol.volume.importance.importance_volume` and
        :func:`bayesvol.sampled_volume` (e.g. ``{"num_live": 64}``).
    kl_draws, covariates, **model_kwargs
        As for :func:`bayesvol.laplace_volume`.

    Returns
    -------
    VolumeCurve
        ``method`` "laplace", "importance", "nested", or for "auto" "importance", "nested" or
        "importance+nested", with an :class:`AutoVolumeInfo` in ``diagnostics`` for "auto".

    """
    if method not in METHODS:
        raise InputError(f"method must be one of {', '.join(map(repr, METHODS))}; got {method!r}")
    cov = merge_covariates(covariates, model_kwargs)
    if method == "laplace":
        return laplace_volume(mc, params0, eps2, kl_draws=kl_draws, covariates=cov)
    if key is None:
        raise InputError(f"key is required for method={method!r} (a jax.random.key or PRNGKey)")
    key = as_key(key)
    key_is, key_ns = jax.random.split(key)
    imp_opts = {"num_draws": num_draws, **dict(importance_options or {})}
    nest_opts = {"progress": False, **dict(nested_options or {})}
    if method == "importance":
        return importance_volume(mc, params0, eps2, key=key_is, kl_draws=kl_draws, covariates=cov, **imp_opts)
    if method == "nested":
        return sampled_volume(mc, params0, eps2, key=key_ns, kl_draws=kl_draws, covariates=cov, **nest_opts)
    from bayesvol.volume.importance import ImportanceCollapseWarning, _check_eps2
    from bayesvol.volume.laplace import LaplaceError

    t = _check_eps2(eps2)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ImportanceCollapseWarning)  # answered below by nested sampling
            curve = importance_volume(mc, params0, t, key=key_is, kl_draws=kl_draws, covariates=cov,
                                      **imp_opts)
    except LaplaceError as err:  # the prior has no Gaussian view at θ0
        reason = f"importance sampling does not apply: {err}"
        curve = None
    except InputError as err:
        if "Hessian" not in str(err):
            raise
        reason = f"importance sampling does not apply: {err}"
        curve = None
    if curve is None:
        nested = sampled_volume(mc, params0, t, key=key_ns, kl_draws=kl_draws, covariates=cov, **nest_opts)
        info = AutoVolumeInfo(("nested",) * t.size, None, nested.diagnostics, reason,
                              nested.diagnostics.num_evaluations)
        return _replace(nested, "nested", info)
    imp: ImportanceInfo = curve.diagnostics
    bad = np.asarray(imp.collapsed, dtype=bool)
    if not np.any(bad):
        info = AutoVolumeInfo(("importance",) * t.size, imp, None, "", imp.num_evaluations)
        return _replace(curve, "importance", info)
    nested = sampled_volume(mc, params0, t[bad], key=key_ns, kl_draws=kl_draws, covariates=cov, **nest_opts)
    log_v, se = np.array(curve.log_volume), np.array(curve.stderr)
    k, k_se = np.array(curve.volume_dimension), np.array(curve.volume_dimension_stderr)
    log_v[bad], se[bad] = nested.log_volume, nested.stderr
    k[bad], k_se[bad] = nested.volume_dimension, nested.volume_dimension_stderr
    source = tuple("nested" if b else "importance" for b in bad)
    reason = (f"importance sampling's ESS collapsed at eps2 = {t[bad][:4].tolist()} "
              f"(ESS {np.round(imp.ess[bad][:4], 1).tolist()})")
    info = AutoVolumeInfo(source, imp, nested.diagnostics, reason,
                          imp.num_evaluations + nested.diagnostics.num_evaluations)
    merged = VolumeCurve(eps2=t, log_volume=log_v, stderr=se, volume_dimension=k,
                         volume_dimension_stderr=k_se,
                         method="importance+nested" if not np.all(bad) else "nested",
                         eigenvalues=curve.eigenvalues, diagnostics=info)
    return merged


def _replace(curve: VolumeCurve, method: str, info: AutoVolumeInfo) -> VolumeCurve:
    return VolumeCurve(eps2=curve.eps2, log_volume=curve.log_volume, stderr=curve.stderr,
                       volume_dimension=curve.volume_dimension,
                       volume_dimension_stderr=curve.volume_dimension_stderr, method=method,
                       eigenvalues=curve.eigenvalues, diagnostics=info)
