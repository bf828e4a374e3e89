import itertools
import math

import numpy as np
import pytest

from bayesvol.app.text_data import stdlib_text
from bayesvol.errors import InputError
from bayesvol.regret import sequences as seq


def test_kt_code_by_hand():
    # order 0, α = ½ on "aab": q(a) = ½, q(a | a) = 1.5 / 2, q(b | aa) = 0.5 / 3
    x, _ = seq.encode_symbols("aab")
    log_q = seq.markov_log_predictive(x, 0, alpha=0.5, num_symbols=2)
    np.testing.assert_allclose(np.exp(log_q), [0.5, 0.75, 0.5 / 3], rtol=1e-15)


def test_order_one_by_hand():
    # order 1 with the start symbol as the first context: contexts (S, a, a, b), K = 2, α = 1
    x, _ = seq.encode_symbols("aaba")
    log_q = seq.markov_log_predictive(x, 1, alpha=1.0, num_symbols=2)
    # q(a | S) = 1/2; q(a | a) = 1/2 (a never seen after a); q(b | a) = (0+1)/(1+2); q(a | b) = 1/2
    np.testing.assert_allclose(np.exp(log_q), [0.5, 0.5, 1 / 3, 0.5], rtol=1e-15)


@pytest.mark.parametrize("order", [0, 1, 2, 3])
@pytest.mark.parametrize("alpha", [0.5, 1.0, 0.1])
def test_prequential_equals_closed_form(order, alpha):
    x, _ = seq.encode_symbols("abracadabra, a cadaver! abracadabra.")
    sequential = seq.markov_log_predictive(x, order, alpha=alpha).sum()
    closed = seq.markov_log_mixture(x, order, alpha=alpha)
    assert abs(sequential - closed) < 1e-9


def test_closed_form_is_the_dirichlet_integral():
    # order 0, K = 2, α = 1: Q(x^n) = k! (n − k)! / (n + 1)!, the Beta integral
    x = np.array([0, 1, 1, 0, 1, 1, 1])
    k, n = int(x.sum()), x.size
    exact = math.lgamma(k + 1) + math.lgamma(n - k + 1) - math.lgamma(n + 2)
    assert abs(seq.markov_log_mixture(x, 0, alpha=1.0) - exact) < 1e-12


def test_order_mixture_meets_its_bound_and_is_exact():
    x, _ = seq.encode_symbols("the cat sat on the mat; the cat ate the rat. " * 4)
    codes = seq.markov_code_lengths(x, 4)
    bayes = -codes.bayes.sum(axis=1)
    mixture = -codes.mixture.sum()
    prior = seq.order_prior(4)
    assert abs(prior.sum() - 1.0) < 1e-15
    # exact: −log Σ_k π_k Q_k(x^n) from the closed forms
    closed = np.array([seq.markov_log_mixture(x, k) for k in range(5)])
    log_mix = np.log(np.sum(prior * np.exp(closed - closed.max()))) + closed.max()
    assert abs(mixture + log_mix) < 1e-9
    for k in range(5):
        assert mixture <= bayes[k] + (k + 1) * math.log(2) + 1e-9
    assert mixture >= bayes.min() - 1e-9  # never better than the best order


def test_plugin_counts_infinite_losses():
    x, _ = seq.encode_symbols("abab" + "c")
    log_q = seq.plugin_log_predictive(x, 1)
    # S→a, a→b, b→a are unseen contexts; a→b the second time has probability 1; b→c was never seen
    np.testing.assert_array_equal(np.isinf(log_q), [True, True, True, False, True])
    assert log_q[3] == 0.0
    table = seq.code_length_table(seq.markov_code_lengths(x, 1), [5])
    assert int(table.infinite.sel(predictor="plug-in order 1", n=5)) == int(np.isinf(log_q).sum())
    assert np.isinf(table.bits.sel(predictor="plug-in order 1", n=5))
    assert np.isfinite(table.bits.sel(predictor="bayes order 1", n=5))


def test_heldout_uses_train_counts_only():
    train, _ = seq.encode_symbols("aaaaab")
    test = np.array([0, 1])
    bayes, plugin = seq.heldout_log_loss(train, test, 0, alpha=0.5, num_symbols=2)
    np.testing.assert_allclose(np.exp(bayes), [5.5 / 7, 1.5 / 7], rtol=1e-15)
    np.testing.assert_allclose(np.exp(plugin), [5 / 6, 1 / 6], rtol=1e-15)
    # order 1: the test's first context is the last training symbol (b), never followed by anything
    _, plugin1 = seq.heldout_log_loss(train, test, 1, num_symbols=2)
    assert np.isinf(plugin1[0]) and np.isfinite(plugin1[1])


def test_stdlib_text_is_deterministic_and_split_by_position():
    a, b = stdlib_text(5000), stdlib_text(5000)
    np.testing.assert_array_equal(a.symbols, b.symbols)
    assert a.symbols.size == 5000 and a.split == 4000
    assert a.train.size + a.test.size == 5000
    text = "".join(a.alphabet[i] for i in a.symbols[:200])
    assert text.strip()  # real prose from the interpreter's own library


@pytest.mark.parametrize(("call", "message"), [
    (lambda: seq.markov_log_predictive([0.5, 1.0], 0), "integer symbols"),
    (lambda: seq.markov_log_predictive([], 0), "non-empty"),
    (lambda: seq.markov_log_predictive([0, 3], 0, num_symbols=2), "0 … 1"),
    (lambda: seq.markov_log_predictive([0, 1], -1), "order must be"),
    (lambda: seq.markov_log_predictive([0, 1], 0, alpha=0.0), "alpha"),
    (lambda: seq.markov_code_lengths([0, 1], 40, num_symbols=100), "too large"),
    (lambda: seq.code_length_table(seq.markov_code_lengths([0, 1], 0), [3]), "checkpoints"),
    (lambda: stdlib_text(10), "num_chars"),
    (lambda: stdlib_text(1000, test_fraction=1.0), "test_fraction"),
])
def test_bad_input(call, message):
    with pytest.raises(InputError, match=message):
        call()


def test_ranks_match_a_loop():
    rng = np.random.default_rng(0)
    x = rng.integers(0, 3, 300)
    for order in (0, 1, 2):
        n_cx, n_c = seq._sequential_counts(x, order, 3)
        contexts = seq._contexts(x, order, 3)
        pairs, singles = {}, {}
        for t, (c, s) in enumerate(itertools.zip_longest(contexts, x)):
            assert n_cx[t] == pairs.get((c, s), 0) and n_c[t] == singles.get(c, 0)
            pairs[(c, s)] = pairs.get((c, s), 0) + 1
            singles[c] = singles.get(c, 0) + 1
