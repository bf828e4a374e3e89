"""The ``bayesvol`` command line.

``bayesvol run`` runs the embedded default experiment; ``volume``, ``regret``, ``spectrum`` and ``compare``
work on a zoo model by name or a user's model file (``path/to/file.py:model``). Every command takes
``--json`` (machine-readable results on stdout), ``--out DIR``, ``--seed`` and ``--config file.toml``.
Errors are one clear line on stderr and exit code 2 (bad usage) or 1 (failure); ``--debug`` shows the
traceback.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
import tomllib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from bayesvol.errors import InputError

__all__ = ["CLIError", "load_model", "main"]


class CLIError(InputError):
    """Bad command-line input: reported as one line, exit code 2."""


_COMMANDS: dict[str, str] = {
    "run": "the embedded default experiment: regret of mixture vs ERM on an over-parameterized class, "
           "with the Laplace and MCMC volume bounds",
    "volume": "log prior volume of KL balls around the truth, Laplace and MCMC",
    "regret": "expected regret of the predictors over n, with the volume bounds",
    "spectrum": "curvature (Fisher) spectrum at the truth and the effective dimension",
    "compare": "prequential and held-out log loss of the predictors on a data set",
}

_DEFAULTS: dict[str, Any] = {
    "model": "polynomial_regression",
    "model_options": {},
    "truth": None,
    "n": None,
    "seeds": None,
    "m": None,
    "budget": None,
    "out": None,
    "seed": 0,
    "json": False,
    "methods": ["laplace", "nested"],
    "predictors": ["mixture", "plugin"],
}


def _add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", type=Path, help="TOML file with any of the options below")
    parser.add_argument("--json", action="store_true", default=None,
                        help="print machine-readable results to stdout (no table, no progress bars)")
    parser.add_argument("--out", type=Path, help="output folder for figures, data and the report "
                                                 "(default: bayesvol-out/<command>)")
    parser.add_argument("--seed", type=int, help="random seed (default 0); same seed, same numbers")
    parser.add_argument("--debug", action="store_true", help="show the full traceback on errors")


def _add_model(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", help="zoo model name (see `bayesvol models`) or path/to/file.py:model")
    parser.add_argument("--option", action="append", default=None, metavar="KEY=VALUE",
                        help="zoo model option, e.g. --option degree=20 (repeatable; VALUE is JSON)")
    parser.add_argument("--truth", help="true parameters as JSON, e.g. '{\"p\": 0.3}' (default: the "
                                        "zoo's truth)")
    parser.add_argument("--m", type=int, help="covariate rows used for the divergence and curvature")


class _Parser(argparse.ArgumentParser):
    """argparse with usage errors on one line (the usage itself is one `--help` away)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``bayesvol`` command."""
    parser = _Parser(
        prog="bayesvol",
        description="Prior volume near the truth and the regret of Bayes mixture predictors, for any "
                    "NumPyro model. Run `bayesvol run` for the default experiment.",
        epilog="Each command has its own --help. Results go to --out (default bayesvol-out/<command>).",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name, help_text in _COMMANDS.items():
        cmd = sub.add_parser(name, help=help_text, description=help_text)
        _add_common(cmd)
        if name != "run":
            _add_model(cmd)
        if name in ("run", "regret", "compare", "spectrum"):
            cmd.add_argument("--n", type=int, nargs="+", help="sample sizes")
            cmd.add_argument("--seeds", type=int, help="independent data sets per n")
            cmd.add_argument("--predictors", nargs="+", help="predictors: mixture plugin map ensemble")
        if name in ("run", "volume", "regret"):
            cmd.add_argument("--budget", type=int, help="live points of the MCMC volume estimator")
        if name == "volume":
            cmd.add_argument("--methods", nargs="+", choices=["laplace", "nested"], help="estimators")
        if name == "compare":
            cmd.add_argument("--data", help="data set: 'breast_cancer' or 'diabetes' (scikit-learn's bundled)"
                                            " or a .npz file with arrays x and y")
    models_cmd = sub.add_parser("models", help="list the zoo models and their facts")
    _add_common(models_cmd)
    return parser


def _load_config(path: Path | None) -> dict[str, Any]:
    if path is None:
        return {}
    try:
        with open(path, "rb") as handle:
            config = tomllib.load(handle)
    except FileNotFoundError as err:
        raise CLIError(f"config file {str(path)!r} not found") from err
    except tomllib.TOMLDecodeError as err:
        raise CLIError(f"config file {str(path)!r} is not valid TOML: {err}") from err
    unknown = sorted(set(config) - set(_DEFAULTS) - {"option"})
    if unknown:
        raise CLIError(f"config file {str(path)!r} has unknown option(s) {unknown}; known: "
                       f"{sorted(_DEFAULTS)}")
    return config


def resolve_options(args: argparse.Namespace) -> dict[str, Any]:
    """Defaults, then the config file, then the command line (the command line wins)."""
    options = {**_DEFAULTS, "model_options": {}}
    config = _load_config(getattr(args, "config", None))
    options.update({k: v for k, v in config.items() if k != "option"})
    options["model_options"] = dict(config.get("model_options", config.get("option", {})))
    for key in _DEFAULTS:
        value = getattr(args, key, None)
        if value is not None:
            options[key] = value
    for item in getattr(args, "option", None) or []:
        if "=" not in item:
            raise CLIError(f"--option {item!r} must look like KEY=VALUE")
        key, raw = item.split("=", 1)
        try:
            options["model_options"][key] = json.loads(raw)
        except json.JSONDecodeError:
            options["model_options"][key] = raw
    if isinstance(options["truth"], str):
        try:
            options["truth"] = json.loads(options["truth"])
        except json.JSONDecodeError as err:
            raise CLIError(f"--truth is not valid JSON: {err}") from err
    for key in ("seeds", "m", "budget"):
        if options[key] is not None and int(options[key]) <= 0:
            raise CLIError(f"--{key} must be a positive integer, got {options[key]}")
    if options["n"] is not None:
        if any(int(n) <= 0 for n in options["n"]):
            raise CLIError(f"--n must be positive integers, got {options['n']}")
        options["n"] = sorted(int(n) for n in options["n"])
    options["command"] = args.command
    if args.command == "compare" and options["truth"] is not None:
        raise CLIError("compare scores predictors on a data set without a known truth: --truth "
                       "contradicts it (use `bayesvol regret --truth ...`)")
    if args.command == "volume" and options.get("methods") is not None and not options["methods"]:
        raise CLIError("--methods needs at least one of: laplace nested")
    if options["out"] is None:
        options["out"] = Path("bayesvol-out") / (args.command or "run")
    options["out"] = Path(options["out"])
    return options


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
            raise CLIError(f"unknown model {spec!r}; the zoo has: {', '.join(sorted(zoo))} "
                           "(or give path/to/file.py:model)")
        try:
            return zoo[spec](**model_options)
        except TypeError as err:
            raise CLIError(f"bad option for model {spec!r}: {err}") from err
    path_text, _, name = spec.rpartition(":") if ":" in spec else (spec, "", "model")
    path = Path(path_text)
    if not path.is_file():
        raise CLIError(f"model file {path_text!r} not found")
    module_spec = importlib.util.spec_from_file_location(path.stem, path)
    if module_spec is None or module_spec.loader is None:
        raise CLIError(f"cannot import {path_text!r} as a Python file")
    module = importlib.util.module_from_spec(module_spec)
    try:
        module_spec.loader.exec_module(module)
    except Exception as err:
        raise CLIError(f"importing {path_text!r} failed: {type(err).__name__}: {err}") from err
    if not hasattr(module, name):
        public = [k for k in vars(module) if not k.startswith("_") and callable(vars(module)[k])]
        raise CLIError(f"{path_text!r} has no function {name!r}; it defines {public}")
    return _as_zoo_model(getattr(module, name), name, module, model_options)


def _as_zoo_model(obj: Any, name: str, module: Any, model_options: dict[str, Any]) -> Any:
    import jax

    import bayesvol as bv
    from bayesvol.model.model_class import prior_sample
    from bayesvol.model.problem import Facts, Problem

    if isinstance(obj, Problem):
        return obj
    if not callable(obj):
        raise CLIError(f"{name!r} is not a NumPyro model function")
    try:  # a factory of a Problem returns one; a NumPyro model fails outside NumPyro's handlers
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

    mc = bv.ModelClass(obj, **covariates(jax.random.PRNGKey(0), 4, None))
    truth = prior_sample(mc, jax.random.PRNGKey(12345))
    return Problem(name=name, model=obj, true_params=truth, covariates=covariates,
                    facts=Facts(dim=mc.dim, notes="user model"))


def _set_truth(zoo: Any, truth: dict[str, Any] | None) -> Any:
    if truth is None:
        return zoo
    import dataclasses

    import jax.numpy as jnp

    from bayesvol.model.model_class import ModelClassError

    params = {k: jnp.asarray(v, dtype=float) for k, v in truth.items()}
    try:
        zoo.model_class.flatten(params)  # validates names, shapes and support with a clear message
    except ModelClassError as err:
        raise CLIError(f"--truth: {err}") from err
    return dataclasses.replace(zoo, true_params=params)


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
    """Entry point of the ``bayesvol`` console script."""
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or (argv[0].startswith("-") and argv[0] not in ("-h", "--help")):
        argv = ["run", *argv]
    args = parser.parse_args(argv)
    debug = bool(getattr(args, "debug", False))
    _host_devices()
    _file_backend()
    try:
        options = resolve_options(args)
        from bayesvol.app import experiments

        if args.command == "models":
            result = experiments.list_models(None, options)
        else:
            if args.command == "run":  # the embedded default: over-parameterized, simple truth
                zoo = load_model("polynomial_regression", {"degree": 40, "sigma": 0.5})
            else:
                zoo = _set_truth(load_model(options["model"], options["model_options"]), options["truth"])
            result = experiments.COMMANDS[args.command](zoo, options)
        if options["json"]:
            from bayesvol.app.report import jsonable

            json.dump(jsonable(result), sys.stdout, indent=2)
            print()
        return 0
    except CLIError as err:
        if debug:
            raise
        print(f"bayesvol: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("bayesvol: interrupted; finished cells are saved in the output folder", file=sys.stderr)
        return 130
    except Exception as err:
        if debug:
            raise
        message = str(err).splitlines()[0] if str(err) else ""
        print(f"bayesvol: error: {type(err).__name__}: {message}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
