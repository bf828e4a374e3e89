"""Regret bounds from the volume curve (DESIGN.md §1).

For every n, the expected regret of the Bayes mixture satisfies

    R_n ≤ B_n = −log ∫ w(θ) e^{−n D(θ)} dθ = −log ∫ e^{−nt} dV(t) ≤ min_t [ n t + Comp(t) ],

(Gibbs variational bound; restricting the Gibbs measure to a KL ball). In the Laplace approximation
(weights a_i, centers m_i of Q = Σ a_i (u_i − m_i)², log C the prior's normalization correction)

    B_n = −log C + Σ_i [ ½ log(1 + 2n a_i) + n a_i m_i² / (1 + 2n a_i) ]
        = −log C + ½ log det(I + nΣF) + (n/2)(θ0 − μ)ᵀ F (I + nΣF)⁻¹ (θ0 − μ),

i.e. −log C − log E e^{−nQ}, in closed form. From any other volume curve on a grid t_1 < … < t_T,
∫ e^{−nt} dV is bracketed by the lower and upper Riemann–Stieltjes sums (V increasing, e^{−nt}
decreasing), with V(t_1) of mass below t_1 and 1 − V(t_T) above t_T: B_n lies in [lower, upper].
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
from scipy.special import logsumexp

from bayesvol.curvature.fisher import Spectrum
from bayesvol.errors import InputError
from bayesvol.volume.curve import VolumeCurve
from bayesvol.volume.gchisq import gchisq_log_cdf
from bayesvol.volume.laplace import LaplaceInfo

__all__ = ["RegretBound", "laplace_gibbs_bound", "regret_bound"]


class RegretBound(NamedTuple):
    """Both bounds of DESIGN.md §1 for each n (nats).

    Attributes
    ----------
    n : (N,) array
        Sample sizes.
    gibbs : (N,) array
        B_n = −log ∫ e^{−nt} dV(t): closed form (Laplace) or the midpoint of the Riemann bracket.
    gibbs_lower, gibbs_upper : (N,) arrays
        Bracket of B_n from the grid discretization (equal to ``gibbs`` for the closed form).
    ball : (N,) array
        min_t [n t + Comp(t)] over the grid of t (an upper bound on B_n).
    t_star : (N,) array
        The minimizing radius t (nats).
    method : str
        "laplace-closed-form" or "riemann".

    """

    n: np.ndarray
    gibbs: np.ndarray
    gibbs_lower: np.ndarray
    gibbs_upper: np.ndarray
    ball: np.ndarray
    t_star: np.ndarray
    method: str


def laplace_gibbs_bound(a: Any, centers: Any, n: Any, log_normalization: float = 0.0) -> np.ndarray:
    """B_n = −log C + Σ_i [½ log(1 + 2n a_i) + n a_i m_i²/(1 + 2n a_i)] (nats), vectorized over n."""
    a = np.asarray(a, dtype=np.float64).reshape(-1)
    msq = np.asarray(centers, dtype=np.float64).reshape(-1) ** 2
    x = 2.0 * np.asarray(n, dtype=np.float64)[..., None] * a
    return -log_normalization + np.sum(0.5 * np.log1p(x) + 0.5 * x * msq / (1.0 + x), axis=-1)


def _ball(n: np.ndarray, t: np.ndarray, log_v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    objective = n[:, None] * t[None, :] - log_v[None, :]
    objective = np.where(np.isfinite(objective), objective, np.inf)
    best = np.argmin(objective, axis=1)
    return objective[np.arange(n.size), best], t[best]


def _riemann(n: np.ndarray, t: np.ndarray, log_v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(−log of the upper sum, −log of the lower sum) of ∫ e^{−nt} dV over the grid, in log space."""
    log_v = np.maximum.accumulate(np.minimum(log_v, 0.0))  # V is a distribution function
    # log ΔV_j = log(V_{j+1} − V_j), with the mass V(t_1) below the grid first and 1 − V(t_T) above it:
    # from V where V is small, from the complements 1 − V where V is near 1 (no cancellation); an
    # empty cell has log-mass −∞.
    with np.errstate(divide="ignore"):
        small = log_v[1:] + np.log1p(-np.exp(log_v[:-1] - log_v[1:]))
        upper_tail = -np.expm1(log_v)
        large = np.log(upper_tail[:-1] - upper_tail[1:])
        log_dv = np.where(log_v[1:] > np.log(0.5), large, small)
        log_top = np.log(upper_tail[-1])
    log_mass = np.concatenate([[log_v[0]], log_dv, [log_top]])
    left = np.concatenate([[0.0], t])          # e^{−nt} is largest at each cell's left end
    right = np.concatenate([t, [np.inf]])
    upper = logsumexp(log_mass[None, :] - n[:, None] * left[None, :], axis=1)
    lower = logsumexp(log_mass[None, :] - n[:, None] * right[None, :], axis=1)
    return -upper, -lower


def regret_bound(curve_or_spectrum: VolumeCurve | Spectrum, n: Any) -> RegretBound:
    """Upper bounds on the expected regret R_n of the Bayes mixture (nats), vectorized over n.

    Parameters
    ----------
    curve_or_spectrum
        A Laplace ``VolumeCurve`` (closed-form B_n from its eigenvalues and centers), any other
        ``VolumeCurve`` (Riemann bracket of B_n over its grid), or a ``Spectrum`` of the prior-whitened
        Fisher with ``projections`` (λ_i = 2 a_i and m_i = its first projection row; closed form, the
        ball bound on an automatic grid).
    n
        Sample size(s).

    Returns
    -------
    RegretBound
        B_n (with its discretization bracket) and min_t [n t + Comp(t)].

    """
    n_arr = np.atleast_1d(np.asarray(n, dtype=np.float64))
    if np.any(~np.isfinite(n_arr)) or np.any(n_arr <= 0):
        raise InputError(f"n must be finite and > 0, got {n_arr[~(np.isfinite(n_arr) & (n_arr > 0))][:3]}")
    if isinstance(curve_or_spectrum, Spectrum):
        spec = curve_or_spectrum
        if spec.projections is None:
            raise InputError("the Spectrum has no projections: compute it with project=L⁻¹(z0 − μ) "
                             "(laplace_volume does) to get the centers m_i")
        a = 0.5 * np.maximum(np.asarray(spec.eigenvalues), 0.0)
        centers = np.asarray(spec.projections)[0]
        keep = a > 0
        a, centers = a[keep], centers[keep]
        gibbs = laplace_gibbs_bound(a, centers, n_arr)
        mean = float(np.sum(a * (1 + centers**2)))
        t = np.geomspace(mean * 1e-12, mean * 10, 600) if mean > 0 else np.array([1.0])
        log_v = gchisq_log_cdf(t, a, centers) if mean > 0 else np.zeros(1)
        ball, t_star = _ball(n_arr, t, log_v)
        return RegretBound(n_arr, gibbs, gibbs, gibbs, ball, t_star, "laplace-closed-form")
    if not isinstance(curve_or_spectrum, VolumeCurve):
        raise InputError("curve_or_spectrum must be a VolumeCurve or a Spectrum, got "
                        f"{type(curve_or_spectrum).__name__}")
    curve = curve_or_spectrum
    t = np.asarray(curve.eps2, dtype=np.float64)
    log_v = np.asarray(curve.log_volume, dtype=np.float64)
    ok = np.isfinite(log_v)
    t_ok, log_v_ok = t[ok], log_v[ok]
    ball, t_star = _ball(n_arr, t_ok, log_v_ok)
    info = curve.diagnostics
    if isinstance(info, LaplaceInfo):
        gibbs = laplace_gibbs_bound(curve.eigenvalues, info.centers, n_arr, info.log_normalization)
        return RegretBound(n_arr, gibbs, gibbs, gibbs, ball, t_star, "laplace-closed-form")
    lower, upper = _riemann(n_arr, t_ok, log_v_ok)
    return RegretBound(n_arr, 0.5 * (lower + upper), lower, upper, ball, t_star, "riemann")
