// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {AggregatorV3Interface} from "@chainlink/contracts/src/v0.8/shared/interfaces/AggregatorV3Interface.sol";

/// @title MockAggregator
/// @notice A settable Chainlink `AggregatorV3Interface` for tests and local chains.
/// @dev LOCAL CHAINS ONLY: anyone can set any answer. Every round is kept so that
///      `getRoundData` works for past rounds, as on a real feed.
contract MockAggregator is AggregatorV3Interface {
    /// @dev One round as a Chainlink aggregator reports it.
    struct Round {
        int256 answer;
        uint256 startedAt;
        uint256 updatedAt;
        uint80 answeredInRound;
        bool exists;
    }

    /// @notice A round was written.
    event RoundSet(uint80 indexed roundId, int256 answer, uint256 updatedAt);

    /// @notice `getRoundData` was asked for a round that was never written.
    error MockAggregator__NoDataPresent(uint80 roundId);

    /// @inheritdoc AggregatorV3Interface
    uint8 public decimals;

    /// @inheritdoc AggregatorV3Interface
    string public description;

    /// @inheritdoc AggregatorV3Interface
    uint256 public constant version = 4;

    /// @notice Id of the latest round (0 before the first answer).
    uint80 public latestRound;

    mapping(uint80 roundId => Round round) private _rounds;

    /// @param decimals_ Decimals of the answers.
    /// @param initialAnswer First answer, written as round 1 at the current block time.
    /// @param description_ Human-readable pair, e.g. "ETH / USD".
    constructor(uint8 decimals_, int256 initialAnswer, string memory description_) {
        decimals = decimals_;
        description = description_;
        updateAnswer(initialAnswer);
    }

    /// @notice Writes a new round `latestRound + 1` with `answer`, updated now.
    function updateAnswer(int256 answer) public {
        uint80 roundId = latestRound + 1;
        _write(roundId, Round(answer, block.timestamp, block.timestamp, roundId, true));
    }

    /// @notice Writes an arbitrary round and makes it the latest (for edge-case tests).
    function setRoundData(uint80 roundId, int256 answer, uint256 startedAt, uint256 updatedAt, uint80 answeredInRound)
        external
    {
        _write(roundId, Round(answer, startedAt, updatedAt, answeredInRound, true));
    }

    /// @notice Changes `decimals` (existing answers are not rescaled).
    function setDecimals(uint8 decimals_) external {
        decimals = decimals_;
    }

    /// @inheritdoc AggregatorV3Interface
    function getRoundData(uint80 roundId)
        external
        view
        returns (uint80, int256 answer, uint256 startedAt, uint256 updatedAt, uint80 answeredInRound)
    {
        Round memory r = _rounds[roundId];
        if (!r.exists) {
            revert MockAggregator__NoDataPresent(roundId);
        }
        return (roundId, r.answer, r.startedAt, r.updatedAt, r.answeredInRound);
    }

    /// @inheritdoc AggregatorV3Interface
    function latestRoundData()
        external
        view
        returns (uint80 roundId, int256 answer, uint256 startedAt, uint256 updatedAt, uint80 answeredInRound)
    {
        Round memory r = _rounds[latestRound];
        return (latestRound, r.answer, r.startedAt, r.updatedAt, r.answeredInRound);
    }

    function _write(uint80 roundId, Round memory round) private {
        _rounds[roundId] = round;
        latestRound = roundId;
        emit RoundSet(roundId, round.answer, round.updatedAt);
    }
}
