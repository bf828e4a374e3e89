"""The command line: bad input is one clear line and a non-zero exit; --json is machine-readable."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bayesvol.app.cli import main


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["volume", "--model", "no_such_model"], "unknown model 'no_such_model'"),
        (["spectrum", "--model", "missing_file.py:model"], "model file 'missing_file.py' not found"),
        (["volume", "--model", "bernoulli", "--option", "nonsense"], "must look like KEY=VALUE"),
        (["volume", "--model", "bernoulli", "--option", "bogus=1"], "bad option for model 'bernoulli'"),
        (["volume", "--model", "bernoulli", "--truth", "{not json"], "--truth is not valid JSON"),
        (["volume", "--model", "bernoulli", "--truth", '{"p": 1.5}'], "outside the support"),
        (["volume", "--model", "bernoulli", "--truth", '{"q": 0.5}'], "missing site"),
        (["regret", "--model", "bernoulli", "--seeds", "0"], "--seeds must be a positive integer"),
        (["regret", "--model", "bernoulli", "--n", "10", "-3"], "--n must be positive"),
        (["compare", "--model", "logistic_regression", "--truth", '{"w": [1, 2]}'], "contradicts"),
    ],
)
def test_bad_input_is_one_clear_line(capsys, argv, message) -> None:
    code, _, err = _run(capsys, *argv)
    assert code == 2, err
    assert message in err
    assert len(err.strip().splitlines()) == 1
    assert "Traceback" not in err


def test_model_file_without_the_named_function(capsys, tmp_path: Path) -> None:
    path = tmp_path / "my_model.py"
    path.write_text("def other(x=None):\n    pass\n")
    code, _, err = _run(capsys, "spectrum", "--model", f"{path}:model")
    assert code == 2
    assert "has no function 'model'" in err and "other" in err


def test_unparsable_config(capsys, tmp_path: Path) -> None:
    config = tmp_path / "bad.toml"
    config.write_text("seeds = [unclosed\n")
    code, _, err = _run(capsys, "regret", "--config", str(config))
    assert code == 2 and "not valid TOML" in err


def test_config_with_unknown_key(capsys, tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text("sedes = 3\n")
    code, _, err = _run(capsys, "regret", "--config", str(config))
    assert code == 2 and "unknown option(s) ['sedes']" in err


def test_unwritable_output_folder(capsys, tmp_path: Path) -> None:
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    code, _, err = _run(capsys, "spectrum", "--model", "linear_regression", "--out", str(blocker / "x"))
    assert code == 1
    assert "cannot write to output folder" in err and len(err.strip().splitlines()) == 1


def test_help_lists_every_command(capsys) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    for command in ("run", "volume", "regret", "spectrum", "compare", "models"):
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


def test_user_model_file(capsys, tmp_path: Path) -> None:
    path = tmp_path / "coin.py"
    path.write_text(
        "import numpyro, numpyro.distributions as dist\n"
        "def coin(x=None, n=1):\n"
        "    p = numpyro.sample('p', dist.Beta(2.0, 2.0))\n"
        "    with numpyro.plate('data', n if x is None else x.shape[0]):\n"
        "        numpyro.sample('x', dist.Bernoulli(probs=p), obs=x)\n"
    )
    code, out, err = _run(capsys, "volume", "--model", f"{path}:coin", "--truth", '{"p": 0.4}',
                          "--methods", "laplace", "--json", "--out", str(tmp_path / "out"))
    assert code == 0, err
    rows = json.loads(out)["rows"]
    assert all(row["log_volume_laplace"] <= 0 for row in rows)


def test_usage_error_is_one_line(capsys) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["volume", "--no-such-flag"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "--no-such-flag" in err


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
        assert row["batch_regret_erm"] > row["batch_regret_mixture"]
    for name in ("report.html", "results.json", "regret.nc", "regret.png", "volume.png", "spectrum.png"):
        assert (tmp_path / name).exists(), name


def test_option_on_a_plain_model_file_is_refused(capsys, tmp_path: Path) -> None:
    path = tmp_path / "coin.py"
    path.write_text(
        "import numpyro, numpyro.distributions as dist\n"
        "def coin(x=None, n=1):\n"
        "    p = numpyro.sample('p', dist.Beta(2.0, 2.0))\n"
        "    with numpyro.plate('data', n if x is None else x.shape[0]):\n"
        "        numpyro.sample('x', dist.Bernoulli(probs=p), obs=x)\n"
    )
    code, _, err = _run(capsys, "spectrum", "--model", f"{path}:coin", "--option", "a=2")
    assert code == 2 and "--option applies to zoo models" in err
