"""The `simulated` backend: N virtual workers in virtual time (a discrete-event
simulation).

Each worker runs one task at a time. When a worker starts a task at virtual time t the
strategy runs it, and every execution it requests is performed at once, for real, in
this process, against memory as it stands at t; the task ends at t + its cost-model
duration, when its effects become visible. A task a worker takes
from the strategy's shared queue or cursors (`next_task`) also pays the cost model's
SCHEDULE (unless the strategy has no shared queue: `serial`); a follow-up task that a
finishing task hands its own worker does not.

Timing semantics: every task that ends at the same virtual instant is finished
(its effects applied, in start order) before any follow-up begins and before idle
workers are offered work, in worker order. So a run is deterministic whenever its
durations are, and no task starts against a memory that lacks an effect of its own
instant.
"""

from __future__ import annotations

import heapq

from ..abc import Backend, EventKind, Execute, Strategy, run_inline


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
        schedule = strategy.cost_model.SCHEDULE if strategy.shared_queue else 0.0
        in_flight: list = []  # (end, sequence, worker, task, start, kind)
        idle = list(range(threads))
        now = 0.0
        sequence = 0
        perform = perform_inline(strategy)

        def begin(worker, task, dispatch: float) -> None:
            nonlocal sequence
            duration, kind = run_inline(strategy.start(worker, task), perform)
            heapq.heappush(in_flight, (now + dispatch + duration, sequence, worker, task,
                                       now, kind))
            sequence += 1

        while True:
            still_idle = []
            for worker in idle:
                task = None if strategy.done() else strategy.next_task()
                if task is None:
                    still_idle.append(worker)
                else:
                    begin(worker, task, schedule)
            idle = still_idle
            if not in_flight:
                if strategy.done():
                    return now
                raise RuntimeError(f"{strategy.name}: no task in flight, none to start, "
                                   "and the block is not done")
            now = in_flight[0][0]
            follow_ups = []
            while in_flight and in_flight[0][0] == now:
                _, _, worker, task, start, kind = heapq.heappop(in_flight)
                metrics.event(worker, kind, task.tx, task.incarnation, start, now)
                if progress is not None and kind == EventKind.EXECUTION:
                    progress.update(1)  # a transaction's first incarnation is done
                follow_up = strategy.finish(worker, task)
                if follow_up is None:
                    idle.append(worker)
                else:
                    follow_ups.append((worker, follow_up))
            for worker, follow_up in follow_ups:
                begin(worker, follow_up, 0.0)
            idle.sort()

