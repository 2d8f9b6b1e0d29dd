# pragma version ~=0.4.3
# @title The caller-facing swap contract of pevmsim's gigagas Uniswap workload.
# @notice pevm's benchmark calls a SingleSwap contract (risechain's op-test-bench
#         SingleSwap.sol, after Uniswap's single-swap guide): sellToken0(amount) pulls
#         token0 from the caller (who approved this contract), approves the router and
#         swaps the exact input for token1 paid to the caller; sellToken1 the other way.
#         As in SingleSwap.sol the router is immutable and the tokens are in storage.

from ethereum.ercs import IERC20

interface Router:
    def exactInputSingle(token_in: address, token_out: address, recipient: address,
                         amount_in: uint256, amount_out_minimum: uint256,
                         sqrt_price_limit_x96: uint256) -> uint256: nonpayable

router: public(immutable(address))
token0: public(address)
token1: public(address)


@deploy
def __init__(_router: address, _token0: address, _token1: address):
    router = _router
    self.token0 = _token0
    self.token1 = _token1


@internal
def _sell(token_in: address, token_out: address, amount_in: uint256) -> uint256:
    extcall IERC20(token_in).transferFrom(msg.sender, self, amount_in)
    extcall IERC20(token_in).approve(router, amount_in)
    return extcall Router(router).exactInputSingle(token_in, token_out, msg.sender,
                                                   amount_in, 0, 0)


@external
def sellToken0(amount_in: uint256) -> uint256:
    return self._sell(self.token0, self.token1, amount_in)


@external
def sellToken1(amount_in: uint256) -> uint256:
    return self._sell(self.token1, self.token0, amount_in)
