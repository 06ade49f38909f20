// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IMarginEngine} from "../engine/IMarginEngine.sol";
import {ICrossVerifier, IIsolatedVerifier} from "../engine/MarginEngine.sol";

/// @notice What {StressCheck} reads of the engine beyond {IMarginEngine}: its verifiers and
///         the gas it gives them (public immutables and a constant of MarginEngine).
interface IEngineVerifiers {
    function isolatedVerifier() external view returns (address);
    function crossVerifier() external view returns (address);
    function VERIFIER_GAS() external view returns (uint256);
}

/// @title StressCheck
/// @notice Shareable **stress proofs**, checked on-chain by anyone: "account A still meets
///         maintenance margin if ETH falls 30% and BTC 25%", without revealing positions.
///         The statement is the engine's own maintenance statement of A (stored commitment,
///         balances, MMRs, haircuts, A's current nonce, engine and chain, all built by the
///         engine's `publicInputs`) with each price slot moved by the stated shocks; the
///         proof is a MarginProof of that statement, checked by the engine's verifier.
/// @dev A periphery contract, not part of the engine: it only reads (views), holds nothing,
///      and keeps the engine below EIP-170's size limit. Shocks are one per listed market id
///      in basis points (> -10,000); a market slot's price P becomes floor(P·(10⁴ + bps)/10⁴);
///      a collateral slot priced by the same feed as a listed market (WETH by ETH/USD)
///      takes the first such market's shock; an unlisted (pad) slot keeps its price.
///      Python computes the same integers (zkmargin/stress.py).
contract StressCheck {
    uint256 private constant BPS = 10_000;
    uint256 private constant PRICE_BITS = 64;
    uint256 private constant PRICE_MASK = type(uint64).max;
    /// @dev Slot layout of the circuits: isolated (K, M) = (1, 1), cross (4, 2).
    uint256 private constant CROSS_MARKETS = 4;
    uint256 private constant CROSS_SLOTS = 6;

    /// @notice The engine whose accounts are checked.
    IMarginEngine public immutable engine;

    /// @dev `given` shocks, but the engine lists `expected` markets (one shock each).
    error StressCheck__ShockCount(uint256 given, uint256 expected);
    /// @dev A shock of -100% or less (`bps` <= -10,000) on market `market`: a price must stay positive.
    error StressCheck__ShockTooLow(uint8 market, int16 bps);
    /// @dev The shocked price of slot `slot` (K markets then M assets) is 0 or does not fit 64 bits.
    error StressCheck__ShockedPriceOutOfRange(uint256 slot, uint256 price);
    /// @dev Too little gas left to give the verifier its whole allowance: a snarkjs verifier
    ///      starved of gas answers false, which would report a valid proof as invalid.
    error StressCheck__InsufficientGas(uint256 left, uint256 needed);

    constructor(IMarginEngine engine_) {
        engine = engine_;
    }

    /// @notice The public inputs of a stress proof of `who` at the current oracle prices
    ///         moved by `shockBps` (one per listed market id). Reverts with the engine's
    ///         errors for an unknown account or a stale feed, and {StressCheck__ShockCount},
    ///         {StressCheck__ShockTooLow}, {StressCheck__ShockedPriceOutOfRange}.
    function stressInputs(address who, int16[] calldata shockBps) public view returns (uint256[] memory inputs) {
        uint256 markets = engine.marketCount();
        if (shockBps.length != markets) revert StressCheck__ShockCount(shockBps.length, markets);
        for (uint256 m = 0; m < markets; ++m) {
            // casting to 'uint8' is safe: m < marketCount <= 4
            // forge-lint: disable-next-line(unsafe-typecast)
            if (shockBps[m] <= -int256(BPS)) revert StressCheck__ShockTooLow(uint8(m), shockBps[m]);
        }
        // the maintenance statement (reverts for no account or a stale feed)
        inputs = engine.publicInputs(who, false, 0, 0);
        int256[CROSS_SLOTS] memory shock = _slotShocks(who, shockBps);
        uint256 slots = inputs.length == 6 ? 2 : CROSS_SLOTS;
        for (uint256 slot = 0; slot < slots; ++slot) {
            if (shock[slot] == 0) continue; // includes pad slots: their price stays 1
            uint256 at = 1 + slot / 3;
            uint256 shift = PRICE_BITS * (slot % 3);
            uint256 price = (inputs[at] >> shift) & PRICE_MASK;
            // shock > -BPS, so the factor is positive; rounded down, as zkmargin.stress does
            // forge-lint: disable-next-line(unsafe-typecast)
            uint256 p = (price * uint256(int256(BPS) + shock[slot])) / BPS;
            if (p == 0 || p > PRICE_MASK) revert StressCheck__ShockedPriceOutOfRange(slot, p);
            inputs[at] = (inputs[at] & ~(PRICE_MASK << shift)) | (p << shift);
        }
    }

    /// @notice Whether `proof` proves that `who` meets maintenance margin at the shocked
    ///         prices of {stressInputs}, which builds every public input. Changes nothing;
    ///         the proof is bound to the account's current nonce, so it expires with the
    ///         account's next accepted proof. Same reverts as {stressInputs}, and
    ///         {StressCheck__InsufficientGas}.
    function verifyStress(address who, int16[] calldata shockBps, IMarginEngine.Proof calldata proof)
        external
        view
        returns (bool ok)
    {
        uint256[] memory inputs = stressInputs(who, shockBps);
        IEngineVerifiers source = IEngineVerifiers(address(engine));
        address verifier = inputs.length == 6 ? source.isolatedVerifier() : source.crossVerifier();
        uint256 allowance = source.VERIFIER_GAS();
        // a call forwards at most 63/64 of what is left
        uint256 needed = (allowance * 64) / 63 + 5_000;
        if (gasleft() < needed) revert StressCheck__InsufficientGas(gasleft(), needed);
        bytes memory data;
        if (inputs.length == 6) {
            uint256[6] memory x;
            for (uint256 i = 0; i < 6; ++i) {
                x[i] = inputs[i];
            }
            data = abi.encodeCall(IIsolatedVerifier.verifyProof, (proof.a, proof.b, proof.c, x));
        } else {
            uint256[7] memory x;
            for (uint256 i = 0; i < 7; ++i) {
                x[i] = inputs[i];
            }
            data = abi.encodeCall(ICrossVerifier.verifyProof, (proof.a, proof.b, proof.c, x));
        }
        (bool success, bytes memory ret) = verifier.staticcall{gas: allowance}(data);
        if (!success) {
            // bubble the verifier's revert up, as a high-level call would
            assembly ("memory-safe") {
                revert(add(ret, 0x20), mload(ret))
            }
        }
        ok = ret.length == 32 && abi.decode(ret, (uint256)) == 1;
    }

    /// @dev The shock of each price slot of `who`'s statement (K markets then M assets):
    ///      a listed market slot takes its market's, a listed collateral slot the first
    ///      listed market's on the same feed, an unlisted slot none.
    function _slotShocks(address who, int16[] calldata shockBps)
        private
        view
        returns (int256[CROSS_SLOTS] memory shock)
    {
        IMarginEngine.Account memory a = engine.account(who);
        if (a.kind == IMarginEngine.Kind.Isolated) {
            shock[0] = shockBps[a.market];
            shock[1] = _feedShock(engine.collateral(a.asset).feed, shockBps);
            return shock;
        }
        uint256 markets = shockBps.length; // == marketCount, checked by the caller
        for (uint256 s = 0; s < markets && s < CROSS_MARKETS; ++s) {
            shock[s] = shockBps[s];
        }
        uint256 assets = engine.collateralCount();
        for (uint256 c = 0; c < assets && CROSS_MARKETS + c < CROSS_SLOTS; ++c) {
            // casting to 'uint8' is safe: c < collateralCount <= 2
            // forge-lint: disable-next-line(unsafe-typecast)
            shock[CROSS_MARKETS + c] = _feedShock(engine.collateral(uint8(c)).feed, shockBps);
        }
    }

    /// @dev The shock of the first listed market priced by `feed`, 0 if none is.
    function _feedShock(address feed, int16[] calldata shockBps) private view returns (int256) {
        for (uint256 m = 0; m < shockBps.length; ++m) {
            // casting to 'uint8' is safe: m < marketCount <= 4
            // forge-lint: disable-next-line(unsafe-typecast)
            if (engine.market(uint8(m)).feed == feed) return shockBps[m];
        }
        return 0;
    }
}
