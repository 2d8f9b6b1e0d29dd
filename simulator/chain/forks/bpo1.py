"""BPO1, the first blob-parameter-only fork (EIP-7892; parameters EIP-8134): Osaka with
blob target 10, maximum 15 and update fraction 8,346,193. Mainnet activation: timestamp
1765290071 (2025-12-09 14:21:11 UTC; EIP-7607). Matches ethereum-execution 2.20.0's
ethereum/forks/bpo1, whose only difference from osaka is vm/gas.py's three blob constants.

Invariant: BPO1's VM and state are Osaka's with `blob_schedule` replaced, nothing else."""

from __future__ import annotations

from .osaka import BlobSchedule, blob_parameter_fork

BPO1_BLOBS = BlobSchedule(target=10, max=15, update_fraction=8_346_193)
Bpo1VM = blob_parameter_fork("bpo1", BPO1_BLOBS)
Bpo1State = Bpo1VM.get_state_class()
