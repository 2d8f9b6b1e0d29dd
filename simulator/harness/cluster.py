"""Where a sweep's block settings run: in this process, on a Dask LocalCluster of
worker processes on this machine, or on an existing Dask cluster (dask.distributed).

    with executor(jobs, scheduler, progress, tasks) as run:
        for task, runs, error in run(function, tasks, *args): ...

`function(task.block, task.configs, *args)` is a generator of one block setting's
runs (sweep.setting_runs). With `jobs=1` and no scheduler it runs in this process
and each run is yielded as soon as it finishes, so an interrupted sweep keeps it.
Otherwise each task is one Dask task (the block is built and run serially once, on
one worker), submitted largest first (Dask priority: txs x runs). A worker sends each
run to the client as it finishes, as a Dask event (Worker.log_event, received through
Client.subscribe_topic), so progress and results advance run by run; when the task
completes, its result (all its runs again) or its error is yielded too. A task that
raised, or whose worker died more often than Dask's
`distributed.scheduler.allowed-failures` (Dask reruns it on another worker until
then), comes back as its error; the sweep goes on.

Invariants: only the client sees results (workers send runs, never write files);
each task's runs are all yielded (a run may be yielded twice: streamed, then in the
task's result, or again by a rerun; the caller keeps the first of each key), and
each task ends with its result or its error exactly once; a LocalCluster started here
is closed on the way out, interrupted or not.
"""

from __future__ import annotations

import pickle
import queue
import uuid
import warnings
from contextlib import contextmanager
from dataclasses import dataclass

from ..environment import usable_cores
from .suite import BlockSpec

CONNECT_TIMEOUT = "5s"  # how long --scheduler ADDRESS may take to answer
DASHBOARD = ":8787"  # Dask's usual port; Dask picks a free one when it is taken
POLL_S = 0.2  # how often the client looks for runs that workers sent


class ClusterError(Exception):
    """The Dask cluster cannot be reached or started (one line: why)."""


@dataclass(frozen=True)
class Task:
    """One block setting and the configurations still to run on it."""
    block: BlockSpec
    configs: tuple


def default_jobs() -> int:
    """Every core this process may use."""
    return usable_cores()


@contextmanager
def executor(jobs: int, scheduler: str | None, progress, tasks: int):
    """A `run(function, tasks, *args)` for `tasks` settings: in this process, on a
    LocalCluster of min(jobs, tasks) worker processes, or on `scheduler`'s cluster."""
    if scheduler is None and (jobs == 1 or tasks <= 1):
        yield _in_process
        return
    with _client(min(jobs, tasks), scheduler) as client:
        workers = len(client.scheduler_info()["workers"])
        services = client.scheduler_info().get("services", {})
        where = f"Dask scheduler {scheduler}" if scheduler else "a local Dask cluster"
        dashboard = (f"; dashboard at {client.dashboard_link}" if "dashboard" in services
                     else "")
        progress.info(f"running on {where}, {workers} workers{dashboard}")
        if not workers:
            progress.warn(f"the Dask scheduler {scheduler} has no workers yet; the "
                          "sweep waits for one (start one with `dask worker "
                          f"{scheduler}`)")
        yield lambda function, items, *args: _on_dask(client, function, items, args)


def _in_process(function, tasks, *args):
    for task in tasks:
        try:
            for item in function(task.block, task.configs, *args):
                yield task, [item], None
        except Exception as exc:  # the rest of this task failed; the sweep goes on
            yield task, [], exc


def _on_dask(client, function, tasks, args):
    """Each task's runs as its worker sends them (a Dask event per run, so progress
    and results.jsonl advance run by run), then its whole result or error when it
    completes (which repeats the streamed runs: the caller keeps the first of each)."""
    from distributed import wait

    topic = f"pevmsim-sweep-{uuid.uuid4().hex}"
    arrived: queue.Queue = queue.Queue()
    client.subscribe_topic(topic, lambda event: arrived.put(event[1]))
    futures = {client.submit(block_setting, topic, index, function, task.block,
                             task.configs, *args, pure=False,
                             priority=task.block.txs * len(task.configs)): task
               for index, task in enumerate(tasks)}
    try:
        while futures:
            try:
                done = wait(list(futures), timeout=POLL_S, return_when="FIRST_COMPLETED").done
            except TimeoutError:
                done = ()
            while not arrived.empty():
                index, item = pickle.loads(arrived.get())
                yield tasks[index], [item], None
            for future in done:
                task = futures.pop(future)
                if future.status == "finished":
                    yield task, future.result(), None
                elif future.status == "cancelled":
                    yield task, [], ClusterError("the task was cancelled (the Dask "
                                                 "scheduler went away?)")
                else:  # an exception in the task, or KilledWorker
                    yield task, [], future.exception()
                future.release()
    finally:
        client.unsubscribe_topic(topic)


def block_setting(topic: str, index: int, function, block, configs, *args) -> list:
    """The Dask task: every run of one block setting, each also sent to the client
    as soon as it finishes."""
    from distributed import get_worker

    worker = get_worker()
    runs = []
    for item in function(block, configs, *args):
        worker.log_event(topic, pickle.dumps((index, item)))
        runs.append(item)
    return runs


@contextmanager
def _client(jobs: int, scheduler: str | None):
    from distributed import Client, LocalCluster

    if scheduler is not None:
        try:
            client = Client(scheduler, timeout=CONNECT_TIMEOUT)
        except (OSError, ValueError, TypeError) as exc:
            reason = " ".join(str(exc).split()) or type(exc).__name__
            raise ClusterError(f"cannot reach the Dask scheduler at {scheduler!r}: "
                               f"{reason}") from None
        with client:
            yield client
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "port 8787 in use, using ..."
        cluster = LocalCluster(n_workers=jobs, threads_per_worker=1, processes=True,
                               dashboard_address=DASHBOARD)
    with cluster, Client(cluster) as client:
        yield client
