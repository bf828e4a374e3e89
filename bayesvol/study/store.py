"""The results store of a study: one NetCDF file per finished cell, written atomically.

Layout of a study folder::

    study.json              what the study is: its function, grid, options, seed, versions (written once)
    cells/<id>.nc           one finished cell (its Dataset, its coordinates in the attributes)
    cells/<id>.error.json   one failed cell: its coordinates, the error and the traceback

Why this design (and not one Zarr store with region writes): a cell's file appears whole or not at all
(``write_atomic``: a temporary file in the same folder, then ``os.replace``), so a SIGKILL at any moment
loses at most the cells in flight and never corrupts a finished one; there is no shared index to update,
so nothing can disagree with the files — the index *is* the listing of ``cells/``; and a cell's result
needs no fixed shape known before it runs (Zarr regions need the whole array laid out in advance, and a
failed or NaN cell would leave a hole with no room for its traceback). ``write_atomic`` is the reports'
own (``bayesvol.app.report``, imported where used: importing bayesvol must not pull in matplotlib). Only
the driver writes, so no two processes ever write the same file, and a Ray worker on another machine
needs no shared file system.
NetCDF (h5netcdf) is what the commands already write; thousands of small files are fine for the grids of
this package (a million-cell study would want Zarr). The price: :func:`open_study` reads every file.
"""

from __future__ import annotations

import hashlib
import json
import traceback
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from bayesvol.errors import BayesvolError, InputError

__all__ = [
    "CELL_ATTR", "CellStatus", "Store", "StoreError", "canonical", "cell_id", "finite_check", "stable_hash",
]

STUDY = "study.json"
CELLS = "cells"
CELL_ATTR = "bayesvol_cell"
"""NetCDF attribute of a cell's file holding its coordinates (JSON)."""


class StoreError(BayesvolError):
    """A study folder that cannot be used: unreadable, or holding a different study."""


def canonical(value: Any) -> str:
    """One text for one value: JSON with sorted keys, floats by ``repr`` (so 0.1 ≠ 0.1000001 and 1 ≠ 1.0)."""
    return json.dumps(_canonical(value), sort_keys=True, separators=(",", ":"), allow_nan=True)


def _canonical(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _canonical(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_canonical(v) for v in value]
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return {"float": repr(float(value))}  # 1 and 1.0 are different cells' coordinates
    raise InputError(f"a study coordinate must be a number, string, bool, None or a list/mapping of them, "
                     f"got {type(value).__name__} {value!r}")


def stable_hash(coords: Mapping[str, Any]) -> int:
    """A 32-bit hash of a cell's coordinates, the same in every process and on every machine.

    SHA-256 of :func:`canonical` (Python's ``hash()`` of a string changes from one process to the next).
    """
    return int.from_bytes(hashlib.sha256(canonical(coords).encode()).digest()[:4], "little")


def cell_id(coords: Mapping[str, Any]) -> str:
    """The file name (without suffix) of a cell: 16 hex digits of the SHA-256 of its coordinates."""
    return hashlib.sha256(canonical(coords).encode()).hexdigest()[:16]


@dataclass(frozen=True)
class CellStatus:
    """Where each cell of a study stands, from the files present: ids of done, failed and pending cells."""

    done: tuple[str, ...]
    failed: tuple[str, ...]
    pending: tuple[str, ...]

    def summary(self) -> str:
        """``done 12 / failed 1 / pending 27 (of 40)``."""
        total = len(self.done) + len(self.failed) + len(self.pending)
        return f"done {len(self.done)} / failed {len(self.failed)} / pending {len(self.pending)} (of {total})"


class Store:
    """A study folder: ``study.json``, then one file per finished or failed cell (see the module doc)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.cells = self.path / CELLS

    # ---------------------------------------------------------------------------------------------
    def read_spec(self) -> dict[str, Any] | None:
        """The study's ``study.json`` (None when the folder holds no study)."""
        try:
            spec = json.loads((self.path / STUDY).read_text())
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as err:
            raise StoreError(f"study folder {str(self.path)!r}: cannot read {STUDY}: {err}") from err
        return spec if isinstance(spec, dict) else None

    def open_for(self, spec: Mapping[str, Any], identity: Sequence[str]) -> None:
        """Create the folder for ``spec``, or check that it holds the same study (same ``identity`` fields).

        A different study in the folder is refused, naming the first field that differs.
        """
        if self.path.exists() and not self.path.is_dir():
            raise StoreError(f"study folder {str(self.path)!r} is a file, not a folder")
        from bayesvol.app.report import jsonable, write_atomic

        old = self.read_spec()
        if old is not None:
            for name in identity:
                if canonical(old.get(name)) != canonical(jsonable(spec.get(name))):
                    raise StoreError(
                        f"study folder {str(self.path)!r} holds a different study (its {name!r} differs: "
                        f"{json.dumps(old.get(name))[:120]}); choose another folder")
            return
        if self.path.exists() and any(self.path.iterdir()):
            raise StoreError(f"study folder {str(self.path)!r} is not empty and holds no {STUDY}; choose "
                             "another folder")
        try:
            self.cells.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise StoreError(f"cannot create study folder {str(self.path)!r}: {err.strerror or err}") from err
        text = json.dumps(jsonable(dict(spec)), indent=2) + "\n"
        write_atomic(self.path / STUDY, lambda tmp: tmp.write_text(text))

    # ---------------------------------------------------------------------------------------------
    def status(self, ids: Sequence[str]) -> CellStatus:
        """Done / failed / pending among ``ids``, from the files in ``cells/`` (the index is the listing)."""
        names = {p.name for p in self.cells.iterdir()} if self.cells.is_dir() else set()
        done = tuple(i for i in ids if f"{i}.nc" in names)
        failed = tuple(i for i in ids if f"{i}.nc" not in names and f"{i}.error.json" in names)
        pending = tuple(i for i in ids if f"{i}.nc" not in names and f"{i}.error.json" not in names)
        return CellStatus(done, failed, pending)

    def write_cell(self, cid: str, coords: Mapping[str, Any], dataset: xr.Dataset) -> Path:
        """Write a finished cell atomically (coordinates in attribute ``bayesvol_cell``); drop its error."""
        from bayesvol.app.report import jsonable, write_atomic

        clean = dataset.copy()
        attrs = dict(dataset.attrs)
        attrs[CELL_ATTR] = json.dumps(jsonable(dict(coords)))
        keep = (str, int, float, np.ndarray)  # NetCDF has no bool and no nested attributes
        clean.attrs = {k: (int(v) if isinstance(v, bool) else v if isinstance(v, keep)
                           else json.dumps(jsonable(v))) for k, v in attrs.items()}
        path = write_atomic(self.cells / f"{cid}.nc",
                            lambda tmp: clean.to_netcdf(tmp, engine="h5netcdf"))
        (self.cells / f"{cid}.error.json").unlink(missing_ok=True)
        return path

    def write_error(self, cid: str, coords: Mapping[str, Any], error: BaseException | str,
                    trace: str | None = None) -> Path:
        """Record a failed cell: its coordinates, the error (type and message) and the traceback."""
        from bayesvol.app.report import jsonable, write_atomic

        if isinstance(error, BaseException):
            kind, message = type(error).__name__, " ".join(str(error).split())
            trace = trace or "".join(traceback.format_exception(error))
        else:
            kind, message = "Error", str(error)
        record = {"coords": jsonable(dict(coords)), "error": kind, "message": message, "traceback": trace}
        text = json.dumps(record, indent=2) + "\n"
        return write_atomic(self.cells / f"{cid}.error.json", lambda tmp: tmp.write_text(text))

    def read_cell(self, cid: str) -> xr.Dataset:
        """A finished cell's Dataset, loaded into memory (the file is closed)."""
        with xr.open_dataset(self.cells / f"{cid}.nc", engine="h5netcdf") as ds:
            return ds.load()

    def read_error(self, cid: str) -> dict[str, Any]:
        """A failed cell's record (coords, error, message, traceback)."""
        return json.loads((self.cells / f"{cid}.error.json").read_text())

    def remove_stale(self) -> list[str]:
        """Remove the temporary files of writers that died (``.<id>.tmp-<pid>.nc``, pid no longer alive).

        A SIGKILL during a write leaves one; it never has a cell's name, so it is harmless, only clutter.
        """
        removed = []
        for tmp in self.cells.glob(".*.tmp-*") if self.cells.is_dir() else []:
            pid = tmp.name.rsplit(".tmp-", 1)[1].split(".", 1)[0]
            if pid.isdigit() and not _alive(int(pid)):
                tmp.unlink(missing_ok=True)
                removed.append(tmp.name)
        return removed

    def clear_errors(self, ids: Sequence[str]) -> None:
        """Forget the failures of ``ids`` (``--retry-failed``): they become pending."""
        for cid in ids:
            (self.cells / f"{cid}.error.json").unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    import os

    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


def finite_check(dataset: xr.Dataset) -> str | None:
    """Why a cell's result counts as failed, or None: a data variable with no finite value at all.

    A NaN here and there is data (an estimator marks an unreached volume with NaN); a variable that is
    NaN everywhere means the cell computed nothing.
    """
    for name, var in dataset.data_vars.items():
        values = np.asarray(var.values)
        if values.size and np.issubdtype(values.dtype, np.floating) and not np.isfinite(values).any():
            return f"data variable {name!r} has no finite value (all NaN/∞)"
    if not dataset.data_vars:
        return "the cell returned a Dataset without data variables"
    return None
