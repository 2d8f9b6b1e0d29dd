"""An Ethereum JSON-RPC node for the fetcher's tests: a real HTTP server on 127.0.0.1
(an ephemeral port, in a thread) that answers as an archive node would, from the
vendored mainnet blocks.

    with Node([15537393, 15537394]) as node:      # node.url, node.calls, node.faults
        fetch(node.url, ...)

It serves the vendored mainnet blocks, or those of another block directory (`store`:
e.g. the Prague and Osaka blocks tests/scenarios/recent.py writes).

What it serves, in the shapes geth gives:
- eth_chainId, eth_blockNumber (the head is the highest block served, or `head`);
  null for a block beyond the head.
- eth_getBlockByNumber(n, true): the vendored block.json of a served block;
  (k, false): a header. Hashes come from the vendored data (block hashes, parent
  hashes, block_hashes.json); an ancestor the vendored set does not record gets a
  stand-in, keccak("pevmsim test node" + k): the vendored set's header checks show
  no served block reads it. Headers link by parentHash.
- debug_traceBlockByNumber(n, prestateTracer): one {txHash, result} per transaction.
  The vendored (merged) pre-state is split over the transactions so that a fetcher
  must merge correctly: each account first appears in one transaction with half of
  its slots, then again in the next one with every slot, where the values already
  shown have moved on (balance, nonce and those slots + 1, as if the earlier
  transaction wrote them); an account whose first transaction is the last appears
  once, whole. Only first-seen values per account and per slot give the real
  pre-state back.
- Batches (answered in reverse order: ids, not positions, must match them up).
- Transport trouble when `flaky`: every 5th HTTP request is answered 429 and every
  7th has its connection dropped unanswered (each is retried by the fetcher).
- `fault`: one error behaviour (Fault), to test each error path.

`calls` counts answered JSON-RPC calls by (method, block number or None), `faults`
the 429s and drops served.
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from enum import Enum
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from eth_hash.auto import keccak

from simulator.sources.block_store import BlockStore
from workloads.mainnet import VENDORED


class Fault(Enum):
    NONE = "none"
    NO_DEBUG = "no-debug"  # debug_* is not served: JSON-RPC method not found
    PRUNED = "pruned"  # tracing fails as on a full node: missing trie node
    TRUNCATED = "truncated"  # a full block's answer is cut in half (valid HTTP)
    DOWN = "down"  # from the full block `down_at` on, every connection is dropped
    RATE_LIMITED = "rate-limited"  # every request: 429 with Retry-After: 0


class Node:
    def __init__(self, blocks, flaky: bool = True, fault: Fault = Fault.NONE,
                 head: int | None = None, chain_id: int = 1,
                 down_at: int | None = None, store: BlockStore = VENDORED) -> None:
        self.store = store
        self.blocks = {n: store.block(n) for n in blocks}
        self.head = max(blocks) if head is None else head
        self.flaky, self.fault, self.chain_id, self.down_at = flaky, fault, chain_id, down_at
        self.hashes = self._hashes()
        self.calls: Counter = Counter()
        self.faults: Counter = Counter()
        self.requests = 0
        self.down = False
        self._lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> "Node":
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()

    # -- data ---------------------------------------------------------------------------
    def _hashes(self) -> dict:
        known = {n: "0x" + h.hex() for n, h in self.store.ancestor_hashes().items()}
        for n, block in self.blocks.items():
            for number, value in ((n, block["hash"]), (n - 1, block["parentHash"])):
                assert known.setdefault(number, value) == value, "inconsistent vendored data"
        return known

    def hash_of(self, number: int) -> str:
        if number in self.hashes:
            return self.hashes[number]
        return "0x" + keccak(b"pevmsim test node" + number.to_bytes(8, "big")).hex()

    def header(self, number: int) -> dict:
        if number in self.blocks:
            block = self.blocks[number]
            return dict(block, transactions=[tx["hash"] for tx in block["transactions"]])
        return {"number": hex(number), "hash": self.hash_of(number),
                "parentHash": self.hash_of(number - 1), "transactions": []}

    def traces(self, number: int) -> list:
        transactions = self.blocks[number]["transactions"]
        results = [{} for _ in transactions]
        codes = self.store.codes()
        pre_state = sorted(self.store.pre_state(number).items())
        for index, (address, account) in enumerate(pre_state):
            first = index % len(transactions)
            slots = sorted(account.get("storage", {}).items())
            if first + 1 == len(transactions):  # no later transaction: all at once
                results[first][address] = _geth_account(account, slots, 0, codes)
                continue
            shown = dict(slots[:len(slots) // 2])
            results[first][address] = _geth_account(account, list(shown.items()), 0, codes)
            later = [(slot, hex(int(value, 16) + 1) if slot in shown else value)
                     for slot, value in slots]
            results[first + 1][address] = _geth_account(account, later, 1, codes)
        return [{"txHash": tx["hash"], "result": result}
                for tx, result in zip(transactions, results)]

    # -- JSON-RPC -------------------------------------------------------------------------
    def answer(self, request: dict) -> dict:
        method, params = request.get("method"), request.get("params", [])
        number = int(params[0], 16) if params and isinstance(params[0], str) else None
        with self._lock:
            self.calls[(method, number)] += 1
        try:
            result = self.result(method, params, number)
        except _RpcFailure as failure:
            return {"jsonrpc": "2.0", "id": request.get("id"),
                    "error": {"code": failure.code, "message": failure.message}}
        return {"jsonrpc": "2.0", "id": request.get("id"), "result": result}

    def result(self, method: str, params: list, number: int | None):
        if method == "eth_chainId":
            return hex(self.chain_id)
        if method == "eth_blockNumber":
            return hex(self.head)
        if method == "eth_getBlockByNumber":
            if number > self.head:
                return None
            if params[1]:
                if number not in self.blocks:
                    raise _RpcFailure(-32000, f"test node holds no transactions of {number}")
                return self.blocks[number]
            return self.header(number)
        if method == "debug_traceBlockByNumber":
            if self.fault is Fault.NO_DEBUG:
                raise _RpcFailure(-32601, f"the method {method} does not exist/is not "
                                          "available")
            if self.fault is Fault.PRUNED:
                raise _RpcFailure(-32000, "missing trie node 3f8a2c...1b (path ) state "
                                          f"{self.hash_of(number)} is not available")
            assert params[1] == {"tracer": "prestateTracer"}
            return self.traces(number)
        raise _RpcFailure(-32601, f"the method {method} does not exist/is not available")


class _RpcFailure(Exception):
    def __init__(self, code: int, message: str) -> None:
        self.code, self.message = code, message


def _geth_account(account: dict, slots: list, moved: int, codes: dict) -> dict:
    """An account as geth's prestateTracer writes it: balance hex, nonce a number
    (left out when 0), code (left out when none), storage with 32-byte words."""
    fields = {"balance": hex(int(account["balance"], 16) + moved)}
    nonce = int(account["nonce"]) + moved
    if nonce:
        fields["nonce"] = nonce
    if account.get("code_hash"):
        fields["code"] = codes[account["code_hash"]]
    if slots:
        fields["storage"] = {"0x%064x" % int(slot, 16): "0x%064x" % int(value, 16)
                             for slot, value in slots}
    return fields


def _handler(node: Node):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self):
            payload = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            with node._lock:
                node.requests += 1
                sequence = node.requests
            calls = payload if isinstance(payload, list) else [payload]
            if node.fault is Fault.DOWN and any(
                    c.get("method") == "eth_getBlockByNumber" and c["params"][1]
                    and int(c["params"][0], 16) >= node.down_at for c in calls):
                node.down = True
            if node.down or (node.flaky and sequence % 7 == 0):
                node.faults["dropped"] += 1
                self.close_connection = True  # no answer at all: the connection drops
                return
            if node.fault is Fault.RATE_LIMITED or (node.flaky and sequence % 5 == 0):
                node.faults["429"] += 1
                return self.send(429, b'{"error": "rate limited"}',
                                 {"Retry-After": "0"} if node.fault is Fault.RATE_LIMITED
                                 else {})
            answers = [node.answer(call) for call in calls]
            body = json.dumps(answers[::-1] if isinstance(payload, list)
                              else answers[0]).encode()
            if node.fault is Fault.TRUNCATED and any(
                    c.get("method") == "eth_getBlockByNumber" and c["params"][1]
                    for c in calls):
                body = body[:len(body) // 2]
            self.send(200, body)

        def send(self, status: int, body: bytes, headers: dict | None = None) -> None:
            self.send_response(status)
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args) -> None:  # quiet
            pass

    return Handler
