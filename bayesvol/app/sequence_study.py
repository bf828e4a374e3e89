"""`bayesvol sequence`: prequential and held-out code lengths of Markov mixtures on a real character sequence.

The Bayes mixtures of Markov chains of order 0 … K (Dirichlet rows) and their mixture over orders are exact
(:mod:`bayesvol.regret.sequences`); the maximum-likelihood plug-in's infinite code lengths on unseen contexts
are counted, never clipped.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import jax
import numpy as np

from bayesvol.errors import InputError

__all__ = ["plot_code_lengths", "sequence_command"]

DEFAULT_ORDER = 5
ATTENTION_CHARS = 5_000
"""The attention model codes this many characters (each checkpoint refits a network)."""
ATTENTION = {"length": 8, "embed": 8}
"""One softmax head over the last 8 characters, embedding width 8 (d ≈ 1.7·10³ for ~100 symbols)."""


def _checkpoints(total: int, requested: Any) -> list[int]:
    if requested:
        bad = [n for n in requested if n > total]
        if bad:
            raise InputError(f"--n {bad} exceeds the {total} symbols of the sequence")
        return sorted(set(int(n) for n in requested))
    return sorted(set(np.unique(np.geomspace(100, total, 8).astype(int)).tolist()))


def plot_code_lengths(table: Any, attention: Sequence[Any] = ()) -> Any:
    """Bits per symbol against n for each predictor (log n); plug-ins with an infinite code are left out."""
    from bayesvol.app.plots import _axes

    fig, ax = _axes(None)
    for ds in attention:
        ax.plot(ds.n.values, ds.bits_per_symbol.values, marker="s", ms=4, ls="--", color="C9",
                label=f"attention ({ds.attrs['predictor']}, block-prequential)")
    for name in table.predictor.values:
        values = table.bits_per_symbol.sel(predictor=name).values
        if not np.all(np.isfinite(values)):
            continue
        style = {"color": "k", "lw": 2.0} if name == "mixture over orders" else {"lw": 1.0, "alpha": 0.8}
        ax.plot(table.n.values, values, marker="o", ms=3, label=name, **style)
    ax.set_xscale("log")
    ax.set_xlabel("n (symbols coded)")
    ax.set_ylabel("prequential code length (bits per symbol)")
    ax.legend(fontsize=8)
    return fig


def _attention_codes(symbols: np.ndarray, num_symbols: int, checkpoints: Sequence[int], predictor: str,
                     key: Any, quick: bool) -> Any:
    """Block-prequential code length of a one-head attention model over the last characters (the zoo's)."""
    import time

    from bayesvol.model.problem import registry
    from bayesvol.regret.prequential import block_prequential

    chars = min(400 if quick else ATTENTION_CHARS, symbols.size)
    points = sorted({*(n for n in checkpoints if n < chars), chars})
    length = ATTENTION["length"]
    # the context window of each character: the `length` previous ones, a start token (= K) before the text
    padded = np.concatenate([np.full(length, num_symbols), symbols[:chars]])
    tokens = np.lib.stride_tricks.sliding_window_view(padded, length)[:chars]
    zoo = registry()["attention"](vocab=num_symbols + 1, **ATTENTION)
    started = time.perf_counter()
    out = block_prequential(zoo.model_class, symbols[:chars], points, predictor, key=key,
                            covariates={"tokens": tokens})
    out.attrs.update({"dim": zoo.dim, "seconds": time.perf_counter() - started, "model": "attention",
                      **{k: v for k, v in ATTENTION.items()}})
    return out


def sequence_command(zoo: Any, options: Mapping[str, Any]) -> dict[str, Any]:
    """Prequential code lengths (bits) of the order-k Markov mixtures, their mixture over orders, plug-ins."""
    from bayesvol.app.report import Report
    from bayesvol.app.text_data import TEXT_DATASETS, stdlib_text
    from bayesvol.regret.sequences import (
        code_length_table,
        heldout_log_loss,
        markov_code_lengths,
        order_prior,
    )

    data = options.get("_dataset")
    if data is None:
        name = str(options.get("data") or "python-stdlib-text")
        if name not in TEXT_DATASETS:
            raise InputError(f"unknown character sequence {name!r}; choose one of {', '.join(TEXT_DATASETS)}")
        data = stdlib_text()
    max_order = int(options.get("order") if options.get("order") is not None else DEFAULT_ORDER)
    symbols = data.symbols
    if options.get("_quick"):  # tests: a short prefix (at least the largest --n), recorded in every file
        symbols = symbols[:max(5000, *(options.get("n") or [0]))]
    checkpoints = _checkpoints(symbols.size, options.get("n"))
    report = Report(Path(options["out"]), title=f"bayesvol sequence — Markov mixtures on {data.name}",
                    provenance=options.get("_provenance"), clear=tuple(options.get("_clear") or ()))
    codes = markov_code_lengths(symbols, max_order, num_symbols=data.num_symbols)
    table = code_length_table(codes, checkpoints)
    table.attrs.update({"data": data.name, **{f"source_{k}": v for k, v in data.source.items()}})
    report.add_dataset("code_lengths", table)
    key, quick = jax.random.PRNGKey(int(options.get("seed") or 0)), bool(options.get("_quick"))
    attention = [_attention_codes(symbols, data.num_symbols, checkpoints, name, key, quick)
                 for name in options.get("predictors") or ("sgd_ensemble",)]
    for ds in attention:
        report.add_dataset(f"code_lengths_attention_{ds.attrs['predictor']}", ds)
    split = round(0.8 * symbols.size)
    train, test = symbols[:split], symbols[split:]
    heldout = []
    for order in codes.orders:
        bayes, plugin = heldout_log_loss(train, test, int(order), num_symbols=data.num_symbols)
        unseen = int(np.sum(~np.isfinite(plugin)))
        heldout.append({"order": int(order), "bayes_bits": float(-bayes.mean() / np.log(2)),
                        "plugin_bits": float("inf") if unseen else float(-plugin.mean() / np.log(2)),
                        "plugin_infinite": unseen,
                        "plugin_bits_finite_part": float(-np.sum(plugin[np.isfinite(plugin)]) / np.log(2)
                                                         / test.size)})
    last = int(table.n[-1])
    final = table.sel(n=last)
    rows = [{"predictor": str(p), "bits_per_symbol": float(final.bits_per_symbol.sel(predictor=p)),
             "bits": float(final.bits.sel(predictor=p)), "infinite": int(final.infinite.sel(predictor=p))}
            for p in table.predictor.values]
    best = min((r for r in rows if r["predictor"].startswith("bayes")), key=lambda r: r["bits"])
    mixture = next(r for r in rows if r["predictor"] == "mixture over orders")
    best_order = int(best["predictor"].rsplit(" ", 1)[1])
    bound_bits = float(-np.log2(order_prior(max_order)[best_order]))
    unseen = {int(o): int(final.infinite.sel(predictor=f"plug-in order {o}")) for o in codes.orders}
    sentence = (
        f"On {last:,} characters of {data.name} ({data.num_symbols} symbols), the mixture over orders 0–"
        f"{max_order} codes {mixture['bits_per_symbol']:.3f} bits per character, "
        f"{mixture['bits'] - best['bits']:.3f} bits more than the best single order ({best_order}, "
        f"{best['bits_per_symbol']:.3f} bits/char; the bound is log₂ 1/π = {bound_bits:.0f} bits), without "
        f"knowing the order in advance. The maximum-likelihood plug-ins give probability 0 to "
        f"{unseen[0]:,} (order 0) … {unseen[max_order]:,} (order {max_order}) of the symbols: their code "
        f"lengths are infinite."
    )
    attention_rows = []
    for ds in attention:
        chars = int(ds.n[-1])
        mixture_at = float(-codes.mixture[:chars].sum() / np.log(2) / chars)
        attention_rows.append({
            "predictor": f"attention ({ds.attrs['predictor']})", "dim": int(ds.attrs["dim"]),
            "symbols": chars,
            "bits_per_symbol": float(ds.bits_per_symbol[-1]), "infinite": int(ds.infinite[-1]),
            "mixture_over_orders_bits_per_symbol": mixture_at,
            "gradient_evaluations": int(ds.gradient_evaluations[-1]), "seconds": float(ds.attrs["seconds"]),
            "checkpoints": [int(n) for n in ds.n.values]})
    for row in attention_rows:
        fitted_as = row["predictor"].split("(")[1][:-1]
        sentence += (f" A one-head attention model (d = {row['dim']:,}, {fitted_as}, block-prequential "
                     f"with refits at {len(row['checkpoints'])} checkpoints) codes the first "
                     f"{row['symbols']:,} characters in {row['bits_per_symbol']:.3f} bits per character, "
                     f"against {row['mixture_over_orders_bits_per_symbol']:.3f} for the exact mixture over "
                     f"orders.")
    result = {"command": "sequence", "data": data.name, "symbols": int(symbols.size),
              "alphabet": data.num_symbols, "max_order": max_order, "rows": rows, "heldout": heldout,
              "attention": attention_rows, "split": split, "interpretation": sentence,
              "source": dict(data.source)}
    report.add_results(**result)
    report.add_text("Summary", sentence)
    report.add_table(f"Prequential code length at n = {last:,} (bits)", rows)
    report.add_table(f"Held-out code length (bits per character; train = first {split:,} symbols, "
                     f"test = the next {test.size:,})", heldout)
    if attention_rows:
        report.add_table("Attention model against the mixture over orders (bits per character)",
                         attention_rows)
    report.add_figure("code_lengths", plot_code_lengths(table, attention),
                      "Prequential code length per symbol against n; plug-ins (infinite) left out")
    html_path = report.write_html()
    if not options.get("json"):
        _print(result, table, html_path)
    return result


def _print(result: Mapping[str, Any], table: Any, html_path: Any) -> None:
    ns = [int(n) for n in table.n.values]
    print(f"prequential code length, bits per character — {result['data']} ({result['alphabet']} symbols)")
    print(f"{'predictor':>20} " + " ".join(f"{n:>9,}" for n in ns) + "   ∞ count")
    for name in table.predictor.values:
        values = table.bits_per_symbol.sel(predictor=name).values
        cells = " ".join(f"{v:9.3f}" if np.isfinite(v) else f"{'∞':>9}" for v in values)
        print(f"{name:>20} {cells}   {int(table.infinite.sel(predictor=name).values[-1]):,}")
    print(f"held-out, bits per character (counts from the first {result['split']:,} symbols, coding the "
          "rest):")
    for row in result["heldout"]:
        plugin = (f"∞ ({row['plugin_infinite']:,} symbols of probability 0)" if row["plugin_infinite"]
                  else f"{row['plugin_bits']:.3f}")
        print(f"  order {row['order']}: Bayes {row['bayes_bits']:.3f}, plug-in {plugin}")
    for row in result["attention"]:
        print(f"{row['predictor']} (d = {row['dim']:,}), block-prequential on the first {row['symbols']:,} "
              f"characters: {row['bits_per_symbol']:.3f} bits/char (mixture over orders: "
              f"{row['mixture_over_orders_bits_per_symbol']:.3f}); {row['gradient_evaluations']:,} gradient "
              f"evaluations, {row['seconds']:.0f} s")
    print(result["interpretation"])
    print(f"Report: {html_path}")
