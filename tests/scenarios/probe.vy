# pragma version ~=0.4.3
# A test contract exercising the corners of parallel execution: a hot counter, the
# coinbase balance read for real, payments to the coinbase, reverts, gas burning.

counter: public(uint256)
seen_coinbase_balance: public(uint256)
scratch: public(HashMap[uint256, uint256])


@external
def bump():
    self.counter += 1


@external
def read_coinbase():
    self.seen_coinbase_balance = block.coinbase.balance


@external
@payable
def pay_coinbase():
    send(block.coinbase, msg.value)


@external
def fail():
    self.counter += 1000
    raise "always reverts"


@external
def burn(rounds: uint256):
    for i: uint256 in range(rounds, bound=100000):
        self.scratch[i % 64] = i
