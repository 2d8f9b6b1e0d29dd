"""Workload plug-ins: the registry, file and entry-point plug-ins, and broken ones,
each of which must be one WorkloadError naming the plug-in and the cause."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from workloads.api import Workload, WorkloadError
from workloads.registry import BUILTINS, build_block, list_workloads, load_workload

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "docs" / "examples"
VOTING = f"{EXAMPLES / 'voting.py'}:VotingWorkload"


def test_builtins_are_listed_with_their_params():
    listed = {entry["name"]: entry for entry in list_workloads()}
    assert set(BUILTINS) <= set(listed)
    assert set(BUILTINS) == {"transfer", "erc20", "amm", "defi", "nft", "supply-chain", "mainnet",
                             "gigagas-transfers", "gigagas-erc20", "gigagas-uniswap",
                             "gigagas-hybrid"}
    for name in BUILTINS:
        entry = listed[name]
        assert entry["source"] == "builtin" and entry["description"]
        assert entry["params"] and all(param["help"] for param in entry["params"])
        assert load_workload(name) is BUILTINS[name]


def test_file_plugin():
    cls = load_workload(VOTING)
    assert issubclass(cls, Workload) and cls.name == "voting"
    block = build_block(VOTING, 20, seed=1, params={"voters": 30})
    assert len(block) == 20
    [entry] = [e for e in list_workloads([VOTING]) if e["source"] == "file"]
    assert entry["name"] == "voting" and entry["spec"] == VOTING


def install_entry_point(tmp_path, monkeypatch, name: str, target: str) -> None:
    """Make importlib.metadata see a distribution registering `name` -> `target` in
    the pevmsim.workloads group, with docs/examples importable."""
    dist = tmp_path / "pevmsim_example-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: pevmsim-example\n"
                                   "Version: 0.1\n")
    (dist / "entry_points.txt").write_text(f"[pevmsim.workloads]\n{name} = {target}\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.syspath_prepend(str(EXAMPLES))


def test_entry_point_plugin(tmp_path, monkeypatch):
    install_entry_point(tmp_path, monkeypatch, "voting", "voting:VotingWorkload")
    cls = load_workload("voting")
    assert cls.name == "voting"
    assert len(build_block("voting", 10, params={"voters": 10})) == 10
    [entry] = [e for e in list_workloads() if e["source"] == "entry-point"]
    assert entry["name"] == "voting"


def test_broken_entry_point(tmp_path, monkeypatch):
    install_entry_point(tmp_path, monkeypatch, "ghost", "no_such_module:Ghost")
    with pytest.raises(WorkloadError, match=r"plug-in ghost .*No module named 'no_such_module'"):
        load_workload("ghost")


def test_unknown_name():
    with pytest.raises(WorkloadError, match=r"unknown workload 'nosuch'.*amm"):
        load_workload("nosuch")


HEADER = """
from workloads.api import Workload

class Plugin(Workload):
    name = "{name}"
    description = "a broken test plug-in"
"""

BROKEN = {
    # case: (body after HEADER, class, message pattern)
    "import-error": ("import no_such_module\n", "Plugin",
                     r"importing .*import-error\.py failed: ModuleNotFoundError"),
    "class-missing": ("", "Missing", r"class-missing\.py has no class Missing"),
    "not-a-workload": ("class Other:\n    pass\n", "Other", r"is not a Workload subclass"),
    "missing-method": ("    def setup(self, chain):\n        pass\n", "Plugin",
                       r"Plugin does not implement transactions"),
    "setup-raises": ("""
    def setup(self, chain):
        raise RuntimeError("no contract to deploy")
    def transactions(self, chain, n):
        return []
""", "Plugin", r"workload setup-raises: setup failed: RuntimeError: no contract to deploy"),
    "bad-nonce": ("""
    def setup(self, chain):
        self.alice, self.bob = chain.accounts(2)
    def transactions(self, chain, n):
        txs = [chain.transfer(self.alice, self.bob.address, 1) for _ in range(n)]
        return txs[::-1]  # nonces out of order
""", "Plugin", r"workload bad-nonce: transaction 0 is invalid: .*[Nn]once"),
    "insufficient-funds": ("""
    def setup(self, chain):
        self.poor, = chain.accounts(1, balance=0)
    def transactions(self, chain, n):
        return [chain.transfer(self.poor, chain.coinbase, 1) for _ in range(n)]
""", "Plugin", r"workload insufficient-funds: transaction 0 is invalid: .*(balance|funds)"),
}


@pytest.mark.parametrize("case", list(BROKEN))
def test_broken_file_plugin(tmp_path, case):
    body, class_name, pattern = BROKEN[case]
    path = tmp_path / f"{case}.py"
    path.write_text(textwrap.dedent(HEADER.format(name=case)) + body)
    with pytest.raises(WorkloadError, match=pattern) as raised:
        build_block(f"{path}:{class_name}", 3)
    assert case in str(raised.value)  # names the plug-in


def test_missing_file(tmp_path):
    spec = f"{tmp_path / 'absent.py'}:Plugin"
    with pytest.raises(WorkloadError, match=r"plug-in .*absent\.py:Plugin: file .* not found"):
        load_workload(spec)


def test_bad_parameter():
    with pytest.raises(WorkloadError, match=r"workload amm: unknown parameter 'colour'"):
        build_block("amm", 3, params={"colour": 1})


def test_docs_show_the_example_files_verbatim():
    doc = (ROOT / "docs" / "workloads.md").read_text()
    for name in ("voting.vy", "voting.py"):
        assert (EXAMPLES / name).read_text() in doc
