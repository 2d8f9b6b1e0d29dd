"""`pevmsim fetch` against a real JSON-RPC server on 127.0.0.1 (tests/rpc_node.py,
serving the vendored blocks in geth's shapes, with 429s and dropped connections), then
replay: the fetched copy must give the same pre-state, gas, receipts root and
post-state as the vendored copy. Resume, and every error case: one line, exit 2."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from rpc_node import Fault, Node
from simulator.cli.main import main
from simulator.runs.runner import run_block
from simulator.sources.block_store import BlockStore
from simulator.runs.spec import RunSpec
from workloads.mainnet import VENDORED, load_block

PEVMSIM = str(Path(sys.executable).parent / "pevmsim")
PAIR = (15537393, 15537394)  # the last proof-of-work block and the Merge block


def pevmsim(*args):
    return subprocess.run([PEVMSIM, *map(str, args)], capture_output=True, text=True,
                          timeout=120)


def fetch(node, blocks, out, *extra):
    return pevmsim("fetch", "--rpc", node.url, "--blocks", blocks, "--out", out, *extra)


def snapshot(directory: Path) -> dict:
    return {str(p.relative_to(directory)): p.read_bytes()
            for p in sorted(directory.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def pair_dir(tmp_path_factory):
    """15537393..15537394 fetched through a flaky node."""
    out = tmp_path_factory.mktemp("fetched") / "blocks"
    with Node(PAIR) as node:
        done = fetch(node, "15537393..15537394", out)
        assert done.returncode == 0, done.stderr
        assert node.faults["429"] and node.faults["dropped"]  # retried, not fatal
    return out


def replay_json(capsys, *settings):
    args = ["run", "--workload", "mainnet", "--txs", "all", "--threads", "8", "--json", "-"]
    for setting in settings:
        args += ["--set", setting]
    assert main(args) == 0
    return json.loads(capsys.readouterr().out)


def test_fetched_range_replays_like_the_vendored_blocks(pair_dir, capsys):
    store = BlockStore(pair_dir)
    assert store.numbers() == list(PAIR) and store.chain_id() == 1
    for number in PAIR:
        if number == PAIR[1]:  # the acceptance command, as a user types it
            done = pevmsim("run", "--workload", "mainnet", "--set", f"dir={pair_dir}",
                           "--set", f"block={number}", "--txs", "all", "--json", "-")
            assert done.returncode == 0, done.stderr
            fetched = json.loads(done.stdout)
        else:
            fetched = replay_json(capsys, f"dir={pair_dir}", f"block={number}")
        vendored = replay_json(capsys, f"block={number}")
        assert fetched["matches_serial"]
        assert fetched["header_check"] == {"gas_used": True, "receipts_root": True}
        for key in ("txs", "gas_used", "state_root", "virtual_speedup", "executions"):
            assert fetched[key] == vendored[key]
        assert (load_block(number, store=store).pre_state_root
                == load_block(number).pre_state_root)
    # BLOCKHASH sees every ancestor: the 256 before the first block, then the first block
    hashes = store.ancestor_hashes()
    assert set(range(PAIR[0] - 256, PAIR[1] + 1)) <= set(hashes)
    assert hashes[PAIR[0]] == bytes.fromhex(VENDORED.block(PAIR[1])["parentHash"][2:])


ERAS = (1150000, 19923400)  # Homestead (before receipts roots check); Cancun, with blobs


@pytest.fixture(scope="module")
def era_dir(tmp_path_factory):
    """Two blocks of distant eras, fetched one after the other into one directory."""
    out = tmp_path_factory.mktemp("eras") / "blocks"
    with Node(ERAS) as node:
        for number in ERAS:
            done = fetch(node, number, out)
            assert done.returncode == 0, done.stderr
            assert f"fetched block {number}" in done.stderr  # a line per block, no tty
    return out


@pytest.mark.parametrize("number", ERAS)
def test_fetched_block_of_another_era_replays_like_the_vendored_one(number, era_dir):
    ours = load_block(number, store=BlockStore(era_dir))
    theirs = load_block(number)
    assert ours.pre_state_root == theirs.pre_state_root
    fetched, vendored = run_block(ours, RunSpec("block-stm", 8)), run_block(theirs, RunSpec("block-stm", 8))
    assert fetched.matches_serial
    assert fetched.result.state_root == vendored.result.state_root
    assert fetched.result.receipts == vendored.result.receipts
    check = fetched.summary["header_check"]
    assert check["gas_used"] and check["receipts_root"] is (number > 4370000 or None)


def test_a_sweep_over_a_block_directory_reports_the_distribution(era_dir, tmp_path,
                                                                   capsys):
    suite = tmp_path / "mine.toml"
    suite.write_text(f'txs = "all"\nthreads = [1, 4]\nstrategies = ["block-stm", "monad"]\n'
                     f'[[workloads]]\nname = "mainnet"\nblocks = "all"\n'
                     f'params = {{ dir = "{era_dir}" }}\n')
    out = tmp_path / "results"
    assert main(["sweep", str(suite), "--out", str(out)]) == 0
    rows = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    assert sorted({(r["params"]["block"], r["txs"]) for r in rows}) == [(1150000, 9),
                                                                       (19923400, 24)]
    assert main(["report", str(out)]) == 0
    report = (out / "report.md").read_text()
    assert "## Speedup over 2 recorded blocks" in report
    assert (out / "charts" / "block_speedups.png").stat().st_size > 10_000
    table = report[report.index("| block | txs |"):].split("\n\n")[0].splitlines()[2:]
    speedups = {int(row.split(" | ")[0].strip("| ")): row.split(" | ") for row in table}
    assert sorted(speedups) == list(ERAS)
    for number in ERAS:  # the focus speedup in the table is the sweep's own figure
        focus = [r["virtual_speedup"] for r in rows if r["params"]["block"] == number
                 and r["strategy"] == "block-stm" and r["threads"] == 4]
        assert speedups[number][4] == f"{focus[0]:.2f}"
    assert "gas matches" in speedups[1150000][-1] and speedups[19923400][-1] == "matches |"
    assert "### Worst blocks" in report and "### Best blocks" in report


def test_the_vendored_suite_takes_every_block_with_transactions_whole():
    from simulator.harness.suite import load_suite

    suite = load_suite("mainnet")
    sizes = {dict(b.params)["block"]: b.txs for b in suite.blocks}
    assert sorted(sizes) == [n for n in VENDORED.numbers() if VENDORED.block(n)["transactions"]]
    assert len(sizes) == 49 and sizes[13287210] == 1414


def test_an_interrupted_fetch_resumes_with_only_the_missing_blocks(tmp_path):
    out = tmp_path / "out"
    with Node(PAIR, fault=Fault.DOWN, down_at=PAIR[1]) as node:
        failed = fetch(node, "15537393..15537394", out, "--retries", "1")
    assert failed.returncode == 2
    assert BlockStore(out).numbers() == [PAIR[0]]
    assert "1 block kept" in failed.stderr
    with Node(PAIR) as node:
        done = fetch(node, "15537393..15537394", out)
        assert done.returncode == 0, done.stderr
        fetched = {number for (method, number) in node.calls
                   if method in ("eth_getBlockByNumber", "debug_traceBlockByNumber")}
    assert fetched == {PAIR[1]}  # no block and no ancestor fetched twice
    assert "1 already in" in done.stdout
    assert BlockStore(out).numbers() == list(PAIR)
    with Node(PAIR) as node:  # everything present: nothing but the chain checks
        assert fetch(node, "15537393..15537394", out).returncode == 0
        assert {method for method, _ in node.calls} == {"eth_chainId", "eth_blockNumber"}


@pytest.fixture
def first_block_dir(pair_dir, tmp_path):
    """A directory holding 15537393 only, as a user's earlier fetch left it."""
    out = tmp_path / "out"
    shutil.copytree(pair_dir, out)
    shutil.rmtree(out / "blocks" / str(PAIR[1]))
    return out


@pytest.mark.parametrize("node_args, blocks, complaint", [
    ({"fault": Fault.NO_DEBUG}, "15537393..15537394", "has no debug namespace"),
    ({"fault": Fault.PRUNED}, "15537393..15537394", "its state is pruned"),
    ({"fault": Fault.TRUNCATED}, "15537393..15537394", "not valid JSON"),
    ({"head": PAIR[0]}, "15537393..15537394", "beyond the chain head (15537393)"),
    ({"chain_id": 5}, "15537393..15537394", "chain id 5"),
    ({"fault": Fault.RATE_LIMITED}, "15537393..15537394", "6 tries (last: HTTP 429)"),
    (None, "15537393..15537394", "no answer from"),
    ({}, "9..3", "--blocks 9..3"),
], ids=["no-debug", "pruned", "truncated", "beyond-head", "unknown-chain", "rate-limited",
        "unreachable", "bad-range"])
def test_each_error_is_one_line_exit_2_and_keeps_what_was_fetched(
        first_block_dir, node_args, blocks, complaint):
    before = snapshot(first_block_dir)
    with Node(PAIR, flaky=False, **(node_args or {})) as node:
        url = node.url
        if node_args is not None:
            done = fetch(node, blocks, first_block_dir)
    if node_args is None:  # the node has gone: nothing listens on its port
        done = pevmsim("fetch", "--rpc", url, "--blocks", blocks, "--out", first_block_dir,
                       "--retries", "1")
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("pevmsim: error: "), done.stderr
    assert complaint in lines[0] and "Traceback" not in done.stderr
    assert snapshot(first_block_dir) == before


def test_a_directory_of_another_chain_is_refused(first_block_dir, capsys):
    (first_block_dir / "chain.json").write_text('{"chain_id": 10}\n')
    assert main(["run", "--workload", "mainnet", "--set", f"dir={first_block_dir}",
                 "--set", f"block={PAIR[0]}", "--txs", "all"]) == 2
    assert "chain 10" in capsys.readouterr().err


@pytest.mark.parametrize("args, complaint", [
    (["--workload", "erc20", "--txs", "all"], "makes blocks of any size"),
    (["--workload", "mainnet", "--set", "block=19910734", "--txs", "all"],
     "no transactions"),
    (["--workload", "mainnet", "--set", "dir=/nonexistent", "--txs", "all"],
     "not a block directory"),
])
def test_txs_all_needs_a_recorded_block_with_transactions(args, complaint, capsys):
    assert main(["run", *args]) == 2
    assert complaint in capsys.readouterr().err


# -- today's forks: a Prague block with EIP-7702 transactions, Osaka and BPO2 blocks ---
@pytest.fixture(scope="module")
def recent_dirs(tmp_path_factory):
    """(the directory the test node serves, {name: number}): blocks built by
    tests/scenarios/recent.py, their header's gas and receipts root EELS's."""
    from scenarios.recent import write_recent_blocks

    served = tmp_path_factory.mktemp("recent") / "served"
    return served, write_recent_blocks(served)


@pytest.mark.parametrize("name", ["prague", "osaka", "bpo2"])
def test_a_recent_block_fetches_then_replays_and_eels_agrees(recent_dirs, name, tmp_path):
    served, numbers = recent_dirs
    number = numbers[name]
    out = tmp_path / "fetched"
    with Node([number], store=BlockStore(served)) as node:
        done = fetch(node, number, out)
        assert done.returncode == 0, done.stderr
        assert node.faults["429"] or node.faults["dropped"]
    block = load_block(number, store=BlockStore(out))
    assert block.vm_class.fork == name
    assert block.pre_state_root == load_block(number, store=BlockStore(served)).pre_state_root
    if name == "prague":
        assert {tx.type_id for tx in block.transactions} == {2, 4}
    done = pevmsim("run", "--workload", "mainnet", "--set", f"dir={out}", "--set",
                   f"block={number}", "--txs", "all", "--oracle", "eels", "--json", "-")
    assert done.returncode == 0, done.stderr
    row = json.loads(done.stdout)
    assert row["matches_serial"] and row["failed_txs"] == (1 if name != "prague" else 0)
    assert row["header_check"] == {"gas_used": True, "receipts_root": True}
    assert row["second_oracle"] == {"oracle": "eels", "agrees": True, "disagreements": []}
    verified = pevmsim("verify", out)
    assert verified.returncode == 0, verified.stderr
    assert f"block {number} ({name}, {len(block)} txs): EELS agrees" in verified.stdout


def test_a_block_of_a_later_fork_is_refused_by_fetch_and_run(recent_dirs, tmp_path):
    served, numbers = recent_dirs
    later = tmp_path / "later"
    shutil.copytree(served, later)
    number = numbers["bpo2"]
    path = later / "blocks" / str(number) / "block.json"
    path.write_text(json.dumps(dict(json.loads(path.read_text()), timestamp=hex(1_790_000_000),
                                    blockAccessListHash="0x" + "00" * 32)))
    refusal = (f"pevmsim: error: block {number} (timestamp 1790000000) is of a fork after "
               "BPO2, the last pevmsim implements: its header has blockAccessListHash "
               "(EIP-7928, Glamsterdam)")
    with Node([number], store=BlockStore(later), flaky=False) as node:
        done = fetch(node, number, tmp_path / "out")
        assert node.calls[("debug_traceBlockByNumber", number)] == 0  # refused first
    assert done.returncode == 2 and done.stderr.strip() == refusal + " (0 blocks kept in " \
        f"{tmp_path / 'out'})"
    ran = pevmsim("run", "--workload", "mainnet", "--set", f"dir={later}", "--set",
                  f"block={number}", "--txs", "all")
    assert ran.returncode == 2 and ran.stderr.strip() == refusal
