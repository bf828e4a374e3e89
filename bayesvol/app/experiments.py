"""The experiments behind the ``bayesvol`` commands: each returns a JSON-able dict and writes a report.

Every experiment writes its files into the output folder as soon as each piece is computed (volume curves,
each seed's regret, the regret table, figures), so an interruption loses at most the piece in progress.
Data sets come through one function, :func:`load_data`.
"""

from __future__ import annotations

import sys
import time
import warnings
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jax
import numpy as np

from bayesvol.app.sequence_study import sequence_command

__all__ = [
    "COMMANDS",
    "DATASETS",
    "LAMBDA_CASES",
    "LAMBDA_DEPTH",
    "DataSet",
    "check_model_fits_data",
    "compare_command",
    "data_model_options",
    "default_experiment",
    "lambda_case",
    "lambda_command",
    "lambda_eps2",
    "list_models",
    "load_data",
    "progress",
    "regret_command",
    "spectrum_command",
    "volume_command",
    "which_models_fit",
]


@contextmanager
def progress(total: int, description: str, enabled: bool) -> Iterator[Callable[[str], None]]:
    """A tqdm bar on stderr over the steps of an experiment (one per seed in loops); silent if disabled."""
    from tqdm.auto import tqdm

    bar = tqdm(total=total, desc=description, disable=not enabled, file=sys.stderr, leave=False,
               bar_format="{desc}: {n}/{total} {bar:30} {elapsed}")

    def step(label: str) -> None:
        bar.set_description_str(f"{description} (done: {label})", refresh=False)
        bar.update(1)

    try:
        yield step
    finally:
        bar.close()


def _report(options: Mapping[str, Any], title: str) -> Any:
    """The output folder of a command, recording the run (provenance) in every file it writes."""
    from bayesvol.app.report import Report

    return Report(Path(options["out"]), title=title, provenance=options.get("_provenance"),
                  clear=tuple(options.get("_clear") or ()))


def _save_seed(report: Any) -> Callable[[int, Any], None]:
    """Write each seed's regret as it finishes, so Ctrl-C keeps every finished seed."""
    return lambda seed, ds: report.add_dataset(f"regret_seed{seed}", ds)


@contextmanager
def _short_chains(quick: bool) -> Iterator[None]:
    """Hide SamplerWarning under BAYESVOL_QUICK only (the README test), whose chains are too short to judge.

    Otherwise nothing changes.
    """
    from bayesvol.inference.fit import SamplerWarning

    with warnings.catch_warnings():
        if quick:
            warnings.simplefilter("ignore", SamplerWarning)
        yield


def _show_progress(options: Mapping[str, Any]) -> bool:
    return not options.get("json") and sys.stderr.isatty()


def _eps2_grid(curve_min: float = 1e-4, curve_max: float = 10.0, num: int = 41) -> np.ndarray:
    return np.geomspace(curve_min, curve_max, num)


def _fmt(mean: float, se: float | None = None) -> str:
    if not np.isfinite(mean):
        return "∞" if mean == np.inf else "–"
    if abs(mean) >= 1e4:  # an exploding ERM: magnitude is the message
        return f"{mean:.2e}" if se is None or not np.isfinite(se) else f"{mean:.1e} ± {se:.0e}"
    if se is None or not np.isfinite(se):
        return f"{mean:8.2f}"
    return f"{mean:7.2f} ± {se:4.2f}"


# ------------------------------------------------------------------------------------------------
def default_experiment(zoo: Any, options: Mapping[str, Any]) -> dict[str, Any]:
    """Regret of the mixture and ERM on an over-parameterized polynomial class, with both volume bounds.

    The class has d = 41 parameters (degree-40 polynomial) and a degree-2 truth; the smallest n is below
    d. Shown: the mixture's online regret R_n against B_n and min_t [n t + Comp(t)] from the Laplace and
    the nested-sampling volume curves, the batch regret of the mixture vs two named ERMs (the ERMs are
    not a point while n < d): the minimum-norm least-squares fit ("erm_min_norm", SVD, rcond =
    max(n, d)·ε) and gradient descent from a prior draw ("erm_gd", to ‖∇‖ < 1e-6 or 20,000 steps), and
    k_eff(n).
    """
    from bayesvol.app import plots
    from bayesvol.regret.regret import regret_curve
    from bayesvol.volume.laplace import effective_dimension

    seed = int(options.get("seed", 0))
    ns = list(options.get("n") or [5, 10, 20, 40, 80, 160])
    num_seeds = int(options.get("seeds") or 6)
    num_live = int(options.get("budget") or 48)
    m = int(options.get("m") or 200)
    report = _report(options, f"bayesvol: regret and volume — {zoo.name}")
    key = jax.random.PRNGKey(seed)
    key_cov, key_nested, key_regret, key_fit = jax.random.split(key, 4)
    mc = zoo.model_class
    covariates = zoo.sample_covariates(key_cov, m)
    started = time.perf_counter()
    with progress(3 + num_seeds, "bayesvol run", _show_progress(options)) as step:
        curves = _volume_curves(zoo, {**options, "budget": num_live}, covariates, key_nested)
        laplace, nested = curves["Laplace"], curves["MCMC (nested)"]
        eps2 = laplace.eps2
        step("volume curves")
        report.add_dataset("volume_laplace", laplace.to_xarray())
        report.add_dataset("volume_nested", nested.to_xarray())
        predictors = ("mixture", "erm_min_norm", "erm_gd")
        regret = _resumable_regret(options, list(range(num_seeds)), predictors, ns, lambda todo:
                                   regret_curve(mc, zoo, ns, todo, predictors, key=key_regret,
                                                exact_log_marginal=zoo.log_mixture, volume_curves=curves,
                                                smc_options={"progress": _show_progress(options)},
                                                on_seed=lambda seed: step(f"regret, seed {seed}"),
                                                on_seed_result=_save_seed(report)),
                                   lambda seed: step(f"regret, seed {seed}"), _save_seed(report))
        report.add_dataset("regret", regret)
        k_eff = effective_dimension(laplace.eigenvalues, np.asarray(ns))
        posterior = _diagnostic_fit(zoo, ns[-1], key_fit, quick=bool(options.get("_quick")))
        step("NUTS fit for the diagnostics")
    elapsed = time.perf_counter() - started

    rows = []
    for i, n in enumerate(ns):
        rows.append({
            "n": n,
            "online_regret_mixture": float(regret["online_regret_mean"][i]),
            "online_regret_mixture_se": float(regret["online_regret_stderr"][i]),
            "B_n_laplace": float(regret["bound_gibbs"].sel(curve="Laplace")[i]),
            "B_n_mcmc": float(regret["bound_gibbs"].sel(curve="MCMC (nested)")[i]),
            "ball_bound_laplace": float(regret["bound_ball"].sel(curve="Laplace")[i]),
            "ball_bound_mcmc": float(regret["bound_ball"].sel(curve="MCMC (nested)")[i]),
            "batch_regret_mixture": float(regret["regret_mean"].sel(predictor="mixture")[i]),
            "batch_regret_mixture_se": float(regret["regret_stderr"].sel(predictor="mixture")[i]),
            "batch_regret_erm_min_norm": float(regret["regret_mean"].sel(predictor="erm_min_norm")[i]),
            "batch_regret_erm_min_norm_se": float(regret["regret_stderr"].sel(predictor="erm_min_norm")[i]),
            "batch_regret_erm_gd": float(regret["regret_mean"].sel(predictor="erm_gd")[i]),
            "batch_regret_erm_gd_se": float(regret["regret_stderr"].sel(predictor="erm_gd")[i]),
            "effective_dim": float(k_eff[i]),
            "regular_rate": 0.5 * zoo.dim * float(np.log(n)),
            "erm_flat_directions": _flat_directions(regret, i),
        })
    last = rows[-1]
    sentence = (
        f"With d = {zoo.dim} parameters, the mixture's regret at n = {last['n']} is "
        f"{last['online_regret_mixture']:.1f} nats, within its volume bound B_n = {last['B_n_laplace']:.1f} "
        f"(Laplace) / {last['B_n_mcmc']:.1f} (MCMC) and far below the regular rate (d/2) log n = "
        f"{last['regular_rate']:.0f}: only k_eff = {last['effective_dim']:.1f} directions are resolved, "
        f"while the per-sample excess loss of the minimum-norm ERM ({last['batch_regret_erm_min_norm']:.3g} "
        f"nats) and of gradient descent from a prior draw ({last['batch_regret_erm_gd']:.3g}) stays above "
        f"the mixture's ({last['batch_regret_mixture']:.3g})."
    )
    result = {
        "experiment": "default", "model": zoo.name, "dim": zoo.dim, "options": dict(zoo.options),
        "seed": seed, "seeds": num_seeds, "covariate_rows": m, "rows": rows, "interpretation": sentence,
        "seconds": elapsed, "out": str(report.out_dir),
        "volume": {"eps2": eps2, "laplace": laplace.log_volume, "nested": nested.log_volume,
                   "nested_stderr": nested.stderr},
    }
    report.add_results(**result)
    report.add_text("Summary", sentence)
    report.add_table("Regret and bounds (nats)", rows)
    report.add_figure("regret", plots.plot_regret(regret, dim=zoo.dim),
                      "Left: online regret R_n of the mixture (mean ± 2 s.e. over seeds) with B_n and "
                      "the ball bound; right: batch regret of mixture and ERM")
    report.add_figure("volume", plots.plot_volume(curves),
                      "log V(t) from both estimators, ±2 s.e.")
    report.add_figure("spectrum", plots.plot_spectrum(laplace.eigenvalues),
                      "Prior-whitened curvature eigenvalues a_i at the truth")
    result["sampler"] = _add_diagnostics(report, posterior, ns[-1])
    report.add_results(sampler=result["sampler"])
    dense_n = np.geomspace(1, 10 * ns[-1], 50)
    report.add_figure("effective_dim", plots.plot_effective_dim(
        dense_n, {"k_eff(n)": effective_dimension(laplace.eigenvalues, dense_n)}, dim=zoo.dim),
        "Effective dimension against n")
    html_path = report.write_html()
    if not options.get("json"):
        _print_default(result, html_path)
    return result


def _diagnostic_fit(zoo: Any, n: int, key: jax.Array, quick: bool = False) -> Any:
    """The main sampler run shown in the report: NUTS on one data set of n rows from the truth."""
    from bayesvol.inference.fit import fit

    key_data, key_fit = jax.random.split(key)
    covariates, data = zoo.simulate(key_data, n)
    sizes = {"num_chains": 2, "num_warmup": 100, "num_samples": 100} if quick else \
        {"num_chains": 4, "num_warmup": 400, "num_samples": 500}
    with _short_chains(quick):
        return fit(zoo.model_class, data, key=key_fit, nuts_kwargs={"dense_mass": True}, **sizes,
                   **covariates)


def _add_diagnostics(report: Any, posterior: Any, n: int) -> dict[str, Any]:
    """ArviZ trace and rank plots of the first coordinates and an R-hat / ESS table, into the report."""
    import arviz
    import arviz_plots

    tree = posterior.to_arviz()
    coords = {}
    for name in posterior.samples:
        dims = [d for d in tree["posterior"][name].dims if d not in ("chain", "draw")]
        if dims:
            coords[dims[0]] = list(range(min(4, tree["posterior"][name].sizes[dims[0]])))
    kwargs = {"coords": coords, "backend": "matplotlib"}
    report.add_figure("trace", arviz_plots.plot_trace_dist(tree, **kwargs),
                      f"ArviZ trace plot of the NUTS posterior at n = {n} (first coordinates)")
    report.add_figure("rank", arviz_plots.plot_rank(tree, **kwargs),
                      "ArviZ rank plot: uniform ranks across chains mean the chains agree")
    table = arviz.summary(tree, coords=coords)
    rows = [{"parameter": str(index), "mean": float(row["mean"]), "sd": float(row["sd"]),
             "ess_bulk": float(row["ess_bulk"]), "ess_tail": float(row["ess_tail"]),
             "r_hat": float(row["r_hat"])} for index, row in table.iterrows()]
    report.add_table(f"NUTS diagnostics at n = {n} (first coordinates; worst over all shown below)", rows)
    summary = {"n": n, "chains": posterior.num_chains, "draws": posterior.num_samples,
               "max_rhat": max(posterior.rhat.values()), "min_ess_bulk": min(posterior.ess_bulk.values()),
               "divergences": posterior.divergences, "ok": posterior.ok}
    report.add_table("NUTS diagnostics over every parameter", [summary])
    return summary


def _print_default(result: Mapping[str, Any], html_path: Path) -> None:
    print(f"bayesvol run — {result['model']} (d = {result['dim']}), {result['seeds']} seeds, "
          f"{result['covariate_rows']} covariate rows; {result['seconds']:.0f} s")
    print("All numbers in nats. R_n: online regret of the Bayes mixture; B_n: −log ∫ w e^{−nD}; "
          "ball: min_t [nt + Comp(t)]; r_n: batch regret (excess test log loss per sample); ERM min-norm: "
          "the minimum-norm least-squares fit (SVD, rcond = max(n, d)·ε); ERM GD: gradient descent from a "
          "prior draw to ‖∇‖ < 1e-6 or 20,000 steps.")
    header = (f"{'n':>5} {'R_n mixture':>15} {'B_n Laplace':>12} {'B_n MCMC':>10} {'ball Lapl.':>10} "
              f"{'ball MCMC':>10} {'r_n mixture':>15} {'r_n ERM min-norm':>17} {'r_n ERM GD':>17} "
              f"{'k_eff':>6} {'(d/2)log n':>10}")
    print(header)
    for r in result["rows"]:
        print(f"{r['n']:>5} {_fmt(r['online_regret_mixture'], r['online_regret_mixture_se']):>15} "
              f"{r['B_n_laplace']:>12.2f} {r['B_n_mcmc']:>10.2f} {r['ball_bound_laplace']:>10.2f} "
              f"{r['ball_bound_mcmc']:>10.2f} "
              f"{_fmt(r['batch_regret_mixture'], r['batch_regret_mixture_se']):>15} "
              f"{_fmt(r['batch_regret_erm_min_norm'], r['batch_regret_erm_min_norm_se']):>17} "
              f"{_fmt(r['batch_regret_erm_gd'], r['batch_regret_erm_gd_se']):>17} {r['effective_dim']:>6.1f} "
              f"{r['regular_rate']:>10.1f}")
    _print_flat_directions(result["rows"])
    print()
    print(result["interpretation"])
    sampler = result["sampler"]
    print(f"NUTS at n = {sampler['n']} ({sampler['chains']} chains × {sampler['draws']}): max R-hat "
          f"{sampler['max_rhat']:.3f}, min bulk ESS {sampler['min_ess_bulk']:.0f}, "
          f"{sampler['divergences']} divergences; trace and rank plots in the report.")
    print(f"Report: {html_path}  (figures, regret.nc, volume_*.nc, results.json in {result['out']})")


def _flat_directions(regret: Any, i: int) -> float:
    """Mean over seeds of d − rank(design) at the minimum-norm ERM (NaN where not in the dataset)."""
    if "erm_flat_directions" not in regret:  # e.g. seeds resumed from an older run
        return float("nan")
    return float(regret["erm_flat_directions"].sel(predictor="erm_min_norm")[i].mean())


def _print_flat_directions(rows: Any) -> None:
    """One line under the default table: how many directions the ERMs leave free at each n."""
    cells = [f"{r['n']}: {r['erm_flat_directions']:.1f}" if np.isfinite(r.get("erm_flat_directions", np.nan))
             else f"{r['n']}: –" for r in rows]
    print("ERM flat directions (d − numerical rank of the design at the fit, rcond = max(n, d)·ε; mean over "
          "seeds; > 0: the ERMs are a set of that dimension) at n = " + ", ".join(cells))


def _covariates(zoo: Any, options: Mapping[str, Any], key: jax.Array) -> dict[str, Any]:
    return zoo.sample_covariates(key, int(options.get("m") or 200))


def _volume_curves(zoo: Any, options: Mapping[str, Any], covariates: Mapping[str, Any], key: jax.Array,
                   methods: Any = ("laplace", "nested")) -> dict[str, Any]:
    from bayesvol.volume.laplace import laplace_volume
    from bayesvol.volume.nested import sampled_volume

    eps2 = _eps2_grid()
    curves = {}
    if "laplace" in methods:
        curves["Laplace"] = laplace_volume(zoo.model_class, zoo.true_params, eps2, **covariates)
    reused = _reused_curve(options) if "nested" in methods else None
    if reused is not None:
        curves["MCMC (nested)"] = reused
    elif "nested" in methods:
        curves["MCMC (nested)"] = sampled_volume(zoo.model_class, zoo.true_params, eps2, key=key,
                                                 num_live=int(options.get("budget") or 64),
                                                 progress=_show_progress(options), **covariates)
    return curves


def volume_command(zoo: Any, options: Mapping[str, Any]) -> dict[str, Any]:
    """Log V(t) of KL balls around the truth from the Laplace and nested-sampling estimators."""
    from bayesvol.app import plots

    report = _report(options, f"bayesvol volume — {zoo.name}")
    key_cov, key = jax.random.split(jax.random.PRNGKey(int(options.get("seed", 0))))
    dataset, fitted = options.get("_dataset"), None
    if dataset is not None:  # θ* fitted on a real data set, D over its rows (app/data_volume.py)
        from bayesvol.app.data_volume import at_fitted_truth

        zoo, covariates, fitted = at_fitted_truth(zoo, dataset, _targets(zoo, dataset), options, key_cov)
    else:
        covariates = _covariates(zoo, options, key_cov)
    methods = options.get("methods") or ("laplace", "nested")
    unsampled = None
    with progress(1, "volume", _show_progress(options)) as step:
        if fitted is None:
            curves = _volume_curves(zoo, options, covariates, key, methods)
        else:  # nested sampling only as deep as its cost allows at d ≈ 10³ (data_volume.NESTED_DEPTH)
            from bayesvol.app.data_volume import NESTED_DEPTH, nested_to_depth

            depth = 10.0 if options.get("_quick") else NESTED_DEPTH  # BAYESVOL_QUICK: tests only, recorded
            curves = _volume_curves(zoo, options, covariates, key, ("laplace",))
            if "nested" in methods:
                curves["MCMC (nested)"], unsampled = nested_to_depth(
                    zoo.model_class, zoo.true_params, curves["Laplace"], covariates, key=key, depth=depth,
                    **({"num_live": int(options["budget"])} if options.get("budget") else {}),
                    progress=_show_progress(options))
            if "laplace" not in methods:
                del curves["Laplace"]
        step("volume curves")
    for curve in curves.values():
        report.add_dataset(f"volume_{curve.method}", curve.to_xarray())
    eps2 = next(iter(curves.values())).eps2
    agreement = _agreement(curves)
    if agreement is not None:
        report.add_dataset("volume_agreement", agreement.to_xarray())
    rows = []
    for i, t in enumerate(eps2):
        row: dict[str, Any] = {"eps2": float(t)}
        for curve in curves.values():
            row[f"log_volume_{curve.method}"] = float(curve.log_volume[i])
            row[f"stderr_{curve.method}"] = float(curve.stderr[i])
            row[f"volume_dimension_{curve.method}"] = float(curve.volume_dimension[i])
        if agreement is not None:
            row["agreement"] = str(agreement.cause[i])
        rows.append(row)
    result = {"command": "volume", "model": zoo.name, "dim": zoo.dim, "rows": rows,
              "learning_coefficient": zoo.facts.learning_coefficient}
    if fitted is not None:
        result["data"] = {"name": dataset.name, "covariate_rows": int(np.shape(covariates["x"])[0]),
                          **fitted.to_dict(), "nested_depth": depth, "nested_not_run_below": unsampled}
    if agreement is not None:
        result["agreement"] = agreement.summary
    # on a data set the nested curve stops at a depth far from the asymptotic regime (t ≥ ≈1e-2): no λ fit
    fit = _nested_lambda(curves.get("MCMC (nested)")) if fitted is None else None
    if fit is not None:
        result["learning_coefficient_fit"] = fit.to_dict()
    report.add_results(**result)
    if fitted is not None:
        report.add_text("Truth θ* on the data", (
            f"θ* is the MAP fit on {dataset.name} ({fitted.rows} rows, training log loss "
            f"{fitted.train_log_loss:.4f} nats/row); D averages over "
            f"{result['data']['covariate_rows']} of its rows; nested sampling was run where the Laplace "
            f"log V ≥ −{depth:g}"
            + ("" if unsampled is None else f", not at t ≤ {unsampled:.3g}") + "."))
    if agreement is not None:
        report.add_text("Laplace against sampling", agreement.summary)
    report.add_table("log V(t) (nats) and the volume dimension k(t)", rows)
    if fit is not None:
        report.add_table("Learning coefficient read off the nested curve (GLS fit of log V = λ log t + "
                         "(m−1) log(log(1/t) + b) + c)", [_lambda_summary(fit, zoo)])
    report.add_figure("volume", plots.plot_volume(curves), "log V(t), ±2 s.e.")
    html_path = report.write_html()
    if not options.get("json"):
        names = [c.method for c in curves.values()]
        print(f"log prior volume of KL balls around the truth — {zoo.name} (d = {zoo.dim}); nats")
        if fitted is not None:
            print(f"truth θ*: the MAP fit on {dataset.name} ({fitted.rows} rows, training log loss "
                  f"{fitted.train_log_loss:.4f} nats/row, {fitted.seconds:.0f} s); D over "
                  f"{result['data']['covariate_rows']} of its rows")
        print(f"{'t':>10} " + " ".join(f"{'log V ' + n:>22} {'k(t) ' + n:>12}" for n in names))
        for r in rows[::4]:
            cells = []
            for n in names:
                se = r[f"stderr_{n}"]
                value = _fmt(r[f"log_volume_{n}"], se if se > 0 else None)
                cells.append(f"{value:>22} {r[f'volume_dimension_{n}']:>12.2f}")
            print(f"{r['eps2']:>10.2e} " + " ".join(cells))
        if zoo.facts.learning_coefficient is not None:
            print(f"2λ (known) = {2 * zoo.facts.learning_coefficient:g}; the volume dimension k(t) should "
                  "approach it as t → 0.")
        if unsampled is not None:
            print(f"nested sampling not run at t ≤ {unsampled:.3g} (Laplace log V < −{depth:g}: its "
                  "cost grows with the depth, ≈ 2 levels per nat)")
        if agreement is not None:
            print(agreement.summary)
        if fit is not None:
            r = _lambda_summary(fit, zoo)
            print(f"λ from the nested curve: {_fmt(r['lambda_hat'], r['stderr']).strip()}, m̂ = {r['m_hat']} "
                  f"(window {r['window']}, χ² = {r['chi2']:.1f} on {r['dof']} dof"
                  + ("" if r["asymptotic"] else "; NOT asymptotic: a local slope, reach smaller eps2") + ")")
        print(f"Report: {html_path}")
    return result


def _agreement(curves: Mapping[str, Any]) -> Any:
    """Where the Laplace and the sampled curves agree and why they part (None unless both were run)."""
    from bayesvol.volume.agreement import curve_agreement

    by_method = {c.method: c for c in curves.values()}
    if "laplace" not in by_method or "nested" not in by_method:
        return None
    return curve_agreement(by_method["laplace"], by_method["nested"])


def regret_command(zoo: Any, options: Mapping[str, Any]) -> dict[str, Any]:
    """Expected regret of the predictors over n, with the volume bounds of both estimators."""
    from bayesvol.app import plots
    from bayesvol.regret.regret import regret_curve

    report = _report(options, f"bayesvol regret — {zoo.name}")
    key_cov, key_volume, key = jax.random.split(jax.random.PRNGKey(int(options.get("seed", 0))), 3)
    ns = list(options.get("n") or [10, 20, 40, 80, 160])
    seeds = list(range(int(options.get("seeds") or 5)))
    predictors = tuple(options.get("predictors") or ("mixture", "plugin"))
    covariates = _covariates(zoo, options, key_cov)
    with progress(1 + len(seeds), "regret", _show_progress(options)) as step:
        curves = _volume_curves(zoo, options, covariates, key_volume)
        step("volume curves")
        for curve in curves.values():  # saved as they finish: a resumed run reuses the nested one
            report.add_dataset(f"volume_{curve.method}", curve.to_xarray())
        ds = _resumable_regret(options, seeds, predictors, ns, lambda todo: regret_curve(
            zoo.model_class, zoo, ns, todo, predictors, key=key, exact_log_marginal=zoo.log_mixture,
            volume_curves=curves, smc_options={"progress": _show_progress(options)},
            on_seed=lambda seed: step(f"seed {seed}"), on_seed_result=_save_seed(report)),
            lambda seed: step(f"seed {seed}"), _save_seed(report))
    report.add_dataset("regret", ds)
    rows = []
    for i, n in enumerate(ns):
        row: dict[str, Any] = {"n": n, "online_regret_mixture": float(ds["online_regret_mean"][i]),
                               "online_regret_mixture_se": float(ds["online_regret_stderr"][i])}
        for curve in np.asarray(ds["curve"]).tolist():
            row[f"B_n {curve}"] = float(ds["bound_gibbs"].sel(curve=curve)[i])
            row[f"ball {curve}"] = float(ds["bound_ball"].sel(curve=curve)[i])
        for predictor in predictors:
            row[f"r_n {predictor}"] = float(ds["regret_mean"].sel(predictor=predictor)[i])
            row[f"r_n {predictor} se"] = float(ds["regret_stderr"].sel(predictor=predictor)[i])
        rows.append(row)
    result = {"command": "regret", "model": zoo.name, "dim": zoo.dim, "rows": rows}
    report.add_results(**result)
    report.add_table("Regret (nats)", rows)
    report.add_figure("regret", plots.plot_regret(ds, dim=zoo.dim), "Regret and bounds")
    html_path = report.write_html()
    if not options.get("json"):
        print(f"expected regret — {zoo.name} (d = {zoo.dim}), {len(seeds)} seeds; nats")
        keys = [k for k in rows[0] if not k.endswith("se") and k != "n"]
        print(f"{'n':>5} " + " ".join(f"{k:>22}" for k in keys))
        for r in rows:
            cells = []
            for k in keys:
                se = r.get(f"{k}_se", r.get(f"{k} se"))
                cells.append(f"{_fmt(r[k], se):>22}")
            print(f"{r['n']:>5} " + " ".join(cells))
        print(f"Report: {html_path}")
    return result


def spectrum_command(zoo: Any, options: Mapping[str, Any]) -> dict[str, Any]:
    """Curvature spectrum at the truth (prior-whitened) and the effective dimension k_eff(n)."""
    from bayesvol.app import plots
    from bayesvol.volume.laplace import effective_dimension, laplace_volume

    report = _report(options, f"bayesvol spectrum — {zoo.name}")
    covariates = _covariates(zoo, options, jax.random.PRNGKey(int(options.get("seed", 0))))
    curve = laplace_volume(zoo.model_class, zoo.true_params, _eps2_grid(), **covariates)
    a = np.asarray(curve.eigenvalues)
    ns = np.asarray(options.get("n") or [1, 10, 100, 1000, 10000])
    k_eff = effective_dimension(a, ns)
    result = {"command": "spectrum", "model": zoo.name, "dim": zoo.dim, "eigenvalues": a,
              "effective_dim": {int(n): float(k) for n, k in zip(ns, k_eff, strict=True)}}
    report.add_results(**result)
    report.add_figure("spectrum", plots.plot_spectrum(a), "prior-whitened curvature eigenvalues a_i")
    dense = np.geomspace(1, 1e5, 60)
    report.add_figure("effective_dim", plots.plot_effective_dim(
        dense, {"k_eff(n)": effective_dimension(a, dense)}, dim=zoo.dim), "effective dimension")
    html_path = report.write_html()
    if not options.get("json"):
        top = np.sort(a)[::-1]
        print(f"curvature spectrum at the truth — {zoo.name} (d = {zoo.dim}); a_i = ½ eig(Σ^½ F Σ^½)")
        print("largest a_i: " + ", ".join(f"{v:.3g}" for v in top[:8]))
        print("k_eff(n) = Σ nλ_i/(1+nλ_i): " + ", ".join(f"n={int(n)}: {k:.1f}"
                                                      for n, k in zip(ns, k_eff, strict=True)))
        print(f"Report: {html_path}")
    return result


@dataclass(frozen=True)
class DataSet:
    """A data set for ``compare``: standardized features x (rows × features) and targets y.

    ``task`` is "binary", "multiclass" (y in {0, …, num_classes − 1}) or "regression" (y standardized).
    """

    name: str
    x: np.ndarray
    y: np.ndarray
    task: str
    num_classes: int | None = None


DATASETS: dict[str, str] = {
    "breast_cancer": "binary",
    "wine": "multiclass",
    "iris": "multiclass",
    "digits": "multiclass",
    "diabetes": "regression",
}
"""scikit-learn's bundled data sets that fit the commands, and their task."""

# which zoo classes take which task, and the options that give them the data's dimensions
_DATA_MODELS: dict[str, tuple[tuple[str, ...], Callable[[DataSet], dict[str, Any]]]] = {
    "logistic_regression": (("binary",), lambda data: {"d": data.x.shape[1]}),
    "linear_regression": (("regression",), lambda data: {"d": data.x.shape[1]}),
    "mlp_regression": (("regression",), lambda data: {"d_in": data.x.shape[1], "d_out": 1}),
    "mlp_classification": (("binary", "multiclass"),
                           lambda data: {"d_in": data.x.shape[1], "d_out": int(data.num_classes or 2)}),
}


def which_models_fit() -> str:
    """Which zoo classes take which kind of data set, in words (for --help and errors)."""
    return "; ".join(f"{task}: {', '.join(m for m, (tasks, _) in _DATA_MODELS.items() if task in tasks)} "
                     f"({', '.join(d for d, t in DATASETS.items() if t == task)})"
                     for task in ("binary", "multiclass", "regression"))


def _standardize(x: np.ndarray) -> np.ndarray:
    scale = x.std(0)
    return (x - x.mean(0)) / np.where(scale > 0, scale, 1.0)  # constant columns (digits' corners) stay 0


def load_data(name: str) -> Any:
    """The data set ``name``: scikit-learn's bundled (:data:`DATASETS`), a .npz file with x and y, or text.

    ``python-stdlib-text`` is a character sequence (:class:`~bayesvol.app.text_data.SequenceData`).

    Features are standardized; regression targets too. A .npz target of integers with at most 2 values is
    binary, of more integer values multiclass, else regression. Bad names and files raise InputError.
    """
    from bayesvol.errors import InputError

    if name.endswith(".npz"):
        try:
            archive = np.load(name)
        except (OSError, ValueError) as err:
            raise InputError(f"cannot read data file {name!r}: {getattr(err, 'strerror', None) or err}"
                             ) from err
        if "x" not in archive or "y" not in archive:
            raise InputError(f"data file {name!r} must hold arrays named 'x' and 'y', it holds "
                             f"{sorted(archive.files)}")
        x, y = np.asarray(archive["x"]), np.asarray(archive["y"])
        if x.ndim != 2 or y.ndim != 1 or x.shape[0] != y.shape[0] or x.shape[0] < 8:
            raise InputError(f"data file {name!r}: x must be (rows, features) and y (rows,) with the same "
                             f"rows (at least 8), got x {x.shape} and y {y.shape}")
        if not (np.issubdtype(x.dtype, np.number) and np.issubdtype(y.dtype, np.number)
                and np.all(np.isfinite(x)) and np.all(np.isfinite(y))):
            raise InputError(f"data file {name!r}: x and y must be finite numbers")
        x = _standardize(x.astype(float))
        if np.all(y == np.round(y)) and y.min() >= 0:
            classes = int(y.max()) + 1
            task = "binary" if classes <= 2 else "multiclass"
            return DataSet(Path(name).stem, x, y.astype(int), task, max(classes, 2))
        return DataSet(Path(name).stem, x, (y - y.mean()) / y.std(), "regression")
    from bayesvol.app.text_data import TEXT_DATASETS, stdlib_text

    if name in TEXT_DATASETS:
        return stdlib_text()
    if name not in DATASETS:
        raise InputError(f"unknown data set {name!r}; choose one of {', '.join([*DATASETS, *TEXT_DATASETS])} "
                         "or a .npz file with arrays x and y")
    from sklearn import datasets

    bunch = getattr(datasets, f"load_{name}")()
    x = _standardize(np.asarray(bunch.data, dtype=float))
    task = DATASETS[name]
    if task == "regression":
        y = np.asarray(bunch.target, dtype=float)
        return DataSet(name, x, (y - y.mean()) / y.std(), task)
    y = np.asarray(bunch.target, dtype=int)
    return DataSet(name, x, y, task, int(y.max()) + 1)


def data_model_options(model: str, data: DataSet) -> dict[str, Any]:
    """The options that make zoo class ``model`` take ``data`` (its dimensions); InputError if it cannot."""
    from bayesvol.errors import InputError

    if model not in _DATA_MODELS or data.task not in _DATA_MODELS[model][0]:
        raise InputError(f"model {model!r} does not fit data set {data.name!r} ({data.task}); models that "
                         f"fit each task: {which_models_fit()}")
    return _DATA_MODELS[model][1](data)


def _targets(model: Any, data: DataSet) -> np.ndarray:
    # a multi-output regression class (the MLP) takes y as (rows, 1)
    outputs = dict(getattr(model, "options", {}) or {}).get("d_out")
    return data.y[:, None] if data.task == "regression" and outputs == 1 else data.y


def check_model_fits_data(problem: Any, data: DataSet, spec: str) -> None:
    """A user's model class must take the data as ``model(x=x, y=y)``; InputError naming it if not."""
    from bayesvol.errors import InputError
    from bayesvol.inference.fit import check_data
    from bayesvol.model.model_class import ModelClass

    try:
        mc = ModelClass(problem.model, x=data.x[:4])
        if mc.observed_kwarg == "x":  # x is its data, not its covariates
            raise InputError(f"its observed site {mc.observed_site!r} is fed by x")
        check_data(mc, data.y[:4], {"x": data.x[:4]})
    except Exception as err:
        raise InputError(f"--model {spec}: does not take data set {data.name!r} as model(x, y=y) "
                         f"(x: {data.x.shape}): {type(err).__name__}: {' '.join(str(err).split())}") from err


def compare_command(zoo: Any, options: Mapping[str, Any]) -> dict[str, Any]:
    """Held-out and prequential log loss of the predictors on a real data set (no known truth)."""
    from bayesvol.regret.regret import compare

    data = options.get("_dataset") or load_data(str(options.get("data") or "breast_cancer"))
    x, y, name = data.x, _targets(zoo, data), data.name
    predictor_options: dict[str, Any] = {}
    starts = None
    if options.get("_quick"):  # the README test: a few rows, short chains, one prequential n; recorded
        rows = np.linspace(0, x.shape[0] - 1, 60).astype(int)  # spread out: some sets are sorted by class
        x, y = x[rows], y[rows]
        predictor_options = {"fit_kwargs": {"num_chains": 1, "num_warmup": 100, "num_samples": 100}}
        starts = [20]
    report = _report(options, f"bayesvol compare — {zoo.name} on {name}")
    predictors = tuple(options.get("predictors") or ("mixture", "plugin"))
    with _short_chains(bool(options.get("_quick"))):
        ds = compare(zoo.model_class, y, predictors, key=jax.random.PRNGKey(int(options.get("seed", 0))),
                     prequential_starts=starts, predictor_options=predictor_options, x=x)
    report.add_dataset("compare", ds)
    rows = [{"predictor": p, "heldout_log_loss": float(ds["heldout"].sel(predictor=p)),
             "stderr": float(ds["heldout_stderr"].sel(predictor=p))} for p in predictors]
    result = {"command": "compare", "model": zoo.name, "data": name, "rows": rows}
    report.add_results(**result)
    report.add_table("Held-out log loss (nats per sample)", rows)
    html_path = report.write_html()
    if not options.get("json"):
        print(f"held-out log loss — {zoo.name} on {name} ({x.shape[0]} rows, {x.shape[1]} features); nats")
        for r in rows:
            print(f"{r['predictor']:>10} {_fmt(r['heldout_log_loss'], r['stderr'])}")
        print(f"Report: {html_path}")
    return result


def list_models(zoo: Any = None, options: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The zoo's models and their facts."""
    from bayesvol.model.problem import registry

    zoo_registry = registry()
    rows = []
    for name in sorted(zoo_registry):
        facts = zoo_registry[name]().facts
        rows.append({"model": name, "dim": facts.dim, "singular": facts.singular,
                     "learning_coefficient": facts.learning_coefficient, "exact": list(facts.exact),
                     "notes": facts.notes})
    if not (options or {}).get("json"):
        for r in rows:
            lam = "" if r["learning_coefficient"] is None else f"λ = {r['learning_coefficient']:g}"
            print(f"{r['model']:<24} d = {r['dim']:<6} {'singular' if r['singular'] else 'regular ':<9}"
                  f" {lam:<10} exact: {', '.join(r['exact']) or '-'}")
    return {"models": rows}


COMMANDS: dict[str, Callable[[Any, Mapping[str, Any]], dict[str, Any]]] = {
    "run": default_experiment,
    "volume": volume_command,
    "regret": regret_command,
    "spectrum": spectrum_command,
    "compare": compare_command,
    "sequence": sequence_command,
}


# ------------------------------------------------------------------------------------------------
# resuming an unfinished run (bayesvol.study.resume): the CLI sets options["_resume"] when the output
# folder holds an unfinished attempt of the same run
def _reused_curve(options: Mapping[str, Any]) -> Any:
    """The nested volume curve an earlier attempt of this run saved, when resuming (else None)."""
    if not options.get("_resume"):
        return None
    from bayesvol.study.resume import load_volume_curve

    return load_volume_curve(Path(options["out"]))


def _resumable_regret(options: Mapping[str, Any], seeds: list[int], predictors: Any, ns: list[int],
                      run: Callable[[list[int]], Any], on_seed: Callable[[int], None],
                      on_seed_result: Callable[[int, Any], None]) -> Any:
    """``run(seeds)`` (a regret_curve), reusing the seeds an earlier attempt of this run finished."""
    if not options.get("_resume"):
        return run(list(seeds))
    from bayesvol.study.resume import regret_resumed

    return regret_resumed(Path(options["out"]), seeds, tuple(predictors), ns, run, on_seed, on_seed_result)
# ------------------------------------------------------------------------------------------ lambda
# The zoo's singular cases with a known λ and m (and one regular class), as (label, zoo name, options).
LAMBDA_CASES: tuple[tuple[str, str, dict[str, Any]], ...] = (
    ("Gaussian mixture", "gaussian_mixture", {}),
    ("linear regression d=2", "linear_regression", {"d": 2}),
    ("normal crossing θ1²θ2⁴", "normal_crossing", {"powers": (1, 2)}),
    ("normal crossing θ1⁴θ2⁴", "normal_crossing", {"powers": (2, 2)}),
    ("RRR (M,N,H,r)=(3,3,2,1)", "reduced_rank_regression", {"m_in": 3, "n_out": 3, "hidden": 2, "rank": 1}),
    ("deep linear (3,2,2,3) r=1", "deep_linear_network", {"widths": (3, 2, 2, 3), "rank": 1}),
)
_LAMBDA_QUICK = 1  # BAYESVOL_QUICK (tests): the first case only


LAMBDA_DEPTH = 20.0
"""Nats of depth the λ table's curves reach at least (:func:`lambda_case`): a case with small λ is sampled
down to far smaller t than 1e-8 (θ1⁴θ2⁴: ≈ 1e-45), where its log factor separates from power-law
corrections."""


def lambda_eps2(quick: bool = False) -> np.ndarray:
    """The radii of the λ table: two per decade from 1e-8 to 1e-2 (1e-5 to 1e-2 when quick)."""
    return np.geomspace(1e-5, 1e-2, 7) if quick else np.geomspace(1e-8, 1e-2, 13)


def lambda_case(zoo: Any, eps2: np.ndarray, key: jax.Array, *, num_live: int = 64, num_runs: int = 8,
                rows: int = 50, label: str | None = None, progress_bar: bool = False,
                depth: float | None = LAMBDA_DEPTH) -> tuple[dict[str, Any], Any, Any]:
    """One row of the λ table: a nested curve of ``zoo`` on ``eps2`` and its :func:`learning_coefficient`.

    ``depth`` (nats, default :data:`LAMBDA_DEPTH`; None: ``eps2`` as given): where the curve on ``eps2`` is
    shallower than log V = −depth, it is the pilot of a second run on the radii extended to that depth
    (:func:`~bayesvol.volume.coefficient.radii_to_depth`, one per decade below the pilot's), whose curve is
    fitted; both runs' evaluations and time are counted. Returns (row, curve, fit); the row holds λ (known),
    λ̂ ± s.e., m (known), m̂ ("undetermined" as None), |z| = |λ̂ − λ|/s.e., the relative error, the window,
    χ²/dof, the radii's range, D evaluations and seconds. An :class:`AsymptoticWarning` is recorded in the row
    (``asymptotic``) rather than raised.
    """
    from bayesvol.volume.coefficient import AsymptoticWarning, learning_coefficient, radii_to_depth
    from bayesvol.volume.nested import sampled_volume

    key_cov, key_run = jax.random.split(key)
    covariates = zoo.sample_covariates(key_cov, rows)
    start = time.perf_counter()
    curve = sampled_volume(zoo.model_class, zoo.true_params, eps2, key=key_run, num_live=num_live,
                           num_runs=num_runs, progress=progress_bar, **covariates)
    evaluations = int(curve.diagnostics.num_evaluations)
    if depth is not None:
        deeper = radii_to_depth(curve, depth)
        if deeper.size > np.asarray(eps2).size:
            curve = sampled_volume(zoo.model_class, zoo.true_params, deeper,
                                   key=jax.random.fold_in(key_run, 1), num_live=num_live, num_runs=num_runs,
                                   progress=progress_bar, **covariates)
            evaluations += int(curve.diagnostics.num_evaluations)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AsymptoticWarning)  # recorded as fit.asymptotic in the row
        fit = learning_coefficient(curve)
    seconds = time.perf_counter() - start
    lam, mult = zoo.facts.learning_coefficient, zoo.facts.multiplicity
    row = {"case": label or zoo.name, "model": zoo.name, "options": dict(zoo.options), "dim": zoo.dim,
           "lambda": lam, "lambda_hat": fit.learning_coefficient, "stderr": fit.stderr,
           "m": mult, "m_hat": fit.multiplicity, "m_used": fit.multiplicity_used,
           "z": None if lam is None else abs(fit.learning_coefficient - lam) / fit.stderr,
           "relative_error": None if not lam else abs(fit.learning_coefficient - lam) / lam,
           "window": list(fit.window), "chi2": fit.chi2, "dof": fit.dof, "asymptotic": fit.asymptotic,
           "eps2_range": [float(curve.eps2[0]), float(curve.eps2[-1])],
           "evaluations": evaluations, "seconds": seconds}
    return row, curve, fit


def _lambda_line(r: Mapping[str, Any]) -> str:
    m_hat = "undet." if r["m_hat"] is None else str(r["m_hat"])
    z = "" if r["z"] is None else f"{r['z']:.1f}"
    note = "" if r["asymptotic"] else "  (not asymptotic)"
    return (f"{r['case']:<27} {r['lambda']:>6.3g} {_fmt(r['lambda_hat'], r['stderr']):>15} {r['m']!s:>3} "
            f"{m_hat:>6} {z:>5} {100 * r['relative_error']:>6.1f}% {r['seconds']:>7.1f}{note}")


def lambda_command(zoo: Any, options: Mapping[str, Any]) -> dict[str, Any]:
    """λ and m read off nested volume curves for the zoo's singular cases, against the known values."""
    from bayesvol.app import plots
    from bayesvol.model.problem import registry

    quick = bool(options.get("_quick"))
    report = _report(options, "bayesvol lambda — learning coefficients from the volume curve")
    zoo_registry = registry()
    cases = LAMBDA_CASES[:_LAMBDA_QUICK] if quick else LAMBDA_CASES
    eps2 = lambda_eps2(quick)
    num_live = 16 if quick else int(options.get("budget") or 64)
    num_runs = 4 if quick else 8
    keys = jax.random.split(jax.random.PRNGKey(int(options.get("seed", 0))), len(cases))
    rows, curves = [], {}
    header = (f"{'case':<27} {'λ':>6} {'λ̂ ± s.e.':>15} {'m':>3} {'m̂':>6} {'|z|':>5} {'|Δλ|/λ':>7} "
              f"{'time s':>7}")
    if not options.get("json"):
        print("learning coefficients λ read off the nested volume curve (GLS fit of log V = λ log t + "
              "(m−1) log(log(1/t) + b) + c)")
        print(header)
    with progress(len(cases), "lambda", _show_progress(options)) as step:
        for (label, name, case_options), key in zip(cases, keys):
            case_zoo = zoo_registry[name](**case_options)
            row, curve, _ = lambda_case(case_zoo, eps2, key, num_live=num_live, num_runs=num_runs,
                                        label=label, depth=None if quick else LAMBDA_DEPTH)
            rows.append(row)
            curves[label] = (curve, row["lambda"])
            report.add_dataset(f"volume_{name}_{len(rows)}", curve.to_xarray())
            report.add_results(command="lambda", rows=rows)  # each case saved as it finishes
            if not options.get("json"):
                print(_lambda_line(row), flush=True)
            step(label)
    depth = None if quick else LAMBDA_DEPTH
    result = {"command": "lambda", "eps2": eps2.tolist(), "depth": depth, "num_live": num_live,
              "num_runs": num_runs, "rows": rows}
    report.add_results(**result)
    report.add_table("Learning coefficients: known λ, m against λ̂ ± s.e., m̂ from the volume curve",
                     [{k: v for k, v in r.items() if k not in ("options", "window")} for r in rows])
    report.add_figure("volume_dimension", plots.plot_volume_dimension_limits(curves),
                      "k(t) = 2 d log V / d log t approaching 2λ")
    html_path = report.write_html()
    if not options.get("json"):
        print("m̂: the multiplicity read off the curve (undet.: the data do not decide it); "
              "|z| = |λ̂ − λ|/s.e."
              + ("" if depth is None else f"; radii two per decade from 1e-8 to 1e-2, extended one per "
                                          f"decade until log V ≈ −{depth:g} nats (after a pilot run, counted "
                                          "in the time)"))
        print(f"Report: {html_path}")
    return result


COMMANDS["lambda"] = lambda_command


def _nested_lambda(curve: Any) -> Any:
    """λ and m of a nested curve (None without one, or with < 4 reached radii below t = 0.1, 3 nats deep)."""
    from bayesvol.errors import InputError
    from bayesvol.volume.coefficient import AsymptoticWarning, learning_coefficient

    if curve is None:
        return None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", AsymptoticWarning)  # shown as "asymptotic" in the table
            return learning_coefficient(curve)
    except InputError:  # too few radii below t_max: nothing to fit, the table has no λ row
        return None


def _lambda_summary(fit: Any, zoo: Any) -> dict[str, Any]:
    return {"lambda_hat": fit.learning_coefficient, "stderr": fit.stderr,
            "m_hat": "undetermined" if fit.multiplicity is None else fit.multiplicity,
            "lambda_known": zoo.facts.learning_coefficient, "m_known": zoo.facts.multiplicity,
            "window": f"{fit.window[0]:.2g}–{fit.window[1]:.2g}", "chi2": fit.chi2, "dof": fit.dof,
            "asymptotic": fit.asymptotic}


from bayesvol.app.network_study import architectures_command, network_command  # noqa: E402

COMMANDS["network"] = network_command
COMMANDS["architectures"] = architectures_command
