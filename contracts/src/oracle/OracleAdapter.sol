// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {AggregatorV3Interface} from "@chainlink/contracts/src/v0.8/shared/interfaces/AggregatorV3Interface.sol";
import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {Ownable2Step} from "@openzeppelin/contracts/access/Ownable2Step.sol";

import {IOracleAdapter} from "./IOracleAdapter.sol";

/// @title OracleAdapter
/// @notice Validated Chainlink prices on zkmargin's 8-decimal scale. The engine builds the
///         proof's public price inputs (price and round) from `getPrice`, so every value
///         returned here is already range-checked: 0 < price < 2^64.
/// @dev Feeds are Chainlink `AggregatorV3Interface` contracts (on a local chain, the
///      MockAggregator). The owner registers each feed with its heartbeat; ownership
///      transfer is two-step (OpenZeppelin Ownable2Step) and cannot be renounced.
///      Not handled here: L2 sequencer-uptime feeds and min/max answer circuit breakers;
///      add them before using a network where they matter.
contract OracleAdapter is IOracleAdapter, Ownable2Step {
    /// @dev Registration of one feed. `heartbeat == 0` means "not registered".
    struct FeedConfig {
        uint32 heartbeat;
        uint8 decimals;
    }

    /// @inheritdoc IOracleAdapter
    uint8 public constant PRICE_DECIMALS = 8;

    /// @inheritdoc IOracleAdapter
    /// @dev 7 days: above every published Chainlink heartbeat (at most 24 h), and small
    ///      enough to reject a heartbeat given in milliseconds by mistake.
    uint32 public constant MAX_HEARTBEAT = 7 days;

    /// @inheritdoc IOracleAdapter
    /// @dev Chainlink feeds use 8 or 18. 36 keeps 10^(decimals - 8) far inside uint256
    ///      and refuses feeds whose `decimals()` is garbage.
    uint8 public constant MAX_FEED_DECIMALS = 36;

    /// @dev Largest accepted normalised price: 2^64 - 1 (docs/protocol.md: 0 < price < 2^64).
    uint256 private constant MAX_PRICE = type(uint64).max;

    mapping(address feed => FeedConfig config) private _feeds;

    /// @param initialOwner The account allowed to register feeds.
    constructor(address initialOwner) Ownable(initialOwner) {}

    // ------------------------------------------------------------------ admin

    /// @inheritdoc IOracleAdapter
    function setFeed(address feed, uint32 heartbeat) external onlyOwner {
        if (feed == address(0) || feed.code.length == 0) revert OracleAdapter__InvalidFeed(feed);
        if (heartbeat == 0 || heartbeat > MAX_HEARTBEAT) revert OracleAdapter__InvalidHeartbeat(heartbeat);
        uint8 decimals = AggregatorV3Interface(feed).decimals();
        if (decimals > MAX_FEED_DECIMALS) revert OracleAdapter__UnsupportedDecimals(feed, decimals);
        _feeds[feed] = FeedConfig({heartbeat: heartbeat, decimals: decimals});
        emit FeedSet(feed, heartbeat, decimals);
    }

    /// @inheritdoc IOracleAdapter
    function removeFeed(address feed) external onlyOwner {
        if (_feeds[feed].heartbeat == 0) revert OracleAdapter__FeedNotRegistered(feed);
        delete _feeds[feed];
        emit FeedRemoved(feed);
    }

    /// @notice Disabled: an ownerless adapter could never register or fix a feed again.
    /// @dev Always reverts with {OracleAdapter__RenounceDisabled}.
    function renounceOwnership() public view override onlyOwner {
        revert OracleAdapter__RenounceDisabled();
    }

    // ------------------------------------------------------------------ reads

    /// @inheritdoc IOracleAdapter
    function getPrice(address feed) external view returns (uint64 price, uint80 roundId, uint256 updatedAt) {
        return _getPrice(feed);
    }

    /// @inheritdoc IOracleAdapter
    function getPrices(address[] calldata feeds) external view returns (uint64[] memory prices) {
        prices = new uint64[](feeds.length);
        for (uint256 i = 0; i < feeds.length; ++i) {
            (prices[i],,) = _getPrice(feeds[i]);
        }
    }

    /// @inheritdoc IOracleAdapter
    function feedConfig(address feed) external view returns (uint32 heartbeat, uint8 decimals) {
        FeedConfig memory config = _feeds[feed];
        return (config.heartbeat, config.decimals);
    }

    /// @inheritdoc IOracleAdapter
    function lastUpdate(address feed) external view returns (uint256 updatedAt, uint32 heartbeat) {
        heartbeat = _feeds[feed].heartbeat;
        if (heartbeat == 0) revert OracleAdapter__FeedNotRegistered(feed);
        (,,, updatedAt,) = AggregatorV3Interface(feed).latestRoundData();
    }

    /// @inheritdoc IOracleAdapter
    function isRegistered(address feed) external view returns (bool) {
        return _feeds[feed].heartbeat != 0;
    }

    // ------------------------------------------------------------------ internal

    /// @dev {getPrice}: every check of {IOracleAdapter-getPrice}, in its order.
    function _getPrice(address feed) private view returns (uint64 price, uint80 roundId, uint256 updatedAt) {
        FeedConfig memory config = _feeds[feed];
        if (config.heartbeat == 0) revert OracleAdapter__FeedNotRegistered(feed);

        uint8 decimals = AggregatorV3Interface(feed).decimals();
        if (decimals != config.decimals) revert OracleAdapter__DecimalsChanged(feed, config.decimals, decimals);

        int256 answer;
        uint80 answeredInRound;
        (roundId, answer,, updatedAt, answeredInRound) = AggregatorV3Interface(feed).latestRoundData();

        if (answer <= 0) revert OracleAdapter__NonPositivePrice(feed, answer);
        if (updatedAt == 0) revert OracleAdapter__RoundIncomplete(feed, roundId);
        // Staleness is defined by time; validator skew (seconds) is far below any heartbeat.
        // forge-lint: disable-next-line(block-timestamp)
        if (updatedAt > block.timestamp) revert OracleAdapter__UpdatedInFuture(feed, updatedAt, block.timestamp);
        // Exactly `heartbeat` seconds old is fresh; one second more is stale.
        // forge-lint: disable-next-line(block-timestamp)
        if (block.timestamp - updatedAt > config.heartbeat) {
            revert OracleAdapter__StalePrice(feed, updatedAt, config.heartbeat);
        }
        if (answeredInRound < roundId) revert OracleAdapter__StaleRound(feed, roundId, answeredInRound);

        price = _normalise(feed, answer, decimals);
    }

    /// @dev Converts a positive `answer` with `decimals` decimals to 8 decimals.
    ///      decimals < 8: answer * 10^(8 - decimals), exact.
    ///      decimals > 8: answer / 10^(decimals - 8), rounded down (toward zero).
    ///      Reverts with {OracleAdapter__PriceOutOfRange} if the result is 0 or >= 2^64.
    ///      Scaling up can only grow the value, so an answer already above the bound is
    ///      refused before multiplying (no overflow for any int256 answer).
    /// @param answer The feed's answer, > 0 (checked by the caller).
    /// @param decimals The feed's decimals, <= MAX_FEED_DECIMALS (checked at registration).
    function _normalise(address feed, int256 answer, uint8 decimals) private pure returns (uint64) {
        // casting to 'uint256' is safe because the caller checked answer > 0
        // forge-lint: disable-next-line(unsafe-typecast)
        uint256 raw = uint256(answer);
        uint256 scaled;
        if (decimals == PRICE_DECIMALS) {
            scaled = raw;
        } else if (decimals < PRICE_DECIMALS) {
            if (raw > MAX_PRICE) revert OracleAdapter__PriceOutOfRange(feed, answer, decimals);
            scaled = raw * 10 ** (PRICE_DECIMALS - decimals);
        } else {
            scaled = raw / 10 ** (decimals - PRICE_DECIMALS);
        }
        if (scaled == 0 || scaled > MAX_PRICE) revert OracleAdapter__PriceOutOfRange(feed, answer, decimals);
        // casting to 'uint64' is safe because scaled <= MAX_PRICE == type(uint64).max
        // forge-lint: disable-next-line(unsafe-typecast)
        return uint64(scaled);
    }
}
