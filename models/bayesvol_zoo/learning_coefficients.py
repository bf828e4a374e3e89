"""Exact learning coefficients λ and multiplicities m of the zoo's singular classes (published formulas).

For a class whose KL near the truth is D, the prior volume scales as V(t) ∝ t^λ (log 1/t)^(m−1) as t → 0
(Watanabe, *Algebraic Geometry and Statistical Learning Theory*, 2009, Thm 6.6 / 7.1), and the Bayes
regret as λ log n − (m − 1) log log n. Each function returns ``(λ, m)``.
"""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction

__all__ = [
    "deep_linear_learning_coefficient",
    "normal_crossing_learning_coefficient",
    "reduced_rank_learning_coefficient",
    "regular_learning_coefficient",
]


def regular_learning_coefficient(dim: int) -> tuple[float, int]:
    """A regular class (positive definite Fisher information at the truth): λ = d/2, m = 1."""
    return dim / 2, 1


def normal_crossing_learning_coefficient(powers: Sequence[int]) -> tuple[float, int]:
    """D = c Π θ_i^{2k_i} near 0 with a prior positive there: λ = min_i 1/(2k_i), m = #{i attaining it}.

    (Watanabe 2009, §2.4: the volume of {Π |θ_i|^{k_i} ≤ s} under a smooth positive prior.) Every k_i ≥ 1.
    """
    if not powers or any(int(k) != k or k < 1 for k in powers):
        raise ValueError(f"powers must be integers ≥ 1, got {list(powers)!r}")
    k_max = max(powers)
    return 1 / (2 * k_max), sum(1 for k in powers if k == k_max)


def reduced_rank_learning_coefficient(m_in: int, n_out: int, hidden: int, rank: int) -> tuple[float, int]:
    """(λ, m) of reduced-rank regression y = B A x, A: H×M, B: N×H, true product of rank r.

    Aoyagi & Watanabe (2005), "Stochastic complexities of reduced rank regression in Bayesian estimation",
    Neural Networks 18(7), Main Theorem: in the case N + r ≤ M + H, M + r ≤ N + H, H + r ≤ M + N,
    λ = [2(H + r)(M + N) − (M − N)² − (H + r)²] / 8 (+ 1/8 and m = 2 when M + H + N + r is odd);
    otherwise λ = (HM − Hr + Nr)/2 (M + H < N + r), (HN − Hr + Mr)/2 (N + H < M + r), MN/2 (M + N < H + r).
    """
    M, N, H, r = m_in, n_out, hidden, rank
    if N + r <= M + H and M + r <= N + H and H + r <= M + N:
        s = 2 * (H + r) * (M + N) - (M - N) ** 2 - (H + r) ** 2
        if (M + H + N + r) % 2 == 0:
            return s / 8, 1
        return (s + 1) / 8, 2
    if M + H < N + r:
        return (H * M - H * r + N * r) / 2, 1
    if N + H < M + r:
        return (H * N - H * r + M * r) / 2, 1
    return M * N / 2, 1


def deep_linear_learning_coefficient(widths: Sequence[int], rank: int) -> tuple[float, int]:
    """(λ, m) of the deep linear network y = W_L ⋯ W_1 x with widths (H_1 = input, …, H_{L+1} = output).

    Aoyagi (2024), "Consideration on the learning efficiency of multiple-layered neural networks with
    linear units", Neural Networks 172, 106132, Theorem 1. With M_s = H_s − r (r the true product's rank),
    take the subset S of ℓ + 1 indices with max_S M_s < min_{S^c} M_s, Σ_S M_s ≥ ℓ max_S M_s and
    Σ_S M_s < ℓ min_{S^c} M_s (it is made of the smallest M_s); with M̄ = ⌈Σ_S M_s / ℓ⌉ and
    a = Σ_S M_s − (M̄ − 1) ℓ,

        λ = (r(H_1 + H_{L+1}) − r²)/2 + a(ℓ − a)/(4ℓ) − ℓ(ℓ − 1)/4 · (Σ_S M_s/ℓ)² + ½ Σ_{i<j ∈ S} M_i M_j,

    with multiplicity m = 1 if a = ℓ and 2 otherwise. Two layers (L = 2) give reduced-rank regression
    (Aoyagi–Watanabe, :func:`reduced_rank_learning_coefficient`), odd case m = 2 included: a unit test checks
    the two agree on every small size.
    """
    widths = [int(h) for h in widths]
    if len(widths) < 2 or min(widths) < 1:
        raise ValueError(f"widths must hold ≥ 2 positive integers, got {widths!r}")
    if not 0 <= rank <= min(widths):
        raise ValueError(f"rank must be in [0, {min(widths)}] (the narrowest width), got {rank!r}")
    reduced = sorted(h - rank for h in widths)
    for size in range(2, len(reduced) + 1):
        subset, rest = reduced[:size], reduced[size:]
        ell, total = size - 1, sum(subset)
        if rest and not max(subset) < min(rest):
            continue
        if total >= ell * max(subset) and (not rest or total < ell * min(rest)):
            break
    else:  # pragma: no cover - Aoyagi (2024) proves such a subset exists
        raise ValueError(f"no subset satisfies Aoyagi's conditions for widths {widths}, rank {rank}")
    # exact rational arithmetic: λ is a multiple of 1/(8ℓ), and a == ℓ must be decided exactly
    m_bar = -(-total // ell)
    a = total - (m_bar - 1) * ell
    pairs = sum(subset[i] * subset[j] for i in range(len(subset)) for j in range(i + 1, len(subset)))
    lam = (Fraction(rank * (widths[0] + widths[-1]) - rank**2, 2) + Fraction(a * (ell - a), 4 * ell)
           - Fraction(ell * (ell - 1), 4) * Fraction(total, ell) ** 2 + Fraction(pairs, 2))
    return float(lam), 1 if a == ell else 2
