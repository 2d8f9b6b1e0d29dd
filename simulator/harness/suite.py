"""Suites: a benchmark grid in a TOML file, validated before anything runs.

A suite expands to blocks (workload, parameters, txs, seed), each built once, and to
configurations (a block x strategy x threads x cost model x lazy beneficiary), each one
`run_block` call; each of its `[[variants]]` (a strategy with options, at its own
threads and cost models if it names them) adds configurations on every block. Every configuration has a stable `key`, which is how a resumed sweep
recognises finished work. The schema is documented in bench/suites/README.md.

Any mistake (unknown key, workload, parameter, strategy or cost model, a bad value)
raises SuiteError naming the file, the key and the valid choices.
"""

from __future__ import annotations

import json
import tomllib
from dataclasses import dataclass, replace
from enum import Enum
from pathlib import Path
from typing import Iterator

from ..backends import BACKENDS
from ..costs.cost_model import COST_MODELS
from ..runs.spec import RunSpec
from ..strategies import STRATEGIES

SUITES_DIR = Path(__file__).resolve().parents[2] / "bench" / "suites"

# Grid keys: allowed at the top level (defaults) and in each [[workloads]] entry.
GRID_KEYS = ("txs", "seeds", "threads", "strategies", "cost_models", "lazy_beneficiary",
             "backends")
GRID_DEFAULTS = {"seeds": [0], "strategies": "all", "cost_models": ["gas"],
                 "lazy_beneficiary": [True], "backends": ["simulated"]}
TOP_KEYS = ("name", "description", "focus", "workloads", "variants") + GRID_KEYS
VARIANT_KEYS = ("strategy", "options", "threads", "cost_models")
WORKLOAD_KEYS = ("name", "params", "blocks") + GRID_KEYS
EVERY = "all"  # blocks = "all"; txs = "all"
FOCUS_KEYS = ("strategy", "threads")


class SuiteError(Exception):
    """A suite file that cannot run (its message names the file and the key)."""


@dataclass(frozen=True)
class BlockSpec:
    """One block: built once by `workload_class(**params).block(txs, seed)`."""
    workload: str
    params: tuple  # sorted (name, value) pairs, every parameter of the workload
    txs: int
    seed: int

    @property
    def param_dict(self) -> dict:
        return dict(self.params)

    def describe(self, name: str | None = None) -> str:
        """Short text for the progress bar; `name` is the workload's name, when known
        (a plug-in's spec is its path)."""
        params = ",".join(f"{k}={v}" for k, v in self.params)
        return f"{name or self.workload}({params}) txs={self.txs} seed={self.seed}"


@dataclass(frozen=True)
class Config:
    """One run of a block: the unit a sweep records and a resume skips."""
    block: BlockSpec
    run: RunSpec

    @property
    def key(self) -> str:
        """The stable identity of a configuration (also stored in every results row)."""
        return (f"{self.block.workload}"
                f"{json.dumps(self.block.param_dict, sort_keys=True, separators=(',', ':'))}"
                f" txs={self.block.txs} seed={self.block.seed} {self.run.key()}")

    def describe(self) -> str:
        return f"{self.block.describe()} {self.run.strategy}@{self.run.threads}"


@dataclass
class Suite:
    name: str
    path: Path
    text: str
    description: str
    blocks: dict  # BlockSpec -> [Config], in grid order
    focus_strategy: str
    focus_threads: int

    @property
    def configs(self) -> list:
        return [config for configs in self.blocks.values() for config in configs]


def select_txs(suite: Suite, sizes: list) -> Suite:
    """The suite cut to its blocks of these sizes (`pevmsim sweep --txs`); the keys,
    and so a later --resume of the whole suite, stay the same."""
    present = sorted({block.txs for block in suite.blocks})
    missing = [size for size in sizes if size not in present]
    if missing:
        raise SuiteError(f"{suite.path}: no block of {missing[0]} transactions; the "
                         f"suite's sizes: {', '.join(map(str, present))}")
    return replace(suite, blocks={block: configs for block, configs in suite.blocks.items()
                                  if block.txs in sizes})


def with_reuse(suite: Suite, reuse: bool) -> Suite:
    """The suite with execution reuse on or off in every run (`--no-reuse`); the keys
    stay the same (reuse changes no figure but host times)."""
    return replace(suite, blocks={block: [replace(config, run=replace(config.run, reuse=reuse))
                                          for config in configs]
                                  for block, configs in suite.blocks.items()})


def resolve_path(suite: str) -> Path:
    """A suite file path, or a bare name of a file in bench/suites/."""
    path = Path(suite)
    if path.suffix != ".toml" and not path.exists():
        path = SUITES_DIR / f"{suite}.toml"
    if not path.is_file():
        known = sorted(p.stem for p in SUITES_DIR.glob("*.toml"))
        raise SuiteError(f"no suite file {suite!r}; bundled suites: {', '.join(known)}")
    return path


def load_suite(suite: str) -> Suite:
    path = resolve_path(suite)
    text = path.read_text()
    return _Loader(path).load(text)


class _Loader:
    def __init__(self, path: Path) -> None:
        self.path = path

    def fail(self, where: str, message: str):
        raise SuiteError(f"{self.path}: {where}: {message}")

    def load(self, text: str) -> Suite:
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise SuiteError(f"{self.path}: invalid TOML: {exc}")
        self.check_keys(data, TOP_KEYS, "top level")
        name = self.string(data, "name", self.path.stem)
        description = self.string(data, "description", "")
        defaults = {key: data.get(key, GRID_DEFAULTS.get(key)) for key in GRID_KEYS}
        entries = data.get("workloads")
        if not isinstance(entries, list) or not entries:
            self.fail("workloads", "need at least one [[workloads]] table")

        variants = self.variants(data.get("variants", []))
        blocks: dict = {}
        strategies_used: list = []
        threads_used: set = set()
        for where, entry in self.tables(entries, "workloads", WORKLOAD_KEYS):
            spec = entry.get("name")
            if not isinstance(spec, str):
                self.fail(f"{where}.name", "a workload name is required")
            workload_class = self.workload_class(spec, f"{where}.name")
            grid = {key: self.grid_value(key, entry.get(key, defaults[key]), where)
                    for key in GRID_KEYS}
            strategies_used += [s for s in grid["strategies"] if s not in strategies_used]
            threads_used.update(grid["threads"])
            # (strategy, options, threads, cost models): the grid's, then the variants'
            plans = [(strategy, {}, grid["threads"], grid["cost_models"])
                     for strategy in grid["strategies"]]
            plans += [(strategy, options, threads or grid["threads"],
                       [m for m in grid["cost_models"] if models is None or m in models])
                      for strategy, options, threads, models in variants]
            for params in self.block_grid(workload_class, entry, where):
                for txs in self.sizes(workload_class, params, grid["txs"], where):
                    for seed in grid["seeds"]:
                        block = BlockSpec(spec, params, txs, seed)
                        configs = blocks.setdefault(block, [])
                        for run in self.runs(plans, grid):
                            config = Config(block, run)
                            if config not in configs:
                                configs.append(config)
        focus_strategy, focus_threads = self.focus(data.get("focus", {}), strategies_used,
                                                   threads_used)
        return Suite(name, self.path, text, description, blocks, focus_strategy,
                     focus_threads)

    # -- pieces ------------------------------------------------------------------
    def tables(self, entries: list, name: str, keys) -> Iterator:
        """(where, entry) of each table of an array of tables, each a table with only
        the given keys."""
        for index, entry in enumerate(entries):
            where = f"{name}[{index}]"
            if not isinstance(entry, dict):
                self.fail(where, "must be a table")
            self.check_keys(entry, keys, where)
            yield where, entry

    @staticmethod
    def runs(plans: list, grid: dict) -> list:
        """The RunSpecs of an entry: each plan at each of its threads and cost models,
        each lazy-beneficiary setting and backend of the entry."""
        return [RunSpec(strategy, threads, cost_model, lazy, backend, options)
                for strategy, options, threads_list, cost_models in plans
                for threads in threads_list for cost_model in cost_models
                for lazy in grid["lazy_beneficiary"] for backend in grid["backends"]]

    def variants(self, entries) -> list:
        """[[variants]]: (strategy, options, threads or None, cost models or None)."""
        if not isinstance(entries, list):
            self.fail("variants", "must be an array of tables ([[variants]])")
        variants = []
        for where, entry in self.tables(entries, "variants", VARIANT_KEYS):
            strategy = entry.get("strategy")
            if strategy not in STRATEGIES:
                self.fail(f"{where}.strategy", f"unknown strategy {strategy!r}; valid: "
                                               f"{', '.join(STRATEGIES)}")
            cls = STRATEGIES[strategy]
            options = entry.get("options", {})
            if not isinstance(options, dict) or not options:
                self.fail(f"{where}.options", "a table of at least one strategy option")
            known = {option.name: option for option in cls.options}
            for name in options:
                if name not in known:
                    self.fail(f"{where}.options.{name}", f"unknown option for {strategy}; "
                                                         f"valid: {', '.join(known) or 'none'}")
            options = {name: self.option_value(known[name], value,
                                               f"{where}.options.{name}")
                       for name, value in options.items()}
            try:
                cls.check_options(options)
            except ValueError as exc:
                self.fail(f"{where}.options", str(exc))
            threads = (self.grid_value("threads", entry["threads"], where)
                       if "threads" in entry else None)
            models = (self.grid_value("cost_models", entry["cost_models"], where)
                      if "cost_models" in entry else None)
            variants.append((strategy, options, threads, models))
        return variants

    def option_value(self, param, value, where: str):
        """A strategy option's TOML value, checked (an enum's by its text)."""
        if issubclass(param.type, Enum) and isinstance(value, str):
            try:
                return param.parse(value)
            except ValueError as exc:
                self.fail(where, str(exc))
        return self.param_value(param, value, where)

    def check_keys(self, table: dict, allowed, where: str) -> None:
        for key in table:
            if key not in allowed:
                self.fail(f"{where}.{key}" if where != "top level" else key,
                          f"unknown key; valid: {', '.join(allowed)}")

    def string(self, data: dict, key: str, default: str) -> str:
        value = data.get(key, default)
        if not isinstance(value, str):
            self.fail(key, f"must be a string, got {value!r}")
        return value

    def workload_class(self, spec: str, where: str):
        from workloads.api import WorkloadError
        from workloads.registry import load_workload

        try:
            return load_workload(spec)
        except WorkloadError as exc:
            self.fail(where, str(exc))

    def grid_value(self, key: str, value, where: str) -> list:
        where = f"{where}.{key}"
        if value is None:
            self.fail(where, "required (here or at the top level)")
        if key == "strategies":
            if value == "all":
                return list(STRATEGIES)
            return self.choices(value, STRATEGIES, "strategy", where)
        if key == "cost_models":
            return self.choices(value, COST_MODELS, "cost model", where)
        if key == "backends":
            return self.choices(value, BACKENDS, "backend", where)
        values = value if isinstance(value, list) else [value]
        if not values:
            self.fail(where, "must not be empty")
        for item in values:
            if key == "txs" and item == EVERY:
                continue
            if key == "lazy_beneficiary":
                if not isinstance(item, bool):
                    self.fail(where, f"must be true or false, got {item!r}")
            elif not isinstance(item, int) or isinstance(item, bool):
                self.fail(where, f"must be an integer or a list of integers, got {item!r}")
            elif item < (0 if key == "seeds" else 1):
                self.fail(where, f"must be >= {0 if key == 'seeds' else 1}, got {item}")
        return list(dict.fromkeys(values))

    def choices(self, value, known: dict, what: str, where: str) -> list:
        values = value if isinstance(value, list) else [value]
        if not values:
            self.fail(where, "must not be empty")
        suffix = ' (or "all")' if what == "strategy" else ""
        for item in values:
            if item not in known:
                self.fail(where, f"unknown {what} {item!r}; valid: {', '.join(known)}{suffix}")
        return list(dict.fromkeys(values))

    def block_grid(self, workload_class, entry: dict, where: str) -> list:
        """The parameter grid; with `blocks = "all"`, each combination once per block
        of its recorded source (e.g. every block of a directory)."""
        grid = self.param_grid(workload_class, entry.get("params", {}), where)
        if "blocks" not in entry:
            return grid
        if entry["blocks"] != EVERY:
            self.fail(f"{where}.blocks", f'must be "{EVERY}", got {entry["blocks"]!r} '
                                         "(list block numbers in params.block instead)")
        if "block" in entry.get("params", {}):
            self.fail(f"{where}.blocks", f'"{EVERY}" and params.block exclude each other')
        expanded = []
        for params in grid:
            each = self.workload_call(workload_class, params, where,
                                      lambda source: source.each_block())
            if each is None:
                self.fail(f"{where}.blocks", f"workload {workload_class.name} makes its "
                                             "blocks; only a recorded source has blocks")
            expanded += [tuple(sorted(values.items())) for values in each]
        return expanded

    def sizes(self, workload_class, params: tuple, txs: list, where: str) -> list:
        """The block sizes to run: "all" is the recorded block's transaction count."""
        from workloads.api import Size, block_size

        sizes = []
        for item in txs:
            size = self.workload_call(
                workload_class, params, where,
                lambda source: block_size(source, Size.ALL if item == EVERY else item))
            recorded = self.workload_call(workload_class, params, where,
                                          lambda source: source.size())
            if recorded is not None and size > recorded:
                self.fail(f"{where}.txs", f"{size} > the {recorded} transactions of "
                                          f"{workload_class.name} {dict(params)}")
            if size not in sizes:
                sizes.append(size)
        return sizes

    def workload_call(self, workload_class, params: tuple, where: str, call):
        from workloads.api import WorkloadError

        try:
            return call(workload_class(**dict(params)))
        except WorkloadError as exc:
            self.fail(where, str(exc))

    def param_grid(self, workload_class, params, where: str) -> list:
        """Every combination of the listed parameter values, each completed with the
        workload's defaults, as sorted (name, value) tuples."""
        if not isinstance(params, dict):
            self.fail(f"{where}.params", "must be a table")
        known = {p.name: p for p in workload_class.params}
        axes = []
        for name, value in params.items():
            if name not in known:
                self.fail(f"{where}.params.{name}",
                          f"unknown parameter for workload {workload_class.name}; "
                          f"valid: {', '.join(known) or 'none'}")
            values = value if isinstance(value, list) else [value]
            if not values:
                self.fail(f"{where}.params.{name}", "must not be empty")
            axes.append([(name, self.param_value(known[name], item,
                                                 f"{where}.params.{name}"))
                         for item in values])
        combos = [[]]
        for axis in axes:
            combos = [combo + [pair] for combo in combos for pair in axis]
        return [tuple(sorted(workload_class(**dict(combo)).values.items()))
                for combo in combos]

    def param_value(self, param, value, where: str):
        if param.type is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, param.type) or (isinstance(value, bool)
                                                 and param.type is not bool):
            self.fail(where, f"must be {param.type.__name__}, got {value!r}")
        try:
            param.check(value)
        except ValueError as exc:
            self.fail(where, str(exc))
        return value

    def focus(self, focus, strategies: list, threads: set) -> tuple:
        """The configuration the timeline and overview charts show: by default
        block-stm (else the last strategy listed) at the highest thread count."""
        if not isinstance(focus, dict):
            self.fail("focus", "must be a table")
        self.check_keys(focus, FOCUS_KEYS, "focus")
        default = "block-stm" if "block-stm" in strategies else strategies[-1]
        strategy = focus.get("strategy", default)
        if strategy not in strategies:
            self.fail("focus.strategy",
                      f"{strategy!r} is not in the suite; valid: {', '.join(strategies)}")
        count = focus.get("threads", max(threads))
        if count not in threads:
            self.fail("focus.threads", f"{count!r} is not in the suite; valid: "
                                       f"{', '.join(map(str, sorted(threads)))}")
        return strategy, count
