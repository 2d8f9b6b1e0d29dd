"""Voting: each of `voters` accounts votes once for one of `proposals` proposals.

A share `hot_ratio` of the votes goes to proposal 0 (a popular proposal), the rest
uniformly. Every vote writes the global turnout counter, so a block of votes is one
dependency chain however many proposals there are.
"""

from pathlib import Path

from simulator.engine.locations import STORAGE
from workloads.api import BlockBuilder, Param, Workload, WorkloadError

CONTRACT = Path(__file__).with_name("voting.vy")


class VotingWorkload(Workload):
    name = "voting"
    description = "one vote per voter on an on-chain poll"
    params = (
        Param("voters", 200, "number of voters (at least the block size)", int, min=1),
        Param("proposals", 4, "number of proposals", int, min=1),
        Param("hot_ratio", 0.0, "share of votes forced onto proposal 0", float,
              min=0.0, max=1.0),
    )

    def setup(self, chain: BlockBuilder) -> None:
        self.voter_accounts = chain.accounts(self.voters)
        self.poll = chain.deploy(CONTRACT, self.proposals)

    def transactions(self, chain: BlockBuilder, n: int) -> list:
        if n > self.voters:
            raise WorkloadError(f"{n} votes need at least {n} voters, have {self.voters}")
        voters = chain.rng.sample(self.voter_accounts, n)  # each votes once
        return [chain.call_tx(voter, self.poll, "vote",
                              chain.pick(range(self.proposals), self.hot_ratio))
                for voter in voters]

    def labels(self) -> dict:
        return {(STORAGE, self.poll.address, self.poll.slot("turnout")): "poll turnout",
                (STORAGE, self.poll.address, self.poll.slot("votes", 0)):
                "poll votes for proposal 0"}
