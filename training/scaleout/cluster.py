"""The Dask cluster a command runs on: an existing scheduler by address, else a `LocalCluster` here.

The address comes from `--scheduler`, else from Dask's own configuration (`DASK_SCHEDULER_ADDRESS` in the
environment, or `scheduler-address` in a Dask config file); without either a `LocalCluster` of worker
processes starts on this machine and stops with the command.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

import dask
from distributed import Client, LocalCluster

SCHEDULER_ENV = "DASK_SCHEDULER_ADDRESS"  # read by dask.config as the "scheduler-address" key


def scheduler_address(given: str | None = None) -> str | None:
    """`given`, else the address Dask's configuration holds, else None (start a local cluster)."""
    return given or dask.config.get("scheduler-address", None)


def local_size(cores: int | None = None) -> tuple[int, int]:
    """(workers, threads per worker) for a local cluster: one single-threaded worker process per core, at
    most four (LightGBM's data-parallel training is one process per worker)."""
    n = max(1, min(cores or os.cpu_count() or 1, 4))
    return n, 1


@contextmanager
def connect(address: str | None = None, workers: int | None = None) -> Iterator[Client]:
    """A client of the scheduler at `address` (see `scheduler_address`), or of a new local cluster with
    `workers` processes (default `local_size`); the local cluster is closed on exit."""
    address = scheduler_address(address)
    if address:
        with Client(address) as client:
            yield client
        return
    n, threads = local_size()
    with (
        LocalCluster(
            n_workers=workers or n,
            threads_per_worker=threads,
            processes=True,
            dashboard_address=":0",  # any free port (None means 8787, and a warning when it is taken)
        ) as cluster,
        Client(cluster) as client,
    ):
        yield client
