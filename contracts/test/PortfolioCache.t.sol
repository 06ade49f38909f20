// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IOracleAdapter} from "../src/oracle/IOracleAdapter.sol";
import {IPortfolioEngine} from "../src/portfolio/IPortfolioEngine.sol";
import {PortfolioBase} from "./utils/PortfolioBase.sol";

/// @dev forge's expectCall with a call count (not in the project's minimal Vm interface).
interface VmCalls {
    function expectCall(address callee, bytes calldata data, uint64 count) external;
}

/// @dev The PortfolioEngine's price cache ({IPortfolioEngine-pushPrices}) and its proof
///      clock, with real proofs: proofs in the block of a push read the cache instead of
///      the adapter; nothing else does, and no proof at a later block or time does. The
///      attacks first: a withdrawal or a margin proof at a cached price the oracle has since
///      moved away from.
contract PortfolioCacheTest is PortfolioBase {
    bytes4 internal constant GET_PRICE = IOracleAdapter.getPrice.selector;
    bytes4 internal constant LAST_UPDATE = IOracleAdapter.lastUpdate.selector;
    uint256 internal constant LISTED_FEEDS = 4; // ETH, BTC, USDC, WETH
    uint256 internal constant MOVED_ETH = 2_200e8; // +10%: outside Carol's set

    /// @dev The next call reads the adapter's `selector` exactly `count` times.
    function _expectAdapter(bytes4 selector, uint256 count) internal {
        VmCalls(address(vm)).expectCall(address(oracle), abi.encodeWithSelector(selector), uint64(count));
    }

    // ================================================================== attacks

    /// @dev Carol's withdrawal proof is priced at ETH 2,000. A push caches 2,000; in the next
    ///      block ETH is 2,200, outside her set. A withdrawal at the cached price would take
    ///      collateral proven at prices that are gone: the engine reads the adapter, so the
    ///      proof does not verify.
    function test_Attack_WithdrawAtCachedPriceInALaterBlock() public {
        _openCarol();
        engine.pushPrices();
        vm.roll(block.number + 1);
        ethFeed.updateAnswer(int256(MOVED_ETH));
        assertEq(engine.publicInputs(CAROL, 3, USDC, 1_000e6)[1] & type(uint64).max, MOVED_ETH);
        IPortfolioEngine.Proof memory p = _proof("carolWithdraw");
        _expectAdapter(GET_PRICE, LISTED_FEEDS);
        vm.prank(CAROL);
        vm.expectRevert(IPortfolioEngine.PortfolioEngine__InvalidProof.selector);
        engine.withdraw(USDC, 1_000e6, p);
    }

    /// @dev The same block number at a later time: ignored too (the key holds the time, and
    ///      every heartbeat check of the push held at its own timestamp only).
    function test_Attack_CachedPriceAtALaterTimeIsIgnored() public {
        _openCarol();
        engine.pushPrices();
        vm.warp(block.timestamp + 1);
        ethFeed.updateAnswer(int256(MOVED_ETH));
        IPortfolioEngine.Proof memory p = _proof("carolWithdraw");
        vm.prank(CAROL);
        vm.expectRevert(IPortfolioEngine.PortfolioEngine__InvalidProof.selector);
        engine.withdraw(USDC, 1_000e6, p);
    }

    /// @dev A margin proof at the cached price in a later block (it would reset Carol's
    ///      proof clock and clear nothing a flag could then catch): refused the same way.
    function test_Attack_ProveAtCachedPriceInALaterBlock() public {
        _openCarol();
        engine.pushPrices();
        vm.roll(block.number + 1);
        ethFeed.updateAnswer(int256(MOVED_ETH));
        IPortfolioEngine.Proof memory p = _proof("carolProve");
        vm.prank(CAROL);
        vm.expectRevert(IPortfolioEngine.PortfolioEngine__InvalidProof.selector);
        engine.proveMargin(p);
    }

    /// @dev A feed the adapter refuses (stale) refuses the push with the adapter's error.
    function test_RevertIf_PushWithAStaleFeed() public {
        _openCarol();
        vm.warp(T0 + HEARTBEAT + 1);
        vm.roll(block.number + 1);
        _bump(ethFeed);
        _bump(btcFeed);
        _bump(wethFeed); // USDC/USD is left stale
        vm.expectRevert(
            abi.encodeWithSelector(IOracleAdapter.OracleAdapter__StalePrice.selector, address(usdcFeed), T0, HEARTBEAT)
        );
        engine.pushPrices();
    }

    // ================================================================== the cache in use

    /// @dev In the block of a push, open, prove and withdraw never call the adapter (neither
    ///      for prices nor for the clock), and accept the proofs of the adapter path.
    function test_SameBlock_FlowReadsTheCache() public {
        _publish(_words());
        _deposit(CAROL, USDC, CAROL_USDC);
        engine.pushPrices();
        _expectAdapter(GET_PRICE, 0);
        _expectAdapter(LAST_UPDATE, 0);
        vm.startPrank(CAROL);
        engine.open(_fixtureUint(".book.commitment"), _proof("carolOpen"));
        engine.proveMargin(_proof("carolProve"));
        vm.stopPrank();
        assertEq(engine.account(CAROL).nonce, 2);
    }

    function test_SameBlock_WithdrawReadsTheCache() public {
        _openCarol();
        engine.pushPrices();
        IPortfolioEngine.Proof memory p = _proof("carolWithdraw");
        _expectAdapter(GET_PRICE, 0);
        vm.prank(CAROL);
        engine.withdraw(USDC, 1_000e6, p);
        assertEq(engine.balanceOf(CAROL, USDC), CAROL_USDC - 1_000e6);
    }

    /// @dev The cache and the adapter give the same public inputs (the fixture's).
    function test_SameBlock_InputsMatchTheAdapterPath() public {
        _openCarol();
        uint256[8] memory before = engine.publicInputs(CAROL, 0, 0, 0);
        engine.pushPrices();
        uint256[8] memory cached = engine.publicInputs(CAROL, 0, 0, 0);
        uint256[8] memory want = _proofInputs("carolProve");
        for (uint256 i = 0; i < 8; ++i) {
            assertEq(cached[i], before[i], "cache vs adapter");
            assertEq(cached[i], want[i], "cache vs fixture");
        }
    }

    /// @dev A round after the push in the same block: the cache still holds the pushed price,
    ///      the adapter's at this very timestamp. A proof accepted at it leaves the engine as if
    ///      it had been ordered before the round (same inputs, time and storage), which any
    ///      block producer may do without a cache; the keeper can still flag in this block
    ///      (flag reads the adapter).
    function test_SameBlock_RoundAfterPush_FlagStillSeesTheNewPrice() public {
        _openCarol();
        engine.pushPrices();
        ethFeed.updateAnswer(int256(MOVED_ETH)); // same block, same time
        vm.prank(CAROL);
        engine.proveMargin(_proof("carolProve")); // at the pushed 2,000
        assertTrue(engine.flaggable(CAROL));
        vm.prank(keeper);
        engine.flag(CAROL);
        assertEq(engine.account(CAROL).shockAt, T0);
    }

    function test_SameBlock_SecondPushReplacesTheCache() public {
        _openCarol();
        engine.pushPrices();
        ethFeed.updateAnswer(int256(MOVED_ETH));
        engine.pushPrices();
        IPortfolioEngine.Proof memory p = _proof("carolWithdraw");
        vm.prank(CAROL);
        vm.expectRevert(IPortfolioEngine.PortfolioEngine__InvalidProof.selector);
        engine.withdraw(USDC, 1_000e6, p);
    }

    /// @dev flag never reads the cache: a push at 2,000, a round at 2,200 in the same block,
    ///      and the flag sees 2,200 (it reads every listed feed).
    function test_FlagIgnoresTheCache() public {
        _openCarol();
        engine.pushPrices();
        ethFeed.updateAnswer(int256(MOVED_ETH));
        _expectAdapter(GET_PRICE, LISTED_FEEDS);
        vm.prank(keeper);
        engine.flag(CAROL);
        assertEq(engine.account(CAROL).shockAt, T0);
    }

    /// @dev A publication clears the cache (a listing, which a publication must follow, adds
    ///      a slot the push has no price for): the next proof reads the adapter.
    function test_PublicationClearsTheCache() public {
        _openCarol();
        engine.pushPrices();
        _publish(_words()); // epoch 2, the same words (the same risk commitment)
        _expectAdapter(GET_PRICE, LISTED_FEEDS);
        vm.prank(CAROL);
        engine.proveMargin(_proof("carolProve"));
        assertEq(engine.account(CAROL).epoch, 2);
    }

    /// @dev Without a push in this block, proofs read the adapter (the previous block's push
    ///      is ignored even when no price moved).
    function test_NextBlock_ReadsTheAdapter() public {
        _openCarol();
        engine.pushPrices();
        vm.roll(block.number + 1);
        _expectAdapter(GET_PRICE, LISTED_FEEDS);
        vm.prank(CAROL);
        engine.proveMargin(_proof("carolProve"));
        assertEq(engine.account(CAROL).nonce, 2);
    }

    // ================================================================== the proof clock

    /// @dev With no outage counted, a proof reads each feed once, for its price: not again
    ///      for the clock (the price read refuses a stale feed, so the clock is current).
    function test_ProofReadsNoUpdateTimesWithoutAnOutage() public {
        _openCarol();
        vm.warp(T0 + 1 hours);
        _refreshFeeds();
        _expectAdapter(LAST_UPDATE, 0);
        _expectAdapter(GET_PRICE, LISTED_FEEDS);
        vm.prank(CAROL);
        engine.proveMargin(_proof("carolProve"));
        assertEq(engine.account(CAROL).provenAt, T0 + 1 hours);
    }

    /// @dev With an outage counted, the proof's clock scans the feeds and ends it: the proof
    ///      time is on the live clock (the outage's 30 minutes taken out).
    function test_ProofEndsACountedOutage() public {
        _openCarol();
        vm.warp(T0 + HEARTBEAT + 30 minutes);
        engine.pokeStale(); // the outage began at T0 + HEARTBEAT + 1
        _refreshFeeds();
        _expectAdapter(LAST_UPDATE, LISTED_FEEDS);
        vm.prank(CAROL);
        engine.proveMargin(_proof("carolProve"));
        assertEq(engine.account(CAROL).provenAt, T0 + HEARTBEAT + 1);
    }
}
