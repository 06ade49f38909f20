pragma circom 2.1.9;

// Private selection of a public table entry by a private index.

include "./range.circom";

/*
 * One-hot encoding of a private index: out[k] = 1 iff index == k, for 0 <= index < K.
 * An index >= K has no witness (the bits must sum to 1 and weigh to the index).
 */
template OneHot(K) {
    assert(K > 0 && K <= 256);
    // private index into a table of K entries
    signal input index;
    // out[k] = (index == k)
    signal output out[K];

    var weight = 0;
    var total = 0;
    for (var k = 0; k < K; k++) {
        // hint, pinned by booleanity, the sum and the weighted sum below
        out[k] <-- index == k ? 1 : 0;
        out[k] * (out[k] - 1) === 0;
        total += out[k];
        weight += k * out[k];
    }
    total === 1;
    weight === index;
}

/*
 * out = table[k] for the k selected by a one-hot vector `sel` (as made by OneHot).
 */
template SelectOneHot(K) {
    assert(K > 0);
    // public table
    signal input table[K];
    // one-hot selector (constrained by the caller's OneHot)
    signal input sel[K];
    // selected entry
    signal output out;

    signal term[K];
    var acc = 0;
    for (var k = 0; k < K; k++) {
        term[k] <== table[k] * sel[k];
        acc += term[k];
    }
    out <== acc;
}
