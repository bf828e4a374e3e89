"""Where the cells of a study run: in this process, in local processes, or on Ray.

Each executor takes a picklable ``work(coords) -> CellOutcome`` and the cells to run, and yields each
cell's outcome as it finishes, in any order. The driver (:meth:`bayesvol.Sweep.run`) writes every file, so
a worker never touches the store and a Ray worker on another machine needs no shared file system. No
scheduling of our own: ``concurrent.futures`` and Ray decide what runs where.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from bayesvol.errors import InputError

__all__ = ["EXECUTORS", "run_cells"]

EXECUTORS = ("inline", "processes", "ray")
"""The executors: ``inline`` (this process, one cell at a time), ``processes`` (a local process pool,
spawned: JAX does not survive ``fork``) and ``ray`` (a Ray cluster at ``address`` / ``RAY_ADDRESS``, else a
local one sized to the machine)."""


def run_cells(work: Callable[[Mapping[str, Any]], Any], cells: Sequence[tuple[str, Mapping[str, Any]]],
              executor: str = "inline", workers: int | None = None, address: str | None = None
              ) -> Iterator[tuple[str, Any]]:
    """Yield ``(cell id, work(coords))`` for every cell as each finishes (any order).

    An exception escaping ``work`` (a worker killed, out of memory) comes back as the outcome itself, so
    one cell's failure never stops the others.
    """
    if executor not in EXECUTORS:
        raise InputError(f"executor must be one of {', '.join(EXECUTORS)}, got {executor!r}")
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int) or workers < 1):
        raise InputError(f"workers must be a positive integer, got {workers!r}")
    if not cells:
        return
    if executor == "inline":
        for cid, coords in cells:
            yield cid, _guarded(work, coords)
    elif executor == "processes":
        yield from _processes(work, cells, workers)
    else:
        yield from _ray(work, cells, workers, address)


def _guarded(work: Callable[[Mapping[str, Any]], Any], coords: Mapping[str, Any]) -> Any:
    try:
        return work(coords)
    except Exception as err:  # work records its own errors; this is the last line (a bug, a pickling error)
        return err


def _processes(work: Callable[[Mapping[str, Any]], Any], cells: Sequence[tuple[str, Mapping[str, Any]]],
               workers: int | None) -> Iterator[tuple[str, Any]]:
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed

    # spawn, not fork: a forked child of a process that has started JAX's runtime can deadlock
    context = multiprocessing.get_context("spawn")
    size = min(workers or os.cpu_count() or 1, len(cells))
    pool = ProcessPoolExecutor(max_workers=size, mp_context=context)
    futures = {pool.submit(work, coords): cid for cid, coords in cells}
    finished = False
    try:
        for future in as_completed(futures):
            try:
                outcome = future.result()
            except Exception as err:  # BrokenProcessPool (a worker died: OOM, a signal), pickling
                outcome = err
            yield futures[future], outcome
        finished = True
    finally:
        # on Ctrl-C or a closed generator: start nothing more and do not wait for the cells in flight
        # (their results could not be written anyway); on a normal end, wait for the workers to exit
        pool.shutdown(wait=finished, cancel_futures=True)


def _ray(work: Callable[[Mapping[str, Any]], Any], cells: Sequence[tuple[str, Mapping[str, Any]]],
         workers: int | None, address: str | None) -> Iterator[tuple[str, Any]]:
    try:
        import ray
    except ImportError as err:
        raise InputError("executor 'ray' needs Ray: pip install 'bayesvol[ray]'") from err

    started = False
    if not ray.is_initialized():
        address = address or os.environ.get("RAY_ADDRESS") or None
        with warnings.catch_warnings():
            # Ray starts its services with subprocess (fork + exec at once), which Python flags as a fork
            # of a multithreaded (JAX) process; exec follows at once, so nothing of JAX is inherited
            warnings.filterwarnings("ignore", message=r"os\.fork\(\) was called", category=RuntimeWarning)
            if address:  # a cluster: its own nodes say how many CPUs it has
                ray.init(address=address, include_dashboard=False, log_to_driver=False)
            else:
                ray.init(num_cpus=workers or os.cpu_count() or 1, include_dashboard=False,
                         log_to_driver=False)
        started = True
    try:
        task = ray.remote(num_cpus=1, max_retries=0)(_call)
        refs = {task.remote(work, coords): cid for cid, coords in cells}
        pending = list(refs)
        try:
            while pending:
                ready, pending = ray.wait(pending, num_returns=1)
                for ref in ready:
                    try:
                        outcome = ray.get(ref)
                    except Exception as err:  # RayTaskError, WorkerCrashedError, OutOfMemoryError
                        outcome = err
                    yield refs[ref], outcome
        finally:
            for ref in pending:
                ray.cancel(ref)
    finally:
        if started:
            ray.shutdown()


def _call(work: Callable[[Mapping[str, Any]], Any], coords: Mapping[str, Any]) -> Any:
    return work(coords)
