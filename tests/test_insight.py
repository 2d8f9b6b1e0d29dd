"""Conflict insight: slot names from source and preimages, what-if bounds, the
re-executed transactions, and `pevmsim explain`."""

from __future__ import annotations

import json
import re
import textwrap
from dataclasses import replace
from pathlib import Path

import pytest
from eth_hash.auto import keccak

from simulator.cli.main import main
from simulator.engine.locations import STORAGE
from simulator.costs.cost_model import GasCostModel
from simulator.engine.preimages import recording
from simulator.runs.runner import run_block
from simulator.engine.metrics import DependencyBound, dependency_bound
from simulator.insight.whatif import Rewrite, induced_edges, rewrite, rewritten_reads, touching
from simulator.runs.spec import RunSpec
from workloads.api import BlockBuilder, Contract
from workloads.registry import build_block
from workloads.vyper_build import Artifact, compile_file

ROOT = Path(__file__).resolve().parent.parent
MARKET = Path(__file__).parent / "scenarios" / "market.vy"
VOTING = ROOT / "docs" / "examples" / "voting.vy"
RAW_HASH = re.compile(r"[0-9a-f]{16,}")


def short(address: bytes) -> str:
    return f"0x{address.hex()[:4]}..{address.hex()[-4:]}"


def market_block(market_source):
    """Calls that write every storage shape of market.vy; `market_source` deploys it."""
    chain = BlockBuilder(seed=5)
    users = chain.accounts(5)
    market = market_source(chain)
    txs = [chain.call_tx(users[0], market, "deposit", 10),
           chain.call_tx(users[0], market, "approve", users[1].address, 3),
           chain.call_tx(users[1], market, "list_item", 7, 100),
           chain.call_tx(users[2], market, "reprice", 7, 200),
           chain.call_tx(users[3], market, "enqueue", 11),
           chain.call_tx(users[4], market, "enqueue", 12)]
    return chain.build(txs), market, users


def names_of_writes(block):
    report = run_block(block, RunSpec("block-stm", 4))
    assert report.matches_serial
    written = {location for incarnation in report.incarnations
               for location in incarnation.writes if location[0] == STORAGE}
    return report.namer, written


def test_source_names_for_a_mapping_nested_mapping_struct_member_and_dynamic_array():
    block, market, users = market_block(lambda chain: chain.deploy(MARKET, name="Market"))
    namer, written = names_of_writes(block)
    queue = market.layout["queue"]["slot"]
    expected = {
        market.slot("balances", users[0]): f"Market.balances[{short(users[0].address)}]",
        market.slot("allowance", users[0], users[1]):
            f"Market.allowance[{short(users[0].address)}][{short(users[1].address)}]",
        market.slot("listings", 7): "Market.listings[7].seller",
        market.slot("listings", 7) + 1: "Market.listings[7].price",
        queue: "len(Market.queue)",
        queue + 1: "Market.queue[0]",
        queue + 2: "Market.queue[1]",
    }
    for slot, name in expected.items():
        assert (STORAGE, market.address, slot) in written
        assert namer.name((STORAGE, market.address, slot)) == name
    assert namer.name((STORAGE, market.address, market.slot("owner"))) == "Market.owner"


def test_sourceless_contract_gets_derived_names():
    artifact = compile_file(MARKET)

    def deploy_bytecode(chain):  # no layout: deployed as if its source were unknown
        deployed = chain.deploy(Artifact("market", artifact.bytecode, artifact.abi))
        return Contract(deployed.address, artifact.abi, artifact.layout)

    block, market, users = market_block(deploy_bytecode)
    assert not block.contracts
    namer, _ = names_of_writes(block)
    where = short(market.address)
    balances, allowance = (market.layout[v]["slot"] for v in ("balances", "allowance"))
    assert namer.name((STORAGE, market.address, market.slot("balances", users[0]))) == (
        f"{where} mapping at slot {balances} [{short(users[0].address)}]")
    assert namer.name((STORAGE, market.address, market.slot("allowance", users[0], users[1]))
                      ) == (f"{where} mapping at slot {allowance} "
                            f"[{short(users[0].address)}][{short(users[1].address)}]")


def test_sourceless_erc20_balance_map_found_from_a_transfer():
    artifact = compile_file("erc20")
    chain = BlockBuilder(seed=2)
    users = chain.accounts(3)
    deployed = chain.deploy(Artifact("token", artifact.bytecode, artifact.abi), "T", "T", 0)
    token = Contract(deployed.address, artifact.abi, artifact.layout)
    assert not chain.build([]).contracts
    for user in users:
        chain.set_storage(token, "balanceOf", user, value=10**20)
    block = chain.build([chain.call_tx(users[0], token, "transfer", users[1].address, 5),
                         chain.call_tx(users[1], token, "transfer", users[2].address, 5)])
    namer, _ = names_of_writes(block)
    location = (STORAGE, token.address, token.slot("balanceOf", users[1]))
    assert namer.name(location) == (
        f"ERC-20 {short(token.address)} balanceOf[{short(users[1].address)}]")


def voting_block(proposals=(0, 1)):
    """One vote per proposal: the votes share only the poll's turnout counter."""
    chain = BlockBuilder(seed=1)
    voters = chain.accounts(len(proposals))
    poll = chain.deploy(VOTING, 4)
    block = chain.build([chain.call_tx(voter, poll, "vote", proposal)
                         for voter, proposal in zip(voters, proposals)])
    return block, poll


def test_what_if_removing_the_only_conflict_gives_the_no_conflict_bound():
    block, poll = voting_block()
    report = run_block(block, RunSpec("block-stm", 2))
    turnout = (STORAGE, poll.address, poll.slot("turnout"))
    final = report.incarnations
    assert final[1].reads[turnout] is not None  # the second vote read the first's write
    model = GasCostModel()  # the bound without edges: max(longest, work / 2 threads)
    parts = model.split(final)
    serial = sum(model.serial_costs(final))
    work = sum(loads + rest for loads, rest in parts) + len(parts) * model.SCHEDULE
    longest = max(min(loads, model.COLD_LOAD) + rest for loads, rest in parts)
    no_conflict = serial / min(max(longest, work / 2), serial)
    summary = report.summary
    assert summary["virtual_speedup_bound"] < no_conflict - 1e-9
    [best] = [w for w in summary["whatif"]["locations"] if w["names"] == ["voting.turnout"]]
    assert best == summary["whatif"]["locations"][0]
    assert best["bound_if_removed"] == pytest.approx(no_conflict)
    assert best["bound_as_deltas"] == pytest.approx(no_conflict)  # += is a delta
    assert best["edges"] == 1


def test_what_if_as_deltas_keeps_a_pure_reader_waiting():
    block, poll = voting_block()
    turnout = (STORAGE, poll.address, poll.slot("turnout"))
    final = run_block(block, RunSpec("block-stm", 2)).incarnations
    reader = [final[0], replace(final[1], writes={}, deltas={})]  # reads, never writes
    assert rewrite(reader, (turnout,), Rewrite.DELTA)[1].reads[("what-if", turnout, 0)] == (0, 0)
    assert turnout not in rewrite(final, (turnout,), Rewrite.DELTA)[1].reads


@pytest.mark.parametrize("workload,params", [
    ("nft", {"collections": 1, "hot_ratio": 0.5}),
    ("defi", {"hot_ratio": 0.5, "users": 40}),
    ("supply-chain", {"registry_ratio": 0.5, "hot_ratio": 0.5}),
])
def test_what_if_bounds_never_below_the_real_bound(workload, params):
    block = build_block(workload, 50, seed=3, params=params)
    summary = run_block(block, RunSpec("block-stm", 8), oracle_what_if=True).summary
    whatif = summary["whatif"]
    assert whatif["locations"]
    for entry in whatif["locations"]:
        assert entry["bound_if_removed"] >= summary["virtual_speedup_bound"] - 1e-9
        assert entry["bound_as_deltas"] >= summary["virtual_speedup_bound"] - 1e-9
        assert entry["oracle_if_removed"] >= whatif["oracle_speedup"] - 1e-9
    ranked = [entry["bound_if_removed"] for entry in whatif["locations"]]
    assert ranked == sorted(ranked, reverse=True)


def test_hand_labels_still_win():
    block, poll = voting_block((0, 0))
    turnout = (STORAGE, poll.address, poll.slot("turnout"))
    report = run_block(block, RunSpec("block-stm", 2), labels={turnout: "poll turnout"})
    assert report.namer.name(turnout) == "poll turnout"
    assert report.namer.derived(turnout) == "voting.turnout"
    votes = (STORAGE, poll.address, poll.slot("votes", 0))
    assert report.namer.name(votes) == "voting.votes[0]"
    [row] = report.summary["conflicts"]  # the second vote's stale read of the tally
    assert row["name"] == row["label"] == "voting.votes[0]"
    whatif = {name for entry in report.summary["whatif"]["locations"]
              for name in entry["names"]}
    assert {"poll turnout", "voting.votes[0]"} <= whatif and "voting.turnout" not in whatif


def test_nft_conflicts_carry_source_names_not_hashes(capsys):
    code = main(["run", "--workload", "nft", "--set", "collections=1", "--set",
                 "hot_ratio=0.5", "--txs", "60", "--json", "-"])
    assert code == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["conflicts"]
    for entry in summary["conflicts"]:
        for text in (entry["name"], entry["label"]):
            assert text and not RAW_HASH.search(text), text
    names = [entry["name"] for entry in summary["conflicts"]]
    assert "Collection0.totalSupply" in names
    for entry in summary["whatif"]["locations"] + summary["reexecuted"]:
        assert not RAW_HASH.search(json.dumps(entry.get("names", entry.get("forced_by"))))


PLUGIN = '''
    from pathlib import Path

    from workloads.api import BlockBuilder, Param, Workload

    CONTRACT = Path({contract!r})


    class Poll(Workload):
        name = "poll"
        description = "votes on a poll, no labels()"
        params = (Param("voters", 100, "number of voters", int, min=1),)

        def setup(self, chain: BlockBuilder) -> None:
            self.voter_accounts = chain.accounts(self.voters)
            self.poll = chain.deploy(CONTRACT, 2)

        def transactions(self, chain: BlockBuilder, n: int) -> list:
            return [chain.call_tx(voter, self.poll, "vote", chain.pick(range(2), 0.8))
                    for voter in chain.rng.sample(self.voter_accounts, n)]
'''


def test_file_plugin_without_labels_gets_source_names(tmp_path, capsys):
    plugin = tmp_path / "poll.py"
    plugin.write_text(textwrap.dedent(PLUGIN.format(contract=str(VOTING))))
    code = main(["run", "--workload", f"{plugin}:Poll", "--txs", "30", "--threads", "8",
                 "--json", "-"])
    assert code == 0
    summary = json.loads(capsys.readouterr().out)
    labels = {entry["label"] for entry in summary["conflicts"]}
    assert {"voting.turnout", "voting.votes[0]"} <= labels
    assert {name for entry in summary["whatif"]["locations"] for name in entry["names"]
            } >= {"voting.turnout", "voting.votes[0]"}


def test_reexecuted_transactions_name_what_forced_them():
    block = build_block("nft", 40, seed=1, params={"collections": 1, "hot_ratio": 1.0,
                                                   "mint_weight": 1.0, "transfer_weight": 0,
                                                   "list_weight": 0, "buy_weight": 0})
    report = run_block(block, RunSpec("block-stm", 8))
    reexecuted = report.summary["reexecuted"]
    assert reexecuted
    executions = report.metrics.executions_per_tx(len(block))
    for entry in reexecuted:
        assert entry["executions"] == executions[entry["tx"]] > 1
        assert sum(cause["count"] for cause in entry["forced_by"]) >= 1
    causes = {cause["name"] for entry in reexecuted for cause in entry["forced_by"]}
    assert "Collection0.totalSupply" in causes


def test_preimages_are_recorded_without_changing_execution():
    block, poll = voting_block()
    with recording() as table:
        report = run_block(block, RunSpec("block-stm", 2))
    assert report.matches_serial and table == {}  # run_block records into its own table
    block, market, users = market_block(lambda chain: chain.deploy(MARKET, name="Market"))
    from simulator.strategies.prepass import serial_prepass
    from simulator.engine.versioned_state import ExecutionEnv, PreState

    env = ExecutionEnv(block, PreState(block.db, block.pre_state_root), True)
    with recording() as table:
        serial_prepass(env)
    assert market.slot("balances", users[0]) in table
    assert all(int.from_bytes(keccak(preimage), "big") == digest
               for digest, preimage in table.items())


def test_explain_prints_the_ranking_and_draws_the_graph(tmp_path, capsys):
    graph = tmp_path / "graph.png"
    code = main(["explain", "--workload", "nft", "--set", "collections=1", "--set",
                 "hot_ratio=0.5", "--txs", "40", "--threads", "8", "--graph", str(graph)])
    out = capsys.readouterr().out
    assert code == 0
    assert "What fixing a location would buy" in out
    assert "NFT collection 0 next token id (totalSupply)" in out  # the hand label
    assert graph.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("argv,message", [
    (["--graph", "out.svg"], "--graph writes a PNG file"),
    (["--txs", "150", "--graph", "g.png"], "--graph draws blocks of at most"),
    (["--graph", "/no/such/dir/g.png"], "no such directory"),
])
def test_explain_bad_input_is_one_line(argv, message, capsys):
    base = ["explain", "--workload", "transfer", "--txs", "5"]
    assert main(base + argv) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_mainnet_usdt_balance_map_is_named_from_real_transfers():
    block = build_block("mainnet", 134, params={"block": 12522062})
    summary = run_block(block, RunSpec("block-stm", 16)).summary
    assert summary["matches_serial"]
    names = [entry["name"] for entry in summary["conflicts"]]
    # USDT has no source: its balance map is found from real transfers, and its name
    # comes from the vendored list of well-known contracts
    assert names[0].startswith("ERC-20 USDT balanceOf[0x")
    assert not any(RAW_HASH.search(name) for name in names)


@pytest.mark.parametrize("workload,params", [
    ("erc20", {"accounts": 20, "hot_ratio": 0.5}),
    ("defi", {"hot_ratio": 0.5, "users": 40}),
])
def test_the_incremental_what_if_bound_is_the_full_recomputation(workload, params):
    """DependencyBound.makespan(changed) recomputes only downstream of a rewrite; it
    must give the very float a full pass over the rewritten graph gives."""
    final = run_block(build_block(workload, 60, seed=1, params=params), RunSpec("block-stm", 8)).incarnations
    model = GasCostModel()
    parts = model.split(final)
    bound = DependencyBound(final, parts, 8, model.SCHEDULE, model.COLD_LOAD)
    txs = touching(final)
    locations = sorted(induced_edges(final), key=repr)
    assert len(locations) > 20
    for location in locations:
        for how in Rewrite:
            full = dependency_bound(rewrite(final, (location,), how), parts, 8,
                                    model.SCHEDULE, model.COLD_LOAD)
            assert bound.makespan(rewritten_reads(final, (location,), how, txs)) == full


def test_known_contracts_list_is_well_formed_and_cited():
    import csv

    from eth_utils import to_checksum_address

    from simulator.insight import naming

    rows = list(csv.DictReader(naming.KNOWN_CONTRACTS.open()))
    assert {"WETH", "USDT", "USDC", "DAI", "Uniswap V2 Router02"} <= {r["name"] for r in rows}
    for row in rows:  # checksummed (EIP-55, so no typo), one name each, a cited source
        assert to_checksum_address(row["address"]) == row["address"]
        assert row["source"] in naming.__doc__
    assert len({row["address"].lower() for row in rows}) == len(rows)
    assert len(naming.known_contracts()) == len(rows)


def explained(*args):
    import subprocess
    import sys

    pevmsim = Path(sys.executable).with_name("pevmsim")
    done = subprocess.run([str(pevmsim), "explain", *args], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return done.stdout


DEFI = ["--workload", "defi", "--set", "hot_ratio=0.5", "--txs", "120", "--threads", "16",
        "--cost-model", "gas"]


def test_explain_ranks_fixes_together_folds_idle_rows_and_explains_ties():
    summary = json.loads(explained(*DEFI, "--json"))
    whatif, bound = summary["whatif"], summary["virtual_speedup_bound"]
    ranked = whatif["locations"]
    together = whatif["together"]
    assert [entry["k"] for entry in together] == [2, 3, 5][:len(together)] and together
    best_alone = max(entry["bound_if_removed"] for entry in ranked)
    for entry in together:  # fewer edges: never below the best of its parts alone
        assert entry["bound_if_removed"] >= max(
            e["bound_if_removed"] for e in ranked if set(e["names"]) <= set(entry["names"]))
    assert together[-1]["bound_if_removed"] >= best_alone >= bound
    for tie in whatif["ties"]:
        values = {round(ranked[rank - 1]["bound_if_removed"], 2) for rank in tie["ranks"]}
        assert len(values) == 1 and len(tie["ranks"]) >= 2
        assert tie["shared_edges"] <= tie["edges"]
        assert tie["bound_if_removed_together"] >= ranked[tie["ranks"][0] - 1]["bound_if_removed"]
    text = explained(*DEFI)
    idle = [e for e in ranked if f"{e['bound_if_removed']:.2f}" == f"{bound:.2f}"]
    shown = [line for line in text.splitlines() if f"{bound:.2f}x -> {bound:.2f}x" in line
             and not line.lstrip().startswith("top")]
    assert shown == []  # a row that gains nothing is not a row of its own
    if idle:
        assert f"{len(idle)} more location" in text and "gain nothing removed alone" in text
    assert "Fixing the top locations together" in text
    assert text.count("  tie: ") == len(whatif["ties"])


def test_explain_full_addresses():
    short = explained(*DEFI)
    full = explained(*DEFI, "--full-addresses")
    cut = re.findall(r"0x[0-9a-f]{4}\.\.[0-9a-f]{4}", short)
    assert cut and not re.findall(r"0x[0-9a-f]{4}\.\.[0-9a-f]{4}", full)
    for text in set(cut):
        head, tail = text[2:6], text[-4:]
        assert re.search(rf"0x{head}[0-9a-f]{{32}}{tail}(?![0-9a-f])", full), text
