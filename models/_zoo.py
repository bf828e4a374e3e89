"""The zoo entry is a :class:`bayesvol.problem.Problem`; ``ZooModel`` is its name inside the zoo."""

from bayesvol.problem import Facts as Facts
from bayesvol.problem import Problem as ZooModel

__all__ = ["Facts", "ZooModel"]
