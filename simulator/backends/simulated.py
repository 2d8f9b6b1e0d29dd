"""The `simulated` backend: N virtual workers in virtual time (a discrete-event
simulation).

Each worker runs one task at a time. When a worker starts a task at virtual time t the
strategy runs it, and every execution it requests is performed at once, for real, in
this process, against memory as it stands at t. The task's duration is the cost
model's `Cost` (abc.py): its `work` runs on the worker from t; then the task holds the
run's one serialized resource for its `shared` seconds, and its effects become visible
when it releases it. The resource serves tasks one at a time, in the order their work
ends (ties: start order), so a task whose work ends while another holds it waits, on
its worker: throughput saturates at the resource's rate whatever the number of
workers, and wasted work (an aborted execution's scheduling and inserts) delays
everyone.

A task a worker takes from the strategy's shared queue or cursors (`next_task`) also
pays the cost model's SCHEDULE of work, and every task of a strategy with a shared
queue pays its SHARED_TASK of the resource; a follow-up task that a finishing task
hands its own worker pays no SCHEDULE. A strategy with a shared queue also starts its
workers one after another, worker i at i x SPAWN (threads spawned per block), and ends
after the cost model's `tail` of the final incarnations (a sequential pass over the
results once the parallel phase is over). With the cost model's CONTENTION, a task's
work is longer by that share per other task in flight when it starts (workers
sharing memory bandwidth and caches): busy workers, wasted work included, slow
everyone. A strategy without a shared queue (`serial`,
or a sequential fallback) pays none of these.

Yielding reads: a task whose Cost has an `io` part (a strategy with yielding reads,
abc.py) holds no worker for its first `io` seconds: the worker that started it is
offered another task at once; when the reads are back the backend tells the strategy
(`reads_done`) and runs the rest of the task (its work, SCHEDULE if it was taken
from the queue, contention counted then, and its shared part) on the worker that
`next_task` next hands it to. Tasks waiting on reads neither hold a worker nor count
as busy for CONTENTION; a worker's events span only the time it held the task.
Without an `io` part (every other strategy) nothing of this happens.

Timing semantics: every task that ends at the same virtual instant is finished
(its effects applied, in start order) before any follow-up begins and before idle
workers are offered work, in worker order. So a run is deterministic whenever its
durations are, and no task starts against a memory that lacks an effect of its own
instant.

Invariants: the resource is held by one task at a time (each grant starts when the
previous one ends, or later); a task ends exactly its work plus its shared part after
it started on its worker, or later by the time it waited for the resource; a task
with yielded reads starts on a worker no earlier than `io` after it began; no more
tasks wait on yielded reads than the strategy's `reads_in_flight` (asserted under
PEVMSIM_DEBUG).
"""

from __future__ import annotations

import heapq

from .. import debug
from ..abc import Backend, Cost, EventKind, Execute, Strategy, as_cost, run_inline


def perform_inline(strategy: Strategy):
    """Perform a strategy's Execute requests here, against its own memory."""
    def perform(request: Execute):
        return strategy.env.execute(strategy.mv, request.tx, request.incarnation,
                                     request.assume_nonce)
    return perform


class SimulatedBackend(Backend):
    name = "simulated"

    def run(self, strategy: Strategy, threads: int, metrics, progress=None) -> float:
        strategy.prepare(threads)
        model = strategy.cost_model
        # (time, sequence, worker, task, start, kind, shared seconds still to hold); a
        # worker not started yet is an entry without a task, at the time it starts; a
        # task waiting on yielded reads, an entry without a worker (its Cost as the last)
        in_flight: list = []
        resumed: dict = {}  # task -> (Cost left, kind, taken): its yielded reads are back
        idle = list(range(threads))
        if strategy.shared_queue and model.SPAWN > 0:
            idle = [0]
            in_flight = [(worker * model.SPAWN, -worker, worker, None, 0.0, None, 0.0)
                         for worker in range(1, threads)]
            heapq.heapify(in_flight)
        unstarted = len(in_flight)  # the entries of in_flight without a task
        yielded = 0  # the entries of in_flight without a worker
        now = 0.0
        free = 0.0  # when the serialized resource is next free
        sequence = 0
        perform = perform_inline(strategy)

        def begin(worker, task, taken: bool) -> bool:
            """Start `task` on `worker` (or the rest of it, once its yielded reads are
            back); `taken` from the shared queue (not handed over by the worker's
            previous task). False when it yielded the worker for its reads."""
            nonlocal sequence, yielded
            queued = strategy.shared_queue  # read per task: a fallback turns it off
            if task in resumed:
                cost, kind, taken = resumed.pop(task)
            else:
                duration, kind = run_inline(strategy.start(worker, task), perform)
                cost = as_cost(duration)
                if cost.io > 0:  # its reads yield the worker
                    if debug.ENABLED:
                        limit = strategy.reads_in_flight()
                        debug.check(limit is not None and yielded < limit, lambda: (
                            f"{strategy.name}: yielded reads beyond its limit {limit}"))
                    heapq.heappush(in_flight, (now + cost.io, sequence, None, task, now,
                                               (kind, taken), Cost(cost.work, cost.shared)))
                    sequence += 1
                    yielded += 1
                    return False
            work = cost.work
            if queued and model.CONTENTION:  # slower the more workers are busy
                busy = len(in_flight) - unstarted - yielded
                work *= 1.0 + model.CONTENTION * busy
            work += model.SCHEDULE if queued and taken else 0.0
            shared = cost.shared + (model.SHARED_TASK if queued else 0.0)
            heapq.heappush(in_flight, (now + work, sequence, worker, task, now, kind,
                                       shared))
            sequence += 1
            return True

        while True:
            still_idle = []
            for worker in idle:
                while True:  # a task that yields its reads leaves the worker free
                    task = None if strategy.done() else strategy.next_task()
                    if task is None:
                        still_idle.append(worker)
                        break
                    if begin(worker, task, True):
                        break
            idle = still_idle
            if not in_flight or (strategy.done() and len(in_flight) == unstarted):
                if strategy.done():
                    return now + (model.tail(strategy.final_incarnations())
                                  if strategy.shared_queue else 0.0)
                raise RuntimeError(f"{strategy.name}: no task in flight, none to start, "
                                   "and the block is not done")
            now = in_flight[0][0]
            follow_ups = []
            while in_flight and in_flight[0][0] == now:
                _, order, worker, task, start, kind, shared = heapq.heappop(in_flight)
                if task is None:  # a worker starts
                    unstarted -= 1
                    idle.append(worker)
                    continue
                if worker is None:  # its yielded reads are back
                    yielded -= 1
                    resumed[task] = (shared, *kind)
                    metrics.io_wait(task.tx, start, now)
                    strategy.reads_done(task)
                    continue
                if shared > 0:  # its work is done: queue for the resource
                    free = max(now, free) + shared
                    heapq.heappush(in_flight, (free, order, worker, task, start, kind, 0.0))
                    continue
                metrics.event(worker, kind, task.tx, task.incarnation, start, now)
                if progress is not None and kind == EventKind.EXECUTION:
                    progress.update(1)  # a transaction's first incarnation is done
                follow_up = strategy.finish(worker, task)
                if follow_up is None:
                    idle.append(worker)
                else:
                    follow_ups.append((worker, follow_up))
            for worker, follow_up in follow_ups:
                if not begin(worker, follow_up, False):
                    idle.append(worker)
            idle.sort()
