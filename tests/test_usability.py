"""Using pevmsim as a new user would: bad inputs are one line with exit code 2 from the
installed command, failing transactions are counted and warned about, and run /
compare / sweep / workloads share their options and exports."""

from __future__ import annotations

import csv
import io
import json
import textwrap
from pathlib import Path

import pytest

from installed import assert_usage_error, pevmsim
from simulator.cli.main import main
from simulator.usage import EXIT_MISMATCH
from simulator.environment import environment
from simulator.chain.failures import revert_reason
from simulator.harness.sweep import environment as sweep_environment
from simulator.params import Param
from simulator.progress import Progress
from simulator.runs.spec import RunSpec
from simulator.runs.summary import HEAD_FIELDS, ROW_FIELDS, SUMMARY_FIELDS
from workloads.registry import build_block

ROOT = Path(__file__).resolve().parent.parent
VOTING = ROOT / "docs" / "examples" / "voting.py"

PLUGIN = '''
from simulator.engine.locations import STORAGE
from workloads.api import Param, Workload


class Votes(Workload):
    """Votes on the docs' poll; `proposal` picks the proposal, `flag` a second one."""
    name = "votes"
    description = "votes for a chosen proposal"
    params = (Param("proposal", 0, "proposal voted for", int, min=0),
              Param("gas", 300_000, "gas limit of each vote", int, min=0),
              Param("flag", False, "vote for proposal 1 instead", bool))

    def setup(self, chain):
        self.voters = chain.accounts(50)
        self.poll = chain.deploy("voting", 4)

    def transactions(self, chain, n):
        proposal = 1 if self.flag else self.proposal
        return [chain.call_tx(voter, self.poll, "vote", proposal, gas=self.gas)
                for voter in self.voters[:n]]
'''


@pytest.fixture
def plugin_dir(tmp_path):
    """A plug-in folder holding the docs' voting contract and the Votes workload."""
    (tmp_path / "voting.vy").write_text((ROOT / "docs/examples/voting.vy").read_text())
    (tmp_path / "votes.py").write_text(textwrap.dedent(PLUGIN))
    return tmp_path


def spec(folder: Path, body: str, name: str = "broken") -> str:
    """A plug-in file `name`.py in `folder` with the Votes header and `body` appended."""
    path = folder / f"{name}.py"
    path.write_text(textwrap.dedent(PLUGIN) + textwrap.dedent(body)
                    + f"\nPlugin.name = {name!r}\n")
    return f"{path}:Plugin"


# -- errors that were tracebacks --------------------------------------------------------
@pytest.mark.parametrize("flag", ["--json", "--csv"])
def test_output_in_a_missing_folder_is_refused_before_running(tmp_path, flag):
    done = pevmsim("run", "--workload", "transfer", "--txs", "5", flag,
                   tmp_path / "absent" / "out")
    assert_usage_error(done, flag, "does not exist")
    assert done.stdout == ""  # nothing ran


def test_output_naming_a_folder_is_refused(tmp_path):
    assert_usage_error(pevmsim("compare", "--workload", "transfer", "--txs", "5", "--json",
                               tmp_path), "is a folder")


def test_both_exports_on_stdout_is_refused():
    assert_usage_error(pevmsim("run", "--workload", "transfer", "--txs", "5", "--json",
                               "--csv", "-"), "both go to stdout")


@pytest.mark.parametrize("body, words", [
    ("""
class Plugin(Votes):
    def transactions(self, chain, n):
        return ["not a transaction"] * n
""", ["broken", "item 0 is a str, not a signed transaction"]),
    ("""
class Plugin(Votes):
    def labels(self):
        raise KeyError("turnout")
""", ["broken", "labels() failed: KeyError"]),
    ("""
class Plugin(Votes):
    def labels(self):
        return ["turnout"]
""", ["broken", "labels() returned a list"]),
    ("""
class Plugin(Votes):
    def transactions(self, chain, n):
        return [chain.call_tx(v, self.poll, "vote", 0, gas=21_100) for v in self.voters[:n]]
""", ["transaction 0 is invalid: gas limit 21100 below the intrinsic gas 21"]),
    ("""
class Plugin(Votes):
    def setup(self, chain):
        super().setup(chain)
        chain.call(self.voters[0], self.poll, "vote", 9)
""", ["set-up call vote reverted: 'no such proposal'"]),
    ("""
class Plugin(Votes):
    def setup(self, chain):
        chain.deploy("no_such_contract")
""", ["contract no_such_contract not found"]),
])
def test_plugin_mistakes_are_one_line(plugin_dir, body, words):
    done = pevmsim("run", "--workload", spec(plugin_dir, body), "--txs", "5")
    assert_usage_error(done, *words)


@pytest.mark.parametrize("args, words", [
    (["--set", "flag=maybe"], ["flag must be true/false"]),
    (["--set", "proposal=nan"], ["proposal must be int"]),
    (["--strategy", "sei", "--strategy-option", "accuracy=nan"], ["finite"]),
])
def test_bad_parameter_values(plugin_dir, args, words):
    done = pevmsim("run", "--workload", f"{plugin_dir / 'votes.py'}:Votes", "--txs", "5", *args)
    assert_usage_error(done, *words)


@pytest.mark.parametrize("args, words", [
    (["compare", "--strategies", "block-stm,,monad"], ["empty entry"]),
    (["compare", "--strategies", "monad,block-stm,monad"], ["'monad' twice"]),
    (["compare", "--strategy", "block-stm"], ["unrecognized arguments: --strategy"]),
    (["run", "--thread", "4"], ["unrecognized arguments: --thread"]),
    (["run", "--threads", "1,,4"], ["empty entry"]),
    (["run", "--threads", "4,4"], ["'4' twice"]),
    (["run", "--threads", "1,x"], ["--threads must be an integer"]),
    (["run", "--repeat", "3"], ["--repeat 3 needs --cost-model measured"]),
    (["run", "--set", "hot_ratio=nan"], ["hot_ratio must be a finite number"]),
    (["run", "--set", "hot_ratio=inf"], ["hot_ratio must be a finite number"]),
    (["run", "--set", "accounts=30"], ["--set accounts given twice"]),
])
def test_bad_options(args, words):
    command, *rest = args
    done = pevmsim(command, "--workload", "erc20", "--set", "accounts=20", "--txs", "5", *rest)
    assert_usage_error(done, *words)


def test_txs_all_is_for_recorded_blocks():
    assert_usage_error(pevmsim("run", "--workload", "erc20", "--txs", "all"),
                       "makes blocks of any size; 'all' needs a recorded block")


def test_txs_all_takes_a_whole_mainnet_block(capsys):
    assert main(["run", "--workload", "mainnet", "--set", "block=9068998", "--txs", "all",
                 "--threads", "2", "--json"]) == 0
    row = json.loads(capsys.readouterr().out)
    assert row["txs"] == 3 and row["matches_serial"]


def test_unknown_workload_in_the_listing():
    assert_usage_error(pevmsim("workloads", "nosuch"), "unknown workload 'nosuch'")


# -- parameters -------------------------------------------------------------------------
@pytest.mark.parametrize("text, value", [("false", False), ("0", False), ("No", False),
                                         ("off", False), ("true", True), ("1", True),
                                         ("YES", True), ("on", True)])
def test_bool_parameters_parse_words(text, value):
    assert Param("flag", False, "a flag", bool).parse(text) is value


def test_bool_parameter_reaches_the_plugin(plugin_dir, capsys):
    votes = f"{plugin_dir / 'votes.py'}:Votes"
    assert main(["run", "--workload", votes, "--txs", "4", "--set", "flag=false",
                 "--set", "proposal=2", "--json"]) == 0
    row = json.loads(capsys.readouterr().out)
    assert row["params"]["flag"] is False and row["failed_txs"] == 0


# -- failing transactions -----------------------------------------------------------------
def test_a_block_of_reverts_is_counted_and_warned_about(plugin_dir):
    done = pevmsim("run", "--workload", f"{plugin_dir / 'votes.py'}:Votes", "--txs", "10",
                   "--set", "proposal=7", "--json")
    assert done.returncode == 0, done.stderr
    row = json.loads(done.stdout)
    assert (row["failed_txs"], row["reverted_txs"], row["out_of_gas_txs"]) == (10, 10, 0)
    assert row["matches_serial"]
    warning = [line for line in done.stderr.splitlines() if "warning" in line]
    assert len(warning) == 1 and "10 of 10 transactions failed" in warning[0]
    assert "'no such proposal'" in warning[0]


def test_out_of_gas_is_counted_apart_and_shown_in_tables(plugin_dir):
    done = pevmsim("compare", "--workload", f"{plugin_dir / 'votes.py'}:Votes", "--txs", "6",
                   "--set", "gas=25000", "--strategies", "serial,block-stm", "--threads", "2")
    assert done.returncode == 0, done.stderr
    assert "(6 txs, 6 failed: 0 reverted, 6 out of gas)" in done.stdout
    assert "6 of 6 transactions failed (0 reverted, 6 out of gas)" in done.stderr


def test_a_healthy_block_warns_nothing(plugin_dir):
    done = pevmsim("run", "--workload", f"{plugin_dir / 'votes.py'}:Votes", "--txs", "5")
    assert done.returncode == 0 and "warning" not in done.stderr
    assert "transactions    none failed" in done.stdout


@pytest.mark.parametrize("data, reason", [
    (bytes.fromhex("08c379a0") + (32).to_bytes(32, "big") + (2).to_bytes(32, "big")
     + b"hi".ljust(32, b"\0"), "'hi'"),
    (bytes.fromhex("4e487b71") + (0x11).to_bytes(32, "big"), "panic 0x11"),
    (b"", "no reason given"),
    (bytes.fromhex("08c379a0") + b"\x01", "0x08c379a001"),  # malformed: raw
])
def test_revert_reasons(data, reason):
    assert revert_reason(data) == reason


# -- thread lists, repeats, exports --------------------------------------------------------
def test_thread_list_writes_one_csv_row_per_count(tmp_path):
    out = tmp_path / "out.csv"
    done = pevmsim("run", "--workload", "erc20", "--txs", "50", "--threads", "1,2,4,8",
                   "--csv", out)
    assert done.returncode == 0, done.stderr
    rows = list(csv.DictReader(out.open()))
    assert [row["threads"] for row in rows] == ["1", "2", "4", "8"]
    assert all(row["matches_serial"] == "True" and row["param.accounts"] == "1000"
               for row in rows)
    assert len({row["serial_state_root"] for row in rows}) == 1
    table = done.stdout.splitlines()
    assert table[2].split() == ["strategy", "1", "workers", "2", "workers", "4", "workers",
                                "8", "workers"]
    assert sum(line.startswith("block-stm ") for line in table) == 1  # one matrix row
    assert done.stderr.count("built the erc20 block") == 1  # built and checked once
    assert f"CSV written to {out}" in done.stdout


def test_compare_over_threads_is_one_matrix_with_progress(capsys):
    assert main(["compare", "--workload", "transfer", "--set", "accounts=10", "--txs", "12",
                 "--strategies", "serial,block-stm", "--threads", "1,4",
                 "--no-other-models"]) == 0
    captured = capsys.readouterr()
    lines = captured.out.splitlines()
    assert "virtual time" in lines[1] and "* the best at each worker count" in lines[1]
    assert lines[2].split() == ["strategy", "1", "workers", "4", "workers"]
    serial, block_stm, bound = (line.split() for line in lines[3:6])
    assert serial[:3] == ["serial", "(1", "worker)"] and [c.rstrip("*") for c in serial[3:]] == ["1.00"] * 2
    assert block_stm[0] == "block-stm" and bound[:2] == ["dependency", "bound"]
    for column in (1, 2):  # each column marks its best, and only its best
        cells = {serial[2 + column]: "serial", block_stm[column]: "block-stm"}
        values = {name: float(cell.rstrip("*")) for cell, name in cells.items()}
        marked = [name for cell, name in cells.items() if cell.endswith("*")]
        assert marked and all(values[name] == max(values.values()) for name in marked)
    assert "matches serial py-evm: all 4 runs" in captured.out
    progress = captured.err.splitlines()
    # the serial check runs alongside: its line comes once its result is in hand
    built = [line for line in progress if line.startswith("pevmsim: built the")]
    assert len(built) == 1 and built[0].startswith("pevmsim: built the transfer block "
                                                   "(12 txs)")
    assert "executed it serially in" in built[0]
    assert [line.split("]")[0] for line in progress if line not in built] == [
        f"pevmsim: [{k}/4" for k in range(1, 5)]


def test_compare_matrix_and_other_models_through_the_installed_command():
    done = pevmsim("compare", "--workload", "erc20", "--set", "accounts=30", "--txs", "40",
                   "--strategies", "serial,block-stm,monad", "--threads", "2,4",
                   "--cost-model", "gas", "--json")
    assert done.returncode == 0, done.stderr
    rows = json.loads(done.stdout)
    assert [(row["strategy"], row["threads"]) for row in rows] == [
        ("serial", 2), ("serial", 4), ("block-stm", 2), ("block-stm", 4), ("monad", 2),
        ("monad", 4)]  # --json: one row per run, as before
    best = {count: max((row for row in rows if row["threads"] == count),
                       key=lambda row: row["virtual_speedup"]) for count in (2, 4)}
    for row in rows:
        others = row["other_cost_models"]
        if row is not best[row["threads"]]:
            assert others is None
            continue
        assert sorted(others) == ["gas-disk", "revm"]  # every other deterministic model
        for model, figures in others.items():
            again = json.loads(pevmsim(
                "run", "--workload", "erc20", "--set", "accounts=30", "--txs", "40",
                "--strategy", row["strategy"], "--threads", row["threads"], "--cost-model",
                model, "--no-other-models", "--json").stdout)
            assert figures == {"virtual_speedup": again["virtual_speedup"],
                               "virtual_speedup_bound": again["virtual_speedup_bound"],
                               "matches_serial": True}


def test_the_default_run_shows_the_other_models_in_one_line():
    done = pevmsim("run", "--workload", "erc20", "--set", "accounts=30", "--txs", "30")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    speedup = next(i for i, line in enumerate(lines) if line.startswith("speedup "))
    assert "revm cost model" in lines[speedup]  # the default, costs/default.py
    other = lines[speedup + 1]
    assert other.startswith("other models    gas ") and ", gas-disk " in other
    assert "the same block re-run" in other


def test_a_strategy_below_serial_says_why():
    from simulator.runs.reasons import reasons

    done = pevmsim("compare", "--workload", "defi", "--txs", "60", "--strategies",
                   "serial,sei,monad", "--threads", "2,8", "--no-other-models", "--json")
    rows = json.loads(done.stdout)
    text = pevmsim("compare", "--workload", "defi", "--txs", "60", "--strategies",
                   "serial,sei,monad", "--threads", "2,8", "--no-other-models").stdout
    surprising = [row for row in rows if row["strategy"] != "serial" and (
        row["virtual_speedup"] < 1 or any(
            other["strategy"] == row["strategy"] and other["threads"] < row["threads"]
            and row["virtual_speedup"] < other["virtual_speedup"] * 0.995 for other in rows))]
    assert surprising  # sei below serial on this block
    why = [line for line in text.splitlines() if line.startswith("why: ")]
    assert [line.removeprefix("why: ") for line in why] == reasons(rows)
    assert len(why) == len(surprising)
    for row, line in zip(surprising, why):
        assert line.startswith(f"why: {row['strategy']} at {row['threads']} workers: ")


def test_repeat_reports_median_and_spread(capsys):
    assert main(["run", "--workload", "transfer", "--set", "accounts=10", "--txs", "10",
                 "--cost-model", "measured", "--repeat", "3", "--threads", "1,2",
                 "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [row["threads"] for row in rows] == [1, 2]
    for row in rows:
        assert row["repeats"] == 3 and row["matches_serial"]
        assert row["virtual_speedup_min"] <= row["virtual_speedup"] <= row["virtual_speedup_max"]


def test_json_rows_have_one_shape_and_carry_the_environment(tmp_path, capsys):
    path = tmp_path / "run.json"
    assert main(["run", "--workload", "transfer", "--txs", "5", "--json", str(path)]) == 0
    row = json.loads(path.read_text())
    assert list(row) == [*HEAD_FIELDS, *SUMMARY_FIELDS, *ROW_FIELDS]
    env = row["environment"]
    assert env["pevmsim"] and env["py_evm"] == "0.12.1b1" and env["python"]
    assert env["cpu_count"] and "git_commit" in env
    assert env == environment()
    sweep_meta = sweep_environment(type("S", (), {
        "configs": [], "name": "s", "path": "p", "description": "", "focus_strategy": "x",
        "focus_threads": 1, "blocks": {}, "text": ""})())
    assert {key: sweep_meta[key] for key in env} == env  # one function writes both


def test_workloads_json_with_and_without_a_path(tmp_path, capsys):
    assert main(["workloads", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert "amm" in {item["name"] for item in listed}
    path = tmp_path / "w.json"
    assert main(["workloads", "amm", "--json", str(path)]) == 0
    assert [item["name"] for item in json.loads(path.read_text())] == ["amm"]


def test_workloads_lists_a_plugin_with_types_and_bounds_aligned(capsys):
    assert main(["workloads", f"{VOTING}:VotingWorkload"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith(f"{VOTING}:VotingWorkload") and len(lines) == 4
    assert "int" in lines[1] and ">= 1" in lines[1] and "float" in lines[3]
    assert "0..1" in lines[3]
    helps = {line.index(text) for line, text in zip(lines[1:], (
        "number of voters", "number of proposals", "share of votes"))}
    assert len(helps) == 1  # the help column lines up


def test_a_mismatch_exits_3(monkeypatch, capsys):
    import simulator.runs.runner as runner

    monkeypatch.setattr(runner, "mismatches", lambda result, serial: ["forced for the test"])
    assert main(["run", "--workload", "transfer", "--txs", "4"]) == EXIT_MISMATCH == 3
    assert "NO: forced for the test" in capsys.readouterr().out


# -- progress ----------------------------------------------------------------------------
def test_progress_off_a_terminal_is_one_line_per_stage():
    stream = io.StringIO()
    progress = Progress(stream)
    with progress.stage("work", 100) as bar:
        for _ in range(100):
            bar.update(1)
    with progress.runs("suite", 5, initial=2) as done:
        for k in range(3):
            done(f"run {k}")
    lines = stream.getvalue().splitlines()
    assert len(lines) == 4 and lines[0].startswith("pevmsim: work: ")
    assert [line.split(" (ETA ")[0] for line in lines[1:]] == [
        f"pevmsim: suite [{k}/5] run {k - 3}" for k in (3, 4, 5)]
    assert lines[-1].endswith(" (ETA 0:00:00)")  # nothing left


def test_a_failing_stage_writes_nothing():
    stream = io.StringIO()
    with pytest.raises(RuntimeError), Progress(stream).stage("work", 3):
        raise RuntimeError("boom")
    assert stream.getvalue() == ""


# -- plug-ins ------------------------------------------------------------------------------
def test_generator_transactions_are_accepted(plugin_dir):
    body = """
class Plugin(Votes):
    def transactions(self, chain, n):
        for voter in self.voters[:n]:
            yield chain.call_tx(voter, self.poll, "vote", 0)
"""
    assert len(build_block(spec(plugin_dir, body), 7)) == 7


VYPER_LIB = """\
# pragma version ~=0.4.3
@internal
@pure
def scale(x: uint256) -> uint256:
    return {factor} * x
"""
VYPER_MAIN = """\
# pragma version ~=0.4.3
import scaling

value: public(uint256)

@external
def store(x: uint256):
    self.value = scaling.scale(x)
"""
IMPORTING = '''
from workloads.api import Workload


class Plugin(Workload):
    name = "importing"
    description = "a contract importing a sibling module"

    def setup(self, chain):
        self.user, = chain.accounts(1)
        self.store = chain.deploy("erc20")  # this folder's erc20.vy, not the built-in

    def transactions(self, chain, n):
        return [chain.call_tx(self.user, self.store, "store", 5) for _ in range(n)]
'''


def test_a_contract_importing_a_sibling_compiles_and_the_cache_sees_edits(
        tmp_path, monkeypatch):
    from eth.db.account import AccountDB

    from simulator.chain.serial import execute_serial

    monkeypatch.setenv("PEVMSIM_CACHE_DIR", str(tmp_path / "cache"))
    (tmp_path / "scaling.vy").write_text(VYPER_LIB.format(factor=2))
    (tmp_path / "erc20.vy").write_text(VYPER_MAIN)  # shadows the built-in erc20
    (tmp_path / "importing.py").write_text(IMPORTING)
    plugin = f"{tmp_path / 'importing.py'}:Plugin"

    def stored_value():
        from workloads.registry import load_workload

        workload = load_workload(plugin)()
        block = workload.block(1)
        result, _ = execute_serial(block)
        slot = workload.store.slot("value")
        return AccountDB(block.db, result.state_root).get_storage(workload.store.address,
                                                                  slot)

    assert stored_value() == 10
    (tmp_path / "scaling.vy").write_text(VYPER_LIB.format(factor=3))
    assert stored_value() == 15  # the imported module's edit was compiled


def test_bare_contract_names_fall_back_to_the_builtins(plugin_dir):
    body = """
class Plugin(Votes):
    def setup(self, chain):
        super().setup(chain)
        self.token = chain.deploy("erc20", "Token", "T", 10**24)
"""
    assert len(build_block(spec(plugin_dir, body), 2)) == 2


STRUCT = """\
# pragma version ~=0.4.3
struct Position:
    owner: address
    size: uint256
    open: bool

positions: public(HashMap[uint256, Position])
config: public(Position)

@external
def set_size(id: uint256, size: uint256):
    self.positions[id].size = size
    self.config.open = True
"""


def test_struct_members_are_consecutive_slots(tmp_path, monkeypatch):
    """What docs/workloads.md says of struct members: member k is slot(...) + k."""
    from eth.db.account import AccountDB

    from simulator.chain.serial import execute_serial
    from workloads.api import BlockBuilder

    monkeypatch.setenv("PEVMSIM_CACHE_DIR", str(tmp_path / "cache"))
    (tmp_path / "positions.vy").write_text(STRUCT)
    chain = BlockBuilder(0, contracts_dir=tmp_path)
    user, = chain.accounts(1)
    contract = chain.deploy("positions")
    block = chain.build([chain.call_tx(user, contract, "set_size", 7, 1234)])
    result, _ = execute_serial(block)
    state = AccountDB(block.db, result.state_root)
    assert state.get_storage(contract.address, contract.slot("positions", 7) + 1) == 1234
    assert state.get_storage(contract.address, contract.slot("config") + 2) == 1


SINK = """\
# pragma version ~=0.4.3
@external
@payable
def __default__():
    pass
"""


def test_eth_sent_to_a_contract_makes_its_balance_shared():
    """What docs/workloads.md says: value sent to one contract conflicts on its balance."""
    from simulator.runs.runner import run_block
    from workloads.api import BlockBuilder
    from workloads.vyper_build import compile_source

    chain = BlockBuilder(0)
    senders = chain.accounts(16)
    receiver = chain.deploy(compile_source(SINK, "sink"))
    block = chain.build([chain.transfer(sender, receiver.address, 1, gas=30_000)
                         for sender in senders])
    summary = run_block(block, RunSpec("block-stm", 8)).summary
    assert summary["matches_serial"]
    labels = {item["label"] for item in summary["conflicts"]}
    assert any(label.startswith("ETH balance of contract") for label in labels)


# -- further friction found by trying the tool ----------------------------------------------
def test_contract_mistakes_name_the_functions(plugin_dir):
    for body, words in (("""
class Plugin(Votes):
    def transactions(self, chain, n):
        return [chain.call_tx(v, self.poll, "vote", 1, 2) for v in self.voters[:n]]
""", ["voting has no function vote taking 2 arguments", "vote(uint256)", "turnout()"]), ("""
class Plugin(Votes):
    def transactions(self, chain, n):
        return [chain.call_tx(v, self.poll, "has_voted", "me") for v in self.voters[:n]]
""", ["voting.has_voted(address) cannot take ('me',)"])):
        assert_usage_error(pevmsim("run", "--workload", spec(plugin_dir, body), "--txs", "3"),
                           *words)


def test_accounts_and_contracts_stand_for_their_addresses(plugin_dir):
    from simulator.chain.serial import execute_serial
    from workloads.api import view
    from workloads.registry import load_workload

    body = """
class Plugin(Votes):
    def transactions(self, chain, n):
        paid = [chain.transfer(v, self.poll, 1, gas=50_000) for v in self.voters[:n - 1]]
        return paid + [chain.call_tx(self.voters[0], self.poll, "has_voted", self.voters[0])]
"""
    workload = load_workload(spec(plugin_dir, body))()
    block = workload.block(3)
    result, _ = execute_serial(block)
    # voting.vy takes no ETH: the transfers reached it (and reverted), the view ran
    assert [failure.kind.value for failure in result.failures[:2]] == ["reverted"] * 2
    assert result.failures[2] is None
    assert view(block, result.state_root, workload.poll, "has_voted",
                workload.voters[0]) is False


def test_a_plugin_imports_its_sibling_module(plugin_dir):
    (plugin_dir / "child.py").write_text("from votes import Votes\n\n\n"
                                         "class Child(Votes):\n    name = 'child'\n")
    assert len(build_block(f"{plugin_dir / 'child.py'}:Child", 2)) == 2


def test_a_missing_class_lists_the_ones_there():
    assert_usage_error(pevmsim("run", "--workload", f"{VOTING}:Voting", "--txs", "2"),
                       "has no class Voting; its workload classes: VotingWorkload")


def test_json_does_not_swallow_a_workload_as_its_path(tmp_path):
    done = pevmsim("workloads", "--json", f"{VOTING}:VotingWorkload", cwd=tmp_path)
    assert_usage_error(done, "took the workload")
    assert list(tmp_path.iterdir()) == []  # no file named after the plug-in


def test_no_command_names_the_commands():
    assert_usage_error(pevmsim(), "run,compare,workloads,sweep,report,bench")


def test_median_of_repeats_is_a_real_run():
    from simulator.runs.summary import median_of_repeats

    runs = [{"virtual_speedup": x, "virtual_makespan_s": 1 / x, "mismatches": [], "k": k}
            for k, x in enumerate([3.0, 1.0, 2.0, 5.0])]
    median = median_of_repeats(runs)
    assert (median["k"], median["repeats"]) == (2, 4)  # the lower median: 2.0
    assert (median["virtual_speedup_min"], median["virtual_speedup_max"]) == (1.0, 5.0)
    assert median["matches_serial"]
    runs[3]["mismatches"] = ["receipt 1 differs"]
    assert median_of_repeats(runs)["mismatches"] == ["receipt 1 differs"]


def test_a_vyper_compile_error_is_one_line_with_its_place(plugin_dir):
    (plugin_dir / "typo.vy").write_text("# pragma version ~=0.4.3\ntotal: uint256\n\n"
                                        "@external\ndef add(x: uint256):\n"
                                        "    self.total += y\n")
    body = """
class Plugin(Votes):
    def setup(self, chain):
        chain.deploy("typo")
"""
    assert_usage_error(pevmsim("run", "--workload", spec(plugin_dir, body), "--txs", "2"),
                       "typo.vy:6:18: UndeclaredDefinition: 'y' has not been declared")


def test_a_multi_line_plugin_message_stays_one_line(plugin_dir):
    body = """
class Plugin(Votes):
    def setup(self, chain):
        raise ValueError("first line\\n\\nsecond line")
"""
    assert_usage_error(pevmsim("run", "--workload", spec(plugin_dir, body), "--txs", "2"),
                       "first line; second line")


# -- outputs that fail after the work (issue 26): tried before any --------------------------
@pytest.mark.parametrize("command, flag", [("run", "--csv"), ("run", "--json"),
                                           ("compare", "--csv"), ("explain", "--json"),
                                           ("explain", "--graph")])
def test_an_unwritable_output_is_refused_before_running(tmp_path, command, flag):
    target = "/proc/pevmsim-out" + (".png" if flag == "--graph" else ".out")
    done = pevmsim(command, "--workload", "transfer", "--txs", "5", flag, target,
                   cwd=tmp_path)
    assert_usage_error(done, flag, "not writable")
    assert done.stdout == "" and list(tmp_path.iterdir()) == []


def test_workloads_json_to_an_unwritable_path_is_one_line(tmp_path):
    assert_usage_error(pevmsim("workloads", "--json", "/proc/pevmsim.json"), "not writable")


def test_keys_lists_every_key_of_a_row_with_its_unit():
    from simulator.runs.summary import ROW_FIELDS, SWEEP_FIELDS, keys

    done = pevmsim("keys", "--json")
    assert done.returncode == 0, done.stderr
    listed = json.loads(done.stdout)
    assert [item["key"] for item in listed] == [*SWEEP_FIELDS, *HEAD_FIELDS,
                                                *SUMMARY_FIELDS, *ROW_FIELDS]
    assert all(item["unit"] and item["meaning"] for item in listed)
    units = {item["key"]: item["unit"] for item in listed}
    assert units["virtual_makespan_s"] == "seconds (virtual)"
    assert units["wall_time_s"] == "seconds (real)" and units["virtual_speedup"] == "x"
    row = json.loads(pevmsim("run", "--workload", "transfer", "--txs", "3",
                             "--no-other-models", "--json").stdout)
    assert set(row) <= set(units)
    text = pevmsim("keys").stdout
    assert all(line.split()[0] in units for line in text.splitlines()
               if line and not line.startswith(" ") and not line.startswith("Every"))
    assert len(keys()) == len(listed)


def test_help_says_defaults_and_what_virtual_means():
    top = pevmsim("--help").stdout
    assert "virtual workers are simulated cores" in " ".join(top.split())
    run = " ".join(pevmsim("run", "--help").stdout.split())
    assert "(default block-stm)" in run and "not threads of this machine" in run
    assert "default revm: the best-calibrated" in run


def test_progress_names_workers_as_they_are():
    done = pevmsim("compare", "--workload", "transfer", "--txs", "4", "--strategies",
                   "serial,block-stm", "--threads", "1", "--no-other-models")
    assert "serial on one worker:" in done.stderr and "block-stm on 1 worker:" in done.stderr
    assert "1 workers" not in done.stderr + done.stdout
    run = pevmsim("run", "--workload", "transfer", "--txs", "4", "--strategy", "serial",
                  "--no-other-models").stdout
    assert "strategy        serial on one worker, in order" in run


def test_compare_at_one_count_marks_its_best(capsys):
    assert main(["compare", "--workload", "transfer", "--txs", "10", "--threads", "4",
                 "--strategies", "serial,block-stm,monad", "--no-other-models"]) == 0
    rows = [line.split() for line in capsys.readouterr().out.splitlines()
            if line.startswith(("serial ", "block-stm ", "monad "))]
    speedups = {row[0]: float(row[2].rstrip("*")) for row in rows}
    marked = [row[0] for row in rows if row[2].endswith("*")]
    assert marked and all(speedups[name] == max(speedups.values()) for name in marked)
