# pragma version ~=0.4.3
# @title Single-asset lending pool used by the defi workload.
# @notice Users deposit the asset as collateral, borrow up to 75% of their deposit,
#         and repay. Every operation updates the pool-wide totals (total_deposits,
#         total_borrows) besides the user's own position: shared counters that make
#         lending traffic conflict even between unrelated users.

from ethereum.ercs import IERC20

event Deposit:
    user: indexed(address)
    amount: uint256

event Borrow:
    user: indexed(address)
    amount: uint256

event Repay:
    user: indexed(address)
    amount: uint256

COLLATERAL_FACTOR: constant(uint256) = 75  # percent of a deposit that may be borrowed

asset: public(address)
total_deposits: public(uint256)
total_borrows: public(uint256)
deposits: public(HashMap[address, uint256])
debts: public(HashMap[address, uint256])


@deploy
def __init__(_asset: address):
    self.asset = _asset


@external
def deposit(amount: uint256):
    extcall IERC20(self.asset).transferFrom(msg.sender, self, amount)
    self.deposits[msg.sender] += amount
    self.total_deposits += amount
    log Deposit(user=msg.sender, amount=amount)


@external
def borrow(amount: uint256):
    debt: uint256 = self.debts[msg.sender] + amount
    assert debt * 100 <= self.deposits[msg.sender] * COLLATERAL_FACTOR, "undercollateralised"
    assert self.total_borrows + amount <= self.total_deposits, "pool has no liquidity"
    self.debts[msg.sender] = debt
    self.total_borrows += amount
    extcall IERC20(self.asset).transfer(msg.sender, amount)
    log Borrow(user=msg.sender, amount=amount)


@external
def repay(amount: uint256):
    extcall IERC20(self.asset).transferFrom(msg.sender, self, amount)
    self.debts[msg.sender] -= amount
    self.total_borrows -= amount
    log Repay(user=msg.sender, amount=amount)
