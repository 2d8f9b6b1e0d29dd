"""Supply-chain traffic: items moving through parties in a shared registry.

One registry contract (supply_chain.vy) with `parties` registered parties, who
between them hold `items` items at the start (created in set-up, spread evenly).
The block mixes:

    create    a party registers a new item: reads and writes the registry's global
              item counter (item_count), the shared hot key; share `registry_ratio`
    handoff   the custodian of an item hands it to another party (per-item custodian
              and stage, per-party held counts, a Handoff event)
    inspect   a party records a checkpoint inspection of an item (per-item count;
              1 in 10 fails and flags the item)
    settle    a party pays another in ETH through the registry (per-party totals)

The non-registry operations are split 2:1:1 between handoff, inspect and settle.
Hand-offs and inspections pick item 1 with probability `hot_ratio` (a contested
shipment), otherwise a uniform item. Fewer parties also mean more conflicts, through
their held counts and balances. The generator follows custody as the block goes, so
every hand-off comes from the item's custodian of the moment.
"""

from __future__ import annotations

from simulator.engine.locations import STORAGE

from .api import BlockBuilder, Param, Workload

BATCH = 256  # supply_chain.vy's MAX_BATCH


class SupplyChainWorkload(Workload):
    name = "supply-chain"
    description = "items created, handed off, inspected and paid for among parties"
    params = (
        Param("items", 500, "items in the registry at the start", int, min=1),
        Param("parties", 50, "registered parties", int, min=2),
        Param("registry_ratio", 0.2, "share of operations creating items (writes the "
              "shared item counter)", float, min=0.0, max=1.0),
        Param("hot_ratio", 0.0, "share of hand-offs and inspections on item 1", float,
              min=0.0, max=1.0),
    )

    def setup(self, chain: BlockBuilder) -> None:
        self.members = chain.accounts(self.parties)
        self.registry = chain.deploy("supply_chain", name="SupplyChain")
        for start in range(0, self.parties, BATCH):
            chain.call(chain._deployer, self.registry, "register",
                       [party.address for party in self.members[start:start + BATCH]],
                       gas=30_000_000)
        # The generator's view of custody: custodian[item id - 1].
        self.custodian = []
        for index, party in enumerate(self.members):
            count = self.items // self.parties + (index < self.items % self.parties)
            for start in range(0, count, BATCH):
                batch = min(BATCH, count - start)
                chain.call(party, self.registry, "create_items", batch, gas=30_000_000)
                self.custodian.extend([party] * batch)

    def transactions(self, chain: BlockBuilder, n: int) -> list:
        rest = 1 - self.registry_ratio
        weights = {"create": self.registry_ratio, "handoff": rest / 2,
                   "inspect": rest / 4, "settle": rest / 4}
        txs = []
        for _ in range(n):
            kind = chain.choose(weights)
            party = chain.rng.choice(self.members)
            if kind == "create":
                self.custodian.append(party)
                txs.append(chain.call_tx(party, self.registry, "create_item"))
            elif kind == "settle":
                txs.append(chain.call_tx(party, self.registry, "settle",
                                         chain.other(self.members, party).address,
                                         value=chain.rng.randint(10**15, 10**18)))
            else:
                item_id = chain.pick(range(1, len(self.custodian) + 1), self.hot_ratio)
                if kind == "inspect":
                    txs.append(chain.call_tx(party, self.registry, "inspect", item_id,
                                             chain.rng.random() >= 0.1))
                else:
                    sender = self.custodian[item_id - 1]
                    receiver = self.custodian[item_id - 1] = chain.other(self.members, sender)
                    txs.append(chain.call_tx(sender, self.registry, "handoff", item_id,
                                             receiver.address))
        return txs

    def labels(self) -> dict:
        return {(STORAGE, self.registry.address, self.registry.slot("item_count")):
                "supply-chain registry item counter",
                (STORAGE, self.registry.address, self.registry.slot("custodian", 1)):
                "supply-chain item 1 custodian"}
