"""A long single run continues where it stopped: the same command again reuses its finished pieces.

``bayesvol run`` and ``bayesvol regret`` write each seed's regret (``regret_seed<k>.nc``) and the
nested-sampling volume curve (``volume_nested.nc``) atomically as they finish — the same mechanism as a
study's cells (one file per piece, whole or absent). When the output folder's manifest names the same run
(command, options, seed, version: :data:`bayesvol.app.outfolder` identity) and that run did not complete
(status ``running`` after a kill, ``interrupted`` after Ctrl-C or a failure), the same command again keeps
those files and computes only the rest: every seed's data and key depend only on the run's seed and the
seed's number (``fold_in(key, seed)``), so the reused seeds are the numbers the new run would compute.
``--overwrite`` starts afresh; a completed run is recomputed as before.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from bayesvol.regret.regret import summarize_over_seeds

__all__ = ["REUSABLE", "load_volume_curve", "regret_resumed", "resumable"]

REUSABLE = re.compile(r"^(regret_seed\d+|volume_nested)\.nc$")
"""The files an unfinished run leaves that the same run again reuses."""

_IDENTITY = ("subcommand", "options", "seed", "version")


def resumable(out: Path, provenance: Mapping[str, Any], overwrite: bool) -> bool:
    """Whether ``out`` holds an unfinished run identical to this one (so its pieces can be reused)."""
    from bayesvol.app.report import read_manifest

    if overwrite or not Path(out).is_dir():
        return False
    manifest = read_manifest(out)
    return (manifest is not None and manifest.get("status") in ("running", "interrupted")
            and all(manifest.get(k) == provenance.get(k) for k in _IDENTITY))


def _read(path: Path) -> xr.Dataset | None:
    try:
        with xr.open_dataset(path, engine="h5netcdf") as ds:
            return ds.load()
    except (OSError, ValueError):  # absent, or not a NetCDF we wrote: computed again
        return None


def load_volume_curve(out: Path, name: str = "volume_nested") -> Any:
    """The volume curve a previous attempt of this run saved as ``<name>.nc`` (None if absent).

    Its sampler details (``diagnostics``) are not in the file; the bounds of a sampled curve need only
    the curve itself (a Riemann bracket, :func:`bayesvol.volume.bounds.regret_bound`).
    """
    from bayesvol.volume.curve import VolumeCurve

    ds = _read(Path(out) / f"{name}.nc")
    if ds is None:
        return None
    return VolumeCurve(np.asarray(ds["eps2"]), np.asarray(ds["log_volume"]), np.asarray(ds["stderr"]),
                       np.asarray(ds["volume_dimension"]), np.asarray(ds["volume_dimension_stderr"]),
                       str(ds.attrs.get("method", "nested")))


def regret_resumed(out: Path, seeds: Sequence[int], predictors: Sequence[str], ns: Sequence[int],
                   compute: Callable[[list[int]], xr.Dataset],
                   on_seed: Callable[[int], None] | None = None,
                   on_seed_result: Callable[[int, xr.Dataset], None] | None = None) -> xr.Dataset:
    """:func:`bayesvol.regret_curve` over ``seeds``, reusing the seeds whose files ``out`` already holds.

    ``compute(seeds)`` runs ``regret_curve`` on the missing seeds (saving each as it goes); the reused
    ones are passed to ``on_seed`` / ``on_seed_result`` again (so the new manifest lists them). When every
    seed is there the last one is computed again: its run gives the attributes (projection, realizability)
    and the bounds that live only in the whole curve.
    """
    finished: dict[int, xr.Dataset] = {}
    for seed in seeds:
        ds = _read(Path(out) / f"regret_seed{seed}.nc")
        if ds is not None and list(np.asarray(ds["predictor"]).tolist()) == list(predictors) \
                and list(np.asarray(ds["n"]).tolist()) == list(ns):
            finished[seed] = ds
    todo = [s for s in seeds if s not in finished] or [seeds[-1]]
    for seed in todo:
        finished.pop(seed, None)
    for seed, ds in finished.items():
        ds.attrs = {k: v for k, v in ds.attrs.items() if not k.startswith("bayesvol_")}
        ds.attrs["resumed"] = 1  # reused from an earlier attempt of the same run
        if on_seed is not None:
            on_seed(seed)
        if on_seed_result is not None:
            on_seed_result(seed, ds)
    computed = compute(todo)
    if not finished:
        return computed
    return _merge(computed, finished, list(seeds))


def _merge(computed: xr.Dataset, finished: Mapping[int, xr.Dataset], seeds: list[int]) -> xr.Dataset:
    """The whole regret curve from the computed seeds and the reused ones.

    The means and standard errors over seeds are those of ``regret_curve`` (the same formulas, applied
    to all the seeds); ``num_infinite`` counts the seeds whose regret is +∞, as ``regret_curve`` does.
    """
    ns = np.asarray(computed["n"])
    pieces = []
    for seed in seeds:
        if seed in finished:
            part = finished[seed][[v for v in ("regret", "online_regret", "fit_rhat", "fit_ess_bulk",
                                               "fit_divergences", "fit_ok") if v in finished[seed]]]
        else:
            part = computed.sel(seed=seed)[[v for v in ("regret", "online_regret", "fit_rhat", "fit_ess_bulk",
                                                        "fit_divergences", "fit_ok") if v in computed]]
        part = part.drop_vars("seed", errors="ignore")
        part.attrs = {}
        pieces.append(part)
    fills = {"fit_rhat": np.nan, "fit_ess_bulk": np.nan, "fit_divergences": -1, "fit_ok": False}
    for name, fill in fills.items():  # a seed without a NUTS fit (exact mixture): regret_curve's fill
        if any(name in p for p in pieces):
            pieces = [p if name in p else p.assign({name: ("n", np.full(len(ns), fill))}) for p in pieces]
    ds = xr.concat(pieces, dim=xr.DataArray(seeds, dims="seed", name="seed"))
    ds = ds.transpose("predictor", "n", "seed")  # regret_curve's order: (predictor, n, seed), (n, seed)
    reused = np.isposinf(np.stack([finished[s]["regret"].values for s in finished], axis=-1)).sum(-1)
    ds["num_infinite"] = computed["num_infinite"] + reused
    summarize_over_seeds(ds)
    for name in ("regret", "online_regret"):
        ds[name].attrs.update(units="nats")
    for name in ("bound_gibbs", "bound_ball"):
        if name in computed:
            ds[name] = computed[name]
    ds.attrs = dict(computed.attrs)
    order = [v for v in computed.data_vars if v in ds] + [v for v in ds.data_vars if v not in computed]
    return ds[order]
