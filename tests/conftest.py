"""Shared test set-up: CPU only, float64, and a Monte Carlo comparison helper.

Tests compare against exact answers; a Monte Carlo comparison is accepted within 4 standard errors of
the estimate (a fixed seed makes it deterministic; a correct implementation fails it with probability
≈ 6·10⁻⁵ per comparison over the choice of seed).
"""

import gc
import io
import os
import sys

os.environ.setdefault("JAX_PLATFORMS", "cpu")

import jax
import numpy as np
import pytest

import bayesvol  # noqa: F401  (switches on float64)
import bayesvol_zoo as models

jax.config.update("jax_enable_x64", True)


MAX_MAPS = 20_000
"""Memory maps past which a test's teardown drops JAX's compiled executables even inside a module."""


def _memory_maps() -> int:
    try:
        with open("/proc/self/maps") as maps:
            return sum(1 for _ in maps)
    except OSError:  # not Linux: only the module boundary applies
        return 0


def pytest_runtest_teardown(item, nextitem):
    """At the end of each test module (or once the process holds MAX_MAPS memory maps), drop JAX's
    compiled executables. Each one holds memory maps of its own, and a worker that runs a few hundred
    tests keeps thousands of them: past the kernel's vm.max_map_count (65,530) LLVM cannot map the next
    compiled function and the worker segfaults inside XLA's compile (measured: 14,700 maps after 70
    tests; one module's 8,062 fall to 1,470; with the module rule alone a CI worker peaked at 33,735)."""
    if nextitem is None or nextitem.module is not item.module or _memory_maps() > MAX_MAPS:
        jax.clear_caches()
        gc.collect()


def assert_within_se(estimate, stderr, exact, n_se=4.0):
    """|estimate − exact| ≤ n_se·stderr elementwise (stderr must be positive)."""
    estimate, stderr, exact = (np.asarray(a, dtype=float) for a in (estimate, stderr, exact))
    assert np.all(stderr > 0), f"stderr must be positive, got {stderr}"
    z = np.abs(estimate - exact) / stderr
    assert np.all(z <= n_se), f"estimate {estimate} vs exact {exact}: {z} standard errors (stderr {stderr})"


@pytest.fixture
def key():
    return jax.random.PRNGKey(20261130)


@pytest.fixture(scope="session")
def zoo():
    """Every zoo entry with its default options, built once (its ModelClass is cached on the entry)."""
    return {name: models.get(name) for name in sorted(models.REGISTRY)}


class _Terminal(io.StringIO):
    """A stderr that says it is a terminal, so progress bars are drawn."""

    def isatty(self) -> bool:
        return True


@pytest.fixture
def progress_spy(monkeypatch):
    """Call inside the test (pytest re-installs its own stderr after set-up): makes stderr a fake
    terminal and records every value a progress bar is moved to; returns (values, stderr)."""
    from bayesvol import progress

    def install():
        values, terminal = [], _Terminal()
        advance = progress._advance

        def spy(bar, value, postfix):
            if bar is not None:
                values.append(value)
            advance(bar, value, postfix)

        monkeypatch.setattr(progress, "_advance", spy)
        monkeypatch.setattr(sys, "stderr", terminal)
        return values, terminal

    return install
