"""ECDSA verification over secp256r1 (NIST P-256), as EIP-7951's P256VERIFY specifies it.

Written from the EIP's algorithm (ethereum/EIPs EIPS/eip-7951.md at
b55cdb0ee78a696327cf76d1c5cf8088d73499ca) in plain integer arithmetic, so that pevmsim's
precompile shares no code with the executable specification it is checked against
(EELS verifies through the `cryptography` package).

Invariants: `verify` is a pure function of its five integers; it returns True exactly
when every input check of the EIP passes and R' = (h/s)G + (r/s)Q is a finite point
whose x-coordinate is congruent to r modulo n.
"""

from __future__ import annotations

P = 0xFFFFFFFF00000001000000000000000000000000FFFFFFFFFFFFFFFFFFFFFFFF
A = 0xFFFFFFFF00000001000000000000000000000000FFFFFFFFFFFFFFFFFFFFFFFC
B = 0x5AC635D8AA3A93E7B3EBBD55769886BC651D06B0CC53B0F63BCE3C3E27D2604B
N = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
G = (0x6B17D1F2E12C4247F8BCE6E563A440F277037D812DEB33A0F4A13945D898C296,
     0x4FE342E2FE1A7F9B8EE7EB4A7C0F9E162BCE33576B315ECECBB6406837BF51F5)
INFINITY = None


def on_curve(x: int, y: int) -> bool:
    return (y * y - (x * x * x + A * x + B)) % P == 0


def _add(p1, p2):
    """Affine point addition (None is the point at infinity)."""
    if p1 is INFINITY:
        return p2
    if p2 is INFINITY:
        return p1
    (x1, y1), (x2, y2) = p1, p2
    if x1 == x2:
        if (y1 + y2) % P == 0:
            return INFINITY
        slope = (3 * x1 * x1 + A) * pow(2 * y1, -1, P) % P
    else:
        slope = (y2 - y1) * pow(x2 - x1, -1, P) % P
    x3 = (slope * slope - x1 - x2) % P
    return x3, (slope * (x1 - x3) - y1) % P


def _multiply(k: int, point):
    result = INFINITY
    while k:
        if k & 1:
            result = _add(result, point)
        point = _add(point, point)
        k >>= 1
    return result


def verify(h: int, r: int, s: int, qx: int, qy: int) -> bool:
    if not (0 < r < N and 0 < s < N):
        return False
    if not (qx < P and qy < P) or (qx, qy) == (0, 0) or not on_curve(qx, qy):
        return False
    s_inverse = pow(s, -1, N)
    point = _add(_multiply(h * s_inverse % N, G), _multiply(r * s_inverse % N, (qx, qy)))
    return point is not INFINITY and point[0] % N == r % N
