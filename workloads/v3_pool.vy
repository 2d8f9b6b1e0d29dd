# pragma version ~=0.4.3
# @title A Uniswap-V3-like pool for pevmsim's gigagas Uniswap workload.
# @notice One pool of concentrated-liquidity math written for pevmsim (not a port of
#         Uniswap's code): the swap loop walks initialised ticks word by word through
#         a tick bitmap, prices are Q64.96 square roots computed from the tick by the
#         same bit decomposition of 1.0001^(tick/2) (constants derived in pevmsim:
#         2^128 / sqrt(1.0001)^(2^i)), the tick of a price by a binary logarithm, fees
#         grow a global per-liquidity accumulator, a tick crossed flips its outside
#         accumulators and changes the active liquidity, the oracle writes one packed
#         observation when the tick moves, and the output is paid before the input is
#         pulled through the caller's callback, checked on the pool's token balance.
#         State per storage slot as in V3: slot0 packed (sqrt price, tick, observation
#         index, cardinality, next cardinality, protocol fee, unlock flag), the two fee
#         accumulators, protocol fees, liquidity, ticks (4 slots each), the bitmap and
#         packed observations; token0, token1, fee and tick spacing immutable. What
#         differs from V3 (stated in the workload): no
#         positions, mint, burn, flash or protocol-fee collection; seconds-per-liquidity
#         and seconds-outside accumulators are not kept.

from ethereum.ercs import IERC20

interface SwapCallback:
    def uniswapV3SwapCallback(amount0_delta: int256, amount1_delta: int256, data: Bytes[96]): nonpayable

event Swap:
    sender: indexed(address)
    recipient: indexed(address)
    amount0: int256
    amount1: int256
    sqrt_price_x96: uint256
    liquidity: uint256
    tick: int256

struct Tick:
    liquidity: uint256  # gross (high 128 bits) and net (low 128, two's complement)
    fee_growth_outside0_x128: uint256
    fee_growth_outside1_x128: uint256
    outside: uint256  # the tick cumulative outside (unused here) and the initialised flag

MIN_TICK: constant(int256) = -887272
MAX_TICK: constant(int256) = 887272
MIN_SQRT_RATIO: constant(uint256) = 4295128739
MAX_SQRT_RATIO: constant(uint256) = 1461446703485210103287273052203988822378723970342
Q96: constant(uint256) = 2**96
Q128: constant(uint256) = 2**128
PIPS: constant(uint256) = 1_000_000
MASK160: constant(uint256) = 2**160 - 1
MASK128: constant(uint256) = 2**128 - 1
MASK24: constant(uint256) = 2**24 - 1
MASK16: constant(uint256) = 2**16 - 1
MASK56: constant(uint256) = 2**56 - 1
UNLOCKED: constant(uint256) = 2**248

token0: public(immutable(address))
token1: public(immutable(address))
fee: public(immutable(uint256))
tick_spacing: public(immutable(int256))
slot0: public(uint256)
fee_growth_global0_x128: public(uint256)
fee_growth_global1_x128: public(uint256)
protocol_fees: public(uint256)
liquidity: public(uint256)
ticks: public(HashMap[int256, Tick])
tick_bitmap: public(HashMap[int256, uint256])
observations: public(HashMap[uint256, uint256])  # timestamp (32) | tick cumulative (56) | initialised


@deploy
def __init__(_token0: address, _token1: address, _fee: uint256, _spacing: int256,
             _sqrt_price_x96: uint256, _liquidity: uint256, _lower: int256, _upper: int256):
    assert convert(_token0, uint256) < convert(_token1, uint256), "token order"
    token0 = _token0
    token1 = _token1
    fee = _fee
    tick_spacing = _spacing
    tick: int256 = self._tick_at_sqrt_ratio(_sqrt_price_x96)
    # observation index 0, cardinality 1, next cardinality 1, no protocol fee, unlocked
    self.slot0 = _sqrt_price_x96 | (self._unsigned(tick, 24) << 160) \
        | (1 << 200) | (1 << 216) | UNLOCKED
    self.liquidity = _liquidity
    self.observations[0] = 1 | (1 << 255)
    for edge: int256 in [_lower, _upper]:
        net: int256 = convert(_liquidity, int256)
        if edge == _upper:
            net = -net
        self.ticks[edge].liquidity = (_liquidity << 128) | self._unsigned(net, 128)
        self.ticks[edge].outside = 1
        self._flip(edge)


@internal
@pure
def _unsigned(x: int256, bits: uint256) -> uint256:
    """x in two's complement on `bits` bits (a packed signed field)."""
    if x >= 0:
        return convert(x, uint256)
    return convert(x + convert(1 << bits, int256), uint256)


@internal
def _flip(tick: int256):
    compressed: int256 = tick // tick_spacing
    word: int256 = compressed >> 8
    bit: uint256 = convert(compressed & 255, uint256)
    self.tick_bitmap[word] = self.tick_bitmap[word] ^ (1 << bit)


@internal
@pure
def _msb(x: uint256) -> uint256:
    r: uint256 = 0
    v: uint256 = x
    for step: uint256 in [128, 64, 32, 16, 8, 4, 2, 1]:
        if v >= 1 << step:
            v = v >> step
            r += step
    return r


@internal
@pure
def _lsb(x: uint256) -> uint256:
    return self._msb(x & (~x + 1))


@internal
@pure
def _sqrt_ratio_at_tick(tick: int256) -> uint256:
    assert tick >= MIN_TICK and tick <= MAX_TICK, "tick"
    a: uint256 = convert(abs(tick), uint256)
    ratio: uint256 = Q128
    if a & 1 != 0:
        ratio = 340265354078544963557816517032075149313
    factors: uint256[19] = [
        340248342086729790484326174814286782777, 340214320654664324051920982716015181259,
        340146287995602323631171512101879684303, 340010263488231146823593991679159461443,
        339738377640345403697157401104375502015, 339195258003219555707034227454543997024,
        338111622100601834656805679988414885970, 335954724994790223023589805789778977699,
        331682121138379247127172139078559817299, 323299236684853023288211250268160618738,
        307163716377032989948697243942600083928, 277268403626896220162999269216087595045,
        225923453940442621947126027127485391332, 149997214084966997727330242082538205942,
        66119101136024775622716233608466517925, 12847376061809297530290974190478138312,
        485053260817066172746253684029974020, 691415978906521570653435304214167,
        1404880482679654955896180642]
    for i: uint256 in range(19):
        if a & (2 << i) != 0:
            ratio = (ratio * factors[i]) >> 128
    if tick > 0:
        ratio = max_value(uint256) // ratio
    result: uint256 = ratio >> 32
    if ratio % (1 << 32) != 0:
        result += 1
    return result


@internal
@pure
def _tick_at_sqrt_ratio(price: uint256) -> int256:
    # log base sqrt(1.0001) of price / 2^96, from the binary logarithm of price << 32
    # (Q128.128): 64 fractional bits by repeated squaring, then corrected by one tick.
    assert price >= MIN_SQRT_RATIO and price < MAX_SQRT_RATIO, "price"
    ratio: uint256 = price << 32
    msb: uint256 = self._msb(ratio)
    r: uint256 = 0
    if msb >= 128:
        r = ratio >> (msb - 127)
    else:
        r = ratio << (127 - msb)
    log2: int256 = (convert(msb, int256) - 128) << 64
    for i: uint256 in range(14):
        r = (r * r) >> 127
        f: uint256 = r >> 128
        log2 = log2 | convert(f << (63 - i), int256)
        r = r >> f
    # 2^64 / log2(sqrt(1.0001)) = 255738958999603826347140
    tick: int256 = (log2 * 255738958999603826347140) >> 128
    if tick > MAX_TICK:
        tick = MAX_TICK
    for _: uint256 in range(3):
        if tick > MIN_TICK and self._sqrt_ratio_at_tick(tick) > price:
            tick -= 1
        elif tick < MAX_TICK and self._sqrt_ratio_at_tick(tick + 1) <= price:
            tick += 1
        else:
            break
    return tick


@internal
@view
def _next_initialized_tick(tick: int256, lte: bool) -> (int256, bool):
    spacing: int256 = tick_spacing
    compressed: int256 = tick // spacing
    if tick < 0 and tick % spacing != 0:
        compressed -= 1
    if lte:
        word: int256 = compressed >> 8
        bit: uint256 = convert(compressed & 255, uint256)
        masked: uint256 = self.tick_bitmap[word] & ((1 << bit) - 1 + (1 << bit))
        if masked != 0:
            return (compressed - convert(bit - self._msb(masked), int256)) * spacing, True
        return (compressed - convert(bit, int256)) * spacing, False
    word: int256 = (compressed + 1) >> 8
    bit: uint256 = convert((compressed + 1) & 255, uint256)
    masked: uint256 = self.tick_bitmap[word] & ~((1 << bit) - 1)
    if masked != 0:
        return (compressed + 1 + convert(self._lsb(masked) - bit, int256)) * spacing, True
    return (compressed + 1 + convert(255 - bit, int256)) * spacing, False


@internal
@pure
def _div_up(a: uint256, b: uint256) -> uint256:
    q: uint256 = a // b
    if a % b != 0:
        q += 1
    return q


@internal
@pure
def _mul_div(a: uint256, b: uint256, c: uint256, up: bool) -> uint256:
    """a * b / c without forming a * b (exact while (a % c) * b fits 256 bits; reverts
    otherwise), rounded up when `up`."""
    remainder: uint256 = (a % c) * b
    result: uint256 = (a // c) * b + remainder // c
    if up and remainder % c != 0:
        result += 1
    return result


@internal
@pure
def _amount0_delta(pa: uint256, pb: uint256, liquidity: uint256, up: bool) -> uint256:
    lo: uint256 = min(pa, pb)
    hi: uint256 = max(pa, pb)
    over_hi: uint256 = self._mul_div(liquidity << 96, hi - lo, hi, up)
    if up:
        return self._div_up(over_hi, lo)
    return over_hi // lo


@internal
@pure
def _amount1_delta(pa: uint256, pb: uint256, liquidity: uint256, up: bool) -> uint256:
    return self._mul_div(liquidity, max(pa, pb) - min(pa, pb), Q96, up)


@internal
@pure
def _next_price(price: uint256, liquidity: uint256, amount: uint256, zero_for_one: bool) -> uint256:
    if zero_for_one:  # token0 in: the price falls, rounded up
        scaled: uint256 = liquidity << 96
        return self._div_up(scaled, scaled // price + amount)
    return price + (amount << 96) // liquidity  # token1 in: the price rises, rounded down


@internal
@pure
def _swap_step(price: uint256, target: uint256, liquidity: uint256, remaining: uint256,
               fee_pips: uint256) -> (uint256, uint256, uint256, uint256):
    """Exact input: (next price, amount in, amount out, fee amount)."""
    zero_for_one: bool = price >= target
    less_fee: uint256 = remaining * (PIPS - fee_pips) // PIPS
    to_target: uint256 = 0
    if zero_for_one:
        to_target = self._amount0_delta(target, price, liquidity, True)
    else:
        to_target = self._amount1_delta(price, target, liquidity, True)
    nxt: uint256 = target
    if less_fee < to_target:
        nxt = self._next_price(price, liquidity, less_fee, zero_for_one)
    amount_in: uint256 = to_target
    amount_out: uint256 = 0
    if zero_for_one:
        if nxt != target:
            amount_in = self._amount0_delta(nxt, price, liquidity, True)
        amount_out = self._amount1_delta(nxt, price, liquidity, False)
    else:
        if nxt != target:
            amount_in = self._amount1_delta(price, nxt, liquidity, True)
        amount_out = self._amount0_delta(price, nxt, liquidity, False)
    fee_amount: uint256 = 0
    if nxt != target:
        fee_amount = remaining - amount_in
    else:
        fee_amount = self._div_up(amount_in * fee_pips, PIPS - fee_pips)
    return nxt, amount_in, amount_out, fee_amount


@internal
def _cross(tick: int256, growth0: uint256, growth1: uint256) -> int256:
    info: Tick = self.ticks[tick]
    self.ticks[tick].fee_growth_outside0_x128 = unsafe_sub(growth0, info.fee_growth_outside0_x128)
    self.ticks[tick].fee_growth_outside1_x128 = unsafe_sub(growth1, info.fee_growth_outside1_x128)
    net: uint256 = info.liquidity & MASK128
    if net >= 2**127:
        return convert(net, int256) - 2**128
    return convert(net, int256)


@internal
def _write_observation(slot0: uint256, tick: int256, liquidity: uint256) -> uint256:
    """The oracle: one packed observation per block in which the tick moved; returns
    the new observation index (cardinality 1 as set up: index 0 is overwritten)."""
    index: uint256 = (slot0 >> 184) & MASK16
    cardinality: uint256 = (slot0 >> 200) & MASK16
    last: uint256 = self.observations[index]
    stamp: uint256 = last & (2**32 - 1)
    if stamp == block.timestamp % 2**32:
        return index
    cumulative: int256 = convert((last >> 32) & MASK56, int256)
    cumulative += tick * convert(block.timestamp % 2**32 - stamp, int256)
    new_index: uint256 = (index + 1) % cardinality
    self.observations[new_index] = (block.timestamp % 2**32) \
        | (self._unsigned(cumulative, 56) << 32) | (1 << 255)
    return new_index


@external
def swap(recipient: address, zero_for_one: bool, amount_specified: int256,
         sqrt_price_limit_x96: uint256, data: Bytes[96]) -> (int256, int256):
    assert amount_specified > 0, "exact input only"
    start: uint256 = self.slot0
    assert start & UNLOCKED != 0, "locked"
    self.slot0 = start ^ UNLOCKED  # the reentrancy lock, a write as in V3
    price: uint256 = start & MASK160
    tick: int256 = convert((start >> 160) & MASK24, int256)
    if tick >= 2**23:
        tick -= 2**24
    if zero_for_one:
        assert sqrt_price_limit_x96 < price and sqrt_price_limit_x96 > MIN_SQRT_RATIO, "limit"
    else:
        assert sqrt_price_limit_x96 > price and sqrt_price_limit_x96 < MAX_SQRT_RATIO, "limit"
    liquidity: uint256 = self.liquidity
    start_liquidity: uint256 = liquidity
    growth: uint256 = self.fee_growth_global1_x128
    if zero_for_one:
        growth = self.fee_growth_global0_x128
    remaining: uint256 = convert(amount_specified, uint256)
    out_total: uint256 = 0
    for _: uint256 in range(64):
        if remaining == 0 or price == sqrt_price_limit_x96:
            break
        step_start: uint256 = price
        next_tick: int256 = 0
        initialized: bool = False
        next_tick, initialized = self._next_initialized_tick(tick, zero_for_one)
        next_tick = max(MIN_TICK, min(MAX_TICK, next_tick))
        next_price: uint256 = self._sqrt_ratio_at_tick(next_tick)
        target: uint256 = next_price
        if (zero_for_one and next_price < sqrt_price_limit_x96) or \
                (not zero_for_one and next_price > sqrt_price_limit_x96):
            target = sqrt_price_limit_x96
        amount_in: uint256 = 0
        amount_out: uint256 = 0
        fee_amount: uint256 = 0
        price, amount_in, amount_out, fee_amount = self._swap_step(
            price, target, liquidity, remaining, fee)
        remaining -= amount_in + fee_amount
        out_total += amount_out
        if liquidity > 0:
            growth = unsafe_add(growth, fee_amount * Q128 // liquidity)
        if price == next_price:
            if initialized:
                growth0: uint256 = self.fee_growth_global0_x128
                growth1: uint256 = self.fee_growth_global1_x128
                if zero_for_one:
                    growth0 = growth
                else:
                    growth1 = growth
                net: int256 = self._cross(next_tick, growth0, growth1)
                if zero_for_one:
                    net = -net
                liquidity = convert(convert(liquidity, int256) + net, uint256)
            if zero_for_one:
                tick = next_tick - 1
            else:
                tick = next_tick
        elif price != step_start:
            tick = self._tick_at_sqrt_ratio(price)
    start_tick: int256 = convert((start >> 160) & MASK24, int256)
    if start_tick >= 2**23:
        start_tick -= 2**24
    slot0: uint256 = (start & ~MASK160 & ~(MASK24 << 160)) | price \
        | (self._unsigned(tick, 24) << 160)
    if tick != start_tick:
        index: uint256 = self._write_observation(start, start_tick, start_liquidity)
        slot0 = (slot0 & ~(MASK16 << 184)) | (index << 184)
    self.slot0 = slot0 & ~UNLOCKED  # still locked until the callback has paid
    if liquidity != start_liquidity:
        self.liquidity = liquidity
    if zero_for_one:
        self.fee_growth_global0_x128 = growth
    else:
        self.fee_growth_global1_x128 = growth
    amount_in_total: uint256 = convert(amount_specified, uint256) - remaining
    amount0: int256 = 0
    amount1: int256 = 0
    token_in: address = token0
    token_out: address = token1
    if zero_for_one:
        amount0 = convert(amount_in_total, int256)
        amount1 = -convert(out_total, int256)
    else:
        token_in = token1
        token_out = token0
        amount0 = -convert(out_total, int256)
        amount1 = convert(amount_in_total, int256)
    if out_total > 0:
        extcall IERC20(token_out).transfer(recipient, out_total)
    before: uint256 = staticcall IERC20(token_in).balanceOf(self)
    extcall SwapCallback(msg.sender).uniswapV3SwapCallback(amount0, amount1, data)
    assert before + amount_in_total <= staticcall IERC20(token_in).balanceOf(self), "paid"
    log Swap(sender=msg.sender, recipient=recipient, amount0=amount0, amount1=amount1,
             sqrt_price_x96=price, liquidity=liquidity, tick=tick)
    self.slot0 = slot0 | UNLOCKED
    return amount0, amount1
