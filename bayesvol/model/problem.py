"""A learning problem: a model class with a truth, a covariate distribution and the facts known about it.

This is what the experiments, the command line and the zoo (``models/``) exchange: the zoo builds
``Problem`` objects, the engine consumes them without knowing any particular model.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import jax

from bayesvol.model.model_class import ModelClass

__all__ = ["Facts", "Problem", "registry"]

Array = jax.Array


@dataclass(frozen=True)
class Facts:
    """What is known about a model class.

    Attributes
    ----------
    dim : number of parameters d.
    singular : whether the truth is a singular point (Fisher information degenerate).
    learning_coefficient : Watanabe's λ at the default truth when known (regular: d/2).
    exact : which quantities have closed forms here ("kl", "mixture", "volume").
    notes : one line on where the facts come from.
    multiplicity : the multiplicity m of λ when known (V(t) ∝ t^λ (log 1/t)^(m−1) as t → 0).

    """

    dim: int
    singular: bool = False
    learning_coefficient: float | None = None
    exact: tuple[str, ...] = ()
    notes: str = ""
    multiplicity: int | None = None


@dataclass(frozen=True)
class Problem:
    """A model class with its truth θ0, its covariate distribution and what is known about it.

    Attributes
    ----------
    name : registry name.
    model : the NumPyro model function.
    true_params : the default truth θ0 (dict of constrained site values).
    covariates : ``(key, m, params) -> dict`` drawing m covariate rows (for a generative class,
        ``{"n": m}``); ``params`` is the truth, needed by classes whose covariates depend on it.
    facts : what is known about the class.
    log_mixture : exact log Q(data | covariates) (nats) for conjugate classes, else None.
    simulator : ``(key, n, params) -> (covariates, data)`` for classes whose rows are not drawn
        independently (a Markov chain); None draws covariates, then data from the model.
    options : the options the entry was built with.

    """

    name: str
    model: Callable[..., Any]
    true_params: Mapping[str, Array]
    covariates: Callable[[Array, int, Mapping[str, Array]], dict[str, Any]]
    facts: Facts
    log_mixture: Callable[..., Array] | None = None
    simulator: Callable[[Array, int, Mapping[str, Array]], tuple[dict[str, Any], Array]] | None = None
    options: Mapping[str, Any] = field(default_factory=dict)

    def sample_covariates(self, key: Array, m: int, params: Mapping[str, Array] | None = None
                          ) -> dict[str, Any]:
        """Draw m covariate rows from the class's covariate distribution."""
        return self.covariates(key, m, self.true_params if params is None else params)

    @cached_property
    def model_class(self) -> ModelClass:
        """The ModelClass, traced once on a few example covariate rows."""
        return ModelClass(self.model, **self.sample_covariates(jax.random.PRNGKey(0), 4))

    @property
    def dim(self) -> int:
        """Number of parameters d."""
        return self.facts.dim

    def simulate(self, key: Array, n: int, params: Mapping[str, Array] | None = None
                 ) -> tuple[dict[str, Any], Array]:
        """Draw n rows of (covariates, data) from P_θ (θ = the truth by default)."""
        params = self.true_params if params is None else params
        if self.simulator is not None:
            return self.simulator(key, n, params)
        key_x, key_y = jax.random.split(key)
        covariates = self.sample_covariates(key_x, n, params)
        return covariates, self.model_class.simulate(key_y, params, covariates=covariates)


def registry() -> dict[str, Callable[..., Problem]]:
    """Named problem factories from every installed zoo (entry-point group ``bayesvol.zoo``)."""
    from importlib.metadata import entry_points

    found: dict[str, Callable[..., Problem]] = {}
    for entry in entry_points(group="bayesvol.zoo"):
        found.update(entry.load())
    return found
