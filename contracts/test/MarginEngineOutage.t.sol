// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IMarginEngine} from "../src/engine/IMarginEngine.sol";
import {IOracleAdapter} from "../src/oracle/IOracleAdapter.sol";
import {MarginEngineBase} from "./utils/MarginEngineBase.sol";

/// @dev Outage-safe clocks: while a feed an account depends on is stale, its lapse and
///      grace clocks stop, and nothing that adds risk is accepted. Every feed has a
///      1-hour heartbeat; Alice (isolated ETH/USDC) proves at T0 with a 1-day lifetime.
///      The outage: the feeds last update at T0 + 22h, so they are stale from
///      T0 + 23h + 1 (updatedAt + heartbeat + 1) until they resume at T0 + 25h.
contract MarginEngineOutageTest is MarginEngineBase {
    uint256 internal constant LAST_UPDATE = T0 + 22 hours;
    uint256 internal constant STALE_FROM = LAST_UPDATE + HEARTBEAT + 1;
    uint256 internal constant RESUME = T0 + 25 hours;
    uint256 internal constant STALE_TIME = RESUME - STALE_FROM; // 2h - 1s

    function _liquidatableNow(address who) internal view returns (bool now_) {
        (now_,) = engine.liquidatable(who);
    }

    /// @dev Alice opened at T0; feeds updated last at T0 + 22h; a trader pokes at T0 + 23h30m.
    function _outage() internal {
        _openAlice();
        vm.warp(LAST_UPDATE);
        _refreshFeeds();
        vm.warp(T0 + 23 hours + 30 minutes);
        vm.expectEmit(address(engine));
        emit IMarginEngine.StaleClock(1, _u64(STALE_FROM), 0); // clock 1: ETH market, USDC asset
        engine.pokeStale(ALICE);
    }

    /// @dev The attack the clocks stop: today a 1-day lifetime lapses during the outage
    ///      (at T0 + 24h + 1) although Alice cannot prove (proving needs fresh prices).
    function test_OutageDoesNotLapseAProof() public {
        _outage();
        vm.warp(T0 + LIFETIME + 1);
        assertFalse(_liquidatableNow(ALICE), "lapsed during the outage");
        (, uint64 at) = engine.liquidatable(ALICE);
        assertEq(uint256(at), type(uint64).max, "no deadline while stale");
        vm.expectRevert(abi.encodeWithSelector(IMarginEngine.MarginEngine__NotLiquidatable.selector, ALICE));
        vm.prank(keeper);
        engine.liquidate(ALICE);
        // Alice cannot prove while stale ...
        vm.expectRevert(
            abi.encodeWithSelector(
                IOracleAdapter.OracleAdapter__StalePrice.selector, address(ethFeed), LAST_UPDATE, HEARTBEAT
            )
        );
        vm.prank(ALICE);
        engine.proveMargin(_proof("aliceProve"));
        // ... and proves right after the feeds resume: safe
        vm.warp(RESUME);
        _refreshFeeds();
        vm.warp(RESUME + 1 minutes);
        vm.prank(ALICE);
        engine.proveMargin(_proof("aliceProve"));
        assertFalse(_liquidatableNow(ALICE));
        (uint64 total, uint64 since) = engine.staleClock(1);
        assertEq(uint256(total), STALE_TIME, "the outage, exactly");
        assertEq(uint256(since), 0);
    }

    /// @dev Who does not prove after the feeds resume lapses once the live time of the
    ///      proof reaches the lifetime: the outage is added to the deadline, no more.
    function test_NoProofAfterTheOutageLapses() public {
        _outage();
        vm.warp(RESUME);
        _refreshFeeds();
        engine.pokeStale(ALICE); // closes the outage (anyone; liquidate would too)
        uint256 due = T0 + LIFETIME + 1 + STALE_TIME;
        (bool now_, uint64 at) = engine.liquidatable(ALICE);
        assertFalse(now_);
        assertEq(uint256(at), due);
        assertEq(uint256(engine.account(ALICE).lastProofAt), T0 + STALE_TIME, "proof time shifted by the outage");
        vm.warp(due - 1);
        _refreshFeeds();
        vm.expectRevert(abi.encodeWithSelector(IMarginEngine.MarginEngine__NotLiquidatable.selector, ALICE));
        vm.prank(keeper);
        engine.liquidate(ALICE);
        vm.warp(due);
        vm.prank(keeper);
        engine.liquidate(ALICE);
    }

    /// @dev A keeper cannot liquidate during an outage nobody poked: liquidate brings the
    ///      clock up to date first (the outage starts when the feed went stale).
    function test_RevertIf_LiquidateDuringAnUnpokedOutage() public {
        _openAlice();
        vm.warp(LAST_UPDATE);
        _refreshFeeds();
        vm.warp(T0 + LIFETIME + 1);
        assertFalse(_liquidatableNow(ALICE), "the view counts the unpoked outage");
        vm.expectRevert(abi.encodeWithSelector(IMarginEngine.MarginEngine__NotLiquidatable.selector, ALICE));
        vm.prank(keeper);
        engine.liquidate(ALICE);
    }

    /// @dev The grace clock stops too: a shock flagged 30 minutes before the outage
    ///      keeps its other 30 minutes of grace for after it.
    function test_OutageStopsTheGraceClock() public {
        _openAlice();
        vm.warp(LAST_UPDATE);
        _refreshFeeds();
        uint256 flagAt = LAST_UPDATE + 30 minutes;
        vm.warp(flagAt);
        _setPrice(ethFeed, SHOCK_ETH_PRICE);
        vm.prank(keeper);
        engine.flagShock(ALICE); // grace would end at flagAt + GRACE + 1, inside the outage
        vm.warp(flagAt + GRACE + 1);
        assertFalse(_liquidatableNow(ALICE), "grace ran during the outage");
        engine.pokeStale(ALICE);
        vm.warp(RESUME);
        _refreshFeeds();
        uint256 due = flagAt + GRACE + 1 + STALE_TIME;
        (bool now_, uint64 at) = engine.liquidatable(ALICE);
        assertFalse(now_);
        assertEq(uint256(at), due);
        vm.warp(due - 1);
        vm.expectRevert(abi.encodeWithSelector(IMarginEngine.MarginEngine__NotLiquidatable.selector, ALICE));
        vm.prank(keeper);
        engine.liquidate(ALICE);
        vm.warp(due);
        vm.prank(keeper);
        engine.liquidate(ALICE);
    }

    /// @dev Nothing that adds risk goes through while a feed of the account is stale.
    function test_RevertIf_WithdrawOrOpenDuringTheOutage() public {
        _outage();
        bytes memory stale = abi.encodeWithSelector(
            IOracleAdapter.OracleAdapter__StalePrice.selector, address(ethFeed), LAST_UPDATE, HEARTBEAT
        );
        vm.expectRevert(stale);
        vm.prank(ALICE);
        engine.withdraw(USDC, ALICE_WITHDRAW, _proof("aliceWithdraw"));
        _deposit(BOB, USDC, BOB_USDC);
        _deposit(BOB, WETH, BOB_WETH);
        vm.expectRevert(stale);
        vm.prank(BOB);
        engine.openCross(_commitment("bobOpen"), _proof("bobOpen"));
    }

    /// @dev An isolated account depends on its own feeds only: a BTC outage does not stop
    ///      Alice's clock (ETH/USDC), but stops Bob's (cross: every listed feed).
    function test_OutageOnAnotherFeedDoesNotStopAnIsolatedClock() public {
        _openAlice();
        _openBob();
        vm.warp(LAST_UPDATE);
        _refreshFeeds();
        vm.warp(T0 + LIFETIME);
        _refresh(ethFeed);
        _refresh(usdcFeed);
        _refresh(wethFeed); // BTC stale since STALE_FROM
        engine.pokeStale(ALICE);
        engine.pokeStale(BOB);
        (, uint64 aliceSince) = engine.staleClock(1);
        (, uint64 bobSince) = engine.staleClock(0);
        assertEq(uint256(aliceSince), 0);
        assertEq(uint256(bobSince), STALE_FROM);
        vm.warp(T0 + LIFETIME + 1);
        assertTrue(_liquidatableNow(ALICE));
        assertFalse(_liquidatableNow(BOB));
    }

    /// @dev Poking late during the outage counts it from when the feed went stale; poking
    ///      with fresh feeds changes nothing; poking twice during one outage changes nothing.
    /// @dev An outage never starts before the last one ended (the end is kept apart from
    ///      the clock word, read only when an outage starts): a feed whose new round carries
    ///      an older update time than the end of the last outage restarts the count at
    ///      that end, not earlier, so the last outage's time is never counted twice.
    function test_NextOutageStartsNoEarlierThanTheLastEnded() public {
        _outage();
        vm.warp(RESUME);
        _refreshFeeds();
        vm.warp(RESUME + 1 minutes);
        vm.expectEmit(address(engine));
        emit IMarginEngine.StaleClock(1, 0, _u64(STALE_TIME)); // ended at RESUME
        engine.pokeStale(ALICE);
        // a round dated before RESUME, already stale: it went stale at RESUME - 9
        uint256 older = RESUME - HEARTBEAT - 10;
        (uint80 round, int256 answer,,,) = ethFeed.latestRoundData();
        ethFeed.setRoundData(round + 1, answer, older, older, round + 1);
        vm.expectEmit(address(engine));
        emit IMarginEngine.StaleClock(1, _u64(RESUME), _u64(STALE_TIME));
        engine.pokeStale(ALICE);
        (uint64 total, uint64 since) = engine.staleClock(1);
        assertEq(uint256(total), STALE_TIME);
        assertEq(uint256(since), RESUME, "started before the last outage ended");
    }

    /// @dev An isolated account's clock is 1 + 2·market + asset, read from the tag bits of
    ///      its account word: an account on each of the four pairs pokes its own clock. The
    ///      tag is rewritten in storage (the fixtures open isolated accounts on ETH/USDC only).
    function test_EachIsolatedPairPokesItsOwnClock() public {
        _openAlice();
        bytes32 slot = bytes32(uint256(_commitmentSlot(ALICE, _commitment("aliceOpen"))) + 1); // meta
        uint256 meta = uint256(vm.load(address(engine), slot));
        assertEq(meta & 0x1f, 1, "isolated on ETH/USDC");
        vm.warp(LAST_UPDATE);
        _refreshFeeds();
        vm.warp(T0 + 23 hours + 30 minutes); // every feed stale since STALE_FROM
        for (uint256 m = 0; m < 2; ++m) {
            for (uint256 a = 0; a < 2; ++a) {
                uint256 snap = vm.snapshotState();
                vm.store(address(engine), slot, bytes32((meta & ~uint256(0x1c)) | (m << 2) | (a << 4)));
                // casting to 'uint8' is safe: at most 4
                // forge-lint: disable-next-line(unsafe-typecast)
                uint8 id = uint8(1 + 2 * m + a);
                vm.expectEmit(address(engine));
                emit IMarginEngine.StaleClock(id, _u64(STALE_FROM), 0);
                engine.pokeStale(ALICE);
                (, uint64 since) = engine.staleClock(id);
                assertEq(uint256(since), STALE_FROM);
                vm.revertToState(snap);
            }
        }
    }

    /// @dev The storage slot of `who`'s commitment (first field of the account), found by value.
    function _commitmentSlot(address who, uint256 value) internal view returns (bytes32) {
        for (uint256 base = 0; base < 64; ++base) {
            bytes32 slot = keccak256(abi.encode(who, base));
            if (uint256(vm.load(address(engine), slot)) == value) return slot;
        }
        revert("commitment slot not found");
    }

    function test_PokeStale_IsIdempotent() public {
        _outage();
        vm.recordLogs();
        engine.pokeStale(ALICE);
        assertEq(vm.getRecordedLogs().length, 0, "a second poke changed the clock");
        (uint64 total, uint64 since) = engine.staleClock(1);
        assertEq(uint256(total), 0);
        assertEq(uint256(since), STALE_FROM);
    }

    function test_RevertIf_PokeStaleNoAccount() public {
        vm.expectRevert(abi.encodeWithSelector(IMarginEngine.MarginEngine__NoAccount.selector, ALICE));
        engine.pokeStale(ALICE);
    }
}
