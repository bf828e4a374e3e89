"""Learning coefficients: the published formulas, and λ, m read off nested volume curves."""

import itertools

import jax
import numpy as np
import pytest
from scipy import integrate
from scipy.special import erf
from scipy.stats import norm

import bayesvol as bv
import bayesvol_zoo as models
from bayesvol.volume.coefficient import (
    MIN_DEPTH,
    _fit_curve,
    _fit_multiplicity,
    _gls,
    log_volume_covariance,
    radii_to_depth,
)
from bayesvol_zoo.learning_coefficients import (
    deep_linear_learning_coefficient,
    normal_crossing_learning_coefficient,
    reduced_rank_learning_coefficient,
    regular_learning_coefficient,
)


# ------------------------------------------------------------------------------------ the formulas
@pytest.mark.parametrize(("mhn", "expected"), [
    # devinterp's tests/slt/rrr_test.py cases, true product of rank 0, with their published λ
    ((5, 3, 5), (6.5, 2)),  # Aoyagi–Watanabe case 1, M+H+N odd: (2·25 + 2·15 + 2·15 − 59 + 1)/8
    ((5, 4, 5), (8.0, 1)),  # case 1, even: (2·25 + 2·20 + 2·20 − 66)/8
    ((4, 3, 8), (6.0, 1)),  # M + H < N: MH/2
    ((8, 3, 4), (6.0, 1)),  # N + H < M: HN/2
    ((3, 8, 4), (6.0, 1)),  # M + N < H: MN/2
])
def test_reduced_rank_devinterp_sizes(mhn, expected):
    m, h, n = mhn
    assert reduced_rank_learning_coefficient(m, n, h, 0) == expected


def test_deep_linear_with_two_layers_is_reduced_rank_regression():
    # Aoyagi (2024) with L = 2 must reproduce Aoyagi–Watanabe (2005), multiplicity included, on every size
    for m, n, h in itertools.product(range(1, 8), repeat=3):
        for r in range(min(m, n, h) + 1):
            assert deep_linear_learning_coefficient([m, h, n], r) == reduced_rank_learning_coefficient(
                m, n, h, r), (m, n, h, r)


def test_deep_linear_hand_case():
    # widths (3, 2, 2, 3), r = 1: M_s = (2, 1, 1, 2); the subset is all four (ℓ = 3, Σ = 6 ≥ 3·2), so
    # M̄ = 2, a = 6 − 3 = 3 = ℓ (m = 1) and λ = (6 − 1)/2 + 0 − (3·2/4)·2² + ½(1+2+2+2+2+4) = 3
    assert deep_linear_learning_coefficient([3, 2, 2, 3], 1) == (3.0, 1)
    # r = 0: M_s = (3, 2, 2, 3), ℓ = 3, Σ = 10, M̄ = 4, a = 1 ≠ ℓ (m = 2):
    # λ = 0 + 1·2/12 − (3/2)(10/3)² + ½(6+6+9+4+6+6) = 1/6 − 50/3 + 37/2 = 2
    lam, mult = deep_linear_learning_coefficient([3, 2, 2, 3], 0)
    assert abs(lam - 2.0) < 1e-12 and mult == 2
    entry = models.deep_linear_network(widths=(3, 2, 2, 3), rank=1)
    product = np.linalg.multi_dot([np.asarray(entry.true_params[k]) for k in ("W3", "W2", "W1")])
    assert np.linalg.matrix_rank(product) == 1
    assert (entry.facts.learning_coefficient, entry.facts.multiplicity, entry.dim) == (3.0, 1, 16)


def test_normal_crossing_and_regular():
    assert normal_crossing_learning_coefficient([1, 2]) == (0.25, 1)
    assert normal_crossing_learning_coefficient([2, 1, 2]) == (0.25, 2)
    assert normal_crossing_learning_coefficient([1]) == (0.5, 1)  # D = ½θ²: regular, d/2
    assert regular_learning_coefficient(7) == (3.5, 1)
    entry = models.normal_crossing(powers=(1, 2))
    theta = np.array([0.7, -1.3])
    # D = ½ Π θ_i^{2k_i} exactly (unit-variance Normal with mean Π θ_i^{k_i})
    d = bv.kl(entry.model_class, entry.true_params, {"theta": theta}, n=3)
    np.testing.assert_allclose(d, 0.5 * theta[0] ** 2 * theta[1] ** 4, rtol=1e-12)
    assert entry.facts.multiplicity == 1 and models.gaussian_mixture().facts.multiplicity == 1
    with pytest.raises(ValueError, match="powers"):
        normal_crossing_learning_coefficient([0, 1])


# ------------------------------------------------------------------------------ the GLS fit alone
def test_gls_fit_is_calibrated_and_tells_the_multiplicity():
    # log V = λ log t + log log(1/t) + c (m = 2) plus random-walk noise like nested sampling's (each radius
    # shares the shrinkage noise of every level above it): the GLS z-scores of λ have unit spread, and
    # m = 2 beats m = 1 by far when the noise is small.
    rng = np.random.default_rng(0)
    t = np.geomspace(1e-12, 1e-2, 21)
    depth = -np.log(t)  # levels above each radius ∝ log(1/t)
    cov = 0.02 * np.minimum.outer(depth, depth)
    chol = np.linalg.cholesky(cov)
    truth = 1.5 * np.log(t) + np.log(np.log(1 / t)) - 2.0
    z = []
    for _ in range(400):
        y = truth + chol @ rng.normal(size=t.size)
        fit = _gls(t, y, cov, 2)
        z.append((fit.learning_coefficient - 1.5) / fit.stderr)
    z = np.asarray(z)
    assert abs(z.mean()) < 4 / np.sqrt(z.size) and abs(z.std() - 1) < 0.1, (z.mean(), z.std())
    y = truth + 0.01 * chol @ rng.normal(size=t.size)
    fits = {m: _gls(t, y, 1e-4 * cov, m) for m in (1, 2, 3)}
    assert fits[2].chi2 < 40 and fits[1].chi2 - fits[2].chi2 > 100 and fits[3].chi2 - fits[2].chi2 > 100


# ------------------------------------------------------- the m ≥ 2 form with its shift b, exact curves
def _exact_crossing_44(t: np.ndarray) -> np.ndarray:
    """log V(t) of the normal crossing D = ½ θ1⁴θ2⁴, θ ~ N(0, I₂) (λ = ¼, m = 2), by quadrature.

    D ≤ t ⟺ |θ2| ≤ c/|θ1| with c = (2t)^{1/4}, so V = E[2Φ(c/|θ1|) − 1] = 2∫₀^∞ φ(x)(2Φ(c/x) − 1) dx,
    integrated in s = log x (the integrand's feature sits at x ≈ c); 2Φ(u) − 1 = erf(u/√2), exact for tiny u.
    """
    out = []
    for c in (2 * t) ** 0.25:
        f = lambda s, c=c: np.exp(s) * norm.pdf(np.exp(s)) * erf(c * np.exp(-s) / np.sqrt(2))  # noqa: E731
        v, _ = integrate.quad(f, min(-60.0, np.log(c) - 30), 5, points=[np.log(c)], limit=400, epsabs=0,
                              epsrel=1e-12)
        out.append(np.log(2 * v))
    return np.asarray(out)


def _exact_crossing_24(t: np.ndarray) -> np.ndarray:
    """log V(t) of D = ½ θ1²θ2⁴, θ ~ N(0, I₂) (λ = ¼, m = 1): |θ1| ≤ c/θ2² with c = √(2t), by quadrature."""
    out = []
    for c in np.sqrt(2 * t):
        f = lambda s, c=c: np.exp(s) * norm.pdf(np.exp(s)) * erf(c * np.exp(-2 * s) / np.sqrt(2))  # noqa: E731
        mid = 0.5 * np.log(c)
        v, _ = integrate.quad(f, min(-60.0, mid - 30), 5, points=[mid], limit=400, epsabs=0, epsrel=1e-12)
        out.append(np.log(2 * v))
    return np.asarray(out)


def _nested_like_cov(log_v: np.ndarray, num_live: int, num_runs: int) -> np.ndarray:
    """Nested sampling's covariance of log V across t (a shrinkage random walk): min(H_a, H_b)/(N R).

    H = −log V (the depth in nats); the curve's own covariance is :func:`log_volume_covariance`.
    """
    depth = -log_v
    return np.minimum.outer(depth, depth) / (num_live * num_runs)


def _fit(t, y, cov, **kw):
    options = {"num_evaluations": 0, "multiplicity": None, "t_max": 0.1, "min_points": 4,
               "max_multiplicity": 3, "p_min": 0.01, "delta_chi2": 6.63} | kw
    return _fit_curve(t, y, cov, **options)


def test_exact_m2_crossing_needs_the_shift():
    # the exact curve of θ1⁴θ2⁴ on the λ table's radii, with the errors of a default nested run (N 64, R 8):
    # the form with b recovers λ = ¼ within its error bar and never reads m = 1; without b (b = 0) the m = 2
    # fit misses by > 4 s.e. and the m = 1 fit by 30 % (what the table showed before)
    t = np.geomspace(1e-8, 1e-2, 13)
    y = _exact_crossing_44(t)
    cov = _nested_like_cov(y, 64, 8)
    fit = _fit(t, y, cov)
    assert abs(fit.learning_coefficient - 0.25) < 4 * fit.stderr and fit.stderr < 0.025, fit
    assert abs(fit.learning_coefficient - 0.25) < 0.1 * 0.25
    assert fit.multiplicity in (2, None) and fit.multiplicity_used != 1 and fit.asymptotic
    m2 = next(f for f in fit.fits if f.multiplicity == 2)
    assert abs(m2.learning_coefficient - 0.25) < 4 * m2.stderr and m2.stderr < 0.01 and np.isfinite(m2.shift)
    m1 = next(f for f in fit.fits if f.multiplicity == 1)
    assert m1.chi2 - m2.chi2 > 8.63  # the log factor is seen: b's parameter pays for itself
    no_shift = _gls(t, y, cov, 2)
    assert abs(no_shift.learning_coefficient - 0.25) > 4 * no_shift.stderr
    assert abs(m1.learning_coefficient - 0.25) > 0.25 * 0.25
    given = _fit(t, y, cov, multiplicity=2)
    assert given.multiplicity == 2 and abs(given.learning_coefficient - 0.25) < 4 * given.stderr


def _exact_curve(t: np.ndarray, log_v: np.ndarray) -> bv.VolumeCurve:
    stderr = np.sqrt(np.diag(_nested_like_cov(log_v, 64, 8)))
    return bv.VolumeCurve(t, log_v, stderr, np.full_like(t, np.nan), np.full_like(t, np.nan), "exact")


@pytest.mark.parametrize(("exact", "m"), [(_exact_crossing_24, 1), (_exact_crossing_44, 2)])
def test_depth_separates_the_two_crossings(exact, m):
    # the λ table's rule on the exact curves: radii extended from the 1e-8 … 1e-2 pilot down to 20 nats
    # (radii_to_depth), errors of a default nested run (N 64 × R 8), the default fit. On 1e-8 … 1e-2 the
    # m = 1 crossing read +10.4 % (its power-law correction taken for a log factor, RESULTS.md); at depth
    # both are within 4 % and 3 s.e., and the best-scoring m is the true one
    pilot_t = np.geomspace(1e-8, 1e-2, 13)
    t = radii_to_depth(_exact_curve(pilot_t, exact(pilot_t)), 20.0)
    assert t.size > pilot_t.size and np.all(np.diff(t) > 0) and np.allclose(t[-13:], pilot_t)
    y = exact(t)
    assert -y[0] >= 20.0 - 0.5  # the extrapolated grid reaches the depth (m = 2: deeper, its slope grows)
    fit = _fit(t, y, _nested_like_cov(y, 64, 8), min_depth=MIN_DEPTH, max_dimension=2)
    assert [f.multiplicity for f in fit.fits] == [1, 2]  # m ≤ d = 2
    assert abs(fit.learning_coefficient - 0.25) < min(0.04 * 0.25, 3 * fit.stderr), fit
    assert fit.multiplicity_used == m or (m == 2 and fit.multiplicity_used == 3), fit
    assert fit.multiplicity != 1


def test_radii_to_depth():
    t = np.geomspace(1e-8, 1e-2, 13)
    curve = _exact_curve(t, 0.5 * np.log(t))  # log V = ½ log t exactly: depth 9.2 nats at 1e-8
    deep = radii_to_depth(curve, 30.0, per_decade=2.0)
    np.testing.assert_allclose(0.5 * np.log(deep[0]), -30.0, rtol=1e-9)  # m = 1: the depth exactly
    steps = np.diff(np.log10(deep[:-12]))  # the extension: even steps of at most half a decade
    assert np.allclose(deep[-13:], t) and np.allclose(steps, steps[0]) and steps[0] <= 0.5 + 1e-12
    assert np.array_equal(radii_to_depth(curve, 5.0), t)  # already 5 nats deep: unchanged
    with pytest.raises(bv.InputError, match="depth must be > 0"):
        radii_to_depth(curve, 0.0)
    flat = _exact_curve(t, np.zeros_like(t) - 1.0)
    with pytest.raises(bv.InputError, match="not positive"):
        radii_to_depth(flat, 30.0)


def test_shift_profile_is_calibrated_and_nests_the_linear_fit():
    # log V = λ log t + log(log(1/t) + b) + c, b = 3, plus nested-like random-walk noise: the m = 2 fit's
    # profile-likelihood s.e. (b free) has z-scores of unit spread; the b → ∞ end of the m = 2 family is the
    # m = 1 fit, so an exactly linear log V gives λ exactly, m undetermined (never 2 or 3)
    rng = np.random.default_rng(1)
    t = np.geomspace(1e-8, 1e-2, 13)
    truth = 0.25 * np.log(t) + np.log(np.log(1 / t) + 3.0) - 1.0
    cov = _nested_like_cov(truth, 16, 8)
    chol = np.linalg.cholesky(cov)
    z = np.array([(f.learning_coefficient - 0.25) / f.stderr for f in
                  (_fit_multiplicity(t, truth + chol @ rng.normal(size=t.size), cov, 2) for _ in range(150))])
    assert abs(z.mean()) < 4 / np.sqrt(z.size) and abs(z.std() - 1) < 0.2, (z.mean(), z.std())
    line = 0.8 * np.log(t) - 0.5
    flat = _fit(t, line, _nested_like_cov(line, 64, 8))
    assert flat.multiplicity is None and flat.multiplicity_used == 1
    assert abs(flat.learning_coefficient - 0.8) < 1e-6 and all(f.chi2 < 1e-12 for f in flat.fits)


# --------------------------------------------------------------------------- on a nested curve
@pytest.fixture(scope="module")
def mixture_curve():
    zoo = models.gaussian_mixture()
    eps2 = np.geomspace(1e-8, 1e-2, 13)
    return bv.sampled_volume(zoo.model_class, zoo.true_params, eps2, key=jax.random.PRNGKey(11), num_live=32,
                             num_runs=4, progress=False, n=4)


@pytest.mark.slow
def test_covariance_diagonal_is_the_curve_stderr(mixture_curve):
    cov = log_volume_covariance(mixture_curve)
    np.testing.assert_allclose(np.sqrt(np.diag(cov)), mixture_curve.stderr, rtol=1e-10)
    corr = cov / np.outer(mixture_curve.stderr, mixture_curve.stderr)
    assert np.all(np.diag(corr, 1) > 0.5)  # neighbouring log V share most of their levels
    assert np.all(np.linalg.eigvalsh(cov) > -1e-12)


@pytest.mark.slow
def test_mixture_lambda_within_its_stderr(mixture_curve):
    # ½N(μ1,1) + ½N(μ2,1) at μ1 = μ2: λ = 3/4, m = 1 (D ≈ ½ m² + ¼ δ⁴, a normal crossing in (m, δ²))
    fit = bv.learning_coefficient(mixture_curve)
    assert fit.stderr < 0.05 and abs(fit.learning_coefficient - 0.75) < 4 * fit.stderr, fit
    assert fit.asymptotic and fit.num_points >= 4 and fit.window[0] == 1e-8
    assert fit.multiplicity in (1, None) and fit.multiplicity_used == 1
    assert fit.num_evaluations == mixture_curve.diagnostics.num_evaluations
    given = bv.learning_coefficient(mixture_curve, multiplicity=1)
    assert given.multiplicity_given and given.multiplicity == 1 and len(given.fits) == 1
    assert abs(given.learning_coefficient - 0.75) < 4 * given.stderr


@pytest.mark.slow
def test_bad_inputs(mixture_curve):
    zoo = models.linear_regression(d=2)
    x = zoo.sample_covariates(jax.random.PRNGKey(0), 20)["x"]
    laplace = bv.laplace_volume(zoo.model_class, zoo.true_params, np.geomspace(1e-6, 1e-2, 5), x=x)
    with pytest.raises(bv.InputError, match="needs a VolumeCurve made by sampled_volume"):
        bv.learning_coefficient(laplace)
    with pytest.raises(bv.InputError, match="multiplicity must be an integer ≥ 1"):
        bv.learning_coefficient(mixture_curve, multiplicity=0)
    with pytest.raises(bv.InputError, match="shift_penalty must be ≥ 0"):
        bv.learning_coefficient(mixture_curve, shift_penalty=-1.0)
    with pytest.raises(bv.InputError, match="t_max must be in"):
        bv.learning_coefficient(mixture_curve, t_max=2.0)
    with pytest.raises(bv.InputError, match="needs ≥ 4 radii"):
        bv.learning_coefficient(mixture_curve, t_max=1e-7)


@pytest.mark.slow
@pytest.mark.parametrize(("powers", "m"), [((1, 2), 1), ((2, 2), 2)])
def test_crossings_on_nested_curves_to_depth(powers, m):
    # the λ table's row for each normal crossing (its key, N 64 × R 8, the 1e-8 … 1e-2 pilot extended to
    # LAMBDA_DEPTH nats): λ̂ within 10 % and 4 s.e. of ¼, m̂ right or undetermined. On the pilot's
    # radii alone the two read +9 % and −13.5 % (the table before the depth rule, RESULTS.md)
    from bayesvol.app.experiments import LAMBDA_CASES, LAMBDA_DEPTH, lambda_case, lambda_eps2

    index = next(i for i, case in enumerate(LAMBDA_CASES) if case[2].get("powers") == powers)
    key = jax.random.split(jax.random.PRNGKey(0), len(LAMBDA_CASES))[index]
    row, curve, fit = lambda_case(models.normal_crossing(powers=powers), lambda_eps2(), key)
    assert curve.eps2[0] < 1e-30 and -np.nanmin(curve.log_volume) >= LAMBDA_DEPTH - 1.0  # it went deep
    assert curve.diagnostics.dim == 2 and [f.multiplicity for f in fit.fits] == [1, 2]  # m ≤ d
    assert row["evaluations"] > curve.diagnostics.num_evaluations  # the pilot's evaluations are counted
    assert row["relative_error"] < 0.1 and row["z"] < 4, row
    assert fit.multiplicity in (m, None), fit  # right, or "undetermined"; never the wrong integer
