"""The `simulated` backend: N virtual workers in virtual time (a discrete-event
simulation).

Each worker runs one task at a time. When a worker starts a task at virtual time t the
strategy executes it for real, against memory as it stands at t, and the task ends at
t + its cost-model duration, when its effects become visible. Events are processed in
(end time, start order) order and idle workers are offered work in worker order, so a
run is deterministic whenever its durations are.
"""

from __future__ import annotations

import heapq

from ..abc import Backend, Strategy


class SimulatedBackend(Backend):
    name = "simulated"

    def run(self, strategy: Strategy, threads: int, metrics, progress=None) -> float:
        strategy.prepare(threads)
        in_flight: list = []  # (end, sequence, worker, task, start, kind)
        idle = list(range(threads))
        now = 0.0
        sequence = 0

        def begin(worker, task):
            nonlocal sequence
            duration, kind = strategy.start(worker, task)
            heapq.heappush(in_flight, (now + duration, sequence, worker, task, now, kind))
            sequence += 1

        while True:
            still_idle = []
            for worker in idle:
                task = None if strategy.done() else strategy.next_task()
                if task is None:
                    still_idle.append(worker)
                else:
                    begin(worker, task)
            idle = still_idle
            if not in_flight:
                if strategy.done():
                    return now
                raise RuntimeError(f"{strategy.name}: no task in flight, none to start, "
                                   "and the block is not done")
            end, _, worker, task, start, kind = heapq.heappop(in_flight)
            now = end
            metrics.event(worker, kind, task.tx, task.incarnation, start, end)
            if progress is not None and kind == "execution":
                progress.update(1)  # a transaction's first incarnation is done
            follow_up = strategy.finish(worker, task)
            if follow_up is not None:
                begin(worker, follow_up)
            else:
                idle.append(worker)
                idle.sort()


BACKENDS = {SimulatedBackend.name: SimulatedBackend}
