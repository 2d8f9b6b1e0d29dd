"""A JSON-RPC 2.0 client for an Ethereum node over HTTP (the `requests` library).

    client = RpcClient("http://127.0.0.1:8545", RetryPolicy(retries=5))
    client.call("eth_chainId")                              -> "0x1"
    client.batch([("eth_getBlockByNumber", ("0x10", False)), ...])  -> [result, ...]

Invariants:
- A call returns the node's `result` or raises an RpcError subclass whose message is
  one line: NodeUnreachable (no answer after every retry), MalformedResponse (an
  answer that is not JSON-RPC: not JSON, truncated, a batch with missing or unknown
  ids), RemoteError (the node's own JSON-RPC error, with its code and message), or
  HttpError (an HTTP status that no retry would fix).
- Transient failures are retried, at most `retries` times, after an exponentially
  growing pause (base_delay * 2**attempt, capped at max_delay; a 429's numeric
  Retry-After is honoured up to the cap): connection refused or dropped, a timeout,
  HTTP 429 (rate limited) and 502/503/504 (a gateway in front of the node). A node's
  JSON-RPC error is an answer, never retried.
- A batch's results come back in request order, whatever order the node answers in.
- `requests_sent` counts HTTP requests, retries included.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

import requests

RETRY_STATUSES = (429, 502, 503, 504)


class RpcError(Exception):
    """Talking to the node failed (the message is one line)."""


class NodeUnreachable(RpcError):
    pass


class MalformedResponse(RpcError):
    pass


class HttpError(RpcError):
    pass


class RemoteError(RpcError):
    """The node answered with a JSON-RPC error object."""

    def __init__(self, method: str, code, message: str) -> None:
        super().__init__(f"{method}: node error {code}: {message}")
        self.method = method
        self.code = code
        self.remote_message = message


@dataclass(frozen=True)
class RetryPolicy:
    retries: int = 5
    base_delay: float = 0.5
    max_delay: float = 30.0
    timeout: float = 120.0  # seconds per HTTP request (tracing a big block is slow)

    def delay(self, attempt: int, retry_after: str | None = None) -> float:
        if retry_after is not None and retry_after.strip().isdigit():
            return min(float(retry_after), self.max_delay)
        return min(self.base_delay * 2 ** attempt, self.max_delay)


class RpcClient:
    def __init__(self, url: str, policy: RetryPolicy = RetryPolicy()) -> None:
        self.url = url
        self.policy = policy
        self.session = requests.Session()
        self.requests_sent = 0
        self._next_id = 0

    def _request(self, method: str, params) -> dict:
        self._next_id += 1
        return {"jsonrpc": "2.0", "id": self._next_id, "method": method,
                "params": list(params)}

    def call(self, method: str, *params):
        answer = self._post(self._request(method, params), method)
        if not isinstance(answer, dict):
            raise MalformedResponse(f"{method}: expected a JSON object, got "
                                    f"{type(answer).__name__}")
        return _result(answer, method)

    def batch(self, calls: list) -> list:
        """[(method, params)] -> [result] in the same order, in one HTTP request."""
        if not calls:
            return []
        payload = [self._request(method, params) for method, params in calls]
        requests_by_id = {request["id"]: request["method"] for request in payload}
        answer = self._post(payload, calls[0][0])
        if isinstance(answer, dict):  # a node that refuses the whole batch
            _result(answer, calls[0][0])
        if not isinstance(answer, list):
            raise MalformedResponse(f"{calls[0][0]}: a batch was answered with "
                                    f"{type(answer).__name__}, not a list")
        by_id = {item.get("id"): item for item in answer if isinstance(item, dict)}
        missing = [i for i in requests_by_id if i not in by_id]
        if missing or len(answer) != len(payload):
            raise MalformedResponse(f"{calls[0][0]}: the node answered {len(answer)} of a "
                                    f"batch of {len(payload)} requests")
        return [_result(by_id[i], method) for i, method in requests_by_id.items()]

    def _post(self, payload, method: str):
        """One JSON-RPC exchange, retried on transient failures; the decoded JSON."""
        attempt = 0
        while True:
            self.requests_sent += 1
            try:
                response = self.session.post(self.url, json=payload,
                                             timeout=self.policy.timeout)
                body = response.content
            except (requests.exceptions.InvalidURL, requests.exceptions.InvalidSchema,
                    requests.exceptions.MissingSchema):
                raise NodeUnreachable(f"bad node URL {self.url!r}; give http(s)://HOST:PORT")
            except (requests.exceptions.ConnectionError, requests.exceptions.Timeout,
                    requests.exceptions.ChunkedEncodingError) as exc:
                failure = type(exc).__name__  # refused, dropped or too slow
                retry_after = None
            else:
                if response.status_code not in RETRY_STATUSES:
                    return _decode(body, response.status_code, method)
                failure = f"HTTP {response.status_code}"
                retry_after = response.headers.get("Retry-After")
            if attempt >= self.policy.retries:
                raise NodeUnreachable(f"no answer from {self.url} to {method} after "
                                      f"{attempt + 1} tries (last: {failure})")
            time.sleep(self.policy.delay(attempt, retry_after))
            attempt += 1


def _decode(body: bytes, status: int, method: str):
    try:
        answer = json.loads(body)
    except ValueError as exc:
        if status != 200:
            raise HttpError(f"{method}: the node answered HTTP {status}")
        raise MalformedResponse(f"{method}: the node's answer is not valid JSON "
                                f"({len(body)} bytes: {exc})")
    if status != 200 and not (isinstance(answer, dict) and "error" in answer):
        raise HttpError(f"{method}: the node answered HTTP {status}")
    return answer


def _result(item: dict, method: str):
    if "error" in item:
        error = item["error"] if isinstance(item["error"], dict) else {}
        raise RemoteError(method, error.get("code"),
                          " ".join(str(error.get("message", item["error"])).split()))
    if "result" not in item:
        raise MalformedResponse(f"{method}: the answer has neither result nor error")
    return item["result"]
