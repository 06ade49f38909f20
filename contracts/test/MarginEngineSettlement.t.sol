// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IMarginEngine} from "../src/engine/IMarginEngine.sol";
import {Vm} from "./utils/Vm.sol";
import {MarginEngineBase} from "./utils/MarginEngineBase.sol";

/// @dev Close settlement under fuzzed prices and balances. The checks are properties of
///      the observed transfers, not a copy of the engine's formula: tokens are conserved;
///      a profit is paid rounded down (never more than its value); a loss is taken rounded
///      up (at least its value, less than one token unit more), in slot order; what the
///      balances cannot cover is reported as bad debt, exactly.
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

    function _closedEvent() internal returns (int256 pnl, uint256 badDebt) {
        Vm.Log[] memory logs = vm.getRecordedLogs();
        for (uint256 i = 0; i < logs.length; ++i) {
            if (logs[i].emitter == address(engine) && logs[i].topics[0] == IMarginEngine.AccountClosed.selector) {
                return abi.decode(logs[i].data, (int256, uint256));
            }
        }
        fail("no AccountClosed event");
    }

    /// @dev Alice (isolated, long 1 ETH at 2000, USDC collateral).
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

        if (pnl > 0 && _u(pnl) * scale / _value(1, usdcP) > poolFund) {
            vm.expectRevert(); // PoolInsufficient (exact arguments checked in the flows suite)
            _closeAlice();
            return;
        }
        vm.recordLogs();
        _closeAlice();
        (int256 evPnl, uint256 badDebt) = _closedEvent();
        assertEq(evPnl, pnl, "pnl");

        uint256 received = usdc.balanceOf(ALICE);
        assertEq(received + engine.pool(USDC), bal + poolFund, "tokens conserved");
        assertEq(usdc.balanceOf(address(engine)), engine.pool(USDC) + BOB_USDC, "nothing left behind (Bob's is his)");

        if (pnl >= 0) {
            uint256 paid = received - bal;
            // floor: paid is worth at most the profit, and one more unit would exceed it
            assertLe(_value(paid, usdcP), _u(pnl) * scale, "profit paid rounds down");
            assertGt(_value(paid + 1, usdcP), _u(pnl) * scale, "profit paid is the floor");
            assertEq(badDebt, 0);
        } else {
            uint256 loss = _u(-pnl);
            uint256 taken = bal - received;
            assertEq(badDebt == 0, _value(bal, usdcP) >= loss * scale, "bad debt iff the balance is worth less");
            if (badDebt == 0) {
                assertGe(_value(taken, usdcP), loss * scale, "loss taken covers the loss");
                if (taken != 0) assertLt(_value(taken - 1, usdcP), loss * scale, "loss taken is the ceiling");
            } else {
                assertEq(taken, bal, "everything is taken before bad debt");
                assertLt(_value(bal, usdcP), loss * scale, "the balance could not cover the loss");
                // badDebt = loss - floor(value of the balance)
                assertEq(badDebt, loss - _value(bal, usdcP) / scale, "bad debt is exact");
            }
        }
    }

    /// @dev Bob (cross, long 2 ETH, short 0.1 BTC, USDC then WETH).
    function testFuzz_CloseCrossSettlement(uint256 ethP, uint256 btcP, uint256 usdcP, uint256 wethP) public {
        ethP = bound(ethP, 1, 3 * ETH_PRICE);
        btcP = bound(btcP, 1, 3 * BTC_PRICE);
        usdcP = bound(usdcP, 1e6, 1e10);
        wethP = bound(wethP, 1, 10 * WETH_PRICE);
        uint256 poolFund = 1e15; // 1e9 USDC: pays any profit in these ranges
        _fundPool(USDC, poolFund);
        _setPrices(ethP, btcP, usdcP, wethP);

        vm.recordLogs();
        _closeBob();
        (int256 pnl, uint256 badDebt) = _closedEvent();
        int256 expected = 2e8 * (_i(ethP) - _i(ETH_PRICE)) + 0.1e8 * (_i(BTC_PRICE) - _i(btcP));
        assertEq(pnl, expected, "pnl");

        uint256 gotUsdc = usdc.balanceOf(BOB);
        uint256 gotWeth = weth.balanceOf(BOB);
        assertEq(gotUsdc + engine.pool(USDC), BOB_USDC + poolFund, "USDC conserved");
        assertEq(gotWeth + engine.pool(WETH), BOB_WETH, "WETH conserved");

        if (pnl >= 0) {
            uint256 paid = gotUsdc - BOB_USDC;
            assertLe(_value(paid, usdcP), _u(pnl) * 1e6, "profit rounds down");
            assertGt(_value(paid + 1, usdcP), _u(pnl) * 1e6, "profit is the floor");
            assertEq(gotWeth, BOB_WETH, "profit is paid in asset 0 only");
            assertEq(badDebt, 0);
            return;
        }
        uint256 loss = _u(-pnl);
        uint256 takenUsdc = BOB_USDC - gotUsdc;
        uint256 takenWeth = BOB_WETH - gotWeth;
        if (_value(BOB_USDC, usdcP) >= loss * 1e6) {
            // USDC sufficed: WETH untouched, USDC taken is the ceiling of the loss
            assertEq(takenWeth, 0, "asset 1 only after asset 0 is exhausted");
            assertEq(badDebt, 0);
            assertGe(_value(takenUsdc, usdcP), loss * 1e6);
            if (takenUsdc != 0) assertLt(_value(takenUsdc - 1, usdcP), loss * 1e6);
            return;
        }
        // all USDC went; the rest of the loss (covered value rounded down) falls on WETH
        uint256 rest = loss - _value(BOB_USDC, usdcP) / 1e6;
        if (badDebt == 0) {
            assertGe(_value(takenWeth, wethP), rest * 1e18, "WETH covers the rest");
            if (takenWeth != 0) assertLt(_value(takenWeth - 1, wethP), rest * 1e18, "WETH taken is the ceiling");
        } else {
            assertEq(takenWeth, BOB_WETH, "everything is taken before bad debt");
            assertEq(badDebt, rest - _value(BOB_WETH, wethP) / 1e18, "bad debt is exact");
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
