"""The generalized χ² distribution function against exact references, from far lower to far upper tail."""

import numpy as np
import pytest
from scipy import integrate, optimize, special, stats

import bayesvol  # noqa: F401  (float64)
from bayesvol.volume.gchisq import (
    gchisq_dlog_cdf_dlog_t,
    gchisq_log_cdf,
    gchisq_log_cdf_saddlepoint,
    gchisq_volume,
)

# the requirement: ≤ 1e-6 relative in log F; the method reaches ~1e-12 (module docstring)
RTOL = 1e-9


def chi2_log_cdf_series(x, r):
    """log P[χ²_r ≤ x] from the series of the lower incomplete gamma function, in log space: exact in
    the far lower tail, where scipy's logcdf underflows."""
    a, z = r / 2.0, np.asarray(x) / 2.0
    k = np.arange(400)
    log_terms = k[None, :] * np.log(z)[:, None] - np.concatenate([[0.0], np.cumsum(np.log(a + 1 + k[:-1]))])
    return a * np.log(z) - z - special.gammaln(a + 1) + special.logsumexp(log_terms, axis=1)


def rank_one_log_cdf(t, m):
    """log P[(u − m)² ≤ t] = log(Φ(m + √t) − Φ(m − √t)) in log space (m ≥ √t)."""
    lo, hi = m - np.sqrt(t), m + np.sqrt(t)
    a, b = special.log_ndtr(-lo), special.log_ndtr(-hi)
    return a + np.log1p(-np.exp(b - a))


def vertical_line_log_cdf(t, a, m):
    """Independent reference: Bromwich integral along the vertical line through the saddle point,
    F = (e^{K(c)}/π) ∫_0^∞ Re[e^{K(c+iy) − K(c)}/(c + iy)] dy, by adaptive quadrature (scipy.quad)."""

    def kappa(s):
        w = 1 + 2 * a * s
        return np.sum(-0.5 * np.log(w) - 0.5 * m**2 * (1 - 1 / w))

    lower = t <= np.sum(a * (1 + m**2))
    s_max = -0.5 / a.max()

    def h(s):
        return kappa(s).real + s * t - np.log(abs(s))

    if lower:
        c = np.exp(optimize.minimize_scalar(lambda v: h(np.exp(v)), bounds=(-30, 30), method="bounded").x)
    else:
        c = s_max * (1 - np.exp(optimize.minimize_scalar(lambda q: h(s_max * (1 - np.exp(q))),
                                                         bounds=(-30, 0), method="bounded").x))
    k0 = kappa(c) + c * t

    def f(y):
        s = c + 1j * y
        return (np.exp(kappa(s) + s * t - k0) / s).real

    value = integrate.quad(f, 0, np.inf, limit=1000, epsabs=1e-15, epsrel=1e-12)[0] / np.pi
    return k0 + np.log(value) if lower else np.log1p(-np.exp(k0) * (-value))


@pytest.mark.parametrize("r", [1, 3, 50])
def test_central_equal_weights_whole_range(r):
    probs = np.array([1e-250, 1e-40, 1e-5, 0.3, 0.9])
    t = stats.chi2.ppf(probs, r) if r > 1 else stats.chi2.ppf(probs[1:], r)
    deep = chi2_log_cdf_series(t, r)
    np.testing.assert_allclose(gchisq_log_cdf(t, np.ones(r)), deep, rtol=RTOL)
    # scaling: Q = 2.5 χ²_r
    np.testing.assert_allclose(gchisq_log_cdf(2.5 * t, np.full(r, 2.5)), deep, rtol=RTOL)


def test_far_lower_tail_reaches_minus_1000():
    t = np.array([1e-200, 1e-100])
    np.testing.assert_allclose(gchisq_log_cdf(t, np.ones(3)), chi2_log_cdf_series(t, 3), rtol=RTOL)
    assert gchisq_log_cdf(t[:1], np.ones(3))[0] < -650


def test_upper_tail_near_zero():
    r = 5
    t = stats.chi2.isf([1e-12, 1e-6, 0.01], r)
    log_sf = stats.chi2.logsf(t, r)
    expected = np.log1p(-np.exp(log_sf))
    np.testing.assert_allclose(gchisq_log_cdf(t, np.ones(r)), expected, rtol=1e-9)


@pytest.mark.parametrize(("r", "lam"), [(1, 9.0), (4, 30.0)])
def test_noncentral_equal_weights(r, lam):
    t = stats.ncx2.ppf([1e-30, 1e-3, 0.5, 1 - 1e-9], r, lam)
    centers = np.zeros(r)
    centers[0] = np.sqrt(lam)
    np.testing.assert_allclose(gchisq_log_cdf(t, np.ones(r), centers), stats.ncx2.logcdf(t, r, lam),
                               rtol=1e-8)  # scipy's ncx2 (boost) is good to ~1e-10 here


def test_rank_one_noncentral_deep_lower_tail():
    t = np.array([1e-8, 1e-2, 1.0])
    m = 20.0  # log F ≈ −200
    np.testing.assert_allclose(gchisq_log_cdf(t, [1.0], [m]), rank_one_log_cdf(t, m), rtol=RTOL)


def test_two_mixed_weights_against_convolution():
    a, m = np.array([1.0, 0.01]), np.array([0.5, 3.0])
    for t in [1e-4, 0.3, 3.0]:
        def integrand(y, t=t):
            return stats.ncx2.cdf((t - a[1] * y) / a[0], 1, m[0] ** 2) * stats.ncx2.pdf(y, 1, m[1] ** 2)
        ref = integrate.quad(integrand, 0, t / a[1], epsabs=0, epsrel=1e-12, limit=500, points=[9.0])[0]
        np.testing.assert_allclose(gchisq_log_cdf(t, a, m), np.log(ref), rtol=1e-9)


def test_many_mixed_weights_against_vertical_line_quadrature():
    rng = np.random.default_rng(0)
    a = rng.exponential(size=20) ** 3  # weights over 11 orders of magnitude
    m = rng.normal(size=20)
    mean = np.sum(a * (1 + m**2))
    t = mean * np.array([1e-3, 0.3, 1.0, 1.5, 3.0])
    ref = np.array([vertical_line_log_cdf(ti, a, m) for ti in t])
    np.testing.assert_allclose(gchisq_log_cdf(t, a, m), ref, rtol=1e-8)


def test_mixed_weights_against_monte_carlo():
    rng = np.random.default_rng(1)
    a, m = rng.uniform(0.1, 2.0, size=6), rng.normal(size=6)
    u = rng.normal(size=(400_000, 6))
    q = ((u - m) ** 2) @ a
    t = np.quantile(q, [0.02, 0.3, 0.8])
    p_hat = np.array([np.mean(q <= ti) for ti in t])
    stderr = np.sqrt((1 - p_hat) / (p_hat * q.size))  # of log p̂
    assert np.all(np.abs(gchisq_log_cdf(t, a, m) - np.log(p_hat)) < 4 * stderr)


def test_flat_directions_drop_out():
    t = np.array([0.5, 2.0])
    np.testing.assert_allclose(gchisq_log_cdf(t, [0.0, 1.0, 0.0], [5.0, 0.0, -7.0]), stats.chi2.logcdf(t, 1),
                               rtol=RTOL)
    res = gchisq_volume(t, np.zeros(3), np.ones(3))
    assert np.all(res.log_cdf == 0) and np.all(res.dlog_cdf_dlog_t == 0)


def test_log_log_slope_and_density():
    r, lam = 3, 4.0
    t = stats.ncx2.ppf([1e-20, 0.1, 0.9], r, lam)
    res = gchisq_volume(t, np.ones(r), [2.0, 0.0, 0.0])
    np.testing.assert_allclose(res.log_pdf, stats.ncx2.logpdf(t, r, lam), rtol=1e-8)
    expected = t * np.exp(stats.ncx2.logpdf(t, r, lam) - stats.ncx2.logcdf(t, r, lam))
    np.testing.assert_allclose(res.dlog_cdf_dlog_t, expected, rtol=1e-7)
    # regular limit: d log F / d log t → r/2 as t → 0 (DESIGN.md §1: k = 2 d log V/d log t → d)
    slope = gchisq_dlog_cdf_dlog_t([1e-12], np.ones(r), [2.0, 0.0, 0.0])
    np.testing.assert_allclose(slope, [r / 2], rtol=1e-6)


def test_saddlepoint_relative_error_is_small_in_the_tails():
    r = 50
    t = stats.chi2.ppf([1e-100, 1e-10, 0.5, 1 - 1e-10], r)
    exact = stats.chi2.logcdf(t, r)
    approx = gchisq_log_cdf_saddlepoint(t, np.ones(r))
    # Lugannani–Rice r* is relatively accurate to O(1/r) in the tails: 1/r = 0.02 bounds it
    assert np.all(np.abs(approx - exact) <= 0.02 * np.abs(exact))
    assert np.abs(approx[0] - exact[0]) < 0.05  # and it is accurate in nats far out (−230 nats)


@pytest.mark.parametrize(
    ("t", "weights", "centers", "match"),
    [
        ([0.0], [1.0], None, "t must be finite"),
        ([np.nan], [1.0], None, "t must be finite"),
        ([1.0], [-1.0], None, "weights must be finite"),
        ([1.0], [np.inf], None, "weights must be finite"),
        ([1.0], [1.0, 2.0], [0.0], "centers has 1 entries"),
        ([1.0], [1.0], [np.nan], "centers must be finite"),
    ],
)
def test_bad_input(t, weights, centers, match):
    with pytest.raises(ValueError, match=match):
        gchisq_log_cdf(t, weights, centers)


def test_radius_below_the_range_is_an_error():
    with pytest.raises(ValueError, match="below the range"):
        gchisq_log_cdf([1e-320], [1.0])
