"""bayesvol: prior volume near the truth, and the regret of Bayes mixture predictors.

Importing bayesvol turns on JAX's float64 mode: log-volumes and evidences of hundreds of nats lose
their digits in float32.
"""

import jax

jax.config.update("jax_enable_x64", True)

from bayesvol.divergence import Estimate as Estimate
from bayesvol.divergence import KLFallbackWarning as KLFallbackWarning
from bayesvol.divergence import kl as kl
from bayesvol.divergence import kl_estimate as kl_estimate
from bayesvol.divergence import kl_function as kl_function
from bayesvol.model_class import ModelClass as ModelClass
from bayesvol.model_class import ModelClassError as ModelClassError
from bayesvol.volume_curve import VolumeCurve as VolumeCurve

__version__ = "0.1.0"

__all__ = [
    "Estimate",
    "KLFallbackWarning",
    "ModelClass",
    "ModelClassError",
    "VolumeCurve",
    "kl",
    "kl_estimate",
    "kl_function",
]
