"""`pevmsim fetch`: blocks and their pre-state from a JSON-RPC node into a block
directory (simulator/sources/fetch.py does the work)."""

from __future__ import annotations

from pathlib import Path

from ..sources.fetch import BlockRange, FetchError, RetryPolicy, fetch
from ..usage import UsageError


def add_fetch_command(commands) -> None:
    fetch = commands.add_parser(
        "fetch", help="fetch blocks and their pre-state from a JSON-RPC node into a "
                      "block directory (replay with --workload mainnet --set dir=DIR)")
    fetch.add_argument("--rpc", required=True, metavar="URL",
                       help="the node's HTTP JSON-RPC endpoint (needs the debug namespace)")
    fetch.add_argument("--blocks", required=True, metavar="N[..M]",
                       help="a block number or an inclusive range")
    fetch.add_argument("--out", required=True, metavar="DIR", help="the block directory")
    fetch.add_argument("--retries", type=int, default=5,
                       help="retries of a failed request, with exponential backoff "
                            "(default 5)")
    fetch.add_argument("--timeout", type=float, default=RetryPolicy.timeout,
                       help=f"seconds per request (default {RetryPolicy.timeout:g})")
    fetch.add_argument("--batch", type=int, default=100,
                       help="ancestor headers per batched request (default 100)")


def command_fetch(args) -> int:
    try:
        return _fetch(args)
    except FetchError as exc:
        raise UsageError(str(exc))


def _fetch(args) -> int:
    blocks = BlockRange.parse(args.blocks)
    if args.retries < 0 or args.timeout <= 0 or args.batch < 1:
        raise FetchError("--retries must be >= 0, --timeout > 0 and --batch >= 1")
    stats = fetch(args.rpc, blocks, Path(args.out),
                  RetryPolicy(retries=args.retries, timeout=args.timeout), args.batch)
    print(f"fetched {stats.fetched} blocks ({stats.skipped} already in {args.out}) with "
          f"{stats.requests} requests; replay with --workload mainnet --set dir={args.out}")
    return 0
