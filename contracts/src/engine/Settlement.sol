// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";

import {IMarginPool} from "../pool/IMarginPool.sol";
import {IMarginEngine} from "./IMarginEngine.sol";

/// @notice circomlibjs' Poseidon contract for 4 inputs (same function as circomlib's circuit).
interface IPoseidon4 {
    function poseidon(uint256[4] calldata inputs) external pure returns (uint256);
}

/// @title Settlement
/// @notice What revealing an account needs (at close, and at a reclaim after liquidation):
///         the commitment of the revealed positions, their PnL and close fee, and the split
///         into token legs per asset between the trader's balances and the vaults (the
///         payout rule of docs/pool.md).
/// @dev An external library (linked, called with DELEGATECALL) so that the engine stays
///      below EIP-170's 24,576 bytes. Its math is pure (everything it needs comes in
///      `book`); {payOut} moves the engine's tokens (it runs in the engine's context).
///      Rounding goes against the trader everywhere: the fee up, profit legs down, loss
///      legs up.
library Settlement {
    using SafeERC20 for IERC20;

    /// @dev PnL is computed in 1e-16 quote (size 1e-8 * price 1e-8).
    uint256 private constant PRICE_SCALE = 1e8;
    uint256 private constant BPS = 10_000;
    /// @notice BN254 scalar field modulus r.
    uint256 internal constant SNARK_SCALAR_FIELD =
        21888242871839275222246405745257275088548364400416034343698204186575808495617;
    /// @notice Domain tag of account commitments: "zkmargin/account/v1" as an integer.
    uint256 internal constant COMMITMENT_DOMAIN_TAG = 2730049149122563626207744532284377912228935217;
    /// @dev Slot layout of a commitment: market | long << 8 | size << 9 | entry << 73.
    uint256 private constant SIDE_SHIFT = 8;
    uint256 private constant SIZE_SHIFT = 9;
    uint256 private constant ENTRY_SHIFT = 73;

    /// @notice What a settlement decides: PnL and fee (1e-16 quote), the loss neither
    ///         balance covers (1e-16 quote, and in tokens of the first asset, rounded up),
    ///         and per asset id the tokens to the vault (loss and fee), from the vault
    ///         (profit) and back to the trader.
    struct Legs {
        int256 pnl;
        uint256 fee;
        uint256 badDebt;
        uint256 badDebtTokens;
        uint256[2] toPool;
        uint256[2] fromPool;
        uint256[2] refund;
    }

    /// @notice The market state a settlement is computed at.
    /// @param prices The account's slot prices (markets first, then assets), 1e-8 quote.
    /// @param feeBps Close fee of each market slot.
    /// @param order Asset ids of the collateral slots ([own, own] for an isolated account).
    /// @param assets Collateral slots in use (1 isolated, the listed count cross).
    /// @param marketSlots Index of the first collateral slot in `prices` (1 or 4).
    /// @param balances Balances by asset id, token units.
    /// @param decimals Token decimals by asset id.
    struct Book {
        uint64[6] prices;
        uint16[4] feeBps;
        uint8[2] order;
        uint256 assets;
        uint256 marketSlots;
        uint256[2] balances;
        uint8[2] decimals;
    }

    /// @notice Moves a settlement's tokens for the engine (after all its storage writes):
    ///         per asset the loss and fee to its vault, the profit from it (the vault pays
    ///         `msg.sender`, the engine's caller, or records an IOU), the refund from the
    ///         engine; then the uncovered loss as bad debt in the vault of `first`.
    ///         Reverts {IMarginEngine-MarginEngine__PoolNotSet} for a leg without a vault.
    /// @param pools The engine's vaults by asset id (its storage).
    /// @param tokens The engine's tokens by asset id (its storage).
    function payOut(Legs memory st, uint8 first, IMarginPool[2] storage pools, address[2] storage tokens) external {
        for (uint8 c = 0; c < 2; ++c) {
            if (st.toPool[c] != 0) _pool(pools, c).receiveLoss(st.toPool[c]);
            if (st.fromPool[c] != 0) _pool(pools, c).payProfit(msg.sender, st.fromPool[c]);
            if (st.refund[c] != 0) IERC20(tokens[c]).safeTransfer(msg.sender, st.refund[c]);
        }
        if (st.badDebtTokens != 0) _pool(pools, first).recordBadDebt(st.badDebtTokens);
    }

    /// @notice The engine's policy word ({MarginEngine-POLICY_GRACE_SHIFT}) for its listings:
    ///         lifetime (40) | grace << 40 | mmr of market k << 80 + 14k | haircut of asset c
    ///         << 136 + 14c | imr of market k << 164 + 14k | (18 − decimals of asset c) <<
    ///         220 + 5c | collateral count << 230; 0 fields for an unlisted slot.
    /// @param marketCfg The engine's market config words (feed | mmr << 160 | imr << 176).
    /// @param assetCfg The engine's asset config words (feed | haircut << 160 | decimals << 176).
    /// @param assets The engine's collateral count.
    function policyWord(
        uint256[4] storage marketCfg,
        uint256[2] storage assetCfg,
        uint256 assets,
        uint256 lifetime,
        uint256 grace
    ) external view returns (uint256 w) {
        w = lifetime | (grace << 40);
        for (uint256 k = 0; k < 4; ++k) {
            uint256 cfg = marketCfg[k];
            w |= ((cfg >> 160) & 0xffff) << (80 + 14 * k);
            w |= ((cfg >> 176) & 0xffff) << (164 + 14 * k);
        }
        for (uint256 c = 0; c < assets; ++c) {
            uint256 cfg = assetCfg[c];
            w |= ((cfg >> 160) & 0xffff) << (136 + 14 * c);
            w |= (18 - ((cfg >> 176) & 0xff)) << (220 + 5 * c);
        }
        w |= assets << 230;
    }

    /// @dev The vault of `asset`; reverts if none is set.
    function _pool(IMarginPool[2] storage pools, uint8 asset) private view returns (IMarginPool p) {
        p = pools[asset];
        if (address(p) == address(0)) revert IMarginEngine.MarginEngine__PoolNotSet(asset);
    }

    /// @notice Whether a current price of an account's slots is outside its last proof's
    ///         move set shrunk by the liquidation penalty ({MarginEngine-flagShock}); the
    ///         first such slot, its proven and current price. Exact integer arithmetic.
    /// @param current The current prices of the account's `n` slots (`k` markets first).
    /// @param proven The proven price words: slot i at bits 64·(i mod 3) of word i / 3;
    ///        0 for a slot unlisted when the account proved (ignored).
    /// @param policy The policy word of the account's epoch: the MMR of market j at bits
    ///        80 + 14j, the haircut of asset c at bits 136 + 14c.
    /// @param shape The account's tag (kind, 1 isolated | market << 2 | asset << 4; 8 bits)
    ///        | slot count n << 8 | market slot count k << 16 | (10^4 − the current
    ///        liquidation penalty in bps) << 24.
    function leftMoveSet(uint64[6] memory current, uint256[2] memory proven, uint256 policy, uint256 shape)
        external
        pure
        returns (bool, uint256, uint256, uint256)
    {
        uint256 n = (shape >> 8) & 0xff;
        uint256 k = (shape >> 16) & 0xff;
        for (uint256 i = 0; i < n; ++i) {
            uint256 p = (proven[i / 3] >> (64 * (i % 3))) & type(uint64).max;
            if (p == 0) continue; // unlisted when the account proved
            uint256 limit = ((policy >> _limitShift(shape & 0xff, i, k)) & 0x3fff) * (shape >> 24);
            if (_outside(p, current[i], limit, i < k)) {
                return (true, i, p, current[i]);
            }
        }
        return (false, 0, 0, 0);
    }

    /// @dev Bit position in the policy word of slot i's MMR (i < k) or haircut.
    function _limitShift(uint256 tag, uint256 i, uint256 k) private pure returns (uint256) {
        bool isolated = tag & 3 == 1;
        if (i < k) return 80 + 14 * (isolated ? (tag >> 2) & 3 : i);
        return 136 + 14 * (isolated ? (tag >> 4) & 1 : i - k);
    }

    /// @dev Whether `price` is outside the shrunk set around `proven`: a relative move of
    ///      more than `limit` / 10^8 (limit = rate-or-haircut bps × (10^4 − penalty bps)),
    ///      both ways for a market, downward only for collateral (a rise only adds equity).
    ///      Products stay below 2^64 · 2^27: no overflow.
    function _outside(uint256 proven, uint256 price, uint256 limit, bool isMarket) private pure returns (bool) {
        if (price >= proven) return isMarket && (price - proven) * BPS * BPS > limit * proven;
        return (proven - price) * BPS * BPS > limit * proven;
    }

    /// @notice The commitment `positions` and `salt` open for account `who`:
    ///         Poseidon(TAG, who, digest, salt), digest = the one slot (isolated) or
    ///         Poseidon of the 4 slots (docs/protocol.md, "The commitment"). Reverts
    ///         {IMarginEngine-MarginEngine__InvalidPosition} unless there are `slots`
    ///         positions, the salt is below r and every market index fits the account.
    function commitmentOf(
        address poseidon4,
        address who,
        IMarginEngine.Position[] calldata positions,
        uint256 salt,
        uint256 slots
    ) external pure returns (uint256) {
        if (positions.length != slots || salt >= SNARK_SCALAR_FIELD) {
            revert IMarginEngine.MarginEngine__InvalidPosition(slots);
        }
        uint256[4] memory slot;
        for (uint256 i = 0; i < slots; ++i) {
            IMarginEngine.Position calldata p = positions[i];
            if (p.market >= (slots == 1 ? 1 : 4)) revert IMarginEngine.MarginEngine__InvalidPosition(i);
            slot[i] = uint256(p.market) | (uint256(p.long ? 1 : 0) << SIDE_SHIFT) | (uint256(p.size) << SIZE_SHIFT)
                | (uint256(p.entry) << ENTRY_SHIFT);
        }
        uint256 digest = slots == 1 ? slot[0] : IPoseidon4(poseidon4).poseidon(slot);
        return IPoseidon4(poseidon4).poseidon([COMMITMENT_DOMAIN_TAG, uint256(uint160(who)), digest, salt]);
    }

    /// @notice PnL = Σ ±size·(price − entry) and fee = Σ size·max(price, entry)·feeBps[slot]
    ///         / 10^4 (rounded up) of the revealed positions at `prices`, and the split of
    ///         PnL − fee into legs.
    /// @param prices The account's slot prices (markets first, then assets), 1e-8 quote.
    /// @param feeBps Close fee of each market slot.
    /// @param shape The account's tag (kind: bits 0-1, own asset: bit 4) | its collateral
    ///        slots << 8.
    /// @param balances Balances by asset id, token units.
    /// @param decimals Token decimals by asset id.
    function settleClose(
        IMarginEngine.Position[] calldata positions,
        uint64[6] memory prices,
        uint16[4] memory feeBps,
        uint256 shape,
        uint256[2] memory balances,
        uint8[2] memory decimals
    ) external pure returns (Legs memory) {
        Book memory book;
        book.prices = prices;
        book.feeBps = feeBps;
        book.balances = balances;
        book.decimals = decimals;
        return _settle(positions, _shaped(book, shape, shape >> 8));
    }

    /// @notice {settleClose} at a liquidation record (layout: {IMarginEngine-LiquidationRecorded}):
    ///         its prices, fees and escrowed balances.
    /// @param decimals Token decimals by asset id.
    /// @param listed The engine's collateral count (a cross account's collateral slots).
    function settleRecord(
        IMarginEngine.Position[] calldata positions,
        uint256[6] calldata r,
        uint8[2] calldata decimals,
        uint256 listed
    ) external pure returns (Legs memory) {
        Book memory book;
        for (uint256 i = 0; i < 6; ++i) {
            // casting truncates on purpose: 64-bit fields of the price words, 16-bit fees
            // forge-lint: disable-next-line(unsafe-typecast)
            book.prices[i] = uint64(r[3 + i / 3] >> (64 * (i % 3)));
            // forge-lint: disable-next-line(unsafe-typecast)
            if (i < 4) book.feeBps[i] = uint16(r[5] >> (16 * i));
        }
        book.balances = [r[2] & type(uint128).max, r[2] >> 128];
        book.decimals = decimals;
        return _settle(positions, _shaped(book, r[1], listed));
    }

    /// @dev `book` with the collateral slots of an account with tag `tag` (an isolated
    ///      account's own asset, or the `listed` assets of a cross one) and its market slots.
    function _shaped(Book memory book, uint256 tag, uint256 listed) private pure returns (Book memory) {
        bool isolated = tag & 3 == uint256(IMarginEngine.Kind.Isolated);
        // casting to 'uint8' is safe: one bit
        // forge-lint: disable-next-line(unsafe-typecast)
        uint8 own = uint8((tag >> 4) & 1);
        book.order = isolated ? [own, own] : [0, 1];
        book.assets = isolated ? 1 : listed;
        book.marketSlots = isolated ? 1 : 4;
        return book;
    }

    function _settle(IMarginEngine.Position[] calldata positions, Book memory book)
        private
        pure
        returns (Legs memory st)
    {
        uint256 fee; // in 1e-20 quote
        for (uint256 i = 0; i < positions.length; ++i) {
            IMarginEngine.Position calldata p = positions[i];
            if (p.size == 0) continue;
            uint256 price = book.prices[p.market];
            int256 move = int256(price) - int256(uint256(p.entry));
            st.pnl += (p.long ? move : -move) * int256(uint256(p.size));
            // the notional at the higher of entry and close: a short's fee is then at least
            // feeBps of its entry notional, so a fee equal to the feed's deviation threshold
            // beats a known move either way (SECURITY.md, "Oracle latency")
            uint256 entry = p.entry;
            fee += uint256(p.size) * (price > entry ? price : entry) * book.feeBps[p.market];
        }
        st.fee = (fee + BPS - 1) / BPS;
        st.refund = book.balances;
        _split(st, book);
    }

    /// @dev Splits `st.pnl - st.fee` (1e-16 quote) into token legs per asset (the payout
    ///      rule, docs/pool.md): each asset's vault takes the share of the PnL that the
    ///      asset's balance is of the account's collateral value at the close prices
    ///      (w_c = bal_c·P_c / Σ bal·P; an isolated account: its one asset). A profit leg is
    ///      rounded down (shares, then tokens); a loss leg rounded up and capped at the
    ///      balance, and what one asset cannot cover is taken from the other (slot order);
    ///      what no balance covers is the bad debt. Fills `st.toPool`, `st.fromPool`, the
    ///      bad debt, and takes the loss out of `st.refund` (the balances, by asset id).
    function _split(Legs memory st, Book memory book) private pure {
        uint8[2] memory order = book.order;
        uint256 assets = book.assets;
        uint256[2] memory unit; // 1e-16 quote per token
        uint256[2] memory scale; // 10^decimals
        uint256[2] memory value; // balance value, 1e-16 quote, rounded down
        uint256 total;
        for (uint256 i = 0; i < assets; ++i) {
            uint8 c = order[i];
            unit[i] = uint256(book.prices[book.marketSlots + i]) * PRICE_SCALE;
            scale[i] = 10 ** uint256(book.decimals[c]);
            value[i] = (st.refund[c] * unit[i]) / scale[i];
            total += value[i];
        }
        int256 net = st.pnl - int256(st.fee);
        if (net >= 0) {
            // casting to 'uint256' is safe because net >= 0
            // forge-lint: disable-next-line(unsafe-typecast)
            uint256 profit = uint256(net);
            for (uint256 i = 0; i < assets; ++i) {
                // no collateral value: the first asset's vault pays it all
                uint256 share = total == 0 ? (i == 0 ? profit : 0) : _share(profit, value[i], total, false);
                st.fromPool[order[i]] = (share * scale[i]) / unit[i];
            }
            return;
        }
        // casting to 'uint256' is safe because net < 0 and |net| < 2^132 (no int256.min)
        // forge-lint: disable-next-line(unsafe-typecast)
        uint256 loss = uint256(-net);
        uint256[2] memory want; // pass 0: each asset's proportional share, rounded up
        for (uint256 i = 0; i < assets && total != 0; ++i) {
            want[i] = _share(loss, value[i], total, true);
        }
        uint256 left = _collect(st, order, assets, unit, scale, want, loss);
        // pass 1: what a capped leg (rounding, or a loss above the collateral) left over
        want = [left, left];
        left = _collect(st, order, assets, unit, scale, want, left);
        st.badDebt = left;
        if (left != 0) st.badDebtTokens = (left * scale[0] + unit[0] - 1) / unit[0];
    }

    /// @dev amount·v / total, rounded down (or up), exactly and without overflow: v <= total
    ///      < 2^128 (a balance's value is below 2^96 / 10^18 tokens · 2^64 · 10^8 < 2^127),
    ///      so the remainder's product stays below 2^255 for any amount.
    function _share(uint256 amount, uint256 v, uint256 total, bool up) private pure returns (uint256 s) {
        uint256 r = (amount % total) * v;
        s = (amount / total) * v + r / total;
        if (up && r % total != 0) ++s;
    }

    /// @dev Takes up to `want[i]` (1e-16 quote, capped at what is `left`) from each asset's
    ///      balance in `order`: tokens rounded up, capped at the balance (then the value
    ///      covered is rounded down). Returns the loss still uncovered.
    function _collect(
        Legs memory st,
        uint8[2] memory order,
        uint256 assets,
        uint256[2] memory unit,
        uint256[2] memory scale,
        uint256[2] memory want,
        uint256 left
    ) private pure returns (uint256) {
        for (uint256 i = 0; i < assets && left != 0; ++i) {
            uint256 share = want[i] < left ? want[i] : left;
            uint256 take = (share * scale[i] + unit[i] - 1) / unit[i]; // share < 2^131: no overflow
            uint256 bal = st.refund[order[i]];
            if (take <= bal) {
                left -= share;
            } else {
                take = bal;
                left -= (take * unit[i]) / scale[i]; // value covered, rounded down
            }
            st.refund[order[i]] = bal - take;
            st.toPool[order[i]] += take;
        }
        return left;
    }
}
