"""Compile Vyper contracts with the `vyper` package, caching the artifacts.

Artifacts (init bytecode, ABI and storage layout) are cached on disk, keyed by the SHA-256 of the
source and the compiler version, in $PEVMSIM_CACHE_DIR (default ~/.cache/pevmsim), so a
run compiles each contract at most once per machine.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import vyper

CONTRACTS_DIR = Path(__file__).parent


@dataclass(frozen=True)
class Artifact:
    name: str
    bytecode: bytes  # init code
    abi: tuple
    # Storage variable name -> {"type", "n_slots", "slot"} (Vyper's "layout" output).
    layout: dict = field(default_factory=dict, compare=False)


def cache_dir() -> Path:
    default = Path.home() / ".cache" / "pevmsim"
    return Path(os.environ.get("PEVMSIM_CACHE_DIR", default))


def _key(source: str) -> str:
    return hashlib.sha256(f"vyper {vyper.__version__}\n{source}".encode()).hexdigest()


@lru_cache(maxsize=None)
def compile_source(source: str, name: str = "contract") -> Artifact:
    path = cache_dir() / f"{_key(source)}.json"
    try:
        data = json.loads(path.read_text())
        data["layout"]  # entries cached before layouts were kept are recompiled
    except (OSError, ValueError, KeyError):
        out = vyper.compile_code(source, contract_path=f"{name}.vy",
                                 output_formats=["bytecode", "abi", "layout"])
        data = {"bytecode": out["bytecode"], "abi": out["abi"],
                "layout": out["layout"].get("storage_layout", {})}
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(data))
        tmp.replace(path)
    return Artifact(name=name, bytecode=bytes.fromhex(data["bytecode"].removeprefix("0x")),
                    abi=tuple(data["abi"]), layout=data["layout"])


def compile_file(path) -> Artifact:
    """Compile a .vy file; a bare name means workloads/NAME.vy."""
    path = Path(path)
    if not path.suffix:
        path = CONTRACTS_DIR / f"{path}.vy"
    return compile_source(path.read_text(), path.stem)
