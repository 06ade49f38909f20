// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {Ownable2Step} from "@openzeppelin/contracts/access/Ownable2Step.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";

import {IOracleAdapter} from "../oracle/IOracleAdapter.sol";
import {IVolatilityMonitor} from "./IVolatilityMonitor.sol";

/// @title VolatilityMonitor
/// @notice Realized-volatility EWMA per oracle feed, updated by anyone (see
///         {IVolatilityMonitor} for the estimator, its decay and its rounding).
/// @dev The owner (the governance timelock) only chooses which feeds are tracked, their
///      horizon and their starting estimate; nobody can write an estimate afterwards except
///      through {update}, which reads the oracle adapter's validated price.
contract VolatilityMonitor is IVolatilityMonitor, Ownable2Step {
    using Math for uint256;

    uint256 public constant WAD = 1e18;
    /// @notice Shortest horizon H (seconds): faster decay would let one quiet hour erase a crash.
    uint32 public constant MIN_HORIZON = 1 hours;
    /// @notice Longest horizon H (seconds).
    uint32 public constant MAX_HORIZON = 90 days;
    /// @notice Largest variance rate kept (WAD per second; σ over one minute ≈ 7,700×):
    ///         every requirement it implies is already above 100%, and it keeps the maths far
    ///         from overflow.
    uint256 public constant MAX_VARIANCE = 1e24;
    /// @notice Longest period {sigmaOver} accepts (seconds).
    uint256 public constant MAX_PERIOD = 365 days;

    IOracleAdapter public immutable oracle;

    mapping(address feed => Observation) private _obs;
    mapping(address feed => uint32) private _horizon;

    /// @param initialOwner The governance timelock (two-step transferable).
    /// @param oracle_ The oracle adapter whose validated prices are observed.
    /// @param feeds Feeds tracked from the start (each as {trackFeed} would), so a monitor
    ///        owned by a timelock needs no delayed operation before its first update.
    /// @param horizon_ Their horizon H (seconds).
    /// @param seedVariance Their starting estimate (WAD per second).
    constructor(
        address initialOwner,
        IOracleAdapter oracle_,
        address[] memory feeds,
        uint32 horizon_,
        uint256 seedVariance
    ) Ownable(initialOwner) {
        oracle = oracle_;
        for (uint256 i = 0; i < feeds.length; ++i) {
            _track(feeds[i], horizon_, seedVariance);
        }
    }

    // ================================================================== owner

    /// @inheritdoc IVolatilityMonitor
    function trackFeed(address feed, uint32 horizon_, uint256 seedVariance) external onlyOwner {
        _track(feed, horizon_, seedVariance);
    }

    /// @inheritdoc IVolatilityMonitor
    function setHorizon(address feed, uint32 horizon_) external onlyOwner {
        _requireTracked(feed);
        _checkHorizon(horizon_);
        _horizon[feed] = horizon_;
        emit HorizonSet(feed, horizon_);
    }

    /// @notice Disabled: an ownerless monitor could never track a new feed.
    function renounceOwnership() public view override onlyOwner {
        revert VolatilityMonitor__RenounceDisabled();
    }

    // ================================================================== anyone

    /// @inheritdoc IVolatilityMonitor
    function update(address feed) external returns (uint256 variance) {
        uint256 h = _requireTracked(feed);
        Observation memory o = _obs[feed];
        // the adapter refuses stale, future, incomplete and non-positive answers
        (uint64 price,, uint256 updatedAt) = oracle.getPrice(feed);
        if (updatedAt <= o.updatedAt) revert VolatilityMonitor__NoNewObservation(feed, updatedAt);
        variance = nextVariance(o.variance, o.price, price, updatedAt - o.updatedAt, h);
        // casting is safe: variance <= MAX_VARIANCE < 2^128; updatedAt <= block.timestamp
        // forge-lint: disable-next-line(unsafe-typecast)
        _obs[feed] = Observation(price, uint64(updatedAt), uint128(variance));
        // forge-lint: disable-next-line(unsafe-typecast)
        emit VarianceUpdated(feed, price, uint64(updatedAt), variance);
    }

    // ================================================================== views

    /// @notice One EWMA step (see {IVolatilityMonitor}): previous rate `v`, prices `p0` ->
    ///         `p1` (> 0), `dt` > 0 seconds apart, horizon `h` > 0. Rounds up; capped.
    function nextVariance(uint256 v, uint256 p0, uint256 p1, uint256 dt, uint256 h) public pure returns (uint256) {
        (uint256 lo, uint256 diff) = p1 < p0 ? (p1, p0 - p1) : (p0, p1 - p0);
        // r = |p1 − p0| / min(p0, p1) >= |ln(p1/p0)|, WAD, rounded up; < 2^64·1e18
        uint256 r = Math.mulDiv(diff, WAD, lo, Math.Rounding.Ceil);
        uint256 r2 = Math.mulDiv(r, r, WAD, Math.Rounding.Ceil); // < 2^128·1e18 < 2^256
        uint256 next = dt >= h ? r2.ceilDiv(dt) : (v * (h - dt) + r2).ceilDiv(h);
        return next > MAX_VARIANCE ? MAX_VARIANCE : next;
    }

    /// @inheritdoc IVolatilityMonitor
    function observation(address feed) external view returns (Observation memory) {
        _requireTracked(feed);
        return _obs[feed];
    }

    /// @inheritdoc IVolatilityMonitor
    function horizon(address feed) external view returns (uint32) {
        return _horizon[feed];
    }

    /// @inheritdoc IVolatilityMonitor
    function isCurrent(address feed) external view returns (bool) {
        _requireTracked(feed);
        (uint256 updatedAt,) = oracle.lastUpdate(feed);
        return updatedAt <= _obs[feed].updatedAt;
    }

    /// @inheritdoc IVolatilityMonitor
    function sigmaOver(address feed, uint256 period) external view returns (uint256 sigmaWad) {
        _requireTracked(feed);
        if (period == 0 || period > MAX_PERIOD) revert VolatilityMonitor__InvalidPeriod(period);
        // v·period·1e18 <= 1e24 · 3.2e7 · 1e18: no overflow
        return Math.sqrt(uint256(_obs[feed].variance) * period * WAD, Math.Rounding.Ceil);
    }

    // ================================================================== internal

    function _track(address feed, uint32 horizon_, uint256 seedVariance) private {
        if (_horizon[feed] != 0) revert VolatilityMonitor__AlreadyTracked(feed);
        if (!oracle.isRegistered(feed)) revert VolatilityMonitor__FeedNotRegistered(feed);
        _checkHorizon(horizon_);
        if (seedVariance > MAX_VARIANCE) revert VolatilityMonitor__InvalidVariance(seedVariance);
        (uint64 price,, uint256 updatedAt) = oracle.getPrice(feed);
        _horizon[feed] = horizon_;
        // casting is safe: seedVariance <= MAX_VARIANCE < 2^128; updatedAt <= block.timestamp
        // forge-lint: disable-next-line(unsafe-typecast)
        _obs[feed] = Observation(price, uint64(updatedAt), uint128(seedVariance));
        // forge-lint: disable-next-line(unsafe-typecast)
        emit FeedTracked(feed, horizon_, seedVariance, price, uint64(updatedAt));
    }

    function _requireTracked(address feed) private view returns (uint256 h) {
        h = _horizon[feed];
        if (h == 0) revert VolatilityMonitor__UnknownFeed(feed);
    }

    function _checkHorizon(uint256 h) private pure {
        if (h < MIN_HORIZON || h > MAX_HORIZON) revert VolatilityMonitor__InvalidHorizon(h);
    }
}
