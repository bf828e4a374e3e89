"""A NumPyro model as a hypothesis class {P_θ : θ ∈ Θ} with a prior w.

The latent sample sites of the model are θ (with their priors); one observed site carries the data.
`ModelClass` gives the class a flat, unconstrained coordinate system z ∈ R^d (NumPyro's own
bijections onto each site's support) so that every estimator downstream works with plain vectors:

    log w(z) = Σ_sites log p_site(T(z)) + log |det ∂T/∂z|,
    log P_z(data_i) for every datum i (a plate over rows indexes the data).

Conventions
-----------
* **Covariates** are the model's own keyword arguments (``model(x, y=None)``), exactly as for NumPyro's
  ``Predictive``. The keyword arguments given to the constructor are *example* covariates used once to
  discover the parameter structure; every method takes the covariates it should use.
* **The observed site** is found by tracing: a sample site already observed, or — NumPyro's idiom — a
  sample site fed by an argument of the model that defaults to ``None`` or has no default at all
  (``def model(x, y=None)`` or ``def model(x, y)``; ``obs=y``). The argument is detected by re-tracing
  the model with it set to the site's own sampled value; an exception the model raises then is reported
  as the model's own when no observed site is found. Data given
  with the example covariates (``ModelClass(model, x=x, y=y)``) is recognized the same way and dropped
  from them. With several observed sites, the ones not chosen by ``observed=`` are data too (pass their
  values as covariates), never parameters. Discovery traces latent sites at the image of z = 0 (no
  prior draws).
* **Factors.** ``numpyro.factor`` sites are allowed outside the data plate (``factor_sites``,
  ``has_factor``): their log-weights enter ``log_prior`` and ``log_joint`` (NumPyro's potential energy),
  which is then unnormalized — what ``fit`` and ``log_marginal`` need. The volumes and prior draws need a
  normalized prior and refuse them, naming the site. Latent sites inside the observed site's plate (one
  parameter per row) are refused at construction.
* **Rows.** The dimensions of the observed site that belong to a ``numpyro.plate`` index the data; the
  log-probability is summed over every other dimension, so one datum may be a vector. Without a plate the
  leading batch dimension is taken as the rows.
* **Generative sample size.** A model without covariates takes its number of i.i.d. rows as a keyword
  (the zoo uses ``n=1`` by default, and the data's length when data is given); pass it like a covariate:
  ``mc.simulate(key, params, n=100)``.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree
from numpyro import handlers

# Submodules imported by name: ArviZ 1.x imports NumPyro lazily, after which ``numpyro.distributions``
# may lack the attribute ``distribution`` until the submodule is imported explicitly.
from numpyro.distributions.distribution import (
    Distribution,
    ExpandedDistribution,
    ImproperUniform,
    Independent,
    MaskedDistribution,
    Unit,
)
from numpyro.distributions.transforms import biject_to
from numpyro.infer.util import potential_energy

from bayesvol.errors import ModelClassError, as_key
from bayesvol.model.covariates import RowLayout, discover_layout, merge_covariates, num_rows

__all__ = ["ModelClass", "ModelClassError"]

Array = jax.Array
Params = dict[str, Array]


def _is_concrete(x: Any) -> bool:
    return not isinstance(x, jax.core.Tracer)


def _site_is_factor(site: Mapping[str, Any]) -> bool:
    return isinstance(site["fn"], Unit)


def _is_improper(fn: Any) -> bool:
    while isinstance(fn, (Independent, ExpandedDistribution, MaskedDistribution)):
        fn = fn.base_dist
    return isinstance(fn, ImproperUniform)


def _structural_value(site: Mapping[str, Any]) -> Array | None:
    """A value for an unobserved continuous site: the image of z = 0 under its bijection.

    Discovering the structure needs values of the right shape, not prior draws: this skips compiling
    the samplers (Gamma, Beta, Dirichlet draws cost seconds of compilation each), and gives improper
    sites (which cannot be sampled) a value so that tracing reaches the check. Discrete sites are drawn.
    """
    if site["type"] != "sample" or site["is_observed"]:
        return None
    fn = site["fn"]
    if fn.is_discrete and not _is_improper(fn):
        return None
    try:
        transform = biject_to(fn.support)
        return transform(jnp.zeros(transform.inverse_shape(fn.shape())))
    except (NotImplementedError, TypeError, ValueError):  # a support without a bijection: draw it
        return None


class ModelClass:
    """A NumPyro model viewed as a class of distributions {P_θ} with prior w.

    Parameters
    ----------
    model
        A NumPyro model function. Its latent sample sites are θ; one observed site carries the data.
    observed
        Name of the observed site, needed only when the model has several.
    **model_kwargs
        Example covariates (keyword arguments of ``model``) used to discover the parameter structure.
        The structure may depend on e.g. the number of features, never on the number of rows.

    Attributes
    ----------
    dim : int
        Number of unconstrained parameters d.
    latent_sites : tuple of str
        Names of the latent sites, in flattening order.
    z_layout : dict
        ``{site: (offset, shape)}``: site ``k`` occupies z[offset : offset + prod(shape)], row-major, in
        its unconstrained shape.
    observed_site : str
        Name of the observed site.
    observed_kwarg : str or None
        The keyword argument of ``model`` that feeds the observed site (``None`` when the model observes
        data passed through a covariate of its own).

    """

    def __init__(self, model: Callable[..., Any], observed: str | None = None, **model_kwargs: Any):
        if not callable(model):
            raise ModelClassError(f"model must be a callable NumPyro model, got {type(model).__name__}")
        self.model = model
        self.example_kwargs = dict(model_kwargs)
        # Arguments without a default that were not given (``def model(x, y)`` with only x): None while
        # discovering, so that a positional observed argument is found like a keyword one.
        self._required = self._required_arguments(model_kwargs)
        discovery = {**dict.fromkeys(self._required), **model_kwargs}
        try:
            trace = self._raw_trace(discovery)
        except Exception as err:  # the user's model failed: say which call failed
            raise ModelClassError(
                f"tracing {self._name}(**{sorted(discovery)}) failed: {type(err).__name__}: {err}"
            ) from err
        self.observed_site, self.observed_kwarg, observed_sites = self._find_observed(
            trace, observed, discovery, set(model_kwargs))
        self._data_sites = observed_sites
        self.observed_feeds: dict[str, str | None] = dict(self._observed_feeds)
        # data passed with the example covariates is not a covariate: simulate() must not return it. It
        # still serves the structural traces (coordinates, prior), for a model that reads e.g. its row
        # count off the data.
        example_data = self.example_kwargs.pop(self.observed_kwarg, None)
        self._structural_kwargs = dict(self.example_kwargs)
        if example_data is not None:
            self._structural_kwargs[self.observed_kwarg] = example_data
        if self.observed_kwarg is not None and self.observed_kwarg not in self._required:
            try:  # a required observed argument given as data: None whenever the model runs without data
                parameter = inspect.signature(model).parameters[self.observed_kwarg]
                if parameter.default is parameter.empty:
                    self._required = (*self._required, self.observed_kwarg)
            except (TypeError, ValueError, KeyError):
                pass
        data_plates = {f.name for f in trace[self.observed_site]["cond_indep_stack"]}
        latent, factors = [], []
        for name, site in trace.items():
            if site["type"] == "param":
                raise ModelClassError(
                    f"site {name!r} is a numpyro.param: a hypothesis class needs a proper prior on every "
                    "parameter (replace it by a numpyro.sample site)"
                )
            if site["type"] != "sample" or name in observed_sites:
                # the other observed sites are data too (pass them as covariates), never θ
                continue
            in_data_plate = sorted(data_plates & {f.name for f in site["cond_indep_stack"]})
            if _site_is_factor(site):
                if in_data_plate:
                    raise ModelClassError(
                        f"factor site {name!r} lies inside the data plate {in_data_plate[0]!r} of the "
                        f"observed site {self.observed_site!r}: a per-row factor is part of the likelihood, "
                        "which bayesvol reads from the observed site alone (fold it into that distribution)"
                    )
                factors.append(name)
                continue
            if site["is_observed"]:
                continue
            fn = site["fn"]
            if fn.is_discrete:
                raise ModelClassError(
                    f"latent site {name!r} has a discrete prior ({type(fn).__name__}); bayesvol needs "
                    "continuous parameters (marginalize the discrete variable in the model)"
                )
            if _is_improper(fn):
                raise ModelClassError(
                    f"latent site {name!r} has an improper prior (ImproperUniform); the volume "
                    "w({θ : D ≤ t}) needs a proper prior"
                )
            if in_data_plate:
                raise ModelClassError(
                    f"latent site {name!r} lies inside the data plate {in_data_plate[0]!r} of the observed "
                    f"site {self.observed_site!r}: one parameter per data row makes θ grow with the data; "
                    "bayesvol needs a fixed set of global parameters (marginalize the per-row variable in "
                    "the likelihood, or move the site out of the plate)"
                )
            latent.append(name)
        self.factor_sites = tuple(factors)
        if not latent:
            raise ModelClassError("the model has no latent sample site: there is no θ to learn")
        self.latent_sites = tuple(latent)
        self.site_shapes = {k: tuple(jnp.shape(trace[k]["value"])) for k in latent}
        example = {k: trace[k]["value"] for k in latent}
        z_tree = self._unconstrain(example)
        self._z_shapes = {k: jnp.shape(v) for k, v in z_tree.items()}
        flat, self._unravel = ravel_pytree(z_tree)
        self.dim = int(flat.size)
        self._example_z = flat
        # ravel_pytree concatenates the leaves in tree_flatten order, each raveled row-major (shapes only:
        # the class may be built under a jax trace)
        self.z_layout = {}
        offset = 0
        for path, leaf in jax.tree_util.tree_flatten_with_path(z_tree)[0]:
            self.z_layout[path[0].key] = (offset, tuple(jnp.shape(leaf)))
            offset += int(np.prod(jnp.shape(leaf), dtype=int))
        try:
            self.row_layout: RowLayout = discover_layout(self._rows_of, self.example_kwargs)
        except Exception:  # the model cannot run without its data (it reads its row count off them)
            self.row_layout = RowLayout()

    def _rows_of(self, kwargs: Mapping[str, Any]) -> int:
        site = self._raw_trace(self._call_kwargs(kwargs))[self.observed_site]
        return int(self.per_datum(site, jnp.zeros(site["fn"].batch_shape)).shape[0])

    # ------------------------------------------------------------------ covariates and data
    def resolve_covariates(self, covariates: Mapping[str, Any] | None = None,
                           model_kwargs: Mapping[str, Any] | None = None, *,
                           data: Any = None) -> dict[str, Any]:
        """The model's keyword arguments for a call: the given covariates, checked, plus static defaults.

        Covariates come as two mappings — the API's ``covariates=`` (for a model whose argument names
        collide with an API parameter, ``covariates={"data": x}``) and its keyword covariates — never as
        keywords here, so no argument name can collide with ``data``. Per-row covariates
        (:attr:`row_layout`) must be given — the constructor's example rows are never used for data or
        for D; structural arguments
        (a degree, widths) default to the constructor's values; the row count of a generative class
        defaults to the data's rows (or the constructor's value without data).
        """
        given = merge_covariates(covariates, model_kwargs or {})
        if self.observed_kwarg is not None and self.observed_kwarg in given:
            raise ModelClassError(
                f"argument {self.observed_kwarg!r} feeds the observed site {self.observed_site!r}: pass its "
                "values as data, not as a covariate")
        self._check_argument_names(given)
        missing = [k for k in self.row_layout.rows if k not in given]
        if missing:
            needed = ", ".join(f"{k}=..." for k in missing)
            raise ModelClassError(
                f"covariates are missing: pass {needed} (the rows the data were observed "
                "at, or the covariate sample D is averaged over); the constructor's example rows only "
                "define the structure")
        for name, value in given.items():
            if isinstance(value, (list, tuple)) and name in self.row_layout.rows:
                value = given[name] = _as_array(value, f"covariate {name!r}")
            if hasattr(value, "dtype") and _is_concrete(value) and np.asarray(value).dtype.kind in "fc" \
                    and not np.all(np.isfinite(np.asarray(value))):
                bad = int(np.size(value) - np.count_nonzero(np.isfinite(np.asarray(value))))
                raise ModelClassError(f"covariate {name!r} has {bad} NaN or infinite value(s)")
        layout = self.row_layout
        out = {k: v for k, v in self.example_kwargs.items() if k not in layout.rows}
        out.update(given)
        if data is not None and layout.count is not None and layout.count not in given:
            out[layout.count] = num_rows(data)
        if data is not None:
            layout.check(data, out)
        return out

    def _check_argument_names(self, given: Mapping[str, Any]) -> None:
        try:
            params = inspect.signature(self.model).parameters
        except (TypeError, ValueError):
            return
        if any(p.kind == p.VAR_KEYWORD for p in params.values()):
            return
        unknown = sorted(k for k in given if k not in params)
        if unknown:
            raise ModelClassError(
                f"covariate(s) {unknown} are not arguments of {getattr(self.model, '__name__', 'the model')}"
                f"({', '.join(params)})")

    def data_value(self, data: Any) -> tuple[Any, dict[str, Any]]:
        """(the observed site's values, covariates carried by the data) from an array or a mapping.

        Data may be the observed site's array (or a nested list of numbers), or a mapping
        ``{site: value}`` as ``numpyro.handlers.condition`` takes it: the observed site's value, and the
        values of the model's other observed sites (returned as the keyword arguments that feed them).
        """
        if isinstance(data, Mapping):
            latent = sorted(k for k in data if k in self.latent_sites)
            if latent:
                raise ModelClassError(f"data names latent site(s) {latent}: those are θ, not data")
            unknown = sorted(k for k in data if k not in self.observed_feeds)
            if unknown:
                raise ModelClassError(
                    f"data names unknown site(s) {unknown}; the observed sites are "
                    f"{sorted(self.observed_feeds)}")
            if self.observed_site not in data:
                raise ModelClassError(
                    f"the data mapping has no value for the observed site {self.observed_site!r}")
            extra = {}
            for site, value in data.items():
                if site == self.observed_site:
                    continue
                if self.observed_feeds[site] is None:
                    raise ModelClassError(f"observed site {site!r} takes its value from the model itself")
                extra[self.observed_feeds[site]] = value
            data = data[self.observed_site]
        else:
            extra = {}
        if data is None:
            raise ModelClassError(f"data for the observed site {self.observed_site!r} is None")
        if not hasattr(data, "shape"):
            data = _as_array(data, f"data for site {self.observed_site!r}")
        return data, extra

    # ------------------------------------------------------------------ discovery
    def _raw_trace(self, kwargs: Mapping[str, Any], key: Array | int = 0) -> Any:
        model = handlers.substitute(handlers.seed(self.model, key), substitute_fn=_structural_value)
        return handlers.trace(model).get_trace(**kwargs)

    @property
    def _name(self) -> str:
        return getattr(self.model, "__name__", "model")

    @property
    def has_factor(self) -> bool:
        """Whether the model has numpyro.factor sites: its prior is then known only up to a constant."""
        return bool(self.factor_sites)

    def _required_arguments(self, given: Mapping[str, Any]) -> tuple[str, ...]:
        try:
            parameters = inspect.signature(self.model).parameters.values()
        except (TypeError, ValueError):
            return ()
        return tuple(p.name for p in parameters if p.default is p.empty and p.name not in given
                     and p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD))

    def _call_kwargs(self, kwargs: Mapping[str, Any]) -> dict[str, Any]:
        """The model's keyword arguments with the required ones not given (the observed one) set to None."""
        return {**dict.fromkeys(self._required), **kwargs}

    def _find_observed(
        self, trace: Any, observed: str | None, kwargs: Mapping[str, Any], given: set[str]
    ) -> tuple[str, str | None, frozenset[str]]:
        already: dict[str, str | None] = {
            n: None for n, s in trace.items()
            if s["type"] == "sample" and s["is_observed"] and not _site_is_factor(s)}
        # Data given with the example covariates (``ModelClass(model, x=x, y=y)``): the keyword whose value
        # the site holds (NumPyro keeps ``obs`` as given), else the keyword without which the site is no
        # longer observed.
        for name in already:
            # an argument named like the site first: the same array may be passed twice (x=y, y=y)
            ordered = sorted(kwargs.items(), key=lambda item: item[0] != name)
            for arg, value in ordered:
                if value is not None and trace[name]["value"] is value:
                    already[name] = arg
                    break
            else:
                for arg, value in kwargs.items():
                    if value is None:
                        continue
                    try:
                        retrace = self._raw_trace({**kwargs, arg: None})
                    except Exception:  # the model needs this argument: it is a covariate
                        continue
                    if name in retrace and not retrace[name]["is_observed"]:
                        already[name] = arg
                        break
        fed: dict[str, str] = {}
        try:
            signature = inspect.signature(self.model)
            # the observed argument defaults to None (NumPyro's idiom) or has no default at all
            candidates = [p.name for p in signature.parameters.values()
                          if (p.default is None or p.default is p.empty) and p.name not in given
                          and p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)]
        except (TypeError, ValueError):
            candidates = []
        latent_like = [n for n, s in trace.items() if s["type"] == "sample" and not s["is_observed"]]
        failures: list[tuple[str, str, Exception]] = []
        for arg in candidates:
            for name in latent_like:
                try:
                    retrace = self._raw_trace({**kwargs, arg: trace[name]["value"]})
                except Exception as err:  # this argument does not accept that site's value: not its feed
                    failures.append((arg, name, err))
                    continue
                if name in retrace and retrace[name]["is_observed"]:
                    if name in fed:
                        raise ModelClassError(
                            f"site {name!r} is observed through both {fed[name]!r} and {arg!r}: ambiguous"
                        )
                    fed[name] = arg
        if not already and not fed and failures:
            # nothing observed, and the model raised when given data: surface the user's own exception
            arg, name, err = next(((a, n, e) for a, n, e in failures if a == n), failures[0])
            raise ModelClassError(
                f"tracing {self._name}({arg}=<a value of site {name!r}>, **{sorted(given)}) failed: "
                f"{type(err).__name__}: {err}"
            ) from err
        found: dict[str, str | None] = {**already, **fed}
        self._observed_feeds = found
        if observed is not None:
            if observed not in found:
                raise ModelClassError(
                    f"observed={observed!r} is not an observed site of the model; observed sites found: "
                    f"{sorted(found) or 'none'}"
                )
            return observed, found[observed], frozenset(found)
        if not found:
            raise ModelClassError(
                "the model has no observed site: write the likelihood as numpyro.sample(name, dist, obs=y) "
                "with y a keyword argument of the model that defaults to None"
            )
        if len(found) > 1:
            raise ModelClassError(
                f"the model has several observed sites {sorted(found)}; choose one with observed=..."
            )
        name = next(iter(found))
        return name, found[name], frozenset(found)

    # ------------------------------------------------------------------ coordinates
    def _check_params(self, params: Mapping[str, Any]) -> None:
        if not isinstance(params, Mapping):
            raise ModelClassError(f"params must be a dict of site values, got {type(params).__name__}")
        missing = [k for k in self.latent_sites if k not in params]
        if missing:
            raise ModelClassError(f"params is missing site(s) {missing}; the latent sites are "
                                  f"{list(self.latent_sites)}")
        extra = [k for k in params if k not in self.latent_sites]
        if extra:
            raise ModelClassError(f"params has unknown site(s) {extra}; the latent sites are "
                                  f"{list(self.latent_sites)}")
        for k in self.latent_sites:
            shape = tuple(jnp.shape(params[k]))
            if shape != self.site_shapes[k]:
                raise ModelClassError(
                    f"params[{k!r}] has shape {shape}, the site {k!r} has shape {self.site_shapes[k]}"
                )

    def _substitute_checked(self, params: Mapping[str, Any]) -> Callable[[Mapping[str, Any]], Any]:
        """A substitute_fn setting the latent sites to ``params``, each checked against its support.

        The check runs at the site, in model order, before a later site can fail on the bad value
        (NumPyro validates distribution arguments) with a message that names the wrong thing.
        """

        def substitute_fn(site: Mapping[str, Any]) -> Any:
            name = site["name"]
            if site["type"] != "sample" or name not in self.latent_sites:
                return None
            value = jnp.asarray(params[name])
            if _is_concrete(value):
                try:
                    inside = site["fn"].support(value)
                except Exception:  # a support without a pointwise check: nothing to validate
                    inside = True
                if _is_concrete(inside) and not bool(jnp.all(inside)):
                    raise ModelClassError(
                        f"params[{name!r}] lies outside the support of its prior "
                        f"{type(site['fn']).__name__} ({site['fn'].support})"
                    )
            return value

        return substitute_fn

    def _unconstrain(self, params: Mapping[str, Any]) -> Params:
        # Sites may depend on each other (hierarchical priors), so the supports are read off a trace
        # with the constrained values substituted, in model order. Kept rather than NumPyro's
        # ``unconstrain_fn``, which has no support check (a bad value comes back as NaN, no site named).
        trace = handlers.trace(
            handlers.seed(handlers.substitute(self.model, substitute_fn=self._substitute_checked(params)), 0)
        ).get_trace(**self._call_kwargs(self._structural_kwargs))
        return {k: biject_to(trace[k]["fn"].support).inv(jnp.asarray(params[k]))
                for k in self.latent_sites}

    def flatten(self, params: Mapping[str, Any]) -> Array:
        """Map a dict of constrained site values to the flat unconstrained vector z ∈ R^d."""
        self._check_params(params)
        if all(_is_concrete(params[k]) for k in self.latent_sites):
            for k in self.latent_sites:
                value = np.asarray(params[k])
                if not np.all(np.isfinite(value)):
                    raise ModelClassError(f"params[{k!r}] is not finite")
        z = ravel_pytree(self._unconstrain(params))[0]
        if _is_concrete(z) and not bool(jnp.all(jnp.isfinite(z))):
            bad = [k for k, v in self._unconstrain(params).items() if not bool(jnp.all(jnp.isfinite(v)))]
            raise ModelClassError(f"params {bad} lie outside the support of their prior")
        return z

    def unflatten(self, z: Array) -> Params:
        """Map a flat unconstrained vector z to the dict of constrained site values."""
        self._check_z(z)
        return self._constrained_trace(z, self._structural_kwargs)[1]

    def _check_z(self, z: Array) -> None:
        if jnp.shape(z) != (self.dim,):
            raise ModelClassError(f"z must have shape ({self.dim},), got {jnp.shape(z)}; vmap over batches")

    def _constrained_trace(
        self, z: Array, kwargs: Mapping[str, Any], key: Array | int = 0
    ) -> tuple[Any, Params, Array]:
        """Run the model at unconstrained z; return its trace, the constrained values and log|det J|.

        Kept rather than ``numpyro.infer.util.constrain_fn`` + ``log_likelihood``: the per-datum
        log-likelihood needs the observed site's plates (rows) and its support check from the same trace,
        which NumPyro's helpers would give only by tracing the model three times per call.
        """
        unconstrained = self._unravel(z)
        log_dets: list[Array] = []

        def substitute_fn(site: Mapping[str, Any]) -> Array | None:
            name = site["name"]
            if site["type"] != "sample" or name not in unconstrained:
                return None
            u = unconstrained[name]
            transform = biject_to(site["fn"].support)
            value = transform(u)
            log_det = transform.log_abs_det_jacobian(u, value)
            log_dets.append(jnp.sum(log_det))
            return value

        model = handlers.substitute(handlers.seed(self.model, key), substitute_fn=substitute_fn)
        trace = handlers.trace(model).get_trace(**self._call_kwargs(kwargs))
        params = {k: trace[k]["value"] for k in self.latent_sites}
        return trace, params, sum(log_dets, jnp.zeros(()))

    # ------------------------------------------------------------------ densities
    def log_prior(self, z: Array) -> Array:
        """Log w(z) in the unconstrained space: Σ log p_site(T(z)) + log|det ∂T/∂z| (nats).

        With ``numpyro.factor`` sites (``has_factor``) their log-weights are included: this is then the
        *unnormalized* log prior, −(NumPyro's potential energy) of the model without its data, known only
        up to an additive constant.
        """
        self._check_z(z)
        return self._log_density(z, self._structural_kwargs, self._data_sites)

    def _log_density(self, z: Array, kwargs: Mapping[str, Any], hide: frozenset[str] | set[str]) -> Array:
        # Delegated to NumPyro's potential energy (biject_to per site, log-Jacobian, scales, factors): the
        # same numbers as summing the trace by hand (tests/test_user_models.py checks to 1e-12), and the
        # same cost under jit. The data sites in ``hide`` are blocked: without data they would be drawn
        # (hence the seed) and scored.
        model = handlers.block(handlers.seed(self.model, 0), hide=list(hide))
        return -potential_energy(model, (), self._call_kwargs(kwargs), self._unravel(z))

    def _with_data(self, data: Any, covariates: Mapping[str, Any] | None, kwargs: Mapping[str, Any]
                   ) -> tuple[Any, dict[str, Any]]:
        """(data values, the model's keyword arguments with the data fed to the observed site)."""
        if self.observed_kwarg is None:
            raise ModelClassError(
                f"the observed site {self.observed_site!r} takes its data from the model itself; pass "
                "the data through the model's obs keyword instead"
            )
        data, carried = self.data_value(data)
        resolved = self.resolve_covariates(covariates, {**carried, **kwargs}, data=data)
        resolved[self.observed_kwarg] = data
        return data, resolved

    def per_datum(self, site: Mapping[str, Any], values: Array) -> Array:
        """Reduce an array shaped like the observed site's batch to one value per datum (row)."""
        values = jnp.asarray(values)
        batch_shape = tuple(site["fn"].batch_shape)
        values = jnp.broadcast_to(values, batch_shape) if values.ndim < len(batch_shape) else values
        ndim = values.ndim
        if ndim == 0:
            return values.reshape(1)
        plate_dims = sorted({ndim + f.dim for f in site["cond_indep_stack"] if -f.dim <= ndim})
        if not plate_dims:
            return values.reshape(values.shape[0], -1).sum(axis=1)
        others = tuple(i for i in range(ndim) if i not in plate_dims)
        values = jnp.sum(values, axis=others) if others else values
        return values.reshape(-1)

    def log_likelihood(self, z: Array, data: Any, *, covariates: Mapping[str, Any] | None = None,
                       **model_kwargs: Any) -> Array:
        """Per-datum log-likelihood log P_z(data_i | covariates_i), a vector over rows (nats).

        ``data``: the observed site's array or a mapping {site: value}; covariates as keywords or as the
        mapping ``covariates=``.
        """
        self._check_z(z)
        data, kwargs = self._with_data(data, covariates, model_kwargs)
        self._check_data(data)
        try:
            trace, _, _ = self._constrained_trace(z, kwargs)
        except Exception as err:
            raise ModelClassError(self._shape_message(data, kwargs, err)) from err
        site = trace[self.observed_site]
        self._check_support(site)
        try:  # data whose number of rows disagrees with the covariates fails here, not in the trace
            log_prob = site["fn"].log_prob(site["value"])
        except Exception as err:
            raise ModelClassError(self._shape_message(data, kwargs, err)) from err
        return self.per_datum(site, log_prob)

    def log_joint(self, z: Array, data: Any, *, covariates: Mapping[str, Any] | None = None,
                  **model_kwargs: Any) -> Array:
        """Log w(z) + Σ_i log P_z(data_i): the unnormalized log posterior in unconstrained space."""
        self._check_z(z)
        data, kwargs = self._with_data(data, covariates, model_kwargs)
        return self._log_density(z, kwargs, self._data_sites - {self.observed_site})

    def distribution(self, params: Mapping[str, Any], *, covariates: Mapping[str, Any] | None = None,
                     **model_kwargs: Any) -> Distribution:
        """The distribution of the observed site under θ = params, for the given covariates."""
        trace = self.observed_trace(params, merge_covariates(covariates, model_kwargs))
        return trace[self.observed_site]["fn"]

    def observed_trace(self, params: Mapping[str, Any], model_kwargs: Mapping[str, Any],
                       key: Array | int = 0) -> Any:
        """Trace of the model at constrained ``params`` with the observed site sampled (no data).

        ``model_kwargs`` are the covariates, resolved by :meth:`resolve_covariates` (per-row ones required).
        """
        self._check_params(params)
        kwargs = self.resolve_covariates(model_kwargs)
        model = handlers.substitute(handlers.seed(self.model, key),
                                    substitute_fn=self._substitute_checked(params))
        try:
            return handlers.trace(model).get_trace(**self._call_kwargs(kwargs))
        except ModelClassError:
            raise
        except Exception as err:
            raise ModelClassError(self._shape_message(None, kwargs, err)) from err

    def simulate(self, key: Array, params: Mapping[str, Any], *, covariates: Mapping[str, Any] | None = None,
                 **model_kwargs: Any) -> Array:
        """Draw data from P_θ: the observed site's value for the given covariates (or ``n=`` rows)."""
        kwargs = merge_covariates(covariates, model_kwargs)
        site = self.observed_trace(params, kwargs, as_key(key))[self.observed_site]
        if site["is_observed"]:  # the covariates carry data for the site: its value is data, not a draw
            raise ModelClassError(
                f"simulate: the observed site {self.observed_site!r} received data through the covariates "
                f"{sorted(kwargs or self.example_kwargs)}; pass the covariates without the data")
        return site["value"]

    # ------------------------------------------------------------------ validation
    def _check_data(self, data: Any) -> None:
        if data is None:
            raise ModelClassError(f"data for the observed site {self.observed_site!r} is None")
        if _is_concrete(data):
            arr = np.asarray(data)
            if arr.dtype.kind in "fc" and not np.all(np.isfinite(arr)):
                bad = int(np.size(arr) - np.count_nonzero(np.isfinite(arr)))
                raise ModelClassError(
                    f"data for site {self.observed_site!r} has {bad} NaN or infinite value(s)"
                )

    def _check_support(self, site: Mapping[str, Any]) -> None:
        value = site["value"]
        if not _is_concrete(value):
            return
        try:
            inside = site["fn"].support(value)
        except Exception:  # a support without a pointwise check: nothing to validate
            return
        if _is_concrete(inside) and not bool(jnp.all(inside)):
            raise ModelClassError(
                f"data for site {self.observed_site!r} lies outside the support of "
                f"{type(site['fn']).__name__} ({site['fn'].support}); e.g. value "
                f"{np.asarray(value)[~np.asarray(jnp.broadcast_to(inside, jnp.shape(value)))][:3].tolist()}"
            )

    def _shape_message(self, data: Any, model_kwargs: Mapping[str, Any], err: Exception) -> str:
        shapes = {k: jnp.shape(v) for k, v in model_kwargs.items()
                  if hasattr(v, "shape") and k != self.observed_kwarg}
        example = {k: jnp.shape(v) for k, v in self.example_kwargs.items() if hasattr(v, "shape")}
        data_shape = "" if data is None else f", data shape {jnp.shape(data)}"
        return (
            f"running the model with covariates {shapes or '{}'}{data_shape} failed "
            f"(example covariates had shapes {example}): {type(err).__name__}: {err}"
        )

    def __repr__(self) -> str:
        name = getattr(self.model, "__name__", "model")
        return (f"ModelClass({name}, dim={self.dim}, latent={list(self.latent_sites)}, "
                f"observed={self.observed_site!r})")


def _as_array(value: Any, what: str) -> Array:
    """A nested list or tuple of numbers as an array; a clear error for anything else (ragged, strings)."""
    try:
        arr = np.asarray(value)
    except ValueError as err:  # ragged nesting
        raise ModelClassError(f"{what} is not a rectangular array of numbers: {err}") from None
    if arr.dtype.kind not in "biuf":
        raise ModelClassError(f"{what} must be numbers, got an array of dtype {arr.dtype}")
    return jnp.asarray(arr)


def prior_sample(mc: ModelClass, key: Array) -> Params:
    """One draw θ ~ w of the constrained site values (refused when factor sites leave w unnormalized)."""
    if mc.has_factor:
        raise ModelClassError(
            f"drawing θ from the prior needs a normalized prior; factor site(s) {list(mc.factor_sites)} "
            "reweight it by an unnormalized amount")
    trace = handlers.trace(handlers.seed(mc.model, key)).get_trace(**mc._call_kwargs(mc._structural_kwargs))
    return {k: trace[k]["value"] for k in mc.latent_sites}

