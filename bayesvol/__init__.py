"""bayesvol: prior volume near the truth, and the regret of Bayes mixture predictors.

Importing bayesvol turns on JAX's float64 mode: log-volumes and evidences of hundreds of nats lose
their digits in float32. It also asks XLA for min(4, CPU count) host devices, so that `bv.fit` can run
NUTS chains in parallel on a multi-core CPU; this must happen before JAX creates its CPU backend, and a
device count the user already set in ``XLA_FLAGS`` is left alone.
"""

import os

if "xla_force_host_platform_device_count" not in os.environ.get("XLA_FLAGS", ""):
    os.environ["XLA_FLAGS"] = " ".join(
        [os.environ.get("XLA_FLAGS", ""),
         f"--xla_force_host_platform_device_count={min(4, os.cpu_count() or 1)}"]
    ).strip()

import jax

jax.config.update("jax_enable_x64", True)

from bayesvol.bounds import RegretBound as RegretBound
from bayesvol.bounds import regret_bound as regret_bound
from bayesvol.curvature import CurvatureError as CurvatureError
from bayesvol.curvature import Spectrum as Spectrum
from bayesvol.curvature import fisher as fisher
from bayesvol.curvature import fisher_spectrum as fisher_spectrum
from bayesvol.curvature import ggn as ggn
from bayesvol.curvature import loss_hessian as loss_hessian
from bayesvol.divergence import Estimate as Estimate
from bayesvol.divergence import KLFallbackWarning as KLFallbackWarning
from bayesvol.divergence import kl as kl
from bayesvol.divergence import kl_estimate as kl_estimate
from bayesvol.divergence import kl_function as kl_function
from bayesvol.evidence import EvidenceError as EvidenceError
from bayesvol.evidence import log_marginal as log_marginal
from bayesvol.evidence import sequential_log_marginal as sequential_log_marginal
from bayesvol.fit import Posterior as Posterior
from bayesvol.fit import SamplerError as SamplerError
from bayesvol.fit import SamplerWarning as SamplerWarning
from bayesvol.fit import fit as fit
from bayesvol.gchisq import gchisq_log_cdf as gchisq_log_cdf
from bayesvol.gchisq import gchisq_log_cdf_saddlepoint as gchisq_log_cdf_saddlepoint
from bayesvol.laplace import LaplaceError as LaplaceError
from bayesvol.laplace import effective_dimension as effective_dimension
from bayesvol.laplace import laplace_volume as laplace_volume
from bayesvol.model_class import ModelClass as ModelClass
from bayesvol.model_class import ModelClassError as ModelClassError
from bayesvol.nested import NestedBudgetError as NestedBudgetError
from bayesvol.nested import NestedSamplingError as NestedSamplingError
from bayesvol.nested import PoorMixingWarning as PoorMixingWarning
from bayesvol.nested import UnreachedVolumeWarning as UnreachedVolumeWarning
from bayesvol.nested import nested_gibbs_bound as nested_gibbs_bound
from bayesvol.nested import nested_volume as nested_volume
from bayesvol.nested import sampled_volume as sampled_volume
from bayesvol.predictors import predictive_log_loss as predictive_log_loss
from bayesvol.regret import Truth as Truth
from bayesvol.regret import compare as compare
from bayesvol.regret import dataset_truth as dataset_truth
from bayesvol.regret import online_regret as online_regret
from bayesvol.regret import regret_curve as regret_curve
from bayesvol.volume_curve import VolumeCurve as VolumeCurve

__version__ = "0.1.0"

__all__ = [
    "CurvatureError",
    "Estimate",
    "EvidenceError",
    "KLFallbackWarning",
    "LaplaceError",
    "ModelClass",
    "ModelClassError",
    "NestedBudgetError",
    "NestedSamplingError",
    "PoorMixingWarning",
    "Posterior",
    "RegretBound",
    "SamplerError",
    "SamplerWarning",
    "Spectrum",
    "Truth",
    "UnreachedVolumeWarning",
    "VolumeCurve",
    "compare",
    "dataset_truth",
    "effective_dimension",
    "fisher",
    "fisher_spectrum",
    "fit",
    "gchisq_log_cdf",
    "gchisq_log_cdf_saddlepoint",
    "ggn",
    "kl",
    "kl_estimate",
    "kl_function",
    "laplace_volume",
    "log_marginal",
    "loss_hessian",
    "nested_gibbs_bound",
    "nested_volume",
    "online_regret",
    "predictive_log_loss",
    "regret_bound",
    "regret_curve",
    "sampled_volume",
    "sequential_log_marginal",
]
