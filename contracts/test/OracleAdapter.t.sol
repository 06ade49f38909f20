// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {AggregatorV3Interface} from "@chainlink/contracts/src/v0.8/shared/interfaces/AggregatorV3Interface.sol";
import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {Ownable2Step} from "@openzeppelin/contracts/access/Ownable2Step.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";

import {MockAggregator} from "../src/mocks/MockAggregator.sol";
import {IOracleAdapter} from "../src/oracle/IOracleAdapter.sol";
import {OracleAdapter} from "../src/oracle/OracleAdapter.sol";
import {Test} from "./utils/Test.sol";

contract OracleAdapterTest is Test {
    using SafeCast for uint256;
    using SafeCast for int256;

    uint32 internal constant HEARTBEAT = 1 hours;
    uint256 internal constant T0 = 1_700_000_000;
    uint256 internal constant MAX_PRICE = type(uint64).max;
    int256 internal constant ETH_USD_8 = 2_000e8;
    uint256 internal constant ETH_USD_PRICE = 2_000e8;

    OracleAdapter internal adapter;
    MockAggregator internal feed;
    address internal owner;
    address internal stranger;

    function setUp() public {
        vm.warp(T0);
        owner = makeAddr("owner");
        stranger = makeAddr("stranger");
        adapter = new OracleAdapter(owner);
        feed = new MockAggregator(8, ETH_USD_8, "ETH / USD");
        vm.prank(owner);
        adapter.setFeed(address(feed), HEARTBEAT);
    }

    // ------------------------------------------------------------------ helpers

    /// @dev A fresh feed with `decimals`, answer `answer` at the current time, registered.
    function _registeredFeed(uint8 decimals, int256 answer) internal returns (MockAggregator f) {
        f = new MockAggregator(decimals, answer, "TEST");
        vm.prank(owner);
        adapter.setFeed(address(f), HEARTBEAT);
    }

    function _priceOf(MockAggregator f) internal view returns (uint64 price) {
        (price,,) = adapter.getPrice(address(f));
    }

    // ------------------------------------------------------------------ construction

    function test_Constructor_SetsOwnerAndConstants() public view {
        assertEq(adapter.owner(), owner);
        assertEq(adapter.pendingOwner(), address(0));
        assertEq(uint256(adapter.PRICE_DECIMALS()), 8);
        assertEq(uint256(adapter.MAX_HEARTBEAT()), 7 days);
        assertEq(uint256(adapter.MAX_FEED_DECIMALS()), 36);
    }

    function test_RevertIf_ConstructedWithZeroOwner() public {
        vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableInvalidOwner.selector, address(0)));
        new OracleAdapter(address(0));
    }

    // ------------------------------------------------------------------ setFeed / removeFeed

    function test_SetFeed_RegistersAndEmits() public {
        MockAggregator f = new MockAggregator(18, 1e18, "X");
        vm.expectEmit(address(adapter));
        emit IOracleAdapter.FeedSet(address(f), 600, 18);
        vm.prank(owner);
        adapter.setFeed(address(f), 600);

        assertTrue(adapter.isRegistered(address(f)));
        (uint32 heartbeat, uint8 decimals) = adapter.feedConfig(address(f));
        assertEq(uint256(heartbeat), 600);
        assertEq(uint256(decimals), 18);
    }

    function test_SetFeed_UpdatesHeartbeatAndEmits() public {
        vm.expectEmit(address(adapter));
        emit IOracleAdapter.FeedSet(address(feed), 2 hours, 8);
        vm.prank(owner);
        adapter.setFeed(address(feed), 2 hours);
        (uint32 heartbeat,) = adapter.feedConfig(address(feed));
        assertEq(uint256(heartbeat), 2 hours);
    }

    function test_SetFeed_AcceptsBoundaryValues() public {
        MockAggregator f = new MockAggregator(36, 1e36, "X");
        vm.startPrank(owner);
        adapter.setFeed(address(f), 1);
        adapter.setFeed(address(f), 7 days);
        vm.stopPrank();
        (uint32 heartbeat, uint8 decimals) = adapter.feedConfig(address(f));
        assertEq(uint256(heartbeat), 7 days);
        assertEq(uint256(decimals), 36);
    }

    function test_RemoveFeed_UnregistersAndEmits() public {
        vm.expectEmit(address(adapter));
        emit IOracleAdapter.FeedRemoved(address(feed));
        vm.prank(owner);
        adapter.removeFeed(address(feed));

        assertFalse(adapter.isRegistered(address(feed)));
        (uint32 heartbeat, uint8 decimals) = adapter.feedConfig(address(feed));
        assertEq(uint256(heartbeat), 0);
        assertEq(uint256(decimals), 0);
        vm.expectRevert(abi.encodeWithSelector(IOracleAdapter.OracleAdapter__FeedNotRegistered.selector, feed));
        adapter.getPrice(address(feed));
    }

    function test_RevertIf_SetFeedCallerNotOwner() public {
        vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, stranger));
        vm.prank(stranger);
        adapter.setFeed(address(feed), HEARTBEAT);
    }

    function test_RevertIf_RemoveFeedCallerNotOwner() public {
        vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, stranger));
        vm.prank(stranger);
        adapter.removeFeed(address(feed));
    }

    function test_RevertIf_SetFeedZeroAddress() public {
        vm.expectRevert(abi.encodeWithSelector(IOracleAdapter.OracleAdapter__InvalidFeed.selector, address(0)));
        vm.prank(owner);
        adapter.setFeed(address(0), HEARTBEAT);
    }

    function test_RevertIf_SetFeedHasNoCode() public {
        address eoa = makeAddr("eoa");
        vm.expectRevert(abi.encodeWithSelector(IOracleAdapter.OracleAdapter__InvalidFeed.selector, eoa));
        vm.prank(owner);
        adapter.setFeed(eoa, HEARTBEAT);
    }

    function test_RevertIf_HeartbeatZero() public {
        vm.expectRevert(abi.encodeWithSelector(IOracleAdapter.OracleAdapter__InvalidHeartbeat.selector, 0));
        vm.prank(owner);
        adapter.setFeed(address(feed), 0);
    }

    function test_RevertIf_HeartbeatAboveMax() public {
        uint32 tooLong = 7 days + 1;
        vm.expectRevert(abi.encodeWithSelector(IOracleAdapter.OracleAdapter__InvalidHeartbeat.selector, tooLong));
        vm.prank(owner);
        adapter.setFeed(address(feed), tooLong);
    }

    function test_RevertIf_FeedDecimalsAboveMax() public {
        MockAggregator f = new MockAggregator(37, 1, "X");
        vm.expectRevert(
            abi.encodeWithSelector(IOracleAdapter.OracleAdapter__UnsupportedDecimals.selector, address(f), 37)
        );
        vm.prank(owner);
        adapter.setFeed(address(f), HEARTBEAT);
    }

    function test_RevertIf_RemoveFeedNotRegistered() public {
        address other = address(new MockAggregator(8, 1, "X"));
        vm.expectRevert(abi.encodeWithSelector(IOracleAdapter.OracleAdapter__FeedNotRegistered.selector, other));
        vm.prank(owner);
        adapter.removeFeed(other);
    }

    // ------------------------------------------------------------------ ownership

    function test_TransferOwnership_IsTwoStep() public {
        address next = makeAddr("next");
        vm.expectEmit(address(adapter));
        emit Ownable2Step.OwnershipTransferStarted(owner, next);
        vm.prank(owner);
        adapter.transferOwnership(next);
        assertEq(adapter.owner(), owner, "owner changes only on accept");
        assertEq(adapter.pendingOwner(), next);

        // Before accepting, the pending owner has no power.
        vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, next));
        vm.prank(next);
        adapter.setFeed(address(feed), HEARTBEAT);

        vm.expectEmit(address(adapter));
        emit Ownable.OwnershipTransferred(owner, next);
        vm.prank(next);
        adapter.acceptOwnership();
        assertEq(adapter.owner(), next);
        assertEq(adapter.pendingOwner(), address(0));

        vm.prank(next);
        adapter.setFeed(address(feed), 2 hours);
        vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, owner));
        vm.prank(owner);
        adapter.setFeed(address(feed), HEARTBEAT);
    }

    function test_RevertIf_AcceptOwnershipNotPending() public {
        vm.prank(owner);
        adapter.transferOwnership(makeAddr("next"));
        vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, stranger));
        vm.prank(stranger);
        adapter.acceptOwnership();
    }

    function test_RevertIf_RenounceOwnership() public {
        vm.expectRevert(IOracleAdapter.OracleAdapter__RenounceDisabled.selector);
        vm.prank(owner);
        adapter.renounceOwnership();
        assertEq(adapter.owner(), owner);
    }

    function test_RevertIf_RenounceOwnershipCallerNotOwner() public {
        vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, stranger));
        vm.prank(stranger);
        adapter.renounceOwnership();
    }

    // ------------------------------------------------------------------ getPrice: happy paths

    function test_GetPrice_ReturnsPriceRoundAndTime() public view {
        (uint64 price, uint80 roundId, uint256 updatedAt) = adapter.getPrice(address(feed));
        assertEq(uint256(price), ETH_USD_PRICE);
        assertEq(uint256(roundId), 1);
        assertEq(updatedAt, T0);
    }

    function test_GetPrice_FollowsLatestRound() public {
        vm.warp(T0 + 60);
        feed.updateAnswer(2_100e8);
        (uint64 price, uint80 roundId, uint256 updatedAt) = adapter.getPrice(address(feed));
        assertEq(uint256(price), 2_100e8);
        assertEq(uint256(roundId), 2);
        assertEq(updatedAt, T0 + 60);
    }

    function test_GetPrice_FreshAtExactlyHeartbeat() public {
        vm.warp(T0 + HEARTBEAT);
        (uint64 price,, uint256 updatedAt) = adapter.getPrice(address(feed));
        assertEq(uint256(price), ETH_USD_PRICE);
        assertEq(updatedAt, T0);
    }

    function test_GetPrice_Normalises8Decimals() public {
        assertEq(uint256(_priceOf(_registeredFeed(8, 123_456_789))), 123_456_789);
    }

    function test_GetPrice_Normalises6Decimals() public {
        // 1.000001 USDC-style: 1_000_001 (6 dec) -> 100_000_100 (8 dec), exact.
        assertEq(uint256(_priceOf(_registeredFeed(6, 1_000_001))), 100_000_100);
    }

    function test_GetPrice_Normalises18Decimals() public {
        assertEq(uint256(_priceOf(_registeredFeed(18, 2_000e18))), 2_000e8);
    }

    function test_GetPrice_Normalises0Decimals() public {
        assertEq(uint256(_priceOf(_registeredFeed(0, 3))), 3e8);
    }

    function test_GetPrice_Normalises36Decimals() public {
        assertEq(uint256(_priceOf(_registeredFeed(36, 5e36))), 5e8);
    }

    function test_GetPrice_18DecimalsRoundsDown() public {
        // 1.999999999999999999 -> 1.99999999 (the dropped 9e-10 is not rounded up).
        assertEq(uint256(_priceOf(_registeredFeed(18, 1_999_999_999_999_999_999))), 199_999_999);
    }

    function test_GetPrice_18DecimalsSmallestNonZero() public {
        assertEq(uint256(_priceOf(_registeredFeed(18, 1e10))), 1);
        assertEq(uint256(_priceOf(_registeredFeed(18, 2e10 - 1))), 1);
    }

    function test_GetPrice_MaxPrice() public {
        assertEq(uint256(_priceOf(_registeredFeed(8, MAX_PRICE.toInt256()))), MAX_PRICE);
        // 6 decimals: the largest answer whose scaled value still fits.
        uint256 maxAnswer6 = MAX_PRICE / 100;
        assertEq(uint256(_priceOf(_registeredFeed(6, maxAnswer6.toInt256()))), maxAnswer6 * 100);
    }

    function test_GetPrice_FutureAnsweredInRoundAccepted() public {
        // answeredInRound > roundId is odd but not stale; only carried-over answers are refused.
        feed.setRoundData(5, ETH_USD_8, T0, T0, 6);
        (, uint80 roundId,) = adapter.getPrice(address(feed));
        assertEq(uint256(roundId), 5);
    }

    // ------------------------------------------------------------------ getPrice: reverts

    function test_RevertIf_FeedNotRegistered() public {
        MockAggregator other = new MockAggregator(8, ETH_USD_8, "X");
        vm.expectRevert(
            abi.encodeWithSelector(IOracleAdapter.OracleAdapter__FeedNotRegistered.selector, address(other))
        );
        adapter.getPrice(address(other));
    }

    function test_RevertIf_DecimalsChanged() public {
        feed.setDecimals(18);
        vm.expectRevert(
            abi.encodeWithSelector(IOracleAdapter.OracleAdapter__DecimalsChanged.selector, address(feed), 8, 18)
        );
        adapter.getPrice(address(feed));

        // Re-registering records the new decimals and the feed works again.
        feed.updateAnswer(2_000e18);
        vm.prank(owner);
        adapter.setFeed(address(feed), HEARTBEAT);
        assertEq(uint256(_priceOf(feed)), 2_000e8);
    }

    function test_RevertIf_AnswerZero() public {
        feed.updateAnswer(0);
        vm.expectRevert(
            abi.encodeWithSelector(IOracleAdapter.OracleAdapter__NonPositivePrice.selector, address(feed), int256(0))
        );
        adapter.getPrice(address(feed));
    }

    function test_RevertIf_AnswerNegative() public {
        feed.updateAnswer(-1);
        vm.expectRevert(
            abi.encodeWithSelector(IOracleAdapter.OracleAdapter__NonPositivePrice.selector, address(feed), int256(-1))
        );
        adapter.getPrice(address(feed));

        feed.updateAnswer(type(int256).min);
        vm.expectRevert(
            abi.encodeWithSelector(
                IOracleAdapter.OracleAdapter__NonPositivePrice.selector, address(feed), type(int256).min
            )
        );
        adapter.getPrice(address(feed));
    }

    function test_RevertIf_UpdatedAtZero() public {
        feed.setRoundData(7, ETH_USD_8, T0, 0, 7);
        vm.expectRevert(
            abi.encodeWithSelector(IOracleAdapter.OracleAdapter__RoundIncomplete.selector, address(feed), uint80(7))
        );
        adapter.getPrice(address(feed));
    }

    function test_RevertIf_UpdatedAtInFuture() public {
        feed.setRoundData(2, ETH_USD_8, T0, T0 + 1, 2);
        vm.expectRevert(
            abi.encodeWithSelector(IOracleAdapter.OracleAdapter__UpdatedInFuture.selector, address(feed), T0 + 1, T0)
        );
        adapter.getPrice(address(feed));
    }

    function test_RevertIf_StaleAtHeartbeatPlusOne() public {
        vm.warp(T0 + HEARTBEAT + 1);
        vm.expectRevert(
            abi.encodeWithSelector(
                IOracleAdapter.OracleAdapter__StalePrice.selector, address(feed), T0, uint256(HEARTBEAT)
            )
        );
        adapter.getPrice(address(feed));
    }

    // ------------------------------------------------------------------ getPrices (batch)

    function test_GetPrices_SameAsGetPriceInOrder() public {
        MockAggregator btc = _registeredFeed(18, 60_000e18);
        MockAggregator usdc = _registeredFeed(6, 999_900);
        address[] memory feeds = new address[](3);
        (feeds[0], feeds[1], feeds[2]) = (address(usdc), address(feed), address(btc));
        uint64[] memory prices = adapter.getPrices(feeds);
        assertEq(prices.length, 3);
        assertEq(uint256(prices[0]), uint256(_priceOf(usdc)));
        assertEq(uint256(prices[1]), ETH_USD_PRICE);
        assertEq(uint256(prices[2]), 60_000e8);
        assertEq(uint256(prices[0]), 0.9999e8);
    }

    function test_GetPrices_Empty() public view {
        assertEq(adapter.getPrices(new address[](0)).length, 0);
    }

    /// @dev Every feed goes through every check: one stale feed among fresh ones fails the
    ///      whole call with that feed's own error.
    function test_RevertIf_GetPricesWithOneStaleFeed() public {
        vm.warp(T0 + HEARTBEAT + 1);
        MockAggregator fresh = _registeredFeed(8, 1e8); // written now: fresh
        address[] memory feeds = new address[](2);
        (feeds[0], feeds[1]) = (address(fresh), address(feed));
        vm.expectRevert(
            abi.encodeWithSelector(
                IOracleAdapter.OracleAdapter__StalePrice.selector, address(feed), T0, uint256(HEARTBEAT)
            )
        );
        adapter.getPrices(feeds);
    }

    function test_RevertIf_GetPricesWithUnregisteredFeed() public {
        address[] memory feeds = new address[](2);
        (feeds[0], feeds[1]) = (address(feed), stranger);
        vm.expectRevert(abi.encodeWithSelector(IOracleAdapter.OracleAdapter__FeedNotRegistered.selector, stranger));
        adapter.getPrices(feeds);
    }

    function test_RevertIf_AnsweredInEarlierRound() public {
        feed.setRoundData(9, ETH_USD_8, T0, T0, 8);
        vm.expectRevert(
            abi.encodeWithSelector(
                IOracleAdapter.OracleAdapter__StaleRound.selector, address(feed), uint80(9), uint80(8)
            )
        );
        adapter.getPrice(address(feed));
    }

    function test_RevertIf_NormalisedPriceIsZero() public {
        MockAggregator f = _registeredFeed(18, 1e10 - 1);
        vm.expectRevert(
            abi.encodeWithSelector(
                IOracleAdapter.OracleAdapter__PriceOutOfRange.selector, address(f), int256(1e10 - 1), uint8(18)
            )
        );
        adapter.getPrice(address(f));
    }

    function test_RevertIf_PriceAtLeast2Pow64() public {
        int256 answer = (MAX_PRICE + 1).toInt256();
        MockAggregator f = _registeredFeed(8, answer);
        vm.expectRevert(
            abi.encodeWithSelector(IOracleAdapter.OracleAdapter__PriceOutOfRange.selector, address(f), answer, uint8(8))
        );
        adapter.getPrice(address(f));
    }

    function test_RevertIf_ScaledUpPriceAtLeast2Pow64() public {
        // 6 decimals: MAX_PRICE / 100 + 1 fits in 64 bits, but times 100 it does not.
        int256 answer = (MAX_PRICE / 100 + 1).toInt256();
        MockAggregator f = _registeredFeed(6, answer);
        vm.expectRevert(
            abi.encodeWithSelector(IOracleAdapter.OracleAdapter__PriceOutOfRange.selector, address(f), answer, uint8(6))
        );
        adapter.getPrice(address(f));
    }

    function test_RevertIf_HugeAnswerWithFewDecimals() public {
        // Must be a clean PriceOutOfRange, not an arithmetic-overflow panic.
        MockAggregator f = _registeredFeed(0, type(int256).max);
        vm.expectRevert(
            abi.encodeWithSelector(
                IOracleAdapter.OracleAdapter__PriceOutOfRange.selector, address(f), type(int256).max, uint8(0)
            )
        );
        adapter.getPrice(address(f));
    }

    function test_RevertIf_FeedReverts() public {
        vm.mockCallRevert(
            address(feed), abi.encodeWithSelector(AggregatorV3Interface.latestRoundData.selector), bytes("paused")
        );
        vm.expectRevert(bytes("paused"));
        adapter.getPrice(address(feed));
    }

    // ------------------------------------------------------------------ fixture vectors

    /// @dev test/fixtures/oracle_normalisation.json holds (decimals, answer, price) vectors
    ///      shared with the Python side; every one must normalise exactly as listed.
    function test_GetPrice_MatchesFixtureVectors() public {
        string memory json = vm.readFile(string.concat(vm.projectRoot(), "/test/fixtures/oracle_normalisation.json"));
        uint256[] memory decimals = vm.parseJsonUintArray(json, ".decimals");
        uint256[] memory answers = vm.parseJsonUintArray(json, ".answers");
        uint256[] memory prices = vm.parseJsonUintArray(json, ".prices");
        assertEq(answers.length, decimals.length);
        assertEq(prices.length, decimals.length);
        assertGt(decimals.length, 0);
        for (uint256 i = 0; i < decimals.length; i++) {
            MockAggregator f = _registeredFeed(decimals[i].toUint8(), answers[i].toInt256());
            assertEq(uint256(_priceOf(f)), prices[i], string.concat("vector ", vm.toString(i)));
        }
    }

    // ------------------------------------------------------------------ fuzz

    /// @dev Reference normalisation, written independently of the adapter:
    ///      returns (ok, price) with ok == false where the adapter must refuse.
    function _reference(uint256 answer, uint8 decimals) internal pure returns (bool ok, uint256 price) {
        if (decimals <= 8) {
            uint256 factor = 10 ** (8 - decimals);
            if (answer > MAX_PRICE / factor) return (false, 0); // would reach 2^64 or beyond
            price = answer * factor;
        } else {
            price = answer / 10 ** (decimals - 8);
        }
        ok = price != 0 && price <= MAX_PRICE;
    }

    function testFuzz_NormalisationMatchesReference(int256 answer, uint8 decimals) public {
        decimals = uint8(bound(uint256(decimals), 0, 36));
        answer = bound(answer, 1, type(int256).max);
        MockAggregator f = _registeredFeed(decimals, answer);
        (bool ok, uint256 expected) = _reference(answer.toUint256(), decimals);
        if (!ok) {
            vm.expectRevert(
                abi.encodeWithSelector(
                    IOracleAdapter.OracleAdapter__PriceOutOfRange.selector, address(f), answer, decimals
                )
            );
        }
        (uint64 price,,) = adapter.getPrice(address(f));
        if (ok) assertEq(uint256(price), expected);
    }

    /// @dev Builds an in-range answer from a target price, so every run checks a value.
    function testFuzz_NormalisationInRange(uint64 target, uint8 decimals, uint256 dust) public {
        decimals = uint8(bound(uint256(decimals), 0, 36));
        uint256 answer;
        uint256 expected;
        if (decimals >= 8) {
            uint256 unit = 10 ** (decimals - 8);
            expected = bound(uint256(target), 1, MAX_PRICE);
            answer = expected * unit + (dust % unit); // sub-unit dust is truncated away
        } else {
            uint256 factor = 10 ** (8 - decimals);
            answer = bound(uint256(target), 1, MAX_PRICE / factor);
            expected = answer * factor;
        }
        MockAggregator f = _registeredFeed(decimals, answer.toInt256());
        assertEq(uint256(_priceOf(f)), expected);
    }

    function testFuzz_StalenessBoundary(uint32 heartbeat, uint256 age) public {
        heartbeat = uint32(bound(uint256(heartbeat), 1, 7 days));
        age = bound(age, 0, 14 days);
        vm.prank(owner);
        adapter.setFeed(address(feed), heartbeat);
        vm.warp(T0 + age);
        if (age > heartbeat) {
            vm.expectRevert(
                abi.encodeWithSelector(
                    IOracleAdapter.OracleAdapter__StalePrice.selector, address(feed), T0, uint256(heartbeat)
                )
            );
        }
        (uint64 price,,) = adapter.getPrice(address(feed));
        if (age <= heartbeat) assertEq(uint256(price), ETH_USD_PRICE);
    }

    function testFuzz_RevertIf_NonPositiveAnswer(int256 answer) public {
        answer = bound(answer, type(int256).min, 0);
        feed.updateAnswer(answer);
        vm.expectRevert(
            abi.encodeWithSelector(IOracleAdapter.OracleAdapter__NonPositivePrice.selector, address(feed), answer)
        );
        adapter.getPrice(address(feed));
    }

    function testFuzz_RevertIf_SetFeedCallerNotOwner(address caller) public {
        vm.assume(caller != owner);
        vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, caller));
        vm.prank(caller);
        adapter.setFeed(address(feed), HEARTBEAT);
    }

    // ------------------------------------------------------------------ lastUpdate

    /// @dev The engine's outage clocks read update times without the staleness check:
    ///      a stale feed still answers (the clocks need its updatedAt).
    function test_LastUpdate_AnswersEvenWhenStale() public {
        uint256 posted = block.timestamp;
        vm.warp(posted + 10 days);
        (uint256 updatedAt, uint32 heartbeat) = adapter.lastUpdate(address(feed));
        assertEq(updatedAt, posted);
        assertEq(uint256(heartbeat), HEARTBEAT);
        vm.expectRevert();
        adapter.getPrice(address(feed)); // stale for getPrice
    }

    function test_RevertIf_LastUpdateOfAnUnregisteredFeed() public {
        MockAggregator f = new MockAggregator(8, 1e8, "X");
        vm.expectRevert(abi.encodeWithSelector(IOracleAdapter.OracleAdapter__FeedNotRegistered.selector, address(f)));
        adapter.lastUpdate(address(f));
    }
}
