// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IMarginEngine} from "../engine/IMarginEngine.sol";
import {IMarginPool} from "../pool/IMarginPool.sol";

/// @title IGovernedEngine
/// @notice The parts of {MarginEngine} the governor calls beyond {IMarginEngine}: its
///         public parameters and Ownable2Step. Every owner-only engine function is reachable
///         through the governor: the setters of {IMarginEngine} (listings, rates, haircuts,
///         lifetime, grace, penalty, close fee, vaults) and the two-step handover;
///         `renounceOwnership` is disabled in the engine.
interface IGovernedEngine is IMarginEngine {
    function proofLifetime() external view returns (uint64);
    function gracePeriod() external view returns (uint64);
    function liquidationPenaltyBps() external view returns (uint16);
    function policyEpoch() external view returns (uint16);
    function owner() external view returns (address);
    function pendingOwner() external view returns (address);
    function acceptOwnership() external;
    function transferOwnership(address newOwner) external;
}

/// @title IRiskGovernor
/// @notice The owner of the margin engine. Loosening risk (lower MMR/IMR or haircut, longer
///         proof lifetime or grace period, higher liquidation penalty) and listings wait
///         behind a timelock (an OpenZeppelin `TimelockController` holds DEFAULT_ADMIN_ROLE);
///         tightening acts at once, bounded per update and rate-limited: by a risk publisher
///         (RISK_PUBLISHER_ROLE), or by anyone for a market whose realized volatility
///         ({IVolatilityMonitor}) implies more margin ({syncMargin}). Falling volatility can
///         only loosen through a permissionless two-step ({proposeRelax}, {executeRelax})
///         whose delay is at least the timelock's. docs/risk.md argues the design.
/// @dev Direction of each parameter (tightening = may act at once, within the limits):
///
///      | parameter     | tightening | bound per update         | absolute bound (Limits) |
///      |---------------|------------|--------------------------|-------------------------|
///      | MMR, IMR      | up         | + maxStepBps each        | MMR <= maxMmrBps        |
///      | haircut       | up         | + maxStepBps             | <= maxHaircutBps        |
///      | proof lifetime| down       | at most halved           | >= minLifetime          |
///      | grace period  | down       | at most halved           | >= minGrace             |
///      | penalty       | down       | − maxStepBps             | >= minPenaltyBps        |
///      | close fee     | up         | + maxCloseFeeStepBps     | <= maxCloseFeeBps       |
///
///      Every immediate change also waits `cooldown` seconds after the previous immediate
///      change of the same parameter, and needs the engine to keep EPOCH_RESERVE policy
///      epochs for the timelock (each engine change uses one of its 32,767 epochs).
///      Volatility target of market k (bps, rounded up):
///          req_k = ⌈zBps · σ_k(marginPeriod)⌉ (σ from the monitor, WAD),
///          mmr_k = max(floorMmr_k, min(req_k, 10⁴)),
///          imr_k = max(floorImr_k, min(10⁴, ⌈mmr_k · floorImr_k / floorMmr_k⌉)).
interface IRiskGovernor {
    /// @notice Limits on what may change without the timelock (all set by the timelock).
    struct Limits {
        uint16 maxStepBps; // largest rise of MMR/IMR/haircut (fall of penalty) per update
        uint32 cooldown; // seconds between two immediate changes of one parameter
        uint32 relaxDelay; // seconds a volatility relax waits (at least the timelock's delay)
        uint16 maxMmrBps; // ceiling of an immediate MMR rise
        uint16 maxHaircutBps; // ceiling of an immediate haircut rise
        uint32 minLifetime; // floor of an immediate proof-lifetime cut (seconds)
        uint32 minGrace; // floor of an immediate grace-period cut (seconds)
        uint16 minPenaltyBps; // floor of an immediate penalty cut (keepers stay paid)
        uint32 zBps; // confidence multiplier z, in bps of one σ (30,000 = 3σ)
        uint32 marginPeriod; // margin period of risk the σ is taken over (seconds)
        uint16 maxCloseFeeStepBps; // largest rise of a market's close fee per update
        uint16 maxCloseFeeBps; // ceiling of an immediate close-fee rise (<= the engine's 200)
    }

    /// @notice Base rates of a market: the publisher's parameters, below which volatility
    ///         never takes it.
    struct Floor {
        uint16 mmrBps;
        uint16 imrBps;
    }

    /// @notice A volatility relax waiting for its delay.
    struct PendingRelax {
        uint16 mmrBps;
        uint16 imrBps;
        uint64 eta; // executable from this timestamp (0: none pending)
    }

    event LimitsSet(Limits limits);
    event FloorSet(uint8 indexed market, uint16 mmrBps, uint16 imrBps);
    /// @notice An immediate tightening of `param` (see PARAM_*) by `by`, from `from` to `to`
    ///         (for a market: the MMR, IMR in {MarginSynced}/{FloorSet}; for PARAM_CLOSE_FEE
    ///         + market: the close fee in bps).
    event Tightened(uint8 indexed param, address indexed by, uint256 from, uint256 to);
    event MarginSynced(uint8 indexed market, address indexed by, uint16 mmrBps, uint16 imrBps, uint16 targetMmrBps);
    event RelaxProposed(uint8 indexed market, address indexed by, uint16 mmrBps, uint16 imrBps, uint64 eta);
    event RelaxExecuted(uint8 indexed market, address indexed by, uint16 mmrBps, uint16 imrBps);
    event RelaxCancelled(uint8 indexed market);

    /// @dev `proposed` does not tighten `param` (see the table): it would need the timelock.
    error RiskGovernor__NotTightening(uint8 param, uint256 current, uint256 proposed);
    /// @dev The change of `param` exceeds the per-update bound `bound` (the value it may reach).
    error RiskGovernor__StepTooLarge(uint8 param, uint256 current, uint256 proposed, uint256 bound);
    /// @dev `value` of `param` is above the ceiling of immediate changes.
    error RiskGovernor__AboveCeiling(uint8 param, uint256 value, uint256 ceiling);
    /// @dev `value` of `param` is below the floor of immediate changes.
    error RiskGovernor__BelowFloor(uint8 param, uint256 value, uint256 floor);
    /// @dev `param` changed at once less than `cooldown` ago; it may again from `readyAt`.
    error RiskGovernor__Cooldown(uint8 param, uint256 readyAt);
    /// @dev Rates must satisfy 1 <= mmr <= imr <= 10,000.
    error RiskGovernor__InvalidRates(uint16 mmrBps, uint16 imrBps);
    /// @dev Field `field` of {Limits} (0 = maxStepBps … 9 = marginPeriod, 10 =
    ///      maxCloseFeeStepBps, 11 = maxCloseFeeBps) is out of its range.
    error RiskGovernor__InvalidLimit(uint8 field, uint256 value);
    /// @dev The engine has too few policy epochs left for an immediate change (the last
    ///      EPOCH_RESERVE are kept for the timelock).
    error RiskGovernor__EpochBudgetExhausted(uint256 epoch);
    /// @dev The volatility target of `market` does not exceed its rates (or they sit at the
    ///      ceiling): nothing to tighten.
    error RiskGovernor__NothingToTighten(uint8 market, uint16 mmrBps, uint16 targetMmrBps);
    /// @dev The volatility target of `market` is not below its rates: nothing to relax.
    error RiskGovernor__NothingToRelax(uint8 market, uint16 mmrBps, uint16 targetMmrBps);
    /// @dev A relax of `market` is already announced (executable from `eta`); it must be
    ///      executed (or cancelled by a tightening) before another is proposed, so nobody
    ///      can postpone it by proposing again.
    error RiskGovernor__RelaxPending(uint8 market, uint64 eta);
    /// @dev No relax is pending for `market`.
    error RiskGovernor__NoPendingRelax(uint8 market);
    /// @dev The pending relax of `market` executes from `eta`.
    error RiskGovernor__RelaxNotReady(uint8 market, uint64 eta);
    /// @dev The monitor has not folded in the feed's latest oracle answer: call
    ///      {IVolatilityMonitor-update} first (a relax must use the newest volatility).
    error RiskGovernor__VolatilityNotCurrent(address feed);
    /// @dev The id names no listed market.
    error RiskGovernor__UnknownMarket(uint8 market);
    /// @dev The id names no listed collateral asset.
    error RiskGovernor__UnknownAsset(uint8 asset);
    /// @dev A required address is zero.
    error RiskGovernor__ZeroAddress();

    // -------------------------------------------------------------- timelock (admin)

    function listMarket(address feed, uint16 mmrBps, uint16 imrBps) external returns (uint8 id);
    function listCollateral(address token, address feed, uint16 haircutBps) external returns (uint8 id);
    /// @notice Sets a market's rates and floor, in any direction.
    function setMarketRisk(uint8 id, uint16 mmrBps, uint16 imrBps) external;
    function setHaircut(uint8 id, uint16 haircutBps) external;
    function setProofLifetime(uint64 lifetime) external;
    function setGracePeriod(uint64 grace) external;
    function setLiquidationPenalty(uint16 penaltyBps) external;
    /// @notice Sets market `id`'s close fee, in any direction (at most the engine's
    ///         MAX_CLOSE_FEE_BPS). Lowering it re-opens the oracle-latency round trip
    ///         (SECURITY.md), so only the timelock may.
    function setCloseFee(uint8 id, uint16 feeBps) external;
    /// @notice Sets the vault of a collateral asset listed through the timelock (the engine
    ///         accepts it once per asset, after checking its token and engine).
    function setPool(uint8 asset, IMarginPool pool) external;
    function setLimits(Limits calldata limits) external;
    /// @notice Starts a two-step handover of the engine to `newOwner` (who must accept).
    function transferEngineOwnership(address newOwner) external;

    // -------------------------------------------------------------- risk publisher

    /// @notice Raises a market's rates (and floor) at once, within the limits.
    function raiseMarketRisk(uint8 id, uint16 mmrBps, uint16 imrBps) external;
    function raiseHaircut(uint8 id, uint16 haircutBps) external;
    function shortenProofLifetime(uint64 lifetime) external;
    function shortenGracePeriod(uint64 grace) external;
    function lowerLiquidationPenalty(uint16 penaltyBps) external;
    /// @notice Raises market `id`'s close fee at once: by at most maxCloseFeeStepBps, up to
    ///         maxCloseFeeBps, one cooldown after the previous immediate raise of that
    ///         market's fee (its own clock, PARAM_CLOSE_FEE + id). Emits {Tightened}.
    function raiseCloseFee(uint8 id, uint16 feeBps) external;

    // -------------------------------------------------------------- anyone

    /// @notice Accepts a pending engine ownership transfer to this governor and takes the
    ///         engine's current market rates as floors.
    function acceptEngineOwnership() external;
    /// @notice Raises market `id`'s rates toward its volatility target, at once, by at most
    ///         maxStepBps each and up to maxMmrBps. Emits {MarginSynced}.
    function syncMargin(uint8 id) external returns (uint16 mmrBps, uint16 imrBps);
    /// @notice Announces lower rates for market `id` from a lower volatility target; they
    ///         may be applied from now + max(relaxDelay, timelock delay). One announcement
    ///         per market at a time ({RiskGovernor__RelaxPending}); the monitor must have
    ///         folded in the feed's latest answer. Emits {RelaxProposed}.
    function proposeRelax(uint8 id) external;
    /// @notice Applies a due relax, never below the volatility target at execution.
    function executeRelax(uint8 id) external;

    // -------------------------------------------------------------- views

    function limits() external view returns (Limits memory);
    function floorOf(uint8 id) external view returns (Floor memory);
    function pendingRelax(uint8 id) external view returns (PendingRelax memory);
    /// @notice Market `id`'s volatility target (see the table above).
    function targetRates(uint8 id) external view returns (uint16 mmrBps, uint16 imrBps, uint16 volMmrBps);
    /// @notice When `param` may next change at once (0 if never changed).
    function readyAt(uint8 param) external view returns (uint256);
}
