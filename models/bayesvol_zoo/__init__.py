"""The bayesvol model zoo: NumPyro model classes with their truths, simulators and known facts.

``bayesvol_zoo.get(name, **options)`` builds an entry; ``bayesvol_zoo.REGISTRY`` lists the names. The source
lives in the repository's top-level ``models/`` folder; it installs as ``bayesvol_zoo`` so that it cannot
clash
with another package called ``models``.
"""

from collections.abc import Callable
from typing import Any

from bayesvol_zoo._zoo import Facts as Facts
from bayesvol_zoo._zoo import ZooModel as ZooModel
from bayesvol_zoo.discrete import bernoulli as bernoulli
from bayesvol_zoo.discrete import categorical as categorical
from bayesvol_zoo.discrete import markov_chain as markov_chain
from bayesvol_zoo.neural import attention as attention
from bayesvol_zoo.neural import mlp as mlp
from bayesvol_zoo.neural import random_features as random_features
from bayesvol_zoo.regression import linear_regression as linear_regression
from bayesvol_zoo.regression import logistic_regression as logistic_regression
from bayesvol_zoo.regression import polynomial_regression as polynomial_regression
from bayesvol_zoo.singular import deep_linear_network as deep_linear_network
from bayesvol_zoo.singular import gaussian_mixture as gaussian_mixture
from bayesvol_zoo.singular import normal_crossing as normal_crossing
from bayesvol_zoo.singular import reduced_rank_regression as reduced_rank_regression

__all__ = [
    "REGISTRY",
    "Facts",
    "ZooModel",
    "attention",
    "bernoulli",
    "categorical",
    "deep_linear_network",
    "gaussian_mixture",
    "get",
    "linear_regression",
    "logistic_regression",
    "markov_chain",
    "mlp",
    "normal_crossing",
    "polynomial_regression",
    "random_features",
    "reduced_rank_regression",
]


def _mlp_classification(**options: Any) -> ZooModel:
    options.setdefault("d_out", 3)
    return mlp(task="classification", **options)


REGISTRY: dict[str, Callable[..., ZooModel]] = {
    "bernoulli": bernoulli,
    "categorical": categorical,
    "markov_chain": markov_chain,
    "linear_regression": linear_regression,
    "polynomial_regression": polynomial_regression,
    "logistic_regression": logistic_regression,
    "mlp_regression": mlp,
    "mlp_classification": _mlp_classification,
    "gaussian_mixture": gaussian_mixture,
    "reduced_rank_regression": reduced_rank_regression,
    "attention": attention,
    "deep_linear_network": deep_linear_network,
    "normal_crossing": normal_crossing,
    "random_features": random_features,
}


def get(name: str, **options: Any) -> ZooModel:
    """Build the zoo entry `name` with the given options."""
    if name not in REGISTRY:
        raise KeyError(f"unknown model {name!r}; the zoo has: {', '.join(sorted(REGISTRY))}")
    return REGISTRY[name](**options)
