"""Compile Vyper contracts with the `vyper` package, caching the artifacts.

Artifacts (init bytecode, ABI and storage layout) are cached on disk in
$PEVMSIM_CACHE_DIR (default ~/.cache/pevmsim), so a run compiles each contract at most
once per machine. The cache key is the compiler version and the compiler's integrity
sum, a hash over the contract's source and every module it imports (`import lib`,
`from . import lib`, resolved next to the importing file): editing an imported module
recompiles every contract that uses it.

Storage types (`Artifact.types`, what names a storage slot by its source, see
simulator/insight/storage_names.py) are JSON trees taken from the compiler's own type analysis,
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
from vyper.compiler import compile_from_file_input
from vyper.compiler.input_bundle import FileInput, FilesystemInputBundle
from vyper.compiler.phases import CompilerData
from vyper.exceptions import VyperException
from vyper.semantics.types import DArrayT, HashMapT, SArrayT, StructT

CONTRACTS_DIR = Path(__file__).parent
OUTPUTS = ["bytecode", "abi", "layout"]


class ContractNotFound(FileNotFoundError):
    """A contract name or path that names no .vy file (the message lists the places)."""


class CompileError(ValueError):
    """Vyper refused a contract: one line with the file, line and column, and the
    compiler's message (Vyper's own is several lines with a source excerpt)."""


def _compile_error(exc: VyperException, path) -> CompileError:
    node = exc.annotations[0] if exc.annotations else exc
    where = ":".join(str(part) for part in (getattr(node, "lineno", None),
                                            getattr(node, "col_offset", None))
                     if part is not None)
    hint = f" ({exc.hint})" if exc.hint else ""
    return CompileError(f"compiling {path}{':' + where if where else ''}: "
                        f"{type(exc).__name__}: {exc.message}{hint}")


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


def find_contract(contract, search_dirs=()) -> Path:
    """The .vy file a deploy names: a bare name is NAME.vy in `search_dirs` (a plug-in's
    folder) or else among the built-in contracts; a relative path is tried in
    `search_dirs` first, then from the working directory."""
    path = Path(contract)
    if not path.suffix:
        candidates = [Path(d) / f"{path}.vy" for d in (*search_dirs, CONTRACTS_DIR)]
    elif path.is_absolute():
        candidates = [path]
    else:
        candidates = [Path(d) / path for d in search_dirs] + [path]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    raise ContractNotFound(f"contract {contract} not found; looked for "
                           f"{', '.join(map(str, candidates))}")


def _compile(data: CompilerData) -> Artifact:
    """The artifact of a parsed compilation, from the disk cache when its integrity
    sum (source and imports) was compiled before."""
    key = hashlib.sha256(f"vyper {vyper.__version__}\n{data.integrity_sum}".encode())
    path = cache_dir() / f"{key.hexdigest()}.json"
    try:
        cached = json.loads(path.read_text())
        cached["types"]  # entries cached before storage types were kept are recompiled
    except (OSError, ValueError, KeyError):
        out = compile_from_file_input(data.file_input, input_bundle=data.input_bundle,
                                      output_formats=OUTPUTS)
        layout = out["layout"].get("storage_layout", {})
        variables = data.annotated_vyper_module._metadata["type"].variables
        cached = {"bytecode": out["bytecode"], "abi": out["abi"], "layout": layout,
                  "types": {variable: storage_type(variables[variable].typ)
                            for variable, entry in layout.items() if "slot" in entry}}
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(cached))
        tmp.replace(path)
    return Artifact(name=Path(data.file_input.path).stem,
                    bytecode=bytes.fromhex(cached["bytecode"].removeprefix("0x")),
                    abi=tuple(cached["abi"]), layout=cached["layout"],
                    types=cached["types"])


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


def _parse(source: str, path: Path, resolved: Path) -> CompilerData:
    return CompilerData(FileInput(source_id=0, contents=source, path=path,
                                  resolved_path=resolved),
                        FilesystemInputBundle([resolved.parent]))


@lru_cache(maxsize=None)
def compile_source(source: str, name: str = "contract") -> Artifact:
    """Compile Vyper source text (its imports resolve from the working directory)."""
    try:
        return _compile(_parse(source, Path(f"{name}.vy"), Path.cwd() / f"{name}.vy"))
    except VyperException as exc:
        raise _compile_error(exc, f"{name}.vy") from None


def _stamps(paths) -> tuple:
    return tuple((path, hashlib.sha256(path.read_bytes()).digest()) for path in paths)


_compiled: dict = {}  # resolved path -> ((file, SHA-256) of it and its imports, Artifact)


def compile_file(path) -> Artifact:
    """Compile a .vy file (a bare name: a built-in contract, workloads/NAME.vy), its
    imports resolved next to it. Within a process a file whose content and imports'
    contents are unchanged reuses its artifact without parsing it again."""
    path = find_contract(path).resolve()
    known = _compiled.get(path)
    try:
        if known is not None and _stamps(p for p, _ in known[0]) == known[0]:
            return known[1]
    except OSError:  # an imported file went away: recompile, which reports it
        pass
    data = _parse(path.read_text(), path, path)
    try:
        artifact = _compile(data)
        imported = [Path(i.resolved_path) for i in data.resolved_imports.compiler_inputs]
    except VyperException as exc:
        raise _compile_error(exc, exc.resolved_path or path) from None
    _compiled[path] = (_stamps([path] + [p for p in imported if p.is_file()]), artifact)
    return artifact
