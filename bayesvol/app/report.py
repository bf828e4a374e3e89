"""Reports a person can read: a self-contained HTML page (figures embedded), NetCDF and JSON files.

Files are written as they are produced, so an interrupted experiment keeps what it finished.
"""

from __future__ import annotations

import base64
import html
import json
import math
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr
from matplotlib.figure import Figure

from bayesvol.errors import BayesvolError

__all__ = ["Report", "ReportError", "jsonable"]


class ReportError(BayesvolError, OSError):
    """The output folder cannot be created or written."""


def jsonable(value: Any) -> Any:
    """Convert numpy/JAX scalars and arrays (and NaN/∞) into JSON-safe Python values."""
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if hasattr(value, "__array__") and not isinstance(value, (str, bytes)):
        arr = np.asarray(value)
        return jsonable(arr.item()) if arr.ndim == 0 else [jsonable(v) for v in arr.tolist()]
    if isinstance(value, float) or isinstance(value, np.floating):
        value = float(value)
        if math.isnan(value):
            return None
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return value
    if isinstance(value, np.integer):
        return int(value)
    return value


@dataclass
class Report:
    """An output folder holding an HTML report, figures, NetCDF datasets and a JSON summary.

    Each ``add_*`` call writes its file at once; :meth:`write_html` (re)writes ``report.html``.
    """

    out_dir: Path
    title: str
    sections: list[str] = field(default_factory=list)
    results: dict[str, Any] = field(default_factory=dict)
    files: list[Path] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.out_dir = Path(self.out_dir)
        try:
            self.out_dir.mkdir(parents=True, exist_ok=True)
            probe = self.out_dir / ".bayesvol-write-test"
            probe.write_text("")
            probe.unlink()
        except OSError as err:
            raise ReportError(f"cannot write to output folder {str(self.out_dir)!r}: {err.strerror or err}"
                              ) from err

    def add_text(self, heading: str, text: str) -> None:
        """A heading and a paragraph."""
        self.sections.append(f"<h2>{html.escape(heading)}</h2>\n<p>{html.escape(text)}</p>")

    def add_table(self, heading: str, rows: Sequence[Mapping[str, Any]], floatfmt: str = ".4g") -> None:
        """A table from a list of row dicts (all rows share the first row's keys)."""
        if not rows:
            return
        keys = list(rows[0])
        head = "".join(f"<th>{html.escape(str(k))}</th>" for k in keys)

        def cell(v: Any) -> str:
            if isinstance(v, (float, np.floating)):
                return format(float(v), floatfmt)
            return html.escape(str(v))

        body = "\n".join("<tr>" + "".join(f"<td>{cell(r.get(k, ''))}</td>" for k in keys) + "</tr>"
                         for r in rows)
        self.sections.append(f"<h2>{html.escape(heading)}</h2>\n<table><thead><tr>{head}</tr></thead>"
                             f"<tbody>{body}</tbody></table>")

    def add_figure(self, name: str, figure: Figure | Any, caption: str = "") -> Path:
        """Save a figure as PNG (also embedded in the HTML); accepts matplotlib or ArviZ PlotCollection."""
        path = self.out_dir / f"{name}.png"
        figure.savefig(path, dpi=110)
        data = base64.b64encode(path.read_bytes()).decode("ascii")
        self.sections.append(
            f'<figure><img alt="{html.escape(name)}" src="data:image/png;base64,{data}"/>'
            f"<figcaption>{html.escape(caption or name)}</figcaption></figure>"
        )
        self.files.append(path)
        if isinstance(figure, Figure) and "matplotlib.pyplot" in sys.modules:
            # a figure made through pyplot (ArviZ's, a user's) stays registered there until closed;
            # importing pyplot just to close ours would select a backend
            sys.modules["matplotlib.pyplot"].close(figure)
        return path

    def add_dataset(self, name: str, dataset: xr.Dataset) -> Path:
        """Save an xarray Dataset as NetCDF (h5netcdf)."""
        path = self.out_dir / f"{name}.nc"
        clean = dataset.copy()
        clean.attrs = {k: (v if isinstance(v, (str, int, float)) else json.dumps(jsonable(v)))
                       for k, v in dataset.attrs.items()}
        clean.to_netcdf(path, engine="h5netcdf")
        self.files.append(path)
        return path

    def add_results(self, **results: Any) -> Path:
        """Merge results into ``results.json`` and rewrite it."""
        self.results.update(jsonable(results))
        path = self.out_dir / "results.json"
        path.write_text(json.dumps(self.results, indent=2))
        if path not in self.files:
            self.files.append(path)
        return path

    def write_html(self) -> Path:
        """Write the self-contained ``report.html``."""
        path = self.out_dir / "report.html"
        style = (
            "body{font-family:system-ui,sans-serif;max-width:960px;margin:2em auto;padding:0 1em;color:#222}"
            "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:3px 8px;"
            "text-align:right}th{background:#f3f3f3}figure{margin:1.5em 0}img{max-width:100%}"
            "figcaption{color:#555;font-size:90%}"
        )
        body = "\n".join(self.sections)
        path.write_text(
            f"<!DOCTYPE html>\n<html><head><meta charset='utf-8'><title>{html.escape(self.title)}</title>"
            f"<style>{style}</style></head><body><h1>{html.escape(self.title)}</h1>\n{body}\n</body></html>\n"
        )
        if path not in self.files:
            self.files.append(path)
        return path

