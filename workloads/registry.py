"""The workload registry: built-ins, file plug-ins and installed entry points.

A workload spec is one of:

    "amm"                          a built-in workload (BUILTINS)
    "path/to/file.py:ClassName"    a Workload subclass in a Python file (file plug-in;
                                   its folder is importable, as for a script)
    "voting"                       a name that an installed package registers in the
                                   entry-point group "pevmsim.workloads", e.g. in its
                                   pyproject.toml:
                                       [project.entry-points."pevmsim.workloads"]
                                       voting = "mypkg.voting:VotingWorkload"

`load_workload(spec)` returns the class, `build_block(spec, n, seed, params)` a
checked block, `list_workloads()` what is available. Anything wrong with a plug-in
(missing file, import error, missing or wrong class, missing method, failing set-up,
an invalid transaction) is one WorkloadError naming the plug-in and the cause.
"""

from __future__ import annotations

import importlib.util
import inspect
import sys
from importlib.metadata import entry_points
from pathlib import Path

from .amm import AMMWorkload
from .api import BlockSource, WorkloadError, validate_block
from .defi import DefiWorkload
from .erc20 import ERC20Workload
from .gigagas_erc20 import GigagasERC20Workload
from .gigagas_hybrid import GigagasHybridWorkload
from .gigagas_transfers import GigagasTransfersWorkload
from .gigagas_uniswap import GigagasUniswapWorkload
from .mainnet import MainnetWorkload
from .nft import NFTWorkload
from .supply_chain import SupplyChainWorkload
from .transfer import TransferWorkload

ENTRY_POINT_GROUP = "pevmsim.workloads"

BUILTINS = {cls.name: cls for cls in (TransferWorkload, ERC20Workload, AMMWorkload,
                                      DefiWorkload, NFTWorkload, SupplyChainWorkload,
                                      MainnetWorkload, GigagasTransfersWorkload,
                                      GigagasERC20Workload, GigagasUniswapWorkload,
                                      GigagasHybridWorkload)}


def _is_file_spec(spec: str) -> bool:
    path, colon, _ = spec.rpartition(":")
    return bool(colon) and path.endswith(".py")


def _check(cls, spec: str) -> type:
    """`cls` must be a complete Workload subclass."""
    if not (inspect.isclass(cls) and issubclass(cls, BlockSource)):
        raise WorkloadError(f"workload plug-in {spec}: {cls!r} is not a Workload subclass")
    missing = sorted(getattr(cls, "__abstractmethods__", ()))
    if missing:
        raise WorkloadError(f"workload plug-in {spec}: {cls.__name__} does not implement "
                            f"{', '.join(missing)}")
    for attribute in ("name", "description"):
        if not isinstance(getattr(cls, attribute, None), str):
            raise WorkloadError(f"workload plug-in {spec}: {cls.__name__} has no "
                                f"{attribute} (a class attribute string)")
    return cls


def _load_file(spec: str) -> type:
    path_text, _, class_name = spec.rpartition(":")
    path = Path(path_text)
    if not path.is_file():
        raise WorkloadError(f"workload plug-in {spec}: file {path} not found")
    folder = str(path.resolve().parent)
    if folder not in sys.path:  # like running a script: its siblings are importable
        sys.path.insert(0, folder)
    module_name = f"pevmsim_plugin_{path.stem}"
    module_spec = importlib.util.spec_from_file_location(module_name, path)
    module = importlib.util.module_from_spec(module_spec)
    sys.modules[module_name] = module  # so dataclasses and pickling can find it
    try:
        module_spec.loader.exec_module(module)
    except Exception as exc:
        del sys.modules[module_name]
        raise WorkloadError(f"workload plug-in {spec}: importing {path} failed: "
                            f"{type(exc).__name__}: {exc}") from exc
    try:
        return getattr(module, class_name)
    except AttributeError:
        defined = sorted(name for name, value in vars(module).items()
                         if inspect.isclass(value) and issubclass(value, BlockSource)
                         and value.__module__ == module_name)
        raise WorkloadError(f"workload plug-in {spec}: {path} has no class {class_name}; "
                            f"its workload classes: {', '.join(defined) or 'none'}") from None


def _entry_points() -> dict:
    return {entry.name: entry for entry in entry_points(group=ENTRY_POINT_GROUP)}


def _load_entry_point(entry) -> type:
    try:
        return entry.load()
    except Exception as exc:
        raise WorkloadError(f"workload plug-in {entry.name} (entry point {entry.value}): "
                            f"loading failed: {type(exc).__name__}: {exc}") from exc


def load_workload(spec: str) -> type:
    """The Workload class a spec names (a built-in, FILE.py:CLASS, or an entry point)."""
    if spec in BUILTINS:
        return BUILTINS[spec]
    if _is_file_spec(spec):
        return _check(_load_file(spec), spec)
    installed = _entry_points()
    if spec in installed:
        return _check(_load_entry_point(installed[spec]), spec)
    raise WorkloadError(
        f"unknown workload {spec!r}: not a built-in ({', '.join(BUILTINS)}), not a "
        f"FILE.py:CLASS plug-in, and no installed entry point in {ENTRY_POINT_GROUP} "
        f"({', '.join(installed) or 'none installed'})")


def build_block(spec: str, n: int, seed: int = 0, params: dict | None = None,
                validate: bool = True):
    """Load the workload, build its block of n transactions for `seed` and, unless
    validate is False, run it serially to check every transaction can be applied."""
    cls = load_workload(spec)
    try:
        workload = cls(**(params or {}))
    except ValueError as exc:
        raise WorkloadError(f"workload {cls.name}: {exc}") from None
    block = workload.block(n, seed)
    if validate:
        validate_block(block, cls.name)
    return block


def list_workloads(specs=(), only: bool = False) -> list:
    """Every built-in and installed workload, plus the file plug-ins in `specs` (with
    `only`: just the workloads `specs` name, of any kind): dicts with name,
    description, params (Param.describe()), source and spec."""
    found = [] if only else [(name, cls, "builtin") for name, cls in BUILTINS.items()]
    if not only:
        found += [(name, _check(_load_entry_point(entry), name), "entry-point")
                  for name, entry in sorted(_entry_points().items())]
    for spec in specs:
        if only or _is_file_spec(spec):
            source = ("builtin" if spec in BUILTINS else "file" if _is_file_spec(spec)
                      else "entry-point")
            found.append((spec, load_workload(spec), source))
    return [{"name": cls.name, "spec": spec, "description": cls.description,
             "params": [param.describe() for param in cls.params], "source": source}
            for spec, cls, source in found]


def _bounds(param: dict) -> str:
    low, high = param["min"], param["max"]
    if low is not None and high is not None:
        return f"{low:g}..{high:g}"
    if low is not None:
        return f">= {low:g}"
    return f"<= {high:g}" if high is not None else ""


def format_listing(listing: list) -> str:
    """`pevmsim workloads`: each workload, then its parameters as aligned columns
    (name, type, default, bounds, help)."""
    rows = [[p["name"], p["type"], repr(p["default"]), _bounds(p), p["help"]]
            for item in listing for p in item["params"]]
    widths = [max((len(row[i]) for row in rows), default=0) for i in range(4)]
    names = max(len(item["spec"]) for item in listing)
    lines = []
    for item in listing:
        lines.append(f"{item['spec']:{names}}  {item['description']}")
        for p in item["params"]:
            cells = [p["name"], p["type"], repr(p["default"]), _bounds(p)]
            lines.append("    " + "  ".join(f"{cell:{width}}" for cell, width
                                            in zip(cells, widths)) + "  " + p["help"])
    return "\n".join(lines)
