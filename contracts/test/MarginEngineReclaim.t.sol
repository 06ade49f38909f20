// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IMarginEngine} from "../src/engine/IMarginEngine.sol";
import {IOracleAdapter} from "../src/oracle/IOracleAdapter.sol";
import {Vm} from "./utils/Vm.sol";
import {MarginEngineBase} from "./utils/MarginEngineBase.sol";

/// @dev Fair liquidation (issue 11): the keeper keeps the penalty share; the liquidated
///      trader may reveal the positions within RECLAIM_WINDOW to get back the equity left
///      above the penalty at the liquidation prices (less the close fee); unreclaimed, the
///      vault keeps it. Self-liquidation from a second address must not pay more than
///      closing at the same prices.
///      Alice: isolated long 1 ETH at 2000 on 500 USDC (penalty 2.5%: 12.5 USDC).
contract MarginEngineReclaimTest is MarginEngineBase {
    uint16 internal constant FEE_BPS = 50;
    address internal alice2;

    function setUp() public override {
        super.setUp();
        alice2 = makeAddr("alice's second address");
        _fundPool(USDC, 100_000e6);
        _fundPool(WETH, 100e18);
        vm.startPrank(owner);
        engine.setCloseFee(ETH, FEE_BPS);
        engine.setCloseFee(BTC, FEE_BPS);
        vm.stopPrank();
    }

    /// @dev Liquidates `who` (lapsed) at ETH `ethP` from `by`; returns the record emitted.
    function _lapseAndLiquidate(address who, address by, uint256 ethP) internal returns (uint256[6] memory r) {
        vm.warp(T0 + LIFETIME + 1);
        _refreshFeeds();
        _setPrice(ethFeed, ethP);
        vm.recordLogs();
        vm.prank(by);
        engine.liquidate(who);
        Vm.Log[] memory logs = vm.getRecordedLogs();
        for (uint256 i = 0; i < logs.length; ++i) {
            if (logs[i].emitter == address(engine) && logs[i].topics[0] == IMarginEngine.LiquidationRecorded.selector) {
                return abi.decode(logs[i].data, (uint256[6]));
            }
        }
        fail("no LiquidationRecorded event");
    }

    function _reclaimAlice(uint256[6] memory r) internal {
        vm.prank(ALICE);
        engine.reclaim(1, r, _alicePositions(), _salt("alice"));
    }

    // ------------------------------------------------------------------ the record

    function test_Liquidate_RecordsWhatReclaimNeeds() public {
        _openAlice();
        uint256[6] memory r = _lapseAndLiquidate(ALICE, keeper, 2_100e8);
        uint256 reward = (ALICE_USDC * PENALTY) / 10_000;
        assertEq(r[0], _commitment("aliceOpen"), "commitment");
        assertEq(r[1] & 0xff, 1, "tag: isolated, market 0, asset 0");
        assertEq(r[1] >> 8, T0 + LIFETIME + 1 + engine.RECLAIM_WINDOW(), "deadline");
        assertEq(r[2], ALICE_USDC - reward, "escrowed USDC");
        assertEq(r[3], 2_100e8 | (USDC_PRICE << 64), "prices: ETH, USDC");
        assertEq(r[4], 0);
        assertEq(r[5], FEE_BPS, "fee of slot 0");
        assertEq(engine.liquidationOf(ALICE, 1), keccak256(abi.encode(r)));
        assertEq(_poolAssets(USDC), 100_000e6 + ALICE_USDC - reward, "the vault holds the escrow");
    }

    // ------------------------------------------------------------------ reclaim

    /// @dev ETH 2100: equity 600; the keeper keeps 12.5; Alice reclaims
    ///      487.5 + 100 - 10.5 (fee 0.5% of 2100) = 577 USDC from the vault.
    function test_Reclaim_PaysTheEquityAboveThePenalty() public {
        _openAlice();
        uint256[6] memory r = _lapseAndLiquidate(ALICE, keeper, 2_100e8);
        vm.expectEmit(address(engine));
        emit IMarginEngine.Reclaimed(ALICE, 1, _i(100e16), 10.5e16, 0, _two(577e6, 0));
        _reclaimAlice(r);
        assertEq(usdc.balanceOf(ALICE), 577e6);
        assertEq(usdc.balanceOf(keeper), 12.5e6);
        assertEq(_poolAssets(USDC), 100_000e6 - 100e6 + 10.5e6, "the vault paid the profit, kept the fee");
        assertEq(engine.liquidationOf(ALICE, 1), bytes32(0), "consumed");
    }

    /// @dev A loss is taken from the escrow: ETH 1800, equity 300: 487.5 - 200 - 10 (fee on
    ///      the 2000 entry notional) = 277.5.
    function test_Reclaim_AfterALoss() public {
        _openAlice();
        uint256[6] memory r = _lapseAndLiquidate(ALICE, keeper, 1_800e8);
        _reclaimAlice(r);
        assertEq(usdc.balanceOf(ALICE), 277.5e6);
        assertEq(_poolAssets(USDC), 100_000e6 + 200e6 + 10e6, "loss and fee stay in the vault");
    }

    /// @dev Below the penalty: ETH 1450, equity -50: nothing to reclaim; the uncovered
    ///      550 + 10 - 487.5 = 72.5 quote is recorded as bad debt in the vault.
    function test_Reclaim_UnderwaterRecordsBadDebt() public {
        _openAlice();
        uint256[6] memory r = _lapseAndLiquidate(ALICE, keeper, 1_450e8);
        vm.expectEmit(address(engine));
        emit IMarginEngine.Reclaimed(ALICE, 1, -_i(550e16), 10e16, 72.5e16, _two(0, 0));
        _reclaimAlice(r);
        assertEq(usdc.balanceOf(ALICE), 0);
        assertEq(usdcPool.accounts().badDebt, 72.5e6);
    }

    /// @dev Bob (cross): the escrow of both assets settles by collateral value, as a close.
    function test_Reclaim_Cross() public {
        _openBob();
        vm.warp(T0 + LIFETIME + 1);
        _refreshFeeds();
        vm.recordLogs();
        vm.prank(keeper);
        engine.liquidate(BOB);
        uint256[6] memory r;
        Vm.Log[] memory logs = vm.getRecordedLogs();
        for (uint256 i = 0; i < logs.length; ++i) {
            if (logs[i].topics[0] == IMarginEngine.LiquidationRecorded.selector) {
                r = abi.decode(logs[i].data, (uint256[6]));
            }
        }
        uint256 e0 = BOB_USDC - (BOB_USDC * PENALTY) / 10_000; // 975 USDC
        uint256 e1 = BOB_WETH - (BOB_WETH * PENALTY) / 10_000; // 0.4875 WETH
        assertEq(r[2], e0 | (e1 << 128));
        // PnL 0, fee 0.5% of (2 * 2000 + 0.1 * 60000) = 50, split 975 : 975 by value
        vm.prank(BOB);
        engine.reclaim(1, r, _bobPositions(), _salt("bob"));
        assertEq(usdc.balanceOf(BOB), e0 - 25e6);
        assertEq(weth.balanceOf(BOB), e1 - 0.0125e18);
    }

    /// @dev A short vault owes the reclaim as an IOU (never a revert): ETH at 200,000 makes
    ///      the reclaim 487.5 + 198,000 - 1,000 = 197,487.5 USDC against 100,487.5 held.
    function test_Reclaim_ShortVaultLeavesAnIou() public {
        _openAlice();
        uint256[6] memory r = _lapseAndLiquidate(ALICE, keeper, 200_000e8);
        _reclaimAlice(r);
        assertEq(usdc.balanceOf(ALICE), 100_487.5e6, "everything the vault held");
        assertEq(usdcPool.iouOf(ALICE), 97_000e6, "the rest is owed");
        assertEq(_poolAssets(USDC), 0);
    }

    // ------------------------------------------------------------------ self-liquidation

    /// @dev What Alice gets (tokens, IOU included, both her addresses) and what the USDC
    ///      vault holds and has recorded as bad debt.
    function _outcome() internal view returns (uint256 paid, uint256 vault, uint256 badDebt) {
        paid = usdc.balanceOf(ALICE) + usdcPool.iouOf(ALICE) + usdc.balanceOf(alice2);
        vault = _poolAssets(USDC);
        badDebt = usdcPool.accounts().badDebt;
    }

    /// @dev The moment Alice's account lapses (a keeper may liquidate it), at ETH `ethP`.
    function _lapseAt(uint256 ethP) internal {
        vm.warp(T0 + LIFETIME + 1);
        _refreshFeeds();
        _setPrice(ethFeed, ethP);
    }

    /// @dev Alice closes her lapsed account at ETH `ethP`.
    function _lapseAndClose(uint256 ethP) internal {
        _lapseAt(ethP);
        _closeAlice();
    }

    /// @dev The attack: at ETH 1450 (equity -50, below the 12.5 penalty) liquidating oneself
    ///      from a second address and reclaiming pays the 12.5 penalty; closing the lapsed
    ///      account pays the same 12.5 (the reward first, then the escrow 487.5 settles: a
    ///      550 loss and 10 fee leave 72.5 quote of bad debt), at the same cost to the vault.
    function test_SelfLiquidationUnderwater_ClosingPaysTheSame() public {
        _openAlice();
        uint256 reward = (ALICE_USDC * PENALTY) / 10_000;
        uint256 snap = vm.snapshotState();
        uint256[6] memory r = _lapseAndLiquidate(ALICE, alice2, 1_450e8);
        _reclaimAlice(r);
        (uint256 selfPaid, uint256 selfVault, uint256 selfBadDebt) = _outcome();
        assertEq(selfPaid, reward, "self-liquidation: the penalty");
        vm.revertToState(snap);

        _lapseAt(1_450e8);
        vm.expectEmit(address(engine));
        emit IMarginEngine.CloseRewarded(ALICE, _two(reward, 0));
        vm.expectEmit(address(engine));
        emit IMarginEngine.AccountClosed(
            ALICE, -_i(550e16), 10e16, 72.5e16, _two(ALICE_USDC - reward, 0), _two(0, 0), _two(0, 0)
        );
        _closeAlice();
        (uint256 paid, uint256 vault, uint256 badDebt) = _outcome();
        assertEq(paid, selfPaid, "closing pays what self-liquidating pays");
        assertEq(usdc.balanceOf(ALICE), reward);
        assertEq(vault, selfVault, "the vault holds the same");
        assertEq(badDebt, selfBadDebt, "and records the same bad debt");
        assertEq(badDebt, 72.5e6);
    }

    /// @dev Above the penalty (ETH 2100: equity 600, fee 10.5) closing the lapsed account
    ///      pays 12.5 + 577 = 589.5: exactly what closing it before the lapse pays, no
    ///      windfall; the vault pays the same 100 profit and keeps the same fee.
    function test_CloseWhenLiquidatable_AboveThePenaltyPaysAsBefore() public {
        _openAlice();
        uint256 snap = vm.snapshotState();
        vm.warp(T0 + LIFETIME - 10);
        _refreshFeeds();
        _setPrice(ethFeed, 2_100e8);
        _closeAlice();
        (uint256 before, uint256 vaultBefore,) = _outcome();
        assertEq(before, 589.5e6);
        vm.revertToState(snap);

        _lapseAt(2_100e8);
        vm.expectEmit(address(engine));
        emit IMarginEngine.CloseRewarded(ALICE, _two(12.5e6, 0));
        vm.expectEmit(address(engine));
        emit IMarginEngine.AccountClosed(ALICE, _i(100e16), 10.5e16, 0, _two(0, 0), _two(89.5e6, 0), _two(487.5e6, 0));
        _closeAlice();
        (uint256 paid, uint256 vault, uint256 badDebt) = _outcome();
        assertEq(paid, before, "as a close before the lapse");
        assertEq(vault, vaultBefore);
        assertEq(badDebt, 0);
    }

    /// @dev Bob (cross, lapsed) closing gets each asset's reward (25 USDC, 0.0125 WETH)
    ///      and the escrow less the 50 fee split by value: the balances less the fee.
    function test_CloseWhenLiquidatable_Cross() public {
        _openBob();
        vm.warp(T0 + LIFETIME + 1);
        _refreshFeeds();
        vm.expectEmit(address(engine));
        emit IMarginEngine.CloseRewarded(BOB, _two(25e6, 0.0125e18));
        vm.prank(BOB);
        engine.close(_bobPositions(), _salt("bob"));
        assertEq(usdc.balanceOf(BOB), BOB_USDC - 25e6);
        assertEq(weth.balanceOf(BOB), BOB_WETH - 0.0125e18);
    }

    /// @dev Closing a lapsed account at ETH P against liquidating oneself from a second
    ///      address at P and reclaiming: never less (the same up to one unit of rounding),
    ///      at the same cost to the vault, deep underwater included.
    function testFuzz_SelfLiquidationPaysNoMoreThanClosing(uint256 ethP) public {
        ethP = bound(ethP, 1_000e8, 2_400e8);
        _openAlice();
        uint256 snap = vm.snapshotState();
        _lapseAndClose(ethP);
        (uint256 closing, uint256 vault, uint256 badDebt) = _outcome();
        vm.revertToState(snap);

        uint256[6] memory r = _lapseAndLiquidate(ALICE, alice2, ethP);
        _reclaimAlice(r);
        (uint256 selfLiquidating, uint256 selfVault, uint256 selfBadDebt) = _outcome();
        assertGe(closing, selfLiquidating, "self-liquidation pays more than closing");
        assertLe(closing, selfLiquidating + 1, "and the same up to one unit of rounding");
        assertEq(vault + closing, selfVault + selfLiquidating, "the vault pays what the trader gets");
        assertApproxEqAbs(badDebt, selfBadDebt, 1, "the same bad debt");
    }

    /// @dev A close before the lapse pays no reward: ETH 1515 (equity 15, fee 10) pays 5;
    ///      the same close just after the lapse pays the 12.5 reward (the 2.5 of escrow
    ///      left is taken by the loss and fee: bad debt 7.5).
    function test_CloseBeforeTheLapse_PaysNoReward() public {
        _openAlice();
        uint256 snap = vm.snapshotState();
        vm.warp(T0 + LIFETIME);
        _refreshFeeds();
        _setPrice(ethFeed, 1_515e8);
        vm.recordLogs();
        _closeAlice();
        Vm.Log[] memory logs = vm.getRecordedLogs();
        for (uint256 i = 0; i < logs.length; ++i) {
            assertTrue(logs[i].topics[0] != IMarginEngine.CloseRewarded.selector, "no reward");
        }
        assertEq(usdc.balanceOf(ALICE), 5e6);
        vm.revertToState(snap);
        _lapseAndClose(1_515e8);
        assertEq(usdc.balanceOf(ALICE), 12.5e6);
        assertEq(usdcPool.accounts().badDebt, 7.5e6);
    }

    // ------------------------------------------------------------------ refused

    function test_RevertIf_ReclaimAfterTheDeadline() public {
        _openAlice();
        uint256[6] memory r = _lapseAndLiquidate(ALICE, keeper, 2_100e8);
        uint256 vault = _poolAssets(USDC);
        vm.warp((r[1] >> 8) + 1);
        _refreshFeeds();
        vm.expectRevert(abi.encodeWithSelector(IMarginEngine.MarginEngine__ReclaimExpired.selector, uint64(r[1] >> 8)));
        _reclaimAlice(r);
        assertEq(_poolAssets(USDC), vault, "the vault keeps what was not reclaimed");
        // the deadline itself is inside the window
    }

    function test_Reclaim_AtTheDeadline() public {
        _openAlice();
        uint256[6] memory r = _lapseAndLiquidate(ALICE, keeper, 2_100e8);
        vm.warp(r[1] >> 8);
        _reclaimAlice(r);
        assertEq(usdc.balanceOf(ALICE), 577e6);
    }

    function test_RevertIf_ReclaimTwice() public {
        _openAlice();
        uint256[6] memory r = _lapseAndLiquidate(ALICE, keeper, 2_100e8);
        _reclaimAlice(r);
        vm.expectRevert(abi.encodeWithSelector(IMarginEngine.MarginEngine__NoLiquidation.selector, ALICE, 1));
        _reclaimAlice(r);
    }

    /// @dev A record with a larger escrow (or any other field changed) is not the one stored.
    function test_RevertIf_ReclaimWithATamperedRecord() public {
        _openAlice();
        uint256[6] memory r = _lapseAndLiquidate(ALICE, keeper, 2_100e8);
        for (uint256 f = 0; f < 6; ++f) {
            uint256[6] memory t = r;
            t[f] ^= 1 << 8;
            vm.expectRevert(abi.encodeWithSelector(IMarginEngine.MarginEngine__NoLiquidation.selector, ALICE, 1));
            _reclaimAlice(t);
        }
        vm.expectRevert(abi.encodeWithSelector(IMarginEngine.MarginEngine__NoLiquidation.selector, ALICE, 2));
        vm.prank(ALICE);
        engine.reclaim(2, r, _alicePositions(), _salt("alice"));
    }

    function test_RevertIf_ReclaimByAnotherAddress() public {
        _openAlice();
        uint256[6] memory r = _lapseAndLiquidate(ALICE, keeper, 2_100e8);
        vm.expectRevert(abi.encodeWithSelector(IMarginEngine.MarginEngine__NoLiquidation.selector, alice2, 1));
        vm.prank(alice2);
        engine.reclaim(1, r, _alicePositions(), _salt("alice"));
    }

    function test_RevertIf_ReclaimWithOtherPositions() public {
        _openAlice();
        uint256[6] memory r = _lapseAndLiquidate(ALICE, keeper, 2_100e8);
        IMarginEngine.Position[] memory p = _alicePositions();
        p[0].size += 1;
        vm.expectRevert(IMarginEngine.MarginEngine__CommitmentMismatch.selector);
        vm.prank(ALICE);
        engine.reclaim(1, r, p, _salt("alice"));
        vm.expectRevert(abi.encodeWithSelector(IMarginEngine.MarginEngine__InvalidPosition.selector, 1));
        vm.prank(ALICE);
        engine.reclaim(1, r, _bobPositions(), _salt("alice"));
    }

    /// @dev Liquidation records real prices: an account that lapsed before an outage is
    ///      liquidated once the feeds are fresh again, not during the outage.
    function test_RevertIf_LiquidateWhileAFeedIsStale() public {
        _openAlice();
        _skip(LIFETIME + 1); // lapsed with fresh feeds
        uint256 updatedAt = block.timestamp;
        vm.warp(updatedAt + HEARTBEAT + 1);
        vm.expectRevert(
            abi.encodeWithSelector(
                IOracleAdapter.OracleAdapter__StalePrice.selector, address(ethFeed), updatedAt, HEARTBEAT
            )
        );
        vm.prank(keeper);
        engine.liquidate(ALICE);
        _refreshFeeds();
        vm.prank(keeper);
        engine.liquidate(ALICE);
    }
}
