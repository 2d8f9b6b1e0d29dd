# pragma version ~=0.4.3
# @title Constant-product AMM pair (Uniswap V2 style) used by the amm and defi workloads.
# @notice The pair and its router in one contract, so that an EOA can swap in one
#         transaction: swap() pulls the input with transferFrom (traders approve the
#         pair), pays out the constant-product amount less the 0.3% fee, then checks
#         the V2 invariant (balance0 * 1000 - in0 * 3) * (balance1 * 1000 - in1 * 3)
#         >= reserve0 * reserve1 * 1000**2 on the real token balances. The reserves
#         are two storage slots that every swap and liquidity change reads and writes:
#         the classic hot key of DeFi traffic.

from ethereum.ercs import IERC20

event Swap:
    sender: indexed(address)
    token_in: indexed(address)
    amount_in: uint256
    amount_out: uint256
    receiver: indexed(address)

event Sync:
    reserve0: uint256
    reserve1: uint256

event Mint:
    provider: indexed(address)
    amount0: uint256
    amount1: uint256
    liquidity: uint256

event Burn:
    provider: indexed(address)
    amount0: uint256
    amount1: uint256
    liquidity: uint256

FEE: constant(uint256) = 3  # per mille: 0.3%
MINIMUM_LIQUIDITY: constant(uint256) = 1000

token0: public(address)
token1: public(address)
reserve0: public(uint256)
reserve1: public(uint256)
# Liquidity shares (not transferable: providers add and remove).
totalSupply: public(uint256)
balanceOf: public(HashMap[address, uint256])


@deploy
def __init__(_token0: address, _token1: address):
    self.token0 = _token0
    self.token1 = _token1


@internal
def _sync():
    balance0: uint256 = staticcall IERC20(self.token0).balanceOf(self)
    balance1: uint256 = staticcall IERC20(self.token1).balanceOf(self)
    self.reserve0 = balance0
    self.reserve1 = balance1
    log Sync(reserve0=balance0, reserve1=balance1)


@view
@external
def get_amount_out(amount_in: uint256, reserve_in: uint256, reserve_out: uint256) -> uint256:
    in_with_fee: uint256 = amount_in * (1000 - FEE)
    return in_with_fee * reserve_out // (reserve_in * 1000 + in_with_fee)


@external
def swap(token_in: address, amount_in: uint256, min_out: uint256, receiver: address) -> uint256:
    zero_for_one: bool = token_in == self.token0
    assert zero_for_one or token_in == self.token1, "not a token of this pair"
    reserve0: uint256 = self.reserve0
    reserve1: uint256 = self.reserve1
    reserve_in: uint256 = reserve0
    reserve_out: uint256 = reserve1
    token_out: address = self.token1
    if not zero_for_one:
        reserve_in = reserve1
        reserve_out = reserve0
        token_out = self.token0
    in_with_fee: uint256 = amount_in * (1000 - FEE)
    amount_out: uint256 = in_with_fee * reserve_out // (reserve_in * 1000 + in_with_fee)
    assert amount_out > 0 and amount_out >= min_out, "insufficient output"
    extcall IERC20(token_in).transferFrom(msg.sender, self, amount_in)
    extcall IERC20(token_out).transfer(receiver, amount_out)

    # The V2 invariant, on real balances with the fee charged on what came in.
    balance0: uint256 = staticcall IERC20(self.token0).balanceOf(self)
    balance1: uint256 = staticcall IERC20(self.token1).balanceOf(self)
    in0: uint256 = 0
    in1: uint256 = 0
    if zero_for_one:
        in0 = balance0 - reserve0
    else:
        in1 = balance1 - reserve1
    adjusted0: uint256 = balance0 * 1000 - in0 * FEE
    adjusted1: uint256 = balance1 * 1000 - in1 * FEE
    assert adjusted0 * adjusted1 >= reserve0 * reserve1 * 1000 * 1000, "K"
    self.reserve0 = balance0
    self.reserve1 = balance1
    log Sync(reserve0=balance0, reserve1=balance1)
    log Swap(sender=msg.sender, token_in=token_in, amount_in=amount_in,
             amount_out=amount_out, receiver=receiver)
    return amount_out


@external
def add_liquidity(amount0_desired: uint256, amount1_desired: uint256) -> uint256:
    # Like the V2 router: deposit at the current price, at most the desired amounts.
    reserve0: uint256 = self.reserve0
    reserve1: uint256 = self.reserve1
    amount0: uint256 = amount0_desired
    amount1: uint256 = amount1_desired
    supply: uint256 = self.totalSupply
    liquidity: uint256 = 0
    if supply == 0:
        liquidity = isqrt(amount0 * amount1) - MINIMUM_LIQUIDITY
        self.balanceOf[empty(address)] = MINIMUM_LIQUIDITY  # locked forever, as in V2
        supply = MINIMUM_LIQUIDITY
    else:
        optimal1: uint256 = amount0_desired * reserve1 // reserve0
        if optimal1 <= amount1_desired:
            amount1 = optimal1
        else:
            amount0 = amount1_desired * reserve0 // reserve1
        liquidity = min(amount0 * supply // reserve0, amount1 * supply // reserve1)
    assert liquidity > 0, "insufficient liquidity minted"
    extcall IERC20(self.token0).transferFrom(msg.sender, self, amount0)
    extcall IERC20(self.token1).transferFrom(msg.sender, self, amount1)
    self.totalSupply = supply + liquidity
    self.balanceOf[msg.sender] += liquidity
    self._sync()
    log Mint(provider=msg.sender, amount0=amount0, amount1=amount1, liquidity=liquidity)
    return liquidity


@external
def remove_liquidity(liquidity: uint256) -> (uint256, uint256):
    supply: uint256 = self.totalSupply
    amount0: uint256 = liquidity * self.reserve0 // supply
    amount1: uint256 = liquidity * self.reserve1 // supply
    assert amount0 > 0 and amount1 > 0, "insufficient liquidity burned"
    self.balanceOf[msg.sender] -= liquidity
    self.totalSupply = supply - liquidity
    extcall IERC20(self.token0).transfer(msg.sender, amount0)
    extcall IERC20(self.token1).transfer(msg.sender, amount1)
    self._sync()
    log Burn(provider=msg.sender, amount0=amount0, amount1=amount1, liquidity=liquidity)
    return (amount0, amount1)
