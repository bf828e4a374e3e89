"""MCMC moves on the prior restricted to a KL level set, π(ξ) ∝ w(ξ) 1{D(ξ) < L}.

The nested volume estimator (:mod:`bayesvol.nested`) needs, at every level L, fresh draws from the prior
restricted to {D < L}. This module provides one elliptical slice sampling (ESS) step (Murray, Adams &
MacKay 2010) for that target, written against a Gaussian *reference* N(m, diag(s²)) that approximates the
level set, in the preconditioned coordinates ξ of the estimator:

    π(ξ) = N(ξ; m, diag s²) · ℓ(ξ),   ℓ(ξ) = w(ξ) / N(ξ; m, diag s²) · 1{D(ξ) < L}.

The step leaves π invariant for any fixed (m, s) (they only set the shape of the ellipses), never
rejects (the bracket shrinks towards the current point until a point of the slice is found), and needs
no step size: the reference gives the move the level's own scale in every direction, from the prior's
width at shallow levels down to the width of the KL ellipsoid at deep ones. The reference must not
depend on the point it moves (nor on its clones): see ``bayesvol.nested._level_reference``.

Why hand-written rather than ``blackjax.elliptical_slice``: BlackJAX's kernel factorizes a dense
covariance at every step and has no cap on the shrinking loop; here the reference is diagonal in the
estimator's eigenbasis (O(d) per draw), the loop is capped so that a vmapped batch of points cannot
spin forever on a degenerate slice, every evaluation of D is counted, and a NaN of D is recorded with
the point where it happened (the estimator reports it) instead of being silently rejected.

References
----------
Murray, I., Adams, R. P. & MacKay, D. J. C. (2010). Elliptical slice sampling. AISTATS, 541–548.
Nishihara, R., Murray, I. & Adams, R. P. (2014). Parallel MCMC with generalized elliptical slice
sampling. JMLR 15, 2087–2112 (a reference Gaussian fitted to a population, likelihood w / N).

"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp

__all__ = ["EllipsoidProposal", "LevelState", "MoveInfo", "Reference", "elliptical_slice_step",
           "independence_step"]

Array = jax.Array


class LevelState(NamedTuple):
    """One point of the population: coordinates ξ, its log prior log w (nats) and its D (nats)."""

    position: Array
    log_prior: Array
    divergence: Array


class MoveInfo(NamedTuple):
    """What one ESS step did: evaluations of D, whether it moved, and the first NaN met (if any)."""

    evaluations: Array
    moved: Array
    nan_found: Array
    nan_position: Array


class Reference(NamedTuple):
    """The Gaussian N(mean, diag(scale²)) that shapes the ellipses, in the estimator's coordinates."""

    mean: Array
    scale: Array


def elliptical_slice_step(
    key: Array,
    state: LevelState,
    reference: Reference,
    level: Array,
    evaluate: Callable[[Array], tuple[Array, Array]],
    max_shrink: int = 60,
) -> tuple[LevelState, MoveInfo]:
    """One ESS step for π(ξ) ∝ w(ξ) 1{D(ξ) < level}; ``evaluate(ξ) -> (log w, D)``.

    The slice is {ξ : log ℓ(ξ) > log ℓ(ξ_current) + log u}, u ~ U(0, 1); the ellipse through the current
    point and a reference draw ν is searched by shrinking an angle bracket towards 0 (the current point,
    which is always on the slice). After ``max_shrink`` evaluations the point stays where it is.
    """
    mean, scale = reference
    key_nu, key_u, key_theta, key_loop = jax.random.split(key, 4)
    nu = mean + scale * jax.random.normal(key_nu, state.position.shape)
    x0 = state.position - mean
    nu0 = nu - mean

    def log_ratio(position: Array, log_prior: Array) -> Array:
        return log_prior + 0.5 * jnp.sum(jnp.square((position - mean) / scale))

    log_slice = log_ratio(state.position, state.log_prior) + jnp.log(jax.random.uniform(key_u))
    theta = jax.random.uniform(key_theta, minval=0.0, maxval=2.0 * jnp.pi)

    class Carry(NamedTuple):
        count: Array
        theta: Array
        low: Array
        high: Array
        done: Array
        state: LevelState
        nan_found: Array
        nan_position: Array
        key: Array

    def cond(c: Carry) -> Array:
        return (~c.done) & (c.count < max_shrink)

    def body(c: Carry) -> Carry:
        proposal = mean + x0 * jnp.cos(c.theta) + nu0 * jnp.sin(c.theta)
        log_prior, divergence = evaluate(proposal)
        is_nan = jnp.isnan(divergence) | jnp.isnan(log_prior)
        accept = (~is_nan) & (divergence < level) & (log_ratio(proposal, log_prior) > log_slice)
        new_nan = is_nan & ~c.nan_found
        low = jnp.where(c.theta < 0.0, c.theta, c.low)
        high = jnp.where(c.theta < 0.0, c.high, c.theta)
        key, sub = jax.random.split(c.key)
        theta = jax.random.uniform(sub, minval=low, maxval=high)
        new_state = jax.tree.map(lambda a, b: jnp.where(accept, a, b),
                                 LevelState(proposal, log_prior, divergence), c.state)
        return Carry(c.count + 1, theta, low, high, accept, new_state, c.nan_found | is_nan,
                     jnp.where(new_nan, proposal, c.nan_position), key)

    init = Carry(jnp.zeros((), jnp.int32), theta, theta - 2.0 * jnp.pi, theta, jnp.zeros((), bool), state,
                 jnp.zeros((), bool), jnp.zeros_like(state.position), key_loop)
    out = jax.lax.while_loop(cond, body, init)
    return out.state, MoveInfo(out.count, out.done, out.nan_found, out.nan_position)


class EllipsoidProposal(NamedTuple):
    """Independence proposal at one level: uniform in an ellipsoid on the stiff axes, Gaussian on the rest.

    ``center`` and ``half_width`` give the ellipsoid {Σ_stiff ((ξ_i − center_i)/half_width_i)² ≤ 1};
    ``stiff`` marks its axes; the others are drawn from N(``reference.mean``, ``reference.scale``²).
    """

    center: Array
    half_width: Array
    stiff: Array
    reference: Reference


def _log_proposal(proposal: EllipsoidProposal, position: Array) -> Array:
    """Log density of the proposal at ``position`` up to its constant (−∞ outside the ellipsoid)."""
    scaled = (position - proposal.center) / proposal.half_width
    radius2 = jnp.sum(jnp.where(proposal.stiff, jnp.square(scaled), 0.0))
    mean, scale = proposal.reference
    gauss = -0.5 * jnp.sum(jnp.where(proposal.stiff, 0.0, jnp.square((position - mean) / scale)))
    return jnp.where(radius2 <= 1.0 + 1e-12, gauss, -jnp.inf)  # (the draws' own rounding stays inside)


def independence_step(
    key: Array,
    state: LevelState,
    proposal: EllipsoidProposal,
    level: Array,
    evaluate: Callable[[Array], tuple[Array, Array]],
) -> tuple[LevelState, MoveInfo]:
    """One independence Metropolis–Hastings step for π(ξ) ∝ w(ξ) 1{D(ξ) < level}; one evaluation of D.

    ξ' ~ q independently of ξ, accepted with probability min(1, [w(ξ')/q(ξ')] / [w(ξ)/q(ξ)]) when
    D(ξ') < level: exact for any q fixed at the level (Tierney 1994). With q shaped by the quadratic model
    of D — the Laplace ellipsoid of the level on the axes where it is narrower than the prior — an
    accepted point is a fresh, independent draw; where D is far from quadratic the acceptance drops and
    the elliptical slice steps do the work. A point outside q's support (q(ξ) = 0) never moves by it.
    """
    key_dir, key_radius, key_u = jax.random.split(key, 3)
    d = state.position.shape[0]
    normal = jax.random.normal(key_dir, (d,), state.position.dtype)
    on_stiff = jnp.where(proposal.stiff, normal, 0.0)
    num_stiff = jnp.sum(proposal.stiff)
    norm = jnp.linalg.norm(on_stiff)
    radius = jax.random.uniform(key_radius, dtype=state.position.dtype) ** (1.0 / jnp.maximum(num_stiff, 1))
    ball = on_stiff * jnp.where(norm > 0, radius / jnp.where(norm > 0, norm, 1.0), 0.0)
    mean, scale = proposal.reference
    position = jnp.where(proposal.stiff, proposal.center + proposal.half_width * ball, mean + scale * normal)
    log_prior, divergence = evaluate(position)
    is_nan = jnp.isnan(divergence) | jnp.isnan(log_prior)
    log_accept = (log_prior - _log_proposal(proposal, position)) - (
        state.log_prior - _log_proposal(proposal, state.position))
    accept = (~is_nan) & (divergence < level) & (jnp.log(jax.random.uniform(key_u)) < log_accept)
    moved = LevelState(position, log_prior, divergence)
    new_state = jax.tree.map(lambda a, b: jnp.where(accept, a, b), moved, state)
    return new_state, MoveInfo(jnp.ones((), jnp.int32), accept, is_nan, jnp.where(is_nan, position, 0.0))
