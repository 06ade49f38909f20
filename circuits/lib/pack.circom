pragma circom 2.1.9;

// Unpacking of public words. The engine packs several small values into one public
// input to save verifier gas (~6,660 gas per public input); the circuit splits them
// back with a bit decomposition, which is at the same time their range check.

include "circomlib/circuits/bitify.circom";

/*
 * Splits `word` into n fields of `width` bits each, field j at bit offset j*width:
 *   word = sum_j out[j] * 2^(j*width),  0 <= out[j] < 2^width.
 * n*width <= 253 keeps the decomposition unique (r > 2^253), so a word >= 2^(n*width)
 * (including any value >= r the verifier might be fed) has no witness.
 */
template UnpackWord(n, width) {
    assert(n > 0 && width > 0 && n * width <= 253);
    // packed public word
    signal input word;
    // fields, least significant first
    signal output out[n];

    component bits = Num2Bits(n * width);
    bits.in <== word;

    var acc;
    for (var j = 0; j < n; j++) {
        acc = 0;
        for (var b = 0; b < width; b++) {
            acc += bits.out[j * width + b] * (1 << b);
        }
        out[j] <== acc;
    }
}

/*
 * Splits `word` = lo + hi * 2^loBits with 0 <= lo < 2^loBits, 0 <= hi < 2^hiBits.
 */
template UnpackPair(loBits, hiBits) {
    assert(loBits > 0 && hiBits > 0 && loBits + hiBits <= 253);
    // packed public word
    signal input word;
    // low field (bits [0, loBits))
    signal output lo;
    // high field (bits [loBits, loBits + hiBits))
    signal output hi;

    component bits = Num2Bits(loBits + hiBits);
    bits.in <== word;

    var accLo = 0;
    for (var b = 0; b < loBits; b++) {
        accLo += bits.out[b] * (1 << b);
    }
    var accHi = 0;
    for (var b = 0; b < hiBits; b++) {
        accHi += bits.out[loBits + b] * (1 << b);
    }
    lo <== accLo;
    hi <== accHi;
}
