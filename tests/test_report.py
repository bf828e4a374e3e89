"""The HTML report renders in headless Chromium with its figures; NetCDF and JSON round-trip."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pytest
import xarray as xr

from bayesvol.app.report import Report, ReportError, jsonable

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
REQUIRE = os.environ.get("BAYESVOL_REQUIRE_CHROMIUM") == "1"


def _rendered_image_widths(html_path: Path) -> list[int]:
    """Load the page in headless Chromium; return the decoded width of every <img>."""
    probe = html_path.with_name("probe.html")
    script = ("<script>window.addEventListener('load',()=>{document.body.setAttribute('data-widths',"
              "[...document.images].map(i=>i.naturalWidth).join(','))})</script>")
    probe.write_text(html_path.read_text().replace("</body>", script + "</body>"))
    with tempfile.TemporaryDirectory() as profile:
        dom = subprocess.run(
            [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={profile}", "--virtual-time-budget=3000", "--dump-dom", probe.as_uri()],
            capture_output=True, text=True, timeout=60, check=True,
        ).stdout
    match = re.search(r'data-widths="([0-9,]*)"', dom)
    assert match, "the page did not finish loading in Chromium"
    return [int(w) for w in match.group(1).split(",") if w]


def _report(tmp_path: Path) -> Report:
    report = Report(tmp_path / "out", title="test report")
    report.add_text("Summary", "A sentence.")
    report.add_table("Table", [{"n": 1, "regret": 0.5}, {"n": 2, "regret": float("nan")}])
    for name in ("first", "second"):
        fig, ax = plt.subplots()
        ax.plot([0, 1], [0, 1])
        report.add_figure(name, fig, caption=f"figure {name}")
    return report


def test_html_renders_in_chromium_with_every_figure(tmp_path: Path) -> None:
    if CHROMIUM is None:
        if REQUIRE:
            pytest.fail("BAYESVOL_REQUIRE_CHROMIUM=1 but no chromium on PATH")
        pytest.skip("chromium not installed (CI installs it)")
    report = _report(tmp_path)
    path = report.write_html()
    widths = _rendered_image_widths(path)
    assert len(widths) == 2
    assert all(w > 100 for w in widths)  # decoded PNGs, not broken-image placeholders


def test_html_is_self_contained(tmp_path: Path) -> None:
    text = _report(tmp_path).write_html().read_text()
    assert text.count('src="data:image/png;base64,') == 2
    assert "http://" not in text and "https://" not in text


def test_dataset_and_json_round_trip(tmp_path: Path) -> None:
    report = Report(tmp_path, title="x")
    ds = xr.Dataset({"regret": (("n",), np.array([0.1, 0.2]))}, coords={"n": [1, 2]},
                    attrs={"model": "bernoulli", "options": {"a": 0.5}})
    path = report.add_dataset("regret", ds)
    back = xr.open_dataset(path, engine="h5netcdf")
    np.testing.assert_array_equal(back["regret"].values, [0.1, 0.2])
    assert json.loads(back.attrs["options"]) == {"a": 0.5}
    back.close()
    report.add_results(value=np.float64(1.5), bad=float("nan"), big=np.inf, arr=np.arange(3))
    data = json.loads((tmp_path / "results.json").read_text())
    assert data == {"value": 1.5, "bad": None, "big": "inf", "arr": [0, 1, 2]}


def test_unwritable_output_folder_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(ReportError, match="cannot write to output folder"):
        Report(blocker / "sub", title="x")


def test_jsonable_nested() -> None:
    assert jsonable({"a": (np.int64(2), [np.float32(0.5)])}) == {"a": [2, [0.5]]}


def test_files_are_written_atomically(tmp_path: Path) -> None:
    """A writer that fails half-way leaves neither the file nor its temporary; an existing file is kept."""
    from bayesvol.app.report import write_atomic

    path = tmp_path / "results.json"
    path.write_text("old")

    def half_write(tmp: Path) -> None:
        tmp.write_text("half")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        write_atomic(path, half_write)
    assert path.read_text() == "old" and sorted(p.name for p in tmp_path.iterdir()) == ["results.json"]


def test_provenance_is_in_every_file_and_the_manifest(tmp_path: Path) -> None:
    provenance = {"command": "bayesvol volume --seed 3", "options": {"seed": 3, "n": [5]}, "seed": 3,
                  "version": "0.1.0", "run": "r1", "quick": True}
    report = Report(tmp_path / "out", title="t", provenance=provenance)
    report.add_dataset("curve", xr.Dataset({"v": ("t", np.arange(3.0))}, attrs={"units": "nats"}))
    report.add_results(answer=1.0)
    fig, ax = plt.subplots()
    ax.plot([0, 1], [0, 1])
    report.add_figure("line", fig)
    report.write_html()
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert manifest["status"] == "running"
    assert manifest["files"] == ["curve.nc", "results.json", "line.png", "report.html"]
    from PIL import Image

    with Image.open(tmp_path / "out" / "line.png") as image:
        assert json.loads(image.text["Description"])["command"] == "bayesvol volume --seed 3"
    assert json.loads((tmp_path / "out" / "results.json").read_text())["provenance"]["seed"] == 3
    with xr.open_dataset(tmp_path / "out" / "curve.nc", engine="h5netcdf") as ds:
        assert ds.attrs["bayesvol_command"] == "bayesvol volume --seed 3" and ds.attrs["bayesvol_seed"] == 3
        assert json.loads(ds.attrs["bayesvol_options"]) == {"seed": 3, "n": [5]}
        assert ds.attrs["units"] == "nats" and ds.attrs["bayesvol_quick"] == 1
    page = (tmp_path / "out" / "report.html").read_text()
    assert "Made by <code>bayesvol volume --seed 3</code>; seed 3" in page
