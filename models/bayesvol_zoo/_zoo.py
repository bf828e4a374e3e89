"""The zoo entry is a :class:`bayesvol.model.problem.Problem`; ``ZooModel`` is its name inside the zoo.

The option checks below make a bad option one clear line naming the option and its valid range (the
command line passes ``--option KEY=VALUE`` straight to the constructors).
"""

import numbers
from typing import Any

import numpy as np

from bayesvol.errors import InputError
from bayesvol.model.problem import Facts as Facts
from bayesvol.model.problem import Problem as ZooModel

__all__ = ["Facts", "ZooModel", "ZooOptionError", "check_int", "check_positive", "check_sequence"]


class ZooOptionError(InputError):
    """An option of a zoo model outside its valid range."""


def check_int(name: str, value: Any, minimum: int, maximum: int | None = None) -> int:
    """``value`` as an int in [minimum, maximum], else a ZooOptionError naming the option and the range."""
    bounds = f"≥ {minimum}" if maximum is None else f"in [{minimum}, {maximum}]"
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum or (
            maximum is not None and value > maximum):
        raise ZooOptionError(f"{name} must be an integer {bounds}, got {value!r}")
    return int(value)


def check_positive(name: str, value: Any, allow_zero: bool = False, below: float | None = None) -> float:
    """``value`` as a float > 0 (≥ 0 with allow_zero; < below when given), else a ZooOptionError."""
    bounds = ("≥ 0" if allow_zero else "> 0") + ("" if below is None else f" and < {below:g}")
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not (
            value >= 0 if allow_zero else value > 0) or (below is not None and not value < below):
        raise ZooOptionError(f"{name} must be a number {bounds}, got {value!r}")
    return float(value)


def check_sequence(name: str, value: Any, length: int | None = None, kind: str = "number") -> tuple[Any, ...]:
    """``value`` as a tuple of numbers (of the given length), else a ZooOptionError."""
    types = numbers.Integral if kind == "integer" else numbers.Real
    try:
        ndim = np.ndim(value)
    except ValueError:  # ragged nesting
        ndim = -1
    if isinstance(value, (str, bytes)) or ndim != 1 or any(
            isinstance(v, bool) or not isinstance(np.asarray(v).item(), types) for v in value):
        raise ZooOptionError(f"{name} must be a list of {kind}s, got {value!r}")
    if length is not None and len(value) != length:
        raise ZooOptionError(f"{name} must hold {length} {kind}s, got {len(value)}: {list(value)!r}")
    return tuple(np.asarray(value).tolist())
