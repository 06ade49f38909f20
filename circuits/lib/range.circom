pragma circom 2.1.9;

// Range and shape checks. Each template constrains its input; none has an output
// that a caller could forget to use.

include "circomlib/circuits/bitify.circom";

/*
 * Asserts 0 <= in < 2^n by decomposing `in` into n boolean bits (circomlib Num2Bits).
 * n <= 253 keeps the decomposition unique in the BN254 scalar field (r > 2^253).
 */
template AssertBits(n) {
    assert(n > 0 && n <= 253);
    // value to range-check
    signal input in;

    // the bits themselves are not needed: their existence is the range check
    _ <== Num2Bits(n)(in);
}

/*
 * Asserts in ∈ {0, 1}.
 */
template AssertBool() {
    // value that must be a bit
    signal input in;

    in * (in - 1) === 0;
}

/*
 * Asserts in != 0 by exhibiting its inverse: a zero has none.
 */
template AssertNonZero() {
    // value that must not be zero
    signal input in;

    // hint: the field inverse of `in`, pinned by the constraint below
    signal inv;
    inv <-- in != 0 ? 1 / in : 0;
    in * inv === 1;
}

/*
 * Asserts 0 <= in <= bound for a compile-time bound < 2^n, by range-checking
 * bound - in: if in > bound the difference wraps to a value >= r - 2^n > 2^n.
 * The caller must already know 0 <= in < 2^n (e.g. from an unpacked word).
 */
template AssertAtMost(n, bound) {
    assert(n > 0 && n <= 252);
    assert(bound < 2 ** n);
    // value to bound from above
    signal input in;

    component headroom = AssertBits(n);
    headroom.in <== bound - in;
}
