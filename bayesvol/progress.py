"""Progress bars for the long runs (nested sampling, SMC evidence): tqdm on stderr, only on a terminal.

The samplers are jitted ``lax`` loops; they report each step through ``jax.debug.callback`` with an
integer token naming the bar. The callback is compiled in whether or not a bar is shown (token −1: no bar,
the callback returns at once), so the compiled program — hence every number — is the same with and
without progress, and a loop compiles once for both.
"""

from __future__ import annotations

import itertools
import sys
from typing import Any

import numpy as np

__all__ = ["NO_BAR", "Progress", "report", "show_progress"]

NO_BAR = -1
_BARS: dict[int, Any] = {}  # token → open tqdm bar; only bars of calls in progress
_TOKENS = itertools.count()


def show_progress(progress: bool) -> bool:
    """Whether to draw a bar: asked for, and stderr is a terminal (never in a pipe, a log or a test)."""
    isatty = getattr(sys.stderr, "isatty", None)
    return bool(progress) and callable(isatty) and bool(isatty())


class Progress:
    """A tqdm bar on stderr for one call, reachable from jitted code by :attr:`token`.

    A context manager; with ``progress=False`` or stderr not a terminal it draws nothing and its token is
    :data:`NO_BAR`.
    """

    def __init__(self, progress: bool, description: str, total: float | None = None, unit: str = "it"):
        self.bar = None
        self.token = NO_BAR
        if show_progress(progress):
            from tqdm.auto import tqdm

            self.bar = tqdm(total=total, desc=description, unit=unit, file=sys.stderr, leave=False)
            self.token = next(_TOKENS)

    def __enter__(self) -> Progress:
        if self.bar is not None:
            _BARS[self.token] = self.bar
        return self

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            _BARS.pop(self.token, None)
            self.bar.close()

    def update_to(self, value: float, postfix: str | None = None) -> None:
        """Move the bar to ``value`` (never backwards) and show ``postfix``."""
        _advance(self.bar, value, postfix)


def _advance(bar: Any, value: float, postfix: str | None) -> None:
    if bar is None:
        return
    if postfix is not None:
        bar.set_postfix_str(postfix, refresh=False)
    if value > bar.n:
        bar.update(value - bar.n)


def report(token: Any, value: Any, *postfix: Any, template: str | None = None) -> None:
    """Host side of ``jax.debug.callback``: advance bar ``token`` to ``value`` (a no-op for NO_BAR).

    Under ``vmap`` the callback runs once per batch element, possibly out of order: the bar only moves
    forward. ``template`` formats the ``postfix`` values (e.g. the current level of D).
    """
    bar = _BARS.get(int(np.asarray(token).reshape(-1)[0]))
    if bar is None:
        return
    text = template.format(*(float(np.max(np.asarray(p))) for p in postfix)) if template else None
    _advance(bar, float(np.max(np.asarray(value))), text)
