// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IMarginEngine} from "../src/engine/IMarginEngine.sol";
import {IOracleAdapter} from "../src/oracle/IOracleAdapter.sol";
import {MarginEngineBase} from "./utils/MarginEngineBase.sol";

/// @dev Shock flags at the edge of the proven move set shrunk by the penalty (ETH MMR 5%,
///      BTC 4%, USDC haircut 1%, WETH 10%, penalty 2.5%: the shrunk set is ETH ±4.875%,
///      BTC ±3.9%, USDC −0.975%, WETH −9.75%), the liquidation rule (lifetime, grace), the seizure
///      split, and races between proofs and liquidations. The fuzz tests (below, in their
///      own contract) check the boundaries of each rule against the rule written out there.
contract MarginEngineLiquidationTest is MarginEngineBase {
    // ================================================================== helpers

    function _liquidatableNow(address who) internal view returns (bool now_) {
        (now_,) = engine.liquidatable(who);
    }

    function _flagAliceShock() internal {
        _setPrice(ethFeed, SHOCK_ETH_PRICE);
        vm.prank(keeper);
        engine.flagShock(ALICE);
    }

    // ================================================================== lifetime

    function test_Liquidatable_ExactlyAfterTheLifetime() public {
        _openAlice();
        (bool now_, uint64 at) = engine.liquidatable(ALICE);
        assertFalse(now_);
        assertEq(uint256(at), T0 + LIFETIME + 1);
        vm.warp(T0 + LIFETIME);
        _refreshFeeds(); // keep the feeds live: stale time stops the clocks
        assertFalse(_liquidatableNow(ALICE));
        vm.expectRevert(abi.encodeWithSelector(IMarginEngine.MarginEngine__NotLiquidatable.selector, ALICE));
        vm.prank(keeper);
        engine.liquidate(ALICE);
        vm.warp(T0 + LIFETIME + 1);
        _refreshFeeds(); // keep the feeds live: stale time stops the clocks
        assertTrue(_liquidatableNow(ALICE));
        vm.prank(keeper);
        engine.liquidate(ALICE);
    }

    function test_Liquidate_SplitsPenaltyToLiquidatorAndRestToPool() public {
        _openAlice();
        vm.warp(T0 + LIFETIME + 1);
        _refreshFeeds(); // keep the feeds live: stale time stops the clocks
        uint256 reward = (ALICE_USDC * PENALTY) / 10_000; // 12.5 USDC
        vm.expectEmit(address(engine));
        emit IMarginEngine.Liquidated(ALICE, keeper, [reward, uint256(0)], [ALICE_USDC - reward, uint256(0)]);
        vm.prank(keeper);
        engine.liquidate(ALICE);

        assertEq(reward, 12.5e6);
        assertEq(usdc.balanceOf(keeper), reward);
        assertEq(_poolAssets(USDC), ALICE_USDC - reward);
        assertEq(usdcPool.accounts().penaltiesReceived, ALICE_USDC - reward);
        assertEq(engine.balanceOf(ALICE, USDC), 0);
        assertEq(usdc.balanceOf(address(engine)), 0, "everything left the engine");
        IMarginEngine.Account memory a = engine.account(ALICE);
        assertEq(uint256(a.kind), 0);
        assertEq(a.commitment, 0);
        assertEq(uint256(a.nonce), 1, "the nonce survives liquidation");
        (bool now_, uint64 at) = engine.liquidatable(ALICE);
        assertFalse(now_);
        assertEq(uint256(at), type(uint64).max);
    }

    function test_Liquidate_CrossSeizesBothAssets() public {
        _openBob();
        vm.warp(T0 + LIFETIME + 1);
        _refreshFeeds(); // keep the feeds live: stale time stops the clocks
        uint256 r0 = (BOB_USDC * PENALTY) / 10_000;
        uint256 r1 = (BOB_WETH * PENALTY) / 10_000;
        vm.expectEmit(address(engine));
        emit IMarginEngine.Liquidated(BOB, keeper, [r0, r1], [BOB_USDC - r0, BOB_WETH - r1]);
        vm.prank(keeper);
        engine.liquidate(BOB);
        assertEq(usdc.balanceOf(keeper), r0);
        assertEq(weth.balanceOf(keeper), r1);
        assertEq(_poolAssets(USDC), BOB_USDC - r0);
        assertEq(_poolAssets(WETH), BOB_WETH - r1);
    }

    function test_Liquidate_SelfLiquidationPaysTheRestToThePool() public {
        _openAlice();
        vm.warp(T0 + LIFETIME + 1);
        _refreshFeeds(); // keep the feeds live: stale time stops the clocks
        vm.prank(ALICE);
        engine.liquidate(ALICE);
        assertEq(usdc.balanceOf(ALICE), (ALICE_USDC * PENALTY) / 10_000);
        assertEq(_poolAssets(USDC), ALICE_USDC - (ALICE_USDC * PENALTY) / 10_000);
    }

    function test_RevertIf_LiquidateFreshAccount() public {
        _openAlice();
        vm.expectRevert(abi.encodeWithSelector(IMarginEngine.MarginEngine__NotLiquidatable.selector, ALICE));
        vm.prank(keeper);
        engine.liquidate(ALICE);
    }

    function test_RevertIf_LiquidateNoAccount() public {
        _deposit(ALICE, USDC, ALICE_USDC); // idle funds are never seized
        vm.expectRevert(abi.encodeWithSelector(IMarginEngine.MarginEngine__NoAccount.selector, ALICE));
        vm.prank(keeper);
        engine.liquidate(ALICE);
    }

    function test_RevertIf_LiquidateTwice() public {
        _openAlice();
        vm.warp(T0 + LIFETIME + 1);
        _refreshFeeds(); // keep the feeds live: stale time stops the clocks
        vm.prank(keeper);
        engine.liquidate(ALICE);
        vm.expectRevert(abi.encodeWithSelector(IMarginEngine.MarginEngine__NoAccount.selector, ALICE));
        vm.prank(keeper);
        engine.liquidate(ALICE);
    }

    /// @dev Lowering the lifetime or the grace period does not act on an accepted proof:
    ///      the account keeps the values in force when it proved, until its next proof.
    function test_Liquidatable_KeepsTheLifetimeOfItsProof() public {
        _openAlice();
        vm.warp(T0 + 2 hours);
        assertFalse(_liquidatableNow(ALICE));
        vm.startPrank(owner);
        engine.setProofLifetime(1 hours);
        engine.setGracePeriod(1 minutes);
        vm.stopPrank();
        assertFalse(_liquidatableNow(ALICE), "a lifetime change acted on an accepted proof");
        IMarginEngine.Account memory a = engine.account(ALICE);
        assertEq(uint256(a.lifetime), LIFETIME);
        assertEq(uint256(a.grace), GRACE);
        _refreshFeeds();
        _flagAliceShock();
        (, uint64 at) = engine.liquidatable(ALICE);
        assertEq(uint256(at), T0 + 2 hours + GRACE + 1, "the grace of the proof, not the new one");
        // the next proof takes the new values
        vm.warp(T0 + 2 hours + 10 minutes);
        _refreshFeeds();
        vm.prank(ALICE);
        engine.proveMargin(_proof("aliceProveShock"));
        a = engine.account(ALICE);
        assertEq(uint256(a.lifetime), 1 hours);
        assertEq(uint256(a.grace), 1 minutes);
        (, at) = engine.liquidatable(ALICE);
        assertEq(uint256(at), T0 + 2 hours + 10 minutes + 1 hours + 1);
    }

    /// @dev Raising a market's MMR does not widen the move set of an accepted proof: the
    ///      flag rule keeps the MMR the account proved under.
    function test_FlagShock_UsesTheRatesOfTheProof() public {
        _openAlice();
        vm.prank(owner);
        engine.setMarketRisk(ETH, 2_000, 2_000); // 20%: a 10% move would be inside it
        _flagAliceShock(); // -10%: outside the proven 5% (shrunk 4.875%)
    }

    // ================================================================== shocks

    function test_FlagShock_MarksTheAccountAndEmits() public {
        _openAlice();
        vm.warp(T0 + 10 minutes);
        _refreshFeeds();
        _setPrice(ethFeed, SHOCK_ETH_PRICE);
        vm.expectEmit(address(engine));
        emit IMarginEngine.ShockFlagged(ALICE, keeper, _u64(T0 + 10 minutes));
        vm.prank(keeper);
        engine.flagShock(ALICE);
        assertEq(uint256(engine.account(ALICE).shockAt), T0 + 10 minutes);
        (bool now_, uint64 at) = engine.liquidatable(ALICE);
        assertFalse(now_);
        assertEq(uint256(at), T0 + 10 minutes + GRACE + 1);
    }

    function test_FlagShock_UpwardMoveCounts() public {
        _openAlice();
        ethFeed.updateAnswer(2_097.5e8 + 1); // just over +4.875%
        vm.expectEmit(address(engine));
        emit IMarginEngine.MoveSetLeft(ALICE, 0, _u64(ETH_PRICE), _u64(2_097.5e8 + 1));
        vm.prank(keeper);
        engine.flagShock(ALICE);
    }

    function test_FlagShock_CollateralPriceDrop() public {
        _openBob();
        wethFeed.updateAnswer(2_500e8); // a rise of the collateral only adds equity
        assertFalse(engine.flaggable(BOB));
        wethFeed.updateAnswer(1_805e8); // exactly -9.75%: inside
        assertFalse(engine.flaggable(BOB));
        vm.expectRevert(abi.encodeWithSelector(IMarginEngine.MarginEngine__InsideProvenSet.selector, BOB));
        vm.prank(keeper);
        engine.flagShock(BOB);
        wethFeed.updateAnswer(1_805e8 - 1);
        assertTrue(engine.flaggable(BOB));
        vm.prank(keeper);
        engine.flagShock(BOB);
        assertEq(uint256(engine.account(BOB).shockAt), T0);
    }

    function test_FlagShock_UsdcDropPastItsHaircut() public {
        _openBob();
        usdcFeed.updateAnswer(0.99025e8); // exactly -0.975%
        assertFalse(engine.flaggable(BOB));
        usdcFeed.updateAnswer(0.99025e8 - 1);
        vm.prank(keeper);
        engine.flagShock(BOB);
    }

    function test_FlagShock_SecondCrossMarket() public {
        _openBob();
        btcFeed.updateAnswer(62_340e8); // exactly +3.9%: inside
        assertFalse(engine.flaggable(BOB));
        btcFeed.updateAnswer(62_340e8 + 1);
        vm.prank(keeper);
        engine.flagShock(BOB);
    }

    /// @dev An isolated account depends on its own market and asset only.
    function test_RevertIf_FlagShockOnAnotherMarket() public {
        _openAlice();
        btcFeed.updateAnswer(30_000e8); // -50% on BTC: Alice has no BTC slot
        vm.expectRevert(abi.encodeWithSelector(IMarginEngine.MarginEngine__InsideProvenSet.selector, ALICE));
        vm.prank(keeper);
        engine.flagShock(ALICE);
    }

    function test_RevertIf_FlagShockAtExactlyTheEdge() public {
        _openAlice();
        ethFeed.updateAnswer(1_902.5e8); // exactly -4.875%: inside the shrunk set
        vm.expectRevert(abi.encodeWithSelector(IMarginEngine.MarginEngine__InsideProvenSet.selector, ALICE));
        vm.prank(keeper);
        engine.flagShock(ALICE);
        ethFeed.updateAnswer(2_097.5e8); // exactly +4.875%
        vm.expectRevert(abi.encodeWithSelector(IMarginEngine.MarginEngine__InsideProvenSet.selector, ALICE));
        vm.prank(keeper);
        engine.flagShock(ALICE);
        ethFeed.updateAnswer(1_902.5e8 - 1); // one unit past it
        vm.prank(keeper);
        engine.flagShock(ALICE);
    }

    /// @dev A larger penalty shrinks the set at once (the payout it must cover grew).
    function test_FlagShock_PenaltyShrinksTheSet() public {
        _openAlice();
        ethFeed.updateAnswer(1_910e8); // -4.5%: inside 5% x (1 - 2.5%)
        assertFalse(engine.flaggable(ALICE));
        vm.prank(owner);
        engine.setLiquidationPenalty(2_000); // 5% x (1 - 20%) = 4%
        assertTrue(engine.flaggable(ALICE));
        vm.prank(keeper);
        engine.flagShock(ALICE);
    }

    function test_RevertIf_FlagShockTwice() public {
        _openAlice();
        _flagAliceShock();
        assertFalse(engine.flaggable(ALICE));
        vm.expectRevert(abi.encodeWithSelector(IMarginEngine.MarginEngine__ShockPending.selector, ALICE));
        vm.prank(keeper);
        engine.flagShock(ALICE);
    }

    function test_RevertIf_FlagShockNoAccount() public {
        vm.expectRevert(abi.encodeWithSelector(IMarginEngine.MarginEngine__NoAccount.selector, ALICE));
        vm.prank(keeper);
        engine.flagShock(ALICE);
    }

    /// @dev Slots unlisted when the account proved (stored as 0) never count as a shock.
    function test_RevertIf_FlagShockOnANewlyListedMarket() public {
        _openBob();
        assertEq(engine.account(BOB).provenPriceWords[0] >> 128, 0, "slot 2 stored as unlisted");
        vm.prank(owner);
        engine.listMarket(address(ethFeed), 100, 200); // slot 2: pad price 1 -> 2000
        vm.expectRevert(abi.encodeWithSelector(IMarginEngine.MarginEngine__InsideProvenSet.selector, BOB));
        vm.prank(keeper);
        engine.flagShock(BOB);
    }

    function test_RevertIf_FlagShockWithStaleOracle() public {
        _openAlice();
        vm.warp(T0 + HEARTBEAT + 1);
        vm.expectRevert(
            abi.encodeWithSelector(IOracleAdapter.OracleAdapter__StalePrice.selector, address(ethFeed), T0, HEARTBEAT)
        );
        vm.prank(keeper);
        engine.flagShock(ALICE);
    }

    // ================================================================== grace period

    function test_RevertIf_LiquidateDuringGrace() public {
        _openAlice();
        _flagAliceShock();
        vm.warp(T0 + GRACE);
        vm.expectRevert(abi.encodeWithSelector(IMarginEngine.MarginEngine__NotLiquidatable.selector, ALICE));
        vm.prank(keeper);
        engine.liquidate(ALICE);
        vm.warp(T0 + GRACE + 1);
        _refreshFeeds(); // liquidation reads the prices it records (docs/protocol.md)
        vm.prank(keeper);
        engine.liquidate(ALICE);
    }

    function test_ProofDuringGraceClearsTheShock() public {
        _openAlice();
        _flagAliceShock();
        vm.warp(T0 + GRACE); // last second of the grace period
        _refreshFeeds();
        vm.prank(ALICE);
        engine.proveMargin(_proof("aliceProveShock")); // MMR at 1800
        IMarginEngine.Account memory a = engine.account(ALICE);
        assertEq(uint256(a.shockAt), 0);
        assertEq(a.provenPriceWords[0], SHOCK_ETH_PRICE | (USDC_PRICE << 64));
        vm.warp(T0 + GRACE + 1);
        assertFalse(_liquidatableNow(ALICE));
        // the new proven price is the reference now: 1800 is no shock, -5.1% from it is
        _refreshFeeds();
        vm.expectRevert(abi.encodeWithSelector(IMarginEngine.MarginEngine__InsideProvenSet.selector, ALICE));
        vm.prank(keeper);
        engine.flagShock(ALICE);
        ethFeed.updateAnswer(1_708e8);
        vm.prank(keeper);
        engine.flagShock(ALICE);
    }

    /// @dev A shock flagged near the end of the lifetime does not extend it.
    function test_Liquidatable_LifetimeBeforeGraceEnds() public {
        _openAlice();
        vm.warp(T0 + LIFETIME - 10);
        _refreshFeeds();
        _flagAliceShock();
        (, uint64 at) = engine.liquidatable(ALICE);
        assertEq(uint256(at), T0 + LIFETIME + 1);
    }

    // ================================================================== races in one block

    function test_SameBlock_ProofThenLiquidation() public {
        _openAlice();
        vm.warp(T0 + LIFETIME + 1);
        _refreshFeeds();
        assertTrue(_liquidatableNow(ALICE));
        vm.prank(ALICE);
        engine.proveMargin(_proof("aliceProve"));
        vm.expectRevert(abi.encodeWithSelector(IMarginEngine.MarginEngine__NotLiquidatable.selector, ALICE));
        vm.prank(keeper);
        engine.liquidate(ALICE);
    }

    function test_SameBlock_LiquidationThenProof() public {
        _openAlice();
        vm.warp(T0 + LIFETIME + 1);
        _refreshFeeds();
        vm.prank(keeper);
        engine.liquidate(ALICE);
        vm.expectRevert(abi.encodeWithSelector(IMarginEngine.MarginEngine__NoAccount.selector, ALICE));
        vm.prank(ALICE);
        engine.proveMargin(_proof("aliceProve"));
    }

    function test_SameBlock_ShockProofThenLiquidation() public {
        _openAlice();
        _flagAliceShock();
        vm.warp(T0 + GRACE + 1);
        _refreshFeeds();
        vm.prank(ALICE);
        engine.proveMargin(_proof("aliceProveShock"));
        vm.expectRevert(abi.encodeWithSelector(IMarginEngine.MarginEngine__NotLiquidatable.selector, ALICE));
        vm.prank(keeper);
        engine.liquidate(ALICE);
    }

    function test_SameBlock_WithdrawProofThenLiquidation() public {
        _openAlice();
        vm.warp(T0 + LIFETIME + 1);
        _refreshFeeds();
        vm.prank(ALICE);
        engine.withdraw(USDC, ALICE_WITHDRAW, _proof("aliceWithdraw"));
        assertFalse(_liquidatableNow(ALICE));
    }

    /// @dev A solvent account that keeps proving is never liquidatable: proving within each
    ///      lifetime (here: proof at T0 and T0 + LIFETIME) leaves no liquidatable second.
    function test_ProvingInTimeIsNeverLiquidatable() public {
        _openAlice();
        for (uint256 t = T0; t <= T0 + LIFETIME; t += 1 hours) {
            vm.warp(t);
            _refreshFeeds(); // keep the feeds live: stale time stops the clocks
            assertFalse(_liquidatableNow(ALICE));
        }
        _refreshFeeds();
        vm.prank(ALICE);
        engine.proveMargin(_proof("aliceProve"));
        for (uint256 t = T0 + LIFETIME; t <= T0 + 2 * LIFETIME; t += 1 hours) {
            vm.warp(t);
            _refreshFeeds(); // keep the feeds live: stale time stops the clocks
            assertFalse(_liquidatableNow(ALICE));
        }
        vm.warp(T0 + 2 * LIFETIME + 1);
        _refreshFeeds(); // keep the feeds live: stale time stops the clocks
        assertTrue(_liquidatableNow(ALICE));
    }
}

/// @dev The fuzz half: Alice and Bob are opened once in setUp (real proofs), and every
///      fuzz run starts from that state, so no run pays for a proof verification.
contract MarginEngineLiquidationFuzzTest is MarginEngineBase {
    function setUp() public override {
        super.setUp();
        _openAlice();
        _openBob();
    }

    /// @dev The liquidation rule of docs/protocol.md, written independently of the engine.
    function _rule(uint256 provenAt, uint256 shockAt, uint256 t) internal pure returns (bool) {
        return t > provenAt + LIFETIME || (shockAt != 0 && t > shockAt + GRACE);
    }

    function _liquidatableNow(address who) internal view returns (bool now_) {
        (now_,) = engine.liquidatable(who);
    }

    /// @dev Calls liquidate and reports whether it succeeded (state is kept on success).
    function _tryLiquidate(address who) internal returns (bool ok) {
        vm.prank(keeper);
        try engine.liquidate(who) {
            ok = true;
        } catch (bytes memory reason) {
            assertEq(
                reason,
                abi.encodeWithSelector(IMarginEngine.MarginEngine__NotLiquidatable.selector, who),
                "liquidate failed for another reason"
            );
        }
    }

    function _flagAliceShock() internal {
        _setPrice(ethFeed, SHOCK_ETH_PRICE);
        vm.prank(keeper);
        engine.flagShock(ALICE);
    }

    // ================================================================== fuzz: the rules

    function testFuzz_LifetimeBoundary(uint256 dt) public {
        dt = bound(dt, 0, 3 * LIFETIME);
        vm.warp(T0 + dt);
        _refreshFeeds(); // keep the feeds live: stale time stops the clocks
        bool expected = _rule(T0, 0, T0 + dt);
        assertEq(expected, dt > LIFETIME);
        (bool now_, uint64 at) = engine.liquidatable(ALICE);
        assertEq(now_, expected);
        assertEq(uint256(at), T0 + LIFETIME + 1);
        assertEq(_tryLiquidate(ALICE), expected);
    }

    function testFuzz_GraceBoundary(uint256 flagDelay, uint256 dt) public {
        flagDelay = bound(flagDelay, 0, LIFETIME);
        dt = bound(dt, 0, 2 * GRACE);
        vm.warp(T0 + flagDelay);
        _refreshFeeds();
        _flagAliceShock();
        uint256 shockAt = T0 + flagDelay;
        vm.warp(shockAt + dt);
        _refreshFeeds(); // fresh: no outage shifts the clocks, and liquidation reads prices
        bool expected = _rule(T0, shockAt, shockAt + dt);
        assertEq(_liquidatableNow(ALICE), expected);
        (, uint64 at) = engine.liquidatable(ALICE);
        uint256 first = shockAt + GRACE + 1 < T0 + LIFETIME + 1 ? shockAt + GRACE + 1 : T0 + LIFETIME + 1;
        assertEq(uint256(at), first);
        assertEq(_tryLiquidate(ALICE), expected);
    }

    /// @dev The flag rule written out: a move of strictly more than MMR x (1 - penalty)
    ///      of the proven price, exact integer arithmetic.
    function testFuzz_MoveSetBoundary(uint16 penalty, uint256 price) public {
        penalty = uint16(bound(penalty, 0, 2_500));
        price = bound(price, 1, type(uint64).max);
        vm.prank(owner);
        engine.setLiquidationPenalty(penalty);
        _setPrice(ethFeed, price);
        uint256 delta = price > ETH_PRICE ? price - ETH_PRICE : ETH_PRICE - price;
        bool expected = delta * 1e8 > uint256(ETH_MMR) * (10_000 - penalty) * ETH_PRICE;
        assertEq(engine.flaggable(ALICE), expected);
        vm.prank(keeper);
        try engine.flagShock(ALICE) {
            assertTrue(expected, "flagged inside the shrunk set");
            assertEq(uint256(engine.account(ALICE).shockAt), T0);
        } catch (bytes memory reason) {
            assertFalse(expected, "a move out of the set was not flagged");
            assertEq(reason, abi.encodeWithSelector(IMarginEngine.MarginEngine__InsideProvenSet.selector, ALICE));
        }
    }

    /// @dev The same rule right at the edge: prices within one unit of P0 * (1 ± r(1 - pen)).
    function testFuzz_MoveSetEdge(uint16 penalty, bool up, uint8 offset) public {
        penalty = uint16(bound(penalty, 0, 2_500));
        uint8 k = offset % 3; // price offset from the edge: k - 1 in {-1, 0, +1}
        vm.prank(owner);
        engine.setLiquidationPenalty(penalty);
        // exact: BTC_PRICE * 400 is a multiple of 1e8
        uint256 edge = (BTC_PRICE * BTC_MMR * (10_000 - penalty)) / 1e8;
        uint256 price = (up ? BTC_PRICE + edge : BTC_PRICE - edge) + k - 1;
        _setPrice(btcFeed, price);
        bool expected = up ? k == 2 : k == 0;
        vm.prank(keeper);
        try engine.flagShock(BOB) {
            assertTrue(expected, "flagged at or inside the edge");
        } catch {
            assertFalse(expected, "not flagged beyond the edge");
        }
    }

    // ================================================================== fuzz: the split

    function testFuzz_LiquidationSplitConservesUnits(uint256 extra, uint16 penalty, uint256 extraWeth) public {
        penalty = uint16(bound(penalty, 0, 2_500));
        extra = bound(extra, 0, ((uint256(1) << 96) - 1) / 1e12 - BOB_USDC);
        extraWeth = bound(extraWeth, 0, (uint256(1) << 96) - 1 - BOB_WETH);
        vm.prank(owner);
        engine.setLiquidationPenalty(penalty);
        if (extra != 0) _deposit(BOB, USDC, extra);
        if (extraWeth != 0) _deposit(BOB, WETH, extraWeth);
        _fundPool(USDC, 1); // pre-existing pool
        uint256[2] memory bal = [BOB_USDC + extra, BOB_WETH + extraWeth];
        uint256[2] memory engineBefore = [usdc.balanceOf(address(engine)), weth.balanceOf(address(engine))];

        vm.warp(T0 + LIFETIME + 1);
        _refreshFeeds(); // keep the feeds live: stale time stops the clocks
        vm.prank(keeper);
        engine.liquidate(BOB);

        for (uint8 c = 0; c < 2; ++c) {
            uint256 reward = (bal[c] * penalty) / 10_000;
            uint256 keeperGot = _asset(c).balanceOf(keeper);
            assertEq(keeperGot, reward, "reward = floor(balance * penalty)");
            assertEq(_poolAssets(c), (c == USDC ? 1 : 0) + bal[c] - reward, "the vault gets the rest");
            assertEq(engine.balanceOf(BOB, c), 0);
            assertEq(
                _asset(c).balanceOf(address(engine)) + keeperGot + _pool(c).accounts().penaltiesReceived,
                engineBefore[c],
                "no unit created or lost"
            );
        }
    }
}
