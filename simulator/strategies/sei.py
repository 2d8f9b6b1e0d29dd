"""Strategy `sei`: Sei v2's optimistic concurrency control, as its releases run it.

Source (version `v0.3`, the default): sei-protocol/sei-cosmos `tasks/scheduler.go`
(ProcessAll, shouldRerun, validateAll, executeAll, executeTask) and
`store/multiversion/store.go` (checkReadsetAtIndex) at release v0.3.66 (commit
a633e3ac6471, 2025-08-11; the same rules since v0.3.0), which is the code sei-chain
runs today as `sei-cosmos/tasks/scheduler.go` (sei-chain v6.6.2, 3e7d5ddeb064); the EVM
rules from sei-chain v6.6.2 `x/evm/state/utils.go` (GetCoinbaseAddress) and `app/app.go`
(shouldProcessSingleRecipientEVMTransfersSynchronously, sei-chain #3405).

Protocol (v0.3):
- Statuses: PENDING, EXECUTED, ABORTED (the execution read an ESTIMATE), VALIDATED and
  WAITING (failed validation while a transaction it depends on is not VALIDATED). Each
  transaction accumulates dependencies (never cleared within the block).
- Rounds, until every transaction is VALIDATED:
  1. executeAll (a barrier): the round's batch executes on the workers, lowest index
     first, each against the memory as it stands when it starts; nothing is validated
     meanwhile. An execution that reads an ESTIMATE aborts: ABORTED, the blocking
     transaction joins its dependencies, and the locations it had written so far
     replace its write set, as ESTIMATEs (sei-cosmos #455). Otherwise its writes
     replace its write set and it is EXECUTED.
  2. validateAll: every transaction from the first non-VALIDATED one to the end, in
     parallel: PENDING and ABORTED ones rerun; WAITING ones rerun once all their
     dependencies are VALIDATED; EXECUTED and VALIDATED ones are validated BY VALUE
     (base.validate_values): a read whose value changed makes it invalid (its writes
     become ESTIMATEs, the writers of the new values join its dependencies; it reruns
     if they are all VALIDATED, else WAITING); a read that meets an ESTIMATE is only a
     conflict: "valid with conflicts" leaves the transaction as it is; valid without
     conflicts: VALIDATED. The reruns form the next round's batch.
  No transaction is reset because of its predecessor, and no write set is predicted:
  PrefillEstimates is commented out in every release (v0.3.0 to v0.3.66).
- `rounds` (default 10, sei-cosmos's maximumIterations) caps the rounds: the next one
  is synchronous, every transaction from the first non-VALIDATED one re-executes in
  order on one worker, then each is validated in order.
- Workers: sei-cosmos runs min(configured workers, transactions) execution goroutines
  and one validation goroutine per transaction; here both share the run's `--threads`
  workers (the cores are shared either way), validations served first. Sei's default
  (sei-chain #2423, config.go) is max(10, min(2 x NumCPU, 128)).
- The coinbase: sei-chain gives every transaction a coinbase of its own
  (GetCoinbaseAddress(txIdx)), so fee credits never conflict: what the run's lazy
  beneficiary (the default: fee credits as deltas) models. With the eager beneficiary
  the run asks every strategy alike for a read-modify-write credit of one coinbase.
- `one_recipient_rule` (default 1, sei-chain #3405): a block of 64 or more
  transactions that are all plain value transfers (a recipient, no data, value > 0)
  to one recipient runs sequentially (ProcessTxsSynchronousV2): the serial strategy.
- Not modelled: Sei Giga's executor (a separate path behind GigaExecutorEnabled);
  prioritized transactions (removed in sei-chain #2959).

Historical mode `version=occ-dev-2023`: the scheduler of sei-cosmos's development
branch between PR #362 (2023-11-29) and PR #437 (2024-02-15), tagged only as
pre-releases (v0.2.73-evm-rebase-occ and its -occ-4/-occ-5): pevmsim's `sei` before
it followed the releases, kept to reproduce its figures. It differs from v0.3 in:
- a predictor guesses each write set from the transaction's type (target contract and
  4-byte selector, prepass.transaction_type), stood in by the true write sets of the
  serial pre-pass: with probability `accuracy` (default 0.9; seeded by `seed`) the
  transaction's own, otherwise another same-type transaction's (none without a
  sibling); each predicted location is pre-filled as an ESTIMATE (PrefillEstimates);
- during executeAll each transaction is validated as soon as it has executed and the
  one just below it in the batch has been validated (waitOnPreviousAndValidate); if
  that one did not end up VALIDATED this one is reset to PENDING unvalidated (the
  cascade; `cascade=0` is the what-if without it); an ABORTED one is PENDING;
- validation is by version (as pevmsim modelled it), an ESTIMATE read is a failure,
  an aborted execution leaves its write set untouched, and there is no cap on rounds unless `rounds` sets one (its sequential tail
  marks each execution VALIDATED without validating it);
- pevmsim's one addition, for correctness: validateAll also starts no later than just
  above the lowest transaction whose writes changed since the previous pass began
  (with in-order validation during executeAll a transaction can pass before a lower
  one fails; the released barrier makes this impossible).

Invariants: a VALIDATED transaction's reads were valid (no value changed, no ESTIMATE
met) at its last validation; when every transaction is VALIDATED at the end of a
validateAll pass, no pass has changed the memory since (an invalidation makes its
transaction non-VALIDATED), every read is the value of the final writes below it, so
the write sets are the serial ones. At most `rounds` rounds precede the synchronous one.
"""

from __future__ import annotations

import random
from collections import defaultdict, deque
from enum import Enum, StrEnum

from .. import debug
from ..abc import EventKind, Task, TaskKind, TaskRun
from ..engine.mv_memory import EstimateRead, version_writers
from ..params import Param
from .prepass import serial_prepass, transaction_type, written_locations
from .serial import FallsBackToSerial

MAXIMUM_ITERATIONS = 10  # sei-cosmos tasks/scheduler.go, maximumIterations
DEFAULT_WORKERS = max(10, min(2 * 16, 128))  # sei-chain #2423 on a 16-core validator
MIN_SINGLE_RECIPIENT_TRANSFERS = 64  # sei-chain app/app.go, #3405
DEV_DEFAULTS = {"accuracy": 0.9, "seed": 0, "cascade": 1}  # occ-dev-2023's options


class SeiVersion(StrEnum):
    RELEASED = "v0.3"  # sei-cosmos v0.3.x, sei-chain's sei-cosmos/tasks today
    OCC_DEV_2023 = "occ-dev-2023"  # the development branch, PR #362 to #437


class Status(Enum):
    PENDING = "pending"
    EXECUTED = "executed"
    ABORTED = "aborted"
    VALIDATED = "validated"
    WAITING = "waiting"


class Phase(Enum):
    EXECUTE_ALL = "executeAll"
    VALIDATE_ALL = "validateAll"
    SEQUENTIAL = "sequential"


def predict_writes(env, prepass, accuracy: float, rng: random.Random) -> list:
    """Each transaction's predicted write locations (occ-dev-2023, module docstring)."""
    siblings = defaultdict(list)
    for tx in range(len(prepass)):
        siblings[transaction_type(env, tx)].append(tx)
    predictions = []
    for tx, incarnation in enumerate(prepass):
        if rng.random() < accuracy:
            predictions.append(written_locations(incarnation))
            continue
        others = [other for other in siblings[transaction_type(env, tx)] if other != tx]
        predictions.append(written_locations(prepass[rng.choice(others)]) if others
                           else frozenset())
    return predictions


def single_recipient_transfers(transactions) -> bool:
    """sei-chain's rule (#3405): 64 or more transactions, every one a plain value
    transfer (a recipient, no data, a positive value), all to one recipient."""
    if len(transactions) < MIN_SINGLE_RECIPIENT_TRANSFERS:
        return False
    recipients = {bytes(tx.to) if tx.to else None for tx in transactions}
    return (len(recipients) == 1 and None not in recipients
            and all(not tx.data and tx.value > 0 for tx in transactions))


class Sei(FallsBackToSerial):
    name = "sei"
    shipped_threads = DEFAULT_WORKERS
    description = "Sei v2 OCC (sei-cosmos v0.3): barrier rounds, validation by value"
    options = (
        Param("version", SeiVersion.RELEASED, "v0.3 (released sei-cosmos, sei-chain "
              "today) or occ-dev-2023 (the 2023 development branch: predicted "
              "estimates, in-order validation, the cascade)", SeiVersion),
        Param("rounds", None, "cap on rounds before the synchronous one (0: none; "
              "default 10, sei-cosmos's maximumIterations; occ-dev-2023: none)", int, 0),
        Param("one_recipient_rule", None, "v0.3: 1 (default), a block of 64+ plain "
              "transfers to one recipient runs sequentially (sei-chain #3405); 0: off",
              int, 0, 1),
        Param("accuracy", None, "occ-dev-2023: chance that a transaction's write set is "
              "predicted right (default 0.9)", float, 0.0, 1.0),
        Param("seed", None, "occ-dev-2023: seed of the predictor (default 0)", int),
        Param("cascade", None, "occ-dev-2023: 1 (default), a transaction whose "
              "predecessor in the batch failed validation is reset unvalidated; 0: "
              "validated anyway", int, 0, 1),
    )

    @classmethod
    def check_options(cls, options: dict) -> None:
        version = SeiVersion(options.get("version", SeiVersion.RELEASED))
        if version == SeiVersion.RELEASED:
            given = sorted(key for key in DEV_DEFAULTS if options.get(key) is not None)
            if given:
                raise ValueError(f"option {given[0]} applies to version=occ-dev-2023 only")
        elif options.get("one_recipient_rule") is not None:
            raise ValueError("option one_recipient_rule applies to version=v0.3 only")

    def __init__(self, env, cost_model, metrics, version=SeiVersion.RELEASED, rounds=None,
                 one_recipient_rule=None, **historical) -> None:
        """`historical`: occ-dev-2023's options (accuracy, seed, cascade)."""
        unknown = sorted(set(historical) - set(DEV_DEFAULTS))
        if unknown:
            raise TypeError(f"unexpected option {unknown[0]!r}")
        self.check_options({"version": version, "one_recipient_rule": one_recipient_rule,
                            **historical})
        self.dev = SeiVersion(version) == SeiVersion.OCC_DEV_2023
        super().__init__(env, cost_model, metrics)
        dev = {key: default if historical.get(key) is None else historical[key]
               for key, default in DEV_DEFAULTS.items()}
        if self.dev:
            self._prefill(dev["accuracy"], dev["seed"])
        self.max_rounds = (0 if self.dev else MAXIMUM_ITERATIONS) if rounds is None else rounds
        self.cascade = self.dev and bool(dev["cascade"])
        self.round = 0
        self.status = [Status.PENDING] * self.size
        self.waiting_on: list = [()] * self.size  # occ-dev-2023: the latest conflicts
        self.dependencies: list = [set() for _ in range(self.size)]  # v0.3, accumulated
        self.incarnation = [0] * self.size
        self.latest: list = [None] * self.size  # each one's latest complete execution
        self.finished = self.size == 0
        self._changed = self.size  # the lowest tx whose writes changed since the last pass
        self._running: dict = {}  # worker -> execution result or validation verdict
        self._in_flight = 0
        self._rerun: list = []  # v0.3: the current pass's transactions to re-execute
        self.synchronous = False  # the round after the cap: one task at a time
        if (not self.dev and (one_recipient_rule is None or one_recipient_rule)
                and single_recipient_transfers(env.transactions)):
            self.shared_queue = False  # one worker, block order: no queue to contend
            self._fall_back(cost_model)
        else:
            self._start_round(list(range(self.size)))

    def _prefill(self, accuracy: float, seed: int) -> None:
        """occ-dev-2023: the predicted write sets, as ESTIMATEs."""
        predictions = predict_writes(self.env, serial_prepass(self.env), accuracy,
                                     random.Random(f"sei:{seed}"))
        for tx, locations in enumerate(predictions):
            if locations:
                self._write_estimates(tx, 0, locations)

    def _write_estimates(self, tx: int, incarnation: int, locations) -> None:
        """`tx`'s write set becomes ESTIMATEs of exactly these locations."""
        self.mv.record(tx, incarnation, dict.fromkeys(sorted(locations, key=repr)), {})
        self.mv.convert_writes_to_estimates(tx)

    # -- rounds ------------------------------------------------------------------------
    def _start_round(self, batch: list) -> None:
        self.round += 1
        if debug.ENABLED:
            debug.check(not self.max_rounds or self.round <= self.max_rounds + 1,
                        lambda: f"round {self.round} after the synchronous one")
        if self.max_rounds and self.round > self.max_rounds:
            self.phase = Phase.SEQUENTIAL
            self.synchronous = True
            batch = list(range(self._first_unvalidated(), self.size))
        else:
            self.phase = Phase.EXECUTE_ALL
        self._batch = batch
        self._in_batch = set(batch)
        self._executions = deque(batch)
        self._validations: deque = deque()
        self._executed: set = set()
        self._chain = 0  # occ-dev-2023: the batch position of the next in-order validation
        self._chain_busy = False

    def _first_unvalidated(self) -> int:
        return next((tx for tx in range(self.size) if self.status[tx] != Status.VALIDATED),
                    self.size)

    def _done(self) -> bool:
        return self.finished

    # -- handing out tasks -----------------------------------------------------------------
    def _next_task(self) -> Task | None:
        while not self.finished:
            if self.synchronous and self._in_flight:
                return None  # one at a time
            tx = self._next_validation()
            if tx is not None:
                kind = TaskKind.VALIDATION
            elif self._executions:
                kind, tx = TaskKind.EXECUTION, self._executions.popleft()
            elif self._in_flight:
                return None
            else:  # v0.3: the pass's last decisions needed no task
                self._end_phase()
                continue
            self._in_flight += 1
            return Task(kind, tx, self.incarnation[tx])
        return None

    def _next_validation(self) -> int | None:
        """The next transaction of the pass to validate; v0.3 decides inline, as the
        pass reaches them, those that need no validation (shouldRerun)."""
        while self._validations:
            tx = self._validations.popleft()
            status = self.status[tx]
            if self.dev or status in (Status.EXECUTED, Status.VALIDATED):
                return tx
            if status != Status.WAITING or self._all_validated(self.dependencies[tx]):
                self._rerun.append(tx)
        return None

    def _start(self, worker: int, task: Task) -> TaskRun:
        if task.kind == TaskKind.EXECUTION:
            result, kind = yield from self.execute(task.tx, task.incarnation)
            self._running[worker] = result
            return self.cost_model.execution(result), kind
        if self.dev:
            verdict, duration = self._find_conflicts(task.tx)
            failed = verdict != Status.VALIDATED
        else:
            verdict = self.validate_values(task.tx, self.latest[task.tx])
            duration, failed = verdict.duration, bool(verdict.stale)
            if debug.ENABLED and self.synchronous:
                debug.check(not failed and not verdict.estimates,
                            lambda: f"tx {task.tx}: stale after the synchronous round")
        self._running[worker] = verdict
        return duration, EventKind.FAILED_VALIDATION if failed else EventKind.VALIDATION

    def _find_conflicts(self, tx: int) -> tuple:
        """occ-dev-2023: validate tx's latest execution by version: (its new status,
        the validation's cost)."""
        reads = self.latest[tx].reads
        stale, duration = self.validate(tx, reads)
        if stale is None:
            return Status.VALIDATED, duration
        conflicts = set()
        for location, version in reads.items():
            try:
                current = self.mv.read(location, tx)[0]
            except EstimateRead as hit:
                conflicts.add(hit.blocking_tx)
                continue
            if current != version:
                conflicts.update(version_writers(current))
        self.waiting_on[tx] = tuple(sorted(conflicts))
        return (Status.PENDING if self._all_validated(conflicts) else Status.WAITING), duration

    def _all_validated(self, transactions) -> bool:
        return all(self.status[tx] == Status.VALIDATED for tx in transactions)

    # -- finishing tasks ---------------------------------------------------------------------
    def _finish(self, worker: int, task: Task) -> Task | None:
        result = self._running.pop(worker)
        self._in_flight -= 1
        if task.kind == TaskKind.EXECUTION:
            self._finish_execution(task.tx, result)
        elif self.dev:
            if result != Status.VALIDATED:
                self.mv.convert_writes_to_estimates(task.tx)  # invalidateTask
                self._changed = min(self._changed, task.tx)
            self.status[task.tx] = result
            if self.phase == Phase.EXECUTE_ALL:
                self._chain_busy = False
                self._chain += 1
        else:
            self._finish_validation(task.tx, result)
        if self.dev and self.phase == Phase.EXECUTE_ALL:
            self._advance_chain()
        if not (self._in_flight or self._executions or self._validations):
            self._end_phase()
        return None

    def _finish_validation(self, tx: int, check) -> None:
        """v0.3's shouldRerun for an EXECUTED or VALIDATED transaction."""
        if check.stale:
            self.mv.convert_writes_to_estimates(tx)  # invalidateTask
            self.dependencies[tx] |= check.writers | check.estimates
            if self._all_validated(self.dependencies[tx]):
                self._rerun.append(tx)
            else:
                self.status[tx] = Status.WAITING
        elif not check.estimates:
            self.status[tx] = Status.VALIDATED
        # valid with conflicts: left as it is, validated again next pass

    def _finish_execution(self, tx: int, result) -> None:
        self.incarnation[tx] += 1
        if result.blocked_on is not None:
            self.status[tx] = Status.ABORTED
            if not self.dev:  # its partial write set, as ESTIMATEs (sei-cosmos #455)
                self.dependencies[tx].add(result.blocked_on)
                self._write_estimates(tx, result.incarnation, result.partial_writes)
        else:
            self.mv.record(tx, result.incarnation, result.writes, result.deltas)
            self._changed = min(self._changed, tx)
            self.latest[tx] = result
            self.status[tx] = Status.EXECUTED
        if self.dev and self.phase == Phase.SEQUENTIAL:  # everything below is final
            self.status[tx] = Status.VALIDATED
        self._executed.add(tx)

    def _advance_chain(self) -> None:
        """occ-dev-2023's waitOnPreviousAndValidate: the batch is validated in order,
        each transaction once it has executed and the one just below it, if in the
        batch, has been."""
        batch = self._batch
        while not self._chain_busy and self._chain < len(batch):
            tx = batch[self._chain]
            if tx not in self._executed:
                return
            cascaded = (self.cascade and tx - 1 in self._in_batch
                        and self.status[tx - 1] != Status.VALIDATED)
            if cascaded or self.status[tx] == Status.ABORTED:
                self.status[tx] = Status.PENDING  # the cascade, or an aborted execution
                self._chain += 1
                continue
            self._chain_busy = True
            self._validations.append(tx)

    def _end_phase(self) -> None:
        if self.dev:
            self._end_phase_dev()
        elif self.phase == Phase.VALIDATE_ALL:
            self._end_pass()
        else:  # executeAll (or the synchronous round) is over: validateAll
            self.phase = Phase.VALIDATE_ALL
            self._rerun = []
            self._validations = deque(range(self._first_unvalidated(), self.size))

    def _end_pass(self) -> None:
        """v0.3: validateAll is over: reset the reruns and start the next round."""
        for tx in self._rerun:
            self.status[tx] = Status.PENDING
        if all(status == Status.VALIDATED for status in self.status):
            self.last = list(self.latest)
            self.finished = True
            return
        self._start_round(sorted(self._rerun))

    def _end_phase_dev(self) -> None:
        if self.phase == Phase.EXECUTE_ALL:  # then validateAll
            self.phase = Phase.VALIDATE_ALL
            start = min(self._first_unvalidated(), self._changed + 1)
            self._changed = self.size
            for tx in range(start, self.size):
                if self.status[tx] in (Status.EXECUTED, Status.VALIDATED):
                    self._validations.append(tx)
            if self._validations:
                return
        rerun = [tx for tx in range(self.size)
                 if self.status[tx] in (Status.PENDING, Status.ABORTED)
                 or (self.status[tx] == Status.WAITING
                     and self._all_validated(self.waiting_on[tx]))]
        if rerun:
            self._start_round(rerun)
            return
        if self.phase != Phase.SEQUENTIAL:
            assert all(status == Status.VALIDATED for status in self.status), self.status
        self.last = list(self.latest)
        self.finished = True
