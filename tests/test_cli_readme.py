"""Every `bayesvol ...` command shown in README.md parses as written and runs (at reduced size)."""

from __future__ import annotations

import re
import shlex
import shutil
import warnings
from pathlib import Path

import pytest

import bayesvol as bv
from bayesvol.app import cli

README = Path(__file__).resolve().parents[1] / "README.md"

# appended to each line to run it in seconds (the line itself is first checked exactly as written);
# BAYESVOL_QUICK=1 shortens what has no option: the diagnostic NUTS fit of `run`, the rows and chains of
# `compare`, and is recorded in the provenance of every file
_SMALL: dict[str, list[str]] = {
    "run": ["--n", "5", "10", "--seeds", "2", "--budget", "16", "--m", "50"],
    "volume": ["--budget", "16", "--m", "50"],
    "regret": ["--n", "5", "10", "--seeds", "2", "--budget", "16", "--m", "50"],
    "spectrum": ["--m", "50"],
    "compare": [],
    "sequence": [],
    "lambda": [],
    "sweep": [],
    "models": [],
    "network": ["--n", "20", "40", "--seeds", "2", "--predictors", "erm_gd", "--option", "widths=[8]"],
    "architectures": ["--n", "20", "40", "--seeds", "2", "--predictors", "erm_gd"],
}


RUN_ELSEWHERE = {
    "bayesvol architectures --data python-stdlib-text":
        "tests/test_network_study.py::test_architectures_command_on_the_sequence_quick",
}
"""README lines (by prefix) that the named test runs, as written plus _SMALL, with more checks: here only
their parse is checked, so the suite does not run the same 5-minute command twice."""


def readme_command(prefix: str) -> list[str]:
    """The README's one command starting with ``prefix``, as argv with _SMALL appended (what runs here)."""
    found = [c for c in readme_commands() if c.startswith(prefix)]
    assert len(found) == 1, (prefix, found)
    argv = shlex.split(found[0])[1:]
    return [*argv, *_SMALL[argv[0]]]


def readme_commands() -> list[str]:
    """Each distinct `bayesvol ...` command in README.md: inline code spans and lines of code blocks."""
    text = README.read_text()
    found = re.findall(r"`(bayesvol [^`]+)`", text)
    found += [line.strip() for line in re.findall(r"^\s*(bayesvol .+)$", text, flags=re.MULTILINE)]
    # a command in a prose span is one that starts with a known subcommand
    commands = [c for c in found if c.split()[1] in _SMALL]
    return list(dict.fromkeys(commands))


def test_the_readme_shows_every_command() -> None:
    shown = {c.split()[1] for c in readme_commands()}
    assert shown == set(_SMALL), shown


@pytest.mark.slow
@pytest.mark.parametrize("line", readme_commands())
def test_readme_command_runs(line, tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.chdir(tmp_path)
    for path in re.findall(r"\S+\.toml", line):  # a file the command names, from the repository
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(README.parent / path, tmp_path / path)
    argv = shlex.split(line)[1:]
    # as written: it parses and every value is valid (nothing is written by the checks)
    args, extra = cli.build_parser().parse_known_args(argv)
    assert not extra, extra
    before = sorted(tmp_path.rglob("*"))
    cli._prepare(args, argv)
    assert sorted(tmp_path.rglob("*")) == before
    if any(line.startswith(prefix) for prefix in RUN_ELSEWHERE):
        return  # run by the test RUN_ELSEWHERE names
    monkeypatch.setenv("BAYESVOL_QUICK", "1")
    with warnings.catch_warnings():  # a network's θ* may interpolate the digits: printed, one line
        warnings.simplefilter("always", bv.InterpolationWarning)
        code = cli.main([*argv, *_SMALL[argv[0]]])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "bayesvol: error" not in captured.err
    if argv[0] == "sweep":  # the study's folder: bayesvol-out/sweep/<file stem>, every cell stored
        study = tmp_path / "bayesvol-out" / "sweep" / Path(argv[1]).stem
        assert (study / "study.json").exists() and "pending 0" in captured.out + captured.err
    elif argv[0] not in ("models",):
        out = tmp_path / "bayesvol-out" / argv[0]
        assert (out / "report.html").exists() and (out / "manifest.json").exists()
