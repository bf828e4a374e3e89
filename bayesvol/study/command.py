"""``bayesvol sweep study.toml``: a study from a TOML file, its status, and its report.

The file::

    command = "volume"              # a command: run, volume, regret, spectrum, compare; or instead
    # function = "cells.py:my_cell"   # fn(coords, key) -> xarray.Dataset (a file or module:function)
    seed = 0                        # the study's seed (--seed wins)
    out = "studies/bernoulli"       # the study's folder (--out wins; default bayesvol-out/sweep/<file stem>)
    executor = "processes"          # inline (default), processes or ray (--executor wins)
    workers = 2                     # processes / local Ray CPUs (--workers wins)

    [options]                       # options every cell shares (a command's options by their long names)
    methods = ["laplace"]

    [grid]                          # the axes; the cells are their product
    model = ["bernoulli"]
    "option.a" = [0.5, 1.0, 2.0]    # one model option per axis

The same command again runs only the cells not yet in the folder (after a kill, a Ctrl-C or a crash);
``--status`` shows done / failed / pending and each failure's error; ``--retry-failed`` runs the failed
cells again; ``--report`` writes ``report.html`` (figures across the grid) from the folder.
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from bayesvol.errors import InputError, read_toml

__all__ = ["StudyFileError", "load_study", "sweep_command"]

_KEYS = ("command", "function", "seed", "out", "executor", "workers", "address", "grid", "options")


class StudyFileError(InputError):
    """A study file that cannot be read or does not describe a study."""


def _import_function(spec: str, where: str) -> Callable[..., Any]:
    """``path/to/file.py:name`` or ``package.module:name``: the function, importable in workers too."""
    module_name, _, name = spec.rpartition(":")
    if not module_name or not name:
        raise StudyFileError(f"{where}: function must look like path/to/file.py:name or module:name, got "
                             f"{spec!r}")
    if module_name.endswith(".py"):
        path = Path(module_name)
        if not path.is_file():
            raise StudyFileError(f"{where}: function file {module_name!r} not found")
        # imported by name from its folder, so spawned processes (same sys.path) and a local Ray's workers
        # (PYTHONPATH, inherited) import the same module; the command line is an application, free to do it
        folder = str(path.resolve().parent)
        if folder not in sys.path:
            sys.path.insert(0, folder)
        paths = os.environ.get("PYTHONPATH", "").split(os.pathsep)
        if folder not in paths:
            os.environ["PYTHONPATH"] = os.pathsep.join([folder, *[p for p in paths if p]])
        module_name = path.stem
    try:
        module = importlib.import_module(module_name)
    except Exception as err:
        raise StudyFileError(f"{where}: importing {module_name!r} failed: {type(err).__name__}: "
                             f"{' '.join(str(err).split())}") from err
    fn = getattr(module, name, None)
    if not callable(fn):
        raise StudyFileError(f"{where}: {module_name!r} has no function {name!r}")
    return fn


def load_study(path: Path) -> tuple[Any, dict[str, Any]]:
    """The :class:`~bayesvol.Sweep` of a study file and its run settings (out, executor, workers, address)."""
    from bayesvol.study.sweep import Sweep

    where = f"study file {str(path)!r}"
    config = read_toml(path, where, StudyFileError)
    unknown = sorted(set(config) - set(_KEYS))
    if unknown:
        raise StudyFileError(f"{where} has unknown key(s) {unknown}; known: {list(_KEYS)}")
    if ("command" in config) == ("function" in config):
        raise StudyFileError(f"{where} needs exactly one of 'command' (a bayesvol command) and 'function' "
                             "(path/to/file.py:name)")
    for key in ("grid", "options"):
        if not isinstance(config.get(key, {}), dict):
            raise StudyFileError(f"{where}: {key!r} must be a TOML table, e.g. [{key}]")
    if not config.get("grid"):
        raise StudyFileError(f"{where} needs a [grid] table with at least one axis, e.g. seed = [0, 1]")
    fn: Any = config.get("command")
    if fn is None:
        if not isinstance(config["function"], str):
            raise StudyFileError(f"{where}: 'function' must be a string path/to/file.py:name")
        fn = _import_function(config["function"], where)
    elif not isinstance(fn, str):
        raise StudyFileError(f"{where}: 'command' must be a string, got {fn!r}")
    settings = {k: config.get(k) for k in ("out", "executor", "workers", "address")}
    for key in ("out", "executor", "address"):
        if settings[key] is not None and not (isinstance(settings[key], str) and settings[key].strip()):
            raise StudyFileError(f"{where}: {key!r} must be a non-empty string, got {settings[key]!r}")
    workers = settings["workers"]
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int) or workers < 1):
        raise StudyFileError(f"{where}: 'workers' must be a positive integer, got {workers!r}")
    seed = config.get("seed", 0)
    try:
        sweep = Sweep(fn, config["grid"], seed=seed, options=config.get("options", {}))
    except InputError as err:
        raise StudyFileError(f"{where}: {' '.join(str(err).split())}") from err
    return sweep, settings


def sweep_command(options: Mapping[str, Any],
                  check_argv: Callable[[list[str]], None] | None = None) -> dict[str, Any]:
    """Run (or continue) the study of ``options["study"]``; or show its status / write its report.

    ``check_argv``: the command line's own checks of a command cell's argument list (the ``bayesvol``
    command passes them), run on every cell before anything is written.
    """
    import dataclasses

    from bayesvol.study.executors import EXECUTORS

    if options.get("study") is None:
        raise StudyFileError("give the study's TOML file: bayesvol sweep study.toml (see `bayesvol sweep "
                             "--help`)")
    path = Path(options["study"])
    sweep, settings = load_study(path)
    if options.get("_seed_given"):
        sweep = dataclasses.replace(sweep, seed=int(options["seed"]))
    if check_argv is not None and isinstance(sweep.fn, str):
        from bayesvol.study.sweep import command_argv

        for cell in sweep.cells():
            try:
                check_argv(command_argv(sweep.fn, {**sweep.options, **cell}, 0, "bayesvol-cell"))
            except InputError as err:
                raise StudyFileError(f"study file {str(path)!r}, cell {cell}: {' '.join(str(err).split())}"
                                     ) from err
    out = Path(options.get("out") or settings["out"] or Path("bayesvol-out") / "sweep" / path.stem)
    executor = options.get("executor") or settings["executor"] or "inline"
    if executor not in EXECUTORS:
        raise StudyFileError(f"study file {str(path)!r}: 'executor' must be one of {', '.join(EXECUTORS)}, "
                             f"got {executor!r}")
    workers = options.get("workers") or settings["workers"]
    address = options.get("address") or settings["address"]
    if isinstance(options, dict):
        options["_study_out"] = out  # for the message after Ctrl-C
    quiet = bool(options.get("json"))
    result: dict[str, Any] = {"command": "sweep", "study": str(out)}
    if not (options.get("status") or options.get("report")):
        run = sweep.run(out, executor=executor, workers=workers, address=address,
                        retry_failed=bool(options.get("retry_failed")), progress=not quiet)
        result.update(ran=run.ran, seconds=run.seconds, cell_seconds=run.cell_seconds)
        if not quiet:
            print(f"study {str(out)!r}: ran {run.ran} cell(s) in {run.seconds:.1f} s ({executor}; the cells' "
                  f"own time {run.cell_seconds:.1f} s)")
    if not out.is_dir():
        raise StudyFileError(f"--out {str(out)!r} holds no study yet: run `bayesvol sweep {path}` first")
    result.update(_status(sweep, out, quiet))
    if options.get("report"):
        from bayesvol.study.report import study_report

        html = study_report(out)
        result["report"] = str(html)
        if not quiet:
            print(f"Report: {html}")
    return result


def _status(sweep: Any, out: Path, quiet: bool) -> dict[str, Any]:
    from bayesvol.study.store import Store, StoreError, cell_id

    store = Store(out)
    try:
        spec = store.read_spec()
    except StoreError as err:
        raise StudyFileError(str(err)) from err
    if spec is None:
        raise StudyFileError(f"--out {str(out)!r} holds no study yet (no study.json)")
    cells = {cell_id(c): c for c in sweep.cells()}
    status = store.status(list(cells))
    failures = []
    for cid in status.failed:
        record = store.read_error(cid)
        failures.append({"cell": cid, "coords": record.get("coords"), "error": record.get("error"),
                         "message": record.get("message")})
    if not quiet:
        print(f"study {str(out)!r}: {status.summary()}")
        for failure in failures:
            print(f"  failed {failure['coords']}: {failure['message']}")
        if status.failed:
            print("  (tracebacks in cells/<id>.error.json; --retry-failed runs them again)")
    return {"done": len(status.done), "failed": failures, "pending": len(status.pending)}
