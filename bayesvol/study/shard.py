"""Inside a cell: independent replicates (seeds, chains) spread over the devices present.

``jax.jit`` of a ``vmap`` with the replicate axis sharded over a one-axis ``jax.sharding.Mesh`` of every
device: each device computes its share and XLA moves nothing between them. On a CPU started with
``bv.use_host_devices(k)`` (or ``XLA_FLAGS=--xla_force_host_platform_device_count=k``) the k host devices
run in parallel; on one device it is a plain jitted ``vmap``. Sharding is JAX's own (no ``pmap``, which
JAX deprecates), so the same code runs on GPUs and across hosts.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bayesvol.errors import InputError

__all__ = ["shard_leading", "shard_map_keys"]


def shard_map_keys(fn: Callable[[Any], Any], keys: Any, devices: Any = None) -> Any:
    """``vmap(fn)(keys)`` with the replicates split evenly over ``devices`` (default: all of JAX's).

    ``keys``: a batch of raw keys, shape (r, 2) uint32 (``jax.random.split(key, r)``). The batch is padded
    to a multiple of the device count (the padding's results are dropped), so any r works. Each replicate
    sees only its own key, so the numbers do not depend on how many devices there are.
    """
    import jax
    import jax.numpy as jnp
    import numpy as np
    from jax.sharding import Mesh, NamedSharding, PartitionSpec

    keys = jnp.asarray(keys)
    if keys.ndim != 2 or keys.shape[1] != 2 or keys.dtype != jnp.uint32 or keys.shape[0] < 1:
        raise InputError(f"keys must be a batch of raw keys of shape (r, 2) and dtype uint32 (from "
                         f"jax.random.split(key, r)), got shape {keys.shape} and dtype {keys.dtype}")
    devices = list(jax.devices() if devices is None else devices)
    count = keys.shape[0]
    padded = -(-count // len(devices)) * len(devices)
    if padded > count:  # repeat the first key: computed and dropped, never mixed into the results
        keys = jnp.concatenate([keys, jnp.broadcast_to(keys[:1], (padded - count, 2))])
    sharding = NamedSharding(Mesh(np.asarray(devices), ("replicate",)), PartitionSpec("replicate"))
    mapped = jax.jit(jax.vmap(fn), in_shardings=sharding, out_shardings=sharding)
    out = mapped(jax.device_put(keys, sharding))
    return jax.tree.map(lambda leaf: leaf[:count], out)


def shard_leading(*arrays: Any, devices: Any = None) -> tuple[Any, ...]:
    """The arrays placed with their leading (replicate) axis split over ``devices`` (default: all of JAX's).

    A jitted computation that maps over that axis then runs each device's share on that device (XLA's
    partitioner follows the inputs' sharding). Unchanged when there is one device or the axis does not
    divide evenly: the numbers never depend on the placement.
    """
    import jax
    import numpy as np
    from jax.sharding import Mesh, NamedSharding, PartitionSpec

    devices = list(jax.devices() if devices is None else devices)
    if len(devices) < 2 or any(np.shape(a)[0] % len(devices) for a in arrays):
        return arrays
    sharding = NamedSharding(Mesh(np.asarray(devices), ("replicate",)), PartitionSpec("replicate"))
    return tuple(jax.device_put(a, sharding) for a in arrays)
