"""The benchmark harness: suite validation, sweep, resume, interruption and report."""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import pytest

from installed import assert_usage_error, pevmsim
from simulator.cli.main import main
from simulator.harness import sweep as sweep_module
from simulator.harness.report import report
from simulator.harness.suite import load_suite
from simulator.harness.sweep import RESULTS, read_results, sweep
from simulator.progress import Progress
from simulator.strategies import STRATEGIES

TINY = """
name = "tiny"
txs = 20
threads = [1, 4]
strategies = ["serial", "block-stm"]

[[workloads]]
name = "erc20"
params = { accounts = 20, hot_ratio = [0.0, 0.8] }

[[workloads]]
name = "transfer"
params = { accounts = 5 }
"""


def write_suite(tmp_path, text: str, name: str = "tiny.toml"):
    path = tmp_path / name
    path.write_text(text)
    return path


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """A finished sweep of TINY: (suite path, results dir)."""
    tmp = tmp_path_factory.mktemp("finished")
    path = write_suite(tmp, TINY)
    out = tmp / "out"
    assert main(["sweep", str(path), "--out", str(out)]) == 0
    return path, out


# -- suite validation ---------------------------------------------------------------
@pytest.mark.parametrize("change, words", [
    (("txs = 20", "txs = 20\nthread = [1]"), ["thread", "unknown key", "threads"]),
    (('name = "erc20"', 'name = "erc2O"'), ["workloads[0].name", "erc2O", "transfer"]),
    (('["serial", "block-stm"]', '["serial", "blockstm"]'),
     ["strategies", "blockstm", "block-stm"]),
    (("accounts = 20,", "acounts = 20,"), ["workloads[0].params.acounts", "accounts"]),
    (("accounts = 20,", "accounts = 1,"), ["workloads[0].params.accounts", ">= 2"]),
    (("hot_ratio = [0.0, 0.8]", 'hot_ratio = "hot"'), ["hot_ratio", "must be float"]),
    (("threads = [1, 4]", "threads = [0, 4]"), ["threads", ">= 1"]),
    (("txs = 20", 'txs = 20\ncost_models = ["wall"]'), ["cost_models", "wall", "gas"]),
    (("accounts = 5 }", "accounts = 5 }\n[focus]\nthreads = 8"), ["focus.threads", "1, 4"]),
    (("txs = 20", "txs = [20"), ["invalid TOML"]),
    (("accounts = 5 }", 'accounts = 5 }\n[[variants]]\nstrategy = "monad"\noptions = { fiber = 4 }'),
     ["variants[0].options.fiber", "unknown option", "fibers"]),
    (("accounts = 5 }", 'accounts = 5 }\n[[variants]]\nstrategy = "sei"\noptions = { version = "v9" }'),
     ["variants[0].options.version", "occ-dev-2023"]),
    (("accounts = 5 }", 'accounts = 5 }\n[[variants]]\nstrategy = "monda"\noptions = { fibers = 4 }'),
     ["variants[0].strategy", "monda", "monad"]),
])
def test_bad_suites_fail_before_running(tmp_path, capsys, change, words):
    path = write_suite(tmp_path, TINY.replace(*change))
    out = tmp_path / "out"
    assert main(["sweep", str(path), "--out", str(out)]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and error.startswith("pevmsim: error: ")
    assert str(path) in error
    for word in words:
        assert word in error
    assert not out.exists()


def test_unknown_suite_name(capsys):
    assert main(["sweep", "no-such-suite", "--out", "x"]) == 2
    assert "smoke" in capsys.readouterr().err


def test_grid_expansion_and_all_strategies(tmp_path):
    path = write_suite(tmp_path, TINY.replace('["serial", "block-stm"]', '"all"'))
    suite = load_suite(str(path))
    assert len(suite.blocks) == 3  # erc20 x 2 hot ratios, transfer
    assert len(suite.configs) == 3 * len(STRATEGIES) * 2
    assert {c.run.strategy for c in suite.configs} == set(STRATEGIES)
    assert len({c.key for c in suite.configs}) == len(suite.configs)
    assert (suite.focus_strategy, suite.focus_threads) == ("block-stm", 4)
    omitted = load_suite(str(write_suite(tmp_path, TINY.replace(
        'strategies = ["serial", "block-stm"]', ""), "omitted.toml")))
    assert {c.run.strategy for c in omitted.configs} == set(STRATEGIES)


SEED_SYSTEMS = """
name = "seed"
txs = 20
threads = [4, 8, 32]
strategies = ["block-stm", "monad", "sei"]

[[workloads]]
name = "erc20"
params = { accounts = 20 }

[[variants]]
strategy = "monad"
options = { relaxed_merge = 1 }
threads = [4]

[[variants]]
strategy = "sei"
options = { version = "occ-dev-2023" }
threads = [32]
cost_models = ["gas-disk"]
"""


def test_variants_add_runs_with_their_options_on_every_block(tmp_path):
    suite = load_suite(str(write_suite(tmp_path, SEED_SYSTEMS)))
    variants = [c.run for c in suite.configs if c.run.strategy_options]
    assert [(run.strategy, run.threads, run.options) for run in variants] == [
        ("monad", 4, {"relaxed_merge": 1})]  # the sei variant's cost model is not run
    assert len(suite.configs) == 9 + 1
    assert len({c.key for c in suite.configs}) == len(suite.configs)
    assert [c.key for c in suite.configs if c.run.strategy_options][0].endswith(
        "monad threads=4 gas lazy=yes relaxed_merge=1")


def test_report_shows_the_seed_systems_as_shipped_and_their_sensitivity(tmp_path):
    out = tmp_path / "out"
    text = SEED_SYSTEMS.replace('cost_models = ["gas-disk"]\n', "")
    assert main(["sweep", str(write_suite(tmp_path, text)), "--out", str(out)]) == 0
    report(out)
    rows = read_results(out)
    figure = {(row["strategy"], row["threads"], json.dumps(row.get("strategy_options"))):
              row["virtual_speedup"] for row in rows}
    markdown = (out / "report.md").read_text()
    shipped = markdown.split("## The seed systems as shipped")[1].split("\n## ")[0]
    assert (out / "charts" / "shipped.png").exists()
    assert ("| setting | monad 4 (shipped) | monad 8 | monad 32 | sei 8 | "
            "sei 32 (shipped) | block-stm 8 | block-stm 32 | dependency bound 32 |") in shipped
    assert f"| {figure[('monad', 4, 'null')]:.2f} | {figure[('monad', 8, 'null')]:.2f} |" \
        in shipped
    sensitivity = shipped.split("### Sensitivity")[1]
    relaxed, dev = (figure[("monad", 4, '{"relaxed_merge": 1}')],
                    figure[("sei", 32, '{"version": "occ-dev-2023"}')])
    assert (f"| monad | 4 | relaxed_merge=1 | {relaxed:.2f} "
            f"({relaxed - figure[('monad', 4, 'null')]:+.2f}) |") in sensitivity
    assert f"| sei | 32 | version=occ-dev-2023 | {dev:.2f} (" in sensitivity
    assert f"| sei | 32 | defaults | {figure[('sei', 32, 'null')]:.2f} |" in sensitivity
    # the variants stay out of every other table: one monad column, its defaults'
    assert "relaxed_merge" not in markdown.split("## The seed systems as shipped")[0]


def test_bundled_suites_are_valid():
    for name in ("smoke", "default", "contention", "paper", "shipped"):
        assert load_suite(name).configs


# -- sweep --------------------------------------------------------------------------
def test_sweep_writes_every_configuration(finished):
    path, out = finished
    rows = read_results(out)
    keys = [config.key for config in load_suite(str(path)).configs]
    assert sorted(row["key"] for row in rows) == sorted(keys)  # in any order (Dask)
    assert len(keys) == 12 and all(row["matches_serial"] for row in rows)
    assert {"workload", "params", "seed", "suite", "virtual_speedup", "conflicts"} <= set(rows[0])
    meta = json.loads((out / "meta.json").read_text())
    assert meta["suite"]["content"] == path.read_text()
    assert meta["cost_models"]["gas"]["PER_GAS"] > 0
    assert {p.name for p in (out / "timelines").iterdir()} == {"erc20.json",
                                                               "transfer.json"}


def test_resume_of_a_finished_sweep_runs_nothing(finished, capsys):
    path, out = finished
    before = (out / RESULTS).read_bytes()
    assert main(["sweep", str(path), "--out", str(out), "--resume"]) == 0
    assert "0 runs (12 already finished)" in capsys.readouterr().out
    assert (out / RESULTS).read_bytes() == before


def test_sweep_exports_csv_and_json(finished, tmp_path, capsys):
    import csv

    path, out = finished
    table, rows = tmp_path / "rows.csv", tmp_path / "rows.json"
    assert main(["sweep", str(path), "--out", str(out), "--resume", "--csv", str(table),
                 "--json", str(rows)]) == 0
    written = list(csv.DictReader(table.open()))
    assert [row["key"] for row in written] == [row["key"] for row in read_results(out)]
    assert {"param.accounts", "param.hot_ratio", "virtual_speedup"} <= set(written[0])
    assert json.loads(rows.read_text()) == read_results(out)


def test_sweep_output_path_is_checked_first(tmp_path, capsys):
    path = write_suite(tmp_path, TINY)
    assert main(["sweep", str(path), "--out", str(tmp_path / "out"), "--csv",
                 str(tmp_path / "absent" / "x.csv")]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_sweep_refuses_a_used_directory_without_resume(finished, capsys):
    path, out = finished
    assert main(["sweep", str(path), "--out", str(out)]) == 2
    assert "--resume" in capsys.readouterr().err


def test_interrupted_sweep_resumes_to_every_configuration_once(tmp_path, monkeypatch):
    suite = load_suite(str(write_suite(tmp_path, TINY)))
    out = tmp_path / "out"
    real = sweep_module.run_block
    calls = []

    def interrupted(*args, **kwargs):
        if len(calls) == 5:
            raise KeyboardInterrupt
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(sweep_module, "run_block", interrupted)
    with pytest.raises(KeyboardInterrupt):
        sweep(suite, out, progress=Progress(io.StringIO()))
    monkeypatch.setattr(sweep_module, "run_block", real)
    assert len(read_results(out)) == 5
    with open(out / RESULTS, "a") as results:
        results.write('{"key": "torn by a ki')  # a line cut short by a kill
    log = io.StringIO()
    stats = sweep(suite, out, resume=True, progress=Progress(log))
    assert (stats.ran, stats.skipped) == (7, 5)
    warning, *lines = log.getvalue().splitlines()  # off a terminal: a line per run
    assert warning == (f"pevmsim: warning: {out / RESULTS} line 6: not a JSON row (torn "
                       "or corrupt); cut, its run runs again")
    assert [line.split("]")[0] for line in lines] == [f"pevmsim: tiny [{k}/12"
                                                     for k in range(6, 13)]
    keys = [row["key"] for row in read_results(out)]
    assert sorted(keys) == sorted(c.key for c in suite.configs)


# -- report -------------------------------------------------------------------------
def test_report_writes_charts_and_documents(finished):
    _, out = finished
    report(out)
    assert len(list((out / "charts").glob("*.png"))) >= 4
    assert len(list((out / "charts").glob("timeline_*.svg"))) == 2
    markdown = (out / "report.md").read_text()
    assert "All 12 runs match" in markdown and "charts/overview.png" in markdown
    assert "<img" in (out / "report.html").read_text()


def test_report_has_the_what_if_chart(finished, tmp_path):
    _, out = finished
    report(out)
    assert (out / "charts" / "whatif.png").exists()
    markdown = (out / "report.md").read_text()
    assert "charts/whatif.png" in markdown
    erc20_hot = [row for row in read_results(out) if row["params"].get("hot_ratio") == 0.8
                 and (row["strategy"], row["threads"]) == ("block-stm", 4)]
    top = erc20_hot[0]["whatif"]["locations"][0]
    assert any(line.startswith(f"| erc20 (hot_ratio=0.8) | {top['name']} | ")
               and f"| {top['bound_if_removed']:.2f} |" in line
               for line in markdown.splitlines())
    old = tmp_path / "old"  # results swept before what-if existed
    old.mkdir()
    (old / "meta.json").write_text((out / "meta.json").read_text())
    rows = [{k: v for k, v in row.items() if k != "whatif"} for row in read_results(out)]
    (old / RESULTS).write_text("".join(json.dumps(row) + "\n" for row in rows))
    report(old)
    assert "hold no what-if data" in (old / "report.md").read_text()
    assert not (old / "charts" / "whatif.png").exists()


def test_report_flags_runs_that_do_not_match_serial(finished, tmp_path):
    _, out = finished
    copy = tmp_path / "copy"
    copy.mkdir()
    (copy / "meta.json").write_text((out / "meta.json").read_text())
    rows = read_results(out)
    rows[3].update(matches_serial=False, mismatches=["receipt 7: gas differs"])
    (copy / RESULTS).write_text("".join(json.dumps(row) + "\n" for row in rows))
    report(copy)
    markdown = (copy / "report.md").read_text()
    assert "1 OF 12 RUNS DO NOT MATCH SERIAL" in markdown
    assert "receipt 7: gas differs" in markdown
    assert 'class="alert"' in (copy / "report.html").read_text()


def test_report_of_an_empty_directory_is_a_usage_error(tmp_path, capsys):
    assert main(["report", str(tmp_path)]) == 2
    assert "pevmsim sweep" in capsys.readouterr().err


def test_a_workload_with_an_invalid_transaction_stops_the_sweep(tmp_path, capsys):
    plugin = tmp_path / "skip.py"
    plugin.write_text(
        "from workloads.api import Workload\n\n"
        "class SkipNonce(Workload):\n"
        "    name = 'skip-nonce'\n"
        "    description = 'skips its first nonce'\n\n"
        "    def setup(self, chain):\n"
        "        self.users = chain.accounts(2)\n\n"
        "    def transactions(self, chain, n):\n"
        "        txs = [chain.transfer(self.users[0], self.users[1].address, 1)\n"
        "               for _ in range(n + 1)]\n"
        "        return txs[1:]\n")
    path = write_suite(tmp_path, f'name = "skip"\ntxs = 3\nthreads = [1]\n\n'
                                 f'[[workloads]]\nname = "{plugin}:SkipNonce"\n')
    assert main(["sweep", str(path), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert "skip-nonce" in err and "transaction 0 is invalid" in err and str(path) in err


REAL = """
name = "real"
txs = 12
threads = [1, 2]
strategies = ["serial", "block-stm"]
backends = ["simulated", "processes"]

[[workloads]]
name = "erc20"
params = { accounts = 50 }
"""


def test_a_suite_with_real_rows_sweeps_and_reports_them(tmp_path, capsys):
    path = write_suite(tmp_path, REAL, "real.toml")
    assert main(["sweep", str(path), "--out", str(tmp_path / "busy"), "--jobs", "2"]) == 2
    assert "--jobs 1" in capsys.readouterr().err
    out = tmp_path / "out"
    assert main(["sweep", str(path), "--out", str(out), "--jobs", "1"]) == 0
    rows = read_results(out)
    assert len(rows) == 8 and all(row["matches_serial"] for row in rows)
    real = [row for row in rows if row["backend"] == "processes"]
    assert len(real) == 4 and all(row["key"].endswith("backend=processes") for row in real)
    assert all(row["real_speedup"] > 0 and row["cost_model"] == "observed" for row in real)
    report(out)
    assert (out / "charts" / "real_parallel.png").exists()
    markdown = (out / "report.md").read_text()
    assert "## Real parallel execution" in markdown
    assert markdown.count("backend=processes") >= 1


# -- what a researcher sees when things go wrong (issue 26), through the installed command
def tree(folder: Path) -> dict:
    return {path.relative_to(folder): path.read_bytes() if path.is_file() else None
            for path in sorted(folder.rglob("*"))}


def copy_of(out: Path, into: Path) -> Path:
    shutil.copytree(out, into, ignore=shutil.ignore_patterns("charts", "report.*"))
    return into


@pytest.mark.parametrize("target", ["/proc/pevmsim-out", "a-file", "a-file/below"])
def test_sweep_into_an_unwritable_place_is_one_line_and_writes_nothing(tmp_path, target):
    path = write_suite(tmp_path, TINY)
    (tmp_path / "a-file").write_text("not a folder")
    before = tree(tmp_path)
    assert_usage_error(pevmsim("sweep", path, "--out", target, cwd=tmp_path), "--out", target)
    assert tree(tmp_path) == before


def test_report_on_a_read_only_copy_is_one_line_and_writes_nothing(finished, tmp_path):
    _, out = finished
    copy = copy_of(out, tmp_path / "copy")
    (copy / "charts").write_text("a file where the charts folder goes")  # refuses root too
    copy.chmod(0o555)
    try:
        before = tree(copy)
        assert_usage_error(pevmsim("report", copy), "cannot write the report")
        assert tree(copy) == before
    finally:
        copy.chmod(0o755)


@pytest.mark.parametrize("torn", ["last", "middle"])
def test_a_torn_line_is_named_skipped_by_report_and_cut_by_resume(finished, tmp_path, torn):
    path, out = finished
    copy = copy_of(out, tmp_path / "copy")
    lines = (copy / RESULTS).read_text().splitlines()
    number = len(lines) if torn == "last" else 3
    lines[number - 1] = lines[number - 1][:40]  # cut short, newline kept
    (copy / RESULTS).write_text("".join(line + "\n" for line in lines))
    done = pevmsim("report", copy)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[0] == ("tiny report: 11 of 12 runs (1 missing: a "
                                           "partial sweep; `pevmsim sweep SUITE --out DIR "
                                           "--resume` runs the rest)")
    assert done.stderr == (f"pevmsim: warning: {copy}/results.jsonl line {number} skipped: "
                           "not a JSON row (torn or corrupt)\n")
    markdown = (copy / "report.md").read_text()
    assert markdown.splitlines()[2].startswith("This report covers 11 of 12 runs")
    assert f"results.jsonl line {number} was skipped" in markdown
    assert "PARTIAL SWEEP: 11 OF 12 RUNS" in (copy / "report.html").read_text()
    done = pevmsim("sweep", path, "--out", copy, "--resume", "--jobs", "1")
    assert done.returncode == 0, done.stderr
    assert f"results.jsonl line {number}: not a JSON row (torn or corrupt); cut" in done.stderr
    assert "1 runs (11 already finished)" in done.stdout
    assert sorted(row["key"] for row in read_results(copy)) == sorted(
        row["key"] for row in read_results(out))


def test_an_interrupted_sweep_reports_how_many_runs_of_how_many(finished, tmp_path):
    _, out = finished
    copy = copy_of(out, tmp_path / "copy")
    lines = (copy / RESULTS).read_text().splitlines()
    (copy / RESULTS).write_text("".join(line + "\n" for line in lines[:5]))
    done = pevmsim("report", copy)
    assert done.returncode == 0 and done.stdout.startswith("tiny report: 5 of 12 runs")
    assert "This report covers 5 of 12 runs (7 missing" in (copy / "report.md").read_text()
    done = pevmsim("report", out)
    assert done.stdout.startswith("tiny report: all 12 runs of the suite")


PLUGIN_SUITE = """
name = "plugged"
txs = 12
seeds = [0, 1]
threads = [1, 4]
strategies = ["serial", "block-stm"]

[[workloads]]
name = "{plugin}"
"""


def test_the_report_answers_who_wins_with_names_spread_and_every_thread_count(tmp_path):
    import csv

    plugin = Path(__file__).resolve().parent.parent / "docs/examples/voting.py"
    path = write_suite(tmp_path, PLUGIN_SUITE.format(plugin=f"{plugin}:VotingWorkload"))
    out = tmp_path / "out"
    done = pevmsim("sweep", path, "--out", out, "--jobs", "1")
    assert done.returncode == 0, done.stderr
    assert str(plugin) not in done.stderr and "voting(" in done.stderr  # progress too
    rows = read_results(out)
    assert {row["workload"] for row in rows} == {"voting"}  # its name, not its path
    assert [p.name for p in (out / "timelines").iterdir()] == ["voting.json"]
    done = pevmsim("report", out)
    assert done.returncode == 0, done.stderr
    markdown = (out / "report.md").read_text()
    assert str(plugin) not in markdown and "_tmp_" not in markdown
    assert "## Who wins: strategy x threads per setting" in markdown
    assert "mean over 2 seeds" in markdown
    table = markdown.split("### voting (12 txs, gas cost model, 2 seeds)")[1].split("\n\n")[1]
    header, _, *body = table.splitlines()
    assert header == "| strategy | 1 workers | 4 workers |"
    assert [line.split(" | ")[0] for line in body] == ["| serial (1 worker)", "| block-stm",
                                                       "| dependency bound"]
    for column in (1, 2):  # one column per thread count, its best marked
        cells = [line.strip("|").split(" | ")[column].strip() for line in body[:2]]
        assert any(cell.endswith(" *") for cell in cells)
    summary = list(csv.DictReader((out / "summary.csv").open()))
    assert sorted((row["strategy"], row["threads"]) for row in summary) == [
        ("block-stm", "1"), ("block-stm", "4"), ("serial", "1"), ("serial", "4")]
    for row in summary:
        runs = [r["virtual_speedup"] for r in rows
                if (r["strategy"], str(r["threads"])) == (row["strategy"], row["threads"])]
        assert row["seeds"] == "2" and len(runs) == 2
        assert float(row["virtual_speedup_min"]) == min(runs)
        assert float(row["virtual_speedup_max"]) == max(runs)
        assert abs(float(row["virtual_speedup_mean"]) - sum(runs) / 2) < 1e-12
    assert "## Method" in markdown and "what changed" not in markdown
