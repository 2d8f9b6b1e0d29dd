# pragma version ~=0.4.3
# @title ERC-721 collection used by the nft workload.
# @notice Anyone may mint the next token for themselves: every mint reads and writes
#         totalSupply, the next-token-id counter, so a mint storm is one dependency
#         chain. The creator (the deployer) airdrops in batches and earns a royalty
#         of royalty_bps on every marketplace sale.

event Transfer:
    sender: indexed(address)
    receiver: indexed(address)
    token_id: indexed(uint256)

event Approval:
    owner: indexed(address)
    approved: indexed(address)
    token_id: indexed(uint256)

event ApprovalForAll:
    owner: indexed(address)
    operator: indexed(address)
    approved: bool

MAX_BATCH: constant(uint256) = 256

name: public(String[32])
creator: public(address)
royalty_bps: public(uint256)
# Tokens are numbered 1..totalSupply; the next mint gets totalSupply + 1.
totalSupply: public(uint256)
ownerOf: public(HashMap[uint256, address])
balanceOf: public(HashMap[address, uint256])
getApproved: public(HashMap[uint256, address])
isApprovedForAll: public(HashMap[address, HashMap[address, bool]])


@deploy
def __init__(_name: String[32], _royalty_bps: uint256):
    assert _royalty_bps <= 10000, "royalty above 100%"
    self.name = _name
    self.creator = msg.sender
    self.royalty_bps = _royalty_bps


@internal
def _mint(receiver: address) -> uint256:
    token_id: uint256 = self.totalSupply + 1
    self.totalSupply = token_id
    self.ownerOf[token_id] = receiver
    self.balanceOf[receiver] += 1
    log Transfer(sender=empty(address), receiver=receiver, token_id=token_id)
    return token_id


@external
def mint() -> uint256:
    return self._mint(msg.sender)


@external
def mint_batch(receivers: DynArray[address, MAX_BATCH]):
    assert msg.sender == self.creator, "only the creator airdrops"
    for receiver: address in receivers:
        self._mint(receiver)


@external
def approve(approved: address, token_id: uint256):
    owner: address = self.ownerOf[token_id]
    assert msg.sender == owner or self.isApprovedForAll[owner][msg.sender], "not allowed"
    self.getApproved[token_id] = approved
    log Approval(owner=owner, approved=approved, token_id=token_id)


@external
def setApprovalForAll(operator: address, approved: bool):
    self.isApprovedForAll[msg.sender][operator] = approved
    log ApprovalForAll(owner=msg.sender, operator=operator, approved=approved)


@external
def transferFrom(sender: address, receiver: address, token_id: uint256):
    assert self.ownerOf[token_id] == sender, "sender does not own the token"
    assert receiver != empty(address), "transfer to the zero address"
    assert (msg.sender == sender or self.isApprovedForAll[sender][msg.sender]
            or self.getApproved[token_id] == msg.sender), "not allowed"
    self.getApproved[token_id] = empty(address)
    self.ownerOf[token_id] = receiver
    self.balanceOf[sender] -= 1
    self.balanceOf[receiver] += 1
    log Transfer(sender=sender, receiver=receiver, token_id=token_id)
