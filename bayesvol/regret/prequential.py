"""Block-prequential code length of any predictor: refit at checkpoints, code each block with the last fit.

−log q(x^N) ≈ Σ_j Σ_{n_j < t ≤ n_{j+1}} −log q(x_t | x^{n_j}): the predictor is fitted on the first n_j rows
and codes the rows up to n_{j+1} without refitting. With a checkpoint at every row and an exact mixture this
is the exact code length −log Q(x^N) (the sum telescopes); with geometric checkpoints it is the usual
affordable approximation for predictors that must be refitted (networks, ensembles), and it is an honest
code: every block is coded by a predictor that saw only earlier rows. The first block is coded by
``first_block`` with no training rows (the prior predictive of the mixture by default).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import xarray as xr

from bayesvol.errors import InputError, as_key
from bayesvol.inference.fit import prepare_data
from bayesvol.model.covariates import num_rows
from bayesvol.model.model_class import ModelClass
from bayesvol.regret.regret import predictive_log_loss  # with every predictor registered (regret.py)

__all__ = ["block_prequential"]


def _checkpoints(checkpoints: Sequence[int], rows: int) -> list[int]:
    try:
        values = sorted({int(n) for n in checkpoints})
    except (TypeError, ValueError) as err:
        raise InputError(f"checkpoints must be integers, got {checkpoints!r}") from err
    if not values or values[0] < 1 or values[-1] > rows:
        raise InputError(f"checkpoints must lie in 1 … {rows} (the data's rows), got {values}")
    return values


def block_prequential(
    mc: ModelClass,
    data: Any,
    checkpoints: Sequence[int],
    predictor: str = "mixture",
    *,
    key: Any,
    first_block: str = "mixture",
    predictor_options: Mapping[str, Any] | None = None,
    covariates: Mapping[str, Any] | None = None,
    **model_kwargs: Any,
) -> xr.Dataset:
    """Cumulative block-prequential code length (nats and bits) of ``predictor`` at each checkpoint.

    Parameters
    ----------
    mc
        The model class.
    data
        The observed rows, in the order they are coded.
    checkpoints
        n_1 < … < n_J: the predictor is refitted on x^{n_j} and codes rows n_j + 1 … n_{j+1}; the rows up to
        n_1 are coded by ``first_block`` with no training data.
    predictor
        A registered predictor name (``bv.PREDICTORS``).
    key
        JAX PRNG key; block j uses ``fold_in(key, j)``.
    first_block
        The predictor for the first block (it must accept no training rows: "mixture").
    predictor_options
        Keyword arguments for :func:`bayesvol.predictive_log_loss` (``exact_log_marginal``, …).
    covariates, **model_kwargs
        The model's covariates for the rows (a mapping, or keywords).

    Returns
    -------
    xarray.Dataset
        ``code_length`` (n) in nats, ``bits``, ``bits_per_symbol``, ``infinite`` (rows of probability 0 so
        far: the code length is then ∞), ``gradient_evaluations`` (n) when the predictor reports them.

    """
    key = as_key(key)
    data, cov = prepare_data(mc, data, covariates, model_kwargs)
    rows = num_rows(data)
    points = _checkpoints(checkpoints, rows)
    layout = mc.row_layout
    options = dict(predictor_options or {})
    bounds = [0, *points]
    totals, infinite, cost = [], [], []
    running, running_inf, running_cost = 0.0, 0, 0
    for j in range(len(points)):
        start, stop = bounds[j], bounds[j + 1]
        block, block_cov = layout.take(data, cov, jnp.arange(start, stop))
        loss = predictive_log_loss(
            mc, first_block if start == 0 else predictor, data if start else None, block,
            key=jax.random.fold_in(key, j), train_covariates=cov, test_covariates=block_cov, validate=False,
            num_train=start, **options)
        values = np.asarray(loss.log_loss, dtype=float)
        finite = np.isfinite(values)
        running += float(values[finite].sum())
        running_inf += int((~finite).sum())
        running_cost += int(getattr(loss, "gradient_evaluations", 0) or 0)
        totals.append(running)
        infinite.append(running_inf)
        cost.append(running_cost)
    n = np.asarray(points)
    nats = np.where(np.asarray(infinite) > 0, np.inf, np.asarray(totals))
    return xr.Dataset(
        {"code_length": ("n", nats), "bits": ("n", nats / np.log(2.0)),
         "bits_per_symbol": ("n", nats / np.log(2.0) / n), "finite_code_length": ("n", np.asarray(totals)),
         "infinite": ("n", np.asarray(infinite)), "gradient_evaluations": ("n", np.asarray(cost))},
        coords={"n": n},
        attrs={"predictor": predictor, "first_block": first_block, "units": "nats",
               "description": "block-prequential: refitted at each checkpoint, each block coded by the last "
                              "fit; finite_code_length leaves out the rows of probability 0"},
    )
