# pragma version ~=0.4.3
# @title Supply-chain registry used by the supply-chain workload.
# @notice Registered parties create items (numbered by the global item_count, the
#         shared registry counter), hand custody of an item to another party (per
#         item state: custodian and stage; per party: the number of items held),
#         record inspections at checkpoints, and settle payments between parties.

event ItemCreated:
    item_id: indexed(uint256)
    creator: indexed(address)

event Handoff:
    item_id: indexed(uint256)
    sender: indexed(address)
    receiver: indexed(address)
    stage: uint256

event Inspected:
    item_id: indexed(uint256)
    inspector: indexed(address)
    passed: bool

event Settled:
    payer: indexed(address)
    payee: indexed(address)
    amount: uint256

MAX_BATCH: constant(uint256) = 256

operator: public(address)
is_party: public(HashMap[address, bool])
item_count: public(uint256)
custodian: public(HashMap[uint256, address])
stage: public(HashMap[uint256, uint256])  # hand-offs so far
inspections: public(HashMap[uint256, uint256])
flagged: public(HashMap[uint256, bool])  # failed an inspection
held: public(HashMap[address, uint256])  # items in a party's custody
received: public(HashMap[address, uint256])  # settlements received, in wei


@deploy
def __init__():
    self.operator = msg.sender


@external
def register(parties: DynArray[address, MAX_BATCH]):
    assert msg.sender == self.operator, "only the operator registers parties"
    for party: address in parties:
        self.is_party[party] = True


@internal
def _create() -> uint256:
    item_id: uint256 = self.item_count + 1
    self.item_count = item_id
    self.custodian[item_id] = msg.sender
    self.held[msg.sender] += 1
    log ItemCreated(item_id=item_id, creator=msg.sender)
    return item_id


@external
def create_item() -> uint256:
    assert self.is_party[msg.sender], "not a registered party"
    return self._create()


@external
def create_items(count: uint256):
    assert self.is_party[msg.sender], "not a registered party"
    for i: uint256 in range(count, bound=MAX_BATCH):
        self._create()


@external
def handoff(item_id: uint256, receiver: address):
    assert self.custodian[item_id] == msg.sender, "not the custodian"
    assert self.is_party[receiver], "receiver is not a registered party"
    self.custodian[item_id] = receiver
    self.held[msg.sender] -= 1
    self.held[receiver] += 1
    stage: uint256 = self.stage[item_id] + 1
    self.stage[item_id] = stage
    log Handoff(item_id=item_id, sender=msg.sender, receiver=receiver, stage=stage)


@external
def inspect(item_id: uint256, passed: bool):
    assert self.is_party[msg.sender], "not a registered party"
    assert self.custodian[item_id] != empty(address), "no such item"
    self.inspections[item_id] += 1
    if not passed:
        self.flagged[item_id] = True
    log Inspected(item_id=item_id, inspector=msg.sender, passed=passed)


@external
@payable
def settle(payee: address):
    assert self.is_party[msg.sender] and self.is_party[payee], "not registered parties"
    self.received[payee] += msg.value
    send(payee, msg.value)
    log Settled(payer=msg.sender, payee=payee, amount=msg.value)
