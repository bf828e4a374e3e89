"""Architectures compared by their complexity range, at equal parameter count on real data (digits).

A deep narrow MLP (three tanh layers of 7), a shallow wide one (one layer of 9), random features (66 tanh
features drawn once and frozen; only the output layer is learned) and multinomial logistic regression all
have ≈ 666 parameters (±3 %) on scikit-learn's 8×8 digits. Each is fitted (θ* = the MAP on every row, the
prior as weight decay: attained even where the class can interpolate the rows) and taken through
``bv.network_study``: the prior-whitened Fisher spectrum at θ*, how many decades of it lie above the
prior's scale at n (its complexity range), Comp(t) = −log V(t), k_eff(n), and the measured excess
prequential code length of an approximate Bayes mixture. The sentence printed at the end is computed from
the table.

The second part does the same on a character sequence, the docstrings of this Python's standard library
(next-character prediction from the 4 previous characters of a prefix): there a fifth class joins, the
one-head attention model on the context's tokens, and the common count is the attention model's at
embedding width 16; the four others read the context one-hot (the linear class keeps its own, larger,
count: it cannot be resized).

Run ``python examples/08_architectures.py [--small] [--out DIR]``; writes ``architectures.png``,
``architectures_sequence.png`` and ``table.txt`` into ``examples-out/architectures/``.
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from pathlib import Path

import jax
import numpy as np

import bayesvol as bv
from bayesvol.app.experiments import load_data
from bayesvol.app.network_study import (
    ATTENTION_EMBED,
    architecture_model,
    architecture_sizes,
    complexity_range,
    context_rows,
    interpolation_clause,
    plot_architectures,
)
from bayesvol.app.text_data import stdlib_text

NAME = "architectures"


def _compare(data, sizes, ns, seeds, small, volume_rows=200):
    """Each architecture through ``bv.network_study``: its table row, the studies and the sentence."""
    # the budget of the approximate mixture (an ensemble of Adam runs from prior draws)
    costs = {"sgd_ensemble": {"num_members": 2 if small else 4, "sgd_max_steps": 100 if small else 1000,
                              "sgd_tol": 1e-2}}
    fit_options = {"maxiter": 100} if small else None  # the MAP's L-BFGS iterations
    rows = data.x.shape[0]
    studies, table = {}, []
    for i, (name, size) in enumerate(sizes.items()):
        zoo = architecture_model(name, size["width"], data)
        # attention reads the context's tokens, every other class the rows' features (one-hot on text)
        covariates = {"tokens": data.tokens} if name == "one-head attention" else {"x": data.x}
        study = bv.network_study(zoo.model_class, data.y, ns, seeds, ["sgd_ensemble"],
                                 key=jax.random.PRNGKey(i), fit_options=fit_options,
                                 num_test=50 if small else 200, predictor_options=costs,
                                 volume_rows=volume_rows, **covariates)
        studies[name] = study
        lam = 2.0 * np.asarray(study.curve.eigenvalues)
        table.append({"architecture": name, "d": zoo.dim, "deviation": size["deviation"],
                      **complexity_range(lam, rows), "k_eff": float(study.k_eff[-1]),
                      "train_log_loss": study.projection.loss, "interpolates": study.interpolates,
                      "B_n": float(study.bounds.gibbs[-1]), "heldout": study.heldout.log_loss,
                      "excess_code": float(study.regret.excess_code_length_mean.values[0, -1])})
    widest = max(table, key=lambda r: r["complexity_range"])
    others = ", ".join(f"{r['complexity_range']:.2g} ({r['architecture']})" for r in table if r is not widest)
    sentence = (f"The {widest['architecture']} has the widest complexity range at n = {rows}: "
                f"{widest['complexity_range']:.2g} decades vs {others}."
                + interpolation_clause([r["architecture"] for r in table if r["interpolates"]]))
    return studies, table, sentence


def _lines(table):
    lines = [f"{'architecture':>18} {'d':>5} {'range':>6} {'resolved':>8} {'k_eff':>8} {'B_n':>9} "
             f"{'excess code':>11}"]
    lines += [f"{r['architecture']:>18} {r['d']:>5} {r['complexity_range']:6.2f} {r['resolved']:>8} "
              f"{r['k_eff']:8.3g} {r['B_n']:9.3g} {r['excess_code']:11.3g}" for r in table]
    return lines


def main(small: bool = False, out: str | Path | None = None) -> dict:
    """Run the example; return the tables (one row per architecture) and the figure paths."""
    out_dir = Path(out) if out is not None else Path("examples-out") / NAME
    out_dir.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    data = load_data("digits")
    if small:  # 120 rows spread over the set
        keep = np.linspace(0, data.x.shape[0] - 1, 120).astype(int)
        data = dataclasses.replace(data, x=data.x[keep], y=data.y[keep])
    rows = data.x.shape[0]
    sizes = architecture_sizes(data.x.shape[1], int(data.num_classes))
    studies, table, sentence = _compare(data, sizes, [50, rows] if small else [50, 200, 700, rows],
                                        [0, 1] if small else [0, 1, 2], small)
    figure = out_dir / "architectures.png"
    plot_architectures(studies, rows).savefig(figure, dpi=120)

    # the character sequence: each character from the 4 before it, on a prefix of the stdlib's docstrings
    text = context_rows(stdlib_text(), rows=200 if small else 1000, length=4)
    text_sizes = architecture_sizes(text.x.shape[1], text.num_classes, vocab=text.vocab,
                                    embed=ATTENTION_EMBED)
    text_rows = text.x.shape[0]
    text_studies, text_table, text_sentence = _compare(
        text, text_sizes, [50, text_rows] if small else [50, 150, 400, text_rows],
        [0, 1] if small else [0, 1, 2], small, volume_rows=50)  # 50 rows × 56 outputs, as the CLI's
    text_figure = out_dir / "architectures_sequence.png"
    plot_architectures(text_studies, text_rows).savefig(text_figure, dpi=120)

    lines = [f"digits ({rows} rows), ≈ {sizes['linear']['target']} parameters", *_lines(table), sentence,
             f"{text.name}: each character from the 4 before it ({text.vocab} tokens), "
             f"≈ {text_sizes['linear']['target']} parameters (linear: {text_sizes['linear']['dim']})",
             *_lines(text_table), text_sentence]
    (out_dir / "table.txt").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    print(f"{time.perf_counter() - started:.0f} s; figures: {figure}, {text_figure}")
    return {"table": table, "sentence": sentence, "figure": str(figure), "rows": rows,
            "sequence_table": text_table, "sequence_sentence": text_sentence,
            "sequence_figure": str(text_figure), "sequence_target": text_sizes["linear"]["target"],
            "sequence_vocab": text.vocab}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="reduced size (seconds, for tests)")
    parser.add_argument("--out", type=Path, default=None, help="output folder")
    args = parser.parse_args()
    main(small=args.small, out=args.out)
