"""BPO2, the second blob-parameter-only fork (EIP-7892; parameters EIP-8135): BPO1 with
blob target 14, maximum 21 and update fraction 11,684,671. Mainnet activation: timestamp
1767747671 (2026-01-07 01:01:11 UTC; EIP-8135). Matches ethereum-execution 2.20.0's
ethereum/forks/bpo2, which differs from bpo1 in vm/gas.py's three blob constants only.

Invariant: BPO2's VM and state are BPO1's with `blob_schedule` replaced, nothing else."""

from __future__ import annotations

from .bpo1 import Bpo1VM
from .osaka import BlobSchedule, blob_parameter_fork

BPO2_BLOBS = BlobSchedule(target=14, max=21, update_fraction=11_684_671)
Bpo2VM = blob_parameter_fork("bpo2", BPO2_BLOBS, Bpo1VM)
Bpo2State = Bpo2VM.get_state_class()
