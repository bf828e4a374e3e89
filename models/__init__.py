"""The bayesvol model zoo: NumPyro model classes with their truths, simulators and known facts.

``models.get(name, **options)`` builds an entry; ``models.REGISTRY`` lists the names.
"""

from collections.abc import Callable
from typing import Any

from models._zoo import Facts as Facts
from models._zoo import ZooModel as ZooModel
from models.discrete import bernoulli as bernoulli
from models.discrete import categorical as categorical
from models.discrete import markov_chain as markov_chain
from models.neural import attention as attention
from models.neural import mlp as mlp
from models.regression import linear_regression as linear_regression
from models.regression import logistic_regression as logistic_regression
from models.regression import polynomial_regression as polynomial_regression
from models.singular import gaussian_mixture as gaussian_mixture
from models.singular import reduced_rank_regression as reduced_rank_regression

__all__ = [
    "REGISTRY",
    "Facts",
    "ZooModel",
    "attention",
    "bernoulli",
    "categorical",
    "gaussian_mixture",
    "get",
    "linear_regression",
    "logistic_regression",
    "markov_chain",
    "mlp",
    "polynomial_regression",
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
}


def get(name: str, **options: Any) -> ZooModel:
    """Build the zoo entry `name` with the given options."""
    if name not in REGISTRY:
        raise KeyError(f"unknown model {name!r}; the zoo has: {', '.join(sorted(REGISTRY))}")
    return REGISTRY[name](**options)
