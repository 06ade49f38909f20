// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IMarginEngine} from "../src/engine/IMarginEngine.sol";
import {IOracleAdapter} from "../src/oracle/IOracleAdapter.sol";
import {MockAggregator} from "../src/mocks/MockAggregator.sol";
import {MarginEngineBase} from "./utils/MarginEngineBase.sol";

/// @dev forge's expectCall with a call count (not in the project's minimal Vm interface).
interface VmCalls {
    function expectCall(address callee, bytes calldata data, uint64 count) external;
}

/// @dev The price cache ({IMarginEngine-pushPrices}): proofs in the block of a push read
///      it instead of the adapter; nothing else does, and no proof in a later block (or at
///      a later time) does. The attacks first: a withdrawal or a margin proof at a cached
///      price the oracle has since moved away from.
contract MarginEngineCacheTest is MarginEngineBase {
    bytes4 internal constant GET_PRICES = IOracleAdapter.getPrices.selector;

    /// @dev The next call reads the adapter's getPrices exactly `count` times.
    function _expectAdapterReads(uint64 count) internal {
        VmCalls(address(vm)).expectCall(address(oracle), abi.encodeWithSelector(GET_PRICES), count);
    }

    // ================================================================== attacks

    /// @dev Alice's withdrawal proof is priced at ETH 2,000. A push caches 2,000; in the
    ///      next block ETH is 1,800. A withdrawal at the cached (stale, high) price would
    ///      take collateral the account no longer covers: the engine reads the adapter
    ///      (1,800), so the proof does not verify.
    function test_Attack_WithdrawAtCachedPriceInALaterBlock() public {
        _openAlice();
        engine.pushPrices();
        vm.roll(block.number + 1);
        _setPrice(ethFeed, SHOCK_ETH_PRICE);
        assertEq(engine.publicInputs(ALICE, false, USDC, ALICE_WITHDRAW)[1] & type(uint64).max, SHOCK_ETH_PRICE);
        IMarginEngine.Proof memory p = _proof("aliceWithdraw");
        _expectAdapterReads(1);
        vm.prank(ALICE);
        vm.expectRevert(IMarginEngine.MarginEngine__InvalidProof.selector);
        engine.withdraw(USDC, ALICE_WITHDRAW, p);
    }

    /// @dev The same in the same block number at a later time (a chain whose blocks share
    ///      a number cannot do this, but the key holds the time too: every heartbeat check
    ///      of the push is only valid at its own timestamp).
    function test_Attack_CachedPriceAtALaterTimeIsIgnored() public {
        _openAlice();
        engine.pushPrices();
        vm.warp(block.timestamp + 1);
        _setPrice(ethFeed, SHOCK_ETH_PRICE);
        vm.prank(ALICE);
        vm.expectRevert(IMarginEngine.MarginEngine__InvalidProof.selector);
        engine.withdraw(USDC, ALICE_WITHDRAW, _proof("aliceWithdraw"));
    }

    /// @dev A cross margin proof at the cached price in a later block: refused the same way
    ///      (the cache would have let Bob reset his proof clock at prices that are gone).
    function test_Attack_ProveAtCachedPriceInALaterBlock() public {
        _openBob();
        engine.pushPrices();
        vm.roll(block.number + 1);
        _setPrice(btcFeed, BTC_PRICE + 1);
        vm.prank(BOB);
        vm.expectRevert(IMarginEngine.MarginEngine__InvalidProof.selector);
        engine.proveMargin(_proof("bobProve"));
    }

    /// @dev A feed the adapter refuses (stale) refuses the push with the adapter's error;
    ///      nothing is cached, and a proof then reads the adapter (and fails the same way).
    function test_RevertIf_PushWithAStaleFeed() public {
        _openAlice();
        vm.warp(block.timestamp + HEARTBEAT + 1);
        vm.roll(block.number + 1);
        _refresh(ethFeed);
        _refresh(btcFeed);
        _refresh(wethFeed); // USDC/USD is left stale
        (,,, uint256 updatedAt,) = usdcFeed.latestRoundData();
        vm.expectRevert(
            abi.encodeWithSelector(
                IOracleAdapter.OracleAdapter__StalePrice.selector, address(usdcFeed), updatedAt, HEARTBEAT
            )
        );
        engine.pushPrices();
    }

    // ================================================================== the cache in use

    /// @dev In the block of a push, open, prove and withdraw never call the adapter, and
    ///      accept the same proofs as the adapter path (same inputs).
    function test_SameBlock_IsolatedFlowReadsTheCache() public {
        _deposit(ALICE, USDC, ALICE_USDC);
        engine.pushPrices();
        _expectAdapterReads(0);
        vm.startPrank(ALICE);
        engine.openIsolated(_commitment("aliceOpen"), ETH, USDC, _proof("aliceOpen"));
        engine.withdraw(USDC, ALICE_WITHDRAW, _proof("aliceWithdraw"));
        vm.stopPrank();
        assertEq(engine.account(ALICE).nonce, 2);
    }

    function test_SameBlock_CrossFlowReadsTheCache() public {
        _deposit(BOB, USDC, BOB_USDC);
        _deposit(BOB, WETH, BOB_WETH);
        engine.pushPrices();
        _expectAdapterReads(0);
        vm.startPrank(BOB);
        engine.openCross(_commitment("bobOpen"), _proof("bobOpen"));
        engine.proveMargin(_proof("bobProve"));
        vm.stopPrank();
        IMarginEngine.Account memory a = engine.account(BOB);
        assertEq(a.nonce, 2);
        // unlisted market slots 2 and 3 are stored as 0 from the cache too
        assertEq(a.provenPriceWords[0], ETH_PRICE | (BTC_PRICE << 64));
        assertEq(a.provenPriceWords[1], (USDC_PRICE << 64) | (WETH_PRICE << 128));
    }

    /// @dev The cache and the adapter give the same public inputs (cross and isolated).
    function test_SameBlock_InputsMatchTheAdapterPath() public {
        _openBob();
        _openAlice();
        uint256[] memory bobBefore = engine.publicInputs(BOB, false, 0, 0);
        uint256[] memory aliceBefore = engine.publicInputs(ALICE, false, USDC, ALICE_WITHDRAW);
        engine.pushPrices();
        _assertInputs(engine.publicInputs(BOB, false, 0, 0), bobBefore, "cross");
        _assertInputs(engine.publicInputs(ALICE, false, USDC, ALICE_WITHDRAW), aliceBefore, "isolated");
        _assertInputs(bobBefore, _inputs("bobProve"), "cross fixture");
    }

    /// @dev An oracle round after the push in the same block: the cache still holds the
    ///      pushed price. This is the price the adapter gave at this very timestamp; a
    ///      proof accepted at it leaves the engine exactly as if it had been ordered before
    ///      the round in this block (the same inputs, time and storage), which any block
    ///      producer may do without a cache. What must not be lost, is not: the keeper
    ///      can flag in the same block (flagShock reads the adapter), and a second push
    ///      replaces the cached price at once.
    function test_SameBlock_RoundAfterPush_FlagStillSeesTheNewPrice() public {
        _openBob();
        engine.pushPrices();
        _setPrice(ethFeed, SHOCK_ETH_PRICE); // same block, same time
        vm.prank(BOB);
        engine.proveMargin(_proof("bobProve")); // at the pushed 2,000, as if ordered before the round
        vm.prank(keeper);
        engine.flagShock(BOB); // the adapter's 1,800 left the set proven at 2,000
        assertGt(engine.account(BOB).shockAt, 0);
    }

    function test_SameBlock_SecondPushReplacesTheCache() public {
        _openAlice();
        engine.pushPrices();
        _setPrice(ethFeed, SHOCK_ETH_PRICE);
        engine.pushPrices();
        vm.prank(ALICE);
        vm.expectRevert(IMarginEngine.MarginEngine__InvalidProof.selector);
        engine.withdraw(USDC, ALICE_WITHDRAW, _proof("aliceWithdraw"));
    }

    /// @dev flagShock never reads the cache: a push at 2,000, a round at 1,800 in the same
    ///      block, and the flag sees 1,800.
    function test_FlagShockIgnoresTheCache() public {
        _openAlice();
        engine.pushPrices();
        _setPrice(ethFeed, SHOCK_ETH_PRICE);
        assertTrue(engine.flaggable(ALICE));
        _expectAdapterReads(1);
        vm.prank(keeper);
        engine.flagShock(ALICE);
    }

    /// @dev Listing a market clears the cache (a push before it has no price for the new
    ///      slot): the next proof reads the adapter.
    function test_ListingClearsTheCache() public {
        _openAlice();
        engine.pushPrices();
        MockAggregator solFeed = new MockAggregator(8, 150e8, "SOL / USD");
        vm.startPrank(owner);
        oracle.setFeed(address(solFeed), HEARTBEAT);
        engine.listMarket(address(solFeed), 500, 1000);
        vm.stopPrank();
        _expectAdapterReads(1);
        vm.prank(ALICE);
        engine.proveMargin(_proof("aliceProve"));
    }

    /// @dev Without a push in this block, proofs read the adapter (the previous block's
    ///      push is ignored even when no price moved).
    function test_NextBlock_ReadsTheAdapter() public {
        _openAlice();
        engine.pushPrices();
        vm.roll(block.number + 1);
        _expectAdapterReads(1);
        vm.prank(ALICE);
        engine.proveMargin(_proof("aliceProve"));
    }
}
