"""`bayesvol network` and `bayesvol architectures`: real networks on real data through the whole framework.

``network``: a tanh MLP (the zoo's ``mlp_classification``; 64 → 128 → 10 on digits, d = 9,610) on a
bundled data set, taken through :func:`bayesvol.regret.agnostic.network_study` — θ* (``--projection``: the MAP
on every row by default, attained; or the ERM), its held-out log loss, the Laplace volume curve at θ*,
k_eff(n), B_n, and the excess log loss and prequential code length of the approximate mixtures and ERM over
n, on the data's labels and, with ``--labels data theta_star``, on the realizable surrogate (labels drawn from
P_θ*, where B_n is a theorem for the Bayes mixture), every piece written as it finishes.

``architectures``: four classes of (nearly) equal parameter count on the same data — a deep narrow MLP, a
shallow wide MLP, random features (first layer frozen) and the linear (multinomial logistic) class — each
taken through the same study; per class the Fisher spectrum at θ*, its complexity range, Comp(t), k_eff(n)
and the measured regret, a table, one figure, and the sentence that reads the table computed from it.
On a character sequence (``--data python-stdlib-text``) the rows are next-character predictions from the
:data:`CONTEXT` previous characters of a prefix (:func:`context_rows`), and a fifth class joins: the zoo's
one-head attention model on the context's tokens, its embedding width chosen to match the count (the four
others read the context one-hot).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import jax
import numpy as np

from bayesvol.errors import InputError

__all__ = [
    "ARCHITECTURES",
    "CONTEXT",
    "NETWORK_COSTS",
    "SEQUENCE_ROWS",
    "ContextRows",
    "architecture_model",
    "architecture_sizes",
    "architectures_command",
    "complexity_range",
    "context_rows",
    "interpolation_clause",
    "network_command",
    "network_model",
    "plot_architectures",
    "plot_network",
]

DEFAULT_WIDTHS = (128,)
"""The default MLP: one hidden layer of 128 tanh units (64 → 128 → 10 on digits: d = 9,610)."""

NETWORK_COSTS: dict[str, dict[str, Any]] = {
    # low rank + prior: the top 10 GGN directions by 20 Lanczos steps, 100 MC draws of the linearized
    # logits; the MAP by at most 100 L-BFGS iterations per start (at 500 one seed took over 10 minutes);
    # two starts, because erm's first start is z = 0, a stationary point of a tanh MLP where L-BFGS stops
    # after one iteration (measured: objective log 10, 1 iteration)
    "laplace_ggn": {"rank": 10, "curvature_method": "lanczos", "num_matvecs": 20, "num_starts": 2,
                    "num_mc": 100, "map_maxiter": 100},
    # 4 members, Adam (lr 1e-2, batch 32) to ‖∇‖ < 1e-2 or 1,000 steps
    "sgd_ensemble": {"num_members": 4, "sgd_max_steps": 1000, "sgd_tol": 1e-2, "learning_rate": 1e-2},
    # 100 draws (500 burn-in steps, thin 5, batch 32) from the MAP of 2 starts (z = 0 is a stationary point
    # of the tanh MLP) at ≤ 100 L-BFGS iterations; GGN-diagonal preconditioner and Lanczos λ_max (d > 1,000):
    # 1.1 GB peak, 11.8 s per fit at n = 1,797 under load 12 (was 10.5 GB with the dense Hessian, stopped)
    "sgld": {"fit_kwargs": {"num_samples": 100}, "map_starts": 2, "map_maxiter": 100},
    # gradient descent with backtracking from a prior draw, at most 300 steps
    "erm_gd": {"gd_max_steps": 300},
}
"""The budgets of the default study (chosen so that it fits 15 minutes on 2 cores; see RESULTS.md)."""

DEFAULT_PREDICTORS = ("laplace_ggn", "sgd_ensemble", "sgld", "erm_gd")
QUICK_COSTS: dict[str, dict[str, Any]] = {
    "laplace_ggn": {"rank": 5, "curvature_method": "lanczos", "num_matvecs": 8, "num_starts": 2,
                    "num_mc": 50, "map_maxiter": 20},
    "sgd_ensemble": {"num_members": 2, "sgd_max_steps": 100, "sgd_tol": 1e-1, "learning_rate": 1e-2},
    "sgld": {"fit_kwargs": {"num_samples": 20, "num_burnin": 50}, "map_starts": 2, "map_maxiter": 20},
    "erm_gd": {"gd_max_steps": 30},
}
QUICK_FIT: dict[str, dict[str, Any]] = {"erm": {"adam_steps": 100, "lbfgs_steps": 20},
                                        "map": {"maxiter": 100}}
NETWORK_LABELS = ("data",)
"""`bayesvol network` measures the regret on the data's labels; ``--labels data theta_star`` adds the
realizable surrogate (it doubles the regret's cost, which the 15-minute default study has no room for)."""
ARCHITECTURE_LABELS = ("data",)
"""`bayesvol architectures` measures it on the data's labels (``--labels`` adds the surrogate)."""


# ------------------------------------------------------------------------------------------------
# helpers of the commands (app.experiments imports this module, so nothing here imports it back)
def _report(options: Mapping[str, Any], title: str) -> Any:
    from bayesvol.app.report import Report

    return Report(Path(options["out"]), title=title, provenance=options.get("_provenance"),
                  clear=tuple(options.get("_clear") or ()))


def _dataset(options: Mapping[str, Any]) -> Any:
    """The data set the CLI loaded (``experiments.load_data``), passed as ``options["_dataset"]``."""
    data = options.get("_dataset")
    if data is None:
        raise InputError("the network commands take their data set as options['_dataset'] (bayesvol.app."
                         "experiments.load_data(name)); the command line loads --data")
    return data


@contextmanager
def _steps(total: int, description: str, options: Mapping[str, Any]) -> Iterator[Callable[[str], None]]:
    """A bar over the pieces (bayesvol.progress: on a terminal, never under --json); step(label) advances."""
    from bayesvol.progress import Progress

    done = [0]
    with Progress(not options.get("json"), description, total=total) as bar:
        def step(label: str) -> None:
            done[0] += 1
            bar.update_to(done[0], label)

        yield step


def _fmt(mean: float, se: float | None = None) -> str:
    """The tables' number format (the same as ``experiments._fmt``, which this module cannot import)."""
    if not np.isfinite(mean):
        return "∞" if mean == np.inf else "–"
    if abs(mean) >= 1e4:
        return f"{mean:.2e}" if se is None or not np.isfinite(se) else f"{mean:.1e} ± {se:.0e}"
    if se is None or not np.isfinite(se):
        return f"{mean:8.2f}"
    return f"{mean:7.2f} ± {se:4.2f}"


def network_model(data: Any, widths: Sequence[int] = DEFAULT_WIDTHS, **options: Any) -> Any:
    """The zoo's tanh MLP sized to ``data`` (classification for class labels, else regression)."""
    from bayesvol.model.problem import registry

    name = "mlp_regression" if data.task == "regression" else "mlp_classification"
    sizes = ({"d_in": data.x.shape[1], "d_out": 1} if data.task == "regression"
             else {"d_in": data.x.shape[1], "d_out": int(data.num_classes or 2)})
    return registry()[name](widths=list(widths), **{**options, **sizes})


def _targets(zoo: Any, data: Any) -> np.ndarray:
    return data.y[:, None] if data.task == "regression" else data.y


def _default_ns(rows: int, count: int = 6, first: int = 50) -> list[int]:
    return sorted({round(v) for v in np.geomspace(min(first, rows), rows, count)})


def _quick_rows(data: Any, rows: int) -> Any:
    """Tests: an evenly spread subset of the rows (some sets are sorted by class), recorded in every file."""
    import dataclasses

    keep = np.linspace(0, data.x.shape[0] - 1, min(rows, data.x.shape[0])).astype(int)
    return dataclasses.replace(data, x=data.x[keep], y=data.y[keep])


def _projection_and_labels(options: Mapping[str, Any], default_labels: Sequence[str]
                           ) -> tuple[str, list[str]]:
    """``--projection`` (default map) and ``--labels`` (default ``default_labels``), checked."""
    from bayesvol.regret.agnostic import LABELS, PROJECTIONS

    projection = options.get("projection") or "map"
    if projection not in PROJECTIONS:
        raise InputError(f"--projection must be one of {', '.join(PROJECTIONS)} (θ* by the MAP on every row, "
                         f"or by ERM), got {projection!r}")
    labels = options.get("labels") or list(default_labels)
    labels = [labels] if isinstance(labels, str) else list(labels)
    bad = [one for one in labels if one not in LABELS]
    if bad or not labels or len(set(labels)) != len(labels):
        raise InputError(f"--labels must be distinct values from {', '.join(LABELS)} (the data's labels; "
                         f"labels drawn from P_θ*, the realizable surrogate), got {labels!r}")
    return projection, labels


def _label_suffix(labels: str) -> str:
    return "" if labels == "data" else f"_{labels}"


def _study(zoo: Any, data: Any, options: Mapping[str, Any], key: Any, ns: list[int], seeds: list[int],
           predictors: Sequence[str], report: Any, prefix: str, step: Any, projection: str = "map",
           labels: Sequence[str] = ("data",)) -> Any:
    """One network_study, writing each piece into ``report`` as it finishes."""
    from bayesvol.regret.agnostic import network_study

    quick = bool(options.get("_quick"))
    costs = QUICK_COSTS if quick else NETWORK_COSTS

    def on_piece(name: str, value: Any) -> None:
        if name == "projection":
            report.add_results(**{f"{prefix}projection": _fit_row(value)})
        elif name == "heldout":
            report.add_results(**{f"{prefix}heldout": {"log_loss": value.log_loss, "stderr": value.stderr,
                                                       "train_rows": value.train_rows,
                                                       "test_rows": value.test_rows, **_fit_row(value.fit)}})
        elif name == "volume":
            report.add_dataset(f"{prefix}volume_laplace", value[0].to_xarray())
        elif name == "regret":
            report.add_dataset(f"{prefix}regret{_label_suffix(value[0])}", value[1])
        step(f"{prefix}{name}")

    def on_seed_result(seed: int, ds: Any) -> None:
        report.add_dataset(f"{prefix}regret{_label_suffix(ds.attrs['labels'])}_seed{seed}", ds)

    return network_study(
        zoo.model_class, _targets(zoo, data), ns, seeds, predictors, key=key,
        volume_rows=int(options.get("m") or 200), num_test=50 if quick else 200,
        fit_options=QUICK_FIT[projection] if quick else None,
        predictor_options={p: costs.get(p, {}) for p in predictors}, on_piece=on_piece,
        on_result=lambda name, n, seed, s: step(f"{prefix}{name} n={n} seed {seed}"),
        on_seed_result=on_seed_result, projection=projection, labels=list(labels),
        **_covariates(zoo, data))


def _covariates(zoo: Any, data: Any) -> dict[str, Any]:
    """The per-row covariate the class reads: the context's tokens for attention, else the features x."""
    return {"tokens": data.tokens} if zoo.name == "attention" else {"x": data.x}


def _fit_row(fit: Any) -> dict[str, Any]:
    return {"rule": fit.rule, "train_log_loss": fit.loss, "objective": fit.objective,
            "grad_norm": fit.grad_norm, "loss_grad_norm": fit.loss_grad_norm, "adam_steps": fit.adam_steps,
            "lbfgs_steps": fit.lbfgs_steps, "seconds": fit.seconds}


LABEL_NAMES = {"data": "data labels", "theta_star": "labels ~ P_θ*"}
"""How a row's labels are named in the tables, figures and sentences."""


def plot_network(study: Any, dim: int, title: str = "") -> Any:
    """One figure: the excess prequential code length and r(n) against the bounds, nats.

    Left: the excess prequential code length (cumulative regret) with B_n and the ball bound; right: the
    batch excess log loss r(n) with B_n / n; means ± 2 s.e. over seeds. Solid lines: the data's labels;
    dashed: the realizable surrogate (labels drawn from P_θ*), where B_n bounds the Bayes mixture.
    """
    import matplotlib
    from matplotlib.figure import Figure

    from bayesvol.app.plots import STYLE

    ns = np.asarray(study.ns)
    with matplotlib.rc_context(STYLE):
        fig = Figure(layout="constrained", figsize=(10, 4))
        left, right = fig.subplots(1, 2)
    for labels, ds in _regrets(study).items():
        style = "-" if labels == "data" else "--"
        for i, name in enumerate(ds.predictor.values):
            color = f"C{i}"
            for ax, var in ((left, "excess_code_length"), (right, "regret")):
                mean = ds[f"{var}_mean"].sel(predictor=name).values
                se = np.nan_to_num(ds[f"{var}_stderr"].sel(predictor=name).values)
                ax.plot(ns, mean, style, marker="o", ms=3, color=color,
                        label=f"{name} ({LABEL_NAMES[labels]})")
                ax.fill_between(ns, mean - 2 * se, mean + 2 * se, color=color, alpha=0.15, lw=0)
    bound, ball = np.asarray(study.bounds.gibbs), np.asarray(study.bounds.ball)
    left.plot(ns, bound, "k-", lw=2, label="B_n (Laplace volume at θ*)")
    left.plot(ns, ball, "k:", lw=1.5, label="min_t [nt + Comp(t)]")
    right.plot(ns, bound / ns, "k-", lw=2, label="B_n / n")
    left.set_ylabel("excess prequential code length vs P_θ* (nats)")
    right.set_ylabel("excess test log loss r(n) vs P_θ* (nats)")
    for ax in (left, right):
        ax.set_xscale("log")
        # symlog (an excess log loss may be negative) linear only below the smallest positive value drawn
        values = np.concatenate([np.asarray(line.get_ydata(), dtype=float) for line in ax.get_lines()])
        positive = values[np.isfinite(values) & (values > 0)]
        floor = 10.0 ** np.floor(np.log10(positive.min())) if positive.size else 1e-2
        ax.set_yscale("symlog", linthresh=floor)
        ax.set_xlabel("n (training rows)")
    left.legend(fontsize=6)
    right.legend(fontsize=6)
    fig.suptitle(title or f"d = {dim:,}", fontsize=9)
    return fig


def _regrets(study: Any) -> dict[str, Any]:
    return dict(study.regrets) if study.regrets else {study.regret.attrs.get("labels", "data"): study.regret}


def _regret_rows(study: Any, labels: str | None = None) -> list[dict[str, Any]]:
    """One row per n (and labels): k_eff, B_n, and per predictor r_n, the excess code and its relation to B_n.

    ``labels`` None: every labels the study measured, in order.
    """
    regrets = _regrets(study)
    rows = []
    for one in ([labels] if labels is not None else list(regrets)):
        ds = regrets[one]
        for i, n in enumerate(study.ns):
            row: dict[str, Any] = {"labels": one, "n": n, "k_eff": float(study.k_eff[i]),
                                   "B_n": float(study.bounds.gibbs[i]), "ball": float(study.bounds.ball[i])}
            for p in ds.predictor.values:
                sel = ds.sel(predictor=p, n=n)
                row[f"r_n {p}"] = float(sel.regret_mean)
                row[f"r_n {p} se"] = float(sel.regret_stderr)
                row[f"excess code {p}"] = float(sel.excess_code_length_mean)
                row[f"excess code {p} se"] = float(sel.excess_code_length_stderr)
                row[f"excess code {p} vs B_n"] = _relation(row[f"excess code {p}"], row["B_n"])
                row[f"code bits {p}"] = float(sel.code_length_mean) / np.log(2.0)
            rows.append(row)
    return rows


def network_command(zoo: Any, options: Mapping[str, Any]) -> dict[str, Any]:
    """The agnostic pipeline on a network (see the module docstring)."""
    data = _dataset(options)
    quick = bool(options.get("_quick"))
    if quick:
        data = _quick_rows(data, 120)
    projection, labels = _projection_and_labels(options, NETWORK_LABELS)
    if zoo is None:
        zoo = network_model(data, **dict(options.get("option") or {}))
    rows = data.x.shape[0]
    ns = list(options.get("n") or (_default_ns(rows, 3, 20) if quick else _default_ns(rows)))
    if ns[-1] > rows:
        raise InputError(f"--n {ns[-1]} exceeds the {rows} rows of {data.name}")
    seeds = list(range(int(options.get("seeds") or (2 if quick else 5))))
    predictors = tuple(options.get("predictors") or DEFAULT_PREDICTORS)
    report = _report(options, f"bayesvol network — {zoo.name} (d = {zoo.dim:,}) on {data.name}")
    started = time.perf_counter()
    load, cpu_start = _load_average(), _cpu_seconds()
    with _steps(3 + len(labels) * (1 + len(ns) * len(seeds) * len(predictors)), "network", options) as step:
        study = _study(zoo, data, options, jax.random.PRNGKey(int(options.get("seed") or 0)), ns, seeds,
                       predictors, report, "", step, projection, labels)
    total = time.perf_counter() - started
    rows_table = _regret_rows(study)
    per_predictor = {f"regret {p}" + ("" if one == "data" else f" ({one})"):
                     float(np.nansum(ds.seconds.sel(predictor=p).values))
                     for one, ds in _regrets(study).items() for p in ds.predictor.values}
    curve = study.curve
    result = {
        "command": "network", "data": data.name, "rows": rows, "model": zoo.name, "dim": zoo.dim,
        "widths": list(zoo.options.get("widths", ())), "ns": ns, "seeds": seeds,
        "predictors": list(predictors), "labels": labels,
        "costs": {p: (QUICK_COSTS if quick else NETWORK_COSTS).get(p, {}) for p in predictors},
        "projection": _fit_row(study.projection), "interpolates": study.interpolates,
        "heldout": {"log_loss": study.heldout.log_loss, "stderr": study.heldout.stderr,
                    "train_rows": study.heldout.train_rows, "test_rows": study.heldout.test_rows,
                    **_fit_row(study.heldout.fit)},
        "volume_rows": study.volume_rows, "curvature": curve.diagnostics.curvature_method
        if hasattr(curve.diagnostics, "curvature_method") else None,
        "top_eigenvalues": np.sort(np.asarray(curve.eigenvalues))[::-1][:10],
        "table": rows_table,
        "seconds": {**study.seconds, **per_predictor, "total": total},
        "load_average": {"start": load, "end": _load_average()},
        "cpu_seconds": _cpu_seconds() - cpu_start,
    }
    result["interpretation"] = _network_sentence(result, study)
    report.add_results(**result)
    report.add_text("Summary", result["interpretation"])
    report.add_table("Regret against P_θ* (nats; labels: the data's, or drawn from P_θ* — the realizable "
                     "surrogate; code bits = total prequential code length)", rows_table)
    report.add_figure("network", plot_network(study, zoo.dim, f"{zoo.name} (d = {zoo.dim:,}) on {data.name}"),
                      "Excess prequential code length and excess test log loss against P_θ*, with the "
                      "Laplace-volume bounds; means ± 2 s.e. over seeds; solid: the data's labels, dashed: "
                      "labels drawn from P_θ* (where B_n bounds the Bayes mixture)")
    html_path = report.write_html()
    if not options.get("json"):
        _print_network(result, html_path)
    return result


def _cpu_seconds() -> float:
    """CPU time of this process (user + system, all threads).

    On a loaded machine it is closer than the wall time to what a quiet one would take.
    """
    import resource

    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _load_average() -> float | None:
    import os

    try:
        return float(os.getloadavg()[0])
    except OSError:
        return None


_RULE_WORDS = {"map": "the MAP on all {rows:,} rows of {data}, the prior as weight decay",
               "erm": "ERM on all {rows:,} rows of {data}"}


def _network_sentence(result: Mapping[str, Any], study: Any) -> str:
    """The summary, computed from the result's numbers.

    θ*, its held-out loss, k_eff and B_n, and per labels each predictor's excess code and its relation to
    B_n (a bound only on the surrogate).
    """
    n, d = result["ns"][-1], result["dim"]
    proj, held = result["projection"], result["heldout"]
    rule = _RULE_WORDS[proj["rule"]].format(rows=result["rows"], data=result["data"])
    lasts = {r["labels"]: r for r in result["table"] if r["n"] == n}
    first = next(iter(lasts.values()))
    text = (
        f"θ* ({rule}) reaches a training log loss of {proj['train_log_loss']:.3g} nats per row with ‖∇‖ = "
        f"{proj['grad_norm']:.2g} (of the {'penalized ' if proj['rule'] == 'map' else ''}objective); fitted "
        f"by the same rule on {held['train_rows']:,} rows it scores {held['log_loss']:.3f} ± "
        f"{held['stderr']:.3f} nats on the other {held['test_rows']:,}. At θ* the Laplace volume curve gives "
        f"k_eff({n:,}) = {first['k_eff']:.3g} of d = {d:,} and B_n = {first['B_n']:.3g} nats."
    )
    if proj["rule"] == "map":  # the curve is the KL from P_θ*, not the excess log loss (ARCHITECTURE.md)
        text += (f" The log loss alone has ‖∇‖ = {proj['loss_grad_norm']:.2g} at θ* (the prior's pull): the "
                 "excess log loss L(θ) − L(θ*) has this linear term, so its sublevel sets are not balls "
                 "around θ*, and the volume curve is that of D(P_θ*‖P_θ), zero with zero gradient at θ*.")
    for labels, last in lasts.items():
        parts = []
        for p in result["predictors"]:
            se = last[f"excess code {p} se"]
            parts.append(f"{p} {last[f'excess code {p}']:.3g}" + (f" ± {se:.2g}" if np.isfinite(se) else "")
                         + f" ({last[f'excess code {p} vs B_n']} B_n)")
        if labels == "data":
            text += (" On the data's labels (θ* is not the truth: B_n is a reference, not a bound) the "
                     f"excess prequential code length at n = {n:,} is " + "; ".join(parts) + ".")
        else:
            text += (" On labels drawn from P_θ* (the realizable surrogate: P_θ* is the truth, and the exact "
                     "Bayes mixture's expected excess code is ≤ B_n, here B_n's Laplace approximation over "
                     f"{result['volume_rows']} rows) it is " + "; ".join(parts) + ".")
    return text + interpolation_clause(["network"] if study.interpolates else [])


def _relation(measured: float, bound: float) -> str:
    if not np.isfinite(measured):
        return "infinite, above"
    if measured <= bound:
        return f"{bound / max(measured, 1e-300):.3g}× below" if measured > 0 else "below"
    return f"{measured / max(bound, 1e-300):.3g}× above" if bound > 0 else "above"


def _print_network(result: Mapping[str, Any], html_path: Path) -> None:
    proj, held = result["projection"], result["heldout"]
    print(f"{result['model']} (widths {result['widths']}, d = {result['dim']:,}) on {result['data']} "
          f"({result['rows']:,} rows); {len(result['seeds'])} seeds; nats")
    how = (f"MAP by L-BFGS ({proj['lbfgs_steps']} steps)" if proj["rule"] == "map" else
           f"ERM by Adam ({proj['adam_steps']} steps) then L-BFGS ({proj['lbfgs_steps']} steps)")
    linear = f" (of the log loss alone {proj['loss_grad_norm']:.2g})" if proj["rule"] == "map" else ""
    print(f"θ*: {how}: train log loss {proj['train_log_loss']:.3g}, ‖∇‖ = {proj['grad_norm']:.2g}{linear}; "
          "held-out "
          f"log loss {held['log_loss']:.3f} ± {held['stderr']:.3f} (train {held['train_rows']:,} / test "
          f"{held['test_rows']:,} rows)")
    print(f"Laplace volume at θ* over {result['volume_rows']} rows; top a_i: "
          + ", ".join(f"{v:.3g}" for v in result["top_eigenvalues"][:5]))
    predictors = result["predictors"]
    print(f"{'labels':>13} {'n':>6} {'k_eff':>8} {'B_n':>9} "
          + " ".join(f"{'r_n ' + p:>18} {'excess code ' + p:>26}" for p in predictors))
    for r in result["table"]:
        cells = " ".join(f"{_fmt(r[f'r_n {p}'], r[f'r_n {p} se']):>18} "
                         f"{_fmt(r[f'excess code {p}'], r[f'excess code {p} se']):>26}" for p in predictors)
        print(f"{LABEL_NAMES[r['labels']]:>13} {r['n']:>6} {r['k_eff']:8.3g} {r['B_n']:9.3g} {cells}")
    seconds = result["seconds"]
    print("seconds: " + ", ".join(f"{k} {v:.0f}" for k, v in seconds.items()) +
          f"; CPU {result['cpu_seconds']:.0f} s (load average {result['load_average']['start']:.1f} → "
          f"{result['load_average']['end']:.1f})")
    print(result["interpretation"])
    print(f"Report: {html_path}")


# ------------------------------------------------------------------------------------------------
# architectures compared by complexity range
ARCHITECTURES: dict[str, str] = {
    "one-head attention": "the zoo's one softmax attention head over the context's tokens (sequences only; "
                          "its width is the embedding's)",
    "deep narrow MLP": "three tanh hidden layers of equal width",
    "shallow wide MLP": "one tanh hidden layer",
    "random features": "one tanh hidden layer drawn once and frozen; only the output layer is learned",
    "linear": "multinomial logistic regression on the inputs (no hidden layer)",
}
"""The architectures `bayesvol architectures` compares, at (nearly) equal parameter count."""

DEPTH = 3
"""Hidden layers of the deep narrow MLP."""

CONTEXT = 4
"""Characters of context of the sequence rows: each character is predicted from the 4 before it."""

SEQUENCE_ROWS = 1_000
"""Rows (characters) of the default sequence study, a prefix of the text: the default run took 5:13 wall and
489 s of CPU on 2 quiet cores (35 min wall at load 17 on shared ones; RESULTS.md)."""

QUICK_SEQUENCE_ROWS = 300
"""BAYESVOL_QUICK (tests): a 300-character prefix."""

ATTENTION_EMBED = 16
"""On sequences the common count P is the attention model's at embedding width 16 (2·K·16 + 2·16²: 2,304
for K = 56 tokens), which keeps every class but the linear one on the dense curvature path (d ≤ 3,000).
The one-hot linear class has (L·K + 1)·K = 12,600 parameters; matching it (embedding width 56) took 51 s
for θ* alone and over 3 minutes for the volume's Gram matrix per class (measured at 200 volume rows), so it
keeps its own count."""

SEQUENCE_PREDICTORS = ("sgd_ensemble",)
"""The sequence study's default approximate mixture. laplace_ggn (the digits default's other) took 92–194 s
per fit on the 1,000 rows × 56 outputs (attention at embedding width 56, d = 12,544; one seed: 577 s, at
load 12–17 on 2 cores): add it with --predictors laplace_ggn sgd_ensemble."""

SEQUENCE_VOLUME_ROWS = 50
"""On sequences D is averaged over 50 rows by default (50 rows × K ≈ 56 outputs ≈ 2,800 Gram columns for the
linear class, against 200 × 10 on digits), unless --m says otherwise."""


@dataclasses.dataclass(frozen=True)
class ContextRows:
    """Next-character rows of a sequence prefix: y_i = s_i predicted from (s_{i−L}, …, s_{i−1}).

    The alphabet is the prefix's own V characters; token V is the start symbol that pads the first L
    contexts (as ``bayesvol sequence``'s attention model), so there are K = V + 1 tokens. ``tokens``
    (rows × L integers) feed the attention model, ``x`` (rows × L·K, one-hot floats) every other class;
    the classes are the K tokens (the start symbol is never a target), the same for every architecture.
    """

    name: str
    tokens: np.ndarray
    x: np.ndarray
    y: np.ndarray
    alphabet: list[str]
    task: str = "multiclass"

    @property
    def length(self) -> int:
        """The context length L."""
        return int(self.tokens.shape[1])

    @property
    def vocab(self) -> int:
        """K = V + 1 tokens: the prefix's characters and the start symbol."""
        return len(self.alphabet) + 1

    @property
    def num_classes(self) -> int:
        """The classes of every architecture's output: the K tokens."""
        return self.vocab


def context_rows(data: Any, rows: int = SEQUENCE_ROWS, length: int = CONTEXT) -> ContextRows:
    """The first ``rows`` characters of a sequence (``SequenceData``) as next-character rows (ContextRows)."""
    symbols = np.asarray(data.symbols)
    if isinstance(rows, bool) or not isinstance(rows, int | np.integer) or not 2 <= rows <= symbols.size:
        raise InputError(f"rows must be an integer in [2, {symbols.size}] (the symbols of {data.name}), "
                         f"got {rows!r}")
    if isinstance(length, bool) or not isinstance(length, int | np.integer) or length < 1:
        raise InputError(f"length must be a positive integer, got {length!r}")
    present, codes = np.unique(symbols[:rows], return_inverse=True)
    start = present.size
    padded = np.concatenate([np.full(length, start), codes])
    tokens = np.lib.stride_tricks.sliding_window_view(padded, length)[:rows].astype(np.int32)
    x = np.eye(start + 1)[tokens].reshape(rows, length * (start + 1))
    return ContextRows(f"{data.name}[:{rows:,}]", tokens, x, codes.astype(np.int32),
                       [data.alphabet[int(c)] for c in present])


def _count(name: str, width: int, d_in: int, d_out: int, vocab: int | None = None) -> int:
    """Parameters of each architecture (the zoo's counts: Σ (fan_in + 1)·fan_out over learned layers).

    Attention at embedding width e: E (vocab × e), W_q and W_k (e × e), W_o (e × d_out).
    """
    if name == "one-head attention":
        if vocab is None:
            raise InputError("the attention architecture needs the vocabulary size (a token data set)")
        return vocab * width + 2 * width * width + width * d_out
    if name == "deep narrow MLP":
        return (d_in + 1) * width + (DEPTH - 1) * (width + 1) * width + (width + 1) * d_out
    if name == "shallow wide MLP":
        return (d_in + 1) * width + (width + 1) * d_out
    if name == "random features":
        return (width + 1) * d_out
    return (d_in + 1) * d_out


def _best_width(name: str, target: int, d_in: int, d_out: int, vocab: int | None = None) -> int:
    """The width whose count is closest to ``target`` (counts grow with the width)."""
    width = 1
    while _count(name, width + 1, d_in, d_out, vocab) <= target:
        width += 1
    above = width + 1
    return min((width, above), key=lambda w: abs(_count(name, w, d_in, d_out, vocab) - target))


def architecture_sizes(d_in: int, d_out: int, tolerance: float = 0.05, vocab: int | None = None,
                       embed: int | None = None) -> dict[str, dict[str, Any]]:
    """Widths that give every architecture nearly the same parameter count P.

    The linear class has (d_in + 1)·d_out parameters whatever we do, so P is searched within ±tolerance of
    it: the P whose worst relative deviation |d_arch − P| / P (each architecture at its best integer
    width) is smallest. With ``vocab`` (token data: d_in = L·vocab one-hot inputs) the one-head attention
    model joins, at the embedding width that matches P. With ``embed`` too, P is searched around the
    attention model's count at that width instead, and the linear class, which cannot be resized, keeps
    its own count (its deviation is reported and left out of the search): on one-hot contexts it has
    (L·K + 1)·K parameters, far more than the other classes can afford to be. Returns, per architecture,
    its width (None for linear), d and deviation from P.
    """
    linear = (d_in + 1) * d_out
    names = [name for name in ARCHITECTURES if vocab is not None or name != "one-head attention"]
    centre = linear if embed is None else _count("one-head attention", embed, d_in, d_out, vocab)
    matched = [name for name in names if embed is None or name != "linear"]
    best: tuple[float, int, dict[str, dict[str, Any]]] | None = None
    for target in range(int(np.floor(centre * (1 - tolerance))), int(np.ceil(centre * (1 + tolerance))) + 1):
        sizes: dict[str, dict[str, Any]] = {}
        for name in names:
            if name == "linear":
                width, d = None, linear
            else:
                width = _best_width(name, target, d_in, d_out, vocab)
                d = _count(name, width, d_in, d_out, vocab)
            sizes[name] = {"width": width, "dim": d, "deviation": (d - target) / target, "target": target}
        worst = max(abs(sizes[name]["deviation"]) for name in matched)
        if best is None or worst < best[0]:
            best = (worst, target, sizes)
    assert best is not None
    return best[2]


def architecture_model(name: str, width: int | None, data: Any) -> Any:
    """The zoo class of architecture ``name`` (in :data:`ARCHITECTURES`) at ``width``, fit to ``data``.

    Attention needs token rows (:class:`ContextRows`); the others read ``data.x``.
    """
    from bayesvol.model.problem import registry

    d_in, d_out = data.x.shape[1], int(data.num_classes or 2)
    zoo = registry()
    if name == "one-head attention":
        if not isinstance(data, ContextRows):
            raise InputError(f"the attention architecture reads token rows (a character sequence), not "
                             f"{getattr(data, 'name', type(data).__name__)}")
        return zoo["attention"](vocab=data.vocab, length=data.length, embed=width)
    if name == "random features":
        return zoo["random_features"](d_in=d_in, width=width, d_out=d_out)
    widths = [] if name == "linear" else [width] * (DEPTH if name == "deep narrow MLP" else 1)
    return zoo["mlp_classification"](d_in=d_in, widths=widths, d_out=d_out)


def complexity_range(eigenvalues: Any, n: float) -> dict[str, float]:
    """The complexity range of a prior-whitened Fisher spectrum at sample size n.

    With λ_k = eig(Σ F) (Σ the prior covariance, so n·λ_k is n·λ_k(F)·σ²_prior in a direction where the
    prior has variance σ²), direction k is resolved by n data when n·λ_k > 1 (the data's curvature beats the
    prior's). The complexity range is the number of decades the resolved eigenvalues span,
    log₁₀(λ_max / min{λ_k : n·λ_k > 1}) (0 when at most one direction is resolved); ``decades_above_prior``
    is log₁₀(n·λ_max) (how far the top rises above the prior's scale) and ``resolved`` the count.
    """
    lam = np.sort(np.asarray(eigenvalues, dtype=float).reshape(-1))[::-1]
    resolved = lam[n * lam > 1.0]
    top = float(lam[0]) if lam.size else 0.0
    return {"complexity_range": float(np.log10(resolved[0] / resolved[-1])) if resolved.size > 1 else 0.0,
            "decades_above_prior": float(np.log10(n * top)) if top > 0 else float("-inf"),
            "resolved": int(resolved.size)}


def plot_architectures(studies: Mapping[str, Any], n: int) -> Any:
    """Spectra n·λ_i by rank with the prior's scale (left) and Comp(t) = −log V(t) (right), per class."""
    import matplotlib
    from matplotlib.figure import Figure

    from bayesvol.app.plots import STYLE

    with matplotlib.rc_context(STYLE):
        fig = Figure(layout="constrained", figsize=(10, 4))
        left, right = fig.subplots(1, 2)
    for i, (name, study) in enumerate(studies.items()):
        lam = np.sort(2.0 * np.asarray(study.curve.eigenvalues))[::-1]
        lam = lam[lam > 0]
        left.plot(np.arange(1, lam.size + 1), n * lam, color=f"C{i}", label=name)
        right.plot(study.curve.eps2, -np.asarray(study.curve.log_volume), color=f"C{i}", label=name)
    left.axhline(1.0, color="k", ls=":", lw=1, label="prior scale (n·λ = 1)")
    left.set_xscale("log")
    left.set_yscale("log")
    left.set_xlabel("eigenvalue rank k")
    left.set_ylabel(f"n·λ_k, n = {n:,} (prior-whitened Fisher at θ*)")
    right.set_xscale("log")
    right.set_xlabel("t (nats)")
    right.set_ylabel("Comp(t) = −log V(t) (nats)")
    left.legend(fontsize=7)
    right.legend(fontsize=7)
    return fig


def architectures_command(zoo: Any, options: Mapping[str, Any]) -> dict[str, Any]:
    """Architectures of equal parameter count compared by complexity range (see the module docstring)."""
    data = _dataset(options)
    if data.task not in ("binary", "multiclass", "sequence"):
        raise InputError(f"--data: `bayesvol architectures` compares classifiers; {data.name} is {data.task}")
    quick = bool(options.get("_quick"))
    if data.task == "sequence":  # next-character rows of a prefix (the tests': a shorter one, recorded)
        data = context_rows(data, QUICK_SEQUENCE_ROWS if quick else SEQUENCE_ROWS)
        options = {**options, "m": options.get("m") or SEQUENCE_VOLUME_ROWS}
    elif quick:
        data = _quick_rows(data, 120)
    projection, labels = _projection_and_labels(options, ARCHITECTURE_LABELS)
    rows = data.x.shape[0]
    ns = list(options.get("n") or (_default_ns(rows, 2, 20) if quick else _default_ns(rows, 4)))
    if ns[-1] > rows:
        raise InputError(f"--n {ns[-1]} exceeds the {rows} rows of {data.name}")
    seeds = list(range(int(options.get("seeds") or (2 if quick else 3))))
    predictors = tuple(options.get("predictors") or (
        SEQUENCE_PREDICTORS if isinstance(data, ContextRows) else ("laplace_ggn", "sgd_ensemble")))
    sizes = architecture_sizes(data.x.shape[1], int(data.num_classes or 2),
                               **({"vocab": data.vocab, "embed": ATTENTION_EMBED}
                                  if isinstance(data, ContextRows) else {}))
    report = _report(options, f"bayesvol architectures — equal parameter count on {data.name}")
    key = jax.random.PRNGKey(int(options.get("seed") or 0))
    studies: dict[str, Any] = {}
    table = []
    n_last = ns[-1]
    with _steps(len(sizes) * (4 + len(labels) * (1 + len(ns) * len(seeds) * len(predictors))),
                "architectures", options) as step:
        for i, (name, size) in enumerate(sizes.items()):
            arch = architecture_model(name, size["width"], data)
            prefix = name.replace(" ", "_") + "_"
            started = time.perf_counter()
            study = _study(arch, data, options, jax.random.fold_in(key, i), ns, seeds, predictors, report,
                           prefix, step, projection, labels)
            studies[name] = study
            lam = 2.0 * np.asarray(study.curve.eigenvalues)
            cr = complexity_range(lam, n_last)
            last = _regret_rows(study, labels[0])[-1]
            row = {"architecture": name, "width": size["width"], "d": arch.dim,
                   "deviation_%": 100 * size["deviation"], "projection": projection, "labels": labels[0],
                   "train_log_loss": study.projection.loss, "grad_norm": study.projection.grad_norm,
                   "interpolates": study.interpolates,
                   "heldout_log_loss": study.heldout.log_loss, "lambda_max": float(lam.max()),
                   **cr, "k_eff": float(study.k_eff[-1]), "B_n": float(study.bounds.gibbs[-1]),
                   "Comp(1e-2)": float(-np.interp(np.log(1e-2), np.log(study.curve.eps2),
                                                  study.curve.log_volume)),
                   **{f"r_n {p}": last[f"r_n {p}"] for p in predictors},
                   **{f"excess code {p}": last[f"excess code {p}"] for p in predictors},
                   **{f"excess code {p} vs B_n": last[f"excess code {p} vs B_n"] for p in predictors},
                   **{f"excess code {p} ({LABEL_NAMES[one]})": other[f"excess code {p}"]
                      for one in labels[1:] for other in [_regret_rows(study, one)[-1]] for p in predictors},
                   **{f"excess code {p} ({LABEL_NAMES[one]}) vs B_n": other[f"excess code {p} vs B_n"]
                      for one in labels[1:] for other in [_regret_rows(study, one)[-1]] for p in predictors},
                   "seconds": time.perf_counter() - started}
            table.append(row)
            report.add_results(architectures=table)
            step(f"{name} table row")
    result = {"command": "architectures", "data": data.name, "rows": rows, "n": n_last, "ns": ns,
              "seeds": seeds, "predictors": list(predictors), "projection": projection, "labels": labels,
              "depth_of_deep": DEPTH,
              "target_parameters": next(iter(sizes.values()))["target"], "architectures": table}
    if isinstance(data, ContextRows):
        result.update(context=data.length, vocab=data.vocab, alphabet="".join(data.alphabet),
                      volume_rows=int(options["m"]))
    result["interpretation"] = _architectures_sentence(result)
    report.add_results(**result)
    report.add_text("Summary", result["interpretation"])
    report.add_table(f"Architectures at ≈ {result['target_parameters']:,} parameters on {data.name} "
                     f"(θ* by {projection}; spectrum, complexity range, k_eff and B_n at n = {n_last:,}; "
                     f"regret in nats on the {LABEL_NAMES[labels[0]]})", table)
    report.add_figure("architectures", plot_architectures(studies, n_last),
                      "Prior-whitened Fisher spectra at θ* against the prior's scale, and Comp(t)")
    html_path = report.write_html()
    if not options.get("json"):
        print(f"architectures at ≈ {result['target_parameters']:,} parameters on {data.name} ({rows:,} "
              f"rows); θ* by {projection}; at n = {n_last:,}; {len(seeds)} seeds; regret on the "
              f"{LABEL_NAMES[labels[0]]}; nats")
        if isinstance(data, ContextRows):
            print(f"rows: each character from the {data.length} before it; {data.vocab} tokens (the "
                  f"prefix's {data.vocab - 1} characters and a start symbol), one-hot for all but attention")
        keys = ["d", "complexity_range", "decades_above_prior", "resolved", "k_eff", "B_n",
                "heldout_log_loss", *[f"excess code {p}" for p in predictors]]
        name_width = max(17, *(len(r["architecture"]) for r in table))
        print(f"{'architecture':>{name_width}} " + " ".join(f"{k:>{max(9, len(k))}}" for k in keys))
        for r in table:
            print(f"{r['architecture']:>{name_width}} " + " ".join(
                f"{(_fmt(r[k]) if isinstance(r[k], float) else str(r[k])).strip():>{max(9, len(k))}}"
                for k in keys))
        print(result["interpretation"])
        print(f"Report: {html_path}")
    return result


def _architectures_sentence(result: Mapping[str, Any]) -> str:
    table = sorted(result["architectures"], key=lambda r: -r["complexity_range"])
    widest, rest = table[0], table[1:]
    others = ", ".join(f"{r['complexity_range']:.2g} ({r['architecture']})" for r in rest)
    predictor = result["predictors"][0]
    by_regret = sorted(result["architectures"], key=lambda r: r[f"excess code {predictor}"])
    by_keff = sorted(result["architectures"], key=lambda r: r["k_eff"])
    relations = "; ".join(f"{r['architecture']} {r[f'excess code {predictor} vs B_n']}"
                          for r in result["architectures"])
    labels = result.get("labels") or ["data"]
    theorem = ("a theorem for the Bayes mixture here (labels drawn from P_θ*)" if labels[0] == "theta_star"
               else "a reference, not a theorem, on the data's labels (θ* is not the truth)")
    return (
        f"At n = {result['n']:,} on {result['data']}, the {widest['architecture']} has the widest complexity "
        f"range: {widest['complexity_range']:.2g} decades of resolved eigenvalues ({widest['resolved']} "
        f"directions above the prior's scale) vs {others}. k_eff(n) runs from {by_keff[0]['k_eff']:.3g} "
        f"({by_keff[0]['architecture']}) to {by_keff[-1]['k_eff']:.3g} ({by_keff[-1]['architecture']}) at "
        f"d ≈ {result['target_parameters']:,}{_unmatched(result['architectures'])}; the smallest excess "
        f"prequential code length of {predictor} is "
        f"the {_possessive(by_regret[0]['architecture'])} ({by_regret[0][f'excess code {predictor}']:.3g} "
        f"nats), the largest the {_possessive(by_regret[-1]['architecture'])} "
        f"({by_regret[-1][f'excess code {predictor}']:.3g}). "
        f"Against each class's B_n ({theorem}) the excess code of {predictor} is: {relations}."
        + interpolation_clause([r["architecture"] for r in result["architectures"] if r.get("interpolates")])
    )


def _possessive(name: str) -> str:
    """"the linear's", "the random features'"."""
    return f"{name}'" if name.endswith("s") else f"{name}'s"


def _unmatched(table: Sequence[Mapping[str, Any]], tolerance: float = 5.0) -> str:
    """The clause naming the classes whose count could not be matched (|deviation| > ``tolerance`` %)."""
    off = [r for r in table if abs(r["deviation_%"]) > tolerance]
    return "".join(f" (the {r['architecture']} class keeps its own d = {r['d']:,})" for r in off)


def interpolation_clause(names: Sequence[str]) -> str:
    """The sentence's last clause when θ* interpolates (:class:`InterpolationWarning`), else nothing."""
    if not names:
        return ""
    return (f" θ* interpolates the rows for the {', '.join(names)}: there the Fisher at θ* vanishes and the "
            "Laplace volume, k_eff and B_n are not bounds on the measured regret.")
