pragma circom 2.1.9;

// Portfolio margin (docs/portfolio.md): the account is solvent over the ellipsoid of
// relative moves ‖L⁻¹Δ‖ <= λ, proved without a square root.
//
// Private: N position slots (instrument index, side, size, entry), the salt, and the
// risk-parameter words (re-hashed to the public risk commitment).
// Public (all built by the engine from its storage and the oracle):
//   commitment      Poseidon(PORTFOLIO_TAG, account, digest, salt); digest is
//                   Poseidon(chunk_0, ...), chunk_c = Poseidon(slot_4c .. slot_4c+3)
//   priceWords      K market prices then M collateral prices, 64 bits each, 3 per word
//   balanceWords    M collateral balances (1e-18 token), 96 bits each, 2 per word
//   riskCommitment  Poseidon(RISK_TAG, shape, params, cholesky, optionsDigest)
//   modeWord        initial (λ_IM instead of λ_MM) | withdrawal << 1 (no unrealized gain)
//                   | opening << 2 (initial, not withdrawal, every entry at its mark)
//   accountNonce    account (160 bits) | nonce << 160 (64 bits)
//   engineChain     engine address (160 bits) | chain id << 160 (64 bits)
//
// Instrument i < K is the perpetual on market i; K + j is option series j.
//
// Claim (units: 1e-30 quote unless said), zkmargin/portfolio.py is the reference:
//   D = Σ_c bal_c·P_c·(1e4 − h_c) + 1e14·(1 − withdrawal)·Σ gain_i − 1e14·Σ loss_i
//       − 1e14·Σ q_i·((short option) g_j + (option) v_j) − 1e10·Σ q_i·P_k(i)·f_k(i)
//   x_k = 1e6·Σ_{i on k} ±q_i·|Δ_i|·P_k + Σ_{c: φ(c) = k} bal_c·P_c      (1e-26 quote)
//   y_m = Σ_{k >= m} L_km·x_k                                          (1e-30 quote)
//   D >= 0  and  floor(1e4·D / 2^75)² >= Σ_m ceil(λ·|y_m| / 2^75)²
// Signed values (PnL, exposures, L, y) never enter a comparison: each is recovered as sign
// and magnitude by a bit decomposition of value + 2^B under an explicit bit budget B.

include "circomlib/circuits/poseidon.circom";

include "./pack.circom";
include "./range.circom";
include "./select.circom";
include "./signed.circom";

/*
 * Number of bits needed to hold x (x >= 1): the smallest b with x < 2^b.
 */
function portfolioBitsFor(x) {
    var b = 0;
    while ((1 << b) <= x) {
        b++;
    }
    return b;
}

/*
 * Nested Poseidon of n leaves (n a multiple of 4, n <= 20): Poseidon over the digests of
 * the chunks of 4 leaves. Every Poseidon has at most 5 inputs.
 */
template ChunkedHash(n) {
    assert(n >= 4 && n % 4 == 0 && n <= 20);
    // leaves, in order
    signal input in[n];
    // Poseidon(Poseidon(in[0..3]), Poseidon(in[4..7]), ...)
    signal output out;

    var CHUNKS = n \ 4;
    component chunk[CHUNKS];
    component top = Poseidon(CHUNKS);
    for (var c = 0; c < CHUNKS; c++) {
        chunk[c] = Poseidon(4);
        for (var j = 0; j < 4; j++) {
            chunk[c].inputs[j] <== in[4 * c + j];
        }
        top.inputs[c] <== chunk[c].out;
    }
    out <== top.out;
}

template PortfolioMargin(N, K, M, J) {
    assert(N >= 4 && N % 4 == 0 && N <= 20);
    assert(J >= 4 && J % 4 == 0 && J <= 20);
    assert(K >= 1 && K <= 5 && M >= 1 && K + J <= 256);

    // --- units and bit budgets (zkmargin/units.py, zkmargin/riskfile.py) ---
    var PRICE_BITS = 64;
    var SIZE_BITS = 64;
    var BALANCE_BITS = 96;
    var FIELD_BITS = 16;          // every small field of the risk words
    var BPS_ONE = 10000;
    var CHOLESKY_OFFSET = 10000;  // L_km is committed as L_km + 10000 in [0, 20000]
    var PRICES_PER_WORD = 3;
    var BALANCES_PER_WORD = 2;
    var ADDRESS_BITS = 160;
    var NONCE_BITS = 64;
    var CHAIN_ID_BITS = 64;
    var POSITION_SCALE = 100000000000000;  // 1e14: size * price (1e-16) -> 1e-30
    var REQUIREMENT_SCALE = 10000000000;   // 1e10: size * price * bps (1e-20) -> 1e-30
    var EXPOSURE_SCALE = 1000000;          // 1e6: size * price * bps (1e-20) -> 1e-26
    var ROUND_SHIFT = 75;                  // resolution of the quadratic comparison
    // "zkmargin/portfolio/v1" and "zkmargin/risk/v1" as big-endian integers
    var DOMAIN_TAG = 178916501036896329807155402520972796779846997866033;
    var RISK_TAG = 162723609752807833326329286357567895089;
    var SHAPE_WORD = K + M * 256 + J * 65536;
    var SIDE_SHIFT = 8;
    var SIZE_SHIFT = 9;
    var ENTRY_SHIFT = 73;

    // |x_k| < 2^X_BITS: a position term is 1e6·q·|Δ|·P < 1e6·2^64·1e4·2^64 < 2^162, a
    // collateral term bal·P < 2^160, and x_k sums at most N + M of them.
    var X_BITS = 162 + portfolioBitsFor(N + M);
    // |y_m| < 2^Y_BITS: at most K terms L_km·x_k with |L_km| <= 10000.
    var Y_BITS = X_BITS + portfolioBitsFor(K * BPS_ONE);
    // |λ·y_m| < 2^Z_BITS (λ < 2^16)
    var Z_BITS = Y_BITS + FIELD_BITS;
    // 0 <= D < 2^D_BITS: D <= Σ bal·P·(1e4 − h) + 1e14·Σ gain, N + M terms < 2^176 each
    // (2^96·2^64·1e4 < 2^174, 1e14·2^128 < 2^175).
    var D_BITS = 176 + portfolioBitsFor(N + M);
    var T_BITS = D_BITS + 14;                      // 1e4·D < 2^T_BITS
    var DHAT_BITS = T_BITS - ROUND_SHIFT;          // D̂ < 2^DHAT_BITS
    var ZHAT_BITS = Z_BITS + 1 - ROUND_SHIFT;      // ẑ_m < 2^ZHAT_BITS
    var LHS_BITS = 2 * DHAT_BITS;
    var RHS_BITS = 2 * ZHAT_BITS + portfolioBitsFor(K);
    var CLAIM_BITS = LHS_BITS > RHS_BITS ? LHS_BITS : RHS_BITS;
    assert(Z_BITS <= 251 && T_BITS <= 253 && CLAIM_BITS <= 252);
    // the PnL of one position: |q·mark − q·entry| < 2^128
    var PNL_BITS = PRICE_BITS + SIZE_BITS;

    var NP = K + M;
    var PW = (NP + PRICES_PER_WORD - 1) \ PRICES_PER_WORD;
    var BW = (M + BALANCES_PER_WORD - 1) \ BALANCES_PER_WORD;
    var NPARAMS = 2 * K + 2 * M + 2;
    var NCHOL = K * (K + 1) \ 2;
    assert(NPARAMS * FIELD_BITS <= 253 && NCHOL * FIELD_BITS <= 253);
    var NI = K + J;  // instruments

    // ---------------- public inputs ----------------
    // account commitment stored by the engine
    signal input commitment;
    // oracle prices (1e-8 quote), markets then collateral assets, packed 3 per word
    signal input priceWords[PW];
    // engine-held collateral balances (1e-18 token), packed 2 per word
    signal input balanceWords[BW];
    // commitment of the risk parameters, stored by the engine when published
    signal input riskCommitment;
    // initial | withdrawal << 1 | opening << 2
    signal input modeWord;
    // account address | nonce << 160
    signal input accountNonce;
    // engine address | chain id << 160
    signal input engineChain;

    // ---------------- private inputs ----------------
    // instrument of each slot: k < K perpetual on market k, K + j option series j
    signal input instrument[N];
    // 1 = long, 0 = short
    signal input side[N];
    // size in 1e-8 base units (0 = empty slot)
    signal input size[N];
    // entry price (perp) or premium (option), 1e-8 quote
    signal input entry[N];
    // blinding salt of the commitment
    signal input salt;
    // risk words: K floors, K listed flags, M haircuts, M risk factors, λ_MM, λ_IM (16 bits each)
    signal input riskParams;
    // L_km + 10000 for k = 0..K-1, m = 0..k (16 bits each)
    signal input riskCholesky;
    // per option series: mark | gamma charge << 64 | vega charge << 128
    signal input optionValues[J];
    // per option series: |delta| | (delta < 0) << 16 | underlying << 32 | listed << 48
    signal input optionParams[J];
    // per option series: strike | expiry << 64 | kind << 104 (only hashed: names the series)
    signal input optionKeys[J];

    // ---------------- public words ----------------
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
    // 0 < price: a zero price would erase notionals, floors and exposures
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

    // the decomposition makes the three flags bits
    component mode = UnpackWord(3, 1);
    mode.word <== modeWord;
    signal initial;
    signal withdrawal;
    signal opening;
    initial <== mode.out[0];
    withdrawal <== mode.out[1];
    opening <== mode.out[2];
    // a withdrawal is checked at the initial λ
    withdrawal * (1 - initial) === 0;
    // an opening is initial and not a withdrawal: 1 − initial + withdrawal ∈ {0, 1, 2} is 0
    // exactly when initial = 1 and withdrawal = 0 (all three are bits)
    opening * (1 - initial + withdrawal) === 0;

    component accountWord = UnpackPair(ADDRESS_BITS, NONCE_BITS);
    accountWord.word <== accountNonce;
    component engineWord = UnpackPair(ADDRESS_BITS, CHAIN_ID_BITS);
    engineWord.word <== engineChain;

    // ---------------- risk parameters (re-hashed below) ----------------
    component params = UnpackWord(NPARAMS, FIELD_BITS);
    params.word <== riskParams;
    signal floorBps[K];
    signal listedMarket[K];
    component floorBound[K];
    component listedMarketIsBit[K];
    for (var k = 0; k < K; k++) {
        floorBps[k] <== params.out[k];
        floorBound[k] = AssertAtMost(FIELD_BITS, BPS_ONE);
        floorBound[k].in <== floorBps[k];
        listedMarket[k] <== params.out[K + k];
        listedMarketIsBit[k] = AssertBool();
        listedMarketIsBit[k].in <== listedMarket[k];
    }
    signal haircut[M];
    component haircutBound[M];
    // factorSel[c][0] = no risk factor, factorSel[c][k + 1] = market k
    component factorSel[M];
    for (var c = 0; c < M; c++) {
        haircut[c] <== params.out[2 * K + c];
        haircutBound[c] = AssertAtMost(FIELD_BITS, BPS_ONE);
        haircutBound[c].in <== haircut[c];
        factorSel[c] = OneHot(K + 1);
        factorSel[c].index <== params.out[2 * K + M + c];
        // "no risk factor" adds to no exposure
        _ <== factorSel[c].out[0];
    }
    signal lambdaMM;
    signal lambdaIM;
    lambdaMM <== params.out[2 * K + 2 * M];
    lambdaIM <== params.out[2 * K + 2 * M + 1];
    // λ < 2^16 (from the decomposition)
    signal lambda;
    lambda <== lambdaMM + initial * (lambdaIM - lambdaMM);

    component chol = UnpackWord(NCHOL, FIELD_BITS);
    chol.word <== riskCholesky;
    component cholBound[NCHOL];
    for (var e = 0; e < NCHOL; e++) {
        cholBound[e] = AssertAtMost(FIELD_BITS, 2 * CHOLESKY_OFFSET);
        cholBound[e].in <== chol.out[e];
    }

    component optValues[J];
    component optParams[J];
    component deltaBound[J];
    component deltaNegIsBit[J];
    component listedOptionIsBit[J];
    signal optMark[J];
    signal optGamma[J];
    signal optVega[J];
    signal deltaMag[J];
    signal deltaNeg[J];
    signal underlying[J];
    signal listedOption[J];
    for (var j = 0; j < J; j++) {
        optValues[j] = UnpackWord(3, PRICE_BITS);
        optValues[j].word <== optionValues[j];
        optMark[j] <== optValues[j].out[0];
        optGamma[j] <== optValues[j].out[1];
        optVega[j] <== optValues[j].out[2];
        optParams[j] = UnpackWord(4, FIELD_BITS);
        optParams[j].word <== optionParams[j];
        deltaMag[j] <== optParams[j].out[0];
        deltaBound[j] = AssertAtMost(FIELD_BITS, BPS_ONE);
        deltaBound[j].in <== deltaMag[j];
        deltaNeg[j] <== optParams[j].out[1];
        deltaNegIsBit[j] = AssertBool();
        deltaNegIsBit[j].in <== deltaNeg[j];
        // < K is enforced where a position uses it (OneHot of the underlying index)
        underlying[j] <== optParams[j].out[2];
        listedOption[j] <== optParams[j].out[3];
        listedOptionIsBit[j] = AssertBool();
        listedOptionIsBit[j].in <== listedOption[j];
    }

    component optionLeaf[J];
    component optionsHash = ChunkedHash(J);
    for (var j = 0; j < J; j++) {
        optionLeaf[j] = Poseidon(3);
        optionLeaf[j].inputs[0] <== optionValues[j];
        optionLeaf[j].inputs[1] <== optionParams[j];
        optionLeaf[j].inputs[2] <== optionKeys[j];
        optionsHash.in[j] <== optionLeaf[j].out;
    }
    component riskHash = Poseidon(5);
    riskHash.inputs[0] <== RISK_TAG;
    riskHash.inputs[1] <== SHAPE_WORD;
    riskHash.inputs[2] <== riskParams;
    riskHash.inputs[3] <== riskCholesky;
    riskHash.inputs[4] <== optionsHash.out;
    riskCommitment === riskHash.out;

    // ---------------- positions ----------------
    component instSel[N];
    component sideIsBit[N];
    component sizeBits[N];
    component entryBits[N];
    component markSel[N];
    component listedSel[N];
    component underlyingSel[N];
    component marketSel[N];
    component priceSel[N];
    component floorSel[N];
    component deltaSel[N];
    component deltaNegSel[N];
    component gammaSel[N];
    component vegaSel[N];
    component pnlSign[N];
    signal isOption[N];
    signal notional[N];      // q·P_k                    (1e-16 quote)
    signal exposureMag[N];   // q·|Δ|·P_k                (1e-20 quote)
    signal sideAndNeg[N];    // side·(delta < 0)
    signal positive[N];      // exposure sign: side XOR (delta < 0)
    signal exposure[N];      // ±q·|Δ|·P_k               (field element of a signed value)
    signal exposureOn[N][K]; // exposure on market k
    signal value[N];         // q·mark                   (1e-16 quote)
    signal cost[N];          // q·entry                  (1e-16 quote)
    signal received[N];      // long: value, short: cost
    signal pnl[N];           // received − paid          (signed)
    signal gain[N];          // max(pnl, 0)
    signal loss[N];          // max(−pnl, 0)
    signal shortGamma[N];    // (1 − side)·g_j
    signal addon[N];         // q·(v_j + short·g_j)      (1e-16 quote)
    signal floorTerm[N];     // q·P_k·f_k                (1e-20 quote)
    signal slot[N];

    var gainSum = 0;
    var lossSum = 0;
    var addonSum = 0;
    var floorSum = 0;
    for (var i = 0; i < N; i++) {
        instSel[i] = OneHot(NI);
        instSel[i].index <== instrument[i];

        sideIsBit[i] = AssertBool();
        sideIsBit[i].in <== side[i];
        sizeBits[i] = AssertBits(SIZE_BITS);
        sizeBits[i].in <== size[i];
        entryBits[i] = AssertBits(PRICE_BITS);
        entryBits[i].in <== entry[i];

        var optionFlag = 0;
        for (var j = 0; j < J; j++) {
            optionFlag += instSel[i].out[K + j];
        }
        isOption[i] <== optionFlag;

        // mark: P_k for a perpetual, V_j for an option
        markSel[i] = SelectOneHot(NI);
        // a non-empty slot must hold a listed instrument
        listedSel[i] = SelectOneHot(NI);
        for (var k = 0; k < K; k++) {
            markSel[i].table[k] <== price[k];
            listedSel[i].table[k] <== listedMarket[k];
        }
        for (var j = 0; j < J; j++) {
            markSel[i].table[K + j] <== optMark[j];
            listedSel[i].table[K + j] <== listedOption[j];
        }
        for (var t = 0; t < NI; t++) {
            markSel[i].sel[t] <== instSel[i].out[t];
            listedSel[i].sel[t] <== instSel[i].out[t];
        }
        size[i] * (1 - listedSel[i].out) === 0;

        // option-table lookups (all 0 for a perpetual)
        underlyingSel[i] = SelectOneHot(J);
        deltaSel[i] = SelectOneHot(J);
        deltaNegSel[i] = SelectOneHot(J);
        gammaSel[i] = SelectOneHot(J);
        vegaSel[i] = SelectOneHot(J);
        for (var j = 0; j < J; j++) {
            underlyingSel[i].table[j] <== underlying[j];
            underlyingSel[i].sel[j] <== instSel[i].out[K + j];
            deltaSel[i].table[j] <== deltaMag[j];
            deltaSel[i].sel[j] <== instSel[i].out[K + j];
            deltaNegSel[i].table[j] <== deltaNeg[j];
            deltaNegSel[i].sel[j] <== instSel[i].out[K + j];
            gammaSel[i].table[j] <== optGamma[j];
            gammaSel[i].sel[j] <== instSel[i].out[K + j];
            vegaSel[i].table[j] <== optVega[j];
            vegaSel[i].sel[j] <== instSel[i].out[K + j];
        }

        // the risk factor: the market itself, or the option's underlying (< K)
        var perpIndex = 0;
        for (var k = 0; k < K; k++) {
            perpIndex += k * instSel[i].out[k];
        }
        marketSel[i] = OneHot(K);
        marketSel[i].index <== perpIndex + underlyingSel[i].out;
        priceSel[i] = SelectOneHot(K);
        floorSel[i] = SelectOneHot(K);
        for (var k = 0; k < K; k++) {
            priceSel[i].table[k] <== price[k];
            priceSel[i].sel[k] <== marketSel[i].out[k];
            floorSel[i].table[k] <== floorBps[k];
            floorSel[i].sel[k] <== marketSel[i].out[k];
        }

        // exposure: |Δ| = 10000 bps for a perpetual, |δ_j| for an option
        notional[i] <== size[i] * priceSel[i].out;
        exposureMag[i] <== notional[i] * (BPS_ONE * (1 - isOption[i]) + deltaSel[i].out);
        sideAndNeg[i] <== side[i] * deltaNegSel[i].out;
        positive[i] <== side[i] + deltaNegSel[i].out - 2 * sideAndNeg[i];
        exposure[i] <== (2 * positive[i] - 1) * exposureMag[i];
        for (var k = 0; k < K; k++) {
            exposureOn[i][k] <== marketSel[i].out[k] * exposure[i];
        }

        // PnL, split by sign (|pnl| < 2^128)
        value[i] <== size[i] * markSel[i].out;
        cost[i] <== size[i] * entry[i];
        received[i] <== cost[i] + side[i] * (value[i] - cost[i]);
        pnl[i] <== 2 * received[i] - value[i] - cost[i];
        // opening: a non-empty slot's entry is its mark. value − cost = q·(mark − entry)
        // with 0 < q < 2^64 invertible and mark, entry < 2^64, so it is 0 iff they are equal
        opening * (value[i] - cost[i]) === 0;
        pnlSign[i] = AbsBounded(PNL_BITS);
        pnlSign[i].in <== pnl[i];
        gain[i] <== pnlSign[i].nonNegative * pnl[i];
        // |pnl| itself is not needed: gain and loss are
        _ <== pnlSign[i].abs;
        loss[i] <== gain[i] - pnl[i];

        // option add-ons and the floor
        shortGamma[i] <== (1 - side[i]) * gammaSel[i].out;
        addon[i] <== size[i] * (vegaSel[i].out + shortGamma[i]);
        floorTerm[i] <== notional[i] * floorSel[i].out;

        slot[i] <== instrument[i] + side[i] * (1 << SIDE_SHIFT) + size[i] * (1 << SIZE_SHIFT)
            + entry[i] * (1 << ENTRY_SHIFT);

        gainSum += gain[i];
        lossSum += loss[i];
        addonSum += addon[i];
        floorSum += floorTerm[i];
    }

    // ---------------- collateral ----------------
    signal collateralNotional[M];  // bal·P_c            (1e-26 quote)
    signal collateralValue[M];     // ·(1e4 − h_c)       (1e-30 quote)
    signal collateralOn[M][K];     // bal·P_c on its risk factor's market
    var collateralSum = 0;
    for (var c = 0; c < M; c++) {
        collateralNotional[c] <== balance[c] * price[K + c];
        collateralValue[c] <== collateralNotional[c] * (BPS_ONE - haircut[c]);
        collateralSum += collateralValue[c];
        for (var k = 0; k < K; k++) {
            collateralOn[c][k] <== factorSel[c].out[k + 1] * collateralNotional[c];
        }
    }

    // ---------------- exposures and y = Lᵀx ----------------
    signal x[K];  // 1e-26 quote, |x_k| < 2^X_BITS
    for (var k = 0; k < K; k++) {
        var acc = 0;
        for (var i = 0; i < N; i++) {
            acc += EXPOSURE_SCALE * exposureOn[i][k];
        }
        for (var c = 0; c < M; c++) {
            acc += collateralOn[c][k];
        }
        x[k] <== acc;
    }
    signal cholTerm[NCHOL];
    signal y[K];  // 1e-30 quote, |y_m| < 2^Y_BITS
    signal z[K];  // λ·y_m, 1e-34 quote, |z_m| < 2^Z_BITS
    component zAbs[K];
    component zHat[K];
    signal zHatSq[K];
    var quad = 0;
    for (var m = 0; m < K; m++) {
        var acc = 0;
        for (var k = m; k < K; k++) {
            var e = k * (k + 1) \ 2 + m;  // L_km in row-major lower-triangular order
            cholTerm[e] <== (chol.out[e] - CHOLESKY_OFFSET) * x[k];
            acc += cholTerm[e];
        }
        y[m] <== acc;
        z[m] <== lambda * y[m];
        zAbs[m] = AbsBounded(Z_BITS);
        zAbs[m].in <== z[m];
        zHat[m] = CeilShift(Z_BITS, ROUND_SHIFT);
        zHat[m].in <== zAbs[m].abs;
        // the sign of z_m does not matter once it is squared
        _ <== zAbs[m].nonNegative;
        zHatSq[m] <== zHat[m].out * zHat[m].out;
        quad += zHatSq[m];
    }

    // ---------------- the claim ----------------
    signal countedGain;
    countedGain <== (1 - withdrawal) * gainSum;
    signal d;
    d <== collateralSum + POSITION_SCALE * (countedGain - lossSum - addonSum)
        - REQUIREMENT_SCALE * floorSum;
    // 0 <= 1e4·D < 2^T_BITS (so D >= 0), and D̂ = floor(1e4·D / 2^75)
    component dHat = FloorShift(T_BITS, ROUND_SHIFT);
    dHat.in <== BPS_ONE * d;
    signal lhs;
    lhs <== dHat.out * dHat.out;
    component claim = AssertGreaterEqBits(CLAIM_BITS);
    claim.lhs <== lhs;
    claim.rhs <== quad;

    // ---------------- the account commitment ----------------
    component slotsHash = ChunkedHash(N);
    for (var i = 0; i < N; i++) {
        slotsHash.in[i] <== slot[i];
    }
    component hash = Poseidon(4);
    hash.inputs[0] <== DOMAIN_TAG;
    hash.inputs[1] <== accountWord.lo;
    hash.inputs[2] <== slotsHash.out;
    hash.inputs[3] <== salt;
    commitment === hash.out;
}
