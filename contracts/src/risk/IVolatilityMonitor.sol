// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @title IVolatilityMonitor
/// @notice An on-chain, permissionlessly updated EWMA of each oracle feed's squared
///         returns: the realized variance rate (per second) that {RiskGovernor} turns into
///         a volatility-implied maintenance margin. docs/risk.md argues the design.
/// @dev One observation per feed: the last price used, its oracle `updatedAt`, and the
///      variance rate `v` (WAD = 1e18 per second). {update} reads the adapter's latest
///      validated price P at time t and, with the previous observation (P0, t0):
///
///          dt = t − t0 > 0                        (a new oracle timestamp, else refused)
///          r  = |P − P0| / min(P, P0)             (≥ |ln(P/P0)|: never understates a move)
///          v' = (v·(H − dt) + r²) / H             if dt < H
///          v' = r² / dt                           if dt ≥ H
///
///      H is the feed's horizon in seconds: after dt seconds the old estimate keeps weight
///      (1 − dt/H), the first-order form of e^(−dt/H) (decay λ = 1 − 1/H per second), and
///      the new squared return enters as the rate r²/dt with weight dt/H, i.e. as r²/H.
///      So each observation adds its squared return over H whatever the interval: more
///      frequent updates neither inflate nor dilute the estimate (the expected sum of
///      squared returns of a martingale does not depend on how it is sampled), and at
///      most one update per oracle timestamp means it cannot be spammed.
///      Rounding: r, r² and v' round UP (against the trader). v' is capped at MAX_VARIANCE.
interface IVolatilityMonitor {
    /// @notice A feed's state.
    struct Observation {
        uint64 price; // 8-decimal price of the last observation
        uint64 updatedAt; // the oracle's timestamp of that price
        uint128 variance; // EWMA variance rate, WAD per second
    }

    event FeedTracked(address indexed feed, uint32 horizon, uint256 seedVariance, uint64 price, uint64 updatedAt);
    event HorizonSet(address indexed feed, uint32 horizon);
    event VarianceUpdated(address indexed feed, uint64 price, uint64 updatedAt, uint256 variance);

    /// @dev The feed is not tracked by this monitor.
    error VolatilityMonitor__UnknownFeed(address feed);
    /// @dev The feed is already tracked.
    error VolatilityMonitor__AlreadyTracked(address feed);
    /// @dev The oracle has no price newer than the last observation (`updatedAt`).
    error VolatilityMonitor__NoNewObservation(address feed, uint256 updatedAt);
    /// @dev The horizon is outside MIN_HORIZON..MAX_HORIZON seconds.
    error VolatilityMonitor__InvalidHorizon(uint256 horizon);
    /// @dev A seed variance above MAX_VARIANCE.
    error VolatilityMonitor__InvalidVariance(uint256 variance);
    /// @dev A period outside 1..MAX_PERIOD seconds.
    error VolatilityMonitor__InvalidPeriod(uint256 period);
    /// @dev The feed is not registered in the oracle adapter.
    error VolatilityMonitor__FeedNotRegistered(address feed);
    /// @dev Renouncing ownership is disabled: no feed could be tracked again.
    error VolatilityMonitor__RenounceDisabled();

    /// @notice Starts tracking `feed` (owner): records its current validated price as the
    ///         first observation, with `seedVariance` (WAD per second) as the estimate.
    function trackFeed(address feed, uint32 horizon, uint256 seedVariance) external;
    /// @notice Changes a tracked feed's horizon (owner).
    function setHorizon(address feed, uint32 horizon) external;
    /// @notice Folds the oracle's latest price into the feed's estimate. Anyone may call it,
    ///         at most once per new oracle timestamp. Emits {VarianceUpdated}.
    /// @return variance The new variance rate (WAD per second).
    function update(address feed) external returns (uint256 variance);

    /// @notice The feed's observation (reverts for an untracked feed).
    function observation(address feed) external view returns (Observation memory);
    /// @notice The feed's horizon H in seconds (0 if untracked).
    function horizon(address feed) external view returns (uint32);
    /// @notice Whether the last observation is the oracle's latest answer (no update pending).
    function isCurrent(address feed) external view returns (bool);
    /// @notice σ of returns over `period` seconds, WAD: ⌈√(v·period)⌉ (rounded up).
    function sigmaOver(address feed, uint256 period) external view returns (uint256 sigmaWad);
}
