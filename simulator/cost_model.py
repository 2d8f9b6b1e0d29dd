"""Cost models: how long a task takes on a virtual worker, in seconds.

`gas` (deterministic, the default): an execution costs
    EXECUTION_TASK + gas_used * PER_GAS + reads * PER_READ + writes * PER_WRITE
and a validation costs
    VALIDATION_TASK + reads * PER_VALIDATED_READ.
The constants model a native in-memory EVM (revm-class, about 1 gas per nanosecond on
one core) with a scheduler whose task dispatch costs about a microsecond; multi-version
reads and writes cost tens of nanoseconds. An execution cut short by an ESTIMATE, or
rejected as invalid, has no gas figure: it is charged the task cost plus its reads so
far, a lower bound on the work it wasted. Same inputs give bit-identical durations.

`measured`: an execution costs the CPU time (process time) that very py-evm incarnation
took, and a validation the CPU time its re-reads took. Real, but noisy and
machine-dependent.

Re-execution: strategies that model a warm cache (`monad`, and the `oracle` so that it
stays an upper bound) charge a re-execution REEXECUTION_FACTOR times the execution
cost above: the transaction's state was loaded and its sender recovered by the first
execution. Both models carry the factor; strategies take it as their
`reexecution_factor` option, defaulting to the model's.

A strategy's serial baseline is the sum of the execution costs of each transaction's
final incarnation under the same model: what one worker executing the block in order,
with no scheduling at all, would take.
"""

from __future__ import annotations

NANOSECOND = 1e-9


class GasCostModel:
    name = "gas"
    EXECUTION_TASK = 1000 * NANOSECOND
    PER_GAS = 1 * NANOSECOND
    PER_READ = 50 * NANOSECOND
    PER_WRITE = 50 * NANOSECOND
    VALIDATION_TASK = 200 * NANOSECOND
    PER_VALIDATED_READ = 20 * NANOSECOND
    REEXECUTION_FACTOR = 0.5

    def execution(self, incarnation) -> float:
        gas = incarnation.gas
        writes = len(incarnation.writes) + len(incarnation.deltas)
        return (self.EXECUTION_TASK + gas * self.PER_GAS
                + len(incarnation.reads) * self.PER_READ + writes * self.PER_WRITE)

    def validation(self, reads: int, measured_seconds: float) -> float:
        return self.VALIDATION_TASK + reads * self.PER_VALIDATED_READ

    def constants(self) -> dict:
        return {name: getattr(self, name) for name in (
            "EXECUTION_TASK", "PER_GAS", "PER_READ", "PER_WRITE",
            "VALIDATION_TASK", "PER_VALIDATED_READ", "REEXECUTION_FACTOR")}


class MeasuredCostModel:
    name = "measured"
    REEXECUTION_FACTOR = GasCostModel.REEXECUTION_FACTOR

    def execution(self, incarnation) -> float:
        return incarnation.cpu_time

    def validation(self, reads: int, measured_seconds: float) -> float:
        return measured_seconds

    def constants(self) -> dict:
        return {"REEXECUTION_FACTOR": self.REEXECUTION_FACTOR}


COST_MODELS = {model.name: model for model in (GasCostModel, MeasuredCostModel)}
