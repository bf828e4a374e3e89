"""`bayesvol volume --data`: the volume curves of a model class at θ* fitted on a real data set.

θ* is the MAP fit on every row (L-BFGS from zero and prior draws, :func:`bayesvol.regret.erm.erm` with
``penalty="map"``): a network's maximum-likelihood fit runs off to infinity on separable data such as
breast_cancer, where the MAP stays finite; zero alone is a saddle of a tanh network (every gradient
vanishes there), hence the prior-draw starts. D(P_θ* ‖ P_θ) averages over the data's own covariate rows
(all of them, or ``m`` rows drawn without replacement), so the Laplace and the sampled curves measure the
same ball and :func:`bayesvol.curve_agreement` compares them like on any zoo class.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any, NamedTuple

import jax
import numpy as np

__all__ = ["NESTED_DEPTH", "FittedTruth", "at_fitted_truth", "data_covariates", "fitted_truth",
           "nested_to_depth"]

NESTED_DEPTH = 40.0
"""Nats of depth (Laplace log V ≥ −NESTED_DEPTH) the nested sampler is run to on a data set by default.

Its cost grows linearly with depth (≈ 2 levels per nat, each moving every live point): on breast_cancer's
30 → 32 → 2 network (d = 1,058, 569 rows) N = 32, R = 4 reached t = 1e-2 (Laplace log V = −41.6) in 63
levels, 2.2e5 evaluations and 287 s on 2 shared cores; t = 1e-4 (−92.7) would take ≈ 3× that."""
NESTED_RUNS = 4
NESTED_LIVE = 32


class FittedTruth(NamedTuple):
    """θ* on a data set: the MAP fit, its mean training log loss (nats per row) and what it cost."""

    params: dict[str, Any]
    train_log_loss: float
    rows: int
    starts: int
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        """The JSON-able summary (θ* itself goes to the NetCDF curves' truth, not here)."""
        return {"fit": "MAP (L-BFGS)", "train_log_loss": self.train_log_loss, "rows": self.rows,
                "starts": self.starts, "seconds": self.seconds}


def fitted_truth(zoo: Any, x: np.ndarray, y: np.ndarray, *, key: jax.Array, num_starts: int = 4
                 ) -> FittedTruth:
    """θ* = argmax_θ Σ_i log P_θ(y_i | x_i) + log w(θ) over every row (L-BFGS from zero and prior draws)."""
    from bayesvol.regret.erm import erm, log_likelihood

    mc = zoo.model_class
    started = time.perf_counter()
    fit = erm(mc, y, key=key, penalty="map", num_starts=num_starts, covariates={"x": x})
    loss = -float(np.mean(np.asarray(log_likelihood(mc, fit.z, y, {"x": x}))))
    return FittedTruth(mc.unflatten(fit.z), loss, int(np.shape(y)[0]), num_starts,
                       time.perf_counter() - started)


def data_covariates(x: np.ndarray, m: int | None, key: jax.Array) -> dict[str, Any]:
    """The covariate rows D averages over: every row of x, or m of them drawn without replacement."""
    x = np.asarray(x)
    if m is None or m >= x.shape[0]:
        return {"x": x}
    rows = np.sort(np.asarray(jax.random.choice(key, x.shape[0], (int(m),), replace=False)))
    return {"x": x[rows]}


def at_fitted_truth(zoo: Any, data: Any, targets: np.ndarray, options: Any, key: jax.Array
                    ) -> tuple[Any, dict[str, Any], FittedTruth]:
    """The problem with θ* as its truth, the covariate rows of D, and the fit's record."""
    key_fit, key_rows = jax.random.split(key)
    fitted = fitted_truth(zoo, data.x, targets, key=key_fit)
    covariates = data_covariates(data.x, options.get("m"), key_rows)
    return dataclasses.replace(zoo, true_params=fitted.params), covariates, fitted


def nested_to_depth(mc: Any, params: Any, laplace: Any, covariates: Any, *, key: jax.Array,
                    depth: float = NESTED_DEPTH, num_live: int = NESTED_LIVE, num_runs: int = NESTED_RUNS,
                    progress: bool = False) -> tuple[Any, float | None]:
    """Nested log V(t) on the radii where the Laplace log V ≥ −depth, NaN (unreached) below them.

    Returns the curve on the Laplace curve's whole grid (its ``NestedInfo`` per-radius arrays padded with
    NaN) and the largest radius left out (None when every radius was run).
    """
    from bayesvol.volume.curve import VolumeCurve
    from bayesvol.volume.nested import sampled_volume

    t = np.asarray(laplace.eps2, dtype=float)
    run = np.asarray(laplace.log_volume, dtype=float) >= -depth
    run[-1] = True  # at least the largest radius
    curve = sampled_volume(mc, params, t[run], key=key, num_live=num_live, num_runs=num_runs,
                           progress=progress, covariates=covariates)
    if np.all(run):
        return curve, None

    def pad(values: Any) -> np.ndarray:
        values = np.asarray(values, dtype=float)
        out = np.full((*values.shape[:-1], t.size), np.nan)
        out[..., run] = values
        return out

    info = curve.diagnostics
    info = info._replace(log_volume_runs=pad(info.log_volume_runs),
                         variance_inflation=pad(info.variance_inflation),
                         stderr_theory=pad(info.stderr_theory))
    full = VolumeCurve(t, pad(curve.log_volume), pad(curve.stderr), pad(curve.volume_dimension),
                       pad(curve.volume_dimension_stderr), curve.method, curve.eigenvalues, info)
    return full, float(t[~run].max())
