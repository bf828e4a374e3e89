"""bayesvol: prior volume near the truth, and the regret of Bayes mixture predictors.

Importing bayesvol turns on JAX's float64 mode (``jax_enable_x64``): log-volumes and evidences of hundreds
of nats lose their digits in float32. It sets no environment variable and leaves matplotlib's backend
alone. To run NUTS chains in parallel on a multi-core CPU, call ``bv.use_host_devices(n)`` before the
first JAX computation (the ``bayesvol`` command does).

The names below load on first use (PEP 562): ``import bayesvol`` costs JAX's import, not NumPyro's,
ArviZ's or BlackJAX's, which a study's worker process pays only if its cells use them.
"""

import importlib
import sys
import types
from typing import TYPE_CHECKING, Any

import jax

jax.config.update("jax_enable_x64", True)

if TYPE_CHECKING:  # what type checkers and IDEs read; at run time each name loads in __getattr__
    from bayesvol.curvature.fisher import CurvatureError as CurvatureError
    from bayesvol.curvature.fisher import Spectrum as Spectrum
    from bayesvol.curvature.fisher import fisher as fisher
    from bayesvol.curvature.fisher import fisher_spectrum as fisher_spectrum
    from bayesvol.curvature.fisher import ggn as ggn
    from bayesvol.curvature.fisher import loss_hessian as loss_hessian
    from bayesvol.divergence.kl import Estimate as Estimate
    from bayesvol.divergence.kl import KLFallbackWarning as KLFallbackWarning
    from bayesvol.divergence.kl import kl as kl
    from bayesvol.divergence.kl import kl_estimate as kl_estimate
    from bayesvol.divergence.kl import kl_function as kl_function
    from bayesvol.errors import BayesvolError as BayesvolError
    from bayesvol.errors import BayesvolWarning as BayesvolWarning
    from bayesvol.errors import InputError as InputError
    from bayesvol.inference.evidence import EvidenceError as EvidenceError
    from bayesvol.inference.evidence import log_marginal as log_marginal
    from bayesvol.inference.evidence import sequential_log_marginal as sequential_log_marginal
    from bayesvol.inference.fit import HostDevicesError as HostDevicesError
    from bayesvol.inference.fit import Posterior as Posterior
    from bayesvol.inference.fit import SamplerError as SamplerError
    from bayesvol.inference.fit import SamplerWarning as SamplerWarning
    from bayesvol.inference.fit import fit as fit
    from bayesvol.inference.fit import use_host_devices as use_host_devices
    from bayesvol.inference.smc import SMCRun as SMCRun
    from bayesvol.inference.smc import sequential_smc as sequential_smc
    from bayesvol.model.model_class import ModelClass as ModelClass
    from bayesvol.model.model_class import ModelClassError as ModelClassError
    from bayesvol.regret.agnostic import InterpolationWarning as InterpolationWarning
    from bayesvol.regret.agnostic import fit_map_projection as fit_map_projection
    from bayesvol.regret.agnostic import fit_projection as fit_projection
    from bayesvol.regret.agnostic import network_regret as network_regret
    from bayesvol.regret.agnostic import network_study as network_study
    from bayesvol.regret.gap import mixture_gap as mixture_gap
    from bayesvol.regret.named_erm import erm_gd_fit as erm_gd_fit
    from bayesvol.regret.named_erm import min_norm_erm as min_norm_erm
    from bayesvol.regret.outputs import flat_directions as flat_directions
    from bayesvol.regret.predictors import PREDICTORS as PREDICTORS
    from bayesvol.regret.predictors import predictive_log_loss as predictive_log_loss
    from bayesvol.regret.predictors import register_predictor as register_predictor
    from bayesvol.regret.regret import Truth as Truth
    from bayesvol.regret.regret import compare as compare
    from bayesvol.regret.regret import dataset_truth as dataset_truth
    from bayesvol.regret.regret import model_truth as model_truth
    from bayesvol.regret.regret import online_regret as online_regret
    from bayesvol.regret.regret import regret_curve as regret_curve
    from bayesvol.regret.sequences import code_length_table as code_length_table
    from bayesvol.regret.sequences import markov_code_lengths as markov_code_lengths
    from bayesvol.regret.sequences import markov_log_mixture as markov_log_mixture
    from bayesvol.study.shard import shard_map_keys as shard_map_keys
    from bayesvol.study.sweep import Sweep as Sweep
    from bayesvol.study.sweep import open_study as open_study
    from bayesvol.volume.agreement import curve_agreement as curve_agreement
    from bayesvol.volume.bounds import RegretBound as RegretBound
    from bayesvol.volume.bounds import regret_bound as regret_bound
    from bayesvol.volume.coefficient import AsymptoticWarning as AsymptoticWarning
    from bayesvol.volume.coefficient import LearningCoefficient as LearningCoefficient
    from bayesvol.volume.coefficient import learning_coefficient as learning_coefficient
    from bayesvol.volume.coefficient import log_volume_covariance as log_volume_covariance
    from bayesvol.volume.coefficient import radii_to_depth as radii_to_depth
    from bayesvol.volume.curve import VolumeCurve as VolumeCurve
    from bayesvol.volume.front import AutoVolumeInfo as AutoVolumeInfo
    from bayesvol.volume.front import volume as volume
    from bayesvol.volume.gchisq import gchisq_log_cdf as gchisq_log_cdf
    from bayesvol.volume.gchisq import gchisq_log_cdf_saddlepoint as gchisq_log_cdf_saddlepoint
    from bayesvol.volume.gibbs import GibbsBound as GibbsBound
    from bayesvol.volume.gibbs import GibbsBoundError as GibbsBoundError
    from bayesvol.volume.gibbs import gibbs_bound as gibbs_bound
    from bayesvol.volume.importance import ImportanceCollapseWarning as ImportanceCollapseWarning
    from bayesvol.volume.importance import ImportanceInfo as ImportanceInfo
    from bayesvol.volume.importance import importance_volume as importance_volume
    from bayesvol.volume.laplace import LaplaceError as LaplaceError
    from bayesvol.volume.laplace import LaplaceInfo as LaplaceInfo
    from bayesvol.volume.laplace import effective_dimension as effective_dimension
    from bayesvol.volume.laplace import laplace_volume as laplace_volume
    from bayesvol.volume.nested import NestedBudgetError as NestedBudgetError
    from bayesvol.volume.nested import NestedInfo as NestedInfo
    from bayesvol.volume.nested import NestedSamplingError as NestedSamplingError
    from bayesvol.volume.nested import PoorMixingWarning as PoorMixingWarning
    from bayesvol.volume.nested import UnreachedVolumeWarning as UnreachedVolumeWarning
    from bayesvol.volume.nested import nested_gibbs_bound as nested_gibbs_bound
    from bayesvol.volume.nested import nested_volume as nested_volume
    from bayesvol.volume.nested import sampled_volume as sampled_volume

__version__ = "0.1.0"

_EXPORTS = {
    'CurvatureError': 'bayesvol.curvature.fisher',
    'Spectrum': 'bayesvol.curvature.fisher',
    'fisher': 'bayesvol.curvature.fisher',
    'fisher_spectrum': 'bayesvol.curvature.fisher',
    'ggn': 'bayesvol.curvature.fisher',
    'loss_hessian': 'bayesvol.curvature.fisher',
    'Estimate': 'bayesvol.divergence.kl',
    'KLFallbackWarning': 'bayesvol.divergence.kl',
    'kl': 'bayesvol.divergence.kl',
    'kl_estimate': 'bayesvol.divergence.kl',
    'kl_function': 'bayesvol.divergence.kl',
    'BayesvolError': 'bayesvol.errors',
    'BayesvolWarning': 'bayesvol.errors',
    'InputError': 'bayesvol.errors',
    'EvidenceError': 'bayesvol.inference.evidence',
    'log_marginal': 'bayesvol.inference.evidence',
    'sequential_log_marginal': 'bayesvol.inference.evidence',
    'HostDevicesError': 'bayesvol.inference.fit',
    'Posterior': 'bayesvol.inference.fit',
    'SamplerError': 'bayesvol.inference.fit',
    'SamplerWarning': 'bayesvol.inference.fit',
    'fit': 'bayesvol.inference.fit',
    'use_host_devices': 'bayesvol.inference.fit',
    'SMCRun': 'bayesvol.inference.smc',
    'sequential_smc': 'bayesvol.inference.smc',
    'ModelClass': 'bayesvol.model.model_class',
    'ModelClassError': 'bayesvol.model.model_class',
    'InterpolationWarning': 'bayesvol.regret.agnostic',
    'fit_projection': 'bayesvol.regret.agnostic',
    'fit_map_projection': 'bayesvol.regret.agnostic',
    'network_regret': 'bayesvol.regret.agnostic',
    'network_study': 'bayesvol.regret.agnostic',
    'mixture_gap': 'bayesvol.regret.gap',
    'erm_gd_fit': 'bayesvol.regret.named_erm',
    'min_norm_erm': 'bayesvol.regret.named_erm',
    'flat_directions': 'bayesvol.regret.outputs',
    'PREDICTORS': 'bayesvol.regret.predictors',
    'predictive_log_loss': 'bayesvol.regret.predictors',
    'register_predictor': 'bayesvol.regret.predictors',
    'Truth': 'bayesvol.regret.regret',
    'compare': 'bayesvol.regret.regret',
    'dataset_truth': 'bayesvol.regret.regret',
    'model_truth': 'bayesvol.regret.regret',
    'online_regret': 'bayesvol.regret.regret',
    'regret_curve': 'bayesvol.regret.regret',
    'code_length_table': 'bayesvol.regret.sequences',
    'markov_code_lengths': 'bayesvol.regret.sequences',
    'markov_log_mixture': 'bayesvol.regret.sequences',
    'shard_map_keys': 'bayesvol.study.shard',
    'Sweep': 'bayesvol.study.sweep',
    'open_study': 'bayesvol.study.sweep',
    'curve_agreement': 'bayesvol.volume.agreement',
    'RegretBound': 'bayesvol.volume.bounds',
    'regret_bound': 'bayesvol.volume.bounds',
    'AsymptoticWarning': 'bayesvol.volume.coefficient',
    'LearningCoefficient': 'bayesvol.volume.coefficient',
    'learning_coefficient': 'bayesvol.volume.coefficient',
    'radii_to_depth': 'bayesvol.volume.coefficient',
    'log_volume_covariance': 'bayesvol.volume.coefficient',
    'VolumeCurve': 'bayesvol.volume.curve',
    'AutoVolumeInfo': 'bayesvol.volume.front',
    'volume': 'bayesvol.volume.front',
    'gchisq_log_cdf': 'bayesvol.volume.gchisq',
    'gchisq_log_cdf_saddlepoint': 'bayesvol.volume.gchisq',
    'GibbsBound': 'bayesvol.volume.gibbs',
    'GibbsBoundError': 'bayesvol.volume.gibbs',
    'gibbs_bound': 'bayesvol.volume.gibbs',
    'ImportanceCollapseWarning': 'bayesvol.volume.importance',
    'ImportanceInfo': 'bayesvol.volume.importance',
    'importance_volume': 'bayesvol.volume.importance',
    'LaplaceError': 'bayesvol.volume.laplace',
    'LaplaceInfo': 'bayesvol.volume.laplace',
    'effective_dimension': 'bayesvol.volume.laplace',
    'laplace_volume': 'bayesvol.volume.laplace',
    'NestedBudgetError': 'bayesvol.volume.nested',
    'NestedInfo': 'bayesvol.volume.nested',
    'NestedSamplingError': 'bayesvol.volume.nested',
    'PoorMixingWarning': 'bayesvol.volume.nested',
    'UnreachedVolumeWarning': 'bayesvol.volume.nested',
    'nested_gibbs_bound': 'bayesvol.volume.nested',
    'nested_volume': 'bayesvol.volume.nested',
    'sampled_volume': 'bayesvol.volume.nested',
}
"""Each public name → the module that defines it."""


def __getattr__(name: str) -> Any:
    """Load a public name's module on first use (PEP 562) and keep the name here."""
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'bayesvol' has no attribute {name!r}")
    if module.startswith("bayesvol.regret."):  # regret.py imports every module that registers a predictor
        importlib.import_module("bayesvol.regret.regret")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS})


class _Package(types.ModuleType):
    """The package, keeping ``bv.volume`` the function when its subpackage ``bayesvol.volume`` loads.

    Importing a submodule sets it as an attribute of its parent; the subpackage is still found through
    ``sys.modules`` by every import statement.
    """

    def __setattr__(self, name: str, value: Any) -> None:
        if name in _EXPORTS and isinstance(value, types.ModuleType):
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package


__all__ = [
    "PREDICTORS",
    "AsymptoticWarning",
    "AutoVolumeInfo",
    "BayesvolError",
    "BayesvolWarning",
    "CurvatureError",
    "Estimate",
    "EvidenceError",
    "GibbsBound",
    "GibbsBoundError",
    "HostDevicesError",
    "ImportanceCollapseWarning",
    "ImportanceInfo",
    "InputError",
    "InterpolationWarning",
    "KLFallbackWarning",
    "LaplaceError",
    "LaplaceInfo",
    "LearningCoefficient",
    "ModelClass",
    "ModelClassError",
    "NestedBudgetError",
    "NestedInfo",
    "NestedSamplingError",
    "PoorMixingWarning",
    "Posterior",
    "RegretBound",
    "SMCRun",
    "SamplerError",
    "SamplerWarning",
    "Spectrum",
    "Sweep",
    "Truth",
    "UnreachedVolumeWarning",
    "VolumeCurve",
    "code_length_table",
    "compare",
    "curve_agreement",
    "dataset_truth",
    "effective_dimension",
    "erm_gd_fit",
    "fisher",
    "fisher_spectrum",
    "fit",
    "fit_map_projection",
    "fit_projection",
    "flat_directions",
    "gchisq_log_cdf",
    "gchisq_log_cdf_saddlepoint",
    "ggn",
    "gibbs_bound",
    "importance_volume",
    "kl",
    "kl_estimate",
    "kl_function",
    "laplace_volume",
    "learning_coefficient",
    "log_marginal",
    "log_volume_covariance",
    "loss_hessian",
    "markov_code_lengths",
    "markov_log_mixture",
    "min_norm_erm",
    "mixture_gap",
    "model_truth",
    "nested_gibbs_bound",
    "nested_volume",
    "network_regret",
    "network_study",
    "online_regret",
    "open_study",
    "predictive_log_loss",
    "radii_to_depth",
    "register_predictor",
    "regret_bound",
    "regret_curve",
    "sampled_volume",
    "sequential_log_marginal",
    "sequential_smc",
    "shard_map_keys",
    "use_host_devices",
    "volume",
]
