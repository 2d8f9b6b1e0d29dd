"""ethereum/tests BlockchainTests through a parallel strategy.

Each fixture's chain is built by py-evm's own fixture helpers, but with every VM class
replaced by a subclass whose `apply_all_transactions` runs the block's transactions
under a pevmsim strategy (after py-evm's block pre-processing, such as the EIP-4788
beacon root) and installs the parallel post-state. py-evm then finishes the block as
usual (withdrawals, rewards) and validates it against the fixture's header: state
root, receipts root, bloom, gas used. Finally the chain's state must equal the
fixture's `postState`, and every block's parallel run must equal its serial run. With
`eels`, every block's transactions are also executed by the executable specification
(chain/eels.py), which must agree with serial py-evm.
"""

from __future__ import annotations

import json
from functools import lru_cache

from eth.chains.mainnet import MainnetChain
from eth.db.atomic import AtomicDB
from eth.tools.fixtures.helpers import (
    apply_fixture_block_to_chain,
    chain_vm_configuration,
    genesis_params_from_fixture,
    verify_state,
)
from eth.tools._utils.normalization import normalize_blockchain_fixtures
from eth.tools.builder.chain.builders import disable_pow_check
from eth.vm.forks.byzantium import ByzantiumVM

from ..chain.block import Block
from ..chain.eels import eels_disagreements
from ..chain.outcome import py_evm_receipts
from .runner import run_block
from .spec import RunSpec


class FixtureMismatch(AssertionError):
    """A parallel run disagreed with serial execution or with the fixture."""


def load_fixtures(path) -> list:
    """[(test name, normalized fixture)] from one fixture file."""
    with open(path) as handle:
        raw = json.load(handle)
    return [(name, normalize_blockchain_fixtures(fixture)) for name, fixture in raw.items()]


def _parallel_apply_all_transactions(self, transactions, base_header):
    if not transactions:
        return base_header, (), ()
    spec = self.pevmsim_spec
    self.state.persist()  # the pre-state, with py-evm's block pre-processing
    block = Block(type(self), self.state.execution_context, self.chaindb.db,
                  self.state.state_root, transactions)
    if self.pevmsim_eels:
        problems = eels_disagreements(block)
        if problems:
            raise FixtureMismatch(f"EELS disagrees: {'; '.join(problems[:5])}")
    pre_byzantium = not issubclass(type(self), ByzantiumVM)
    report = run_block(block, spec, intermediate_roots=pre_byzantium)
    if not report.matches_serial:
        raise FixtureMismatch("; ".join(report.summary["mismatches"]))
    result = report.result
    self._state = self.get_state_class()(
        self.chaindb.db, self.state.execution_context, result.state_root)
    receipts = py_evm_receipts(transactions, result, pre_byzantium)
    header = base_header
    for transaction, receipt in zip(transactions, receipts):
        header = self.add_receipt_to_header(header, receipt)
        header = self.increment_blob_gas_used(header, transaction)
    return header, receipts, ()


@lru_cache(maxsize=None)
def parallel_vm_class(vm_class: type) -> type:
    return type(f"Parallel{vm_class.__name__}", (vm_class,),
                {"apply_all_transactions": _parallel_apply_all_transactions})


def run_fixture(fixture: dict, spec: RunSpec = RunSpec(), eels: bool = False) -> int:
    """Import every block of `fixture` in parallel, each run as `spec` says (and, with
    `eels`, checked by the executable specification too); raise on any disagreement.
    Returns the number of transactions executed."""
    vm_config = tuple((number, parallel_vm_class(vm)) for number, vm in
                      chain_vm_configuration(fixture))
    for _, vm in vm_config:
        vm.pevmsim_spec = spec
        vm.pevmsim_eels = eels
    chain_class = MainnetChain.configure("PevmsimFixtureChain", vm_configuration=vm_config)
    if fixture.get("sealEngine") == "NoProof":
        chain_class = disable_pow_check(chain_class)
    chain = chain_class.from_genesis(AtomicDB(), genesis_params=genesis_params_from_fixture(fixture),
                                     genesis_state=fixture["pre"])
    executed = 0
    for block_fixture in fixture["blocks"]:
        provided, imported, encoded = apply_fixture_block_to_chain(block_fixture, chain)
        if encoded != block_fixture["rlp"]:
            raise FixtureMismatch(f"block {imported.number} differs from the fixture")
        executed += len(imported.transactions)
    verify_state(fixture["postState"], chain.get_vm().state)
    return executed

