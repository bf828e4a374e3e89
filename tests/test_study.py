"""Studies (bv.Sweep): keys from coordinates, the store, executors, kill-and-resume, failures, CLI.

Cells are tiny user functions (tests/study_cells.py), so the tests time the machinery, not the numbers.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import jax
import numpy as np
import pytest
import xarray as xr

import bayesvol as bv
from bayesvol.study.store import CELL_ATTR, Store, canonical, cell_id, stable_hash

TESTS = Path(__file__).parent
sys.path.insert(0, str(TESTS))
import study_cells  # noqa: E402

GRID = {"scale": [1.0, 2.0], "n": [3, 10]}


def _sweep(fn=None, grid=GRID, seed=7):
    return bv.Sweep(fn or study_cells.normal_cell, grid, seed=seed)


def test_keys_come_from_coordinates_by_a_stable_hash():
    # pinned: the same coordinates give the same key in every process, on every machine, in later versions
    assert stable_hash({"scale": 1.0, "n": 3}) == stable_hash({"n": 3, "scale": 1.0}) == 4040470632
    assert cell_id({"scale": 1.0, "n": 3}) == "68b0d4f09c42c1c0"
    assert canonical({"a": 1}) != canonical({"a": 1.0})  # 1 and 1.0 are different cells
    sweep = _sweep()
    keys = {tuple(np.asarray(sweep.key(c)).tolist()) for c in sweep.cells()}
    assert len(keys) == 4
    expected = jax.random.fold_in(jax.random.PRNGKey(7), stable_hash({"scale": 2.0, "n": 10}))
    assert np.array_equal(sweep.key({"scale": 2.0, "n": 10}), expected)


def test_inline_study_stored_and_read_back_bit_for_bit(tmp_path):
    sweep = _sweep()
    result = sweep.run(tmp_path / "s", progress=False)
    assert result.ran == 4 and len(result.status.done) == 4
    store = Store(tmp_path / "s")
    for coords in sweep.cells():
        stored = store.read_cell(cell_id(coords))
        assert json.loads(stored.attrs.pop(CELL_ATTR)) == coords
        fresh = study_cells.normal_cell(coords, sweep.key(coords))
        xr.testing.assert_identical(stored, fresh)  # values, dtypes (float64, int64), attributes
    ds = bv.open_study(tmp_path / "s")
    assert ds["mean"].dims == ("scale", "n") and ds["draws"].dims == ("scale", "n", "draw")
    assert ds["mean"].dtype == np.float64 and (ds["cell_status"] == "done").all()
    one = ds["mean"].sel(scale=2.0, n=10).item()
    assert one == float(study_cells.normal_cell({"scale": 2.0, "n": 10}, sweep.key({"scale": 2.0, "n": 10}))
                        ["mean"])
    assert json.loads(ds.attrs["study_seed"]) == 7 and "bayesvol" in json.loads(ds.attrs["study_versions"])
    again = sweep.run(tmp_path / "s", progress=False)  # a rerun skips finished cells
    assert again.ran == 0
    with pytest.raises(bv.InputError, match=r"different study .*'seed'"):
        _sweep(seed=8).run(tmp_path / "s", progress=False)


@pytest.mark.slow
def test_processes_give_bit_identical_results(tmp_path):
    sweep = _sweep()
    sweep.run(tmp_path / "inline", progress=False)
    sweep.run(tmp_path / "procs", executor="processes", workers=2, progress=False)
    xr.testing.assert_identical(bv.open_study(tmp_path / "inline"), bv.open_study(tmp_path / "procs"))


def test_failures_are_recorded_and_the_study_goes_on(tmp_path, monkeypatch):
    sweep = bv.Sweep(study_cells.flaky_cell, {"x": [1, 2, 3, 4]})
    result = sweep.run(tmp_path / "s", progress=False)
    status = result.status
    assert (len(status.done), len(status.failed), len(status.pending)) == (2, 2, 0)
    store = Store(tmp_path / "s")
    raised = store.read_error(cell_id({"x": 2}))
    assert raised["coords"] == {"x": 2} and "ZeroDivisionError: cell x=2 divides by zero" in raised["message"]
    assert "Traceback" in raised["traceback"] and "flaky_cell" in raised["traceback"]
    nan = store.read_error(cell_id({"x": 3}))
    assert "'value' has no finite value" in nan["message"]
    ds = bv.open_study(tmp_path / "s")
    assert ds["cell_status"].values.tolist() == ["done", "failed", "failed", "done"]
    assert np.isnan(ds["value"].sel(x=2)) and np.isfinite(ds["value"].sel(x=4))
    assert sweep.run(tmp_path / "s", progress=False).ran == 0  # failed cells wait for --retry-failed
    monkeypatch.setattr(study_cells, "BROKEN", False)
    retried = sweep.run(tmp_path / "s", retry_failed=True, progress=False)
    assert retried.ran == 2 and len(retried.status.done) == 3 and len(retried.status.failed) == 1
    assert not (tmp_path / "s" / "cells" / f"{cell_id({'x': 2})}.error.json").exists()


_KILLED = """
import sys
sys.path.insert(0, {tests!r})
import bayesvol as bv, study_cells
bv.Sweep(study_cells.slow_cell, {grid!r}, seed=7).run({path!r}, progress=False)
"""


@pytest.mark.slow
def test_sigkill_mid_study_then_resume_equals_an_uninterrupted_run(tmp_path):
    grid = {"scale": [1.0, 2.0, 3.0], "n": [3, 10, 30], "pause": [0.4]}
    path = tmp_path / "killed"
    script = _KILLED.format(tests=str(TESTS), grid=grid, path=str(path))
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    cells = path / "cells"
    while time.monotonic() < deadline and proc.poll() is None:
        if cells.is_dir() and len(list(cells.glob("[!.]*.nc"))) >= 3:
            break
        time.sleep(0.05)
    assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    proc.stderr.close()
    finished = sorted(p.name for p in cells.glob("[!.]*.nc"))
    assert 3 <= len(finished) < 9  # killed mid-study
    sweep = bv.Sweep(study_cells.slow_cell, grid, seed=7)
    for name in finished:  # every file there is whole
        Store(path).read_cell(name[:-3])
    resumed = sweep.run(path, progress=False)
    assert resumed.ran == 9 - len(finished)  # nothing finished is recomputed
    assert not list(cells.glob(".*"))  # a temporary file of the killed writer is cleared
    whole = tmp_path / "whole"
    bv.Sweep(study_cells.slow_cell, {**grid, "pause": [0.4]}, seed=7).run(whole, progress=False)
    xr.testing.assert_identical(bv.open_study(path), bv.open_study(whole))


def test_progress_bar_counts_cells(tmp_path, progress_spy):
    values, _ = progress_spy()
    bv.Sweep(study_cells.flaky_cell, {"x": [1, 2, 4]}).run(tmp_path / "s")
    assert values[-1] == 3 and values == sorted(values)


_SHARDED = """
import os
os.environ["XLA_FLAGS"] = "--xla_force_host_platform_device_count=2"
import jax, jax.numpy as jnp, numpy as np
import bayesvol as bv
assert len(jax.devices()) == 2
keys = jax.random.split(jax.random.PRNGKey(3), 5)
fn = lambda k: jnp.cumsum(jax.random.normal(k, (64,)))[-1]
out = bv.shard_map_keys(fn, keys)
assert np.array_equal(np.asarray(out), np.asarray(jax.vmap(fn)(keys)))
padded = bv.shard_map_keys(fn, jax.random.split(jax.random.PRNGKey(3), 6))
assert len(padded.sharding.device_set) == 2
print("ok", out.shape)
"""


def _with_two_host_devices(script: str, timeout: int) -> str:
    """Run ``script`` (which asks for 2 host devices itself) in a fresh interpreter; its stdout."""
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=timeout,
                         env={k: v for k, v in os.environ.items() if k != "XLA_FLAGS"})
    assert out.returncode == 0, out.stderr[-2000:]
    return out.stdout.strip()


@pytest.mark.slow
def test_replicates_sharded_over_host_devices():
    assert _with_two_host_devices(_SHARDED, 120) == "ok (5,)"


_NESTED_SHARDED = """
import os
os.environ["XLA_FLAGS"] = "--xla_force_host_platform_device_count=2"
import jax, numpy as np
import bayesvol as bv
import bayesvol_zoo as models
from bayesvol.volume import nested

placed = []
run_levels = nested._run_levels
def spy(*args, **kwargs):
    placed.append(len(args[1].sharding.device_set) if hasattr(args[1], "sharding") else 1)
    return run_levels(*args, **kwargs)
nested._run_levels = spy
zoo = models.linear_regression(d=3)
x = zoo.sample_covariates(jax.random.PRNGKey(1), 20)["x"]
def curve():
    return bv.sampled_volume(zoo.model_class, zoo.true_params, np.logspace(-3, 0, 4),
                             key=jax.random.PRNGKey(0), x=x, num_live=32, num_runs=4, num_steps=2,
                             progress=False)
sharded = curve()
nested.shard_leading = lambda *arrays: arrays  # every run on the first device
single = curve()
assert np.array_equal(sharded.log_volume, single.log_volume) and np.array_equal(sharded.stderr, single.stderr)
print("ok", placed)
"""


@pytest.mark.slow
def test_nested_runs_sharded_over_host_devices_give_the_same_curve():
    # the R independent nested-sampling runs are split over the devices present (the CLI asks for host
    # devices), and the curve is bit-identical to the one computed on one device
    assert _with_two_host_devices(_NESTED_SHARDED, 300) == "ok [2, 1]"


def test_sweep_command_line(tmp_path, capsys):
    from bayesvol.app.cli import main

    (tmp_path / "cells.py").write_text((TESTS / "study_cells.py").read_text())
    study = tmp_path / "study.toml"
    study.write_text(textwrap.dedent(f"""
        function = "{tmp_path / 'cells.py'}:flaky_cell"
        seed = 5
        out = "{tmp_path / 'out'}"
        [grid]
        x = [1, 2]
    """))
    assert main(["sweep", str(study)]) == 0
    assert "ran 2 cell(s)" in capsys.readouterr().out
    assert main(["sweep", str(study), "--status", "--json"]) == 0
    status = json.loads(capsys.readouterr().out)
    assert status["done"] == 1 and status["pending"] == 0
    assert status["failed"][0]["coords"] == {"x": 2} and "divides by zero" in status["failed"][0]["message"]
    assert main(["sweep", str(study), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["ran"] == 0
    assert main(["sweep", str(study), "--report"]) == 0
    assert (tmp_path / "out" / "report.html").is_file()


@pytest.mark.slow
def test_command_cells_run_the_command_in_its_own_process(tmp_path):
    # the library does not check a command's option values (the command line does, before any cell):
    # m = 0 reaches the command, which refuses it; that cell fails, the other is done
    sweep = bv.Sweep("spectrum", {"model": ["bernoulli"], "m": [20, 0]})
    result = sweep.run(tmp_path / "s", progress=False)
    assert (len(result.status.done), len(result.status.failed)) == (1, 1)
    ds = bv.open_study(tmp_path / "s")
    eigenvalues = ds["eigenvalues"].sel(model="bernoulli", m=20).values
    assert eigenvalues.shape == (1,) and eigenvalues[0] > 0  # d = 1
    error = Store(tmp_path / "s").read_error(cell_id({"model": "bernoulli", "m": 0}))
    assert "exited with 2: bayesvol: error: --m must be a positive integer, got 0" in error["message"]
