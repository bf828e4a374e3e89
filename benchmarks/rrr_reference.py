"""Independent reference for the nested volume estimator on reduced-rank regression (no nested sampling).

Problem: ``models.reduced_rank_regression(m_in=3, n_out=3, hidden=2, rank=1)`` with the covariates
``sample_covariates(PRNGKey(1), 200)`` (as in tests/test_nested.py): y = B A x + N(0, I), A (2×3) and B (3×2)
with N(0, 1) priors, so D(A, B) = ½ tr((BA − W0) S (BA − W0)ᵀ), S = XᵀX/m, W0 = B0 A0 of rank 1.

Method: V(t) = E_A[P(D ≤ t | A)], and given A the conditional is exact. Row i of W = BA is Aᵀb_i with
b_i ~ N(0, I₂), so with M = S^{½}Aᵀ and y_i = S^{½}w0_i, D = c(A) + Σ_i ½ (b_i − b̂_i)ᵀ MᵀM (b_i − b̂_i): a
constant (the least-squares residual of y_i on the columns of M) plus a six-term generalized χ², whose
distribution function bayesvol.volume.gchisq computes to ~1e-9. The expectation over A is importance sampled,
because the mass sits on rare A: A = diag(σ) Vᵀ (B's prior is invariant under A → RA, R orthogonal, so
the left singular vectors drop out) with
  - the normal n of A's row space drawn so that v = n·â0 (uniform on [−1, 1] under the prior) is
    log-uniform down to 1e-5 three times in four: c(A) is small only when a0 nearly lies in the row space;
  - σ2 from a mixture of Rayleigh scales down to 1e-3 (the arm of the cross where A is nearly rank 1
    and B's second column is free), σ1 from χ₃; weights from the exact joint density of the singular
    values of a 2×3 Gaussian matrix, ∝ (σ1² − σ2²) σ1 σ2 e^{−(σ1²+σ2²)/2}.
Checked against plain prior Monte Carlo (1e8 draws) at t = 1: −9.500 ± 0.012 there.

Result (1e6 draws, seed 7, 129 s; ± the importance-sampling standard error, in nats):
    t       1e-4      3.16e-4   1e-3      3.16e-3   1e-2      3.16e-2   1e-1      1
    log V   −39.932   −35.991   −32.116   −28.264   −24.417   −20.591   −16.843   −9.525
    ±       0.038     0.032     0.027     0.023     0.020     0.017     0.015     0.010
(another 1e6 draws with another seed: −40.007 at 1e-4, −32.138 at 1e-3, within 1.4 combined standard errors:
the weights are heavy-tailed enough that these errors are, if anything, slightly optimistic). So
k(t) = 2 d log V/d log t ≈ 6.8 over 1e-4 … 1e-3, as 2λ − 2/log(1/t) predicts (λ = 3.5, multiplicity 2).

Usage: .venv/bin/python benchmarks/rrr_reference.py [num_draws] [seed]   (≈ 2–3 min for 1e6 draws on 2 cores)
"""

from __future__ import annotations

import sys
import time

import jax
import jax.numpy as jnp
import numpy as np
from scipy import integrate

import bayesvol_zoo as models
from bayesvol.volume import gchisq

RADII = [*np.geomspace(1e-4, 1e-1, 7).tolist(), 1.0]
CHUNK = 100_000
LOG_V_RANGE = np.log(1e5)  # v = n·â0 log-uniform on [1e-5, 1]
SIGMA2_SCALES = np.array([1.0, 0.3, 1e-1, 3e-2, 1e-2, 3e-3, 1e-3])
# normalization of the singular-value density (σ1 > σ2 > 0)
LOG_NORM = np.log(integrate.dblquad(lambda y, x: (x * x - y * y) * x * y * np.exp(-0.5 * (x * x + y * y)),
                                    0, 40, 0, lambda x: x)[0])


@jax.jit
def _conditional_log_cdf(t, rho, msq):
    # the exact quadrature of bayesvol.volume.gchisq for one normalized form (max weight 1), vmapped below
    form = gchisq._form(rho, msq)
    return gchisq._exact_one(t, form, jnp.sum(rho * (1.0 + msq)))[0]


_batched = jax.jit(jax.vmap(_conditional_log_cdf))


def _problem():
    zoo = models.reduced_rank_regression(m_in=3, n_out=3, hidden=2, rank=1)
    x = np.asarray(zoo.sample_covariates(jax.random.PRNGKey(1), 200)["x"])
    s = x.T @ x / x.shape[0]
    a0, b0 = np.asarray(zoo.true_params["A"]), np.asarray(zoo.true_params["B"])
    return np.linalg.cholesky(s).T, b0 @ a0, a0[0] / np.linalg.norm(a0[0])


def _draw(rng, n, u0):
    """A (n, 2, 3) and log(prior / proposal), up to the left rotation that the conditional ignores."""
    # normal of the row space: v = n·u0 (uniform under the prior), azimuth uniform
    v = np.where(rng.uniform(size=n) < 0.25, rng.uniform(-1, 1, n),
                 rng.choice([-1.0, 1.0], n) * np.exp(-LOG_V_RANGE * rng.uniform(size=n)))
    log_w = np.log(0.5) - np.log(0.125 + 0.75 * (np.abs(v) > 1e-5) / (2 * np.abs(v) * LOG_V_RANGE))
    perp = np.linalg.svd(np.eye(3) - np.outer(u0, u0))[0][:, :2]
    phi = rng.uniform(0, 2 * np.pi, n)
    normal = v[:, None] * u0 + np.sqrt(1 - v**2)[:, None] * (np.cos(phi)[:, None] * perp[:, 0]
                                                             + np.sin(phi)[:, None] * perp[:, 1])
    # an orthonormal frame of the row space, uniformly rotated in it
    ref = np.where(np.abs(normal[:, :1]) < 0.9, np.array([1.0, 0, 0]), np.array([0, 1.0, 0]))
    p1 = ref - np.sum(ref * normal, 1, keepdims=True) * normal
    p1 /= np.linalg.norm(p1, axis=1, keepdims=True)
    p2 = np.cross(normal, p1)
    psi = rng.uniform(0, 2 * np.pi, n)[:, None]
    q1, q2 = np.cos(psi) * p1 + np.sin(psi) * p2, -np.sin(psi) * p1 + np.cos(psi) * p2
    # singular values: σ1 ~ χ₃, σ2 ~ Rayleigh mixture; target density ∝ (σ1² − σ2²) σ1 σ2 e^{−(σ1²+σ2²)/2}
    s1 = np.sqrt(rng.chisquare(3, n))
    s2 = np.sqrt(rng.chisquare(2, n)) * SIGMA2_SCALES[rng.integers(SIGMA2_SCALES.size, size=n)]
    ratio = s2[:, None] / SIGMA2_SCALES
    log_q = (2 * np.log(s1) - 0.5 * s1**2 + 0.5 * np.log(2 / np.pi)
             + np.log(np.mean(ratio / SIGMA2_SCALES * np.exp(-0.5 * ratio**2), axis=1)))
    with np.errstate(divide="ignore"):
        log_p = (np.log(np.clip(s1**2 - s2**2, 0, None)) + np.log(s1 * s2) - 0.5 * (s1**2 + s2**2)
                 - LOG_NORM)
    return np.stack([s1[:, None] * q1, s2[:, None] * q2], 1), log_w + log_p - log_q


def _conditional(a, root, w0, radii):
    """log P(D ≤ t | A) for each A (n, 2, 3) and t: residual c(A) plus an exact 6-term generalized χ²."""
    n = a.shape[0]
    m = np.einsum("ij,njk->nik", root, np.transpose(a, (0, 2, 1)))  # S^½ Aᵀ
    y = root @ w0.T  # columns y_i = S^½ w0_i
    mtm = np.einsum("nki,nkj->nij", m, m)
    alpha, u = np.linalg.eigh(mtm)
    b_hat = np.linalg.solve(mtm, np.einsum("nki,kj->nij", m, y))
    c = 0.5 * np.sum((y[None] - np.einsum("nki,nij->nkj", m, b_hat)) ** 2, axis=(1, 2))
    weights = np.repeat(0.5 * alpha[:, :, None], 3, axis=2).reshape(n, 6)
    centers = np.einsum("nki,nkj->nij", u, b_hat).reshape(n, 6)
    a_max = weights.max(1)
    rho = np.concatenate([weights / a_max[:, None], np.zeros((n, 2))], 1)  # padded to 8 terms
    msq = np.concatenate([centers**2, np.zeros((n, 2))], 1)
    out = np.full((len(radii), n), -np.inf)
    for k, t in enumerate(radii):
        t_norm = (t - c) / a_max
        idx = np.flatnonzero(t_norm > 1e-250)
        if idx.size:
            out[k, idx] = np.asarray(_batched(jnp.asarray(t_norm[idx]), jnp.asarray(rho[idx]),
                                              jnp.asarray(msq[idx])))
    return out


def reference(num_draws: int = 1_000_000, seed: int = 7, radii=RADII):
    """(log V, standard error) at each radius, by Rao–Blackwellized importance sampling."""
    root, w0, u0 = _problem()
    rng = np.random.default_rng(seed)
    terms = []
    for start in range(0, num_draws, CHUNK):
        a, log_w = _draw(rng, min(CHUNK, num_draws - start), u0)
        terms.append(_conditional(a, root, w0, radii) + log_w)
    terms = np.concatenate(terms, axis=1)
    top = terms.max(axis=1, keepdims=True)
    w = np.exp(terms - top)
    mean = w.mean(axis=1)
    return top[:, 0] + np.log(mean), w.std(axis=1) / np.sqrt(w.shape[1]) / mean


def main() -> None:
    num_draws = int(float(sys.argv[1])) if len(sys.argv) > 1 else 1_000_000
    seed = int(sys.argv[2]) if len(sys.argv) > 2 else 7
    start = time.perf_counter()
    log_v, se = reference(num_draws, seed)
    print(f"reduced-rank regression (3, 3, 2, rank 1), {num_draws:.3g} draws, seed {seed}, "
          f"{time.perf_counter() - start:.0f} s")
    for t, v, s in zip(RADII, log_v, se, strict=True):
        print(f"  t = {t:9.3g}   log V = {v:9.3f} ± {s:.3f}")


if __name__ == "__main__":
    main()
