"""Typed parameters with defaults and bounds: a workload's (`--set KEY=VALUE`) and a
strategy's (`--strategy-option KEY=VALUE`).

Types: int, float (finite: nan and inf are refused), bool (true/false, 1/0, yes/no,
on/off, any case), str and string enums (one of their values). A default of None
means "decided by another parameter" (the owner's help says how). Invariant: `parse` returns a value of the parameter's type
within its bounds, or raises ValueError naming the parameter.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import Enum
from typing import Any

BOOLEANS = {"true": True, "1": True, "yes": True, "on": True,
            "false": False, "0": False, "no": False, "off": False}


def parse_bool(text: str) -> bool:
    try:
        return BOOLEANS[text.strip().lower()]
    except KeyError:
        raise ValueError(text) from None


@dataclass(frozen=True)
class Param:
    name: str
    default: Any
    help: str
    type: type = int
    min: float | None = None
    max: float | None = None

    def parse(self, text: str):
        try:
            value = parse_bool(text) if self.type is bool else self.type(text)
        except ValueError:
            if self.type is bool:
                kind = "true/false (or 1/0, yes/no, on/off)"
            elif issubclass(self.type, Enum):
                kind = "one of " + ", ".join(member.value for member in self.type)
            else:
                kind = self.type.__name__
            raise ValueError(f"{self.name} must be {kind}, got {text!r}") from None
        self.check(value)
        return value

    def check(self, value) -> None:
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError(f"{self.name} must be a finite number, got {value}")
        if self.min is not None and value < self.min:
            raise ValueError(f"{self.name} must be >= {self.min}, got {value}")
        if self.max is not None and value > self.max:
            raise ValueError(f"{self.name} must be <= {self.max}, got {value}")

    def describe(self) -> dict:
        return {"name": self.name, "type": self.type.__name__, "default": self.default,
                "min": self.min, "max": self.max, "help": self.help}


def split_setting(setting: str, flag: str) -> tuple:
    """'KEY=VALUE' -> (key, text); ValueError naming `flag` when malformed."""
    key, sep, text = setting.partition("=")
    if not sep or not key:
        raise ValueError(f"{flag} takes KEY=VALUE, got {setting!r}")
    return key, text
