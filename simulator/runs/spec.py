"""RunSpec: one value that describes one run of a block.

The command line builds it, `compare` and sweeps vary it (`dataclasses.replace`),
`run_block(block, spec)` takes it, and the summary row and a sweep's configuration
key are derived from it. What is not part of the run's identity (the block, its
labels, a serial result computed earlier, progress bars) is passed beside it.

Invariants: a RunSpec is immutable and hashable (its option mappings are stored as
sorted tuples of pairs, so equal specs compare and hash equal whatever order the
options were given in); `threads` >= 1; `strategy`, `cost_model` and `backend` name
registered entries; `cold_load`, when set, is >= 0 seconds.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Mapping

from .. import debug
from ..backends import BACKENDS
from ..costs.cost_model import COST_MODELS
from ..strategies import STRATEGIES


def _frozen(options) -> tuple:
    """A mapping (or pairs) as a sorted tuple of (key, value) pairs."""
    return tuple(sorted(dict(options or {}).items()))


@dataclass(frozen=True)
class RunSpec:
    strategy: str = "block-stm"
    threads: int = 8
    cost_model: str = "gas"
    lazy_beneficiary: bool = True  # the coinbase credited as a commutative delta
    backend: str = "simulated"
    strategy_options: tuple = field(default=())  # the strategy's keyword options
    deep_check: bool = False  # also compare each transaction's writes with serial's
    cold_load: float | None = None  # seconds; overrides the cost model's COLD_LOAD
    backend_options: tuple = field(default=())  # processes: timeout, jitter, seed, pipeline
    serial_repeats: int = 3  # processes backend: serial timings, the median counts
    lazy_transfers: bool = False  # raw transfers as deltas (pevm's)
    cost_constants: tuple = field(default=())  # the cost model's constants overridden,
    # e.g. by a k-fold's refit (harness/fidelity.py): (name, seconds or factor) pairs
    reuse: bool = True  # executions proven identical to an earlier one of the block are
    # not run again (engine/reuse.py); never on runs timed for real (`reuses`)

    def __post_init__(self) -> None:
        object.__setattr__(self, "strategy_options", _frozen(self.strategy_options))
        object.__setattr__(self, "backend_options", _frozen(self.backend_options))
        object.__setattr__(self, "cost_constants", _frozen(self.cost_constants))
        if debug.ENABLED:
            debug.check(self.strategy in STRATEGIES and self.cost_model in COST_MODELS
                        and self.backend in BACKENDS, lambda: f"unregistered name in {self}")
            debug.check(self.threads >= 1 and (self.cold_load is None or self.cold_load >= 0),
                        lambda: f"threads or cold_load out of range in {self}")

    @property
    def options(self) -> dict:
        """The strategy's keyword options."""
        return dict(self.strategy_options)

    @property
    def backend_kwargs(self) -> dict:
        """The backend's keyword options."""
        return dict(self.backend_options)

    def key(self) -> str:
        """This run's part of a sweep configuration's stable key; the backend, the
        overridden cost constants and the strategy options are named only when set, so
        older keys still hold; `reuse` is not named (it changes no figure but host
        times)."""
        return (f"{self.strategy} threads={self.threads} {self.cost_model}"
                f" lazy={'yes' if self.lazy_beneficiary else 'no'}"
                + ("" if self.backend == "simulated" else f" backend={self.backend}")
                + "".join(f" {name}={value!r}" for name, value in self.cost_constants)
                + (f" {options_text(self.options)}" if self.strategy_options else ""))

    @property
    def reuses(self) -> bool:
        """Whether this run reuses executions: asked to, and nothing of it is timed
        for real (the measured cost model prices py-evm CPU time, the processes
        backend real work)."""
        return (self.reuse and self.backend == "simulated"
                and self.cost_model != "measured")

    def with_options(self, options: Mapping | None) -> "RunSpec":
        """The same run with these strategy options."""
        return replace(self, strategy_options=_frozen(options))


def options_text(options: Mapping) -> str:
    """'relaxed_merge=1 fibers=32': strategy options as a key or a label writes them."""
    return " ".join(f"{name}={value}" for name, value in sorted(options.items()))


def grid(strategies, threads, base: RunSpec = RunSpec(), options: Mapping | None = None) -> list:
    """The RunSpecs of `base` for every strategy (outermost) at every thread count
    (`threads`: a count or a list); `options` maps a strategy to its options."""
    counts = [threads] if isinstance(threads, int) else list(threads)
    return [replace(base, strategy=name, threads=count).with_options((options or {}).get(name))
            for name in strategies for count in counts]
