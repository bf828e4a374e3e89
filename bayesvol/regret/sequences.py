"""Code lengths of sequences: Markov chains of order 0 … K with Dirichlet priors, mixed over orders, plug-ins.

For order k, every symbol x_t is predicted from its context c_t = (x_{t−k}, …, x_{t−1}), positions before
the start read as a start symbol outside the alphabet (so every order codes every symbol of the sequence).
With a Dirichlet(α·1) prior on each context's next-symbol distribution the Bayes mixture is exact:

    q_k(x_t | x^{t−1}) = (n_{c_t, x_t} + α) / (n_{c_t} + Kα),
    Q_k(x^n) = Π_c Γ(Kα) / Γ(Kα + n_c) · Π_x Γ(α + n_{c,x}) / Γ(α),

with counts over x^{t−1}. The mixture over orders Q(x^n) = Σ_k π_k Q_k(x^n), π_k = 2^{−(k+1)} (the last
order takes the remaining 2^{−K}, so the prior sums to one), is within log(1/π_k) ≤ (k+1) log 2 nats of every
order. The plug-in predicts n_{c,x} / n_c: a symbol never seen in its context (or an unseen context) costs an
infinite code length, which is counted, not clipped.

Hand-written in NumPy: the counts are ranks within groups of (context, symbol) keys, O(n log n) for any
order, with no library that offers these exact sequential Dirichlet codes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np
import xarray as xr
from scipy.special import gammaln, logsumexp

from bayesvol.errors import InputError

__all__ = [
    "MarkovCodes",
    "code_length_table",
    "encode_symbols",
    "heldout_log_loss",
    "markov_code_lengths",
    "markov_log_mixture",
    "markov_log_predictive",
    "order_prior",
    "plugin_log_predictive",
]

LOG2 = float(np.log(2.0))


class MarkovCodes(NamedTuple):
    """Per-symbol log predictive probabilities (nats) of the sequence under each predictor.

    ``bayes[k, t]`` = log q_k(x_t | x^{t−1}); ``mixture[t]`` for the mixture over orders; ``plugin[k, t]`` the
    maximum-likelihood Markov predictor (−∞ where the symbol was never seen in its context).
    """

    orders: np.ndarray
    bayes: np.ndarray
    mixture: np.ndarray
    plugin: np.ndarray
    alpha: float
    num_symbols: int


def encode_symbols(text: str | Sequence[Any]) -> tuple[np.ndarray, list[Any]]:
    """Symbols of ``text`` as integers 0 … K−1 (sorted alphabet) and the alphabet."""
    alphabet = sorted(set(text))
    index = {s: i for i, s in enumerate(alphabet)}
    return np.fromiter((index[s] for s in text), dtype=np.int64, count=len(text)), alphabet


def _check_sequence(sequence: Any, num_symbols: int | None) -> tuple[np.ndarray, int]:
    seq = np.asarray(sequence)
    if seq.ndim != 1 or seq.size == 0:
        raise InputError(f"sequence must be a non-empty 1-D array of symbols 0 … K−1, got shape {seq.shape}")
    if not np.issubdtype(seq.dtype, np.integer):
        raise InputError(f"sequence must hold integer symbols (use encode_symbols for text), got {seq.dtype}")
    seq = seq.astype(np.int64)
    k = int(seq.max()) + 1 if num_symbols is None else int(num_symbols)
    if k < 2:
        raise InputError(f"num_symbols must be at least 2, got {k}")
    if seq.min() < 0 or seq.max() >= k:
        raise InputError(f"sequence symbols must lie in 0 … {k - 1} (num_symbols = {k}), got "
                         f"{int(seq.min())} … {int(seq.max())}")
    return seq, k


def _check_order(order: int, num_symbols: int, name: str = "order") -> int:
    if isinstance(order, bool) or not isinstance(order, int | np.integer) or order < 0:
        raise InputError(f"{name} must be a non-negative integer, got {order!r}")
    # contexts are integers in base K + 1 (the start symbol is K); keys context·K + x must fit in int64
    if (order + 1) * np.log2(num_symbols + 1) > 62:
        raise InputError(f"{name} = {order} is too large for {num_symbols} symbols: contexts would not fit a "
                         f"64-bit integer (at most {int(62 / np.log2(num_symbols + 1)) - 1})")
    return int(order)


def _contexts(seq: np.ndarray, order: int, num_symbols: int, history: np.ndarray | None = None) -> np.ndarray:
    """c_t = Σ_j x_{t−j} (K+1)^{j−1}, with positions before the start (or before ``history``) read as K."""
    base = num_symbols + 1
    past = seq if history is None else np.concatenate([history, seq])
    offset = 0 if history is None else history.size
    padded = np.concatenate([np.full(order, num_symbols, dtype=np.int64), past])
    context = np.zeros(seq.size, dtype=np.int64)
    for j in range(1, order + 1):
        start = order + offset - j
        context += padded[start:start + seq.size] * base ** (j - 1)
    return context


def _earlier_occurrences(keys: np.ndarray) -> np.ndarray:
    """For each position, how many earlier positions hold the same key (a rank within groups)."""
    order = np.argsort(keys, kind="stable")
    ranked = keys[order]
    starts = np.flatnonzero(np.r_[True, ranked[1:] != ranked[:-1]])
    group_start = np.repeat(starts, np.diff(np.r_[starts, keys.size]))
    rank = np.empty(keys.size, dtype=np.int64)
    rank[order] = np.arange(keys.size) - group_start
    return rank


def _sequential_counts(seq: np.ndarray, order: int, num_symbols: int) -> tuple[np.ndarray, np.ndarray]:
    context = _contexts(seq, order, num_symbols)
    return (_earlier_occurrences(context * num_symbols + seq).astype(float),
            _earlier_occurrences(context).astype(float))


def markov_log_predictive(sequence: Any, order: int, *, alpha: float = 0.5,
                          num_symbols: int | None = None) -> np.ndarray:
    """Log q_k(x_t | x^{t−1}) = log (n_{c,x} + α) − log (n_c + Kα) at every t (nats), Dirichlet(α) rows."""
    seq, k = _check_sequence(sequence, num_symbols)
    order = _check_order(order, k)
    alpha = _check_alpha(alpha)
    n_cx, n_c = _sequential_counts(seq, order, k)
    return np.log(n_cx + alpha) - np.log(n_c + k * alpha)


def markov_log_mixture(sequence: Any, order: int, *, alpha: float = 0.5,
                       num_symbols: int | None = None) -> float:
    """Log Q_k(x^n) = Σ_c [log Γ(Kα) − log Γ(Kα + n_c) + Σ_x (log Γ(α + n_{c,x}) − log Γ(α))], closed form."""
    seq, k = _check_sequence(sequence, num_symbols)
    order = _check_order(order, k)
    alpha = _check_alpha(alpha)
    context = _contexts(seq, order, k)
    _, n_cx = np.unique(context * k + seq, return_counts=True)
    _, n_c = np.unique(context, return_counts=True)
    return float(np.sum(gammaln(k * alpha) - gammaln(k * alpha + n_c))
                 + np.sum(gammaln(alpha + n_cx) - gammaln(alpha)))


def plugin_log_predictive(sequence: Any, order: int, *, num_symbols: int | None = None) -> np.ndarray:
    """Log n_{c,x} / n_c at every t: the maximum-likelihood Markov predictor, −∞ on unseen pairs."""
    seq, k = _check_sequence(sequence, num_symbols)
    order = _check_order(order, k)
    n_cx, n_c = _sequential_counts(seq, order, k)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(n_cx > 0, np.log(np.maximum(n_cx, 1.0)) - np.log(np.maximum(n_c, 1.0)), -np.inf)


def order_prior(max_order: int) -> np.ndarray:
    """π_k = 2^{−(k+1)} for k < K and π_K = 2^{−K}: a prior on the orders 0 … K that sums to one."""
    prior = 2.0 ** -(np.arange(max_order + 1) + 1.0)
    prior[-1] *= 2.0
    return prior


def _check_alpha(alpha: float) -> float:
    if not (isinstance(alpha, int | float | np.floating) and np.isfinite(alpha) and alpha > 0):
        raise InputError(f"alpha (the Dirichlet concentration) must be a positive number, got {alpha!r}")
    return float(alpha)


def _mixture_over_orders(bayes: np.ndarray, max_order: int) -> np.ndarray:
    """Log q(x_t | x^{t−1}) of Σ_k π_k Q_k: posterior weights ∝ π_k Q_k(x^{t−1}) on the orders."""
    log_prior = np.log(order_prior(max_order))[:, None]
    # the increments of log Σ_k π_k Q_k(x^t) (Σ_k π_k = 1 before any symbol): exact telescoping, so the
    # per-symbol codes sum to the mixture's code length with no drift from renormalizing weights each step
    log_q = logsumexp(log_prior + np.cumsum(bayes, axis=1), axis=0)
    return np.diff(np.r_[0.0, log_q])


def markov_code_lengths(sequence: Any, max_order: int, *, alpha: float = 0.5,
                        num_symbols: int | None = None) -> MarkovCodes:
    """Per-symbol log predictive of the orders 0 … K (Bayes and plug-in) and of the mixture over orders."""
    seq, k = _check_sequence(sequence, num_symbols)
    max_order = _check_order(max_order, k, "max_order")
    alpha = _check_alpha(alpha)
    orders = np.arange(max_order + 1)
    bayes = np.stack([markov_log_predictive(seq, int(o), alpha=alpha, num_symbols=k) for o in orders])
    plugin = np.stack([plugin_log_predictive(seq, int(o), num_symbols=k) for o in orders])
    return MarkovCodes(orders, bayes, _mixture_over_orders(bayes, max_order), plugin, alpha, k)


def heldout_log_loss(train: Any, test: Any, order: int, *, alpha: float = 0.5,
                     num_symbols: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Per-symbol test log predictive (nats) from counts on ``train`` only (batch), Bayes and plug-in.

    The test symbols' contexts read the test's own past, the first ones reaching back into the training
    sequence. The plug-in's −∞ entries are unseen (context, symbol) pairs of the training counts.
    """
    train_seq, k = _check_sequence(train, num_symbols)
    test_seq, _ = _check_sequence(test, k)
    order = _check_order(order, k)
    alpha = _check_alpha(alpha)
    train_context = _contexts(train_seq, order, k)
    test_context = _contexts(test_seq, order, k, history=train_seq)
    pair_keys, pair_counts = np.unique(train_context * k + train_seq, return_counts=True)
    context_keys, context_counts = np.unique(train_context, return_counts=True)
    n_cx = _lookup(pair_keys, pair_counts, test_context * k + test_seq)
    n_c = _lookup(context_keys, context_counts, test_context)
    bayes = np.log(n_cx + alpha) - np.log(n_c + k * alpha)
    with np.errstate(divide="ignore", invalid="ignore"):
        plugin = np.where(n_cx > 0, np.log(np.maximum(n_cx, 1.0)) - np.log(np.maximum(n_c, 1.0)), -np.inf)
    return bayes, plugin


def _lookup(keys: np.ndarray, counts: np.ndarray, query: np.ndarray) -> np.ndarray:
    where = np.clip(np.searchsorted(keys, query), 0, max(keys.size - 1, 0))
    found = keys.size > 0
    return np.where(found & (keys[where] == query), counts[where], 0).astype(float)


def code_length_table(codes: MarkovCodes, checkpoints: Sequence[int]) -> xr.Dataset:
    """Cumulative code lengths in bits at each checkpoint n, per predictor, with the plug-in's infinite count.

    ``bits`` (predictor, n) = −Σ_{t ≤ n} log₂ q(x_t | x^{t−1}) (inf for a plug-in that met an unseen pair),
    ``bits_per_symbol`` = bits / n, ``infinite`` = how many symbols up to n had probability 0.
    """
    n_total = codes.bayes.shape[1]
    ns = np.asarray(sorted(set(int(n) for n in checkpoints)))
    if ns.size == 0 or ns.min() < 1 or ns.max() > n_total:
        raise InputError(f"checkpoints must lie in 1 … {n_total} (the sequence's length), got {list(ns)}")
    names = ([f"bayes order {k}" for k in codes.orders] + ["mixture over orders"]
             + [f"plug-in order {k}" for k in codes.orders])
    log_q = np.concatenate([codes.bayes, codes.mixture[None], codes.plugin])
    finite = np.where(np.isfinite(log_q), log_q, 0.0)
    cumulative = -np.cumsum(finite, axis=1)[:, ns - 1] / LOG2
    infinite = np.cumsum(~np.isfinite(log_q), axis=1)[:, ns - 1]
    bits = np.where(infinite > 0, np.inf, cumulative)
    return xr.Dataset(
        {"bits": (("predictor", "n"), bits),
         "bits_per_symbol": (("predictor", "n"), bits / ns),
         "finite_bits": (("predictor", "n"), cumulative),
         "infinite": (("predictor", "n"), infinite)},
        coords={"predictor": names, "n": ns},
        attrs={"alpha": codes.alpha, "num_symbols": codes.num_symbols,
               "description": "prequential code lengths (bits); finite_bits leaves out the symbols of "
                              "probability 0, which `infinite` counts"},
    )
