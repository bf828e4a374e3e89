"""A model's outputs at flat z, and how many directions leave them unchanged at a fit.

The likelihood family, the observed site, η (the Normal mean or the logits), per-datum log-probabilities
with η replaced, and :func:`flat_directions`.

The lowest module of the regret stage's helpers (it imports no predictor), so the predictor registry
(:mod:`bayesvol.regret.predictors`), the approximate mixtures (:mod:`bayesvol.regret.approx`) and the
named ERMs (:mod:`bayesvol.regret.named_erm`) all read outputs the same way without an import cycle.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from bayesvol.errors import InputError
from bayesvol.model.covariates import Static, thaw
from bayesvol.model.model_class import Array, ModelClass

__all__ = ["FLAT_FAMILIES", "FLAT_MAX_ENTRIES", "flat_directions", "likelihood_family", "observed_outputs",
           "observed_site_at", "per_datum_log_prob"]


def _base(fn: Any) -> Any:
    """The innermost distribution of ``fn`` (under Independent, Expanded, Masked wrappers)."""
    while hasattr(fn, "base_dist"):
        fn = fn.base_dist
    return fn


def likelihood_family(fn: Any) -> str:
    """"normal", "bernoulli", "categorical" for those base distributions, else the class name."""
    import numpyro.distributions as dist

    base = _base(fn)
    if isinstance(base, dist.Normal):
        return "normal"
    if isinstance(base, dist.BernoulliProbs | dist.BernoulliLogits):
        return "bernoulli"
    if isinstance(base, dist.CategoricalProbs | dist.CategoricalLogits):
        return "categorical"
    return type(base).__name__


def observed_site_at(mc: ModelClass, z: Array, covariates: Mapping[str, Any]) -> Any:
    """The observed site of the trace at flat z with the given (resolved) covariates."""
    return mc.observed_trace(mc.unflatten(z), covariates)[mc.observed_site]


def observed_outputs(mc: ModelClass, family: str, z: Array, covariates: Mapping[str, Any]
                     ) -> tuple[Array, Array]:
    """(η, the fixed Normal scale or 0): η the Normal mean or the logits of the base distribution."""
    base = _base(observed_site_at(mc, z, covariates)["fn"])
    if family == "normal":
        return jnp.asarray(base.loc), jnp.asarray(base.scale)
    return jnp.asarray(base.logits), jnp.zeros(())


def per_datum_log_prob(mc: ModelClass, family: str, site: Any, eta: Array, scale: Array,
                        data: Array) -> Array:
    """Per-datum log p(data_i | η_i) with the base distribution's parameter replaced by η."""
    import numpyro.distributions as dist

    if family == "normal":
        inner = dist.Normal(eta, scale)
    elif family == "bernoulli":
        inner = dist.Bernoulli(logits=eta)
    else:
        inner = dist.Categorical(logits=eta)
    # the wrappers only sum event dimensions (Independent) or broadcast (Expanded): per_datum does both
    return mc.per_datum(site, inner.log_prob(data))


#: Likelihood families whose outputs η (Normal mean, logits) :func:`flat_directions` differentiates.
FLAT_FAMILIES = ("normal", "bernoulli", "categorical")
#: The largest Jacobian (rows × outputs per row × d entries) :func:`flat_directions` forms; past it the
#: count is None (reverse mode over every output of a 1,797-row, 10-class, d = 9,610 network asked for
#: 1.0e11 bytes). 2²⁴ entries: 134 MB of float64 and an SVD of seconds.
FLAT_MAX_ENTRIES = 2**24


@functools.lru_cache(maxsize=64)
def _jacobian_fn(mc: ModelClass, family: str, static: Static) -> Callable[..., tuple[Array, Array]]:
    """Compiled (z, rows) -> (J = ∂η/∂z of every row's outputs, flattened rows first; the Normal scale)."""

    def jacobian(z: Array, rows: Mapping[str, Array]) -> tuple[Array, Array]:
        cov = {**thaw(static), **rows}

        def outputs(z: Array) -> Array:
            return observed_outputs(mc, family, z, cov)[0].reshape(-1)

        return jax.jacrev(outputs)(z), observed_outputs(mc, family, z, cov)[1]

    return jax.jit(jacobian)


def flat_directions(mc: ModelClass, z: Array, data: Any, covariates: Mapping[str, Any], *,
                    num_rows: int | None = None, rcond: float | None = None) -> int | None:
    """Dimension d − rank(J) of the flat set, J = ∂η/∂z at z on the first ``num_rows`` rows (float64 SVD).

    η: the Normal mean (rows scaled by 1/σ) or the Bernoulli/categorical logits; singular values below
    ``rcond`` · s_max count as 0, default rcond = max(rows·k, d)·ε₆₄ (NumPy's ``matrix_rank``). None for
    another likelihood family, a non-finite z (an escaped fit) or a Jacobian of more than
    ``FLAT_MAX_ENTRIES`` entries (too costly to form for a report): unknown, never a number. Not counted
    as a predictor's cost: one Jacobian of the training outputs (rows·k per-datum gradients), a report,
    not part of the fit.
    """
    z = jnp.asarray(z, dtype=jnp.float64)
    if z.shape != (mc.dim,):
        raise InputError(f"z must be a flat parameter vector of shape ({mc.dim},), got shape {z.shape}")
    if rcond is not None and not 0 <= float(rcond) < 1:
        raise InputError(f"rcond must lie in [0, 1), got {rcond!r}")
    rows_given = int(jnp.shape(data)[0]) if jnp.ndim(data) else 0
    if num_rows is not None and not 1 <= int(num_rows) <= rows_given:
        raise InputError(f"num_rows = {num_rows} must lie in [1, {rows_given}] (the rows of data)")
    if not bool(jnp.all(jnp.isfinite(z))):
        return None
    covariates = dict(covariates)
    family = likelihood_family(observed_site_at(mc, z, covariates)["fn"])
    if family not in FLAT_FAMILIES:
        return None
    data = jnp.asarray(data)
    rows_total = int(data.shape[0])
    rows = rows_total if num_rows is None else int(num_rows)
    outputs = int(np.size(observed_outputs(mc, family, z, covariates)[0]))
    if outputs * mc.dim > FLAT_MAX_ENTRIES:
        return None
    rowwise, static = mc.row_layout.split(covariates)
    jac, scale = _jacobian_fn(mc, family, static)(z, rowwise)
    jac = np.asarray(jac, np.float64)
    cut = rows * (jac.shape[0] // max(rows_total, 1))  # outputs of the first rows (rows first)
    a = jac[:cut]
    if family == "normal":
        a = a / np.broadcast_to(np.asarray(scale, np.float64), (jac.shape[0],))[:cut, None]
    if a.size == 0:
        return int(mc.dim)
    s = np.linalg.svd(a, compute_uv=False)
    if rcond is None:
        rcond = max(a.shape) * float(np.finfo(np.float64).eps)
    if not s[0] > 0:
        return int(mc.dim)
    return int(mc.dim) - int(np.sum(s > float(rcond) * s[0]))
