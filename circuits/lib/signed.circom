pragma circom 2.1.9;

// Signed integers and rounding by powers of two. A signed integer v with |v| < p/2 is the
// field element v mod p; these templates recover sign and magnitude through a bit
// decomposition (circomlib Num2Bits), which is at the same time the range check. No
// template here has a hint of its own: every witness value is computed with <==.

include "circomlib/circuits/bitify.circom";

/*
 * Sign and magnitude of a signed integer v with -2^B <= v < 2^B (B <= 251):
 * v + 2^B lies in [0, 2^(B+1)) and has a (B+1)-bit decomposition whose top bit is 1
 * iff v >= 0. Any other field element has no decomposition (r > 2^253), so the
 * template is also the range check |v| <= 2^B. Outputs nonNegative (a bit) and
 * abs = |v| (0 <= abs <= 2^B).
 */
template AbsBounded(B) {
    assert(B > 0 && B <= 251);
    // signed value (field element)
    signal input in;
    // 1 iff in >= 0
    signal output nonNegative;
    // |in|
    signal output abs;

    component bits = Num2Bits(B + 1);
    bits.in <== in + (1 << B);
    // only the top bit is used; the decomposition itself is the range check
    for (var b = 0; b < B; b++) {
        _ <== bits.out[b];
    }
    nonNegative <== bits.out[B];
    abs <== (2 * nonNegative - 1) * in;
}

/*
 * out = ceil(in / 2^S) for 0 <= in <= 2^B (S <= B, B + 1 <= 253): in + 2^S - 1 < 2^(B+1)
 * is decomposed into B + 1 bits and out is the value of the bits from S up
 * (0 <= out < 2^(B+1-S)). A value in > 2^B has no decomposition.
 */
template CeilShift(B, S) {
    assert(S > 0 && S <= B && B + 1 <= 253);
    // non-negative value
    signal input in;
    // ceil(in / 2^S)
    signal output out;

    component bits = Num2Bits(B + 1);
    bits.in <== in + (1 << S) - 1;
    // the low S bits are dropped (they are the rounding)
    for (var b = 0; b < S; b++) {
        _ <== bits.out[b];
    }
    var acc = 0;
    for (var b = S; b <= B; b++) {
        acc += bits.out[b] * (1 << (b - S));
    }
    out <== acc;
}

/*
 * out = floor(in / 2^S), and at the same time the range check 0 <= in < 2^B
 * (S < B <= 253): in is decomposed into B bits and out is the value of the bits from S up
 * (0 <= out < 2^(B-S)). A negative value (a field element r - v) has no decomposition.
 */
template FloorShift(B, S) {
    assert(S > 0 && S < B && B <= 253);
    // value, 0 <= in < 2^B
    signal input in;
    // floor(in / 2^S)
    signal output out;

    component bits = Num2Bits(B);
    bits.in <== in;
    // the low S bits are dropped (they are the rounding)
    for (var b = 0; b < S; b++) {
        _ <== bits.out[b];
    }
    var acc = 0;
    for (var b = S; b < B; b++) {
        acc += bits.out[b] * (1 << (b - S));
    }
    out <== acc;
}

/*
 * Asserts lhs >= rhs for 0 <= lhs, rhs < 2^B (B <= 252): the slack lhs - rhs must fit in
 * B bits; if lhs < rhs it wraps to r - (rhs - lhs) > r - 2^B > 2^B and has no
 * decomposition. (The same check as margin.circom's AssertGreaterEq, under its own name so
 * both files can be included together.)
 */
template AssertGreaterEqBits(B) {
    assert(B > 0 && B <= 252);
    // larger side
    signal input lhs;
    // smaller side
    signal input rhs;

    _ <== Num2Bits(B)(lhs - rhs);
}
