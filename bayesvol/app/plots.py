"""bayesvol's figures: volume curves, regret against the bounds, curvature spectra, effective dimension.

Every function draws on a matplotlib ``Axes`` (a new figure when none is given) and returns the
``Figure``; axes carry units (nats). The style is set once in :data:`STYLE`. New figures are plain
``matplotlib.figure.Figure`` objects, not pyplot's: saving them needs no backend, and this module never
selects one (the user's ``MPLBACKEND`` or ``matplotlib.use`` stays in force).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import matplotlib
import numpy as np
import xarray as xr
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from bayesvol.volume.curve import VolumeCurve

__all__ = [
    "STYLE",
    "plot_complexity_spectrum",
    "plot_effective_dim",
    "plot_regret",
    "plot_spectrum",
    "plot_volume",
]

STYLE: dict[str, Any] = {
    "figure.figsize": (6.0, 4.0),
    "figure.dpi": 110,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "legend.frameon": False,
    "font.size": 10,
}

_COLORS = {
    "mixture": "C0", "plugin": "C3", "map": "C1", "ensemble": "C2", "sgld": "C4",
    "erm_min_norm": "C5", "erm_gd": "C6", "laplace_ggn": "C7", "sgd_ensemble": "C8",
    "laplace": "C1", "nested": "C0", "exact": "k",
}


def _axes(ax: Axes | None) -> tuple[Figure, Axes]:
    if ax is not None:
        return ax.figure, ax  # type: ignore[return-value]
    with matplotlib.rc_context(STYLE):
        fig = Figure(layout="constrained")
        ax = fig.subplots()
    return fig, ax


def plot_volume(
    curves: Mapping[str, VolumeCurve],
    exact: tuple[np.ndarray, np.ndarray] | None = None,
    ax: Axes | None = None,
) -> Figure:
    """Plot log V(t) against t (log axis) for each estimator, ±2 standard errors, and the exact curve."""
    fig, ax = _axes(ax)
    with matplotlib.rc_context(STYLE):
        for name, curve in curves.items():
            t, lv, se = (np.asarray(a, dtype=float) for a in (curve.eps2, curve.log_volume, curve.stderr))
            color = _COLORS.get(curve.method, None)
            ax.plot(t, lv, label=name, color=color)
            if np.any(se > 0):
                ax.fill_between(t, lv - 2 * se, lv + 2 * se, alpha=0.25, color=color, linewidth=0)
        if exact is not None:
            ax.plot(exact[0], exact[1], "k--", label="exact", linewidth=1)
        ax.set_xscale("log")
        ax.set_xlabel("KL radius t (nats)")
        ax.set_ylabel("log V(t) (nats)")
        ax.set_title("Prior volume of the KL ball {θ : D(θ0‖θ) ≤ t}")
        ax.legend()
    return fig


def _mean_se(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean over the last axis (seeds) and its standard error, ignoring NaN."""
    values = np.where(np.isfinite(values), values, np.nan)
    count = np.sum(np.isfinite(values), axis=-1)
    mean = np.nanmean(values, axis=-1)
    if values.shape[-1] < 2:
        return mean, np.zeros_like(mean)
    return mean, np.nanstd(values, axis=-1, ddof=1) / np.sqrt(np.maximum(count, 1))


def plot_regret(ds: xr.Dataset, dim: int | None = None) -> Figure:
    """Two panels from :func:`bayesvol.regret_curve`: online regret R_n, and batch regret r_n.

    Left: the mixture's R_n with the volume bounds B_n and min_t [n t + Comp(t)]; right: r_n of each
    predictor. Means ± 2 standard errors over seeds; log-scaled n.
    """
    with matplotlib.rc_context(STYLE):
        fig = Figure(figsize=(11, 4), layout="constrained")
        left, right = fig.subplots(1, 2)
        n = np.asarray(ds["n"], dtype=float)
        if "online_regret" in ds and np.any(np.isfinite(ds["online_regret"].values)):
            mean, se = _mean_se(np.asarray(ds["online_regret"], dtype=float))
            left.plot(n, mean, "o-", color=_COLORS["mixture"], markersize=3, label="mixture R_n")
            left.fill_between(n, mean - 2 * se, mean + 2 * se, color=_COLORS["mixture"], alpha=0.2, lw=0)
        for var, style, label in (("bound_gibbs", "--", "B_n"), ("bound_ball", ":", "min_t[nt+Comp(t)]")):
            if var in ds:
                for curve in np.asarray(ds["curve"]).tolist():
                    left.plot(n, np.asarray(ds[var].sel(curve=curve), dtype=float), style,
                              label=f"{label} ({curve})", linewidth=1.2)
        if dim is not None:
            left.plot(n, 0.5 * dim * np.log(n), color="0.6", linewidth=1, label="(d/2) log n")
        left.set_xscale("log")
        left.set_xlabel("sample size n")
        left.set_ylabel("cumulative regret (nats)")
        left.set_title("Online regret of the mixture and the volume bounds")
        left.legend(fontsize=7)
        if "regret" in ds:
            for predictor in np.asarray(ds["predictor"]).tolist():
                mean, se = _mean_se(np.asarray(ds["regret"].sel(predictor=predictor), dtype=float))
                color = _COLORS.get(str(predictor))
                right.plot(n, mean, "o-", color=color, markersize=3, label=str(predictor))
                right.fill_between(n, mean - 2 * se, mean + 2 * se, color=color, alpha=0.2, lw=0)
            right.set_xscale("log")
            right.set_yscale("log")
            right.set_xlabel("sample size n")
            right.set_ylabel("batch regret r_n (nats per sample)")
            right.set_title("Excess test log loss: mixture vs ERM")
            right.legend(fontsize=8)
    return fig


def plot_spectrum(eigenvalues: np.ndarray, ax: Axes | None = None, label: str = "curvature") -> Figure:
    """Sorted curvature eigenvalues a_i (prior-whitened) on a log scale; zeros drawn at the floor."""
    fig, ax = _axes(ax)
    with matplotlib.rc_context(STYLE):
        values = np.sort(np.asarray(eigenvalues, dtype=float))[::-1]
        positive = values[values > 0]
        floor = positive.min() * 1e-3 if positive.size else 1e-16
        ax.semilogy(np.arange(1, values.size + 1), np.maximum(values, floor), ".", label=label)
        ax.set_xlabel("index i")
        ax.set_ylabel("eigenvalue a_i (nats per unit prior variance)")
        ax.set_title("Curvature spectrum at the truth")
    return fig


def plot_effective_dim(n: np.ndarray, effective_dim: Mapping[str, np.ndarray], dim: int | None = None,
                       ax: Axes | None = None) -> Figure:
    """Effective dimension k_eff(n) against n, with the parameter count d for reference."""
    fig, ax = _axes(ax)
    with matplotlib.rc_context(STYLE):
        for name, values in effective_dim.items():
            ax.plot(n, values, "o-", label=name, markersize=3)
        if dim is not None:
            ax.axhline(dim, color="k", linestyle=":", label=f"d = {dim}")
        ax.set_xscale("log")
        ax.set_xlabel("sample size n")
        ax.set_ylabel("effective dimension")
        ax.legend()
    return fig


def plot_complexity_spectrum(complexities: Mapping[str, np.ndarray], ax: Axes | None = None) -> Figure:
    """Distribution of Comp(t) = −log V(t) over truths, one histogram per class."""
    fig, ax = _axes(ax)
    with matplotlib.rc_context(STYLE):
        for name, values in complexities.items():
            ax.hist(np.asarray(values, dtype=float), bins=20, alpha=0.5, label=name)
        ax.set_xlabel("complexity Comp(t) (nats)")
        ax.set_ylabel("number of truths")
        ax.legend()
    return fig


def plot_volume_dimension_limits(curves: Mapping[str, tuple[VolumeCurve, float | None]],
                                 ax: Axes | None = None) -> Figure:
    """k(t) = 2 d log V / d log t against t (log axis), ±2 s.e., each with its known limit 2λ (dashed)."""
    fig, ax = _axes(ax)
    with matplotlib.rc_context(STYLE):
        for i, (name, (curve, lam)) in enumerate(curves.items()):
            color = f"C{i % 10}"
            t = np.asarray(curve.eps2, dtype=float)
            k = np.asarray(curve.volume_dimension, dtype=float)
            se = np.asarray(curve.volume_dimension_stderr, dtype=float)
            ax.plot(t, k, label=name, color=color, marker="o", markersize=3)
            ax.fill_between(t, k - 2 * se, k + 2 * se, alpha=0.2, color=color, linewidth=0)
            if lam is not None:
                ax.axhline(2 * lam, color=color, linestyle="--", linewidth=1)
        ax.set_xscale("log")
        ax.set_xlabel("KL radius t (nats)")
        ax.set_ylabel("volume dimension k(t)")
        ax.set_title("k(t) → 2λ as t → 0 (dashed: the known 2λ)")
        ax.legend(fontsize="small")
    return fig
