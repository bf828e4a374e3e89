"""The command line: results, files a person can trust (provenance, manifest, atomic, per seed), warnings.

Bad input is tested in tests/test_cli_bad_input.py, the README's commands in tests/test_cli_readme.py.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from conftest import assert_within_se

from bayesvol.app.cli import main


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_help_lists_every_command(capsys) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    for command in ("run", "volume", "regret", "spectrum", "compare", "sequence", "lambda", "sweep",
                    "models"):
        assert command in out


def test_models_json(capsys) -> None:
    code, out, _ = _run(capsys, "models", "--json")
    assert code == 0
    names = {row["model"] for row in json.loads(out)["models"]}
    assert {"bernoulli", "polynomial_regression", "reduced_rank_regression", "attention"} <= names


def test_spectrum_json_and_files(capsys, tmp_path: Path) -> None:
    """The effective dimension of the linear class printed by the CLI equals Σ nλ/(1+nλ) by hand."""
    import jax
    import numpy as np

    import bayesvol_zoo as models

    code, out, err = _run(capsys, "spectrum", "--model", "linear_regression", "--option", "d=3",
                          "--m", "50", "--n", "10", "--json", "--out", str(tmp_path))
    assert code == 0, err
    result = json.loads(out)
    zoo = models.linear_regression(d=3)
    x = zoo.sample_covariates(jax.random.PRNGKey(0), 50)["x"]
    lam = np.linalg.eigvalsh(np.asarray(x.T @ x) / 50 * zoo.options["tau"] ** 2 / zoo.options["sigma"] ** 2)
    np.testing.assert_allclose(result["effective_dim"]["10"], np.sum(10 * lam / (1 + 10 * lam)), rtol=1e-8)
    assert (tmp_path / "report.html").exists() and (tmp_path / "results.json").exists()


def test_user_model_file_volume_matches_the_exact_beta_volume(capsys, tmp_path: Path) -> None:
    """A Bernoulli model file with a Beta(2, 2) prior: the KL ball {p : KL(p0‖p) ≤ t} is an interval
    [lo, hi], so V(t) = F(hi) − F(lo) with F the Beta(2, 2) distribution function. The nested estimate
    printed by the CLI must lie within 4 of its reported standard errors of log V(t) at every t."""
    from scipy import optimize, stats

    path = tmp_path / "coin.py"
    path.write_text(
        "import numpyro, numpyro.distributions as dist\n"
        "def coin(x=None, n=1):\n"
        "    p = numpyro.sample('p', dist.Beta(2.0, 2.0))\n"
        "    with numpyro.plate('data', n if x is None else x.shape[0]):\n"
        "        numpyro.sample('x', dist.Bernoulli(probs=p), obs=x)\n"
    )
    code, out, err = _run(capsys, "volume", "--model", f"{path}:coin", "--truth", '{"p": 0.4}',
                          "--budget", "32", "--json", "--out", str(tmp_path / "out"))
    assert code == 0, err
    p0 = 0.4

    def kl(p: float) -> float:
        return p0 * np.log(p0 / p) + (1 - p0) * np.log((1 - p0) / (1 - p))

    rows = json.loads(out)["rows"]
    checked = 0
    for row in rows:
        t = row["eps2"]
        lo = optimize.brentq(lambda p, t=t: kl(p) - t, 1e-300, p0)
        hi = optimize.brentq(lambda p, t=t: kl(p) - t, p0, 1 - 1e-16)
        exact = np.log(stats.beta.cdf(hi, 2, 2) - stats.beta.cdf(lo, 2, 2))
        assert_within_se(row["log_volume_nested"], row["stderr_nested"], exact)  # 4 s.e., positive s.e.
        checked += 1
    assert checked == len(rows) >= 40
    # the λ fit of the nested curve (regular, d = 1: λ = ½) is part of the volume command's output
    fit = json.loads(out)["learning_coefficient_fit"]
    assert_within_se(fit["learning_coefficient"], fit["stderr"], 0.5)
    assert fit["asymptotic"] and fit["window"][0] == pytest.approx(1e-4)


@pytest.mark.slow
def test_default_experiment_small(capsys, tmp_path: Path) -> None:
    """`bayesvol run` at reduced size: the mixture's regret sits below both volume bounds (nats), the
    Laplace B_n (exact here: D is quadratic) lies below the ball bound, k_eff ≪ d, and ERM loses."""
    code, out, err = _run(capsys, "run", "--n", "5", "20", "--seeds", "3", "--budget", "32", "--json",
                          "--out", str(tmp_path))
    assert code == 0, err
    result = json.loads(out)
    for row in result["rows"]:
        bound = row["B_n_laplace"]
        # E R_n ≤ B_n: the seed mean may not exceed the bound by more than 3 standard errors
        assert row["online_regret_mixture"] <= bound + 3 * row["online_regret_mixture_se"]
        assert bound <= row["ball_bound_laplace"] + 1e-9
        assert row["B_n_mcmc"] <= row["ball_bound_mcmc"] + 1e-9
        assert row["effective_dim"] < 0.25 * result["dim"]
        assert row["batch_regret_erm_min_norm"] > row["batch_regret_mixture"]
        assert row["batch_regret_erm_gd"] > row["batch_regret_mixture"]
    for name in ("report.html", "results.json", "regret.nc", "regret.png", "volume.png", "spectrum.png",
                 "regret_seed0.nc", "regret_seed2.nc", "manifest.json"):
        assert (tmp_path / name).exists(), name
    _assert_provenance(tmp_path, "run", seed=0)
    # each seed's file holds that seed's numbers, the same as the combined file
    import xarray as xr

    with xr.open_dataset(tmp_path / "regret.nc", engine="h5netcdf") as combined, \
            xr.open_dataset(tmp_path / "regret_seed2.nc", engine="h5netcdf") as one:
        assert int(one.attrs["seed"]) == 2
        np.testing.assert_array_equal(one["online_regret"].values,
                                      combined["online_regret"].sel(seed=2).values)
        np.testing.assert_array_equal(one["regret"].values, combined["regret"].sel(seed=2).values)


def _assert_provenance(out: Path, command: str, seed: int) -> None:
    """Every file records the command, the options and the seed; the manifest lists them and is complete."""
    import xarray as xr

    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "complete" and manifest["subcommand"] == command
    assert manifest["command"].startswith(f"bayesvol {command}") and manifest["seed"] == seed
    assert sorted(manifest["files"]) == sorted(p.name for p in out.iterdir() if p.name != "manifest.json")
    results = json.loads((out / "results.json").read_text())
    assert results["provenance"]["command"] == manifest["command"]
    assert results["provenance"]["options"] == manifest["options"]
    assert results["provenance"]["seed"] == seed
    assert f"<code>{manifest['command']}</code>; seed {seed}" in (out / "report.html").read_text()
    for nc in out.glob("*.nc"):
        with xr.open_dataset(nc, engine="h5netcdf") as ds:
            assert ds.attrs["bayesvol_command"] == manifest["command"], nc
            assert int(ds.attrs["bayesvol_seed"]) == seed
            assert json.loads(ds.attrs["bayesvol_options"]) == manifest["options"]
    from PIL import Image

    for png in out.glob("*.png"):
        with Image.open(png) as image:
            assert json.loads(image.text["Description"])["command"] == manifest["command"], png
    assert not list(out.glob(".*tmp*")), "a temporary file was left behind"


_SPECTRUM = ("spectrum", "--model", "linear_regression", "--option", "d=3", "--m", "50", "--n", "10")


def test_same_command_overwrites_a_different_one_is_refused_unless_overwrite(capsys, tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert _run(capsys, "volume", "--model", "bernoulli", "--methods", "laplace", "--out", str(out))[0] == 0
    assert (out / "volume_laplace.nc").exists()
    _assert_provenance(out, "volume", seed=0)
    # a different run into the same folder: refused, nothing touched
    before = {p.name: p.stat().st_mtime_ns for p in out.iterdir()}
    code, _, err = _run(capsys, *_SPECTRUM, "--out", str(out))
    assert code == 2 and "holds the results of a different run" in err and "--overwrite" in err
    assert {p.name: p.stat().st_mtime_ns for p in out.iterdir()} == before
    # the same folder with a different seed is a different run too
    code, _, err = _run(capsys, "volume", "--model", "bernoulli", "--methods", "laplace", "--seed", "1",
                        "--out", str(out))
    assert code == 2 and "different run" in err
    # --overwrite: the earlier run's files go, the new run's come
    code, _, err = _run(capsys, *_SPECTRUM, "--out", str(out), "--overwrite")
    assert code == 0, err
    assert not (out / "volume_laplace.nc").exists() and not (out / "volume.png").exists()
    _assert_provenance(out, "spectrum", seed=0)
    # the same command again simply overwrites
    code, _, err = _run(capsys, *_SPECTRUM, "--out", str(out))
    assert code == 0, err
    _assert_provenance(out, "spectrum", seed=0)


def test_interrupt_keeps_the_finished_seeds_and_says_so(capsys, tmp_path: Path, monkeypatch) -> None:
    """Ctrl-C after the second seed: both seeds' regret files are kept whole, INTERRUPTED says what is
    complete and what is not, the message names the kept files, the exit code is 130."""
    from bayesvol.app.report import Report

    add_dataset = Report.add_dataset

    def interrupt_after_seed_1(self, name, dataset):
        path = add_dataset(self, name, dataset)
        if name == "regret_seed1":
            raise KeyboardInterrupt
        return path

    monkeypatch.setattr(Report, "add_dataset", interrupt_after_seed_1)
    out = tmp_path / "out"
    code, _, err = _run(capsys, "regret", "--model", "bernoulli", "--n", "5", "10", "--seeds", "4",
                        "--predictors", "mixture", "--budget", "16", "--m", "20", "--out", str(out))
    assert code == 130
    assert len(err.strip().splitlines()) == 1 and "regret_seed0.nc, regret_seed1.nc" in err
    assert "INTERRUPTED" in err
    marker = (out / "INTERRUPTED").read_text()
    assert ("complete (each file whole, written atomically): volume_laplace.nc, volume_nested.nc, "
            "regret_seed0.nc, regret_seed1.nc") in marker
    assert "regret_seed2.nc, regret_seed3.nc, regret.nc" in marker.splitlines()[-1]
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "interrupted"
    assert manifest["files"] == ["volume_laplace.nc", "volume_nested.nc", "regret_seed0.nc",
                                 "regret_seed1.nc", "INTERRUPTED"]
    # the same command again resumes: seeds 0 and 1 and the nested volume curve are reused, seeds 2 and 3
    # computed, and the result is the uninterrupted run's
    monkeypatch.setattr(Report, "add_dataset", add_dataset)
    import bayesvol.regret.regret as regret_module

    computed = []
    real_curve = regret_module.regret_curve

    def spy(mc, truth, ns, seeds, *args, **kwargs):
        computed.append(list(seeds))
        return real_curve(mc, truth, ns, seeds, *args, **kwargs)

    monkeypatch.setattr(regret_module, "regret_curve", spy)
    nested_before = (out / "volume_nested.nc").stat().st_mtime_ns
    argv = ["regret", "--model", "bernoulli", "--n", "5", "10", "--seeds", "4", "--predictors", "mixture",
            "--budget", "16", "--m", "20"]
    code, _, err = _run(capsys, *argv, "--out", str(out))
    assert code == 0, err
    assert computed == [[2, 3]]
    assert not (out / "INTERRUPTED").exists()
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "complete" and "regret_seed0.nc" in manifest["files"]
    assert (out / "volume_nested.nc").stat().st_mtime_ns >= nested_before  # rewritten with the same numbers
    _assert_provenance(out, "regret", seed=0)
    whole = tmp_path / "whole"
    code, _, err = _run(capsys, *argv, "--out", str(whole))
    assert code == 0, err
    assert computed[-1] == [0, 1, 2, 3]
    with xr.open_dataset(out / "regret.nc") as resumed, xr.open_dataset(whole / "regret.nc") as fresh:
        names = [v for v in fresh.data_vars]
        assert sorted(resumed.data_vars) == sorted(names)
        for name in names:  # bit for bit
            np.testing.assert_array_equal(resumed[name].values, fresh[name].values, err_msg=name)
    # a run killed outright (SIGKILL: the manifest still says running, no INTERRUPTED) resumes too
    manifest = json.loads((whole / "manifest.json").read_text())
    (whole / "manifest.json").write_text(json.dumps({**manifest, "status": "running"}))
    (whole / "regret_seed3.nc").unlink()
    code, _, err = _run(capsys, *argv, "--out", str(whole))
    assert code == 0, err
    assert computed[-1] == [3]


def test_warnings_are_one_line_each_and_once(capsys, tmp_path: Path, monkeypatch) -> None:
    import warnings

    from bayesvol.app import experiments
    from bayesvol.errors import BayesvolWarning

    def noisy(zoo, options):
        for _ in range(3):
            warnings.warn("the chains disagree\n(see the trace plot)", BayesvolWarning, stacklevel=1)
        warnings.warn("something else", UserWarning, stacklevel=1)
        return {"ok": True}

    monkeypatch.setitem(experiments.COMMANDS, "spectrum", noisy)
    shown = warnings.showwarning
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        code, _, err = _run(capsys, *_SPECTRUM, "--out", str(tmp_path / "out"))
    assert code == 0
    assert err.strip().splitlines() == [
        "bayesvol: warning: BayesvolWarning: the chains disagree (see the trace plot)",
        "bayesvol: warning: UserWarning: something else",
    ]
    assert warnings.showwarning is shown  # main() restores what it replaced


@pytest.mark.parametrize(("name", "task", "features", "classes"), [
    ("breast_cancer", "binary", 30, 2), ("wine", "multiclass", 13, 3), ("iris", "multiclass", 4, 3),
    ("digits", "multiclass", 64, 10), ("diabetes", "regression", 10, None)])
def test_load_data(name, task, features, classes) -> None:
    from bayesvol.app.experiments import load_data

    data = load_data(name)
    assert (data.task, data.x.shape[1], data.num_classes) == (task, features, classes)
    assert np.all(np.isfinite(data.x)) and np.allclose(data.x.mean(0), 0, atol=1e-9)


def test_compare_takes_the_dimension_from_the_data(capsys, tmp_path: Path, monkeypatch) -> None:
    """logistic_regression on breast_cancer has 30 weights; mlp_classification on iris (from a config
    file) 4 inputs and 3 classes; both run and name their data set."""
    monkeypatch.setenv("BAYESVOL_QUICK", "1")
    code, out, err = _run(capsys, "compare", "--model", "logistic_regression", "--data", "breast_cancer",
                          "--predictors", "map", "--json", "--out", str(tmp_path / "a"))
    assert code == 0, err
    result = json.loads(out)
    assert result["data"] == "breast_cancer" and np.isfinite(result["rows"][0]["heldout_log_loss"])
    manifest = json.loads((tmp_path / "a" / "manifest.json").read_text())
    assert manifest["options"]["data"] == "breast_cancer" and manifest["quick"] is True
    config = tmp_path / "c.toml"
    config.write_text('model = "mlp_classification"\ndata = "iris"\npredictors = ["map"]\n'
                      "option = {widths = [4]}\n")
    code, out, err = _run(capsys, "compare", "--config", str(config), "--out", str(tmp_path / "b"))
    assert code == 0, err
    assert "mlp_classification on iris (60 rows, 4 features)" in out


def _writes_then(exc: BaseException):
    """A stand-in command that writes one file of its report, then fails with ``exc``."""
    from bayesvol.app import experiments

    def command(zoo, options):
        report = experiments._report(options, "test")
        report.add_results(partial=True)
        raise exc

    return command


def test_a_failure_exits_1_and_marks_what_is_complete(capsys, tmp_path: Path, monkeypatch) -> None:
    from bayesvol.app import experiments

    monkeypatch.setitem(experiments.COMMANDS, "spectrum", _writes_then(RuntimeError("the solver diverged")))
    out = tmp_path / "out"
    code, _, err = _run(capsys, *_SPECTRUM, "--out", str(out))
    assert code == 1
    assert err.strip().splitlines() == [
        f"bayesvol: error: RuntimeError: the solver diverged; kept in {str(out)!r}: results.json "
        f"(see {str(out / 'INTERRUPTED')!r})"]
    marker = (out / "INTERRUPTED").read_text().splitlines()
    assert marker[0] == "bayesvol stopped: RuntimeError: the solver diverged"
    assert marker[2].endswith(": results.json") and marker[3].endswith(": report.html")


def test_a_bad_input_found_late_leaves_no_folder(capsys, tmp_path: Path, monkeypatch) -> None:
    from bayesvol.app import experiments
    from bayesvol.errors import InputError

    late = _writes_then(InputError("data has the wrong shape"))
    monkeypatch.setitem(experiments.COMMANDS, "spectrum", late)
    out = tmp_path / "out"
    code, _, err = _run(capsys, *_SPECTRUM, "--out", str(out))
    assert code == 2 and err == "bayesvol: error: data has the wrong shape\n"
    assert not out.exists()


def test_sequence_on_stdlib_text(capsys, tmp_path: Path, monkeypatch) -> None:
    """`bayesvol sequence`: exact Markov mixtures on the interpreter's own text; the order mixture meets its
    bound against every order, and the plug-ins' infinite code lengths are counted."""
    from bayesvol.app.text_data import stdlib_text
    from bayesvol.regret.sequences import markov_log_mixture, order_prior

    monkeypatch.setenv("BAYESVOL_QUICK", "1")
    code, out, err = _run(capsys, "sequence", "--order", "3", "--n", "500", "3000", "--json",
                          "--out", str(tmp_path / "s"))
    assert code == 0, err
    result = json.loads(out)
    rows = {r["predictor"]: r for r in result["rows"]}
    symbols = stdlib_text().symbols[:result["symbols"]]
    prior = order_prior(3)
    for k in range(4):  # the table's Bayes codes are the closed forms; the mixture is within log₂ 1/π_k
        exact_bits = -markov_log_mixture(symbols[:3000], k, num_symbols=result["alphabet"]) / np.log(2)
        assert abs(rows[f"bayes order {k}"]["bits"] - exact_bits) < 1e-6
        assert rows["mixture over orders"]["bits"] <= exact_bits - np.log2(prior[k]) + 1e-9
        assert rows[f"plug-in order {k}"]["bits"] == "inf" and rows[f"plug-in order {k}"]["infinite"] > 0
    assert (tmp_path / "s" / "code_lengths.nc").exists() and (tmp_path / "s" / "code_lengths.png").exists()


def test_load_data_stdlib_text() -> None:
    from bayesvol.app.experiments import load_data

    data = load_data("python-stdlib-text")
    assert data.task == "sequence" and data.symbols.size == 200_000 and data.split == 160_000
    assert data.num_symbols == len(data.alphabet) and data.symbols.max() == data.num_symbols - 1
@pytest.mark.slow
def test_lambda_table_quick(capsys, tmp_path: Path, monkeypatch) -> None:
    """`bayesvol lambda` under BAYESVOL_QUICK: the Gaussian mixture's row (λ = 3/4), within 4 s.e."""
    monkeypatch.setenv("BAYESVOL_QUICK", "1")
    code, out, err = _run(capsys, "lambda", "--json", "--out", str(tmp_path / "lam"))
    assert code == 0, err
    (row,) = json.loads(out)["rows"]
    assert row["model"] == "gaussian_mixture" and row["lambda"] == 0.75 and row["m"] == 1
    assert_within_se(row["lambda_hat"], row["stderr"], 0.75)
    assert row["evaluations"] > 0 and row["seconds"] > 0
    assert (tmp_path / "lam" / "volume_dimension.png").exists()
