"""Declarative studies: a grid of cells, each a pure function of its coordinates, stored as it finishes.

A :class:`Sweep` is a function — a ``bayesvol`` command (``"volume"``, ``"regret"``, …) or a user's
``fn(coords, key) -> xarray.Dataset`` — and a grid of coordinates (the product of its axes). Cell c gets
the key ``fold_in(PRNGKey(seed), stable_hash(c))``: its numbers depend on its coordinates and the study's
seed only, never on which worker ran it or in which order, so every executor gives bit-identical files.
:meth:`Sweep.run` skips the cells already in the store (:mod:`bayesvol.study.store`), so the same call
after a kill continues where it stopped; :func:`open_study` assembles the store into one Dataset.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import tempfile
import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import xarray as xr

from bayesvol.errors import InputError
from bayesvol.study.store import CellStatus, Store, StoreError, canonical, cell_id, finite_check, stable_hash

__all__ = ["CellOutcome", "Sweep", "SweepResult", "cell_key", "open_study"]

# the options of a command that a study may set per cell or for all cells (the study owns out and seed)
COMMAND_OPTIONS = ("model", "option", "truth", "m", "n", "seeds", "budget", "predictors", "methods", "data")
CELL_COMMANDS = ("run", "volume", "regret", "spectrum", "compare")
_IDENTITY = ("function", "grid", "options", "seed")


class CellOutcome(NamedTuple):
    """What a worker sends back for one cell: its Dataset, or its error; and the cell's own run time."""

    dataset: xr.Dataset | None
    error: str | None
    message: str | None
    traceback: str | None
    seconds: float


class SweepResult(NamedTuple):
    """A finished :meth:`Sweep.run`: the status of every cell, and what this call ran."""

    status: CellStatus
    ran: int
    seconds: float
    cell_seconds: float


def cell_key(seed: int, coords: Mapping[str, Any]) -> Any:
    """The cell's random key: ``fold_in(PRNGKey(seed), stable_hash(coords))`` (same on every machine)."""
    import jax

    return jax.random.fold_in(jax.random.PRNGKey(seed), stable_hash(coords))


def _function_name(fn: str | Callable[..., Any]) -> str:
    if isinstance(fn, str):
        return fn
    return f"{getattr(fn, '__module__', '?')}:{getattr(fn, '__qualname__', repr(fn))}"


@dataclasses.dataclass(frozen=True)
class Sweep:
    """A study: ``fn`` over the product of ``grid``'s axes, with one seed.

    Parameters
    ----------
    fn
        A command name (``"run"``, ``"volume"``, ``"regret"``, ``"spectrum"``, ``"compare"``: the cell runs
        that command with its options and collects the NetCDF files it writes), or a function
        ``fn(coords, key) -> xarray.Dataset`` (picklable — defined at a module's top level — for the
        ``processes`` and ``ray`` executors).
    grid
        Axis name → values; the cells are the product, in order. For a command, axes are its options
        (``model``, ``n``, ``budget``, …; ``option.<name>`` for one model option).
    seed
        The study's seed: cell c's key is ``fold_in(PRNGKey(seed), stable_hash(c))``.
    options
        Options shared by every cell (for a command: as its own options; for a function: merged into
        ``coords`` under the grid's values).

    """

    fn: str | Callable[..., Any]
    grid: Mapping[str, Sequence[Any]]
    seed: int = 0
    options: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    def __post_init__(self) -> None:
        if isinstance(self.fn, str):
            if self.fn not in CELL_COMMANDS:
                raise InputError(f"Sweep fn must be a function or one of the commands "
                                 f"{', '.join(CELL_COMMANDS)}, got {self.fn!r}")
        elif not callable(self.fn):
            raise InputError(f"Sweep fn must be a function fn(coords, key) or a command name, got "
                             f"{type(self.fn).__name__}")
        if not isinstance(self.grid, Mapping) or not self.grid:
            raise InputError("Sweep grid must be a non-empty mapping axis name → list of values")
        for name, values in self.grid.items():
            if not isinstance(name, str) or not name:
                raise InputError(f"Sweep grid: axis names must be non-empty strings, got {name!r}")
            if isinstance(values, (str, bytes)) or not isinstance(values, Sequence) or not values:
                raise InputError(f"Sweep grid axis {name!r} must be a non-empty list of values, got "
                                 f"{values!r}")
            for value in values:
                canonical(value)  # a number, string, bool, None, or lists / mappings of them
            labels = [_label(v) for v in values]
            if len(set(labels)) != len(labels):
                raise InputError(f"Sweep grid axis {name!r} repeats a value: {list(values)!r}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or not 0 <= self.seed < 2**32:
            raise InputError(f"Sweep seed must be an integer in [0, 2^32 − 1], got {self.seed!r}")
        if not isinstance(self.options, Mapping):
            raise InputError(f"Sweep options must be a mapping, got {type(self.options).__name__}")
        clash = sorted(set(self.grid) & set(self.options))
        if clash:
            raise InputError(f"Sweep: {clash[0]!r} is both a grid axis and a fixed option; keep one")
        if isinstance(self.fn, str):
            for name in [*self.grid, *self.options]:
                base = name.split(".", 1)[0]
                if base not in COMMAND_OPTIONS:
                    raise InputError(
                        f"Sweep of `{self.fn}`: {name!r} is not an option a study can set; use "
                        f"{', '.join(COMMAND_OPTIONS)} or option.<name> (the study owns out and seed)")
            _check_models([*self.grid.get("model", []), self.options.get("model")])

    # ---------------------------------------------------------------------------------------------
    def cells(self) -> list[dict[str, Any]]:
        """Every cell's coordinates, in grid order (the last axis varies fastest)."""
        names = list(self.grid)
        return [dict(zip(names, values)) for values in itertools.product(*self.grid.values())]

    def key(self, coords: Mapping[str, Any]) -> Any:
        """The cell's random key (see :func:`cell_key`)."""
        return cell_key(self.seed, coords)

    def spec(self) -> dict[str, Any]:
        """What ``study.json`` records: the function, grid, options, seed, and the versions that ran it."""
        from importlib.metadata import version

        import jax
        import xarray

        return {"function": _function_name(self.fn), "grid": {k: list(v) for k, v in self.grid.items()},
                "options": dict(self.options), "seed": self.seed,
                "versions": {"bayesvol": version("bayesvol"), "jax": jax.__version__,
                             "xarray": xarray.__version__}}

    def status(self, path: str | Path) -> CellStatus:
        """Done / failed / pending cells of this study in the store at ``path``."""
        return Store(path).status([cell_id(c) for c in self.cells()])

    def run(self, path: str | Path, *, executor: str = "inline", workers: int | None = None,
            address: str | None = None, retry_failed: bool = False, progress: bool = True,
            on_cell: Callable[[str, str], None] | None = None) -> SweepResult:
        """Run the cells not yet in the store at ``path``; each is written as soon as it finishes.

        Finished cells are skipped; failed ones too unless ``retry_failed``. ``executor``: ``"inline"``,
        ``"processes"`` or ``"ray"`` (``workers``: processes / local Ray CPUs; ``address``: a Ray cluster).
        ``on_cell(cell id, "done" | "failed")`` after each cell is written. A failing cell is recorded
        (``<id>.error.json``) and the study goes on.
        """
        from bayesvol.progress import Progress
        from bayesvol.study.executors import EXECUTORS

        if executor not in EXECUTORS:  # before the folder is made
            raise InputError(f"executor must be one of {', '.join(EXECUTORS)}, got {executor!r}")
        if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int) or workers < 1):
            raise InputError(f"workers must be a positive integer, got {workers!r}")
        store = Store(path)
        try:
            store.open_for(self.spec(), _IDENTITY)
        except StoreError as err:
            raise InputError(str(err)) from err
        store.remove_stale()
        cells = {cell_id(c): c for c in self.cells()}
        status = store.status(list(cells))
        if retry_failed:
            store.clear_errors(status.failed)
            status = store.status(list(cells))
        todo = [(cid, cells[cid]) for cid in status.pending]
        done, failed = len(status.done), len(status.failed)
        work = _CellWork(self.fn, self.seed, dict(self.options))
        started = time.perf_counter()
        cell_seconds = 0.0
        with Progress(progress, "study", total=len(cells), unit="cell") as bar:
            bar.update_to(done + failed, f"done {done}, failed {failed}, left {len(todo)}")
            for cid, outcome in _run(work, todo, executor, workers, address):
                if isinstance(outcome, CellOutcome) and outcome.dataset is not None:
                    store.write_cell(cid, cells[cid], outcome.dataset)
                    done += 1
                    state = "done"
                else:
                    if isinstance(outcome, CellOutcome):
                        store.write_error(cid, cells[cid], f"{outcome.error}: {outcome.message}",
                                          outcome.traceback)
                    else:  # the executor lost the cell (a worker died)
                        store.write_error(cid, cells[cid], outcome)
                    failed += 1
                    state = "failed"
                cell_seconds += outcome.seconds if isinstance(outcome, CellOutcome) else 0.0
                bar.update_to(done + failed, f"done {done}, failed {failed}, "
                                             f"left {len(cells) - done - failed}")
                if on_cell is not None:
                    on_cell(cid, state)
        return SweepResult(store.status(list(cells)), len(todo), time.perf_counter() - started, cell_seconds)


def _run(work: Any, todo: Any, executor: str, workers: int | None, address: str | None) -> Any:
    from bayesvol.study.executors import run_cells

    return run_cells(work, todo, executor, workers, address)


# ------------------------------------------------------------------------------------------------
# the work of one cell, run in the worker
@dataclasses.dataclass(frozen=True)
class _CellWork:
    """Picklable: the study's function, seed and options; called with a cell's coordinates."""

    fn: str | Callable[..., Any]
    seed: int
    options: Mapping[str, Any]

    def __call__(self, coords: Mapping[str, Any]) -> CellOutcome:
        started = time.perf_counter()
        try:
            key = cell_key(self.seed, coords)
            if isinstance(self.fn, str):
                dataset = _command_cell(self.fn, {**self.options, **coords}, key)
            else:
                dataset = self.fn({**self.options, **coords}, key)
            if not isinstance(dataset, xr.Dataset):
                raise InputError(f"a study function must return an xarray.Dataset, got "
                                 f"{type(dataset).__name__}")
            why = finite_check(dataset)
            if why is not None:
                raise FloatingPointError(why)
            return CellOutcome(dataset.load(), None, None, None, time.perf_counter() - started)
        except Exception as err:  # recorded with its traceback; the study goes on
            return CellOutcome(None, type(err).__name__, " ".join(str(err).split()),
                               "".join(traceback.format_exception(err)), time.perf_counter() - started)


def command_argv(command: str, options: Mapping[str, Any], seed: int, out: str) -> list[str]:
    """The ``bayesvol`` command line of a command cell (its options, a scratch folder, its seed)."""
    argv = [command, "--json", "--out", out, "--seed", str(seed)]
    model_options = dict(options.get("option") or {})
    for name, value in options.items():
        if name.startswith("option."):
            model_options[name.split(".", 1)[1]] = value
        elif name in ("model", "data", "m", "seeds", "budget"):
            argv += [f"--{name}", str(value)]
        elif name == "truth":
            argv += ["--truth", value if isinstance(value, str) else json.dumps(value)]
        elif name in ("n", "predictors", "methods"):
            argv += [f"--{name}", *[str(v) for v in (value if isinstance(value, (list, tuple)) else [value])]]
    for name, value in model_options.items():
        argv += ["--option", f"{name}={json.dumps(value)}"]
    return argv


class CellCommandError(RuntimeError):
    """A command cell's ``bayesvol`` process failed: its exit code and its last line on stderr."""


def _check_models(models: Sequence[Any]) -> None:
    """Zoo model names are checked before any cell runs (a file model is loaded by its cell)."""
    from bayesvol.model.problem import registry

    names = [m for m in models if isinstance(m, str) and ":" not in m and not m.endswith(".py")]
    if not names:
        return
    zoo = registry()
    for name in names:
        if name not in zoo:
            raise InputError(f"Sweep: unknown model {name!r}; the zoo has: {', '.join(sorted(zoo))}")


def _command_cell(command: str, options: Mapping[str, Any], key: Any) -> xr.Dataset:
    """Run ``bayesvol <command>`` for one cell, in its own process and scratch folder; collect its NetCDF.

    Its own process: a cell that runs out of memory or crashes takes down only itself (and the study's
    layer above the command line needs nothing of its internals). The command's seed is 32 random bits of
    the cell's key. Provenance attributes (run id, start time) are dropped: they differ from run to run
    and would make equal cells unequal.
    """
    import subprocess
    import sys

    import jax
    import jax.numpy as jnp

    seed = int(jax.random.bits(key, (), jnp.uint32))
    with tempfile.TemporaryDirectory(prefix="bayesvol-cell-") as scratch:
        out = str(Path(scratch) / "out")
        argv = command_argv(command, options, seed, out)
        done = subprocess.run([sys.executable, "-m", "bayesvol", *argv], capture_output=True, text=True,
                              check=False)
        if done.returncode != 0:
            lines = [line for line in done.stderr.splitlines() if line.strip()]
            raise CellCommandError(f"`bayesvol {' '.join(argv[:1] + argv[6:])}` exited with "
                                   f"{done.returncode}: {lines[-1] if lines else '(no message)'}")
        result = json.loads(done.stdout)
        parts = []
        volumes = []
        for path in sorted(Path(out).glob("[!.]*.nc")):
            if path.stem.startswith("regret_seed"):
                continue
            with xr.open_dataset(path, engine="h5netcdf") as ds:
                ds = ds.load()
            ds.attrs = {k: v for k, v in ds.attrs.items() if not k.startswith("bayesvol_")}
            (volumes if path.stem.startswith("volume_") else parts).append(ds)
    if volumes:
        methods = [v.attrs.pop("method", "?") for v in volumes]
        parts.append(xr.concat(volumes, dim=xr.DataArray(methods, dims="method", name="method"),
                               join="outer"))
    if command == "spectrum":
        parts.append(xr.Dataset({"eigenvalues": ("index", np.asarray(result["eigenvalues"], dtype=float)),
                                 "effective_dim": ("n", list(result["effective_dim"].values()))},
                                coords={"n": [int(n) for n in result["effective_dim"]]}))
    return xr.merge(parts, combine_attrs="drop_conflicts")


# ------------------------------------------------------------------------------------------------
def _label(value: Any) -> Any:
    """A grid value as a coordinate label: itself when a scalar, else its JSON (lists, mappings)."""
    if isinstance(value, (bool, int, float, str, np.integer, np.floating)):
        return value
    from bayesvol.app.report import jsonable

    return json.dumps(jsonable(value), sort_keys=True)


def open_study(path: str | Path) -> xr.Dataset:
    """The study at ``path`` as one Dataset over the grid's axes (NaN where a cell is failed or pending).

    Variable ``cell_status`` (grid axes) says "done", "failed" or "pending"; attributes ``study_*`` hold
    the function, options, seed and versions from ``study.json``. A grid axis a cell's Dataset already has
    as a dimension or coordinate (``n`` of a regret cell) aligns on the cell's own values.
    """
    store = Store(path)
    spec = store.read_spec()
    if spec is None:
        raise InputError(f"{str(path)!r} holds no study (no study.json)")
    grid: dict[str, list[Any]] = spec["grid"]
    names = list(grid)
    cells = [dict(zip(names, values)) for values in itertools.product(*grid.values())]
    ids = [cell_id(c) for c in cells]
    status = store.status(ids)
    done = set(status.done)
    state = np.empty([len(v) for v in grid.values()], dtype=object)
    parts = []
    for index, (coords, cid) in zip(itertools.product(*[range(len(v)) for v in grid.values()]),
                                    zip(cells, ids)):
        state[index] = "done" if cid in done else "failed" if cid in status.failed else "pending"
        if cid not in done:
            continue
        ds = store.read_cell(cid)
        ds.attrs = {}
        # a dimension without coordinates gets its positions, so cells of different lengths align (NaN-padded)
        ds = ds.assign_coords({d: np.arange(ds.sizes[d]) for d in ds.dims if d not in ds.coords})
        for name, value in coords.items():
            if name not in ds.dims and name not in ds.coords and name not in ds.data_vars:
                ds = ds.expand_dims({name: [_label(value)]})
        parts.append(ds)
    axes = {name: [_label(v) for v in values] for name, values in grid.items()}
    status_da = xr.DataArray(state.astype(str), dims=names, coords=axes, name="cell_status")
    if parts:
        merged = xr.merge(parts, join="outer", compat="no_conflicts", combine_attrs="drop")
        # order the grid axes as in the study (merge sorts by first appearance)
        merged = merged.reindex({k: v for k, v in axes.items() if k in merged.dims})
        merged = merged.transpose(*[k for k in names if k in merged.dims], ...)
        merged["cell_status"] = status_da
    else:
        merged = status_da.to_dataset()
    merged.attrs = {f"study_{k}": json.dumps(spec.get(k))
                    for k in ("function", "options", "seed", "versions")}
    merged.attrs["study_grid"] = json.dumps(grid)
    return merged
