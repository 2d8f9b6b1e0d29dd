"""`pevmsim fetch`: blocks from an Ethereum JSON-RPC node into a block directory.

    pevmsim fetch --rpc http://127.0.0.1:8545 --blocks 19000000..19000009 --out myblocks

For each block: `eth_getBlockByNumber(n, true)` (the header and the full signed
transactions), `debug_traceBlockByNumber(n, {"tracer": "prestateTracer"})` (for each
transaction, the accounts and slots it touches as they were before it), and the hashes
of its ancestors (`eth_getBlockByNumber(k, false)`, batched). The directory has the
layout of the vendored blocks (simulator/sources/block_store.py), so `--workload mainnet --set
dir=DIR` replays it.

Invariants:
- The pre-state of a block is the first-seen value of every account field and of every
  storage slot over its transactions' traces in block order: the first transaction to
  touch a slot saw it as the block found it; later ones see earlier writes.
- Ancestor hashes: all of the up to 256 ancestors a BLOCKHASH can read are recorded
  (only those not already in the directory are requested; over a range, a block's
  ancestors are mostly the blocks before it, so a range costs about one batch more
  than its blocks). Which ancestors a block reads cannot be learnt from the
  prestateTracer, and asking for all of them is cheap next to the trace. Every fetched
  header must link to its successor by parentHash, and a block's parentHash must equal
  the recorded hash of the block before it: a reorganisation in mid-fetch is an error,
  never a silently mixed chain.
- Resume: a block already in the directory is skipped, and a block is written whole or
  not at all, after the codes and hashes it needs. Any failure is a FetchError with one
  line that names the cause; the blocks fetched before it stay.
- Only chain id 1 (Ethereum mainnet) is fetched: py-evm has the fork schedule of no
  other chain, and replaying under a guessed fork would be silently wrong. For the
  same reason a block of a fork pevmsim does not implement (after BPO2, see
  simulator/chain/forks/__init__.py) stops the fetch, before its trace is asked for;
  the blocks before it stay.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

from eth_hash.auto import keccak
from tqdm import tqdm

from simulator.sources.block_store import MAINNET_CHAIN_ID, BlockStore, StoreError

from ..chain.forks import UnmodelledFork, check_modelled
from .rpc import MalformedResponse, RemoteError, RetryPolicy, RpcClient, RpcError

BLOCKHASH_DEPTH = 256  # BLOCKHASH reads the 256 most recent ancestors
PRESTATE = {"tracer": "prestateTracer"}
METHOD_NOT_FOUND = -32601
PRUNED_SIGNS = ("missing trie node", "historical state", "state unavailable",
                "state not available", "state is not available", "pruned")


class FetchError(Exception):
    """The fetch stopped (one line: why, and what was kept)."""


@dataclass(frozen=True)
class BlockRange:
    first: int
    last: int

    @classmethod
    def parse(cls, text: str) -> "BlockRange":
        """'N' or 'N..M' (inclusive)."""
        first, sep, last = text.partition("..")
        try:
            numbers = (int(first), int(last) if sep else int(first))
        except ValueError:
            raise FetchError(f"--blocks takes N or N..M (block numbers), got {text!r}")
        if numbers[0] < 0 or numbers[1] < numbers[0]:
            raise FetchError(f"--blocks {text}: need 0 <= N <= M")
        return cls(*numbers)

    def __iter__(self):
        return iter(range(self.first, self.last + 1))

    def __len__(self) -> int:
        return self.last - self.first + 1


@dataclass
class FetchStats:
    fetched: int
    skipped: int
    requests: int


def fetch(url: str, blocks: BlockRange, out: Path, policy: RetryPolicy = RetryPolicy(),
          batch_size: int = 100) -> FetchStats:
    client = RpcClient(url, policy)
    store = BlockStore(out)
    try:
        chain_id = _quantity(client.call("eth_chainId"), "eth_chainId")
        if chain_id != MAINNET_CHAIN_ID:
            raise FetchError(f"{url} serves chain id {chain_id}; py-evm knows the fork "
                             "schedule of Ethereum mainnet (chain id 1) only")
        head = _quantity(client.call("eth_blockNumber"), "eth_blockNumber")
        if blocks.last > head:
            raise FetchError(f"block {blocks.last} is beyond the chain head ({head}) of "
                             f"{url}")
        store.prepare(chain_id)
        todo = [n for n in blocks if not store.has(n)]
        skipped = len(blocks) - len(todo)
        with tqdm(total=len(blocks), initial=skipped, desc="fetch", unit="block",
                  disable=None, leave=False, file=sys.stderr) as bar:
            for done, number in enumerate(todo):
                try:
                    counts = _fetch_block(client, store, number, batch_size)
                except (RpcError, FetchError, UnmodelledFork) as exc:
                    count = skipped + done
                    kept = f"{count} block{'s' * (count != 1)} kept in {out}"
                    if isinstance(exc, UnmodelledFork):
                        raise FetchError(f"{exc} ({kept})")
                    raise FetchError(f"block {number}: {_explain(exc, url)} ({kept})")
                if bar.disable:  # not a terminal: one line per block
                    print(f"fetched block {number}: {counts}", file=sys.stderr)
                bar.update()
    except StoreError as exc:
        raise FetchError(str(exc))
    except RpcError as exc:
        raise FetchError(_explain(exc, url))
    return FetchStats(len(todo), skipped, client.requests_sent)


def _explain(exc: Exception, url: str) -> str:
    """A node's error in the user's terms."""
    if isinstance(exc, RemoteError) and exc.method.startswith("debug_"):
        text = exc.remote_message.lower()
        if exc.code == METHOD_NOT_FOUND or "does not exist" in text or (
                "method" in text and "not available" in text):
            return (f"{url} has no debug namespace ({exc.method}: {exc.remote_message}); "
                    "use a node that serves debug_traceBlockByNumber (geth: "
                    "--http.api eth,debug)")
        if any(sign in text for sign in PRUNED_SIGNS):
            return (f"{url} cannot trace this block, its state is pruned "
                    f"({exc.remote_message}); use an archive node")
    return str(exc)


def _fetch_block(client: RpcClient, store: BlockStore, number: int, batch_size: int) -> str:
    block = client.call("eth_getBlockByNumber", hex(number), True)
    if block is None:
        raise FetchError("the node does not have it (beyond its head?)")
    transactions = _check_header(block, number, "eth_getBlockByNumber")["transactions"]
    check_modelled(block, store.block(number - 1) if store.has(number - 1) else None)
    if not all(isinstance(tx, dict) and "hash" in tx for tx in transactions):
        raise MalformedResponse("eth_getBlockByNumber: transactions are not full objects")
    traces = client.call("debug_traceBlockByNumber", hex(number), PRESTATE)
    pre_state, codes = merge_prestate(traces, transactions)

    known = store.ancestor_hashes()
    wanted = [k for k in range(max(0, number - BLOCKHASH_DEPTH), number) if k not in known]
    headers = {number: block}
    for start in range(0, len(wanted), batch_size):
        chunk = wanted[start:start + batch_size]
        answers = client.batch([("eth_getBlockByNumber", (hex(k), False)) for k in chunk])
        for k, header in zip(chunk, answers):
            if header is None:
                raise FetchError(f"the node does not have block {k}, an ancestor whose "
                                 "hash BLOCKHASH may read")
            headers[k] = _check_header(header, k, "eth_getBlockByNumber")
    hashes = {**known, **{k: _hash(h["hash"]) for k, h in headers.items()}}
    for k, header in headers.items():
        if k - 1 in hashes and _hash(header["parentHash"]) != hashes[k - 1]:
            raise FetchError(f"block {k}'s parentHash is not the hash of block {k - 1} "
                             "(a chain reorganisation during the fetch?)")
    store.add_codes(codes)
    store.add_hashes({k: hashes[k] for k in headers})
    store.add_block(number, block, pre_state)
    slots = sum(len(account["storage"]) for account in pre_state.values())
    return (f"{len(transactions)} txs, {len(pre_state)} accounts, {slots} slots, "
            f"{len(headers) - 1} ancestor hashes")


def merge_prestate(traces, transactions: list) -> tuple:
    """The prestateTracer's per-transaction results -> (pre_state in the block
    directory's format, {code_hash: code})."""
    if not isinstance(traces, list) or len(traces) != len(transactions):
        raise MalformedResponse(
            f"debug_traceBlockByNumber: expected {len(transactions)} transaction traces, "
            f"got {len(traces) if isinstance(traces, list) else type(traces).__name__}")
    pre_state: dict = {}
    codes: dict = {}
    for tx, trace in zip(transactions, traces):
        result = trace.get("result") if isinstance(trace, dict) else None
        if isinstance(trace, dict) and "error" in trace:
            raise RemoteError("debug_traceBlockByNumber", None,
                              f"transaction {tx['hash']}: {trace['error']}")
        if not isinstance(result, dict):
            raise MalformedResponse(f"debug_traceBlockByNumber: no prestate for transaction "
                                    f"{tx['hash']}")
        for address, fields in result.items():
            if not isinstance(fields, dict):
                raise MalformedResponse(f"debug_traceBlockByNumber: account {address} is "
                                        f"{type(fields).__name__}, not an object")
            account = pre_state.get(address.lower())
            if account is None:
                account = pre_state[address.lower()] = _account(fields, codes)
            storage = fields.get("storage") or {}
            for slot, value in storage.items():
                key = "0x%064x" % _quantity(slot, "storage slot")
                account["storage"].setdefault(key, hex(_quantity(value, "storage value")))
    return pre_state, codes


def _account(fields: dict, codes: dict) -> dict:
    account = {"balance": hex(_quantity(fields.get("balance", 0), "balance")),
               "nonce": _quantity(fields.get("nonce", 0), "nonce"), "storage": {}}
    code = fields.get("code") or "0x"
    if not isinstance(code, str) or not code.startswith("0x"):
        raise MalformedResponse(f"debug_traceBlockByNumber: code {str(code)[:20]!r} is "
                                "not hex")
    if len(code) > 2:
        try:
            code_hash = "0x" + keccak(bytes.fromhex(code[2:])).hex()
        except ValueError:
            raise MalformedResponse("debug_traceBlockByNumber: code is not hex")
        codes[code_hash] = code
        account["code_hash"] = code_hash
    return account


def _check_header(header, number: int, method: str) -> dict:
    if not isinstance(header, dict) or not all(
            key in header for key in ("number", "hash", "parentHash", "transactions")):
        raise MalformedResponse(f"{method}: block {number} is not a block object")
    if _quantity(header["number"], "number") != number:
        raise MalformedResponse(f"{method}: asked for block {number}, got "
                                f"{header['number']}")
    return header


def _hash(text) -> bytes:
    try:
        value = bytes.fromhex(text[2:]) if text.startswith("0x") else b""
    except (AttributeError, ValueError):
        value = b""
    if len(value) != 32:
        raise MalformedResponse(f"{str(text)[:70]!r} is not a 32-byte hash")
    return value


def _quantity(value, what: str) -> int:
    """A JSON-RPC quantity: a 0x-hex string (or, as some tracers give nonces, an int)."""
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    if isinstance(value, str) and value.startswith("0x"):
        try:
            return int(value, 16)
        except ValueError:
            pass
    raise MalformedResponse(f"{what}: {str(value)[:70]!r} is not a hex quantity")
