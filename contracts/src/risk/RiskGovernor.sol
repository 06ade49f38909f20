// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {TimelockController} from "@openzeppelin/contracts/governance/TimelockController.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";

import {IMarginEngine} from "../engine/IMarginEngine.sol";
import {IMarginPool} from "../pool/IMarginPool.sol";
import {IGovernedEngine, IRiskGovernor} from "./IRiskGovernor.sol";
import {IVolatilityMonitor} from "./IVolatilityMonitor.sol";

/// @title RiskGovernor
/// @notice Owns the margin engine: loosening and listings only through the timelock,
///         bounded immediate tightening by a risk publisher or, driven by realized
///         volatility, by anyone. See {IRiskGovernor} and docs/risk.md.
/// @dev DEFAULT_ADMIN_ROLE belongs to `timelock` alone (it also grants and revokes
///      RISK_PUBLISHER_ROLE). Every change goes through the engine's own setters, so the
///      engine's bounds and policy epochs (an accepted proof keeps the lifetime, grace,
///      MMRs and haircuts in force when it was accepted) apply unchanged.
contract RiskGovernor is IRiskGovernor, AccessControl {
    bytes32 public constant RISK_PUBLISHER_ROLE = keccak256("RISK_PUBLISHER_ROLE");

    uint256 public constant BPS = 10_000;
    uint256 public constant WAD = 1e18;
    /// @notice Policy epochs the engine keeps for the timelock: immediate changes stop at
    ///         epoch MAX_EPOCH − EPOCH_RESERVE.
    uint256 public constant EPOCH_RESERVE = 1_024;
    uint256 public constant MAX_EPOCH = (1 << 15) - 1;

    // parameter ids (cooldown slots, events, errors)
    uint8 public constant PARAM_MARKET = 0; // + market id (0..3)
    uint8 public constant PARAM_ASSET = 4; // + asset id (0..1)
    uint8 public constant PARAM_LIFETIME = 6;
    uint8 public constant PARAM_GRACE = 7;
    uint8 public constant PARAM_PENALTY = 8;
    uint8 public constant PARAM_CLOSE_FEE = 9; // + market id (9..12)
    uint256 private constant PARAMS = 13;

    // ranges of the Limits fields
    uint256 public constant MAX_STEP_BPS = 2_500;
    uint256 public constant MIN_COOLDOWN = 1 minutes;
    uint256 public constant MIN_DELAY = 1 minutes;
    uint256 public constant MAX_WAIT = 30 days;
    uint256 public constant MIN_DURATION = 1 minutes;
    uint256 public constant MAX_DURATION = 365 days; // the engine's
    uint256 public constant MAX_PENALTY_BPS = 2_500; // the engine's
    uint256 public constant MAX_CLOSE_FEE_BPS = 200; // the engine's
    uint256 public constant MIN_Z_BPS = 10_000; // 1σ
    uint256 public constant MAX_Z_BPS = 100_000; // 10σ

    IGovernedEngine public immutable engine;
    IVolatilityMonitor public immutable monitor;
    TimelockController public immutable timelock;

    Limits private _limits;
    Floor[4] private _floors;
    PendingRelax[4] private _pending;
    uint64[PARAMS] private _lastChange;

    /// @param engine_ The engine (its owner then calls `transferOwnership(this)`, and anyone
    ///        {acceptEngineOwnership}).
    /// @param monitor_ The volatility monitor whose estimates drive {syncMargin}.
    /// @param timelock_ The only holder of DEFAULT_ADMIN_ROLE.
    /// @param publisher Initial RISK_PUBLISHER_ROLE holder (address(0): none).
    constructor(
        IGovernedEngine engine_,
        IVolatilityMonitor monitor_,
        TimelockController timelock_,
        address publisher,
        Limits memory limits_
    ) {
        if (address(engine_) == address(0) || address(monitor_) == address(0) || address(timelock_) == address(0)) {
            revert RiskGovernor__ZeroAddress();
        }
        engine = engine_;
        monitor = monitor_;
        timelock = timelock_;
        _grantRole(DEFAULT_ADMIN_ROLE, address(timelock_));
        if (publisher != address(0)) _grantRole(RISK_PUBLISHER_ROLE, publisher);
        _setLimits(limits_);
    }

    // ================================================================== timelock

    /// @inheritdoc IRiskGovernor
    function listMarket(address feed, uint16 mmrBps, uint16 imrBps)
        external
        onlyRole(DEFAULT_ADMIN_ROLE)
        returns (uint8 id)
    {
        id = engine.listMarket(feed, mmrBps, imrBps);
        _setFloor(id, mmrBps, imrBps);
    }

    /// @inheritdoc IRiskGovernor
    function listCollateral(address token, address feed, uint16 haircutBps)
        external
        onlyRole(DEFAULT_ADMIN_ROLE)
        returns (uint8 id)
    {
        return engine.listCollateral(token, feed, haircutBps);
    }

    /// @inheritdoc IRiskGovernor
    function setMarketRisk(uint8 id, uint16 mmrBps, uint16 imrBps) external onlyRole(DEFAULT_ADMIN_ROLE) {
        _checkRates(mmrBps, imrBps);
        _setRates(id, mmrBps, imrBps);
        _setFloor(id, mmrBps, imrBps);
    }

    /// @inheritdoc IRiskGovernor
    function setHaircut(uint8 id, uint16 haircutBps) external onlyRole(DEFAULT_ADMIN_ROLE) {
        engine.setHaircut(id, haircutBps);
    }

    /// @inheritdoc IRiskGovernor
    function setProofLifetime(uint64 lifetime) external onlyRole(DEFAULT_ADMIN_ROLE) {
        engine.setProofLifetime(lifetime);
    }

    /// @inheritdoc IRiskGovernor
    function setGracePeriod(uint64 grace) external onlyRole(DEFAULT_ADMIN_ROLE) {
        engine.setGracePeriod(grace);
    }

    /// @inheritdoc IRiskGovernor
    function setLiquidationPenalty(uint16 penaltyBps) external onlyRole(DEFAULT_ADMIN_ROLE) {
        engine.setLiquidationPenalty(penaltyBps);
    }

    /// @inheritdoc IRiskGovernor
    function setCloseFee(uint8 id, uint16 feeBps) external onlyRole(DEFAULT_ADMIN_ROLE) {
        engine.setCloseFee(id, feeBps);
    }

    /// @inheritdoc IRiskGovernor
    function setPool(uint8 asset, IMarginPool pool) external onlyRole(DEFAULT_ADMIN_ROLE) {
        engine.setPool(asset, pool);
    }

    /// @inheritdoc IRiskGovernor
    function setLimits(Limits calldata limits_) external onlyRole(DEFAULT_ADMIN_ROLE) {
        _setLimits(limits_);
    }

    /// @inheritdoc IRiskGovernor
    function transferEngineOwnership(address newOwner) external onlyRole(DEFAULT_ADMIN_ROLE) {
        if (newOwner == address(0)) revert RiskGovernor__ZeroAddress();
        engine.transferOwnership(newOwner);
    }

    // ================================================================== risk publisher

    /// @inheritdoc IRiskGovernor
    function raiseMarketRisk(uint8 id, uint16 mmrBps, uint16 imrBps) external onlyRole(RISK_PUBLISHER_ROLE) {
        IMarginEngine.Market memory m = _market(id);
        uint8 param = PARAM_MARKET + id;
        _checkRates(mmrBps, imrBps);
        if (mmrBps < m.mmrBps || imrBps < m.imrBps || (mmrBps == m.mmrBps && imrBps == m.imrBps)) {
            revert RiskGovernor__NotTightening(param, m.mmrBps, mmrBps);
        }
        Limits memory l = _limits;
        if (mmrBps > m.mmrBps + l.maxStepBps) {
            revert RiskGovernor__StepTooLarge(param, m.mmrBps, mmrBps, m.mmrBps + l.maxStepBps);
        }
        if (imrBps > m.imrBps + l.maxStepBps) {
            revert RiskGovernor__StepTooLarge(param, m.imrBps, imrBps, m.imrBps + l.maxStepBps);
        }
        if (mmrBps > l.maxMmrBps) revert RiskGovernor__AboveCeiling(param, mmrBps, l.maxMmrBps);
        _immediate(param, l.cooldown);
        _setRates(id, mmrBps, imrBps);
        _setFloor(id, mmrBps, imrBps);
        emit Tightened(param, msg.sender, m.mmrBps, mmrBps);
    }

    /// @inheritdoc IRiskGovernor
    function raiseHaircut(uint8 id, uint16 haircutBps) external onlyRole(RISK_PUBLISHER_ROLE) {
        if (id >= engine.collateralCount()) revert RiskGovernor__UnknownAsset(id);
        uint256 cur = engine.collateral(id).haircutBps;
        uint8 param = PARAM_ASSET + id;
        if (haircutBps <= cur) revert RiskGovernor__NotTightening(param, cur, haircutBps);
        Limits memory l = _limits;
        if (haircutBps > cur + l.maxStepBps) {
            revert RiskGovernor__StepTooLarge(param, cur, haircutBps, cur + l.maxStepBps);
        }
        if (haircutBps > l.maxHaircutBps) revert RiskGovernor__AboveCeiling(param, haircutBps, l.maxHaircutBps);
        _immediate(param, l.cooldown);
        engine.setHaircut(id, haircutBps);
        emit Tightened(param, msg.sender, cur, haircutBps);
    }

    /// @inheritdoc IRiskGovernor
    function shortenProofLifetime(uint64 lifetime) external onlyRole(RISK_PUBLISHER_ROLE) {
        uint256 cur = engine.proofLifetime();
        _checkShorter(PARAM_LIFETIME, cur, lifetime, _limits.minLifetime);
        engine.setProofLifetime(lifetime);
        emit Tightened(PARAM_LIFETIME, msg.sender, cur, lifetime);
    }

    /// @inheritdoc IRiskGovernor
    function shortenGracePeriod(uint64 grace) external onlyRole(RISK_PUBLISHER_ROLE) {
        uint256 cur = engine.gracePeriod();
        _checkShorter(PARAM_GRACE, cur, grace, _limits.minGrace);
        engine.setGracePeriod(grace);
        emit Tightened(PARAM_GRACE, msg.sender, cur, grace);
    }

    /// @inheritdoc IRiskGovernor
    /// @dev A lower penalty widens every account's flag edge MMR·(1 − penalty) and cuts what
    ///      a liquidation takes: it can only help traders, so it acts at once; the floor
    ///      minPenaltyBps keeps keepers paid.
    function lowerLiquidationPenalty(uint16 penaltyBps) external onlyRole(RISK_PUBLISHER_ROLE) {
        uint256 cur = engine.liquidationPenaltyBps();
        if (penaltyBps >= cur) revert RiskGovernor__NotTightening(PARAM_PENALTY, cur, penaltyBps);
        Limits memory l = _limits;
        if (cur - penaltyBps > l.maxStepBps) {
            revert RiskGovernor__StepTooLarge(PARAM_PENALTY, cur, penaltyBps, cur - l.maxStepBps);
        }
        if (penaltyBps < l.minPenaltyBps) revert RiskGovernor__BelowFloor(PARAM_PENALTY, penaltyBps, l.minPenaltyBps);
        _immediate(PARAM_PENALTY, l.cooldown);
        engine.setLiquidationPenalty(penaltyBps);
        emit Tightened(PARAM_PENALTY, msg.sender, cur, penaltyBps);
    }

    /// @inheritdoc IRiskGovernor
    /// @dev A higher close fee makes every round trip against a known oracle round lose more
    ///      (SECURITY.md, "Oracle latency") and pays the vaults more: it protects the pool.
    ///      It is charged at close (and recorded at liquidation), never in a margin proof, so
    ///      it flags or liquidates nobody. Not a policy epoch (the engine does not snapshot
    ///      it), so no epoch budget is spent.
    function raiseCloseFee(uint8 id, uint16 feeBps) external onlyRole(RISK_PUBLISHER_ROLE) {
        uint256 cur = _market(id).closeFeeBps;
        uint8 param = PARAM_CLOSE_FEE + id;
        if (feeBps <= cur) revert RiskGovernor__NotTightening(param, cur, feeBps);
        Limits memory l = _limits;
        if (feeBps > cur + l.maxCloseFeeStepBps) {
            revert RiskGovernor__StepTooLarge(param, cur, feeBps, cur + l.maxCloseFeeStepBps);
        }
        if (feeBps > l.maxCloseFeeBps) revert RiskGovernor__AboveCeiling(param, feeBps, l.maxCloseFeeBps);
        _rateLimit(param, l.cooldown);
        engine.setCloseFee(id, feeBps);
        emit Tightened(param, msg.sender, cur, feeBps);
    }

    // ================================================================== anyone

    /// @inheritdoc IRiskGovernor
    function acceptEngineOwnership() external {
        engine.acceptOwnership();
        uint8 n = engine.marketCount();
        for (uint8 id = 0; id < n; ++id) {
            IMarginEngine.Market memory m = engine.market(id);
            _setFloor(id, m.mmrBps, m.imrBps);
        }
    }

    /// @inheritdoc IRiskGovernor
    function syncMargin(uint8 id) external returns (uint16 mmrBps, uint16 imrBps) {
        IMarginEngine.Market memory m = _market(id);
        (uint16 tMmr, uint16 tImr,) = _target(id, m.feed);
        Limits memory l = _limits;
        // raise toward the target by at most maxStepBps each, MMR never above maxMmrBps
        uint256 ceiling = Math.max(m.mmrBps, l.maxMmrBps);
        uint256 mmr = Math.min(Math.min(Math.max(m.mmrBps, tMmr), m.mmrBps + l.maxStepBps), ceiling);
        // imr >= mmr: m.imrBps + step >= m.mmrBps + step >= mmr; every term is <= 10^4
        uint256 imr = Math.min(Math.max(Math.max(m.imrBps, tImr), mmr), m.imrBps + l.maxStepBps);
        if (mmr == m.mmrBps && imr == m.imrBps) revert RiskGovernor__NothingToTighten(id, m.mmrBps, tMmr);
        _immediate(PARAM_MARKET + id, l.cooldown);
        // casting is safe: both are <= 10^4
        // forge-lint: disable-next-line(unsafe-typecast)
        (mmrBps, imrBps) = (uint16(mmr), uint16(imr));
        _setRates(id, mmrBps, imrBps);
        emit MarginSynced(id, msg.sender, mmrBps, imrBps, tMmr);
    }

    /// @inheritdoc IRiskGovernor
    function proposeRelax(uint8 id) external {
        IMarginEngine.Market memory m = _market(id);
        _requireCurrent(m.feed);
        (uint16 tMmr, uint16 tImr,) = _target(id, m.feed);
        if (tMmr >= m.mmrBps && tImr >= m.imrBps) revert RiskGovernor__NothingToRelax(id, m.mmrBps, tMmr);
        // imr >= mmr: tImr >= tMmr and m.imrBps >= m.mmrBps
        uint16 mmr = tMmr < m.mmrBps ? tMmr : m.mmrBps;
        uint16 imr = tImr < m.imrBps ? tImr : m.imrBps;
        // one announcement at a time: a second one could only postpone the first
        uint64 pending = _pending[id].eta;
        if (pending != 0) revert RiskGovernor__RelaxPending(id, pending);
        // casting is safe: a timestamp plus at most 30 days (or the timelock's delay)
        // forge-lint: disable-next-line(unsafe-typecast)
        uint64 eta = uint64(block.timestamp + Math.max(_limits.relaxDelay, timelock.getMinDelay()));
        _pending[id] = PendingRelax(mmr, imr, eta);
        emit RelaxProposed(id, msg.sender, mmr, imr, eta);
    }

    /// @inheritdoc IRiskGovernor
    function executeRelax(uint8 id) external {
        PendingRelax memory p = _pending[id];
        if (p.eta == 0) revert RiskGovernor__NoPendingRelax(id);
        // a validator's few seconds of timestamp drift are immaterial next to a delay >= 1 minute
        // forge-lint: disable-next-line(block-timestamp)
        if (block.timestamp < p.eta) revert RiskGovernor__RelaxNotReady(id, p.eta);
        IMarginEngine.Market memory m = _market(id);
        _requireCurrent(m.feed);
        (uint16 tMmr, uint16 tImr,) = _target(id, m.feed);
        // never below what was announced, nor below today's target, nor above today's rates
        uint16 mmr = uint16(Math.min(m.mmrBps, Math.max(p.mmrBps, tMmr)));
        uint16 imr = uint16(Math.min(m.imrBps, Math.max(p.imrBps, tImr)));
        if (mmr == m.mmrBps && imr == m.imrBps) revert RiskGovernor__NothingToRelax(id, m.mmrBps, tMmr);
        _checkEpochBudget();
        delete _pending[id];
        engine.setMarketRisk(id, mmr, imr);
        emit RelaxExecuted(id, msg.sender, mmr, imr);
    }

    // ================================================================== views

    /// @inheritdoc IRiskGovernor
    function limits() external view returns (Limits memory) {
        return _limits;
    }

    /// @inheritdoc IRiskGovernor
    function floorOf(uint8 id) external view returns (Floor memory) {
        return _floors[id];
    }

    /// @inheritdoc IRiskGovernor
    function pendingRelax(uint8 id) external view returns (PendingRelax memory) {
        return _pending[id];
    }

    /// @inheritdoc IRiskGovernor
    function targetRates(uint8 id) external view returns (uint16 mmrBps, uint16 imrBps, uint16 volMmrBps) {
        return _target(id, _market(id).feed);
    }

    /// @inheritdoc IRiskGovernor
    function readyAt(uint8 param) external view returns (uint256) {
        uint256 last = _lastChange[param];
        return last == 0 ? 0 : last + _limits.cooldown;
    }

    // ================================================================== internal

    /// @dev The volatility target of market `id` (see {IRiskGovernor}); all rounded up.
    function _target(uint8 id, address feed) private view returns (uint16 mmr, uint16 imr, uint16 vol) {
        Limits memory l = _limits;
        uint256 sigma = monitor.sigmaOver(feed, l.marginPeriod);
        uint256 req = Math.mulDiv(sigma, l.zBps, WAD, Math.Rounding.Ceil);
        // casting is safe: capped at 10^4
        // forge-lint: disable-next-line(unsafe-typecast)
        vol = uint16(Math.min(req, BPS));
        Floor memory f = _floors[id];
        uint256 m = Math.max(f.mmrBps, vol);
        uint256 i = Math.max(f.imrBps, Math.min(BPS, Math.mulDiv(m, f.imrBps, f.mmrBps, Math.Rounding.Ceil)));
        // forge-lint: disable-next-line(unsafe-typecast)
        (mmr, imr) = (uint16(m), uint16(i));
    }

    function _market(uint8 id) private view returns (IMarginEngine.Market memory) {
        if (id >= engine.marketCount()) revert RiskGovernor__UnknownMarket(id);
        return engine.market(id);
    }

    function _requireCurrent(address feed) private view {
        if (!monitor.isCurrent(feed)) revert RiskGovernor__VolatilityNotCurrent(feed);
    }

    /// @dev Sets the engine's rates; any pending relax of the market is void (it was
    ///      announced against other rates).
    function _setRates(uint8 id, uint16 mmrBps, uint16 imrBps) private {
        engine.setMarketRisk(id, mmrBps, imrBps);
        if (_pending[id].eta != 0) {
            delete _pending[id];
            emit RelaxCancelled(id);
        }
    }

    function _setFloor(uint8 id, uint16 mmrBps, uint16 imrBps) private {
        _floors[id] = Floor(mmrBps, imrBps);
        emit FloorSet(id, mmrBps, imrBps);
    }

    /// @dev Rate limit and epoch budget of an immediate change of `param`.
    function _immediate(uint8 param, uint256 cooldown) private {
        _rateLimit(param, cooldown);
        _checkEpochBudget();
    }

    /// @dev At most one immediate change of `param` per `cooldown`.
    function _rateLimit(uint8 param, uint256 cooldown) private {
        uint256 last = _lastChange[param];
        // forge-lint: disable-next-line(block-timestamp)
        if (last != 0 && block.timestamp < last + cooldown) revert RiskGovernor__Cooldown(param, last + cooldown);
        // casting is safe: a timestamp
        // forge-lint: disable-next-line(unsafe-typecast)
        _lastChange[param] = uint64(block.timestamp);
    }

    function _checkEpochBudget() private view {
        uint256 epoch = engine.policyEpoch();
        if (epoch >= MAX_EPOCH - EPOCH_RESERVE) revert RiskGovernor__EpochBudgetExhausted(epoch);
    }

    /// @dev A shorter duration: below `cur`, at least half of it, at least `floor`.
    function _checkShorter(uint8 param, uint256 cur, uint256 next, uint256 floor) private {
        if (next >= cur) revert RiskGovernor__NotTightening(param, cur, next);
        uint256 half = Math.ceilDiv(cur, 2);
        if (next < half) revert RiskGovernor__StepTooLarge(param, cur, next, half);
        if (next < floor) revert RiskGovernor__BelowFloor(param, next, floor);
        _immediate(param, _limits.cooldown);
    }

    function _checkRates(uint16 mmrBps, uint16 imrBps) private pure {
        if (mmrBps == 0 || mmrBps > imrBps || imrBps > BPS) revert RiskGovernor__InvalidRates(mmrBps, imrBps);
    }

    function _setLimits(Limits memory l) private {
        _checkRange(0, l.maxStepBps, 1, MAX_STEP_BPS);
        _checkRange(1, l.cooldown, MIN_COOLDOWN, MAX_WAIT);
        _checkRange(2, l.relaxDelay, MIN_DELAY, MAX_WAIT);
        _checkRange(3, l.maxMmrBps, 1, BPS);
        _checkRange(4, l.maxHaircutBps, 0, BPS);
        _checkRange(5, l.minLifetime, MIN_DURATION, MAX_DURATION);
        _checkRange(6, l.minGrace, MIN_DURATION, MAX_DURATION);
        _checkRange(7, l.minPenaltyBps, 0, MAX_PENALTY_BPS);
        _checkRange(8, l.zBps, MIN_Z_BPS, MAX_Z_BPS);
        _checkRange(9, l.marginPeriod, MIN_DURATION, MAX_WAIT);
        _checkRange(10, l.maxCloseFeeStepBps, 1, MAX_CLOSE_FEE_BPS);
        _checkRange(11, l.maxCloseFeeBps, 0, MAX_CLOSE_FEE_BPS);
        _limits = l;
        emit LimitsSet(l);
    }

    function _checkRange(uint8 field, uint256 value, uint256 lo, uint256 hi) private pure {
        if (value < lo || value > hi) revert RiskGovernor__InvalidLimit(field, value);
    }
}
