"""The command line: JSON keys, readable summary, one-line errors with exit code 2."""

import json
import subprocess
import sys

import pytest

from simulator.cli.main import main

RUN_KEYS = {
    "workload", "params", "txs", "gas_used", "strategy", "threads", "backend", "cost_model",
    "matches_serial", "state_root", "serial_state_root", "virtual_serial_time_s",
    "virtual_makespan_s", "virtual_speedup", "virtual_throughput_tps",
    "virtual_throughput_gas_per_s", "executions", "reexecutions", "suspensions",
    "validations", "validation_failures", "virtual_speedup_bound", "wall_time_s",
    "serial_wall_time_s", "failed_txs", "reverted_txs", "out_of_gas_txs", "environment",
}


def run_json(capsys, *args):
    assert main(["run", *args, "--json", "-"]) == 0
    return json.loads(capsys.readouterr().out)


def test_run_json_has_every_key_and_matches_serial(capsys):
    result = run_json(capsys, "--workload", "erc20", "--set", "accounts=50", "--txs", "40",
                      "--threads", "4")
    assert RUN_KEYS <= set(result)
    assert result["matches_serial"] and result["params"]["accounts"] == 50
    assert result["txs"] == 40 and result["state_root"] == result["serial_state_root"]


def test_run_is_deterministic_with_the_gas_model(capsys):
    args = ("--workload", "transfer", "--set", "accounts=5", "--txs", "40", "--threads", "8")
    first, second = run_json(capsys, *args), run_json(capsys, *args)
    for key in ("virtual_speedup", "executions", "state_root", "suspensions", "validations"):
        assert first[key] == second[key]


def test_run_prints_a_readable_summary(capsys):
    assert main(["run", "--workload", "transfer", "--txs", "20", "--strategy", "serial"]) == 0
    out = capsys.readouterr().out
    assert "matches serial  yes" in out and "speedup" in out


def test_json_to_a_file(tmp_path, capsys):
    path = tmp_path / "run.json"
    assert main(["run", "--workload", "transfer", "--txs", "10", "--json", str(path)]) == 0
    assert json.loads(path.read_text())["matches_serial"]


@pytest.mark.parametrize("args, complaint", [
    (["--workload", "nope", "--txs", "5"], "nope"),
    (["--workload", "transfer", "--txs", "5", "--strategy", "magic"], "block-stm"),
    (["--workload", "transfer", "--txs", "5", "--threads", "0"], "--threads"),
    (["--workload", "transfer", "--txs", "0"], "--txs"),
    (["--workload", "transfer", "--txs", "x"], "--txs"),
    (["--workload", "transfer", "--txs", "5", "--set", "accounts"], "KEY=VALUE"),
    (["--workload", "transfer", "--txs", "5", "--set", "colour=red"], "accounts"),
    (["--workload", "transfer", "--txs", "5", "--set", "accounts=many"], "int"),
    (["--workload", "transfer", "--txs", "5", "--set", "accounts=1"], ">= 2"),
    (["--workload", "transfer", "--txs", "5", "--cost-model", "vibes"], "measured"),
    (["--txs", "5"], "--workload"),
])
def test_bad_input_is_one_line_and_exit_2(capsys, args, complaint):
    assert main(["run", *args]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("pevmsim: error:")
    assert complaint in err


def test_no_traceback_from_the_installed_command():
    done = subprocess.run([sys.executable, "-m", "simulator.cli", "run", "--workload", "nope",
                           "--txs", "1"], capture_output=True, text=True)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr and done.stderr.count("\n") == 1
