"""bayesvol's figures: volume curves, regret against the bounds, curvature spectra, effective dimension.

Every function draws on a matplotlib ``Axes`` (a new figure when none is given) and returns the
``Figure``; axes carry units (nats). The style is set once in :data:`STYLE`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib

matplotlib.use("Agg", force=False)

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import xarray as xr  # noqa: E402
from matplotlib.axes import Axes  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from bayesvol.volume_curve import VolumeCurve  # noqa: E402

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
    "laplace": "C1", "nested": "C0", "exact": "k",
}


def _axes(ax: Axes | None) -> tuple[Figure, Axes]:
    if ax is not None:
        return ax.figure, ax  # type: ignore[return-value]
    with plt.rc_context(STYLE):
        fig, ax = plt.subplots(layout="constrained")
    return fig, ax


def plot_volume(
    curves: Mapping[str, VolumeCurve],
    exact: tuple[np.ndarray, np.ndarray] | None = None,
    ax: Axes | None = None,
) -> Figure:
    """log V(t) against t (log axis) for each estimator, ±2 standard errors, and the exact curve."""
    fig, ax = _axes(ax)
    with plt.rc_context(STYLE):
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


def plot_regret(ds: xr.Dataset, ax: Axes | None = None, bounds: Sequence[str] = ("B_n", "ball_bound"),
                ) -> Figure:
    """Expected regret against n per predictor (mean ± 2 stderr over seeds) with the volume bounds.

    ``ds`` has a variable ``regret`` with dims (predictor, n, seed); bound variables over n are drawn
    dashed when present.
    """
    fig, ax = _axes(ax)
    with plt.rc_context(STYLE):
        regret = ds["regret"]
        n = np.asarray(ds["n"], dtype=float)
        for predictor in np.asarray(regret["predictor"]).tolist():
            values = np.asarray(regret.sel(predictor=predictor), dtype=float)
            finite = np.where(np.isfinite(values), values, np.nan)
            mean = np.nanmean(finite, axis=-1)
            count = np.sum(np.isfinite(finite), axis=-1)
            se = np.nanstd(finite, axis=-1, ddof=1) / np.sqrt(np.maximum(count, 1)) if values.shape[-1] > 1 \
                else np.zeros_like(mean)
            color = _COLORS.get(str(predictor))
            ax.plot(n, mean, "o-", label=str(predictor), color=color, markersize=3)
            ax.fill_between(n, mean - 2 * se, mean + 2 * se, alpha=0.2, color=color, linewidth=0)
        for name in bounds:
            if name in ds:
                bound = ds[name]
                for method in (np.asarray(bound["method"]).tolist() if "method" in bound.dims else [None]):
                    values = bound.sel(method=method) if method is not None else bound
                    label = f"{name} ({method})" if method is not None else name
                    ax.plot(n, np.asarray(values, dtype=float), "--", label=label, linewidth=1)
        ax.set_xscale("log")
        ax.set_xlabel("sample size n")
        ax.set_ylabel("expected regret (nats)")
        ax.set_title("Regret of the predictors and the volume bounds")
        ax.legend(fontsize=8)
    return fig


def plot_spectrum(eigenvalues: np.ndarray, ax: Axes | None = None, label: str = "curvature") -> Figure:
    """Sorted curvature eigenvalues a_i (prior-whitened) on a log scale; zeros drawn at the floor."""
    fig, ax = _axes(ax)
    with plt.rc_context(STYLE):
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
    with plt.rc_context(STYLE):
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
    with plt.rc_context(STYLE):
        for name, values in complexities.items():
            ax.hist(np.asarray(values, dtype=float), bins=20, alpha=0.5, label=name)
        ax.set_xlabel("complexity Comp(t) (nats)")
        ax.set_ylabel("number of truths")
        ax.legend()
    return fig
