// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @title IOracleAdapter
/// @notice Reads registered Chainlink-style price feeds and returns validated prices on the
///         zkmargin price scale: 8 decimals, 0 < price < 2^64 (docs/protocol.md, "Quantities and units").
/// @dev Feeds are keyed by their address (an `AggregatorV3Interface`, normally a Chainlink
///      proxy). Only the owner registers or removes feeds; ownership is two-step.
interface IOracleAdapter {
    // ------------------------------------------------------------------ events

    /// @notice A feed was registered, or its heartbeat was changed.
    /// @param feed The aggregator address.
    /// @param heartbeat Maximum accepted age of a round, in seconds.
    /// @param decimals The feed's `decimals()` at registration.
    event FeedSet(address indexed feed, uint32 heartbeat, uint8 decimals);

    /// @notice A feed was removed; `getPrice` refuses it from now on.
    /// @param feed The aggregator address.
    event FeedRemoved(address indexed feed);

    // ------------------------------------------------------------------ errors

    /// @notice `feed` is the zero address or has no code.
    /// @dev Raised by `setFeed`; a feed must be a deployed contract.
    error OracleAdapter__InvalidFeed(address feed);

    /// @notice `heartbeat` is 0 or above `MAX_HEARTBEAT`.
    /// @dev Raised by `setFeed`. The cap also catches unit mistakes (milliseconds for seconds).
    error OracleAdapter__InvalidHeartbeat(uint256 heartbeat);

    /// @notice The feed reports more decimals than `MAX_FEED_DECIMALS`.
    /// @dev Raised by `setFeed`.
    error OracleAdapter__UnsupportedDecimals(address feed, uint8 decimals);

    /// @notice `feed` is not registered.
    /// @dev Raised by `getPrice` and `removeFeed`.
    error OracleAdapter__FeedNotRegistered(address feed);

    /// @notice The feed's `decimals()` differs from the value seen at registration.
    /// @dev Raised by `getPrice`. The owner must review the feed and call `setFeed` again.
    error OracleAdapter__DecimalsChanged(address feed, uint8 registered, uint8 current);

    /// @notice The latest answer is zero or negative.
    /// @dev Raised by `getPrice`.
    error OracleAdapter__NonPositivePrice(address feed, int256 answer);

    /// @notice The latest round has `updatedAt == 0` (an incomplete round).
    /// @dev Raised by `getPrice`.
    error OracleAdapter__RoundIncomplete(address feed, uint80 roundId);

    /// @notice The latest round claims to be updated after the current block.
    /// @dev Raised by `getPrice`; a broken or malicious feed.
    error OracleAdapter__UpdatedInFuture(address feed, uint256 updatedAt, uint256 blockTimestamp);

    /// @notice The latest round is older than the feed's heartbeat.
    /// @dev Raised by `getPrice` when `block.timestamp - updatedAt > heartbeat`.
    error OracleAdapter__StalePrice(address feed, uint256 updatedAt, uint256 heartbeat);

    /// @notice The answer was carried over from an earlier round (`answeredInRound < roundId`).
    /// @dev Raised by `getPrice`. Current Chainlink (OCR) feeds always report
    ///      `answeredInRound == roundId`, so this only trips on legacy or broken feeds.
    error OracleAdapter__StaleRound(address feed, uint80 roundId, uint80 answeredInRound);

    /// @notice The answer, normalised to 8 decimals, is 0 or at least 2^64.
    /// @dev Raised by `getPrice`. 0 happens when a feed with more than 8 decimals reports
    ///      less than one unit of the 8-decimal scale (the truncation leaves nothing).
    error OracleAdapter__PriceOutOfRange(address feed, int256 answer, uint8 decimals);

    /// @notice Renouncing ownership is disabled: it would freeze the feed registry.
    error OracleAdapter__RenounceDisabled();

    // ------------------------------------------------------------------ admin

    /// @notice Registers `feed`, or changes its heartbeat if already registered.
    /// @dev Owner only. Reads and records `feed.decimals()`. Does not require the feed to
    ///      have a fresh answer yet. Emits {FeedSet}.
    /// @param feed An `AggregatorV3Interface` contract.
    /// @param heartbeat Maximum accepted age of the latest round, in seconds,
    ///        1..`MAX_HEARTBEAT`. Use the feed's published heartbeat.
    function setFeed(address feed, uint32 heartbeat) external;

    /// @notice Unregisters `feed`. Emits {FeedRemoved}.
    /// @dev Owner only. Reverts with {OracleAdapter__FeedNotRegistered} if not registered.
    function removeFeed(address feed) external;

    // ------------------------------------------------------------------ reads

    /// @notice The latest validated price of `feed` on the 8-decimal scale.
    /// @dev Checks, in this order: registered; decimals unchanged; answer > 0;
    ///      updatedAt != 0; updatedAt <= block.timestamp; block.timestamp - updatedAt
    ///      <= heartbeat (exactly `heartbeat` seconds old is still fresh);
    ///      answeredInRound >= roundId; 0 < normalised price < 2^64.
    ///      Normalisation from `d` feed decimals: d < 8 multiplies by 10^(8-d) (exact);
    ///      d > 8 divides by 10^(d-8) rounding DOWN (toward zero). The truncated part is
    ///      below one unit of the 8-decimal scale (1e-8); a price has no direction that is
    ///      conservative for every use (collateral wants low, short positions want high),
    ///      so the adapter truncates and the engine and circuit use this same integer.
    ///      A result of 0 is refused rather than rounded up.
    ///      A feed that reverts makes this revert with the feed's reason.
    /// @param feed A registered feed.
    /// @return price The price with 8 decimals, 0 < price < 2^64.
    /// @return roundId The feed's round id of that answer.
    /// @return updatedAt The feed's timestamp of that answer.
    function getPrice(address feed) external view returns (uint64 price, uint80 roundId, uint256 updatedAt);

    /// @notice The latest validated prices of several feeds, in the order given: the same
    ///         checks as {getPrice}, feed by feed (the first failing feed reverts the call
    ///         with its own error). One call for all the feeds a margin proof needs instead
    ///         of one call per feed; pass each feed once (nothing is deduplicated here).
    /// @param feeds Registered feeds.
    /// @return prices Prices with 8 decimals, 0 < price < 2^64, `prices[i]` for `feeds[i]`.
    function getPrices(address[] calldata feeds) external view returns (uint64[] memory prices);

    /// @notice Registration of `feed`.
    /// @return heartbeat Maximum accepted age in seconds; 0 if `feed` is not registered.
    /// @return decimals The feed's decimals recorded at registration.
    function feedConfig(address feed) external view returns (uint32 heartbeat, uint8 decimals);

    /// @notice When `feed` last updated and its heartbeat, without any other check: the
    ///         engine's outage clocks call a feed stale when `block.timestamp - updatedAt >
    ///         heartbeat`, exactly when {getPrice} reverts with {OracleAdapter__StalePrice}.
    /// @dev Reverts with {OracleAdapter__FeedNotRegistered} for an unregistered feed.
    function lastUpdate(address feed) external view returns (uint256 updatedAt, uint32 heartbeat);

    /// @notice Whether `feed` is registered.
    function isRegistered(address feed) external view returns (bool);

    /// @notice Decimals of every price returned by `getPrice` (8).
    function PRICE_DECIMALS() external view returns (uint8);

    /// @notice Largest accepted heartbeat, in seconds.
    function MAX_HEARTBEAT() external view returns (uint32);

    /// @notice Largest accepted feed `decimals()`.
    function MAX_FEED_DECIMALS() external view returns (uint8);
}
