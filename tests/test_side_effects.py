"""Importing bayesvol (and drawing a figure) changes nothing in the process but float64 mode.

Each check runs a small script in a FRESH interpreter: what a module does at import time can only be seen
before it is imported, and this test process has long imported everything.
"""

import json
import os
import subprocess
import sys
import textwrap

import pytest

_SCRIPT = textwrap.dedent("""
    import json, os, sys
    import matplotlib
    import numpyro.distributions.kl as numpyro_kl

    def registry():
        return {repr(k): v for k, v in numpyro_kl.kl_divergence.funcs.items()}

    before = registry()
    flags, backend = os.environ.get("XLA_FLAGS"), matplotlib.get_backend()

    import bayesvol as bv
    after_import = registry()

    import numpy as np
    import bayesvol.app.plots as plots
    from bayesvol.volume.curve import VolumeCurve

    t = np.geomspace(1e-3, 1.0, 5)
    curve = VolumeCurve(t, 0.5 * np.log(t), 0 * t, np.ones(5), 0 * t, "exact")
    figure = plots.plot_volume({"exact": curve})
    figure.savefig(sys.argv[1] + "/volume.png")  # saving a plain Figure needs no backend
    after_plot = registry()

    print(json.dumps({
        "added": sorted(set(after_plot) - set(before)),
        "removed": sorted(set(before) - set(after_plot)),
        "replaced": sorted(k for k in before if k in after_plot and after_plot[k] is not before[k]),
        "added_at_import": sorted(set(after_import) - set(before)),
        "flags": [flags, os.environ.get("XLA_FLAGS")],
        "backend": [backend, matplotlib.get_backend()],
        "pyplot_imported": "matplotlib.pyplot" in sys.modules,
        "x64": bool(__import__("jax").config.jax_enable_x64),
        "saved": os.path.getsize(sys.argv[1] + "/volume.png") > 0,
    }))
""")


def _fresh(script: str, *args: str, **env_changes: str | None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("XLA_FLAGS", "MPLBACKEND")}
    env.update({k: v for k, v in env_changes.items() if v is not None})
    env["JAX_PLATFORMS"] = "cpu"
    return subprocess.run([sys.executable, "-c", script, *args], env=env, capture_output=True, text=True,
                          timeout=300)


@pytest.fixture(scope="module")
def import_effects(tmp_path_factory):
    out = tmp_path_factory.mktemp("side_effects")
    # "svg": a non-interactive backend that exists headless and is not Agg, so forcing Agg would show
    run = _fresh(_SCRIPT, str(out), MPLBACKEND="svg")
    assert run.returncode == 0, run.stderr[-3000:]
    return json.loads(run.stdout.strip().splitlines()[-1])


def test_import_and_plot_leave_the_environment_and_backend_alone(import_effects):
    assert import_effects["flags"] == [None, None]  # no XLA_FLAGS appears
    assert import_effects["backend"] == ["svg", "svg"]
    assert not import_effects["pyplot_imported"]
    assert import_effects["saved"]
    assert import_effects["x64"]  # the one documented global: float64 mode


def test_import_leaves_numpyro_kl_registry_alone(import_effects):
    # bayesvol's own KL pairs must not be registered in NumPyro's global dispatcher (issue 10 (d)):
    # same keys, same function objects, after import and after plotting
    assert import_effects["added"] == [], import_effects["added"]
    assert import_effects["removed"] == []
    assert import_effects["replaced"] == []


def test_import_order_with_arviz_first():
    script = textwrap.dedent("""
        import arviz
        import bayesvol as bv
        import numpyro
        import numpyro.distributions as dist

        def model(y=None):
            mu = numpyro.sample("mu", dist.Normal(0.0, 1.0))
            with numpyro.plate("data", 3):
                numpyro.sample("y", dist.Normal(mu, 1.0), obs=y)

        mc = bv.ModelClass(model)
        print(mc.dim, mc.latent_sites)
    """)
    run = _fresh(script)
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.stdout.split()[0] == "1"


def test_use_host_devices_before_and_after_jax_starts():
    script = textwrap.dedent("""
        import os, jax
        import bayesvol as bv
        bv.use_host_devices(3)
        print(jax.local_device_count(), os.environ.get("XLA_FLAGS"))
        bv.use_host_devices(3)  # same count after the start: nothing to change
        try:
            bv.use_host_devices(2)
        except bv.HostDevicesError as err:
            assert isinstance(err, bv.BayesvolError)
            print("refused:", err)
        try:
            bv.use_host_devices(0)
        except bv.InputError as err:
            print("bad count:", err)
    """)
    run = _fresh(script)
    assert run.returncode == 0, run.stderr[-3000:]
    lines = run.stdout.strip().splitlines()
    assert lines[0] == "3 None"  # three CPU devices, and no environment variable touched
    assert lines[1].startswith("refused: use_host_devices(2) came too late") and "3 device(s)" in lines[1]
    assert lines[2].startswith("bad count: count must be an integer ≥ 1")


def test_import_alone_gives_one_device():
    run = _fresh("import jax, bayesvol; print(jax.local_device_count())")
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.stdout.strip() == "1"


def test_public_names_load_on_first_use():
    # `import bayesvol` loads JAX only (a study's worker starts fast); each public name
    # loads its module when first used, the predictor registry is complete whichever name comes first, and
    # loading the subpackage bayesvol.volume never hides the function bv.volume
    script = textwrap.dedent("""
        import sys, types
        import bayesvol as bv
        heavy = [m for m in ("numpyro", "arviz", "blackjax", "optax", "scipy.stats") if m in sys.modules]
        registry = sorted(bv.PREDICTORS)
        import bayesvol.volume.laplace
        kinds = {type(getattr(bv, name)).__name__ for name in bv.__all__}
        print(heavy, callable(bv.volume), bv.volume.__module__, "laplace_ggn" in registry,
              "erm_gd" in registry, any(isinstance(getattr(bv, n), types.ModuleType) for n in bv.__all__),
              set(bv.__all__) <= set(dir(bv)))
    """)
    run = _fresh(script)
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.stdout.split() == ["[]", "True", "bayesvol.volume.front", "True", "True", "False", "True"]
    # the modules that look predictors up by name see every built-in one, whichever is imported first
    for module in ("bayesvol.app.cli", "bayesvol.regret.prequential"):
        run = _fresh(f"import {module}; from bayesvol.regret.predictors import PREDICTORS; "
                     "print(sorted({'laplace_ggn', 'sgd_ensemble', 'erm_gd', 'quadrature'} "
                     "- set(PREDICTORS)))")
        assert run.returncode == 0, run.stderr[-3000:]
        assert run.stdout.strip() == "[]", module
    run = _fresh("import bayesvol as bv; bv.no_such_name")
    assert run.returncode != 0 and "module 'bayesvol' has no attribute 'no_such_name'" in run.stderr
