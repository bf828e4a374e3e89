"""The agnostic pipeline on a network (bv.network_study) and the architectures comparison.

Exact anchors: the linear-Gaussian class (the zoo's MLP with no hidden layer and a Normal likelihood),
where θ* is least squares, the Laplace volume curve and B_n are exact (D is quadratic, the prior
Gaussian), and laplace_ggn is the exact Bayes mixture (conjugate predictive).
"""

from __future__ import annotations

import json
import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import bayesvol as bv
import bayesvol_zoo as models
from bayesvol.app.network_study import architecture_sizes, complexity_range

SIGMA = 0.5


@pytest.fixture(scope="module")
def linear():
    """y = x w + b + N(0, σ²) with 3 inputs, 40 rows: the zoo's MLP with no hidden layer."""
    zoo = models.get("mlp_regression", d_in=3, widths=[], d_out=1, sigma=SIGMA)
    key_x, key_y = jax.random.split(jax.random.PRNGKey(3))
    x = np.asarray(jax.random.normal(key_x, (40, 3)))
    y = x @ np.array([[0.8], [-0.5], [0.3]]) + 0.2 + SIGMA * np.asarray(jax.random.normal(key_y, (40, 1)))
    xdot = np.hstack([x, np.ones((40, 1))])  # z = (W0 (3), b0 (1)) in the class's site order
    prior_var = np.array([1 / 3, 1 / 3, 1 / 3, 1.0])  # W ~ N(0, 1/fan_in), b ~ N(0, 1)
    return zoo.model_class, x, y, xdot, prior_var


def _posterior(xdot, y, prior_var):
    """The exact Gaussian posterior of the linear-Gaussian class: Σ_n, μ_n."""
    precision = np.diag(1 / prior_var) + xdot.T @ xdot / SIGMA**2
    cov = np.linalg.inv(precision)
    return cov, cov @ xdot.T @ y[:, 0] / SIGMA**2


def _log_normal(y, mean, var):
    return -0.5 * np.log(2 * np.pi * var) - 0.5 * (y - mean) ** 2 / var


def test_fit_projection_is_least_squares(linear):
    mc, x, y, xdot, _ = linear
    fit = bv.fit_projection(mc, y, key=jax.random.PRNGKey(0), tol=1e-10, x=x)
    exact = np.linalg.lstsq(xdot, y[:, 0], rcond=None)[0]
    assert fit.grad_norm < 1e-9 and fit.lbfgs_steps >= 1
    np.testing.assert_allclose(np.asarray(fit.z), exact, atol=1e-8)
    assert fit.loss == pytest.approx(float(-np.mean(_log_normal(y[:, 0], xdot @ exact, SIGMA**2))), abs=1e-12)


def test_linear_gaussian_study_is_exact(linear):
    """Volume curve, k_eff and B_n against the closed forms; laplace_ggn against the conjugate predictive."""
    mc, x, y, xdot, prior_var = linear
    ns, key = [8, 40], jax.random.PRNGKey(1)
    study = bv.network_study(mc, y, ns, [0, 1], ["laplace_ggn"], key=key, volume_rows=40, num_test=30,
                             fit_options={"tol": 1e-10}, predictor_options={"laplace_ggn": {"num_starts": 2}},
                             projection="erm", x=x)
    z_star = np.asarray(study.projection.z)
    np.testing.assert_allclose(z_star, np.linalg.lstsq(xdot, y[:, 0], rcond=None)[0], atol=1e-8)
    # D(θ* ‖ θ) = ½ Δᵀ F Δ with F = Ẋᵀ Ẋ / (m σ²) over the 40 rows: whitened eigenvalues λ = eig(Σ^½ F Σ^½)
    fisher = xdot.T @ xdot / (40 * SIGMA**2)
    whitened = np.sqrt(prior_var)[:, None] * fisher * np.sqrt(prior_var)[None, :]
    lam = np.sort(np.linalg.eigvalsh(whitened))
    np.testing.assert_allclose(np.sort(2 * np.asarray(study.curve.eigenvalues)), lam, rtol=1e-9)
    n = np.asarray(ns, dtype=float)
    np.testing.assert_allclose(study.k_eff, np.sum(n[:, None] * lam / (1 + n[:, None] * lam), axis=1),
                               rtol=1e-9)
    # B_n = −log E_w e^{−nD} = ½ log det(I + nΣF) + ½ n θ*ᵀ F (I + nΣF)⁻¹ θ* (prior mean 0)
    exact_b = []
    for k in n:
        a = k * fisher
        m = np.eye(4) + prior_var[:, None] * a
        exact_b.append(0.5 * np.linalg.slogdet(m)[1] + 0.5 * z_star @ a @ np.linalg.solve(m, z_star))
    np.testing.assert_allclose(study.bounds.gibbs, exact_b, rtol=1e-7)
    # laplace_ggn is the exact mixture here: replay the documented draws (fold_in(key, seed) → 4 keys)
    key_regret = jax.random.split(key, 5)[4]
    ds = study.regret
    for j, seed in enumerate([0, 1]):
        key_data, key_test, _, _ = jax.random.split(jax.random.fold_in(key_regret, seed), 4)
        rows = np.asarray(jax.random.randint(key_data, (ns[-1],), 0, 40))
        ref = _log_normal(y[rows, 0], xdot[rows] @ z_star, SIGMA**2)
        np.testing.assert_allclose(ds.reference_code_length.values[:, j], -np.cumsum(ref)[np.asarray(ns) - 1],
                                   rtol=1e-10)
        for i, k in enumerate(ns):
            cov, mean = _posterior(xdot[rows[:k]], y[rows[:k]], prior_var)
            test = np.asarray(jax.random.randint(jax.random.fold_in(key_test, k), (30,), 0, 40))
            log_q = _log_normal(y[test, 0], xdot[test] @ mean,
                                SIGMA**2 + np.einsum("ij,jk,ik->i", xdot[test], cov, xdot[test]))
            log_p = _log_normal(y[test, 0], xdot[test] @ z_star, SIGMA**2)
            assert ds.regret.values[0, i, j] == pytest.approx(np.mean(log_p - log_q), abs=1e-6)
            if i + 1 < len(ns):  # the block (n_i, n_{i+1}] coded by the exact predictive after n_i rows
                block = rows[k:ns[i + 1]]
                var = SIGMA**2 + np.einsum("ij,jk,ik->i", xdot[block], cov, xdot[block])
                code = -np.sum(_log_normal(y[block, 0], xdot[block] @ mean, var))
                increment = ds.code_length.values[0, i + 1, j] - ds.code_length.values[0, i, j]
                assert increment == pytest.approx(code, abs=1e-5)
    assert np.all(ds.regret_stderr.values > 0)


def test_complexity_range_counts_decades_above_the_prior():
    lam = np.array([1.0, 1e-1, 1e-2, 1e-3, 0.0])
    out = complexity_range(lam, 500)  # n·λ = 500, 50, 5, 0.5, 0: three resolved
    assert out["resolved"] == 3
    assert out["complexity_range"] == pytest.approx(2.0, abs=1e-12)
    assert out["decades_above_prior"] == pytest.approx(np.log10(500), abs=1e-12)
    assert complexity_range(lam, 1.5)["complexity_range"] == 0.0  # one direction resolved: no range


def test_architectures_have_equal_parameter_counts():
    sizes = architecture_sizes(64, 10)  # digits: 64 pixels, 10 classes
    assert sizes["linear"]["dim"] == 650
    assert max(abs(s["deviation"]) for s in sizes.values()) <= 0.05
    target = sizes["linear"]["target"]
    for name, size in sizes.items():
        width = size["width"]
        if name == "random features":
            zoo = models.get("random_features", d_in=64, width=width, d_out=10)
        else:
            widths = {"linear": [], "shallow wide MLP": [width], "deep narrow MLP": [width] * 3}[name]
            zoo = models.get("mlp_classification", d_in=64, widths=widths, d_out=10)
        assert zoo.model_class.dim == size["dim"] == pytest.approx(target, rel=0.05), name


def test_random_features_learn_only_the_output_layer():
    zoo = models.get("random_features", d_in=5, width=7, d_out=3)
    mc = zoo.model_class
    assert mc.dim == (7 + 1) * 3 == zoo.facts.dim
    x = jax.random.normal(jax.random.PRNGKey(0), (4, 5))
    # the frozen features: a second build with the same seed gives the same log-likelihood
    same = models.get("random_features", d_in=5, width=7, d_out=3).model_class
    y = jnp.array([0, 1, 2, 1])
    z = jax.random.normal(jax.random.PRNGKey(1), (mc.dim,))
    np.testing.assert_array_equal(mc.log_likelihood(z, y, covariates={"x": x}),
                                  same.log_likelihood(z, y, covariates={"x": x}))



def test_interpolating_classifier_is_warned_and_a_regression_is_not(linear):
    # a classifier's log loss is ≥ 0 and reaches 0 only as its logits run off to infinity: below
    # INTERPOLATION_LOSS the Laplace volume at θ* is no bound, and the study says so; a Normal likelihood's
    # log loss can be anything, so a small (even negative) one says nothing
    from bayesvol.regret.agnostic import INTERPOLATION_LOSS, ProjectionFit, _interpolates

    zoo = models.logistic_regression(d=2)
    cov = zoo.sample_covariates(jax.random.PRNGKey(0), 10)
    z = jnp.array([30.0, -30.0])
    with pytest.warns(bv.InterpolationWarning, match=r"training log loss 1e-05 nats per row < 0.001"):
        assert _interpolates(zoo.model_class, ProjectionFit(z, 1e-5, 1e-7, 10, 5, 0.1), cov)
    assert not _interpolates(zoo.model_class, ProjectionFit(z, 2 * INTERPOLATION_LOSS, 1e-7, 10, 5, 0.1), cov)
    mc, x, _, _, _ = linear
    assert not _interpolates(mc, ProjectionFit(jnp.zeros(4), -3.0, 1e-9, 10, 5, 0.1), {"x": x})

@pytest.mark.slow
def test_network_command_quick(tmp_path, monkeypatch, capsys):
    from bayesvol.app.cli import main

    monkeypatch.setenv("BAYESVOL_QUICK", "1")
    out = tmp_path / "net"
    with warnings.catch_warnings():  # printed by the CLI as one line on stderr when θ* interpolates
        warnings.simplefilter("always", bv.InterpolationWarning)
        code = main(["network", "--n", "20", "40", "--seeds", "2", "--predictors", "erm_gd",
                     "--labels", "data", "theta_star", "--option", "widths=[8]", "--out", str(out)])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    result = json.loads((out / "results.json").read_text())
    assert result["dim"] == (64 + 1) * 8 + (8 + 1) * 10 and result["ns"] == [20, 40]
    assert result["projection"]["grad_norm"] >= 0 and result["heldout"]["test_rows"] == 24
    for name in ("report.html", "regret.nc", "regret_seed0.nc", "regret_seed1.nc", "volume_laplace.nc",
                 "network.png", "regret_theta_star.nc", "regret_theta_star_seed0.nc",
                 "regret_theta_star_seed1.nc"):
        assert (out / name).exists(), name
    assert "k_eff(40)" in result["interpretation"]
    # θ* by MAP (the default), the regret on both labels, each row saying which and where it sits against B_n
    assert result["projection"]["rule"] == result["heldout"]["rule"] == "map"
    assert f"The log loss alone has ‖∇‖ = {result['projection']['loss_grad_norm']:.2g} at θ*" in (
        result["interpretation"])
    assert result["labels"] == ["data", "theta_star"]
    assert [(r["labels"], r["n"]) for r in result["table"]] == [
        ("data", 20), ("data", 40), ("theta_star", 20), ("theta_star", 40)]
    for r in result["table"]:
        relation = r["excess code erm_gd vs B_n"]
        assert relation.endswith("below") == (r["excess code erm_gd"] <= r["B_n"]), relation
        if r["n"] == 40:  # the sentence reads the last n, from the numbers
            assert f"erm_gd {r['excess code erm_gd']:.3g}" in result["interpretation"]
    assert "On labels drawn from P_θ* (the realizable surrogate" in result["interpretation"]
    assert result["interpolates"] == (result["projection"]["train_log_loss"] < 1e-3)
    assert result["interpolates"] == ("InterpolationWarning" in captured.err) == (
        "θ* interpolates the rows" in result["interpretation"])


# ------------------------------------------------------------------------------------------------
# θ* attained (the MAP) and the realizable surrogate (labels drawn from P_θ*)
@pytest.fixture(scope="module")
def small_digits():
    """300 rows of digits spread over the set, and a 64 → 6 → 10 tanh MLP (d = 460)."""
    from bayesvol.app.experiments import load_data
    from bayesvol.app.network_study import _quick_rows, network_model

    data = _quick_rows(load_data("digits"), 300)
    return network_model(data, widths=[6]), data


def test_map_projection_is_attained_where_erm_interpolates(small_digits):
    """The MAP θ* is a stationary point of the penalized objective (‖∇‖ ≈ 0) with a training log loss far
    above the interpolation threshold, and it is the fit ``bayesvol volume --data`` uses (same rule, same z);
    the ERM on the same rows interpolates them (its log loss runs to 0, the warning says so)."""
    from bayesvol.app.data_volume import fitted_truth
    from bayesvol.regret.agnostic import INTERPOLATION_LOSS, _interpolates, fit_map_projection

    zoo, data = small_digits
    mc, key = zoo.model_class, jax.random.PRNGKey(5)
    fit = fit_map_projection(mc, data.y, key=key, x=data.x)
    assert fit.rule == "map" and fit.grad_norm < 1e-6
    assert fit.loss > 10 * INTERPOLATION_LOSS
    assert not _interpolates(mc, fit, {"x": data.x})  # no InterpolationWarning (warnings are errors here)
    # at the MAP ∇L = ∇log w/N: the excess log loss's linear term is the prior's pull, to ‖∇ objective‖
    pull = float(jnp.linalg.norm(jax.grad(mc.log_prior)(fit.z))) / data.y.shape[0]
    assert pull > 1e3 * fit.grad_norm and abs(fit.loss_grad_norm - pull) <= fit.grad_norm + 1e-12
    reference = fitted_truth(zoo, data.x, data.y, key=key)
    np.testing.assert_allclose(np.asarray(fit.z), np.asarray(mc.flatten(reference.params)), atol=1e-10)
    assert fit.loss == pytest.approx(reference.train_log_loss, abs=1e-12)
    erm = bv.fit_projection(mc, data.y, key=key, x=data.x)
    assert erm.loss < INTERPOLATION_LOSS
    with pytest.warns(bv.InterpolationWarning):
        assert _interpolates(mc, erm, {"x": data.x})


def test_realizable_surrogate_meets_the_exact_bound(linear):
    """Labels drawn from P_θ*: the Bayes mixture's expected excess code length is ≤ B_n (Barron).

    On the linear-Gaussian class laplace_ggn is the exact posterior predictive and B_n is exact; with
    checkpoints at every n (blocks of one row) the block-prequential code is the mixture's own code
    −log m(y^n | x^n). Its expected excess over −log P_θ*(y^n | x^n) given x^n is the Gaussian
    KL(N(Xθ*, σ²I) ‖ N(0, XΣXᵀ + σ²I)), computed here in closed form for each seed's rows: the measured
    mean over 24 seeds must match its mean within 3 s.e. (the s.e. of the measured excess), and both must
    lie below B_n. D averages over all 40 rows, the distribution the rows are drawn from, so B_n bounds
    the expectation over x^n too (Jensen).
    """
    mc, x, y, xdot, prior_var = linear
    n_max, seeds, key = 8, list(range(24)), jax.random.PRNGKey(11)
    ns = list(range(1, n_max + 1))
    z_star = np.linalg.lstsq(xdot, y[:, 0], rcond=None)[0]
    study = bv.network_study(mc, y, ns, seeds, ["laplace_ggn"], key=key, volume_rows=40, num_test=5,
                             projection="erm", fit_options={"tol": 1e-10}, labels="theta_star",
                             predictor_options={"laplace_ggn": {"num_starts": 1}}, x=x)
    assert study.regret.attrs["labels"] == "theta_star" and list(study.regrets) == ["theta_star"]
    np.testing.assert_allclose(np.asarray(study.projection.z), z_star, atol=1e-8)
    key_regret = jax.random.split(key, 5)[4]
    exact = []
    for seed in seeds:
        key_data = jax.random.split(jax.random.fold_in(key_regret, seed), 4)[0]
        rows = np.asarray(jax.random.randint(key_data, (n_max,), 0, 40))
        a = xdot[rows]
        cov_m = a @ np.diag(prior_var) @ a.T + SIGMA**2 * np.eye(n_max)
        mean = a @ z_star
        exact.append(0.5 * (np.trace(np.linalg.solve(cov_m, SIGMA**2 * np.eye(n_max))) - n_max
                            + mean @ np.linalg.solve(cov_m, mean) + np.linalg.slogdet(cov_m)[1]
                            - n_max * np.log(SIGMA**2)))
    measured = study.regret.excess_code_length.values[0, -1]
    se = measured.std(ddof=1) / np.sqrt(len(seeds))
    b_n = float(study.bounds.gibbs[-1])
    assert np.mean(exact) <= b_n
    assert abs(measured.mean() - np.mean(exact)) <= 3 * se, (measured.mean(), np.mean(exact), se)
    assert measured.mean() <= b_n + 3 * se


def _text(chars: str):
    """A SequenceData over the sorted characters of ``chars`` (the stdlib text's form, any string)."""
    from bayesvol.app.text_data import SequenceData

    alphabet = sorted(set(chars))
    symbols = np.array([alphabet.index(c) for c in chars])
    return SequenceData("toy", symbols, alphabet, split=len(chars))


def test_context_rows_are_the_previous_characters_with_a_start_symbol():
    from bayesvol.app.network_study import context_rows

    data = _text("abcabxz")  # 'x' and 'z' lie after the 5-character prefix: not in its alphabet
    rows = context_rows(data, rows=5, length=2)
    assert rows.alphabet == ["a", "b", "c"] and rows.vocab == 4 == rows.num_classes and rows.length == 2
    start = 3
    np.testing.assert_array_equal(rows.y, [0, 1, 2, 0, 1])
    np.testing.assert_array_equal(rows.tokens, [[start, start], [start, 0], [0, 1], [1, 2], [2, 0]])
    # the one-hot rows: position j occupies columns j·K … j·K + K − 1
    np.testing.assert_array_equal(rows.x.reshape(5, 2, 4).argmax(-1), rows.tokens)
    assert rows.x.shape == (5, 8) and rows.x.sum() == 10 and rows.x.dtype == np.float64
    with pytest.raises(bv.InputError, match="rows must be an integer in"):
        context_rows(data, rows=8)
    with pytest.raises(bv.InputError, match="length must be a positive integer"):
        context_rows(data, rows=5, length=0)


def test_sequence_architectures_have_equal_parameter_counts():
    """Token rows: attention joins; P is attention's count at ATTENTION_EMBED; the linear keeps its own."""
    from bayesvol.app.network_study import ATTENTION_EMBED, architecture_model, context_rows
    from bayesvol.app.text_data import stdlib_text

    rows = context_rows(stdlib_text(), rows=300, length=4)  # the tests' prefix; vocabulary from it
    k = rows.vocab
    sizes = architecture_sizes(rows.x.shape[1], k, vocab=k, embed=ATTENTION_EMBED)
    assert list(sizes) == ["one-head attention", "deep narrow MLP", "shallow wide MLP", "random features",
                           "linear"]
    target = sizes["linear"]["target"]
    # the search's centre is the attention count at width 16: 2·K·16 + 2·16²
    assert abs(target - (2 * k * ATTENTION_EMBED + 2 * ATTENTION_EMBED**2)) <= 0.05 * target
    for name, size in sizes.items():
        zoo = architecture_model(name, size["width"], rows)
        assert zoo.model_class.dim == zoo.facts.dim == size["dim"], name
        if name == "linear":  # multinomial logistic on the one-hot context: (L·K + 1)·K, not resizable
            assert size["dim"] == (4 * k + 1) * k
        else:
            assert size["dim"] == pytest.approx(target, rel=0.05), name
    assert sizes["one-head attention"]["width"] == ATTENTION_EMBED
    # the digits comparison is unchanged: four classes, centred on the linear one
    assert list(architecture_sizes(64, 10)) == ["deep narrow MLP", "shallow wide MLP", "random features",
                                                "linear"]


def test_attention_reads_tokens_and_the_mlps_one_hot_rows():
    """The same rows through each class's own covariate (network_study's covariates path)."""
    from bayesvol.app.network_study import _covariates, architecture_model, context_rows

    rows = context_rows(_text("the cat sat on the mat, the end"), rows=30, length=3)
    for name, width, covariate in (("one-head attention", 4, "tokens"), ("shallow wide MLP", 5, "x")):
        mc = architecture_model(name, width, rows).model_class
        cov = _covariates(architecture_model(name, width, rows), rows)
        assert list(cov) == [covariate] and covariate in mc.row_layout.rows
        z = jax.random.normal(jax.random.PRNGKey(0), (mc.dim,))
        ll = np.asarray(mc.log_likelihood(z, rows.y, covariates=cov))
        assert ll.shape == (30,) and np.all(np.isfinite(ll)) and np.all(ll < 0)
    with pytest.raises(bv.InputError, match="attention architecture reads token rows"):
        architecture_model("one-head attention", 4, _rows_dataset())


def _rows_dataset():
    from bayesvol.app.experiments import DataSet

    return DataSet("rows", np.zeros((4, 3)), np.array([0, 1, 0, 1]), "binary", 2)


def test_architectures_sentence_reads_five_rows():
    """The sentence names the widest range, k_eff's ends, the regret's ends and the unmatched class."""
    from bayesvol.app.network_study import _architectures_sentence

    names = ["one-head attention", "deep narrow MLP", "shallow wide MLP", "random features", "linear"]
    ranges, keff, code = [1.2, 2.5, 0.4, 0.0, 0.9], [30.0, 80.0, 12.0, 5.0, 40.0], [50., 70., 60., 90., 40.]
    table = [{"architecture": n, "complexity_range": c, "resolved": 10 + i, "k_eff": k,
              "excess code sgd_ensemble": e, "excess code sgd_ensemble vs B_n": f"{i + 1}.00× above",
              "d": 2300 if n != "linear" else 12600,
              "deviation_%": 0.5 if n != "linear" else 447.0, "interpolates": False}
             for i, (n, c, k, e) in enumerate(zip(names, ranges, keff, code, strict=True))]
    sentence = _architectures_sentence({"architectures": table, "n": 1000, "data": "text",
                                        "predictors": ["sgd_ensemble"], "target_parameters": 2304})
    assert sentence.startswith("At n = 1,000 on text, the deep narrow MLP has the widest complexity range: "
                               "2.5 decades of resolved eigenvalues (11 directions")
    assert ("vs 1.2 (one-head attention), 0.9 (linear), 0.4 (shallow wide MLP), 0 (random features)"
            in sentence)
    assert "from 5 (random features) to 80 (deep narrow MLP)" in sentence
    assert "(the linear class keeps its own d = 12,600)" in sentence
    assert "is the linear's (40 nats), the largest the random features' (90)." in sentence
    assert "one-head attention 1.00× above; deep narrow MLP 2.00× above" in sentence  # each against its B_n


@pytest.mark.slow
def test_architectures_command_on_the_sequence_quick(tmp_path, monkeypatch, capsys):
    """End to end at the tests' size: 300 characters, the 5 classes, the sentence read off the table.

    The command is the README's sequence `architectures` line with the README test's reductions appended
    (`--n 20 40 --seeds 2 --predictors erm_gd`), so this is also that line's run (tests/test_cli_readme.py
    checks only its parse)."""
    from test_cli_readme import readme_command

    from bayesvol.app.cli import main
    from bayesvol.app.network_study import _architectures_sentence

    monkeypatch.setenv("BAYESVOL_QUICK", "1")
    monkeypatch.chdir(tmp_path)
    argv = readme_command("bayesvol architectures --data python-stdlib-text")
    with warnings.catch_warnings():  # printed by the CLI as one line on stderr when θ* interpolates
        warnings.simplefilter("always", bv.InterpolationWarning)
        code = main(argv)
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "bayesvol: error" not in captured.err
    out = tmp_path / "bayesvol-out" / "architectures"
    assert (out / "manifest.json").exists()
    result = json.loads((out / "results.json").read_text())
    table = result["architectures"]
    assert [r["architecture"] for r in table] == ["one-head attention", "deep narrow MLP", "shallow wide MLP",
                                                  "random features", "linear"]
    assert result["rows"] == 300 and result["context"] == 4 and result["volume_rows"] == 50
    k = result["vocab"]
    assert k == len(result["alphabet"]) + 1
    for r in table:
        if r["architecture"] == "linear":
            assert r["d"] == (4 * k + 1) * k
        else:
            assert abs(r["deviation_%"]) <= 5.0
            assert r["d"] == pytest.approx(result["target_parameters"], rel=0.05)
        assert np.isfinite(r["excess code erm_gd"]) and r["complexity_range"] >= 0
        assert r["resolved"] / 2 < r["k_eff"] + 1e-12 <= r["d"]
        prefix = r["architecture"].replace(" ", "_") + "_"
        assert (out / f"{prefix}volume_laplace.nc").exists() and (out / f"{prefix}regret.nc").exists()
    assert (out / "architectures.png").exists() and (out / "report.html").exists()
    widest = max(table, key=lambda r: r["complexity_range"])
    assert result["interpretation"] == _architectures_sentence(result)
    assert result["interpretation"].startswith(f"At n = 40 on python-stdlib-text[:300], the "
                                               f"{widest['architecture']} has the widest complexity range: "
                                               f"{widest['complexity_range']:.2g} decades")
    assert f"(the linear class keeps its own d = {(4 * k + 1) * k:,})" in result["interpretation"]
    assert "one-head attention" in captured.out and result["interpretation"] in captured.out
