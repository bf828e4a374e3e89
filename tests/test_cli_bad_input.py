"""Bad command-line input: exit code 2, one line `bayesvol: error: ...` naming the option or value at fault,
and no file or folder created (everything is checked before the output folder is made)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from bayesvol.app.cli import main

_COIN = (
    "import numpyro, numpyro.distributions as dist\n"
    "def coin(x=None, n=1):\n"
    "    p = numpyro.sample('p', dist.Beta(2.0, 2.0))\n"
    "    with numpyro.plate('data', n if x is None else x.shape[0]):\n"
    "        numpyro.sample('x', dist.Bernoulli(probs=p), obs=x)\n"
)

_FILES: dict[str, str] = {
    "coin.py": _COIN,
    "other.py": "def other(x=None):\n    pass\n",
    "broken.py": "def model(x=None:\n",
    "raises.py": "def model(x=None, n=1):\n    return 1 / 0\n",
    "no_obs.py": "import numpyro, numpyro.distributions as dist\n"
                 "def model(n=1):\n    numpyro.sample('p', dist.Beta(1.0, 1.0))\n",
    "not_callable.py": "model = 3\n",
    "bad_covariates.py": _COIN.replace(
        "def coin", "def covariates(key, m):\n    raise RuntimeError('no rows')\ndef coin"),
    "model.txt": "not python\n",
    "bad.toml": "seeds = [unclosed\n",
    "unknown.toml": "sedes = 3\n",
    "seeds0.toml": "seeds = 0\n",
    "budget.toml": "budget = 8\n",
    "option3.toml": "option = 3\n",
    "truthlist.toml": "truth = [0.3]\n",
    "jsonyes.toml": "json = \"yes\"\n",
    "nneg.toml": "n = [10, -1]\n",
    "data.toml": "data = \"nosuch\"\n",
    "projection.toml": "projection = \"mle\"\n",
    "labels.toml": "labels = [\"data\", \"truth\"]\n",
    "model3.toml": "model = 3\n",
    "both.toml": "option = {a = 1}\nmodel_options = {a = 2}\n",
    "a_file": "",
    # study files of `bayesvol sweep`
    "study_unknown.toml": "command = \"volume\"\ngridd = {m = [10]}\n",
    "study_both.toml": "command = \"volume\"\nfunction = \"a.py:f\"\n[grid]\nm = [10]\n",
    "study_nogrid.toml": "command = \"volume\"\n",
    "study_command.toml": "command = \"nosuch\"\n[grid]\nm = [10]\n",
    "study_out.toml": "command = \"volume\"\n[grid]\nout = [\"x\"]\n",
    "study_model.toml": "command = \"volume\"\n[grid]\nmodel = [\"nosuch\"]\n",
    "study_budget.toml": "command = \"volume\"\n[grid]\nbudget = [10]\n",
    "study_function.toml": "function = \"missing_cells.py:f\"\n[grid]\nx = [1]\n",
    "study_axis.toml": "command = \"volume\"\n[grid]\nm = []\n",
    "study_workers.toml": "command = \"volume\"\nworkers = 0\n[grid]\nm = [10]\n",
    "study_seed.toml": "command = \"volume\"\nseed = -1\n[grid]\nm = [10]\n",
    "study.toml": "command = \"volume\"\nout = \"study_out\"\n[grid]\nm = [10]\n",
}


def _write_files(root: Path) -> None:
    for name, text in _FILES.items():
        (root / name).write_text(text)
    np.savez(root / "no_y.npz", x=np.zeros((10, 2)))
    np.savez(root / "ragged.npz", x=np.zeros((10, 2)), y=np.zeros(9))
    other_run = root / "other_run"
    other_run.mkdir()
    (other_run / "manifest.json").write_text(json.dumps(
        {"command": "bayesvol volume --model bernoulli", "subcommand": "volume", "options": {}, "seed": 0,
         "version": "0.0.0", "run": "x", "status": "complete", "files": ["results.json"]}))
    (other_run / "results.json").write_text("{}")
    no_manifest = root / "no_manifest"
    no_manifest.mkdir()
    (no_manifest / "results.json").write_text("{}")


T = "{tmp}"
CASES: list[tuple[list[str], str]] = [
    # the parser: unknown options, commands, types
    (["volume", "--no-such-flag"], "--no-such-flag"),
    (["nosuch"], "'nosuch'"),
    (["volume", "--seed", "x"], "--seed"),
    (["volume", "--seed", "-1"], "--seed must be an integer in [0, 2^32 − 1], got -1"),
    (["volume", "--seed", "5000000000"], "--seed"),
    (["--seed", "x"], "--seed"),
    (["regret", "--seeds", "0"], "--seeds must be a positive integer, got 0"),
    (["regret", "--seeds", "two"], "--seeds"),
    (["regret", "--n", "10", "-3"], "--n must be positive integers"),
    (["regret", "--n"], "--n"),
    (["regret", "--n", "0"], "--n"),
    (["regret", "--n", "1.5"], "--n"),
    (["volume", "--m", "0"], "--m must be a positive integer"),
    (["volume", "--budget", "10"], "--budget must be an integer ≥ 8 and a multiple of 4, got 10"),
    (["volume", "--budget", "4"], "--budget"),
    (["regret", "--predictors", "nosuch"], "unknown predictor(s) ['nosuch']"),
    (["regret", "--predictors", "mixture", "mixture"], "--predictors names a predictor twice"),
    (["volume", "--methods", "mcmc"], "unknown method(s) ['mcmc']"),
    (["volume", "--methods"], "--methods"),
    (["lambda", "--budget", "10"], "--budget must be an integer ≥ 8 and a multiple of 4, got 10"),
    (["lambda", "--model", "bernoulli"], "--model is not an option of `bayesvol lambda`"),
    (["lambda", "--option", "rank=1"], "--option is not an option of `bayesvol lambda`"),
    (["lambda", "--n", "10"], "--n is not an option of `bayesvol lambda`"),
    (["volume", "--model", "normal_crossing", "--option", "powers=[1, 0]"], "powers must be integers ≥ 1"),
    (["volume", "--model", "deep_linear_network", "--option", "widths=[3, 2]"],
     "widths must hold ≥ 3 positive integers"),
    (["volume", "--model", "deep_linear_network", "--option", "rank=3"], "rank must be an integer in [0, 2]"),
    # options a command does not use
    (["spectrum", "--predictors", "nosuch"], "--predictors is not an option of `bayesvol spectrum`"),
    (["spectrum", "--budget", "8"], "--budget is not an option of `bayesvol spectrum`; it is taken by: run"),
    (["spectrum", "--seeds", "2"], "--seeds is not an option of `bayesvol spectrum`"),
    (["volume", "--n", "10"], "--n is not an option of `bayesvol volume`"),
    (["spectrum", "--data", "iris"],
     "--data is not an option of `bayesvol spectrum`; it is taken by: compare, sequence, volume"),
    (["run", "--model", "bernoulli"], "bayesvol regret --model"),
    (["run", "--predictors", "map"], "--predictors is not an option of `bayesvol run`"),
    (["run", "--option", "degree=3"], "--option is not an option of `bayesvol run`"),
    (["run", "--methods", "laplace"], "--methods is not an option of `bayesvol run`"),
    (["models", "--seed", "3"], "--seed is not an option of `bayesvol models`"),
    (["models", "--out", "x"], "--out is not an option of `bayesvol models`"),
    (["compare", "--truth", '{"w": [1, 2]}'], "--truth contradicts it"),
    (["compare", "--n", "10"], "--n is not an option of `bayesvol compare`"),
    (["compare", "--m", "10"], "--m is not an option of `bayesvol compare`"),
    # the model
    (["volume", "--model", "no_such_model"], "unknown model 'no_such_model'"),
    (["spectrum", "--model", "missing_file.py:model"], "model file 'missing_file.py' not found"),
    (["spectrum", "--model", f"{T}/other.py:model"], "has no function 'model'; it defines ['other']"),
    (["spectrum", "--model", f"{T}/broken.py:model"], "broken.py' failed: SyntaxError"),
    (["spectrum", "--model", f"{T}/raises.py:model"],
     "model() in '{tmp}/raises.py' raised ZeroDivisionError"),
    (["spectrum", "--model", f"{T}/no_obs.py:model"], "no observed site"),
    (["spectrum", "--model", f"{T}/not_callable.py:model"], "'model' in '{tmp}/not_callable.py' is not"),
    (["spectrum", "--model", f"{T}/model.txt:model"], "is not a Python file"),
    (["spectrum", "--model", f"{T}/bad_covariates.py:coin"], "covariates(key, m) in"),
    (["spectrum", "--model", f"{T}/coin.py:coin", "--option", "a=2"], "--option applies to zoo models"),
    # zoo options
    (["volume", "--model", "bernoulli", "--option", "nonsense"],
     "--option 'nonsense' must look like KEY=VALUE"),
    (["volume", "--model", "bernoulli", "--option", "=3"], "--option '=3' must look like KEY=VALUE"),
    (["volume", "--model", "bernoulli", "--option", "bogus=1"], "--option bogus: model 'bernoulli' has no "
                                                                "option 'bogus'; its options: a, b, p0"),
    (["volume", "--model", "polynomial_regression", "--option", "degree=-3"],
     "--option degree=-3: degree must be an integer ≥ 0, got -3"),
    (["volume", "--model", "polynomial_regression", "--option", "degree=2.5"], "--option degree=2.5"),
    (["volume", "--model", "bernoulli", "--option", "p0=1.5"],
     "--option p0=1.5: p0 must be a number > 0 and < 1"),
    (["volume", "--model", "bernoulli", "--option", "a=0"], "--option a=0: a must be a number > 0"),
    (["volume", "--model", "bernoulli", "--option", "a=x"], "--option a=\"x\""),
    (["volume", "--model", "linear_regression", "--option", "sigma=-1"], "--option sigma=-1"),
    (["volume", "--model", "mlp_regression", "--option", "widths=[0]"], "--option widths=[0]"),
    (["volume", "--model", "mlp_regression", "--option", "task=nonsense"], "--option task=\"nonsense\""),
    (["volume", "--model", "reduced_rank_regression", "--option", "rank=5"],
     "rank must be an integer in [0, 2]"),
    (["volume", "--model", "categorical", "--option", "k=1"], "--option k=1: k must be an integer ≥ 2"),
    # the truth
    (["volume", "--model", "bernoulli", "--truth", "[0.3]"],
     "--truth must be a JSON object mapping site names to values, got a list"),
    (["volume", "--model", "bernoulli", "--truth", "{not json"], "--truth is not valid JSON"),
    (["volume", "--model", "bernoulli", "--truth", '"0.3"'],
     "--truth must be a JSON object mapping site names "
                                                             "to values, got a string"),
    (["volume", "--model", "bernoulli", "--truth", "{}"], "--truth is an empty object"),
    (["volume", "--model", "bernoulli", "--truth", '{"p": 1.5}'], "outside the support"),
    (["volume", "--model", "bernoulli", "--truth", '{"q": 0.5}'], "'q'"),
    (["volume", "--model", "bernoulli", "--truth", '{"p": "abc"}'], "--truth: site 'p' must be a number"),
    (["volume", "--model", "bernoulli", "--truth", '{"p": [0.3, 0.4]}'], "'p'"),
    (["spectrum", "--model", "linear_regression", "--truth", '{"theta": [1, 2]}'], "'theta'"),
    # data sets
    (["compare", "--data", "nosuch"], "--data: unknown data set 'nosuch'; choose one of breast_cancer, wine"),
    (["compare", "--model", "bernoulli"],
     "--model/--data: model 'bernoulli' does not fit data set 'breast_cancer'"),
    (["compare", "--data", "iris"], "'logistic_regression' does not fit data set 'iris' (multiclass)"),
    (["compare", "--data", "diabetes"], "'logistic_regression' does not fit data set 'diabetes'"),
    (["compare", "--data", "wine", "--model", "linear_regression"], "does not fit data set 'wine'"),
    (["compare", "--data", f"{T}/missing.npz"], "missing.npz"),
    (["compare", "--data", f"{T}/no_y.npz"], "must hold arrays named 'x' and 'y'"),
    (["compare", "--data", f"{T}/ragged.npz"], "ragged.npz"),
    (["compare", "--option", "d=5"], "--option d=5 contradicts --data breast_cancer, which sets d = 30"),
    (["compare", "--model", f"{T}/coin.py:coin"], "does not take data set 'breast_cancer'"),
    (["compare", "--data", "python-stdlib-text"], "--data: python-stdlib-text is a character sequence"),
    (["volume", "--data", "breast_cancer"],
     "--model/--data: model 'polynomial_regression' does not fit data set 'breast_cancer'"),
    (["volume", "--data", "breast_cancer", "--model", "mlp_classification", "--truth", '{"b0": [0.0]}'],
     "--truth contradicts --data: with a data set the truth is θ*, the MAP fit on it"),
    (["volume", "--data", "python-stdlib-text", "--model", "mlp_classification"],
     "--data: python-stdlib-text is a character sequence"),
    (["volume", "--data", "breast_cancer", "--model", "mlp_classification", "--option", "d_in=3"],
     "--option d_in=3 contradicts --data breast_cancer, which sets d_in = 30"),
    (["sequence", "--data", "digits"], "`bayesvol sequence` needs a character sequence"),
    (["sequence", "--data", "nosuch"], "unknown data set 'nosuch'"),
    (["sequence", "--order", "9"], "--order must be an integer in [0, 8], got 9"),
    (["sequence", "--order", "-1"], "--order must be an integer in [0, 8], got -1"),
    (["sequence", "--n", "100000000"], "--n [100000000] exceeds the"),
    (["sequence", "--model", "bernoulli"], "--model is not an option of `bayesvol sequence`"),
    (["volume", "--order", "2"], "--order is not an option of `bayesvol volume`; it is taken by: sequence"),
    # config files
    (["regret", "--config", f"{T}/missing.toml"], "--config: file '{tmp}/missing.toml' not found"),
    (["regret", "--config", f"{T}/bad.toml"], "is not valid TOML"),
    (["regret", "--config", f"{T}/unknown.toml"], "unknown option(s) ['sedes']"),
    (["regret", "--config", f"{T}/seeds0.toml"],
     "'seeds' in config file '{tmp}/seeds0.toml' must be a positive"),
    (["spectrum", "--config", f"{T}/budget.toml"],
     "'budget' in config file '{tmp}/budget.toml' is not an option "
                                                   "of `bayesvol spectrum`"),
    (["volume", "--config", f"{T}/option3.toml"], "'option' in config file"),
    (["volume", "--config", f"{T}/truthlist.toml"],
     "'truth' in config file '{tmp}/truthlist.toml' must be a JSON "
                                                    "object mapping site names to values, got a list"),
    (["volume", "--config", f"{T}/jsonyes.toml"], "'json' in config file"),
    (["regret", "--config", f"{T}/nneg.toml"], "'n' in config file"),
    (["compare", "--config", f"{T}/data.toml"], "'data' in config file '{tmp}/data.toml': unknown data set"),
    (["volume", "--config", f"{T}/model3.toml"], "'model' in config file"),
    (["volume", "--config", f"{T}/both.toml"], "both 'option' and 'model_options'"),
    (["volume", "--config", f"{T}"], "is a folder, not a TOML file"),
    # the output folder
    (["spectrum", "--out", f"{T}/a_file"], "--out '{tmp}/a_file' is a file, not a folder"),
    (["spectrum", "--out", f"{T}/a_file/sub"], "cannot be created: '{tmp}/a_file' is a file"),
    (["spectrum", "--out", f"{T}/other_run"],
     "holds the results of a different run (`bayesvol volume --model "
                                              "bernoulli`); choose another --out, or add --overwrite"),
    # bayesvol sweep: the study file and the study's folder
    (["sweep"], "give the study's TOML file: bayesvol sweep study.toml"),
    (["sweep", f"{T}/missing.toml"], "study file '{tmp}/missing.toml' not found"),
    (["sweep", f"{T}/bad.toml"], "study file '{tmp}/bad.toml' is not valid TOML"),
    (["sweep", f"{T}/study_unknown.toml"], "has unknown key(s) ['gridd']"),
    (["sweep", f"{T}/study_both.toml"], "needs exactly one of 'command'"),
    (["sweep", f"{T}/study_nogrid.toml"], "needs a [grid] table"),
    (["sweep", f"{T}/study_command.toml"], "Sweep fn must be a function or one of the commands"),
    (["sweep", f"{T}/study_out.toml"], "'out' is not an option a study can set"),
    (["sweep", f"{T}/study_model.toml"], "Sweep: unknown model 'nosuch'"),
    (["sweep", f"{T}/study_budget.toml"], "--budget must be an integer ≥ 8 and a multiple of 4, got 10"),
    (["sweep", f"{T}/study_function.toml"], "function file 'missing_cells.py' not found"),
    (["sweep", f"{T}/study_axis.toml"], "Sweep grid axis 'm' must be a non-empty list"),
    (["sweep", f"{T}/study_workers.toml"], "'workers' must be a positive integer, got 0"),
    (["sweep", f"{T}/study_seed.toml"], "Sweep seed must be an integer in [0, 2^32 − 1], got -1"),
    (["sweep", f"{T}/study.toml", "--workers", "0"], "--workers must be a positive integer, got 0"),
    (["sweep", f"{T}/study.toml", "--executor", "mpi"], "--executor"),
    (["sweep", f"{T}/study.toml", "--status"], "--out 'study_out' holds no study yet"),
    (["sweep", f"{T}/study.toml", "--out", f"{T}/other_run"], "is not empty and holds no study.json"),
    (["sweep", "--model", "bernoulli"], "--model is not an option of `bayesvol sweep`"),
    (["volume", "--executor", "ray"], "--executor is not an option of `bayesvol volume`; it is taken by"),
    # bayesvol network / architectures (real networks on real data)
    (["network", "--data", "python-stdlib-text"], "`bayesvol network` needs a rows (x, y) data set"),
    (["network", "--data", "nosuch"], "--data: unknown data set 'nosuch'"),
    (["network", "--n", "5000"], "--n [5000] exceeds the 1797 rows of digits"),
    (["network", "--option", "widths=[0]"], "--option: widths must be integers ≥ 1"),
    (["network", "--option", "d_in=3"], "--option d_in: set by --data digits"),
    (["network", "--option", "depth=3"], "--option: "),
    (["network", "--model", "bernoulli"], "--model is not an option of `bayesvol network`"),
    (["network", "--predictors", "nosuch"], "--predictors"),
    (["architectures", "--data", "diabetes"], "`bayesvol architectures` needs a classification data set"),
    (["architectures", "--data", "python-stdlib-text", "--n", "5000"],
     "--n [5000] exceeds the 1000 rows of the prefix of python-stdlib-text it codes"),
    (["architectures", "--option", "widths=[8]"], "--option is not an option of `bayesvol architectures`"),
    (["architectures", "--seeds", "0"], "--seeds must be a positive"),
    (["network", "--projection", "mle"], "argument --projection: invalid choice: 'mle'"),
    (["architectures", "--labels", "truth"], "argument --labels: invalid choice: 'truth'"),
    (["volume", "--projection", "map"], "--projection is not an option of `bayesvol volume`; it is taken by: "
                                        "network, architectures"),
    (["regret", "--labels", "theta_star"], "--labels is not an option of `bayesvol regret`"),
    (["network", "--config", f"{T}/projection.toml"], "--projection must be one of map, erm"),
    (["architectures", "--config", f"{T}/labels.toml"],
     "--labels must be distinct values from data, theta_star"),
    (["spectrum", "--out", f"{T}/no_manifest"], "already holds results (results.json) of a run without a "
                                                "manifest; choose another --out, or add --overwrite"),
]


def _snapshot(root: Path) -> dict[str, float]:
    return {str(p): p.stat().st_mtime for p in root.rglob("*")}


@pytest.mark.parametrize(("argv", "expected"), CASES, ids=[" ".join(a)[:60] for a, _ in CASES])
def test_bad_input_exits_2_with_one_clear_line_and_no_folder(argv, expected, tmp_path, monkeypatch,
                                                              capsys) -> None:
    monkeypatch.chdir(tmp_path)
    _write_files(tmp_path)
    before = _snapshot(tmp_path)
    code = main([a.replace(T, str(tmp_path)) for a in argv])
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert code == 2, captured.err
    assert len(lines) == 1, captured.err
    assert lines[0].startswith("bayesvol: error: "), lines[0]
    assert expected.replace(T, str(tmp_path)) in lines[0]
    assert "Traceback" not in captured.err and captured.out == ""
    assert _snapshot(tmp_path) == before  # nothing created, nothing touched


def test_the_suite_is_large_and_distinct() -> None:
    assert len(CASES) >= 60
    assert len({tuple(a) for a, _ in CASES}) == len(CASES)
