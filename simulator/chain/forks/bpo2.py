"""BPO2, the second blob-parameter-only fork (EIP-7892; parameters EIP-8135): Osaka with
blob target 14, maximum 21 and update fraction 11,684,671. Mainnet activation: timestamp
1767747671 (2026-01-07 01:01:11 UTC; EIP-8135). Matches ethereum-execution 2.20.0's
ethereum/forks/bpo2.

Invariant: the BPO2 classes are Osaka's with `blob_schedule` replaced, nothing else."""

from __future__ import annotations

from .osaka import BlobSchedule, OsakaState, OsakaVM

BPO2_BLOBS = BlobSchedule(target=14, max=21, update_fraction=11_684_671)


class Bpo2State(OsakaState):
    blob_schedule = BPO2_BLOBS


class Bpo2VM(OsakaVM):
    fork = "bpo2"
    _state_class = Bpo2State
