"""The ``bayesvol`` command line.

``bayesvol run`` runs the embedded default experiment; ``volume``, ``regret``, ``spectrum`` and ``compare``
work on a zoo model by name or a user's model file (``path/to/file.py:model``); ``lambda`` prints the
learning coefficients of the zoo's singular cases read off their volume curves. Every command takes
``--json`` (machine-readable results on stdout), ``--config file.toml`` and ``--debug``; those that write
take ``--out DIR``, ``--seed`` and ``--overwrite``.

Exit codes: 2 for bad input (anything fixed by changing the command line, the config or the model file),
1 for a failure of the computation, 130 when interrupted, 0 on success. Every error is one line on stderr,
``bayesvol: error: ...`` naming the option or value at fault (``--debug`` shows the traceback). Everything
is validated before the output folder is created, so a bad input leaves no folder behind.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import importlib.util
import inspect
import json
import os
import shlex
import sys
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bayesvol.app import outfolder
from bayesvol.errors import InputError, read_toml
from bayesvol.regret.regret import PREDICTORS  # regret.py loads every module that registers a predictor

__all__ = ["CLIError", "build_parser", "load_model", "main", "resolve_options"]


class CLIError(InputError):
    """Bad command-line input: reported as one line, exit code 2."""


_COMMANDS: dict[str, str] = {
    "run": "the embedded default experiment: regret of mixture vs ERM on an over-parameterized class, "
           "with the Laplace and MCMC volume bounds",
    "volume": "log prior volume of KL balls around the truth, Laplace and MCMC",
    "regret": "expected regret of the predictors over n, with the volume bounds",
    "spectrum": "curvature (Fisher) spectrum at the truth and the effective dimension",
    "compare": "prequential and held-out log loss of the predictors on a data set",
    "sequence": "code lengths of Markov mixtures (orders 0 … K and their mixture) and plug-ins on a real "
                "character sequence",
    "lambda": "learning coefficients λ and multiplicities m read off the volume curve, for the zoo's "
              "singular cases with known values",
    "network": "a tanh MLP on a real data set through the whole framework: θ* (the MAP on every row, or "
               "ERM), its held-out log loss, the Laplace volume at θ*, k_eff(n), B_n and the regret of the "
               "approximate mixtures and ERM, on the data's labels (and with --labels theta_star on labels "
               "drawn from P_θ*)",
    "architectures": "deep narrow MLP, shallow wide MLP, random features and linear at equal parameter count "
                     "on a real data set (and one-head attention on a character sequence): Fisher spectra, "
                     "complexity ranges, Comp(t), k_eff(n) and regret",
    "models": "list the zoo models and their facts",
    "sweep": "run a study from a TOML file: a grid of cells, each stored as it finishes (the same command "
             "again continues a killed study); in this process, local processes or Ray",
}

_WRITERS = ("run", "volume", "regret", "spectrum", "compare", "sequence", "lambda", "network",
            "architectures")
_ON_MODELS = ("volume", "regret", "spectrum", "compare")
_ALL = tuple(_COMMANDS)

# which commands use each option: any other command refuses it (command line and config)
_USED_BY: dict[str, tuple[str, ...]] = {
    "config": _ALL,
    "debug": _ALL,
    "json": _ALL,
    "out": _WRITERS,
    "seed": _WRITERS,
    "overwrite": _WRITERS,
    "model": _ON_MODELS,
    "option": _ON_MODELS,
    "truth": ("volume", "regret", "spectrum"),
    "m": ("run", "volume", "regret", "spectrum"),
    "n": ("run", "regret", "spectrum", "sequence"),
    "seeds": ("run", "regret"),
    "budget": ("run", "volume", "regret", "lambda"),
    "predictors": ("regret", "compare", "sequence"),
    "methods": ("volume",),
    "data": ("compare", "sequence", "volume"),
    "order": ("sequence",),
    "executor": ("sweep",),
    "workers": ("sweep",),
    "address": ("sweep",),
    "status": ("sweep",),
    "retry_failed": ("sweep",),
    "report": ("sweep",),
}
_USED_BY["out"] = (*_WRITERS, "sweep")  # the study folder
_USED_BY["seed"] = (*_WRITERS, "sweep")  # the study's seed (each cell's key is derived from it)
_NETWORKS = ("network", "architectures")  # real networks on real data (app/network_study.py)
for _key in ("n", "seeds", "predictors", "data", "m"):
    _USED_BY[_key] = (*_USED_BY[_key], *_NETWORKS)
_USED_BY["option"] = (*_USED_BY["option"], "network")  # the MLP's widths
_USED_BY["projection"] = _NETWORKS  # θ* by MAP or ERM
_USED_BY["labels"] = _NETWORKS  # the data's labels or the realizable surrogate
_EXECUTORS = ("inline", "processes", "ray")

_HINTS: dict[tuple[str, str], str] = {
    ("compare", "truth"): "compare scores predictors on a data set without a known truth: --truth "
                          "contradicts it (use `bayesvol regret --truth ...`)",
    ("run", "model"): "`bayesvol run` is the embedded default experiment on polynomial_regression; for "
                      "another model use `bayesvol regret --model ...`",
}

_METHODS = ("laplace", "nested")
_DEFAULT_MODEL = "polynomial_regression"
_RUN_MODEL = ("polynomial_regression", {"degree": 40, "sigma": 0.5})


def _help(option: str, text: str, command: str) -> str:
    return text if command in _USED_BY[option] else argparse.SUPPRESS


def _add_options(parser: argparse.ArgumentParser, command: str) -> None:
    """Every option on every command (hidden where unused), so an unused one is refused by name."""
    from bayesvol.app.experiments import DATASETS, which_models_fit

    def add(option: str, *flags: str, text: str, **kwargs: Any) -> None:
        parser.add_argument(*(flags or (f"--{option}",)), dest=option, default=None,
                            help=_help(option, text, command), **kwargs)

    add("config", type=Path, text="TOML file with any of the options below, by their long names")
    add("json", action="store_true", text="print machine-readable results to stdout (no table, no bars)")
    add("debug", action="store_true", text="show the full traceback on errors")
    add("out", type=Path, text=f"output folder (default: bayesvol-out/{command})" if command != "sweep" else
        "the study's folder (default: the study file's out, else bayesvol-out/sweep/<study file name>)")
    add("seed", type=int, text="random seed (default 0); same seed, same numbers")
    add("overwrite", action="store_true",
        text="replace the results of a different run in --out (the same run again always overwrites)")
    default = "logistic_regression" if command == "compare" else _DEFAULT_MODEL
    add("model", text=f"zoo model name (see `bayesvol models`) or path/to/file.py:function (default "
                      f"{default})")
    add("option", action="append", metavar="KEY=VALUE",
        text="zoo model option, e.g. --option degree=20 (repeatable; VALUE is JSON)")
    add("truth", text="true parameters as a JSON object, e.g. '{\"p\": 0.3}' (default: the zoo's truth)")
    add("m", type=int, text="covariate rows used for the divergence and curvature (default 200)")
    if command != "sequence":
        add("n", type=int, nargs="+", text="sample sizes")
    add("seeds", type=int, text="independent data sets per n")
    add("budget", type=int, text="live points of the MCMC volume estimator (≥ 8, a multiple of 4)")
    add("predictors", nargs="+", text=f"predictors, any of: {' '.join(PREDICTORS)}" + (
        " (for the attention model; default sgd_ensemble)" if command == "sequence" else ""))
    add("methods", nargs="+", text=f"volume estimators, any of: {' '.join(_METHODS)}")
    if command == "sequence":
        add("data", text="character sequence: python-stdlib-text (default; the docstrings of this Python's "
                         "own standard library, read from the interpreter)")
        add("n", type=int, nargs="+", text="prefix lengths at which the code length is reported")
    elif command == "volume":
        add("data", text=f"data set: one of scikit-learn's bundled {', '.join(DATASETS)}, or a .npz file "
                         "with arrays x and y: the truth is then θ*, the MAP fit on it, and D averages over "
                         f"its rows (all, or --m of them). Models by task: {which_models_fit()}")
    else:
        add("data", text=f"data set: one of scikit-learn's bundled {', '.join(DATASETS)} (default "
                         "breast_cancer), or a .npz file with arrays x and y; the model takes its dimensions "
                         f"from the data. Models by task: {which_models_fit()}" + (
                             "; or python-stdlib-text: next-character rows of a prefix, with one-head "
                             "attention as a fifth architecture" if command == "architectures" else ""))
    add("projection", choices=("map", "erm"),
        text="θ* on every row: map (default; the prior as weight decay, attained) or erm (the projection "
             "of the data on the class; a network that interpolates the rows never attains it)")
    add("labels", nargs="+", choices=("data", "theta_star"),
        text="labels the regret is measured on: data (the data set's) and/or theta_star (drawn from "
             "P_θ*(·|x): the realizable surrogate, where B_n bounds the Bayes mixture); default data")
    add("order", type=int, text="largest Markov order K (default 5)")
    add("executor", choices=_EXECUTORS,
        text="where the cells run: inline (this process, default), processes (local, spawned) or ray")
    add("workers", type=int, text="processes, or CPUs of a local Ray (default: this machine's CPUs)")
    add("address", text="a Ray cluster to connect to (default: $RAY_ADDRESS, else a local Ray)")
    add("status", action="store_true", text="show done / failed / pending cells and the failures (no run)")
    add("retry_failed", "--retry-failed", action="store_true", text="run the failed cells again")
    add("report", action="store_true", text="write report.html from the study's folder (no run)")


class _Parser(argparse.ArgumentParser):
    """argparse whose usage errors are CLIErrors: one line, exit code 2, handled like every other."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise CLIError(f"{message} (see `{self.prog} --help`)")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``bayesvol`` command."""
    parser = _Parser(
        prog="bayesvol", allow_abbrev=False,
        description="Prior volume near the truth and the regret of Bayes mixture predictors, for any "
                    "NumPyro model. Run `bayesvol run` for the default experiment.",
        epilog="Each command has its own --help. Results go to --out (default bayesvol-out/<command>). "
               "Exit codes: 0 success, 1 the computation failed, 2 bad input, 130 interrupted.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name, help_text in _COMMANDS.items():
        cmd = sub.add_parser(name, help=help_text, description=help_text, allow_abbrev=False)
        _add_options(cmd, name)
        if name == "sweep":
            cmd.add_argument("study", nargs="?", type=Path, default=None,
                             help="the study's TOML file (see `bayesvol.study.command`)")
    return parser


# ------------------------------------------------------------------------------------------------
# options: defaults < config file < command line, each value checked where it came from
class _Source:
    """Where each option came from, so an error names it as the user wrote it."""

    def __init__(self, config: Path | None) -> None:
        self.config = config
        self.from_config: set[str] = set()

    def name(self, key: str) -> str:
        if key in self.from_config:
            return f"{key!r} in config file {str(self.config)!r}"
        return f"--{key}"


def _refuse_unused(command: str, key: str, where: str) -> None:
    if command in _USED_BY[key]:
        return
    hint = _HINTS.get((command, key))
    if hint is not None:
        raise CLIError(hint if where.startswith("--") else f"{where}: {hint}")
    takers = ", ".join(_USED_BY[key])
    raise CLIError(f"{where} is not an option of `bayesvol {command}`; it is taken by: {takers}")


def _load_config(path: Path, command: str, source: _Source) -> dict[str, Any]:
    config = read_toml(path, f"--config: file {str(path)!r}", CLIError)
    if "model_options" in config:  # the older name of the option table
        if "option" in config:
            raise CLIError(f"config file {str(path)!r} has both 'option' and 'model_options'; keep one")
        config["option"] = config.pop("model_options")
    known = [k for k in _USED_BY if k not in ("config", "debug")]
    unknown = sorted(set(config) - set(known))
    if unknown:
        raise CLIError(f"config file {str(path)!r} has unknown option(s) {unknown}; known: {sorted(known)}")
    for key in config:
        source.from_config.add(key)
        _refuse_unused(command, key, source.name(key))
    return config


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_int(options: dict[str, Any], key: str, source: _Source, minimum: int,
               maximum: int | None = None, what: str = "a positive integer") -> None:
    value = options[key]
    if value is None:
        return
    if not _is_int(value) or value < minimum or (maximum is not None and value > maximum):
        raise CLIError(f"{source.name(key)} must be {what}, got {value!r}")


def _check_names(options: dict[str, Any], key: str, source: _Source, choices: Sequence[str]) -> None:
    value = options[key]
    if value is None:
        return
    if isinstance(value, str):
        value = options[key] = [value]
    if not isinstance(value, list) or not value:
        raise CLIError(f"{source.name(key)} needs at least one of: {' '.join(choices)}")
    bad = [v for v in value if v not in choices]
    if bad:
        raise CLIError(f"{source.name(key)}: unknown {key[:-1]}(s) {bad}; choose from: {' '.join(choices)}")
    if len(set(value)) != len(value):
        raise CLIError(f"{source.name(key)} names a {key[:-1]} twice: {value}")


def _parse_option_items(items: Sequence[Any], source: _Source) -> dict[str, Any]:
    model_options: dict[str, Any] = {}
    for item in items:
        if not isinstance(item, str) or "=" not in item or not item.split("=", 1)[0].strip():
            raise CLIError(f"--option {item!r} must look like KEY=VALUE, e.g. --option degree=20")
        key, raw = item.split("=", 1)
        try:
            model_options[key.strip()] = json.loads(raw)
        except json.JSONDecodeError:
            model_options[key.strip()] = raw  # a bare word is a string option (task=classification)
    return model_options


def _check_truth(value: Any, source: _Source) -> dict[str, Any] | None:
    if value is None:
        return None
    where = source.name("truth")
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError as err:
            raise CLIError(f"{where} is not valid JSON ({err}); write e.g. '{{\"p\": 0.3}}'") from err
    if not isinstance(value, dict):
        kind = {list: "a list", str: "a string", bool: "a boolean", int: "a number", float: "a number",
                type(None): "null"}.get(type(value), type(value).__name__)
        raise CLIError(f"{where} must be a JSON object mapping site names to values, got {kind}")
    if not value:
        raise CLIError(f"{where} is an empty object; give a value for each site, e.g. '{{\"p\": 0.3}}'")
    return value


def resolve_options(args: argparse.Namespace, argv: Sequence[str] = ()) -> dict[str, Any]:
    """Defaults, then the config file, then the command line (the command line wins); all checked."""
    command = args.command
    source = _Source(args.config)
    for key in _USED_BY:
        if getattr(args, key, None) is not None:
            _refuse_unused(command, key, f"--{key}")
    config = _load_config(args.config, command, source) if args.config is not None else {}
    options: dict[str, Any] = {key: None for key in _USED_BY if key not in ("config", "debug")}
    options.update(config)
    for key in options:
        value = getattr(args, key, None)
        if value is not None:
            options[key] = value
            source.from_config.discard(key)
    # the option table: a TOML table from the config, then KEY=VALUE items from the command line
    table = config.get("option", {})
    if not isinstance(table, dict):
        raise CLIError(f"{source.name('option')} must be a TOML table, e.g. option = {{degree = 20}}")
    model_options = dict(table)
    if args.option is not None:
        model_options.update(_parse_option_items(args.option, source))
    options["option"] = model_options
    for key in ("json", "overwrite", "status", "retry_failed", "report"):
        if options[key] is not None and not isinstance(options[key], bool):
            raise CLIError(f"{source.name(key)} must be true or false, got {options[key]!r}")
        options[key] = bool(options[key])
    for key in ("model", "data", "out"):
        if options[key] is not None and not isinstance(options[key], (str, Path)):
            raise CLIError(f"{source.name(key)} must be a string, got {options[key]!r}")
        if isinstance(options[key], str) and not options[key].strip():
            raise CLIError(f"{source.name(key)} is empty")
    options["_seed_given"] = options["seed"] is not None  # a study's own file may set it
    options["seed"] = 0 if options["seed"] is None else options["seed"]
    _check_int(options, "seed", source, 0, 2**32 - 1, "an integer in [0, 2^32 − 1]")
    _check_int(options, "seeds", source, 1)
    _check_int(options, "m", source, 1)
    _check_int(options, "order", source, 0, 8, "an integer in [0, 8]")
    _check_int(options, "workers", source, 1)
    if options["executor"] is not None and options["executor"] not in _EXECUTORS:
        raise CLIError(f"{source.name('executor')} must be one of {', '.join(_EXECUTORS)}, got "
                       f"{options['executor']!r}")
    if options["address"] is not None and not isinstance(options["address"], str):
        raise CLIError(f"{source.name('address')} must be a string, got {options['address']!r}")
    budget = options["budget"]
    if budget is not None and (not _is_int(budget) or budget < 8 or budget % 4):
        raise CLIError(f"{source.name('budget')} must be an integer ≥ 8 and a multiple of 4, got {budget!r}")
    if options["n"] is not None:
        ns = options["n"] if isinstance(options["n"], list) else [options["n"]]
        if not ns or any(not _is_int(n) or n <= 0 for n in ns):
            raise CLIError(f"{source.name('n')} must be positive integers, got {options['n']!r}")
        options["n"] = sorted(set(ns))
    _check_names(options, "predictors", source, PREDICTORS)
    _check_names(options, "methods", source, _METHODS)
    options["truth"] = _check_truth(options["truth"], source)
    if command in _ON_MODELS and options["model"] is None:
        options["model"] = "logistic_regression" if command == "compare" else _DEFAULT_MODEL
    if command == "compare" and options["data"] is None:
        options["data"] = "breast_cancer"
    if command == "sequence" and options["data"] is None:
        options["data"] = "python-stdlib-text"
    if command in _NETWORKS and options["data"] is None:
        options["data"] = "digits"
    options["study"] = getattr(args, "study", None)
    default_out = None if command == "sweep" else Path("bayesvol-out") / command  # a study file may name it
    options["out"] = Path(options["out"]) if options["out"] is not None else default_out
    options["command"] = command
    options["_source"] = source
    options["_argv"] = list(argv)
    return options


# ------------------------------------------------------------------------------------------------
# models
def _zoo_option_names(factory: Callable[..., Any]) -> list[str] | None:
    try:
        parameters = inspect.signature(factory).parameters.values()
    except (TypeError, ValueError):
        return None
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters):
        return None  # a wrapper: its target reports unknown options itself
    return [p.name for p in parameters]


def load_model(spec: str, model_options: dict[str, Any] | None = None) -> Any:
    """A zoo model by name, or ``path/to/file.py:name`` (a Problem, a factory of one, or a NumPyro model).

    A plain NumPyro model from a file is wrapped as a Problem whose truth is a prior draw (override it
    with ``--truth``) and whose covariates come from a function ``covariates(key, m)`` in the same file
    when there is one (otherwise the class is taken as generative with ``n = m`` rows).
    """
    from bayesvol.model.problem import registry

    model_options = model_options or {}
    if ":" not in spec and not spec.endswith(".py"):
        zoo = registry()
        if spec not in zoo:
            raise CLIError(f"--model: unknown model {spec!r}; the zoo has: {', '.join(sorted(zoo))} "
                           "(or give path/to/file.py:function)")
        names = _zoo_option_names(zoo[spec])
        unknown = sorted(set(model_options) - set(names)) if names is not None else []
        if unknown:
            raise CLIError(f"--option {unknown[0]}: model {spec!r} has no option {unknown[0]!r}; its "
                           f"options: {', '.join(names or [])}")
        try:
            return zoo[spec](**model_options)
        except InputError as err:  # the zoo checks its options' ranges
            bad = next((k for k in model_options if str(err).startswith(k)), None)
            label = f"--option {bad}={json.dumps(model_options[bad])}" if bad else "--option"
            raise CLIError(f"{label}: {err} (model {spec!r})") from err
        except TypeError as err:
            raise CLIError(f"--option: bad option for model {spec!r}: {err}") from err
        except Exception as err:  # an option of the right type the constructor still cannot use
            raise CLIError(f"--option: model {spec!r} cannot be built with {model_options}: "
                           f"{type(err).__name__}: {_first_line(err)}") from err
    path_text, _, name = spec.rpartition(":") if ":" in spec else (spec, "", "model")
    path = Path(path_text)
    if not path.is_file():
        raise CLIError(f"--model: model file {path_text!r} not found")
    if path.suffix != ".py":
        raise CLIError(f"--model: {path_text!r} is not a Python file (.py)")
    module_spec = importlib.util.spec_from_file_location(path.stem, path)
    if module_spec is None or module_spec.loader is None:
        raise CLIError(f"--model: cannot import {path_text!r} as a Python file")
    module = importlib.util.module_from_spec(module_spec)
    try:
        module_spec.loader.exec_module(module)
    except Exception as err:
        raise CLIError(f"--model: importing {path_text!r} failed: {type(err).__name__}: {_first_line(err)}"
                       ) from err
    if not name or not hasattr(module, name):
        public = [k for k in vars(module) if not k.startswith("_") and callable(vars(module)[k])]
        raise CLIError(f"--model: {path_text!r} has no function {name!r}; it defines {public}")
    return _as_zoo_model(getattr(module, name), name, module, model_options, path_text)


def _first_line(err: BaseException) -> str:
    return " ".join(str(err).split()) if str(err) else "(no message)"


def _as_zoo_model(obj: Any, name: str, module: Any, model_options: dict[str, Any], path_text: str = "?"
                  ) -> Any:
    import jax
    import numpyro

    import bayesvol as bv
    from bayesvol.model.model_class import prior_sample
    from bayesvol.model.problem import Facts, Problem

    where = f"--model: {name}() in {path_text!r}"
    if isinstance(obj, Problem):
        return obj
    if not callable(obj):
        raise CLIError(f"--model: {name!r} in {path_text!r} is not a NumPyro model function")
    try:  # a factory of a Problem returns one; a NumPyro model fails outside NumPyro's handlers
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = obj(**model_options)
    except Exception:
        result = None
    if isinstance(result, Problem):
        return result
    if model_options:
        raise CLIError(f"--option applies to zoo models and Problem factories; {name!r} is a NumPyro model "
                       "(use --truth and a covariates(key, m) function in its file instead)")
    covariates_fn: Callable[..., Any] | None = getattr(module, "covariates", None)

    def covariates(key: Any, m: int, params: Any) -> dict[str, Any]:
        return dict(covariates_fn(key, m)) if covariates_fn is not None else {"n": m}

    try:
        example = covariates(jax.random.PRNGKey(0), 4, None)
    except Exception as err:
        raise CLIError(f"--model: covariates(key, m) in {path_text!r} raised {type(err).__name__}: "
                       f"{_first_line(err)}") from err
    try:  # run the model once ourselves: its own exception is the user's to see, by name
        numpyro.handlers.trace(numpyro.handlers.seed(obj, 0)).get_trace(**example)
    except Exception as err:
        raise CLIError(f"{where} raised {type(err).__name__}: {_first_line(err)}") from err
    try:
        mc = bv.ModelClass(obj, **example)
        truth = prior_sample(mc, jax.random.PRNGKey(12345))
    except InputError as err:
        raise CLIError(f"{where}: {_first_line(err)}") from err
    return Problem(name=name, model=obj, true_params=truth, covariates=covariates,
                   facts=Facts(dim=mc.dim, notes="user model"))


def _set_truth(zoo: Any, truth: dict[str, Any] | None, where: str = "--truth") -> Any:
    if truth is None:
        return zoo
    import jax.numpy as jnp
    import numpy as np

    sites = list(zoo.model_class.latent_sites)
    unknown = [site for site in truth if site not in sites]
    if unknown:
        raise CLIError(f"{where}: unknown site(s) {unknown}; the model's parameter sites are {sites}")
    params = {}
    for site, value in truth.items():
        try:
            array = np.asarray(value, dtype=float)
        except (TypeError, ValueError) as err:
            raise CLIError(f"{where}: site {site!r} must be a number or a (nested) list of numbers, got "
                           f"{json.dumps(value)}") from err
        params[site] = jnp.asarray(array)
    try:
        zoo.model_class.flatten(params)  # validates names, shapes and support with a clear message
    except InputError as err:
        raise CLIError(f"{where}: {_first_line(err)}") from err
    return dataclasses.replace(zoo, true_params=params)


def _sequence_data(options: dict[str, Any], source: _Source) -> Any:
    """Load the --data of `bayesvol sequence` (a character sequence) through experiments.load_data."""
    from bayesvol.app import experiments

    try:
        data = experiments.load_data(str(options["data"]))
    except InputError as err:
        raise CLIError(f"{source.name('data')}: {err}") from err
    if data.task != "sequence":
        raise CLIError(f"{source.name('data')}: `bayesvol sequence` needs a character sequence "
                       f"(python-stdlib-text), not the {data.task} data set {data.name!r}")
    too_long = [n for n in options["n"] or () if n > data.symbols.size]
    if too_long:
        raise CLIError(f"{source.name('n')} {too_long} exceeds the {data.symbols.size} symbols of "
                       f"{data.name}")
    return data


def _fit_data(zoo_name: str, options: dict[str, Any], source: _Source) -> tuple[Any, Any]:
    """Load --data (through experiments.load_data) and build the model class that fits it."""
    from bayesvol.app import experiments

    try:
        data = experiments.load_data(str(options["data"]))
    except InputError as err:
        raise CLIError(f"{source.name('data')}: {err}") from err
    if data.task == "sequence":
        raise CLIError(f"{source.name('data')}: {data.name} is a character sequence, not rows (x, y); "
                       f"use `bayesvol sequence --data {data.name}`")
    spec = options["model"]
    if ":" in spec or spec.endswith(".py"):
        problem = load_model(spec, options["option"])
        experiments.check_model_fits_data(problem, data, spec)
        return problem, data
    try:
        fitted = experiments.data_model_options(zoo_name, data)
    except InputError as err:
        raise CLIError(f"--model/--data: {err}") from err
    clash = {k: v for k, v in options["option"].items() if k in fitted and fitted[k] != v}
    if clash:
        key = next(iter(clash))
        raise CLIError(f"--option {key}={json.dumps(clash[key])} contradicts --data {data.name}, which "
                       f"sets {key} = {fitted[key]}")
    return load_model(spec, {**options["option"], **fitted}), data


def _network_data(command: str, options: dict[str, Any], source: _Source) -> tuple[Any, Any]:
    """--data of `bayesvol network` / `architectures` (rows, classes for architectures) and the network."""
    from bayesvol.app import experiments
    from bayesvol.app.network_study import network_model

    try:
        data = experiments.load_data(str(options["data"]))
    except InputError as err:
        raise CLIError(f"{source.name('data')}: {err}") from err
    if (command == "network" and data.task == "sequence") or (command == "architectures"
                                                               and data.task == "regression"):
        raise CLIError(f"{source.name('data')}: `bayesvol {command}` needs a "
                       f"{'classification' if command == 'architectures' else 'rows (x, y)'} data set"
                       f"{' or a character sequence' if command == 'architectures' else ''}, not the "
                       f"{data.task} data set {data.name!r}")
    if data.task == "sequence":  # architectures: next-character rows of a prefix (network_study.context_rows)
        from bayesvol.app.network_study import SEQUENCE_ROWS

        rows, what = min(SEQUENCE_ROWS, data.symbols.size), f"rows of the prefix of {data.name} it codes"
    else:
        rows, what = data.x.shape[0], f"rows of {data.name}"
    too_long = [n for n in options["n"] or () if n > rows]
    if too_long:
        raise CLIError(f"{source.name('n')} {too_long} exceeds the {rows} {what}")
    if command == "architectures":
        return None, data
    fixed = [k for k in options["option"] if k in ("d_in", "d_out", "task")]
    if fixed:
        raise CLIError(f"--option {fixed[0]}: set by --data {data.name} (the network takes its dimensions "
                       "from the data)")
    try:
        zoo = network_model(data, **options["option"])
    except (InputError, TypeError) as err:
        raise CLIError(f"--option: {_first_line(err)}") from err
    return zoo, data


# ------------------------------------------------------------------------------------------------
# the output folder
def _identity(options: dict[str, Any]) -> dict[str, Any]:
    """The options that make a run what it is (not where it goes or how it prints)."""
    from bayesvol.app.report import jsonable

    skip = {"out", "json", "overwrite", "command"}
    return jsonable({k: v for k, v in options.items() if k not in skip and not k.startswith("_")})


def _provenance(options: dict[str, Any]) -> dict[str, Any]:
    import bayesvol

    started = datetime.datetime.now(datetime.UTC)
    return {"command": shlex.join(["bayesvol", *options["_argv"]]), "subcommand": options["command"],
            "options": _identity(options), "seed": options["seed"], "version": bayesvol.__version__,
            "started": started.isoformat(timespec="seconds"),
            "run": f"{started.timestamp():.6f}-{os.getpid()}"}  # tells this run's manifest from another's


# ------------------------------------------------------------------------------------------------
# warnings and interruptions
@contextmanager
def _one_line_warnings() -> Iterator[None]:
    """Show warnings as `bayesvol: warning: <Category>: <message>`, each distinct one once; restore after."""
    seen: set[str] = set()
    previous = warnings.showwarning

    def show(message: Any, category: type[Warning], filename: str, lineno: int, file: Any = None,
             line: str | None = None) -> None:
        text = f"bayesvol: warning: {category.__name__}: {_first_line(message)}"
        if text not in seen:
            seen.add(text)
            print(text, file=sys.stderr)

    warnings.showwarning = show
    try:
        yield
    finally:
        warnings.showwarning = previous


def _run_id(options: dict[str, Any] | None) -> str | None:
    return None if options is None or "_provenance" not in options else options["_provenance"]["run"]


def _seeds_of(options: dict[str, Any]) -> range:
    """The seeds whose regret files the command writes (none for the commands without seeds)."""
    if options["command"] not in ("run", "regret"):
        return range(0)
    return range(options["seeds"] or (6 if options["command"] == "run" else 5))


# ------------------------------------------------------------------------------------------------
def _prepare(args: argparse.Namespace, argv: Sequence[str]) -> tuple[dict[str, Any], Any]:
    """Everything checked and loaded before any file is written: the options and the problem."""
    options = resolve_options(args, argv)
    source: _Source = options["_source"]
    command = options["command"]
    if command in ("models", "sweep"):  # a study checks its own file and keeps its own folder
        return options, None
    if command == "sequence":
        zoo = None
        options["_dataset"] = _sequence_data(options, source)
    elif command == "run":
        zoo = load_model(*_RUN_MODEL)
    elif command == "lambda":  # its own fixed list of zoo cases (experiments.LAMBDA_CASES)
        zoo = None
    elif command in _NETWORKS:
        zoo, options["_dataset"] = _network_data(command, options, source)
    elif command == "compare":
        zoo, options["_dataset"] = _fit_data(options["model"], options, source)
        options["data"] = options["_dataset"].name
    elif command == "volume" and options["data"] is not None:  # the truth is θ* fitted on the data
        if options["truth"] is not None:
            raise CLIError(f"{source.name('truth')} contradicts {source.name('data')}: with a data set the "
                           "truth is θ*, the MAP fit on it")
        zoo, options["_dataset"] = _fit_data(options["model"], options, source)
        options["data"] = options["_dataset"].name
    else:
        zoo = _set_truth(load_model(options["model"], options["option"]), options["truth"],
                         source.name("truth"))
    provenance = _provenance(options)
    options["_clear"] = outfolder.check_folder(options["out"], provenance, options["overwrite"])
    if command in ("run", "regret", "volume"):  # an unfinished attempt of the same run: reuse its pieces
        from bayesvol.study.resume import REUSABLE, resumable

        if resumable(options["out"], provenance, options["overwrite"]):
            options["_resume"] = True
            options["_clear"] = [f for f in options["_clear"] if not REUSABLE.match(f)]
    options["_provenance"] = provenance
    if os.environ.get("BAYESVOL_QUICK") == "1":  # tests only: smaller samplers, recorded in every file
        options["_quick"] = True
        provenance["quick"] = True
    return options, zoo


def _check_cell(argv: list[str]) -> None:
    """A study's command cell, checked like a command line (bayesvol.study runs it as one)."""
    resolve_options(build_parser().parse_args(argv), argv)


def _is_computation_failure(err: InputError) -> bool:
    """An InputError of the library that no command-line option can fix (the sampler's own budget)."""
    from bayesvol.volume.nested_statistics import NestedSamplingError

    return isinstance(err, NestedSamplingError)



def _stop_note(options: dict[str, Any] | None, created: bool, reason: str) -> str:
    """After a stop: the INTERRUPTED marker (or no folder at all) and a sentence on what was kept."""
    run = _run_id(options)
    if options is not None and options.get("command") == "sweep" and options.get("_study_out"):
        return (f"every finished cell is kept in {str(options['_study_out'])!r}; the same command again "
                "continues")
    if options is None or run is None:
        return ""
    return outfolder.after_stop(options["out"], run, created, reason, _seeds_of(options))
def _host_devices() -> None:
    """Up to 4 CPU devices for parallel NUTS chains, before any JAX work (unless XLA_FLAGS sets a count)."""
    import os

    from bayesvol.errors import BayesvolError
    from bayesvol.inference.fit import use_host_devices

    if "xla_force_host_platform_device_count" in os.environ.get("XLA_FLAGS", ""):
        return
    try:
        use_host_devices(min(4, os.cpu_count() or 1))
    except BayesvolError:
        pass  # called in-process after JAX started (tests, notebooks): keep the devices it has


def _file_backend() -> None:
    """The command only writes image files: ArviZ's pyplot figures get Agg unless MPLBACKEND says otherwise.

    This is the application choosing for its own process; the library (``bayesvol.app.plots``) never sets
    a backend.
    """
    import os

    if not os.environ.get("MPLBACKEND"):
        import matplotlib

        matplotlib.use("Agg")


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``bayesvol`` console script; returns the exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or (argv[0].startswith("-") and argv[0] not in ("-h", "--help")):
        argv = ["run", *argv]
    debug = "--debug" in argv
    options: dict[str, Any] | None = None
    created = False
    _host_devices()
    _file_backend()
    with _one_line_warnings():
        try:
            args, extra = build_parser().parse_known_args(argv)
            if extra:
                raise CLIError(f"unrecognized argument(s) {' '.join(extra)} for `bayesvol {args.command}` "
                               f"(see `bayesvol {args.command} --help`)")
            if args.command is None:
                raise CLIError("give a command: run, volume, regret, spectrum, compare, sequence, lambda, "
                               "network, architectures, sweep or models (see `bayesvol --help`)")
            options, zoo = _prepare(args, argv)
            from bayesvol.app import experiments

            created = options["out"] is not None and not Path(options["out"]).exists()
            if args.command == "models":
                result = experiments.list_models(None, options)
            elif args.command == "sweep":
                from bayesvol.study.command import sweep_command

                result = sweep_command(options, _check_cell)
            else:
                result = experiments.COMMANDS[args.command](zoo, options)
            run = _run_id(options)
            if run is not None:
                outfolder.mark_complete(options["out"], run)
            if options["json"]:
                from bayesvol.app.report import jsonable

                json.dump(jsonable(result), sys.stdout, indent=2)
                print()
            return 0
        except KeyboardInterrupt:
            kept = _stop_note(options, created, "interrupted (Ctrl-C)")
            print(f"bayesvol: interrupted; {kept or 'no output folder was written'}", file=sys.stderr)
            return 130
        except Exception as err:
            if debug:
                raise
            if isinstance(err, InputError) and not _is_computation_failure(err):
                # CLIError, or a bad input (a user model's shapes, say) the library found after the start
                run = _run_id(options)
                if options is not None and run is not None:
                    outfolder.remove_partial(options["out"], run, created)
                print(f"bayesvol: error: {_first_line(err)}", file=sys.stderr)
                return 2
            kept = _stop_note(options, created, f"{type(err).__name__}: {_first_line(err)}")
            print(f"bayesvol: error: {type(err).__name__}: {_first_line(err)}"
                  + (f"; {kept}" if kept else ""), file=sys.stderr)
            return 1


if __name__ == "__main__":
    sys.exit(main())

