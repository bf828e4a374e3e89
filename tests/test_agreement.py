import types
import warnings

import jax
import numpy as np
import pytest

import bayesvol as bv
import bayesvol_zoo as models
from bayesvol.errors import InputError
from bayesvol.volume.agreement import CurvesDisagreeWarning, curve_agreement
from bayesvol.volume.curve import VolumeCurve
from bayesvol.volume.laplace import LaplaceInfo


def _laplace(t, log_v, k, prior_gaussian=True, curvature_exact=True):
    info = LaplaceInfo(np.zeros(1), 0.0, prior_gaussian, "dense", curvature_exact, 2, {})
    return VolumeCurve(t, log_v, np.zeros_like(t), k, np.zeros_like(t), "laplace", None, info)


def _sampled(t, log_v, se, k, k_se, inflation=None, runs=4):
    info = types.SimpleNamespace(variance_inflation=inflation, num_runs=runs)
    return VolumeCurve(t, log_v, se, k, k_se, "nested", None, info)


T = np.array([1e-6, 1e-4, 1e-2, 1.0])


def test_agreement_within_max_tol_and_z_se():
    lap = _laplace(T, np.array([-20.0, -14.0, -8.0, -2.0]), np.full(4, 2.0))
    # gaps 0.4 (< tol 0.5), 0.9 (< 3 × 0.35), 0.0, −0.2
    smp = _sampled(T, np.array([-19.6, -13.1, -8.0, -2.2]), np.array([0.1, 0.35, 0.1, 0.1]), np.full(4, 2.0),
                   np.full(4, 0.05))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = curve_agreement(lap, smp)
    assert list(out.cause) == ["agree"] * 4 and out.agree_down_to == 1e-6
    assert "agree within" in out.summary


def test_causes_are_named_from_the_evidence():
    lap = _laplace(T, np.array([-20.0, -14.0, -8.0, -2.0]), np.full(4, 2.0), prior_gaussian=False)
    # t = 1e-6: k departs (1.5 vs 2, s.e. 0.05) → singular; 1e-4: runs disagree → mixing;
    # 1e-2: k agrees, prior not Gaussian → prior; 1: agrees
    smp = _sampled(T, np.array([-17.0, -16.0, -9.5, -2.1]), np.full(4, 0.1),
                   np.array([1.5, 2.0, 2.02, 2.0]), np.full(4, 0.05),
                   inflation=np.array([1.0, 50.0, 1.0, 1.0]))
    with pytest.warns(CurvesDisagreeWarning, match="singular at 1 radii") as record:
        out = curve_agreement(lap, smp)
    assert list(out.cause) == ["singular", "mixing", "prior", "agree"]
    assert out.agree_down_to == 1.0
    text = str(record[0].message)
    assert "mixing at 1 radii" in text and "prior at 1 radii" in text and "k̂ = 1.50 vs 2.00" in text
    ds = out.to_xarray()
    assert list(ds.cause.values) == list(out.cause) and ds.attrs["agree_down_to"] == 1.0


def test_unexplained_and_unreached():
    lap = _laplace(T, np.array([-20.0, -14.0, -8.0, -2.0]), np.full(4, 2.0))
    smp = _sampled(T, np.array([np.nan, -12.0, -8.0, -2.0]), np.full(4, 0.1), np.full(4, 2.0),
                   np.full(4, 0.05))
    with pytest.warns(CurvesDisagreeWarning, match="unexplained"):
        out = curve_agreement(lap, smp)
    assert list(out.cause) == ["unreached", "unexplained", "agree", "agree"]
    assert out.agree_down_to == 1e-2


def test_bad_input():
    lap = _laplace(T, np.zeros(4), np.full(4, 2.0))
    smp = _sampled(T[:3], np.zeros(3), np.zeros(3), np.zeros(3), np.zeros(3))
    with pytest.raises(InputError, match="share their eps2 grid"):
        curve_agreement(lap, smp)
    with pytest.raises(InputError, match=r"bv\.laplace_volume"):
        curve_agreement(_sampled(T, np.zeros(4), np.zeros(4), np.zeros(4), np.zeros(4)), lap)
    with pytest.raises(InputError, match="tol must be"):
        curve_agreement(lap, _sampled(T, np.zeros(4), np.zeros(4), np.zeros(4), np.zeros(4)), tol=-1.0)


def test_linear_gaussian_curves_agree_everywhere():
    zoo = models.linear_regression(d=4)
    x = zoo.sample_covariates(jax.random.PRNGKey(1), 20)["x"]
    eps2 = np.geomspace(1e-4, 1.0, 5)
    lap = bv.laplace_volume(zoo.model_class, zoo.true_params, eps2, x=x)
    smp = bv.sampled_volume(zoo.model_class, zoo.true_params, eps2, key=jax.random.PRNGKey(0), x=x,
                            num_live=32, num_runs=4, num_steps=5)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = curve_agreement(lap, smp)
    assert set(out.cause) == {"agree"}, out.summary

# the singular case (the Gaussian mixture, named 'singular') is checked on test_nested's own run


def test_gap_carried_down_from_where_k_departed():
    # k̂ departs at t = 1 (3.0 vs 2.0, s.e. 0.1): the gap it opens (−1.2) is carried down to 1e-2 and 1e-4,
    # where k agrees again: still 'singular', not 'unexplained'; at 1e-6 the curves and k agree: the stretch
    # ends there, so a later gap would need its own evidence
    lap = _laplace(T, np.array([-20.0, -14.0, -8.0, -2.0]), np.full(4, 2.0))
    smp = _sampled(T, np.array([-20.3, -15.2, -9.2, -3.2]), np.full(4, 0.1),
                   np.array([2.0, 2.0, 2.0, 3.0]), np.full(4, 0.1))
    with pytest.warns(CurvesDisagreeWarning, match="carried down"):
        out = curve_agreement(lap, smp)
    assert list(out.cause) == ["agree", "singular", "singular", "singular"]
    # the same gaps without the departure above are unexplained
    smp = _sampled(T, np.array([-20.3, -15.2, -9.2, -3.2]), np.full(4, 0.1), np.full(4, 2.0), np.full(4, 0.1))
    with pytest.warns(CurvesDisagreeWarning, match="unexplained"):
        out = curve_agreement(lap, smp)
    assert list(out.cause) == ["agree", "unexplained", "unexplained", "unexplained"]
