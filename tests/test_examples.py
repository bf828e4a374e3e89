"""Every example in ``examples/`` at reduced size (``main(small=True)``), checked against the theory it shows.

Monte Carlo comparisons allow 4 standard errors of the reported estimate (see ``conftest.py``); the
examples' fixed seeds make each run deterministic.
"""

import importlib.util
import warnings
from pathlib import Path

import numpy as np
import pytest

import bayesvol as bv

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def run_example(name, tmp_path):
    """Import ``examples/<name>.py`` (not a package: names start with digits) and run it small."""
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    result = module.main(small=True, out=tmp_path)
    figure = Path(result["figure"])
    assert figure.parent == tmp_path and figure.suffix == ".png" and figure.stat().st_size > 10_000
    return result


def test_all_examples_are_tested():
    names = sorted(p.stem for p in EXAMPLES.glob("[0-9][0-9]_*.py"))
    assert names == ["01_bounds_across_zoo", "02_overparameterization", "03_complexity_range",
                     "04_flat_minima", "05_agnostic_real_data", "06_singular_models", "07_fit_and_diagnose",
                     "08_architectures"]


@pytest.mark.slow
def test_01_regret_below_volume_bounds(tmp_path):
    result = run_example("01_bounds_across_zoo", tmp_path)
    assert (tmp_path / "table.txt").exists()
    assert set(result["models"]) == {"bernoulli", "linear_regression", "logistic_regression"}
    for name, r in result["models"].items():
        # E R_n ≤ B_n: the mean over seeds may exceed the nested estimate of B_n only by noise
        se = np.sqrt(r["R_n_se"] ** 2 + r["B_n_mcmc_se"] ** 2)
        assert np.all(r["R_n_se"] > 0) and np.all(r["B_n_mcmc_se"] > 0), name
        assert np.all(r["R_n"] <= r["B_n_mcmc"] + 4 * se), (name, r["R_n"], r["B_n_mcmc"], se)
        # B_n ≤ min_t [nt + Comp(t)] holds exactly for the Laplace curve's closed-form B_n
        assert np.all(r["B_n_laplace"] <= r["ball_laplace"] + 1e-9), name
        if r["laplace_exact"]:  # linear-Gaussian: the Laplace B_n is exact, so R_n ≤ B_n up to seed noise
            assert np.all(r["R_n"] <= r["B_n_laplace"] + 4 * r["R_n_se"]), name


@pytest.mark.slow
def test_02_regret_tracks_effective_dimension(tmp_path):
    r = run_example("02_overparameterization", tmp_path)
    n, d = r["n"], r["d"]
    assert np.all(r["R_n"] <= r["B_n"] + 4 * r["R_n_se"])  # B_n is exact for this class
    over = d > n
    assert over.any()
    # in the over-parameterized classes only a few directions are resolved, and the regret stays far
    # below the regular rate (d/2) log n
    assert np.all(r["k_eff"][over] < 0.25 * d[over])
    assert np.all(r["R_n"][over] + 4 * r["R_n_se"][over] < 0.25 * d[over] * np.log(n))
    # ERM interpolates once d > n: its excess log loss is orders of magnitude above the mixture's
    assert np.all(r["r_erm"][over] > 100 * r["r_mixture"][over])
    assert np.all(r["r_mixture"][over] < 1.0)


@pytest.mark.slow
def test_03_simple_truths_cost_less(tmp_path):
    r = run_example("03_complexity_range", tmp_path)
    for label, comp in r["complexity"].items():  # (scale, truth)
        assert np.all(np.isfinite(comp)) and np.all(comp >= 0), label  # V ≤ 1
        # every simple truth (s = ¼) is cheaper than every complex one (s = 2)
        assert comp[0].max() < comp[-1].min(), (label, comp)


@pytest.mark.slow
def test_04_small_batches_find_flatter_minima(tmp_path):
    r = run_example("04_flat_minima", tmp_path)
    small, large = r["runs"].values()
    assert small["top_curvature"] < large["top_curvature"]
    for run in (small, large):
        assert run["B_n"] <= run["ball"] + 1e-9  # Gibbs bound ≤ ball bound, exactly
        assert run["k_eff"] < r["dim"]
        assert run["train_loss"] < run["test_loss"] + 0.5


@pytest.mark.slow
def test_05_agnostic_projection_and_losses(tmp_path):
    r = run_example("05_agnostic_real_data", tmp_path)
    assert np.all(np.isfinite(r["theta_star"]))
    # the mixture never assigns zero probability: finite excess loss, shrinking with n
    assert np.all(np.isfinite(r["regret_mixture"]))
    assert r["regret_mixture"][-1] < r["regret_mixture"][0]
    mixture, _ = r["heldout"]["mixture"]
    assert mixture < np.log(2)  # better than a fair coin by a wide margin
    assert np.all(np.diff(r["B_n_hessian"]) > 0)
    # a regular (full-rank) class near θ*: log V ≤ 0 increasing, and k(t) → d as t → 0 (the gχ² CDF is
    # c t^{d/2} (1 + O(t)), so at t = 1e-4 the slope is d to well within 1 %)
    assert np.all(r["log_volume"] <= 0) and np.all(np.diff(r["log_volume"]) >= 0)
    assert r["volume_dim"][0] == pytest.approx(r["dim"], rel=0.01)


@pytest.mark.slow
def test_06_volume_dimension_is_twice_the_learning_coefficient(tmp_path):
    result = run_example("06_singular_models", tmp_path)
    models = result["models"]
    r = models["gaussian_mixture"]
    # k(t) at the second radius is a secant over three decades; its stderr (≈ 0.05 here) is well below
    # the 15 % tolerance, which covers the sub-leading terms of D at t ≈ 1e-5
    k, k_se = r["k_mcmc"][1], r["k_mcmc_se"][1]
    assert k_se < 0.1
    assert abs(k - r["two_lambda"]) <= 0.15 * r["two_lambda"], (k, k_se)
    # Laplace sees one curvature direction: k → 1, and it overestimates V visibly at small t
    assert abs(r["k_laplace"][0] - 1.0) < 0.02
    assert r["log_v_laplace"][0] - r["log_v_mcmc"][0] > 5 * r["log_v_mcmc_se"][0]
    # reduced-rank regression: k at 1e-2 is the secant over 1e-3 … 1e-1 (≈ 6.7 from the log factor of
    # multiplicity 2, stderr ≈ 0.1); Laplace sees the rank-5 Fisher information and overestimates V
    r = models["reduced_rank_regression"]
    assert r["two_lambda"] == 7.0
    k, k_se = r["k_mcmc"][1], r["k_mcmc_se"][1]
    assert k_se < 0.3 and abs(k - 7.0) <= 0.15 * 7.0, (k, k_se)
    assert abs(r["k_laplace"][0] - 5.0) < 0.02
    assert r["log_v_laplace"][0] - r["log_v_mcmc"][0] > 5 * r["log_v_mcmc_se"][0]
    # the λ table (small: the Gaussian mixture and a regular class, 1e-5 ≤ t ≤ 1e-2, 16 live points × 4
    # runs): λ̂ within 4 of its standard errors of the known λ, and the k(t) → 2λ figure written
    rows = {row["model"]: row for row in result["lambda"]}
    assert set(rows) == {"gaussian_mixture", "linear_regression"}
    for row in rows.values():
        assert row["z"] < 4 and row["stderr"] < 0.2 * row["lambda"], row
    assert Path(result["lambda_figure"]).stat().st_size > 10_000


@pytest.mark.slow
def test_07_fit_converges_to_the_known_posterior(tmp_path):
    r = run_example("07_fit_and_diagnose", tmp_path)
    assert (tmp_path / "trace.png").exists() and (tmp_path / "summary.txt").exists()
    assert max(r["rhat"].values()) < 1.02
    assert r["divergences"] <= 0.01 * r["num_draws"]
    # long-run reference posterior means (μ ≈ 4.4, τ ≈ 3.6); the Monte Carlo error at this size is
    # ≈ 0.1 for both (summary.txt, mcse_mean), so 0.6 is 6 standard errors
    assert r["mean"]["mu"] == pytest.approx(4.4, abs=0.6)
    assert r["mean"]["tau"] == pytest.approx(3.6, abs=0.6)


@pytest.mark.slow
def test_08_architectures_equal_counts_and_spectra(tmp_path):
    with warnings.catch_warnings():  # θ* may interpolate the rows: asserted against the table below
        warnings.simplefilter("always", bv.InterpolationWarning)
        r = run_example("08_architectures", tmp_path)
    assert (tmp_path / "table.txt").exists()
    assert [row["architecture"] for row in r["table"]] == ["deep narrow MLP", "shallow wide MLP",
                                                           "random features", "linear"]
    for row in r["table"]:
        assert abs(row["deviation"]) <= 0.05
        # k_eff(n) = Σ nλ/(1+nλ): each resolved direction (nλ > 1) adds more than ½, none more than 1
        assert row["resolved"] / 2 < row["k_eff"] + 1e-12 and row["k_eff"] <= row["d"]
        assert row["complexity_range"] >= 0 and row["B_n"] >= 0
        assert row["interpolates"] == (row["train_log_loss"] < 1e-3)
    widest = max(r["table"], key=lambda row: row["complexity_range"])
    assert r["sentence"].startswith(f"The {widest['architecture']} has the widest complexity range")
    # the character sequence: attention joins; every class but the linear one within 5 % of the target
    assert (tmp_path / "architectures_sequence.png").stat().st_size > 10_000
    assert [row["architecture"] for row in r["sequence_table"]] == [
        "one-head attention", "deep narrow MLP", "shallow wide MLP", "random features", "linear"]
    k = r["sequence_vocab"]
    for row in r["sequence_table"]:
        if row["architecture"] == "linear":  # multinomial logistic on the one-hot context of 4 tokens
            assert row["d"] == (4 * k + 1) * k
        else:
            assert abs(row["deviation"]) <= 0.05 and row["d"] == pytest.approx(r["sequence_target"], rel=0.05)
        assert row["resolved"] / 2 < row["k_eff"] + 1e-12 and row["k_eff"] <= row["d"]
        assert row["complexity_range"] >= 0 and row["B_n"] >= 0
        assert row["interpolates"] == (row["train_log_loss"] < 1e-3)
    widest = max(r["sequence_table"], key=lambda row: row["complexity_range"])
    assert r["sequence_sentence"].startswith(f"The {widest['architecture']} has the widest complexity range")
