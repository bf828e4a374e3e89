"""Regret bounds: the Laplace closed form against DESIGN.md §2, and the ordering R_n ≤ B_n ≤ ball."""

import jax
import numpy as np
import pytest

import bayesvol_zoo as models
from bayesvol.curvature.fisher import fisher_spectrum
from bayesvol.volume.bounds import laplace_gibbs_bound, regret_bound
from bayesvol.volume.curve import VolumeCurve
from bayesvol.volume.gchisq import gchisq_log_cdf
from bayesvol.volume.laplace import laplace_volume, prior_gaussian

SIGMA, TAU = 0.7, 1.5


@pytest.fixture(scope="module")
def linear():
    zoo = models.get("linear_regression", d=6, sigma=SIGMA, tau=TAU)
    n = 40  # the fixed design: D is averaged over these n rows
    cov = zoo.sample_covariates(jax.random.PRNGKey(5), n)
    t = np.geomspace(1e-8, 1e2, 300)
    curve = laplace_volume(zoo.model_class, zoo.true_params, t, **cov)
    return zoo, cov, curve


def closed_form_bn(x, theta0, n):
    """B_n = ½ log det(I + nτ²F) + (n/2) θ0ᵀF(I + nτ²F)⁻¹θ0, F = XᵀX/(mσ²) (DESIGN.md §2)."""
    f = x.T @ x / (x.shape[0] * SIGMA**2)
    out = []
    for ni in np.atleast_1d(n):
        m = np.eye(f.shape[0]) + ni * TAU**2 * f
        out.append(0.5 * np.linalg.slogdet(m)[1] + 0.5 * ni * theta0 @ f @ np.linalg.solve(m, theta0))
    return np.array(out)


def expected_regret(x, theta0):
    """D(N(Xθ0, σ²I) ‖ N(0, C)), C = σ²I + τ²XXᵀ: the exact expected regret of the mixture on design X."""
    n = x.shape[0]
    c = SIGMA**2 * np.eye(n) + TAU**2 * x @ x.T
    mean = x @ theta0
    c_inv = np.linalg.inv(c)
    return 0.5 * (SIGMA**2 * np.trace(c_inv) - n + mean @ c_inv @ mean + np.linalg.slogdet(c)[1]
                  - n * np.log(SIGMA**2)), c_inv


def test_laplace_bn_equals_closed_form(linear):
    zoo, cov, curve = linear
    x, theta0 = np.asarray(cov["x"]), np.asarray(zoo.true_params["theta"])
    n = np.array([1.0, 10.0, 40.0, 1e3, 1e6])
    bound = regret_bound(curve, n)
    assert bound.method == "laplace-closed-form"
    np.testing.assert_allclose(bound.gibbs, closed_form_bn(x, theta0, n), rtol=1e-8)


def test_expected_regret_below_bn_with_the_exact_gap(linear):
    zoo, cov, curve = linear
    x, theta0 = np.asarray(cov["x"]), np.asarray(zoo.true_params["theta"])
    n = x.shape[0]
    regret, c_inv = expected_regret(x, theta0)
    bn = regret_bound(curve, n).gibbs[0]
    assert regret <= bn
    # DESIGN.md §2: R_n = B_n − ½ tr(I − σ²C⁻¹)
    np.testing.assert_allclose(regret, bn - 0.5 * np.trace(np.eye(n) - SIGMA**2 * c_inv), rtol=1e-8)


def test_ball_bound_is_above_bn(linear):
    _, _, curve = linear
    bound = regret_bound(curve, np.geomspace(1, 1e6, 7))
    assert np.all(bound.ball >= bound.gibbs)
    # the ball bound is within O(d log log) of B_n, not vacuous: Comp(1/n)-like
    assert np.all(bound.ball - bound.gibbs < 10)
    assert np.all(np.diff(bound.t_star) < 0)  # the optimal radius shrinks with n


def test_riemann_bracket_on_a_generic_curve(linear):
    zoo, cov, curve = linear
    x, theta0 = np.asarray(cov["x"]), np.asarray(zoo.true_params["theta"])
    n = np.array([10.0, 1000.0])
    exact = closed_form_bn(x, theta0, n)
    widths = []
    for size in (60, 600):
        t = np.geomspace(1e-12, 1e3, size)
        log_v = gchisq_log_cdf(t, curve.eigenvalues, curve.diagnostics.centers)
        generic = VolumeCurve(t, log_v, np.zeros(size), np.zeros(size), np.zeros(size), method="exact")
        bound = regret_bound(generic, n)
        assert bound.method == "riemann"
        assert np.all(bound.gibbs_lower <= exact) and np.all(exact <= bound.gibbs_upper)
        widths.append(bound.gibbs_upper - bound.gibbs_lower)
    assert np.all(widths[1] < widths[0] / 5)  # the bracket tightens with the grid


def test_spectrum_input_gives_the_same_closed_form(linear):
    zoo, cov, curve = linear
    mc = zoo.model_class
    z0 = mc.flatten(zoo.true_params)
    prior = prior_gaussian(mc, z0)
    spec = fisher_spectrum(mc, zoo.true_params, sqrt_cov=prior.sqrt_cov, project=prior.whiten(z0)[None],
                           **cov)
    n = [5.0, 500.0]
    np.testing.assert_allclose(regret_bound(spec, n).gibbs, regret_bound(curve, n).gibbs, rtol=1e-10)
    np.testing.assert_allclose(
        laplace_gibbs_bound(curve.eigenvalues, curve.diagnostics.centers, n), regret_bound(curve, n).gibbs)


@pytest.mark.parametrize("n", [0.0, -1.0, np.nan])
def test_bad_n(linear, n):
    with pytest.raises(ValueError, match="n must be finite"):
        regret_bound(linear[2], n)
