"""Covariates and data rows: which model arguments are per-row, and every operation on rows.

A supervised model reads its covariates from its own arguments (``model(x, y=None)``); a generative one
takes its row count (``model(n=1, y=None)``). This module is the one place that says which arguments
index the data rows, and how rows are taken, cut, joined and passed to compiled functions. Every
estimator, predictor and sampler goes through it.

The rule (:class:`RowLayout`), discovered once per model class by tracing (:func:`discover_layout`):

* an **array argument is per-row** when its leading axis is the observed site's row axis: doubling it
  along that axis doubles the rows the model reads (so a feature-length vector that happens to have as
  many entries as there are rows is never mistaken for one);
* an **integer argument is the row count** when it equals the number of rows and doubling it doubles them;
* everything else is **static** (structure such as a degree or widths) and is made hashable for ``jax.jit``.

Covariates reach the API either as keyword arguments or as one mapping ``covariates={...}`` — the latter
for models whose argument names collide with an API parameter (``data``, ``key``, …).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from bayesvol.errors import InputError, ModelClassError

__all__ = [
    "RowLayout",
    "Static",
    "discover_layout",
    "freeze",
    "infer_layout",
    "merge_covariates",
    "num_rows",
    "thaw",
]

Static = tuple[tuple[str, Any], ...]


class _ByIdentity:
    """A value that cannot be hashed (an array that is not per-row), hashed by identity for ``jax.jit``."""

    def __init__(self, value: Any):
        self.value = value

    def __hash__(self) -> int:
        return id(self.value)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _ByIdentity) and other.value is self.value


def freeze(static: Mapping[str, Any]) -> Static:
    """Static covariates as a hashable sorted tuple (unhashable values by identity), for ``jax.jit``."""

    def hashable(v: Any) -> bool:
        try:
            hash(v)
        except TypeError:
            return False
        return True

    return tuple(sorted((k, v if hashable(v) else _ByIdentity(v)) for k, v in static.items()))


def thaw(static: Static) -> dict[str, Any]:
    """The inverse of :func:`freeze`."""
    return {k: v.value if isinstance(v, _ByIdentity) else v for k, v in static}


def num_rows(data: Any) -> int:
    """Rows of a data array: its leading axis (a scalar is one row)."""
    return int(jnp.shape(data)[0]) if jnp.ndim(data) > 0 else 1


def merge_covariates(covariates: Mapping[str, Any] | None, model_kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """One dict from the ``covariates=`` mapping and the keyword covariates; a name given twice: error."""
    if covariates is None:
        return dict(model_kwargs)
    if not isinstance(covariates, Mapping):
        raise InputError(
            f"covariates must be a mapping {{argument name: value}}, got {type(covariates).__name__}")
    both = sorted(set(covariates) & set(model_kwargs))
    if both:
        raise InputError(f"covariate(s) {both} given both in covariates= and as keyword arguments")
    return {**covariates, **model_kwargs}


class RowLayout(NamedTuple):
    """Which model arguments index the data rows.

    Attributes
    ----------
    rows : tuple of str
        Array arguments whose leading axis is the row axis.
    count : str or None
        The integer argument that is the number of rows (a generative class's ``n``).

    """

    rows: tuple[str, ...] = ()
    count: str | None = None

    def split(self, kwargs: Mapping[str, Any]) -> tuple[dict[str, jax.Array], Static]:
        """(per-row arrays, hashable static rest): the arrays are jit arguments, the rest static."""
        rowwise = {k: jnp.asarray(v) for k, v in kwargs.items() if k in self.rows}
        return rowwise, freeze({k: v for k, v in kwargs.items() if k not in self.rows})

    def check(self, data: Any, kwargs: Mapping[str, Any]) -> int:
        """The number of rows of ``data``; every per-row covariate must have as many (else an InputError)."""
        rows = num_rows(data)
        for name in self.rows:
            if name in kwargs and num_rows(kwargs[name]) != rows:
                raise ModelClassError(
                    f"covariate {name!r} has {num_rows(kwargs[name])} rows but the data has {rows} "
                    f"(data shape {tuple(jnp.shape(data))}, {name} shape {tuple(jnp.shape(kwargs[name]))})"
                )
        return rows

    def _with_count(self, kwargs: Mapping[str, Any], rows: int) -> dict[str, Any]:
        out = dict(kwargs)
        if self.count is not None and self.count in out:
            out[self.count] = int(rows)
        return out

    def take(self, data: Any, kwargs: Mapping[str, Any], index: Any) -> tuple[jax.Array, dict[str, Any]]:
        """Rows ``index`` (an integer array) of the data and of every per-row covariate."""
        index = jnp.asarray(index)
        taken = {k: (jnp.asarray(v)[index] if k in self.rows else v) for k, v in kwargs.items()}
        return jnp.asarray(data)[index], self._with_count(taken, index.shape[0])

    def prefix(self, data: Any, kwargs: Mapping[str, Any], n: int) -> tuple[jax.Array, dict[str, Any]]:
        """The first n rows of the data and of every per-row covariate (row count set to n)."""
        cut = {k: (v[:n] if k in self.rows else v) for k, v in kwargs.items()}
        return jnp.asarray(data)[:n], self._with_count(cut, n)

    def concat(self, a: tuple[Any, Mapping[str, Any]], b: tuple[Any, Mapping[str, Any]]
               ) -> tuple[jax.Array, dict[str, Any]]:
        """Two (data, covariates) sets joined row-wise: per-row arrays concatenated, row counts added."""
        (data_a, cov_a), (data_b, cov_b) = a, b
        joined = {k: (jnp.concatenate([jnp.asarray(v), jnp.asarray(cov_b[k])]) if k in self.rows else v)
                  for k, v in cov_a.items()}
        data = jnp.concatenate([jnp.asarray(data_a), jnp.asarray(data_b)])
        return data, self._with_count(joined, num_rows(data))

    def single(self, kwargs: Mapping[str, Any]) -> dict[str, Any]:
        """Covariates of one row (per-row arrays indexed away): the inverse of adding a leading axis."""
        return self._with_count({k: v for k, v in kwargs.items() if k not in self.rows}, 1)


def infer_layout(rows: int, kwargs: Mapping[str, Any]) -> RowLayout:
    """The layout of covariates that come with a data set but no model class: arrays with ``rows`` rows.

    Used only where no model class is at hand (:func:`bayesvol.dataset_truth`); a model class's own
    layout (:attr:`ModelClass.row_layout`) is discovered by tracing and takes precedence.
    """
    per_row = tuple(sorted(k for k, v in kwargs.items() if jnp.ndim(v) > 0 and num_rows(v) == rows))
    counts = [k for k, v in kwargs.items() if isinstance(v, (int, np.integer)) and not isinstance(v, bool)
              and int(v) == rows]
    return RowLayout(per_row, counts[0] if len(counts) == 1 else None)


def discover_layout(rows_of: Callable[[Mapping[str, Any]], int], kwargs: Mapping[str, Any]) -> RowLayout:
    """Find the per-row arguments of a model by tracing it (see the module docstring).

    ``rows_of(kwargs)`` runs the model with those arguments and returns the number of rows of its observed
    site. Candidates are the array arguments whose leading axis has that many entries and the integer
    arguments equal to it; each is confirmed by doubling it (with the other confirmed candidates): the
    model must then read twice as many rows. A model that runs at no other row count keeps every
    candidate as per-row (required, never silently replaced by the example rows).
    """
    base = rows_of(kwargs)
    arrays = [k for k, v in kwargs.items() if hasattr(v, "shape") and jnp.ndim(v) > 0 and num_rows(v) == base]
    counts = [k for k, v in kwargs.items() if isinstance(v, (int, np.integer)) and not isinstance(v, bool)
              and int(v) == base]

    def doubled(names: list[str]) -> dict[str, Any]:
        out = dict(kwargs)
        for k in names:
            v = kwargs[k]
            out[k] = 2 * int(v) if k in counts else jnp.concatenate([jnp.asarray(v), jnp.asarray(v)])
        return out

    def doubles(names: list[str]) -> bool:
        try:
            return rows_of(doubled(names)) == 2 * base
        except Exception:  # the model rejects these arguments doubled: they are not all per-row
            return False

    candidates = arrays + counts
    if not candidates:
        return RowLayout()
    confirmed: list[str] = []
    if doubles(candidates):
        confirmed = candidates
    else:  # a candidate only happens to have the row count: drop one, else keep those that double alone
        confirmed = next((rest for c in candidates if doubles(rest := [k for k in candidates if k != c])),
                         [k for k in candidates if doubles([k])])
        # a model that cannot be traced at another row count: take the candidates as per-row, so that
        # they are required (an error when left out) rather than silently defaulted to the example rows
        confirmed = confirmed or candidates
    return RowLayout(tuple(sorted(k for k in confirmed if k in arrays)),
                     next((k for k in confirmed if k in counts), None))
