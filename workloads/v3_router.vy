# pragma version ~=0.4.3
# @title A swap router for the V3-like pool (pevmsim's gigagas Uniswap workload).
# @notice Like Uniswap's periphery SwapRouter.exactInputSingle: the pool is asked to swap
#         an exact input with the payer encoded in the callback data; the pool's callback
#         checks its caller and pulls the input from the payer with transferFrom (the
#         payer approved this router). Differs from V3: the router's one pool is an
#         immutable (V3 derives a pool's address from the factory and the CREATE2
#         init-code hash, reading no storage either), and there is no multi-hop path,
#         WETH unwrapping or deadline.

from ethereum.ercs import IERC20

interface Pool:
    def swap(recipient: address, zero_for_one: bool, amount_specified: int256,
             sqrt_price_limit_x96: uint256, data: Bytes[96]) -> (int256, int256): nonpayable

MIN_SQRT_RATIO: constant(uint256) = 4295128739
MAX_SQRT_RATIO: constant(uint256) = 1461446703485210103287273052203988822378723970342

pool: public(immutable(address))
amount_in_cached: public(uint256)  # V3's slot 0 (exact-output swaps only), kept at max


@deploy
def __init__(_pool: address):
    pool = _pool
    self.amount_in_cached = max_value(uint256)


@external
def exactInputSingle(token_in: address, token_out: address, recipient: address,
                     amount_in: uint256, amount_out_minimum: uint256,
                     sqrt_price_limit_x96: uint256) -> uint256:
    zero_for_one: bool = convert(token_in, uint256) < convert(token_out, uint256)
    limit: uint256 = sqrt_price_limit_x96
    if limit == 0:
        limit = MAX_SQRT_RATIO - 1
        if zero_for_one:
            limit = MIN_SQRT_RATIO + 1
    amount0: int256 = 0
    amount1: int256 = 0
    amount0, amount1 = extcall Pool(pool).swap(
        recipient, zero_for_one, convert(amount_in, int256), limit,
        abi_encode(token_in, token_out, msg.sender))
    out: int256 = -amount0
    if zero_for_one:
        out = -amount1
    assert out >= convert(amount_out_minimum, int256), "too little received"
    return convert(out, uint256)


@external
def uniswapV3SwapCallback(amount0_delta: int256, amount1_delta: int256, data: Bytes[96]):
    assert amount0_delta > 0 or amount1_delta > 0, "no swap"
    assert msg.sender == pool, "not the pool"
    token_in: address = empty(address)
    token_out: address = empty(address)
    payer: address = empty(address)
    token_in, token_out, payer = abi_decode(data, (address, address, address))
    owed: int256 = amount1_delta
    if convert(token_in, uint256) < convert(token_out, uint256):
        owed = amount0_delta
    extcall IERC20(token_in).transferFrom(payer, msg.sender, convert(owed, uint256))
