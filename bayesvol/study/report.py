"""The report of a study, from its store alone: volume and regret curves across the grid, cell status."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import xarray as xr
from matplotlib.figure import Figure

__all__ = ["study_report"]

# the curves a study of the commands holds: variable → its x axis
_CURVES = {"log_volume": "eps2", "online_regret_mean": "n", "regret_mean": "n"}


def _curve_figure(ds: xr.Dataset, name: str, x: str) -> Figure:
    """One line per cell (and per method / predictor) of ``name`` against ``x``."""
    import matplotlib

    from bayesvol.app.plots import STYLE

    values = ds[name]
    others = [d for d in values.dims if d != x]
    stacked = values.stack(line=others) if others else values.expand_dims(line=[0])
    with matplotlib.rc_context(STYLE):
        fig = Figure(figsize=(7, 4.5), layout="constrained")
        ax = fig.subplots()
        for i in range(stacked.sizes["line"]):
            line = stacked.isel(line=i)
            y = np.asarray(line.transpose(x).values, dtype=float)
            if not np.isfinite(y).any():
                continue
            label = ", ".join(f"{d}={line[d].item()}" for d in others) if others else name
            ax.plot(np.asarray(ds[x], dtype=float), y, label=label, lw=1.2)
        ax.set_xscale("log")
        ax.set_xlabel("t (nats)" if x == "eps2" else "n")
        ax.set_ylabel(name.replace("_", " ") + " (nats)")
        if stacked.sizes["line"] <= 12:
            ax.legend(fontsize=7)
    return fig


def study_report(path: str | Path) -> Path:
    """Write ``report.html`` into the study folder: the grid's status and its curves; return its path."""
    from bayesvol.app.report import Report
    from bayesvol.study.sweep import open_study

    ds = open_study(path)
    report = Report(Path(path), title=f"bayesvol study — {Path(path).name}")
    grid = json.loads(ds.attrs["study_grid"])
    status = ds["cell_status"].values.ravel().tolist()
    report.add_text("Study", f"function {json.loads(ds.attrs['study_function'])}, seed "
                             f"{ds.attrs['study_seed']}, options {ds.attrs['study_options']}; grid "
                             f"{json.dumps(grid)}: {status.count('done')} done, {status.count('failed')} "
                             f"failed, {status.count('pending')} pending")
    cells = ds["cell_status"].to_dataframe().reset_index()
    report.add_table("Cells", cells.to_dict("records"))
    for name, x in _CURVES.items():
        if name in ds and x in ds[name].dims:
            report.add_figure(f"study_{name}", _curve_figure(ds, name, x),
                              f"{name} against {x}, one line per cell of the grid")
    return report.write_html()
