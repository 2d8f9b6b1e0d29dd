"""Compile Vyper contracts with the `vyper` package, caching the artifacts.

Artifacts (init bytecode, ABI, storage layout and the storage types of its variables)
are cached on disk, keyed by the SHA-256 of the source and the compiler version, in
$PEVMSIM_CACHE_DIR (default ~/.cache/pevmsim), so a run compiles each contract at most
once per machine.

Storage types (`Artifact.types`, what names a storage slot by its source, see
simulator/storage_names.py) are JSON trees taken from the compiler's own type analysis,
with Vyper's slot counts: {"kind": "hashmap", "key": "address", "value": T},
{"kind": "dynarray" | "array", "element": T}, {"kind": "struct", "name": "Listing",
"members": [[name, T], ...]}, or {"kind": "value", "name": "uint256"}; each also has
"n_slots". Variables of imported modules keep the layout's nesting and have no types.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import vyper
from vyper.compiler import CompilerData, outputs_from_compiler_data
from vyper.compiler.input_bundle import FileInput
from vyper.semantics.types import DArrayT, HashMapT, SArrayT, StructT

CONTRACTS_DIR = Path(__file__).parent


@dataclass(frozen=True)
class Artifact:
    name: str
    bytecode: bytes  # init code
    abi: tuple
    # Storage variable name -> {"type", "n_slots", "slot"} (Vyper's "layout" output).
    layout: dict = field(default_factory=dict, compare=False)
    # Storage variable name -> its storage type tree (see the module docstring).
    types: dict = field(default_factory=dict, compare=False)


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
        data["types"]  # entries cached before storage types were kept are recompiled
    except (OSError, ValueError, KeyError):
        path_in = Path(f"{name}.vy")
        compiler = CompilerData(FileInput(source_id=-1, contents=source, path=path_in,
                                          resolved_path=path_in))
        out = outputs_from_compiler_data(compiler, ["bytecode", "abi", "layout"])
        layout = out["layout"].get("storage_layout", {})
        variables = compiler.annotated_vyper_module._metadata["type"].variables
        data = {"bytecode": out["bytecode"], "abi": out["abi"], "layout": layout,
                "types": {variable: storage_type(variables[variable].typ)
                          for variable, entry in layout.items() if "slot" in entry}}
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(data))
        tmp.replace(path)
    return Artifact(name=name, bytecode=bytes.fromhex(data["bytecode"].removeprefix("0x")),
                    abi=tuple(data["abi"]), layout=data["layout"], types=data["types"])


def storage_type(typ) -> dict:
    """A Vyper type as the JSON tree described in the module docstring."""
    tree = {"n_slots": typ.storage_size_in_words}
    if isinstance(typ, HashMapT):
        tree.update(kind="hashmap", key=str(typ.key_type), value=storage_type(typ.value_type))
    elif isinstance(typ, (DArrayT, SArrayT)):
        tree.update(kind="dynarray" if isinstance(typ, DArrayT) else "array",
                    element=storage_type(typ.value_type))
    elif isinstance(typ, StructT):
        tree.update(kind="struct", name=typ._id,
                    members=[[member, storage_type(member_type)]
                             for member, member_type in typ.members.items()])
    else:
        tree.update(kind="value", name=str(typ))
    return tree


def compile_file(path) -> Artifact:
    """Compile a .vy file; a bare name means workloads/NAME.vy."""
    path = Path(path)
    if not path.suffix:
        path = CONTRACTS_DIR / f"{path}.vy"
    return compile_source(path.read_text(), path.stem)
