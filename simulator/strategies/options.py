"""Strategy options: the tunable parameters of a strategy (predictor accuracy, hint
error rates, rounds, ...), declared by each strategy class as `options` (a tuple of
simulator.params.Param) and passed to its constructor as keyword arguments.
`pevmsim run/compare --strategy-option KEY=VALUE` sets them; every option has a
default, so none is required; a strategy may refuse a combination of them
(`Strategy.check_options`), also as an OptionError.
"""

from __future__ import annotations

from ..params import split_setting


class OptionError(ValueError):
    """A bad option key or value (the message names the valid ones)."""


def parse_options(classes, settings) -> dict:
    """KEY=VALUE settings -> {strategy name: {key: value}} for the given strategy
    classes. Each key goes to every class that declares it; a key that none of them
    declares is an error naming the valid keys."""
    per_strategy: dict = {cls.name: {} for cls in classes}
    for setting in settings:
        try:
            key, text = split_setting(setting, "--strategy-option")
        except ValueError as exc:
            raise OptionError(str(exc)) from None
        takers = [cls for cls in classes if any(o.name == key for o in cls.options)]
        if not takers:
            valid = sorted({o.name for cls in classes for o in cls.options})
            names = ", ".join(cls.name for cls in classes)
            raise OptionError(f"unknown strategy option {key!r} for {names}; "
                              f"valid: {', '.join(valid) or 'none'}")
        for cls in takers:
            option = next(o for o in cls.options if o.name == key)
            try:
                per_strategy[cls.name][key] = option.parse(text)
            except ValueError as exc:
                raise OptionError(f"option {exc}") from None
    for cls in classes:
        try:
            cls.check_options(per_strategy[cls.name])
        except ValueError as exc:
            raise OptionError(f"{cls.name}: {exc}") from None
    return per_strategy
