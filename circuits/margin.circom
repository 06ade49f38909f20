pragma circom 2.1.9;

// The margin statement of zkmargin (see docs/protocol.md, "Statement: rate-based margin").
//
// Private: N position slots (market index, side, size, entry price) and a salt.
// Public (all built by the engine from its own storage and the oracle):
//   commitment    Poseidon(DOMAIN_TAG, account, digest, salt), where digest is slot_0
//                 when N = 1 and Poseidon(slot_0, ..., slot_{N-1}) otherwise: every hash
//                 has at most 5 inputs, so the engine can recompute it on-chain (circomlibjs'
//                 Poseidon contracts stop at 5 inputs) when a trader closes the account
//   priceWords    K market prices then M collateral prices, 64 bits each, 3 per word
//   balanceWords  M collateral balances (1e-18 token units), 96 bits each, 2 per word
//   paramsWord    K rates then M haircuts (bps, 14 bits each), then the opening flag,
//                 then the withdrawal flag (14 bits each, each constrained to 0 or 1)
//   accountNonce  account (160 bits) | nonce << 160 (64 bits)
//   engineChain   engine address (160 bits) | chain id << 160 (64 bits)
//
// Claim, in margin units of 1e-30 quote, with no division (so no rounding at all):
//   sum_c bal_c * P_c * (10000 - h_c) + 1e14 * sum_i gain_i
//     >= 1e14 * sum_i loss_i + 1e10 * sum_i size_i * P_{m_i} * rate_{m_i}
// where a long (side = 1) has gain = size * P, loss = size * entry and a short (side = 0)
// the reverse: PnL is split by side, so no negative number ever enters the field.
//
// A withdrawal proof (withdrawal flag 1) counts no unrealized profit: from each
// position's gain it subtracts profit_i = max(0, gain_i - loss_i), so position i
// contributes min(gain_i, loss_i) - loss_i = -max(0, loss_i - gain_i): its loss in full,
// its profit not at all (per position: one position's profit offsets no other's loss).
// The left side stays >= 0 (min(gain_i, loss_i) >= 0) and below the same bound.

include "circomlib/circuits/comparators.circom";
include "circomlib/circuits/poseidon.circom";

include "./lib/pack.circom";
include "./lib/range.circom";
include "./lib/select.circom";

/*
 * Asserts lhs >= rhs for values known to satisfy 0 <= lhs < 2^B and 0 <= rhs < 2^B
 * (B <= 252): the slack lhs - rhs must fit in B bits; if lhs < rhs it wraps to
 * r - (rhs - lhs) > r - 2^B > 2^B and has no B-bit decomposition.
 */
template AssertGreaterEq(B) {
    assert(B > 0 && B <= 252);
    // larger side
    signal input lhs;
    // smaller side
    signal input rhs;

    component slack = AssertBits(B);
    slack.in <== lhs - rhs;
}

/*
 * Number of bits needed to hold x (x >= 1), i.e. the smallest b with x < 2^b.
 */
function bitsFor(x) {
    var b = 0;
    while ((1 << b) <= x) {
        b++;
    }
    return b;
}

/*
 * Number of words holding `count` fields, `perWord` fields per word.
 */
function wordsFor(count, perWord) {
    return (count + perWord - 1) \ perWord;
}

/*
 * Margin proof for N position slots over K markets and M collateral assets.
 */
template MarginProof(N, K, M) {
    assert(N >= 1 && N <= 5 && K >= 1 && K <= 256 && M >= 1);
    assert((K + M + 2) * 14 <= 253);

    // --- bit budgets (prover/units.py states the same numbers) ---
    var PRICE_BITS = 64;
    var SIZE_BITS = 64;
    var BALANCE_BITS = 96;
    var BPS_BITS = 14;
    var ADDRESS_BITS = 160;
    var NONCE_BITS = 64;
    var CHAIN_ID_BITS = 64;
    var BPS_ONE = 10000;
    var PRICES_PER_WORD = 3;
    var BALANCES_PER_WORD = 2;
    // scale factors to margin units (1e-30 quote)
    var POSITION_SCALE = 100000000000000;  // 1e14: size(1e-8) * price(1e-8) -> 1e-30
    var REQUIREMENT_SCALE = 10000000000;   // 1e10: size * price * rate(1e-4) -> 1e-30
    // "zkmargin/account/v1" as a big-endian integer
    var DOMAIN_TAG = 2730049149122563626207744532284377912228935217;
    // commitment slot layout: market (8 bits) | side (1) | size (64) | entry (64)
    var SIDE_SHIFT = 8;
    var SIZE_SHIFT = 9;
    var ENTRY_SHIFT = 73;

    // Every term of the claim is < 2^175 (bal*P*(10000-h) < 2^96*2^64*2^14,
    // 1e14*size*P < 2^47*2^128, 1e10*size*P*rate < 2^34*2^128*2^14); the sides
    // sum at most 2N+M of them.
    var TERM_BITS = 176;
    var CLAIM_BITS = TERM_BITS + bitsFor(2 * N + M);
    assert(CLAIM_BITS <= 252);

    var NP = K + M;
    var PW = wordsFor(NP, PRICES_PER_WORD);
    var BW = wordsFor(M, BALANCES_PER_WORD);
    var OPENING = K + M;  // index of the opening flag in paramsWord
    var WITHDRAWAL = K + M + 1;  // index of the withdrawal flag in paramsWord

    // ---------------- public inputs ----------------
    // account commitment stored by the engine
    signal input commitment;
    // oracle prices (1e-8 quote), markets then collateral assets, packed 3 per word
    signal input priceWords[PW];
    // engine-held collateral balances (1e-18 token), packed 2 per word
    signal input balanceWords[BW];
    // rates (bps, MMR or IMR as the engine chose), haircuts (bps), opening flag,
    // withdrawal flag
    signal input paramsWord;
    // account address | nonce << 160
    signal input accountNonce;
    // engine address | chain id << 160
    signal input engineChain;

    // ---------------- private inputs ----------------
    // market index of each slot (0 <= market < K)
    signal input market[N];
    // 1 = long, 0 = short
    signal input side[N];
    // size in 1e-8 base units (0 = empty slot)
    signal input size[N];
    // entry price in 1e-8 quote
    signal input entry[N];
    // blinding salt of the commitment (any field element)
    signal input salt;

    // ---------------- unpack and range-check public words ----------------
    signal price[NP];
    component priceWord[PW];
    for (var w = 0; w < PW; w++) {
        var n = NP - w * PRICES_PER_WORD;
        if (n > PRICES_PER_WORD) { n = PRICES_PER_WORD; }
        priceWord[w] = UnpackWord(n, PRICE_BITS);
        priceWord[w].word <== priceWords[w];
        for (var j = 0; j < n; j++) {
            price[w * PRICES_PER_WORD + j] <== priceWord[w].out[j];
        }
    }
    // 0 < price: a zero price would erase a position's notional and requirement
    component priceNonZero[NP];
    for (var p = 0; p < NP; p++) {
        priceNonZero[p] = AssertNonZero();
        priceNonZero[p].in <== price[p];
    }

    signal balance[M];
    component balanceWord[BW];
    for (var w = 0; w < BW; w++) {
        var n = M - w * BALANCES_PER_WORD;
        if (n > BALANCES_PER_WORD) { n = BALANCES_PER_WORD; }
        balanceWord[w] = UnpackWord(n, BALANCE_BITS);
        balanceWord[w].word <== balanceWords[w];
        for (var j = 0; j < n; j++) {
            balance[w * BALANCES_PER_WORD + j] <== balanceWord[w].out[j];
        }
    }

    component params = UnpackWord(K + M + 2, BPS_BITS);
    params.word <== paramsWord;
    // rates and haircuts are basis points: at most 10000
    component bpsBound[K + M];
    for (var q = 0; q < K + M; q++) {
        bpsBound[q] = AssertAtMost(BPS_BITS, BPS_ONE);
        bpsBound[q].in <== params.out[q];
    }
    signal opening;
    opening <== params.out[OPENING];
    component openingIsBit = AssertBool();
    openingIsBit.in <== opening;
    signal withdrawal;
    withdrawal <== params.out[WITHDRAWAL];
    component withdrawalIsBit = AssertBool();
    withdrawalIsBit.in <== withdrawal;
    // a proof opens an account or withdraws from it, never both
    opening * withdrawal === 0;

    component accountWord = UnpackPair(ADDRESS_BITS, NONCE_BITS);
    accountWord.word <== accountNonce;
    component engineWord = UnpackPair(ADDRESS_BITS, CHAIN_ID_BITS);
    engineWord.word <== engineChain;

    // ---------------- positions ----------------
    component marketSel[N];
    component priceSel[N];
    component rateSel[N];
    component sideIsBit[N];
    component sizeBits[N];
    component rateIsZero[N];
    component entryBits[N];
    component priceUp[N];
    signal notional[N];      // size * P_m            (1e-16 quote)
    signal cost[N];          // size * entry          (1e-16 quote)
    signal gain[N];          // long: notional, short: cost
    signal loss[N];          // long: cost, short: notional
    signal requirement[N];   // notional * rate       (1e-20 quote)
    signal openingGap[N];    // opening * (entry - P_m)
    signal sideUp[N];        // side * (entry < P_m)
    signal profit[N];        // max(0, gain - loss)   (1e-16 quote)
    signal slot[N];          // packed slot for the commitment

    var gainSum = 0;
    var lossSum = 0;
    var profitSum = 0;
    var reqSum = 0;
    for (var i = 0; i < N; i++) {
        marketSel[i] = OneHot(K);
        marketSel[i].index <== market[i];

        sideIsBit[i] = AssertBool();
        sideIsBit[i].in <== side[i];
        sizeBits[i] = AssertBits(SIZE_BITS);
        sizeBits[i].in <== size[i];
        entryBits[i] = AssertBits(PRICE_BITS);
        entryBits[i].in <== entry[i];

        priceSel[i] = SelectOneHot(K);
        rateSel[i] = SelectOneHot(K);
        for (var k = 0; k < K; k++) {
            priceSel[i].table[k] <== price[k];
            priceSel[i].sel[k] <== marketSel[i].out[k];
            rateSel[i].table[k] <== params.out[k];
            rateSel[i].sel[k] <== marketSel[i].out[k];
        }

        // a non-empty slot must sit in a listed market; listed markets have a non-zero
        // rate, unused slots rate 0 (else a position parked in an unlisted slot at the
        // pad price would turn into free PnL once that slot is listed)
        rateIsZero[i] = IsZero();
        rateIsZero[i].in <== rateSel[i].out;
        size[i] * rateIsZero[i].out === 0;

        notional[i] <== size[i] * priceSel[i].out;
        cost[i] <== size[i] * entry[i];
        gain[i] <== cost[i] + side[i] * (notional[i] - cost[i]);
        loss[i] <== notional[i] + cost[i] - gain[i];
        requirement[i] <== notional[i] * rateSel[i].out;

        // profit = max(0, gain - loss) = winning * (gain - loss), where the position is
        // winning iff the price moved its way: a long when entry < P, a short when
        // P <= entry (at P = entry, gain - loss = 0 either way). Both prices are < 2^64
        // (entry by entryBits, P by its word's decomposition), as LessThan(64) needs.
        priceUp[i] = LessThan(PRICE_BITS);
        priceUp[i].in[0] <== entry[i];
        priceUp[i].in[1] <== priceSel[i].out;
        sideUp[i] <== side[i] * priceUp[i].out;
        // winning = side ? up : 1 - up
        profit[i] <== (1 - priceUp[i].out - side[i] + 2 * sideUp[i]) * (gain[i] - loss[i]);

        // an opening proof fixes every non-empty slot's entry at the oracle price
        openingGap[i] <== opening * (entry[i] - priceSel[i].out);
        openingGap[i] * size[i] === 0;

        slot[i] <== market[i] + side[i] * (1 << SIDE_SHIFT) + size[i] * (1 << SIZE_SHIFT)
            + entry[i] * (1 << ENTRY_SHIFT);

        gainSum += gain[i];
        lossSum += loss[i];
        profitSum += profit[i];
        reqSum += requirement[i];
    }

    // ---------------- collateral ----------------
    signal collateralNotional[M];  // bal * P_c          (1e-26 quote)
    signal collateralValue[M];     // * (10000 - h_c)    (1e-30 quote)
    var collateralSum = 0;
    for (var c = 0; c < M; c++) {
        collateralNotional[c] <== balance[c] * price[K + c];
        collateralValue[c] <== collateralNotional[c] * (BPS_ONE - params.out[K + c]);
        collateralSum += collateralValue[c];
    }

    // ---------------- the claim ----------------
    // a withdrawal proof withholds every position's profit: gainSum - withheld =
    // sum_i min(gain_i, loss_i) >= 0, so lhs keeps its bound (< 2^CLAIM_BITS)
    signal withheld;
    withheld <== withdrawal * profitSum;
    component claim = AssertGreaterEq(CLAIM_BITS);
    claim.lhs <== collateralSum + POSITION_SCALE * (gainSum - withheld);
    claim.rhs <== POSITION_SCALE * lossSum + REQUIREMENT_SCALE * reqSum;

    // ---------------- the commitment ----------------
    signal digest;
    if (N == 1) {
        digest <== slot[0];
    } else {
        component slotsHash = Poseidon(N);
        for (var i = 0; i < N; i++) {
            slotsHash.inputs[i] <== slot[i];
        }
        digest <== slotsHash.out;
    }
    component hash = Poseidon(4);
    hash.inputs[0] <== DOMAIN_TAG;
    hash.inputs[1] <== accountWord.lo;
    hash.inputs[2] <== digest;
    hash.inputs[3] <== salt;
    commitment === hash.out;
}
