"""Studies: a plain loop vs bv.Sweep through the process and Ray executors; SIGKILL then resume.

A study of N cells (default 40) of a few seconds of single-threaded JAX work each (a jitted loop of small
matrix products, sized once so that one cell takes ``--seconds`` in this process). Measured in one run:

- loop: the cells called one after the other in this process, no store (the baseline; its time / N is a
  cell's own time);
- each executor (2 workers): wall time, speed-up = loop / wall, and the overhead per cell = (workers ×
  wall − Σ the cells' own times measured inside the workers) / N — the time a worker spends on anything
  but the cell (process start and imports, JAX compilation of the cell in each new worker, scheduling,
  pickling) — as a fraction of a cell's own time in the loop (goal ≤ 5 %, and speed-up ≥ 1.8×);
- kill and resume: the study through the process executor in a child process (its own session), killed
  with SIGKILL (driver and workers) once half the cells are written; then the same study again in this
  process. Reported: the cells written before the kill, the cells lost (started — each cell touches a
  marker when it starts — but not written: at most the cells in flight, = workers) and the time from the
  kill to the resumed study's end.

Run: .venv/bin/python benchmarks/bench_sweep.py [--cells 40] [--seconds 2.5] [--workers 2]  (≈ 5 min)
"""

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import xarray as xr

import bayesvol as bv

STARTED = Path(os.environ.get("BENCH_SWEEP_STARTED", "/nonexistent"))


@jax.jit
def _work(key, steps):
    a = jax.random.normal(key, (24, 24)) / 6.0

    def body(_, x):
        return jnp.tanh(a @ x)

    return jax.lax.fori_loop(0, steps, body, jnp.eye(24))


def cell(coords, key):
    """``coords["steps"]`` small products in a jitted loop: single-threaded work of a fixed size."""
    if STARTED.is_dir():
        (STARTED / f"{coords['i']}").touch()
    x = _work(key, coords["steps"])
    return xr.Dataset({"trace": ((), float(jnp.trace(x))), "norm": ((), float(jnp.linalg.norm(x)))})


def calibrate(seconds):
    key = jax.random.PRNGKey(0)
    _work(key, 10).block_until_ready()
    steps = 20000
    while True:
        start = time.perf_counter()
        _work(key, steps).block_until_ready()
        took = time.perf_counter() - start
        if took > 0.3:
            return int(steps * seconds / took)
        steps *= 4


_KILLED = """
import sys
sys.path.insert(0, {here!r})
import bench_sweep, bayesvol as bv
bv.Sweep(bench_sweep.cell, {grid!r}, seed=1).run({path!r}, executor="processes", workers={workers},
                                               progress=False)
"""


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--cells", type=int, default=40)
    parser.add_argument("--seconds", type=float, default=2.5)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    n, w = args.cells, args.workers
    print(f"load average at start: {os.getloadavg()}")
    steps = calibrate(args.seconds)
    grid = {"i": list(range(n)), "steps": [steps]}
    # by its module name, as the killed child names it (a study records its function as module:name)
    sys.path.insert(0, str(Path(__file__).parent))
    import bench_sweep

    sweep = bv.Sweep(bench_sweep.cell, grid, seed=1)
    root = Path(tempfile.mkdtemp(prefix="bench-sweep-"))
    try:
        start = time.perf_counter()
        for coords in sweep.cells():
            cell(coords, sweep.key(coords))
        loop = time.perf_counter() - start
        own = loop / n
        print(f"{n} cells of {steps} steps; plain loop {loop:.1f} s = {own:.2f} s per cell "
              f"(load {os.getloadavg()[0]:.1f})")
        reference = None
        import warnings

        import ray

        with warnings.catch_warnings():  # Ray's fork + exec of its services (see executors.py)
            warnings.filterwarnings("ignore", message=r"os\.fork\(\) was called", category=RuntimeWarning)
            ray.init(num_cpus=w, include_dashboard=False, log_to_driver=False)  # started outside the timing
        for executor in ("processes", "ray"):
            result = sweep.run(root / executor, executor=executor, workers=w, progress=False)
            overhead = (w * result.seconds - result.cell_seconds) / n
            print(f"{executor:>9}: wall {result.seconds:6.1f} s, speed-up {loop / result.seconds:.2f}× "
                  f"(goal ≥ 1.8), cells' own time in the workers {result.cell_seconds / n:.2f} s per cell "
                  f"({result.cell_seconds / loop:.2f}× the loop's), overhead per cell {overhead:.2f} s = "
                  f"{100 * overhead / own:.1f} % of a cell (goal ≤ 5 %) (load {os.getloadavg()[0]:.1f})")
            ds = bv.open_study(root / executor)
            if reference is None:
                reference = ds
            xr.testing.assert_identical(ds, reference)
        ray.shutdown()
        print("processes and ray: bit-identical studies")

        # SIGKILL then resume
        path, started = root / "killed", root / "started"
        started.mkdir()
        script = _KILLED.format(here=str(Path(__file__).parent), grid=grid, path=str(path), workers=w)
        env = {**os.environ, "BENCH_SWEEP_STARTED": str(started)}
        child = subprocess.Popen([sys.executable, "-c", script], env=env, start_new_session=True,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        cells = path / "cells"
        while child.poll() is None and not (cells.is_dir() and len(list(cells.glob("[!.]*.nc"))) >= n // 2):
            time.sleep(0.02)
        os.killpg(child.pid, signal.SIGKILL)  # the driver and its workers
        killed = time.perf_counter()
        child.wait()
        written = len(list(cells.glob("[!.]*.nc")))
        lost = len(list(started.iterdir())) - written
        resumed = sweep.run(path, executor="processes", workers=w, progress=False)
        after = time.perf_counter() - killed
        ideal = (n - written) * own / w
        print(f"killed with {written} of {n} cells written, {lost} cell(s) lost in flight (≤ {w} workers); "
              f"resumed {resumed.ran} cells, finished {after:.1f} s after the kill (ideal (N − written) × "
              f"cell / workers = {ideal:.1f} s)")
        xr.testing.assert_identical(bv.open_study(path), reference)
        print("resumed study bit-identical to the uninterrupted ones")
        print(f"load average at end: {os.getloadavg()}")
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
