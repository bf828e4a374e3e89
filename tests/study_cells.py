"""Tiny study cells for tests/test_study.py, importable by spawned processes and Ray workers."""

import time

import jax
import jax.numpy as jnp
import numpy as np
import xarray as xr

BROKEN = True  # flaky_cell's x = 2 fails while this is true (tests flip it in-process)


def normal_cell(coords, key):
    """Draws of N(0, scale²): a float64 mean, an int count and a vector (every dtype a cell may hold)."""
    x = jax.random.normal(key, (int(coords["n"]),)) * coords["scale"]
    return xr.Dataset({"mean": ((), np.float64(jnp.mean(x))), "count": ((), np.int64(coords["n"])),
                       "draws": ("draw", np.asarray(x[:4]))}, attrs={"note": "normal"})


def flaky_cell(coords, key):
    """x = 2 raises (while BROKEN), x = 3 returns NaN everywhere; the others are fine."""
    if coords["x"] == 2 and BROKEN:
        raise ZeroDivisionError("cell x=2 divides by zero")
    value = np.nan if coords["x"] == 3 else float(jax.random.uniform(key)) + coords["x"]
    return xr.Dataset({"value": ((), value)})


def slow_cell(coords, key):
    """normal_cell after a pause, so a kill lands mid-study."""
    time.sleep(float(coords.get("pause", 0.4)))
    return normal_cell(coords, key)
