"""Reports a person can read: a self-contained HTML page (figures embedded), NetCDF and JSON files.

Files are written as they are produced, so an interrupted experiment keeps what it finished. Every file
is written atomically (a temporary name in the same folder, then ``os.replace``), so a file that exists is
complete; every file records the run that made it (command, options, seed, bayesvol version), and
``manifest.json`` lists the run and the files it wrote, so one folder never silently mixes two runs.
"""

from __future__ import annotations

import base64
import html
import json
import math
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr
from matplotlib.figure import Figure

from bayesvol.errors import BayesvolError

__all__ = ["MANIFEST", "Report", "ReportError", "jsonable", "read_manifest", "write_atomic"]

MANIFEST = "manifest.json"
"""The file naming the run that wrote a folder and the files it wrote there."""


class ReportError(BayesvolError, OSError):
    """The output folder cannot be created or written."""


def write_atomic(path: Path, write: Callable[[Path], Any]) -> Path:
    """Call ``write(temporary_path)`` and move the result onto ``path`` in one step (``os.replace``).

    The temporary file sits in the same folder (same file system, so the rename is atomic) and keeps the
    suffix, so writers that choose a format by extension still do. A failed write leaves no file behind.
    """
    path = Path(path)
    tmp = path.with_name(f".{path.stem}.tmp-{os.getpid()}{path.suffix}")
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def read_manifest(out_dir: Path) -> dict[str, Any] | None:
    """The manifest of a folder (None when there is none or it is unreadable)."""
    try:
        manifest = json.loads((Path(out_dir) / MANIFEST).read_text())
    except (OSError, ValueError):
        return None
    return manifest if isinstance(manifest, dict) else None


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

    Each ``add_*`` call writes its file at once (atomically); :meth:`write_html` (re)writes
    ``report.html``. ``provenance`` (command, options, seed, version) goes into every file: NetCDF
    attributes ``bayesvol_*``, a ``provenance`` field of ``results.json``, the PNG text chunk
    ``Description``, a line of ``report.html``, and ``manifest.json``, which also lists the files written
    so far. ``clear``: files of an earlier run to
    delete before the first write.
    """

    out_dir: Path
    title: str
    sections: list[str] = field(default_factory=list)
    results: dict[str, Any] = field(default_factory=dict)
    files: list[Path] = field(default_factory=list)
    provenance: Mapping[str, Any] | None = None
    clear: Sequence[str] = ()

    def __post_init__(self) -> None:
        self.out_dir = Path(self.out_dir)
        try:
            self.out_dir.mkdir(parents=True, exist_ok=True)
            for name in self.clear:  # only names an earlier manifest listed, never a path outside
                if Path(name).name == name:
                    (self.out_dir / name).unlink(missing_ok=True)
            probe = self.out_dir / ".bayesvol-write-test"
            probe.write_text("")
            probe.unlink()
        except OSError as err:
            raise ReportError(f"cannot write to output folder {str(self.out_dir)!r}: {err.strerror or err}"
                              ) from err
        if self.provenance is not None:
            self.write_manifest("running")

    def write_manifest(self, status: str) -> Path | None:
        """(Re)write ``manifest.json``: the run's provenance, its status and the files written so far."""
        if self.provenance is None:
            return None
        manifest = {**jsonable(dict(self.provenance)), "status": status,
                    "files": [p.name for p in self.files]}
        return write_atomic(self.out_dir / MANIFEST,
                            lambda tmp: tmp.write_text(json.dumps(manifest, indent=2) + "\n"))

    def _wrote(self, path: Path) -> Path:
        if path not in self.files:
            self.files.append(path)
        self.write_manifest("running")
        return path

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
        # PNG text chunks: the figure records the run like every other file
        metadata = {} if self.provenance is None else {
            "Software": f"bayesvol {self.provenance.get('version')}",
            "Description": json.dumps(jsonable(dict(self.provenance)))}
        path = write_atomic(self.out_dir / f"{name}.png",
                            lambda tmp: figure.savefig(tmp, dpi=110, metadata=metadata))
        data = base64.b64encode(path.read_bytes()).decode("ascii")
        self.sections.append(
            f'<figure><img alt="{html.escape(name)}" src="data:image/png;base64,{data}"/>'
            f"<figcaption>{html.escape(caption or name)}</figcaption></figure>"
        )
        self._wrote(path)
        if isinstance(figure, Figure) and "matplotlib.pyplot" in sys.modules:
            # a figure made through pyplot (ArviZ's, a user's) stays registered there until closed;
            # importing pyplot just to close ours would select a backend
            sys.modules["matplotlib.pyplot"].close(figure)
        return path

    def add_dataset(self, name: str, dataset: xr.Dataset) -> Path:
        """Save an xarray Dataset as NetCDF (h5netcdf)."""
        clean = dataset.copy()
        attrs = dict(dataset.attrs)
        for key, value in (self.provenance or {}).items():
            attrs[f"bayesvol_{key}"] = value
        clean.attrs = {k: (int(v) if isinstance(v, bool) else v if isinstance(v, (str, int, float))
                           else json.dumps(jsonable(v))) for k, v in attrs.items()}  # NetCDF has no bool
        path = write_atomic(self.out_dir / f"{name}.nc",
                            lambda tmp: clean.to_netcdf(tmp, engine="h5netcdf"))
        return self._wrote(path)

    def add_results(self, **results: Any) -> Path:
        """Merge results into ``results.json`` and rewrite it."""
        self.results.update(jsonable(results))
        if self.provenance is not None:
            self.results["provenance"] = jsonable(dict(self.provenance))
        text = json.dumps(self.results, indent=2)
        path = write_atomic(self.out_dir / "results.json", lambda tmp: tmp.write_text(text))
        return self._wrote(path)

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
        made_by = ""
        if self.provenance is not None:
            prov = {k: html.escape(str(v)) for k, v in self.provenance.items() if k != "options"}
            options = html.escape(json.dumps(jsonable(self.provenance.get("options"))))
            made_by = (f"<p class='provenance'>Made by <code>{prov.get('command')}</code>; seed "
                       f"{prov.get('seed')}; bayesvol {prov.get('version')}; options "
                       f"<code>{options}</code></p>\n")
        page = (
            f"<!DOCTYPE html>\n<html><head><meta charset='utf-8'><title>{html.escape(self.title)}</title>"
            f"<style>{style}</style></head><body><h1>{html.escape(self.title)}</h1>\n{made_by}{body}\n"
            "</body></html>\n"
        )
        write_atomic(path, lambda tmp: tmp.write_text(page))
        return self._wrote(path)

