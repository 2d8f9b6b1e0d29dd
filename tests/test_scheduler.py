"""Unit tests of Block-STM's scheduler rules and the multi-version memory."""

import pytest

from simulator.engine.locations import BALANCE, STORAGE
from simulator.engine.mv_memory import NOT_WRITTEN, PRE_BLOCK, EstimateRead, MVMemory
from simulator.abc import Task, TaskKind
from simulator.engine.scheduler import ABORTING, EXECUTED, READY_TO_EXECUTE, Scheduler

A = (STORAGE, b"\x01" * 20, 0)
B = (STORAGE, b"\x01" * 20, 1)
COINBASE = (BALANCE, b"\xc0" * 20)


def drain_executions(scheduler, count):
    return [scheduler.next_task() for _ in range(count)]


def test_tasks_come_in_order_and_validation_first():
    s = Scheduler(3)
    assert drain_executions(s, 2) == [Task(TaskKind.EXECUTION, 0, 0), Task(TaskKind.EXECUTION, 1, 0)]
    assert s.finish_execution(0, 0, wrote_new_location=True) is None
    # validation cursor (0) is below the execution cursor (2): validate first
    assert s.next_task() == Task(TaskKind.VALIDATION, 0, 0)


def test_estimate_suspends_and_resumes_as_next_incarnation():
    s = Scheduler(3)
    drain_executions(s, 3)
    assert s.add_dependency(2, blocking_tx=1)
    assert s.status[2] == ABORTING and s.num_active_tasks == 2
    s.finish_execution(0, 0, True)
    assert s.status[2] == ABORTING  # still waiting on tx 1
    s.finish_execution(1, 0, True)
    assert s.status[2] == READY_TO_EXECUTE and s.incarnation[2] == 1
    assert s.execution_idx == 2  # cursor moved back to the resumed transaction
    tasks = [s.next_task() for _ in range(3)]
    assert Task(TaskKind.EXECUTION, 2, 1) in tasks


def test_dependency_on_finished_transaction_is_refused():
    s = Scheduler(2)
    drain_executions(s, 2)
    s.finish_execution(0, 0, True)
    assert not s.add_dependency(1, blocking_tx=0)
    assert s.status[1] != ABORTING


def test_new_location_forces_revalidation_of_higher_transactions():
    s = Scheduler(4)
    drain_executions(s, 4)
    for tx in range(4):
        s.finish_execution(tx, 0, True)
    for _ in range(4):
        task = s.next_task()
        assert task.kind == TaskKind.VALIDATION
        s.finish_validation(task.tx, aborted=False)
    assert s.validation_idx == 4
    # tx 1 aborts and re-executes, writing a location it did not write before
    assert s.try_validation_abort(1, 0)
    follow_up = s.finish_validation(1, aborted=True)
    assert follow_up == Task(TaskKind.EXECUTION, 1, 1)
    assert s.validation_idx == 2
    s.finish_execution(1, 1, wrote_new_location=True)
    assert s.validation_idx == 1  # 1, 2, 3 must all be validated again


def test_same_locations_only_revalidates_itself():
    s = Scheduler(3)
    drain_executions(s, 3)
    for tx in range(3):
        s.finish_execution(tx, 0, True)
    for _ in range(3):
        s.finish_validation(s.next_task().tx, aborted=False)
    s.try_validation_abort(0, 0)
    s.finish_validation(0, aborted=True)
    assert s.finish_execution(0, 1, wrote_new_location=False) == Task(TaskKind.VALIDATION, 0, 1)


def test_stale_validation_cannot_abort_a_newer_incarnation():
    s = Scheduler(1)
    s.next_task()
    s.finish_execution(0, 0, True)
    assert s.try_validation_abort(0, 0)
    s.finish_validation(0, aborted=True)
    assert not s.try_validation_abort(0, 0)  # incarnation 1 is what counts now


def test_commit_rule_waits_for_every_task():
    s = Scheduler(2)
    drain_executions(s, 2)
    assert s.next_task() is None and not s.done()
    s.finish_execution(0, 0, True)
    s.finish_execution(1, 0, True)
    v0 = s.next_task()
    assert not s.done()
    v1 = s.next_task()
    s.finish_validation(v0.tx, aborted=False)
    assert s.next_task() is None and not s.done()  # v1 still in flight
    s.finish_validation(v1.tx, aborted=False)
    assert s.next_task() is None and s.done()
    assert s.status == [EXECUTED, EXECUTED] and s.num_active_tasks == 0


def test_mv_memory_reads_highest_lower_writer():
    mv = MVMemory(4)
    assert mv.read(A, 3) == (PRE_BLOCK, NOT_WRITTEN, 0)
    mv.record(0, 0, {A: 5}, {})
    mv.record(2, 0, {A: 7}, {})
    assert mv.read(A, 1)[:2] == ((0, 0), 5)
    assert mv.read(A, 3)[:2] == ((2, 0), 7)
    assert mv.read(A, 2)[:2] == ((0, 0), 5)  # never its own entry


def test_mv_memory_estimates_block_readers_and_validation():
    mv = MVMemory(3)
    assert mv.record(0, 0, {A: 1}, {}) is True
    assert mv.record(0, 1, {A: 2}, {}) is False  # same locations
    reads = {A: (0, 1)}
    assert mv.first_invalid_read(reads, 1) is None
    mv.convert_writes_to_estimates(0)
    with pytest.raises(EstimateRead) as hit:
        mv.read(A, 1)
    assert hit.value.blocking_tx == 0 and hit.value.location == A
    assert mv.first_invalid_read(reads, 1) == A
    assert mv.record(0, 2, {B: 3}, {}) is True  # new location; A's entry removed
    assert mv.read(A, 1)[0] is PRE_BLOCK


def test_mv_memory_sums_deltas_down_to_a_full_value():
    mv = MVMemory(5)
    mv.record(0, 0, {COINBASE: 100}, {})
    mv.record(1, 0, {}, {COINBASE: 3})
    mv.record(3, 0, {}, {COINBASE: 4})
    version, base, delta = mv.read(COINBASE, 4)
    assert (base, delta) == (100, 7)
    assert version == ((3, 0), (1, 0), (0, 0))
    mv.record(1, 1, {}, {COINBASE: 3})  # a new incarnation changes the version
    assert mv.first_invalid_read({COINBASE: version}, 4) == COINBASE
