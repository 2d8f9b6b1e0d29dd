# pragma version ~=0.4.3
# @title On-chain poll: the pevmsim custom-workload example.
# @notice Each registered voter casts one vote for a proposal. Every vote writes the
#         proposal's tally (hot when one proposal is popular) and the global turnout.

event Voted:
    voter: indexed(address)
    proposal: indexed(uint256)

proposals: public(uint256)
votes: public(HashMap[uint256, uint256])  # proposal -> tally
turnout: public(uint256)
has_voted: public(HashMap[address, bool])


@deploy
def __init__(_proposals: uint256):
    self.proposals = _proposals


@external
def vote(proposal: uint256):
    assert proposal < self.proposals, "no such proposal"
    assert not self.has_voted[msg.sender], "already voted"
    self.has_voted[msg.sender] = True
    self.votes[proposal] += 1
    self.turnout += 1
    log Voted(voter=msg.sender, proposal=proposal)
