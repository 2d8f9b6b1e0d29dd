"""Which cost model a run uses when none is named: chosen by a rule, not by habit.

The rule: the default is the deterministic cost model (CostModel.DETERMINISTIC) with
the lowest median absolute relative error of its predicted speedups against pevm's
measured ones, over the blocks pevm ran in parallel, in the committed fidelity report
(reports/fidelity/fidelity.json, written by `pevmsim fidelity`); a tie goes to the
higher Spearman rank correlation, then to the name. `best_calibrated` applies the rule
to that report's statistics; DEFAULT_COST_MODEL is the model it picked when the report
was last regenerated (tests/test_fidelity.py fails when the two disagree, so a new
fidelity report that crowns another model makes the default follow it).

Invariant: DEFAULT_COST_MODEL names a registered, deterministic cost model.
"""

from __future__ import annotations

from .cost_model import COST_MODELS

# What best_calibrated(reports/fidelity/fidelity.json) gives; set it when the fidelity
# report is regenerated (on 50 blocks: revm median |error| 10.7%, gas 60.4%; the
# report of issue 22's joint fit with CONTENTION and SHARED_WORK, both fitted to zero).
DEFAULT_COST_MODEL = "revm"

assert COST_MODELS[DEFAULT_COST_MODEL].DETERMINISTIC


def deterministic_models() -> list:
    """The registered cost models whose durations are deterministic, in registry order."""
    return [name for name, model in COST_MODELS.items() if model.DETERMINISTIC]


def best_calibrated(statistics: dict) -> str | None:
    """The rule (see the module docstring) on a fidelity report's `statistics` (model ->
    error_stats); None when no deterministic model has statistics."""
    scored = [(stats["median_abs_relative_error"], -stats["spearman"], name)
              for name, stats in statistics.items()
              if name in COST_MODELS and COST_MODELS[name].DETERMINISTIC]
    return min(scored)[2] if scored else None
