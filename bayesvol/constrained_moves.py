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

__all__ = [
    "LevelState",
    "MoveInfo",
    "Reference",
    "coordinate_slice_step",
    "coordinate_widths",
    "elliptical_slice_step",
]

Array = jax.Array


class LevelState(NamedTuple):
    """One point of the population: coordinates ξ, its log prior log w (nats) and its D (nats)."""

    position: Array
    log_prior: Array
    divergence: Array


class MoveInfo(NamedTuple):
    """What one slice step did: evaluations of D, whether it moved, and the first NaN met (if any)."""

    evaluations: Array
    moved: Array
    nan_found: Array
    nan_position: Array


class Reference(NamedTuple):
    """The Gaussian N(mean, diag(scale²)) that shapes the ellipses, in the estimator's coordinates."""

    mean: Array
    scale: Array


def _shrinking_search(
    key: Array,
    state: LevelState,
    point: Callable[[Array], Array],
    log_density: Callable[[Array, Array], Array],
    log_slice: Array,
    low: Array,
    high: Array,
    first: Array,
    level: Array,
    evaluate: Callable[[Array], tuple[Array, Array]],
    max_shrink: int,
) -> tuple[LevelState, MoveInfo]:
    """The slice step shared by both moves: propose ``point(a)``, shrink the bracket [low, high] towards 0.

    ``point(0)`` is the current state; the first proposal is ``a = first`` ∈ [low, high]. The slice is
    {ξ : log_density(ξ, log w(ξ)) > log_slice, D(ξ) < level}, with log_slice = log_density(current) + log u,
    u ~ U(0, 1), drawn by the caller. A rejected a
    replaces the bracket end on its side of 0, the next a is uniform in the new bracket. The sequence of
    brackets is the same seen from either end of a move, so the step is reversible (Neal 2003, §4.2) for
    any fixed ``max_shrink``: after that many evaluations the point stays where it is.
    """
    class Carry(NamedTuple):
        count: Array
        a: Array
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
        proposal = point(c.a)
        log_prior, divergence = evaluate(proposal)
        is_nan = jnp.isnan(divergence) | jnp.isnan(log_prior)
        accept = (~is_nan) & (divergence < level) & (log_density(proposal, log_prior) > log_slice)
        new_nan = is_nan & ~c.nan_found
        low = jnp.where(c.a < 0.0, c.a, c.low)
        high = jnp.where(c.a < 0.0, c.high, c.a)
        key, sub = jax.random.split(c.key)
        a = jax.random.uniform(sub, minval=low, maxval=high)
        new_state = jax.tree.map(lambda x, y: jnp.where(accept, x, y),
                                 LevelState(proposal, log_prior, divergence), c.state)
        return Carry(c.count + 1, a, low, high, accept, new_state, c.nan_found | is_nan,
                     jnp.where(new_nan, proposal, c.nan_position), key)

    init = Carry(jnp.zeros((), jnp.int32), first, low, high, jnp.zeros((), bool), state,
                 jnp.zeros((), bool), jnp.zeros_like(state.position), key)
    out = jax.lax.while_loop(cond, body, init)
    return out.state, MoveInfo(out.count, out.done, out.nan_found, out.nan_position)


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
    key_nu, key_u, key_theta, key_search = jax.random.split(key, 4)
    nu = mean + scale * jax.random.normal(key_nu, state.position.shape)
    x0 = state.position - mean
    nu0 = nu - mean

    def point(theta: Array) -> Array:
        return mean + x0 * jnp.cos(theta) + nu0 * jnp.sin(theta)

    def log_ratio(position: Array, log_prior: Array) -> Array:
        return log_prior + 0.5 * jnp.sum(jnp.square((position - mean) / scale))

    log_slice = log_ratio(state.position, state.log_prior) + jnp.log(jax.random.uniform(key_u))
    theta = jax.random.uniform(key_theta, minval=0.0, maxval=2.0 * jnp.pi)
    return _shrinking_search(key_search, state, point, log_ratio, log_slice, theta - 2.0 * jnp.pi, theta,
                             theta, level, evaluate, max_shrink)


def coordinate_slice_step(
    key: Array,
    state: LevelState,
    direction: Array,
    width: Array,
    level: Array,
    evaluate: Callable[[Array], tuple[Array, Array]],
    max_shrink: int = 60,
) -> tuple[LevelState, MoveInfo]:
    """One slice-sampling update of π(ξ) ∝ w(ξ) 1{D(ξ) < level} along the line ξ + s·``direction``.

    Neal (2003, §4): the slice {s : w > u·w(current), D < level} is searched in a bracket of length
    ``width`` placed uniformly at random around s = 0, shrunk towards 0 (no stepping out). Reversible for
    the density restricted to the line whenever ``direction`` and ``width`` do not depend on the state;
    after ``max_shrink`` evaluations the point stays where it is.
    """
    key_u, key_place, key_first, key_search = jax.random.split(key, 4)
    log_slice = state.log_prior + jnp.log(jax.random.uniform(key_u))
    low = -width * jax.random.uniform(key_place)
    high = low + width
    first = jax.random.uniform(key_first, minval=low, maxval=high)

    def point(s: Array) -> Array:
        return state.position + s * direction

    def log_density(position: Array, log_prior: Array) -> Array:
        return log_prior

    return _shrinking_search(key_search, state, point, log_density, log_slice, low, high, first, level,
                             evaluate, max_shrink)


def coordinate_widths(level: Array, curvature: Array, prior_width: float = 4.0, model_width: float = 4.0
                      ) -> Array:
    """Bracket lengths of :func:`coordinate_slice_step` at level L along unit directions of curvature c.

    min(``prior_width``, ``model_width`` · √(2L/c)): a few prior standard deviations (the directions are
    unit vectors in coordinates where the prior is ≈ N(0, I)), or a few half-widths of the quadratic
    model's interval ½ c s² < L where that is narrower (c = 0: the prior's). A function of the level and
    the quadratic model only, never of the points it moves, so every update stays exact.
    """
    half = jnp.sqrt(2.0 * level / jnp.maximum(curvature, 1e-300))
    return jnp.minimum(prior_width, model_width * half)
