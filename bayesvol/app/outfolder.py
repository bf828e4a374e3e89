"""The output folder of a run, one a person can trust.

``manifest.json`` (written by :class:`~bayesvol.app.report.Report`) names the run (command, options, seed,
bayesvol version, a run id) and lists the files it wrote. Before a run starts, :func:`check_folder` refuses
a folder that cannot be written or that holds a different run (unless overwriting) and says which files to
clear; after a stop, :func:`after_stop` leaves a marker ``INTERRUPTED`` saying what is complete and what is
not (or no folder at all when nothing was finished), and :func:`remove_partial` takes back what a run
wrote when its input turned out bad. Only the files of the run that wrote the manifest are ever touched.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from bayesvol.app.report import MANIFEST, read_manifest, write_atomic
from bayesvol.errors import InputError

__all__ = ["MARKER", "FolderError", "after_stop", "check_folder", "mark_complete", "remove_partial"]

MARKER = "INTERRUPTED"
"""The file an interrupted or failed run leaves, saying what is complete and what is not."""

# what --overwrite (or the same run again) may delete in a folder without a manifest: only names bayesvol
# itself writes, never anything else a person keeps there
_OUR_FIGURES = ("regret", "volume", "spectrum", "effective_dim", "trace", "rank")
_IDENTITY = ("subcommand", "options", "seed", "version")


class FolderError(InputError):
    """An output folder that cannot be used: a file, not writable, or holding a different run."""


def _our_files(out: Path) -> list[str]:
    """Files of a bayesvol run in a folder without a manifest (names bayesvol writes, nothing else)."""
    names = []
    for path in out.iterdir():
        if path.name in ("results.json", "report.html", MARKER) or path.suffix == ".nc" or (
                path.suffix == ".png" and path.stem in _OUR_FIGURES):
            names.append(path.name)
    return sorted(names)


def check_folder(out: Path, provenance: Mapping[str, Any], overwrite: bool, option: str = "--out"
                 ) -> list[str]:
    """Refuse a folder that cannot be written or holds a different run; return the files to clear.

    The same run again (same command, options, seed and version) may always overwrite its own files.
    """
    out = Path(out)
    where = f"{option} {str(out)!r}"
    if out.exists() and not out.is_dir():
        raise FolderError(f"{where} is a file, not a folder")
    parent = out
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        raise FolderError(f"{where} cannot be created: {str(parent)!r} is a file, not a folder")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise FolderError(f"{where} cannot be written: no write permission in {str(parent)!r}")
    if not out.exists():
        return []
    manifest = read_manifest(out)
    if manifest is None:
        ours = _our_files(out)
        if ours and not overwrite:
            shown = ", ".join(ours[:3]) + (", …" if len(ours) > 3 else "")
            raise FolderError(f"{where} already holds results ({shown}) of a run without a manifest; choose "
                              "another --out, or add --overwrite to replace them")
        return ours
    if not overwrite and any(manifest.get(k) != provenance.get(k) for k in _IDENTITY):
        raise FolderError(f"{where} holds the results of a different run (`{manifest.get('command')}`); "
                          "choose another --out, or add --overwrite to replace them")
    listed = [f for f in manifest.get("files", []) if isinstance(f, str)]
    return sorted({*listed, MANIFEST, MARKER} | set(_our_files(out)))


def _own_manifest(out: Path, run: str) -> dict[str, Any] | None:
    """The folder's manifest if the run ``run`` wrote it and is still running, else None."""
    manifest = read_manifest(out) if Path(out).is_dir() else None
    if manifest is None or manifest.get("run") != run or manifest.get("status") != "running":
        return None
    return manifest


def _write_manifest(out: Path, manifest: Mapping[str, Any]) -> None:
    text = json.dumps(manifest, indent=2) + "\n"
    write_atomic(Path(out) / MANIFEST, lambda tmp: tmp.write_text(text))


def mark_complete(out: Path, run: str) -> None:
    """Mark the run's manifest complete."""
    manifest = _own_manifest(out, run)
    if manifest is not None:
        _write_manifest(out, {**manifest, "status": "complete"})


def after_stop(out: Path, run: str, created: bool, reason: str, seeds: Sequence[int] = ()) -> str:
    """Leave the folder honest after a stop: a marker saying what is complete, or no folder at all.

    ``seeds``: the seeds whose ``regret_seed<k>.nc`` the run would have written. Returns a sentence for
    the message on stderr ("" when this run wrote nothing there).
    """
    out = Path(out)
    manifest = _own_manifest(out, run)
    if manifest is None:
        return ""
    kept = [f for f in manifest.get("files", []) if (out / f).exists()]
    if not kept:  # nothing finished: no folder of nothing
        (out / MANIFEST).unlink(missing_ok=True)
        if created and not any(out.iterdir()):
            shutil.rmtree(out, ignore_errors=True)
        return "nothing was finished, so nothing was kept"
    missing = [name for name in ("results.json", "report.html") if name not in kept]
    missing += [f"regret_seed{s}.nc" for s in seeds if f"regret_seed{s}.nc" not in kept]
    if seeds and "regret.nc" not in kept:
        missing.append("regret.nc")
    lines = [f"bayesvol stopped: {reason}", f"command: {manifest.get('command')}",
             f"complete (each file whole, written atomically): {', '.join(kept)}",
             "not complete (not written): " + (", ".join(missing) or "the figures after the last file")]
    write_atomic(out / MARKER, lambda tmp: tmp.write_text("\n".join(lines) + "\n"))
    _write_manifest(out, {**manifest, "status": "interrupted", "files": [*kept, MARKER]})
    return f"kept in {str(out)!r}: {', '.join(kept)} (see {str(out / MARKER)!r})"


def remove_partial(out: Path, run: str, created: bool) -> None:
    """A bad input found late: remove what this run wrote, so nothing half-made is left."""
    out = Path(out)
    manifest = _own_manifest(out, run)
    if manifest is None:
        return
    for name in [*manifest.get("files", []), MANIFEST]:
        if Path(name).name == name:
            (out / name).unlink(missing_ok=True)
    if created and not any(out.iterdir()):
        shutil.rmtree(out, ignore_errors=True)
