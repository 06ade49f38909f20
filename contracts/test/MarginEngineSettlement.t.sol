// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IMarginEngine} from "../src/engine/IMarginEngine.sol";
import {Vm} from "./utils/Vm.sol";
import {MarginEngineBase} from "./utils/MarginEngineBase.sol";

/// @dev Close settlement under fuzzed prices and balances. The checks are properties of
///      the observed transfers, not a copy of the engine's formula: tokens are conserved;
///      a profit is paid rounded down (never more than its value); a loss is taken rounded
///      up (at least its value, less than one token unit more); a cross account's legs
///      split by collateral value; what the balances cannot cover is bad debt, exactly,
///      recorded in the vault.
contract MarginEngineSettlementTest is MarginEngineBase {
    /// @dev Alice and Bob open once, with real proofs; every fuzz run starts from here.
    function setUp() public override {
        super.setUp();
        _openAlice();
        _openBob();
    }

    /// @dev Quote value of `amount` base units at `price` (8 decimals), in 1e-16 quote,
    ///      scaled by 10^decimals (to compare without dividing).
    function _value(uint256 amount, uint256 price) internal pure returns (uint256) {
        return amount * price * 1e8;
    }

    /// @dev Value of `amount` units of a token with `decimals` at `price`, in 1e-16 quote
    ///      times 1e18 (one scale for both assets, nothing divided).
    function _q(uint256 amount, uint256 price, uint256 decimals) internal pure returns (uint256) {
        return amount * price * 1e8 * 10 ** (18 - decimals);
    }

    struct Closed {
        int256 pnl;
        uint256 fee;
        uint256 badDebt;
        uint256[2] toPool;
        uint256[2] fromPool;
        uint256[2] refund;
    }

    function _closedEvent() internal returns (Closed memory c) {
        Vm.Log[] memory logs = vm.getRecordedLogs();
        for (uint256 i = 0; i < logs.length; ++i) {
            if (logs[i].emitter == address(engine) && logs[i].topics[0] == IMarginEngine.AccountClosed.selector) {
                (c.pnl, c.fee, c.badDebt, c.toPool, c.fromPool, c.refund) =
                    abi.decode(logs[i].data, (int256, uint256, uint256, uint256[2], uint256[2], uint256[2]));
                return c;
            }
        }
        fail("no AccountClosed event");
    }

    /// @dev Alice (isolated, long 1 ETH at 2000, USDC collateral). A vault short of the
    ///      profit pays what it holds and owes the rest: the close never reverts for it.
    function testFuzz_CloseIsolatedSettlement(uint256 ethP, uint256 usdcP, uint256 extra, uint256 poolFund) public {
        ethP = bound(ethP, 1, 10 * ETH_PRICE);
        usdcP = bound(usdcP, 1, 1e12);
        extra = bound(extra, 0, 1e15);
        poolFund = bound(poolFund, 1, 2e18);
        if (extra != 0) _deposit(ALICE, USDC, extra);
        _fundPool(USDC, poolFund);
        _setPrice(ethFeed, ethP);
        _setPrice(usdcFeed, usdcP);

        uint256 bal = ALICE_USDC + extra;
        int256 pnl = _i(ethP) - _i(ETH_PRICE); // size 1e8: pnl in 1e-16 quote = 1e8 * move
        pnl *= 1e8;
        uint256 scale = 1e6;

        vm.recordLogs();
        _closeAlice();
        Closed memory ev = _closedEvent();
        assertEq(ev.pnl, pnl, "pnl");
        assertEq(ev.fee, 0, "no fee set");

        uint256 received = usdc.balanceOf(ALICE);
        uint256 iou = usdcPool.iouOf(ALICE);
        assertEq(received + usdcPool.accounts().held, bal + poolFund, "tokens conserved");
        assertEq(usdc.balanceOf(address(engine)), BOB_USDC, "nothing left behind (Bob's is his)");
        assertEq(usdc.balanceOf(address(usdcPool)), usdcPool.accounts().held, "the vault counts what it holds");

        if (pnl >= 0) {
            uint256 owed = received - bal + iou;
            assertEq(owed, ev.fromPool[USDC], "paid + IOU == the profit leg");
            assertEq(iou, owed > poolFund ? owed - poolFund : 0, "an IOU only for what the vault lacks");
            // floor: the leg is worth at most the profit, and one more unit would exceed it
            assertLe(_value(owed, usdcP), _u(pnl) * scale, "profit paid rounds down");
            assertGt(_value(owed + 1, usdcP), _u(pnl) * scale, "profit paid is the floor");
            assertEq(ev.badDebt, 0);
        } else {
            uint256 loss = _u(-pnl);
            uint256 taken = bal - received;
            assertEq(taken, ev.toPool[USDC], "the loss leg went to the vault");
            assertEq(usdcPool.accounts().lossesReceived, taken);
            assertEq(ev.badDebt == 0, _value(bal, usdcP) >= loss * scale, "bad debt iff the balance is worth less");
            if (ev.badDebt == 0) {
                assertGe(_value(taken, usdcP), loss * scale, "loss taken covers the loss");
                if (taken != 0) assertLt(_value(taken - 1, usdcP), loss * scale, "loss taken is the ceiling");
            } else {
                assertEq(taken, bal, "everything is taken before bad debt");
                // badDebt = loss - floor(value of the balance)
                assertEq(ev.badDebt, loss - _value(bal, usdcP) / scale, "bad debt is exact");
                uint256 debtTokens = usdcPool.accounts().badDebt;
                assertGe(_value(debtTokens, usdcP), ev.badDebt * scale, "bad debt recorded, rounded up");
                assertLt(_value(debtTokens - 1, usdcP), ev.badDebt * scale, "bad debt recorded is the ceiling");
            }
        }
    }

    /// @dev Bob (cross, long 2 ETH, short 0.1 BTC, USDC and WETH): each leg goes to its
    ///      asset's vault in proportion to the collateral value at the close prices.
    function testFuzz_CloseCrossSettlement(uint256 ethP, uint256 btcP, uint256 usdcP, uint256 wethP) public {
        ethP = bound(ethP, 1, 3 * ETH_PRICE);
        btcP = bound(btcP, 1, 3 * BTC_PRICE);
        usdcP = bound(usdcP, 1e6, 1e10);
        wethP = bound(wethP, 1, 10 * WETH_PRICE);
        _fundPool(USDC, 1e15); // 1e9 USDC
        _fundPool(WETH, 1e24); // 1e6 WETH
        _setPrices(ethP, btcP, usdcP, wethP);

        vm.recordLogs();
        _closeBob();
        Closed memory ev = _closedEvent();
        int256 expected = 2e8 * (_i(ethP) - _i(ETH_PRICE)) + 0.1e8 * (_i(BTC_PRICE) - _i(btcP));
        assertEq(ev.pnl, expected, "pnl");

        uint256 gotUsdc = usdc.balanceOf(BOB);
        uint256 gotWeth = weth.balanceOf(BOB);
        assertEq(gotUsdc + usdcPool.accounts().held, BOB_USDC + 1e15, "USDC conserved");
        assertEq(gotWeth + wethPool.accounts().held, BOB_WETH + 1e24, "WETH conserved");
        assertEq(usdc.balanceOf(address(engine)) + weth.balanceOf(address(engine)), ALICE_USDC, "only Alice's left");
        uint256[2] memory v = [_q(BOB_USDC, usdcP, 6), _q(BOB_WETH, wethP, 18)];
        if (ev.pnl >= 0) {
            assertEq(gotUsdc - BOB_USDC, ev.fromPool[USDC]);
            assertEq(gotWeth - BOB_WETH, ev.fromPool[WETH]);
            _checkProfitLegs(ev, v, usdcP, wethP);
        } else {
            assertEq(BOB_USDC - gotUsdc, ev.toPool[USDC]);
            assertEq(BOB_WETH - gotWeth, ev.toPool[WETH]);
            _checkLossLegs(ev, v, usdcP, wethP);
        }
    }

    /// @dev Each profit leg is the floor of its share: the profit times the asset's share
    ///      of the collateral value (values in 1e-16 quote, rounded down), rounded down, then
    ///      tokens rounded down.
    function _checkProfitLegs(Closed memory ev, uint256[2] memory, uint256 usdcP, uint256 wethP) internal pure {
        uint256 profit = _u(ev.pnl);
        uint256 v0 = _value(BOB_USDC, usdcP) / 1e6;
        uint256 v1 = _value(BOB_WETH, wethP) / 1e18;
        uint256 s0 = profit * v0 / (v0 + v1);
        uint256 s1 = profit * v1 / (v0 + v1);
        assertLe(_value(ev.fromPool[USDC], usdcP), s0 * 1e6, "USDC leg at most its share");
        assertGt(_value(ev.fromPool[USDC] + 1, usdcP), s0 * 1e6, "USDC leg is the floor");
        assertLe(_value(ev.fromPool[WETH], wethP), s1 * 1e18, "WETH leg at most its share");
        assertGt(_value(ev.fromPool[WETH] + 1, wethP), s1 * 1e18, "WETH leg is the floor");
        assertLe(s0 + s1, profit, "the legs never exceed the profit");
        assertEq(ev.badDebt, 0);
    }

    /// @dev The loss legs cover the loss, each its share rounded up; past the collateral,
    ///      everything is taken and the rest is exactly the bad debt.
    function _checkLossLegs(Closed memory ev, uint256[2] memory, uint256 usdcP, uint256 wethP) internal pure {
        uint256 loss = _u(-ev.pnl);
        uint256 v0 = _value(BOB_USDC, usdcP) / 1e6; // 1e-16 quote, rounded down
        uint256 v1 = _value(BOB_WETH, wethP) / 1e18;
        if (v0 + v1 >= loss + 2) {
            assertEq(ev.badDebt, 0, "no bad debt while the collateral covers the loss");
            uint256 s0 = (loss * v0 + v0 + v1 - 1) / (v0 + v1); // the share, rounded up
            uint256 s1 = (loss * v1 + v0 + v1 - 1) / (v0 + v1);
            uint256 t0 = _value(ev.toPool[USDC], usdcP);
            uint256 t1 = _value(ev.toPool[WETH], wethP);
            assertGe(t0 / 1e6 + t1 / 1e18 + 2, loss, "the legs cover the loss");
            // each leg is its share rounded up, or less when the other leg covered the rest
            if (ev.toPool[USDC] != 0) {
                assertLt(_value(ev.toPool[USDC] - 1, usdcP), s0 * 1e6, "USDC leg is the ceiling");
            }
            if (ev.toPool[WETH] != 0) {
                assertLt(_value(ev.toPool[WETH] - 1, wethP), s1 * 1e18, "WETH leg is the ceiling");
            }
        } else if (ev.badDebt != 0) {
            assertEq(ev.toPool[USDC], BOB_USDC, "everything is taken before bad debt");
            assertEq(ev.toPool[WETH], BOB_WETH, "everything is taken before bad debt");
            assertEq(ev.badDebt, loss - v0 - v1, "bad debt is exact");
        }
    }

    /// @dev Rounding at the smallest profit (1e-8 quote: ETH up by one price unit) across
    ///      the whole collateral price range: the payout is the floor, often 0.
    function testFuzz_CloseTinyProfitRoundsToZeroOrMore(uint256 usdcP) public {
        usdcP = bound(usdcP, 1, type(uint64).max);
        _fundPool(USDC, 1e12);
        _setPrice(ethFeed, ETH_PRICE + 1); // pnl = 1e8 (1e-8 quote)
        _setPrice(usdcFeed, usdcP);
        _closeAlice();
        uint256 paid = usdc.balanceOf(ALICE) - ALICE_USDC;
        assertEq(paid, uint256(1e8) * 1e6 / (usdcP * 1e8));
        assertLe(_value(paid, usdcP), uint256(1e8) * 1e6);
    }
}
