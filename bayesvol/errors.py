"""The package's error and warning base classes, and the checks every front door shares.

Every exception bayesvol raises on purpose derives from :class:`BayesvolError` (and from the built-in
class a caller would expect: ``ValueError`` for bad input, ``RuntimeError`` for a failed computation), and
every warning from :class:`BayesvolWarning`, so a user can catch or filter all of them at once:
``warnings.simplefilter("error", bv.BayesvolWarning)``.
"""

from __future__ import annotations

import os
from typing import Any

import jax
import numpy as np

__all__ = ["BayesvolError", "BayesvolWarning", "InputError", "ModelClassError", "as_key", "check_counts",
           "check_memory"]


class BayesvolError(Exception):
    """Base class of every error bayesvol raises on purpose."""


class BayesvolWarning(UserWarning):
    """Base class of every warning bayesvol emits."""


class InputError(BayesvolError, ValueError):
    """An argument of a bayesvol function is not of the kind or shape it needs."""


class ModelClassError(InputError):
    """A model, its parameters, covariates or data do not fit together."""


def check_counts(low: int = 1, error: type[InputError] = InputError, **counts: Any) -> None:
    """Each count must be an integer ≥ ``low`` (a bool is not a count); the first that is not is named."""
    for name, value in counts.items():
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
            raise error(f"{name} must be an integer ≥ {low}, got {value!r}")


def read_toml(path: Any, where: str, error: type[InputError] = InputError) -> dict[str, Any]:
    """A user's TOML file as a dict, or ``error`` saying, after ``where``, why it cannot be read."""
    import tomllib

    try:
        with open(path, "rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError as err:
        raise error(f"{where} not found") from err
    except IsADirectoryError as err:
        raise error(f"{where} is a folder, not a TOML file") from err
    except OSError as err:
        raise error(f"{where}: cannot read it: {err.strerror or err}") from err
    except tomllib.TOMLDecodeError as err:
        raise error(f"{where} is not valid TOML: {err}") from err


def _physical_memory() -> int:
    try:
        return int(os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):  # not POSIX: no check
        return 1 << 62


def check_memory(num_bytes: float, what: str, remedy: str) -> None:
    """Refuse, before any work, an allocation larger than 80 % of the machine's physical memory.

    ``what`` names the array (with its shape), ``remedy`` the option that makes it smaller.
    """
    limit = 0.8 * _physical_memory()
    if num_bytes > limit:
        raise InputError(f"{what} needs {num_bytes / 2**30:.1f} GiB, more than this machine's "
                         f"{limit / 2**30:.1f} GiB (80 % of its memory): {remedy}")


def as_key(key: Any, name: str = "key") -> jax.Array:
    """A JAX random key of either kind, as the raw ``uint32[2]`` array the estimators split.

    Accepts ``jax.random.key(...)`` (typed keys, JAX's recommendation) and ``jax.random.PRNGKey(...)``
    (raw ``uint32[2]``); anything else — an int, a list, a batch of keys — is refused with an
    :class:`InputError` naming the argument.
    """
    if isinstance(key, jax.Array) and jax.dtypes.issubdtype(key.dtype, jax.dtypes.prng_key):
        if key.shape != ():
            raise InputError(f"{name} must be a single random key, got a batch of shape {key.shape}")
        data = jax.random.key_data(key)
        if data.shape != (2,):
            raise InputError(f"{name} must be a threefry key (the default), got {jax.random.key_impl(key)}")
        return data
    if isinstance(key, (jax.Array, np.ndarray)) and key.shape == (2,) and key.dtype == np.uint32:
        return jax.numpy.asarray(key)
    kind = type(key).__name__
    shape = f" of shape {key.shape} and dtype {key.dtype}" if hasattr(key, "shape") else ""
    raise InputError(
        f"{name} must be a JAX random key (jax.random.key(seed) or jax.random.PRNGKey(seed)), "
        f"got {kind}{shape}"
    )
