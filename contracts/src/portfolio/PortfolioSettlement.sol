// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IPortfolioEngine} from "./IPortfolioEngine.sol";
import {PortfolioRisk} from "./PortfolioRisk.sol";

/// @notice circomlibjs' Poseidon contracts (same functions as circomlib's circuits).
interface IPoseidon2 {
    function poseidon(uint256[2] calldata inputs) external pure returns (uint256);
}

interface IPoseidon3 {
    function poseidon(uint256[3] calldata inputs) external pure returns (uint256);
}

interface IPoseidon4P {
    function poseidon(uint256[4] calldata inputs) external pure returns (uint256);
}

interface IPoseidon5 {
    function poseidon(uint256[5] calldata inputs) external pure returns (uint256);
}

/// @title PortfolioSettlement
/// @notice Revealing a portfolio account (close, reclaim): the commitment of the revealed
///         slots, their PnL and close fee, and the split into token legs per asset between
///         the trader's balances and the vaults (the payout rule of docs/pool.md, as the
///         rate-based engine's {Settlement}).
/// @dev External library (linked) to keep the engine below EIP-170. Rounding against the
///      trader everywhere: fee up, profit legs down, loss legs up.
library PortfolioSettlement {
    uint256 private constant PRICE_SCALE = 1e8;
    uint256 private constant BPS = 10_000;
    uint256 internal constant SNARK_SCALAR_FIELD =
        21888242871839275222246405745257275088548364400416034343698204186575808495617;
    /// @notice "zkmargin/portfolio/v1" as a big-endian integer.
    uint256 internal constant PORTFOLIO_TAG = uint256(bytes32(bytes21("zkmargin/portfolio/v1"))) >> 88;
    uint256 private constant INSTRUMENTS = 12; // 4 markets + 8 series
    uint256 private constant K = 4;
    uint256 private constant RECLAIM_WINDOW = 1 days;

    struct Legs {
        int256 pnl;
        uint256 fee;
        uint256 badDebt;
        uint256 badDebtTokens;
        uint256[2] toPool;
        uint256[2] fromPool;
        uint256[2] refund;
    }

    /// @notice The state a settlement is computed at.
    /// @param priceWords Market then collateral prices (layout of public inputs 1, 2).
    /// @param longs What a long unit of each series is worth (1e-8 quote, {optionValues}).
    /// @param shorts What a short unit of each series owes (1e-8 quote, {optionValues}).
    /// @param deltaBps |δ| per series (for the option close fee).
    /// @param underlying Underlying market of each series.
    /// @param feeBps Close fee per market.
    /// @param assets Listed collateral count.
    /// @param balances Balances by asset id, token units.
    /// @param decimals Token decimals by asset id.
    struct Book {
        uint256[2] priceWords;
        uint64[8] longs;
        uint64[8] shorts;
        uint16[8] deltaBps;
        uint8[8] underlying;
        uint16[4] feeBps;
        uint256 assets;
        uint256[2] balances;
        uint8[2] decimals;
    }

    /// @notice The commitment `positions` and `salt` open for `who` (docs/portfolio.md):
    ///         Poseidon4(TAG, who, Poseidon2(Poseidon4(slot_0..3), Poseidon4(slot_4..7)), salt).
    ///         Reverts {IPortfolioEngine-PortfolioEngine__InvalidPosition} for an instrument
    ///         >= 12 (index i) or a salt >= r (index 8).
    function commitmentOf(
        address poseidon2,
        address poseidon4,
        address who,
        IPortfolioEngine.Position[8] calldata positions,
        uint256 salt
    ) external pure returns (uint256) {
        if (salt >= SNARK_SCALAR_FIELD) revert IPortfolioEngine.PortfolioEngine__InvalidPosition(8);
        uint256[4][2] memory chunk;
        for (uint256 i = 0; i < 8; ++i) {
            IPortfolioEngine.Position calldata p = positions[i];
            if (p.instrument >= INSTRUMENTS) revert IPortfolioEngine.PortfolioEngine__InvalidPosition(i);
            chunk[i / 4][i % 4] = uint256(p.instrument) | (uint256(p.long ? 1 : 0) << 8) | (uint256(p.size) << 9)
                | (uint256(p.entry) << 73);
        }
        uint256 digest = IPoseidon2(poseidon2).poseidon(
            [IPoseidon4P(poseidon4).poseidon(chunk[0]), IPoseidon4P(poseidon4).poseidon(chunk[1])]
        );
        return IPoseidon4P(poseidon4).poseidon([PORTFOLIO_TAG, uint256(uint160(who)), digest, salt]);
    }

    /// @notice PnL = Σ ±size·(mark − entry) (mark: P_k for a perpetual; for an option the
    ///         book's long or short value, by the position's side) and fee = ⌈(Σ_perp size·max(P_k, entry)·f_k·10⁴ +
    ///         Σ_option size·P_k·|δ_j|·f_k) / 10⁸⌉, both 1e-16 quote; then the legs.
    function settle(
        IPortfolioEngine.Position[8] calldata positions,
        PortfolioRisk.Config storage cfg,
        IPortfolioEngine.RiskEpoch storage epoch,
        uint256[2] memory priceWords,
        uint256[2] memory balances
    ) external view returns (Legs memory) {
        Book memory book = _book(cfg);
        (book.priceWords, book.balances) = (priceWords, balances);
        _values(cfg, epoch, positions, false, book);
        return _settleBook(positions, book);
    }

    /// @notice The liquidation record (layout {IPortfolioEngine-LiquidationRecorded}) at this
    ///         block: deadline now + 1 day, close fees, |δ|, escrow, prices, the long and short
    ///         values of every listed series (an expired unsettled one is refused).
    function record(
        PortfolioRisk.Config storage cfg,
        IPortfolioEngine.RiskEpoch storage epoch,
        uint256 commitment,
        uint256[2] memory escrowed,
        uint256 w0,
        uint256 w1
    ) external view returns (uint256[9] memory r) {
        IPortfolioEngine.Position[8] memory none;
        Book memory book;
        book.priceWords = [w0, w1];
        _values(cfg, epoch, none, true, book);
        r[0] = commitment;
        r[1] = block.timestamp + RECLAIM_WINDOW;
        for (uint256 k = 0; k < K; ++k) {
            r[1] |= uint256(cfg.markets[k].closeFeeBps) << (64 + 16 * k);
        }
        for (uint256 j = 0; j < 8; ++j) {
            r[1] |= uint256(book.deltaBps[j]) << (128 + 16 * j);
            r[5 + j / 4] |= uint256(book.longs[j]) << (64 * (j % 4));
            r[7 + j / 4] |= uint256(book.shorts[j]) << (64 * (j % 4));
        }
        r[2] = escrowed[0] | (escrowed[1] << 128);
        (r[3], r[4]) = (w0, w1);
    }

    /// @dev Fills `book`'s long and short values and |δ| per series for a settlement now at
    ///      `book.priceWords`: a settled series at its intrinsic value (δ 0), else
    ///      {optionValues} from the epoch; an expired unsettled series held (`all`: any listed
    ///      one) is refused with {PortfolioEngine__SeriesNotSettled}.
    function _values(
        PortfolioRisk.Config storage cfg,
        IPortfolioEngine.RiskEpoch storage epoch,
        IPortfolioEngine.Position[8] memory positions,
        bool all,
        Book memory book
    ) private view {
        bool[8] memory held;
        for (uint256 i = 0; i < 8; ++i) {
            if (positions[i].size != 0 && positions[i].instrument >= K) held[positions[i].instrument - K] = true;
        }
        for (uint256 j = 0; j < cfg.seriesCount; ++j) {
            if (!all && !held[j]) continue;
            IPortfolioEngine.Series storage s = cfg.series[j];
            if (s.settled) {
                uint64 v = PortfolioRisk.intrinsic(s.kind, s.strike, s.settlementPrice);
                (book.longs[j], book.shorts[j]) = (v, v);
                continue;
            }
            // casting to 'uint8' is safe: j < 8
            // forge-lint: disable-next-line(unsafe-typecast,block-timestamp)
            if (s.expiry <= block.timestamp) revert IPortfolioEngine.PortfolioEngine__SeriesNotSettled(uint8(j));
            uint256 k = s.underlying;
            (book.longs[j], book.shorts[j]) = optionValues(
                s.kind,
                s.strike,
                epoch.marks[j],
                epoch.deltaBps[j],
                epoch.gammaCharges[j],
                epoch.prices[k],
                _price(book.priceWords, k)
            );
            book.deltaBps[j] = epoch.deltaBps[j];
        }
    }

    /// @notice What a unit of an unsettled series is worth to a long holder and owes a short
    ///         writer at the underlying's price `p`, from the epoch's mark `mark`, |δ| `deltaBps`
    ///         (a call's δ is +|δ|, a put's −|δ|) and gamma charge `gamma` published at the
    ///         price `published` (all prices and values 1e-8 quote):
    ///         t = mark·10⁴ + δ·(p − published) (1e-12 quote), intrinsic I(p), cap = p (call)
    ///         or the strike (put);
    ///         long = min(cap, max(I, ⌊t/10⁴⌋)), short = min(cap, max(I, ⌈t/10⁴⌉ + gamma)).
    /// @dev Rounded against the trader (long down, short up), never negative (I ≥ 0), and
    ///      long ≤ short. The tangent mark + δ·ΔP lies below the convex option value; gamma
    ///      bounds the value's rise above it over the move set (docs/portfolio.md).
    function optionValues(
        uint256 kind,
        uint256 strike,
        uint256 mark,
        uint256 deltaBps,
        uint256 gamma,
        uint256 published,
        uint256 p
    ) internal pure returns (uint64 long, uint64 short) {
        // casting to 'int256' is safe: every operand < 2^64, |δ| <= 10^4
        // forge-lint: disable-next-line(unsafe-typecast)
        int256 t = int256(mark * BPS) + int256(deltaBps) * (int256(p) - int256(published)) * (kind == 1 ? int256(1) : -1);
        uint256 floorValue = PortfolioRisk.intrinsic(kind, strike, p);
        uint256 cap = kind == 1 ? p : strike;
        long = _clamp(_divFloor(t), floorValue, cap);
        // forge-lint: disable-next-line(unsafe-typecast)
        short = _clamp(-_divFloor(-t) + int256(gamma), floorValue, cap);
    }

    /// @dev ⌊t / 10⁴⌋ (toward −∞).
    function _divFloor(int256 t) private pure returns (int256) {
        // casting to 'int256' is safe: BPS is a small constant
        // forge-lint: disable-next-line(unsafe-typecast)
        int256 q = t / int256(BPS);
        // forge-lint: disable-next-line(unsafe-typecast)
        return (t < 0 && q * int256(BPS) != t) ? q - 1 : q;
    }

    /// @dev min(cap, max(lo, v)), with 0 <= lo <= cap < 2^64.
    function _clamp(int256 v, uint256 lo, uint256 cap) private pure returns (uint64) {
        // casting is safe: lo <= cap < 2^64 and v is compared as a signed value first
        // forge-lint: disable-next-line(unsafe-typecast)
        uint256 x = v > int256(lo) ? uint256(v) : lo;
        // forge-lint: disable-next-line(unsafe-typecast)
        return uint64(x < cap ? x : cap);
    }

    /// @dev The listing part of a book: assets, decimals, underlyings, close fees.
    function _book(PortfolioRisk.Config storage cfg) private view returns (Book memory book) {
        book.assets = cfg.collateralCount;
        for (uint256 k = 0; k < K; ++k) {
            book.feeBps[k] = cfg.markets[k].closeFeeBps;
        }
        for (uint256 c = 0; c < 2; ++c) {
            book.decimals[c] = cfg.collateral[c].decimals;
        }
        for (uint256 j = 0; j < 8; ++j) {
            book.underlying[j] = cfg.series[j].underlying;
        }
    }

    function _settleBook(IPortfolioEngine.Position[8] calldata positions, Book memory book)
        private
        pure
        returns (Legs memory st)
    {
        uint256 fee; // 1e-24 quote
        for (uint256 i = 0; i < 8; ++i) {
            IPortfolioEngine.Position calldata p = positions[i];
            if (p.size == 0) continue;
            uint256 k;
            uint256 mark;
            if (p.instrument < K) {
                k = p.instrument;
                mark = _price(book.priceWords, k);
                uint256 e = p.entry;
                fee += uint256(p.size) * (mark > e ? mark : e) * book.feeBps[k] * BPS;
            } else {
                uint256 j = p.instrument - K;
                k = book.underlying[j];
                mark = p.long ? book.longs[j] : book.shorts[j];
                fee += uint256(p.size) * _price(book.priceWords, k) * book.deltaBps[j] * book.feeBps[k];
            }
            // casting to 'int256' is safe: both < 2^64
            // forge-lint: disable-next-line(unsafe-typecast)
            int256 move = int256(mark) - int256(uint256(p.entry));
            // forge-lint: disable-next-line(unsafe-typecast)
            st.pnl += (p.long ? move : -move) * int256(uint256(p.size));
        }
        st.fee = (fee + BPS * BPS - 1) / (BPS * BPS);
        st.refund = book.balances;
        _split(st, book);
    }

    /// @notice {settle} at a liquidation record (layout: {IPortfolioEngine-LiquidationRecorded}):
    ///         its escrowed balances, prices, long and short values, |δ| and fees; `cfg` gives
    ///         the rest (assets, decimals, underlyings).
    function settleRecord(
        IPortfolioEngine.Position[8] calldata positions,
        uint256[9] calldata r,
        PortfolioRisk.Config storage cfg
    ) external view returns (Legs memory) {
        Book memory book = _book(cfg);
        book.balances = [r[2] & type(uint128).max, r[2] >> 128];
        for (uint256 i = 0; i < 8; ++i) {
            // casting truncates on purpose: 16- and 64-bit fields of the record
            // forge-lint: disable-next-line(unsafe-typecast)
            if (i < 4) book.feeBps[i] = uint16(r[1] >> (64 + 16 * i));
            // forge-lint: disable-next-line(unsafe-typecast)
            book.deltaBps[i] = uint16(r[1] >> (128 + 16 * i));
            // forge-lint: disable-next-line(unsafe-typecast)
            book.longs[i] = uint64(r[5 + i / 4] >> (64 * (i % 4)));
            // forge-lint: disable-next-line(unsafe-typecast)
            book.shorts[i] = uint64(r[7 + i / 4] >> (64 * (i % 4)));
        }
        (book.priceWords[0], book.priceWords[1]) = (r[3], r[4]);
        return _settleBook(positions, book);
    }

    function _price(uint256[2] memory words, uint256 i) private pure returns (uint256) {
        return (words[i / 3] >> (64 * (i % 3))) & type(uint64).max;
    }

    /// @dev The payout rule, as {Settlement}: each asset's vault takes the share of PnL − fee
    ///      that the asset's balance is of the collateral value at the close prices; profit
    ///      legs rounded down, loss legs rounded up and capped at the balance, the remainder
    ///      taken from the other asset; what no balance covers is bad debt (asset 0's
    ///      tokens, rounded up).
    function _split(Legs memory st, Book memory book) private pure {
        uint256 assets = book.assets;
        uint256[2] memory unit;
        uint256[2] memory scale;
        uint256[2] memory value;
        uint256 total;
        for (uint256 c = 0; c < assets; ++c) {
            unit[c] = _price(book.priceWords, K + c) * PRICE_SCALE;
            scale[c] = 10 ** uint256(book.decimals[c]);
            value[c] = (st.refund[c] * unit[c]) / scale[c];
            total += value[c];
        }
        int256 net = st.pnl - int256(st.fee);
        if (net >= 0) {
            // casting to 'uint256' is safe because net >= 0
            // forge-lint: disable-next-line(unsafe-typecast)
            uint256 profit = uint256(net);
            for (uint256 c = 0; c < assets; ++c) {
                uint256 share = total == 0 ? (c == 0 ? profit : 0) : _share(profit, value[c], total, false);
                st.fromPool[c] = (share * scale[c]) / unit[c];
            }
            return;
        }
        // casting to 'uint256' is safe because net < 0 (far from int256.min)
        // forge-lint: disable-next-line(unsafe-typecast)
        uint256 loss = uint256(-net);
        uint256[2] memory want;
        for (uint256 c = 0; c < assets && total != 0; ++c) {
            want[c] = _share(loss, value[c], total, true);
        }
        uint256 left = _collect(st, assets, unit, scale, want, loss);
        want = [left, left];
        left = _collect(st, assets, unit, scale, want, left);
        st.badDebt = left;
        if (left != 0) st.badDebtTokens = (left * scale[0] + unit[0] - 1) / unit[0];
    }

    function _share(uint256 amount, uint256 v, uint256 total, bool up) private pure returns (uint256 s) {
        uint256 r = (amount % total) * v;
        s = (amount / total) * v + r / total;
        if (up && r % total != 0) ++s;
    }

    function _collect(
        Legs memory st,
        uint256 assets,
        uint256[2] memory unit,
        uint256[2] memory scale,
        uint256[2] memory want,
        uint256 left
    ) private pure returns (uint256) {
        for (uint256 c = 0; c < assets && left != 0; ++c) {
            uint256 share = want[c] < left ? want[c] : left;
            uint256 take = (share * scale[c] + unit[c] - 1) / unit[c];
            uint256 bal = st.refund[c];
            if (take <= bal) {
                left -= share;
            } else {
                take = bal;
                left -= (take * unit[c]) / scale[c];
            }
            st.refund[c] = bal - take;
            st.toPool[c] += take;
        }
        return left;
    }
}
