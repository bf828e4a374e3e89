"""The zoo entry is a :class:`bayesvol.model.problem.Problem`; ``ZooModel`` is its name inside the zoo."""

from bayesvol.model.problem import Facts as Facts
from bayesvol.model.problem import Problem as ZooModel

__all__ = ["Facts", "ZooModel"]
