"""The built-block cache (workloads/block_cache.py): a large generated block comes back
from disk as the block a fresh build makes, under a key that changes with its inputs."""

from __future__ import annotations

from workloads import block_cache
from workloads.block_cache import CACHED_TXS, built_block, entry_key
from simulator.chain.serial import execute_serial
from workloads.registry import load_workload


def test_a_cached_block_is_the_freshly_built_block(tmp_path, monkeypatch):
    monkeypatch.setenv("PEVMSIM_CACHE_DIR", str(tmp_path))
    workload = load_workload("transfer")(accounts=10)
    fresh, labels = built_block(workload, CACHED_TXS, seed=4)
    [entry] = (tmp_path / "blocks").iterdir()
    assert entry.name == f"{entry_key(workload, CACHED_TXS, 4)}.pickle"
    cached, cached_labels = built_block(load_workload("transfer")(accounts=10),
                                        CACHED_TXS, seed=4)
    assert cached is not fresh and cached_labels == labels
    assert cached.pre_state_root == fresh.pre_state_root
    assert [tx.hash for tx in cached.transactions] == [tx.hash for tx in fresh.transactions]
    assert cached.senders == fresh.senders
    assert execute_serial(cached)[0].state_root == execute_serial(fresh)[0].state_root


def test_the_key_changes_with_every_input_and_small_blocks_are_not_cached(tmp_path,
                                                                         monkeypatch):
    monkeypatch.setenv("PEVMSIM_CACHE_DIR", str(tmp_path))
    transfer = load_workload("transfer")
    keys = {entry_key(transfer(accounts=10), CACHED_TXS, 0),
            entry_key(transfer(accounts=11), CACHED_TXS, 0),
            entry_key(transfer(accounts=10), CACHED_TXS + 1, 0),
            entry_key(transfer(accounts=10), CACHED_TXS, 1),
            entry_key(load_workload("erc20")(), CACHED_TXS, 0)}
    assert len(keys) == 5
    built_block(transfer(accounts=10), CACHED_TXS - 1, seed=0)
    assert not (tmp_path / "blocks").exists()


def test_an_unreadable_entry_is_rebuilt(tmp_path, monkeypatch):
    monkeypatch.setenv("PEVMSIM_CACHE_DIR", str(tmp_path))
    workload = load_workload("transfer")(accounts=10)
    path = block_cache.cache_dir() / f"{entry_key(workload, CACHED_TXS, 0)}.pickle"
    path.parent.mkdir(parents=True)
    path.write_bytes(b"torn")
    block, _ = built_block(workload, CACHED_TXS, seed=0)
    assert len(block) == CACHED_TXS and path.stat().st_size > 1000
