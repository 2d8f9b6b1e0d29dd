"""Typed parameters with defaults and bounds: a workload's (`--set KEY=VALUE`) and a
strategy's (`--strategy-option KEY=VALUE`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


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
            value = self.type(text)
        except ValueError:
            raise ValueError(f"{self.name} must be {self.type.__name__}, got {text!r}")
        self.check(value)
        return value

    def check(self, value) -> None:
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
