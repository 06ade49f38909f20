// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";
import {AggregatorV3Interface} from "@chainlink/contracts/src/v0.8/shared/interfaces/AggregatorV3Interface.sol";
import {IOracleAdapter} from "../oracle/IOracleAdapter.sol";
import {IPortfolioEngine} from "./IPortfolioEngine.sol";
import {IPoseidon2, IPoseidon3, IPoseidon4P, IPoseidon5} from "./PortfolioSettlement.sol";

/// @title PortfolioRisk
/// @notice The portfolio engine's risk arithmetic: the checks of a risk publication against
///         the listings (and storing it, with the publication prices), and the move-set
///         test of {IPortfolioEngine-flag}.
/// @dev An external library (linked, DELEGATECALL) to keep the engine below EIP-170; only
///      {publish} writes (the engine's epoch it is given).
///      Word layouts: {IPortfolioEngine} header (16-bit fields, least significant first).
library PortfolioRisk {
    /// @notice "zkmargin/risk/v1" as a big-endian integer.
    uint256 internal constant RISK_TAG = uint256(bytes32(bytes16("zkmargin/risk/v1"))) >> 128;
    /// @notice K | M << 8 | J << 16 of PortfolioMargin(8, 4, 2, 8).
    uint256 internal constant SHAPE_WORD = 4 | (2 << 8) | (8 << 16);
    uint256 internal constant BPS = 10_000;
    uint256 internal constant K = 4;
    uint256 internal constant M = 2;
    uint256 internal constant J = 8;
    uint256 private constant F16 = 0xffff;
    uint256 private constant U64 = type(uint64).max;
    /// @dev Δ is computed in units of 1e-12 (truncated toward zero).
    int256 private constant S = 1e12;
    /// @dev Inside the move set every |Δ_k| ≤ ‖row_k(L)‖·λ ≤ 2 · 6.5535 < 14 (entries of L
    ///      are at most 1 in real units, λ < 2^16 bps): a larger move is outside.
    int256 private constant MAX_MOVE = 14 * S;

    /// @notice The engine's listings (its storage; external functions take a pointer).
    struct Config {
        IPortfolioEngine.Market[4] markets;
        IPortfolioEngine.Collateral[2] collateral;
        IPortfolioEngine.Series[8] series;
        uint8 marketCount;
        uint8 collateralCount;
        uint8 seriesCount;
        uint16 minLambdaMM;
    }

    /// @notice What a publication is checked against (the engine's listings at this block).
    struct Listings {
        uint256 markets;
        uint256 assets;
        uint256 series;
        uint16 minLambda;
        uint16[4] minFloor;
        uint16[4] minDiag;
        uint16[2] minHaircut;
        uint8[2] factor;
        uint8[8] underlying;
        uint256[8] keys; // strike | expiry << 64 | kind << 104 of each listed series
        bool[8] settled;
        uint64[8] settlementPrice;
        uint256 timestamp;
    }

    /// @notice What the engine keeps of a checked publication.
    struct Checked {
        uint64[8] marks;
        uint16[8] deltaBps;
        uint64[8] gammaCharges;
        uint40 firstExpiry;
    }

    function field(uint256 word, uint256 i) internal pure returns (uint256) {
        return (word >> (16 * i)) & F16;
    }

    /// @notice λ_MM (bps) of a riskParams word.
    function lambdaMM(uint256 params) internal pure returns (uint256) {
        return field(params, 2 * K + 2 * M);
    }

    /// @notice The intrinsic value (1e-8 quote) of a series of `kind` at `price`.
    function intrinsic(uint256 kind, uint256 strike, uint256 at) internal pure returns (uint64) {
        uint256 v = kind == 1 ? (at > strike ? at - strike : 0) : (strike > at ? strike - at : 0);
        // casting to 'uint64' is safe: both operands < 2^64
        // forge-lint: disable-next-line(unsafe-typecast)
        return uint64(v);
    }

    /// @notice Checks a publication (every rule of {IPortfolioEngine-publishRisk}, reverting
    ///         with the rule's error) and stores it in `e`: the words, the computed
    ///         commitment, marks, |δ|, gamma charges, the first unsettled expiry, the listing
    ///         counts and every listed market's oracle price now (the publication prices the
    ///         options settle from; `oracle` reverts on a stale feed).
    function publish(
        Config storage cfg,
        IOracleAdapter oracle,
        address[4] memory poseidons,
        IPortfolioEngine.RiskEpoch storage e,
        uint256 params,
        uint256 chol,
        uint256[8] calldata values,
        uint256[8] calldata oparams,
        uint256[8] calldata keys
    ) external returns (uint256 commitment) {
        Checked memory out = _check(cfg, params, chol, values, oparams, keys);
        commitment = riskCommitment(poseidons, params, chol, values, oparams, keys);
        (e.commitment, e.riskParams, e.riskCholesky) = (commitment, params, chol);
        (e.marks, e.deltaBps, e.gammaCharges) = (out.marks, out.deltaBps, out.gammaCharges);
        for (uint256 k = 0; k < cfg.marketCount; ++k) {
            (e.prices[k],,) = oracle.getPrice(cfg.markets[k].feed);
        }
        // casting to 'uint40' is safe until year 36,812
        // forge-lint: disable-next-line(unsafe-typecast)
        e.publishedAt = uint40(block.timestamp);
        e.firstExpiry = out.firstExpiry;
        (e.marketCount, e.collateralCount, e.seriesCount) = (cfg.marketCount, cfg.collateralCount, cfg.seriesCount);
    }

    function _check(
        Config storage cfg,
        uint256 params,
        uint256 chol,
        uint256[8] calldata values,
        uint256[8] calldata oparams,
        uint256[8] calldata keys
    ) private view returns (Checked memory out) {
        Listings memory l = _listings(cfg);
        _checkParams(l, params);
        _checkCholesky(l, chol);
        out.firstExpiry = type(uint40).max;
        for (uint256 j = 0; j < J; ++j) {
            if (j >= l.series) {
                if (values[j] | oparams[j] | keys[j] != 0) revert IPortfolioEngine.PortfolioEngine__RiskListingMismatch(8 + j);
                continue;
            }
            _checkOption(l, j, values[j], oparams[j], keys[j], out);
        }
    }

    function _listings(Config storage cfg) private view returns (Listings memory l) {
        (l.markets, l.assets, l.series) = (cfg.marketCount, cfg.collateralCount, cfg.seriesCount);
        l.minLambda = cfg.minLambdaMM;
        l.timestamp = block.timestamp;
        for (uint256 k = 0; k < l.markets; ++k) {
            (l.minFloor[k], l.minDiag[k]) = (cfg.markets[k].minFloorBps, cfg.markets[k].minDiagBps);
        }
        for (uint256 c = 0; c < l.assets; ++c) {
            (l.minHaircut[c], l.factor[c]) = (cfg.collateral[c].minHaircutBps, cfg.collateral[c].riskFactor);
        }
        for (uint256 j = 0; j < l.series; ++j) {
            IPortfolioEngine.Series storage s = cfg.series[j];
            l.underlying[j] = s.underlying;
            l.keys[j] = uint256(s.strike) | (uint256(s.expiry) << 64) | (uint256(s.kind) << 104);
            (l.settled[j], l.settlementPrice[j]) = (s.settled, s.settlementPrice);
        }
    }

    /// @notice Poseidon5(RISK_TAG, SHAPE_WORD, params, chol, Poseidon2(Poseidon4(leaf_0..3),
    ///         Poseidon4(leaf_4..7))), leaf_j = Poseidon3(values[j], oparams[j], keys[j]), with
    ///         circomlibjs' contracts `poseidons` = [Poseidon2, Poseidon3, Poseidon4, Poseidon5].
    function riskCommitment(
        address[4] memory poseidons,
        uint256 params,
        uint256 chol,
        uint256[8] calldata values,
        uint256[8] calldata oparams,
        uint256[8] calldata keys
    ) public pure returns (uint256) {
        uint256[4][2] memory leaves;
        for (uint256 j = 0; j < J; ++j) {
            leaves[j / 4][j % 4] = IPoseidon3(poseidons[1]).poseidon([values[j], oparams[j], keys[j]]);
        }
        uint256 digest = IPoseidon2(poseidons[0]).poseidon(
            [IPoseidon4P(poseidons[2]).poseidon(leaves[0]), IPoseidon4P(poseidons[2]).poseidon(leaves[1])]
        );
        return IPoseidon5(poseidons[3]).poseidon([RISK_TAG, SHAPE_WORD, params, chol, digest]);
    }

    /// @notice The settlement price (1e-8) of a series expiring at `expiry` on `feed`: round
    ///         `roundId` must have updatedAt >= expiry and a positive answer, round `roundId − 1`
    ///         must exist with 0 < updatedAt < expiry; the answer is normalised to 8 decimals as
    ///         the adapter does (truncated) and must be in (0, 2^64).
    function settlementPrice(address feed, uint40 expiry, uint80 roundId) external view returns (uint64) {
        AggregatorV3Interface agg = AggregatorV3Interface(feed);
        (int256 answer, uint256 at) = _round(agg, roundId);
        if (at < expiry || answer <= 0 || roundId == 0) revert IPortfolioEngine.PortfolioEngine__InvalidSettlementRound(roundId);
        (, uint256 before) = _round(agg, roundId - 1);
        if (before == 0 || before >= expiry) revert IPortfolioEngine.PortfolioEngine__InvalidSettlementRound(roundId);
        uint256 d = agg.decimals();
        // casting to 'uint256' is safe: answer > 0
        // forge-lint: disable-next-line(unsafe-typecast)
        uint256 p = uint256(answer);
        p = d <= 8 ? p * 10 ** (8 - d) : p / 10 ** (d - 8);
        if (p == 0 || p > type(uint64).max) revert IPortfolioEngine.PortfolioEngine__InvalidSettlementRound(roundId);
        // casting to 'uint64' is safe: checked above
        // forge-lint: disable-next-line(unsafe-typecast)
        return uint64(p);
    }

    /// @dev A round's answer and update time; (0, 0) if the feed has no such round.
    function _round(AggregatorV3Interface agg, uint80 roundId) private view returns (int256, uint256) {
        try agg.getRoundData(roundId) returns (uint80, int256 answer, uint256, uint256 updatedAt, uint80) {
            return (answer, updatedAt);
        } catch {
            return (0, 0);
        }
    }

    /// @notice The engine-wide outage clock brought up to date from `feeds`' last updates
    ///         (as the rate-based engine's clocks): an outage starts when a feed's heartbeat
    ///         ran out (not when someone noticed) and ends at the latest update once every
    ///         feed is fresh; `total` counts the stale seconds so far.
    function staleScan(Config storage cfg, IOracleAdapter oracle, uint64 total, uint64 since, uint64 closed)
        external
        view
        returns (uint64, uint64, uint64, bool)
    {
        uint256 staleFrom = type(uint256).max;
        uint256 latest;
        uint256 n = uint256(cfg.marketCount) + cfg.collateralCount;
        for (uint256 i = 0; i < n; ++i) {
            address feed = i < cfg.marketCount ? cfg.markets[i].feed : cfg.collateral[i - cfg.marketCount].feed;
            (uint256 updatedAt, uint256 heartbeat) = oracle.lastUpdate(feed);
            // forge-lint: disable-next-line(block-timestamp)
            if (updatedAt <= block.timestamp && block.timestamp - updatedAt > heartbeat) {
                if (updatedAt + heartbeat + 1 < staleFrom) staleFrom = updatedAt + heartbeat + 1;
            }
            if (updatedAt > latest) latest = updatedAt;
        }
        if (staleFrom != type(uint256).max) {
            if (since != 0) return (total, since, closed, false);
            // casting to 'uint64' is safe: a timestamp
            // forge-lint: disable-next-line(unsafe-typecast)
            return (total, uint64(staleFrom > closed ? staleFrom : closed), closed, true);
        }
        if (since == 0) return (total, since, closed, false);
        // forge-lint: disable-next-line(block-timestamp)
        uint256 end = latest < block.timestamp ? latest : block.timestamp;
        if (end < since) end = since;
        // casting to 'uint64' is safe: timestamps
        // forge-lint: disable-next-line(unsafe-typecast)
        return (total + uint64(end - since), 0, uint64(end), true);
    }

    function _checkParams(Listings memory l, uint256 params) private pure {
        if (params >> (16 * (2 * K + 2 * M + 2)) != 0) revert IPortfolioEngine.PortfolioEngine__RiskWordInvalid(0);
        for (uint256 k = 0; k < K; ++k) {
            uint256 floor_ = field(params, k);
            bool listed = k < l.markets;
            if (field(params, K + k) != (listed ? 1 : 0)) revert IPortfolioEngine.PortfolioEngine__RiskListingMismatch(k);
            if (!listed) {
                if (floor_ != 0) revert IPortfolioEngine.PortfolioEngine__RiskListingMismatch(k);
                continue;
            }
            if (floor_ > BPS) revert IPortfolioEngine.PortfolioEngine__RiskWordInvalid(0);
            if (floor_ < l.minFloor[k]) {
                revert IPortfolioEngine.PortfolioEngine__RiskBelowMinimum(0, k, floor_, l.minFloor[k]);
            }
        }
        for (uint256 c = 0; c < M; ++c) {
            uint256 h = field(params, 2 * K + c);
            uint256 f = field(params, 2 * K + M + c);
            if (c >= l.assets) {
                if (h != 0 || f != 0) revert IPortfolioEngine.PortfolioEngine__RiskListingMismatch(K + c);
                continue;
            }
            if (f != l.factor[c]) revert IPortfolioEngine.PortfolioEngine__RiskListingMismatch(K + c);
            if (h > BPS) revert IPortfolioEngine.PortfolioEngine__RiskWordInvalid(0);
            if (h < l.minHaircut[c]) revert IPortfolioEngine.PortfolioEngine__RiskBelowMinimum(1, c, h, l.minHaircut[c]);
        }
        uint256 mm = field(params, 2 * K + 2 * M);
        uint256 im = field(params, 2 * K + 2 * M + 1);
        uint256 minMM = l.minLambda == 0 ? 1 : l.minLambda;
        if (mm < minMM) revert IPortfolioEngine.PortfolioEngine__RiskBelowMinimum(2, 0, mm, minMM);
        if (im < mm) revert IPortfolioEngine.PortfolioEngine__RiskBelowMinimum(3, 0, im, mm);
    }

    function _checkCholesky(Listings memory l, uint256 chol) private pure {
        if (chol >> (16 * (K * (K + 1) / 2)) != 0) revert IPortfolioEngine.PortfolioEngine__RiskWordInvalid(1);
        uint256 i;
        for (uint256 k = 0; k < K; ++k) {
            for (uint256 m = 0; m <= k; ++m) {
                uint256 v = field(chol, i++);
                if (v > 2 * BPS) revert IPortfolioEngine.PortfolioEngine__RiskWordInvalid(1);
                if (k >= l.markets) {
                    // an unlisted market's row of L is 0 (stored with its offset)
                    if (v != BPS) revert IPortfolioEngine.PortfolioEngine__RiskListingMismatch(k);
                } else if (m == k) {
                    uint256 minD = l.minDiag[k] == 0 ? 1 : l.minDiag[k];
                    if (v < BPS + minD) {
                        revert IPortfolioEngine.PortfolioEngine__RiskBelowMinimum(4, k, v < BPS ? 0 : v - BPS, minD);
                    }
                }
            }
        }
    }

    function _checkOption(
        Listings memory l,
        uint256 j,
        uint256 a,
        uint256 b,
        uint256 key,
        Checked memory out
    ) private pure {
        if (key != l.keys[j]) revert IPortfolioEngine.PortfolioEngine__RiskListingMismatch(8 + j);
        if (a >> 192 != 0) revert IPortfolioEngine.PortfolioEngine__RiskWordInvalid(2 + j);
        // B = |δ| | neg << 16 | underlying << 32 | listed << 48, nothing else
        if (b >> 64 != 0 || field(b, 1) > 1 || field(b, 0) > BPS) revert IPortfolioEngine.PortfolioEngine__RiskWordInvalid(10 + j);
        if (field(b, 2) != l.underlying[j] || field(b, 3) != 1) revert IPortfolioEngine.PortfolioEngine__RiskListingMismatch(8 + j);
        uint256 kind = key >> 104;
        // a call's δ is >= 0, a put's <= 0 (as zkmargin/riskfile.py)
        if ((kind == 1 && field(b, 1) == 1) || (kind == 2 && field(b, 1) == 0 && field(b, 0) != 0)) {
            revert IPortfolioEngine.PortfolioEngine__RiskWordInvalid(10 + j);
        }
        uint256 mark = a & U64;
        uint256 expiry = (key >> 64) & type(uint40).max;
        if (expiry <= l.timestamp) {
            if (!l.settled[j]) revert IPortfolioEngine.PortfolioEngine__SeriesNotSettled(uint8(j));
            if (mark != intrinsic(kind, key & U64, l.settlementPrice[j]) || a >> 64 != 0 || b & 0x1ffff != 0) {
                revert IPortfolioEngine.PortfolioEngine__SettlementMismatch(uint8(j));
            }
        } else if (!l.settled[j] && expiry < out.firstExpiry) {
            // casting to 'uint40' is safe: masked to 40 bits
            // forge-lint: disable-next-line(unsafe-typecast)
            out.firstExpiry = uint40(expiry);
        }
        // casting is safe: masked to 64 and 16 bits
        // forge-lint: disable-next-line(unsafe-typecast)
        out.marks[j] = uint64(mark);
        // forge-lint: disable-next-line(unsafe-typecast)
        out.gammaCharges[j] = uint64((a >> 64) & U64);
        // forge-lint: disable-next-line(unsafe-typecast)
        out.deltaBps[j] = uint16(field(b, 0));
    }

    // ================================================================== move set

    /// @notice Whether `current` prices (price words) left the move set the proof at `proven`
    ///         certified, shrunk by `penaltyBps`, under the epoch words `params`, `chol` with
    ///         `markets` listed markets and `assets` listed assets. `reason` 0: the market
    ///         ellipsoid; 1 + c: collateral c.
    /// @dev Ellipsoid (exact statement: ‖u‖ > ρ, u = L⁻¹Δ, ρ = λ_MM·(10⁴ − pen)/10⁸, L = ℓ/10⁴
    ///      with ℓ the integer bps entries). Computed: δ̂_k = trunc((P'_k − P_k)·10¹²/P_k), so
    ///      |δ̂_k − 10¹²Δ_k| < 1; w = adj(ℓ)·δ̂ = D·ℓ⁻¹δ̂ (D = ∏ℓ_kk = det ℓ), exact in integers
    ///      by forward substitution; the exact w* = D·ℓ⁻¹·10¹²Δ = D·10⁸·u satisfies
    ///      ‖w* − w‖ ≤ ‖adj(ℓ)‖_F·√n =: ε (computed rounded up, E = ⌈ε⌉), and ‖u‖ > ρ ⟺
    ///      ‖w*‖ > τ := λ_MM·(10⁴ − pen)·D. The flag fires iff ‖w‖ > τ + E (compared squared),
    ///      which implies ‖w*‖ ≥ ‖w‖ − ε > τ: the test can only under-estimate ‖u‖, by at
    ///      most 2E/(D·10⁸) (for the demo's L, below 10⁻¹¹). A move |δ̂_k| > 14·10¹² is outside
    ///      without the solve (inside the set every |Δ_k| < 14).
    ///      Collateral (exact integers): no factor, (P_c − P'_c)·10⁸ > h_c·(10⁴ − pen)·P_c;
    ///      factor k, (P'_k·P_c − P'_c·P_k)·10⁸ > h_c·(10⁴ − pen)·P_c·P_k.
    function outside(
        uint256[2] memory proven,
        uint256[2] memory current,
        uint256 params,
        uint256 chol,
        uint256 markets,
        uint256 assets,
        uint256 penaltyBps
    ) external pure returns (bool, uint8) {
        uint256 shrink = BPS - penaltyBps;
        if (_ellipsoidLeft(proven, current, chol, markets, lambdaMM(params) * shrink)) return (true, 0);
        for (uint256 c = 0; c < assets; ++c) {
            // casting to 'uint8' is safe: c < 2
            // forge-lint: disable-next-line(unsafe-typecast)
            if (_collateralLeft(proven, current, params, c, shrink)) return (true, uint8(1 + c));
        }
        return (false, 0);
    }

    function _collateralLeft(
        uint256[2] memory proven,
        uint256[2] memory current,
        uint256 params,
        uint256 c,
        uint256 shrink
    ) private pure returns (bool) {
        uint256 p = price(proven, K + c);
        uint256 q = price(current, K + c);
        uint256 h = field(params, 2 * K + c) * shrink;
        uint256 f = field(params, 2 * K + M + c);
        if (f == 0) return p > q && (p - q) * 1e8 > h * p;
        uint256 pk = price(proven, f - 1);
        uint256 qk = price(current, f - 1);
        return qk * p > q * pk && (qk * p - q * pk) * 1e8 > h * p * pk;
    }

    /// @notice Price slot `i` (markets 0..3, then assets) of two price words.
    function price(uint256[2] memory words, uint256 i) internal pure returns (uint256) {
        return (words[i / 3] >> (64 * (i % 3))) & U64;
    }

    /// @dev ℓ_km (signed bps) from the Cholesky word.
    function _l(uint256 chol, uint256 k, uint256 m) private pure returns (int256) {
        // casting to 'int256' is safe: a 16-bit field
        // forge-lint: disable-next-line(unsafe-typecast)
        return int256(field(chol, (k * (k + 1)) / 2 + m)) - int256(BPS);
    }

    /// @dev w = D·ℓ⁻¹·v by forward substitution over the first n markets (exact division).
    function _solve(uint256 chol, uint256 n, int256 d, int256[4] memory v) private pure returns (int256[4] memory w) {
        for (uint256 k = 0; k < n; ++k) {
            int256 acc = v[k] * d;
            for (uint256 m = 0; m < k; ++m) {
                acc -= _l(chol, k, m) * w[m];
            }
            w[k] = acc / _l(chol, k, k);
        }
    }

    function _ellipsoidLeft(
        uint256[2] memory proven,
        uint256[2] memory current,
        uint256 chol,
        uint256 n,
        uint256 lambdaShrunk
    ) private pure returns (bool) {
        if (n == 0) return false;
        int256[4] memory delta;
        int256 d = 1;
        for (uint256 k = 0; k < n; ++k) {
            // casting to 'int256' is safe: prices < 2^64
            // forge-lint: disable-next-line(unsafe-typecast)
            int256 p = int256(price(proven, k));
            // forge-lint: disable-next-line(unsafe-typecast)
            int256 q = int256(price(current, k));
            if (p == 0) continue; // not listed at the proof (cannot happen for k < n)
            delta[k] = ((q - p) * S) / p; // truncated toward zero
            if (delta[k] > MAX_MOVE) return true;
            d *= _l(chol, k, k);
        }
        // E = ⌈√(n·‖adj ℓ‖_F²)⌉: the columns of adj ℓ are D·ℓ⁻¹·e_j
        uint256 frob;
        for (uint256 j = 0; j < n; ++j) {
            int256[4] memory e;
            e[j] = 1;
            int256[4] memory col = _solve(chol, n, d, e);
            for (uint256 k = 0; k < n; ++k) {
                // casting to 'uint256' is safe: a square
                // forge-lint: disable-next-line(unsafe-typecast)
                frob += uint256(col[k] * col[k]);
            }
        }
        // casting to 'uint256' is safe: d > 0 (a product of positive diagonals)
        // forge-lint: disable-next-line(unsafe-typecast)
        uint256 bound = lambdaShrunk * uint256(d) + Math.sqrt(n * frob, Math.Rounding.Ceil);
        int256[4] memory w = _solve(chol, n, d, delta);
        uint256 sum;
        for (uint256 k = 0; k < n; ++k) {
            uint256 a = SignedAbs.abs(w[k]);
            if (a > bound) return true;
            sum += a * a;
        }
        return sum > bound * bound;
    }
}

library SignedAbs {
    function abs(int256 x) internal pure returns (uint256) {
        // casting to 'uint256' is safe: |x| of a value far from int256.min
        // forge-lint: disable-next-line(unsafe-typecast)
        return x >= 0 ? uint256(x) : uint256(-x);
    }
}
