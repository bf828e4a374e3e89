"""The Ray executor on a local Ray started here (2 CPUs, one session for the module): bit-identical cells."""

from __future__ import annotations

import os
import sys
import warnings
from pathlib import Path

import pytest
import xarray as xr

import bayesvol as bv

ray = pytest.importorskip("ray")
TESTS = Path(__file__).parent
sys.path.insert(0, str(TESTS))
import study_cells  # noqa: E402

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def local_ray():
    # Ray's workers are new processes: they find study_cells through PYTHONPATH, inherited from here
    saved = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = os.pathsep.join([str(TESTS), *([saved] if saved else [])])
    with warnings.catch_warnings():  # Ray's fork + exec of its services, flagged once JAX has started
        warnings.filterwarnings("ignore", message=r"os\.fork\(\) was called", category=RuntimeWarning)
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        yield
    finally:
        ray.shutdown()
        if saved is None:
            os.environ.pop("PYTHONPATH", None)
        else:
            os.environ["PYTHONPATH"] = saved


def test_ray_gives_bit_identical_results_and_isolates_failures(local_ray, tmp_path):
    sweep = bv.Sweep(study_cells.normal_cell, {"scale": [1.0, 2.0], "n": [3, 10]}, seed=7)
    sweep.run(tmp_path / "inline", progress=False)
    result = sweep.run(tmp_path / "ray", executor="ray", progress=False)
    assert result.ran == 4 and len(result.status.done) == 4
    assert ray.is_initialized()  # a Ray it did not start is left running
    xr.testing.assert_identical(bv.open_study(tmp_path / "inline"), bv.open_study(tmp_path / "ray"))
    flaky = bv.Sweep(study_cells.flaky_cell, {"x": [1, 2, 3]}).run(tmp_path / "flaky", executor="ray",
                                                                   progress=False)
    assert (len(flaky.status.done), len(flaky.status.failed)) == (1, 2)
    error = bv.open_study(tmp_path / "flaky")["cell_status"].values.tolist()
    assert error == ["done", "failed", "failed"]
