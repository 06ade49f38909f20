// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {MarginPool} from "../src/pool/MarginPool.sol";
import {console} from "./utils/Console.sol";
import {PoolBase} from "./PoolBase.t.sol";

/// @dev forge's `cool` cheatcode (forge 1.x): marks an account and all its storage cold.
interface VmCool {
    function cool(address target) external;
}

/// @dev Gas of the pool's main operations, with upper bounds (measured + ~5%) so that a
///      regression fails. gasleft() deltas around each call, after `cool`ing the pool and the
///      token, so storage is cold as in a fresh transaction: execution only, without the
///      21,000 base cost and calldata. The bounds are for the default mode: with --isolate
///      forge counts the whole transaction (base cost included) and they do not apply; the
///      log then shows per-transaction figures (see docs/pool.md for both).
contract PoolGasTest is PoolBase {
    function _cold() internal {
        VmCool(address(vm)).cool(address(pool));
        VmCool(address(vm)).cool(address(usdc));
    }

    /// @dev Logs the gasleft() delta (bounded) and forge's count for the same call
    ///      (`lastCallGas`: with --isolate, the whole transaction).
    function _log(string memory what, uint256 delta, uint256 bound) internal view {
        uint256 tx_ = vm.lastCallGas().gasTotalUsed;
        console.log(string.concat(what, ": gas"), delta);
        console.log(string.concat(what, ": lastCallGas"), tx_);
        assertLe(delta, bound, string.concat(what, ": gas above its bound"));
    }

    function _prepare(address lp, uint256 assets) internal {
        usdc.mint(lp, assets);
        vm.prank(lp);
        usdc.approve(address(pool), assets);
    }

    function test_Gas_Deploy() public {
        uint256 g = gasleft();
        new MarginPool(usdc, "zkmargin USDC pool", "zmpUSDC", owner, DELAY, WINDOW);
        uint256 used = g - gasleft();
        console.log("deploy: gas", used);
        assertLe(used, 2_270_000, "deploy: gas above its bound");
    }

    function test_Gas_DepositFirst() public {
        _prepare(alice, 100 * USD);
        _cold();
        vm.prank(alice);
        uint256 g = gasleft();
        pool.deposit(100 * USD, alice);
        _log("deposit (first LP, empty pool)", g - gasleft(), 145_000);
    }

    function test_Gas_DepositNext() public {
        _deposit(alice, 100 * USD);
        _prepare(bob, 100 * USD);
        _cold();
        vm.prank(bob);
        uint256 g = gasleft();
        pool.deposit(100 * USD, bob);
        _log("deposit (second LP)", g - gasleft(), 70_000);
    }

    function test_Gas_RequestRedeem() public {
        uint256 shares = _deposit(alice, 100 * USD);
        _cold();
        vm.prank(alice);
        uint256 g = gasleft();
        pool.requestRedeem(shares);
        _log("requestRedeem", g - gasleft(), 87_000);
    }

    function test_Gas_ExecuteRedeem() public {
        uint256 shares = _deposit(alice, 100 * USD);
        _deposit(bob, 100 * USD);
        uint64 at = _request(alice, shares);
        vm.warp(at);
        _cold();
        vm.prank(alice);
        uint256 g = gasleft();
        pool.redeem(shares, alice, alice);
        _log("redeem (execute a matured request)", g - gasleft(), 94_000);
    }

    function test_Gas_ExecuteWithdraw() public {
        uint256 shares = _deposit(alice, 100 * USD);
        _deposit(bob, 100 * USD);
        uint64 at = _request(alice, shares);
        vm.warp(at);
        _cold();
        vm.prank(alice);
        uint256 g = gasleft();
        pool.withdraw(50 * USD, alice, alice);
        _log("withdraw (execute part of a request)", g - gasleft(), 94_000);
    }

    function test_Gas_PayProfitInFull() public {
        _deposit(alice, 100 * USD);
        _cold();
        vm.prank(engine);
        uint256 g = gasleft();
        pool.payProfit(trader, 10 * USD);
        _log("payProfit (paid in full)", g - gasleft(), 72_000);
    }

    function test_Gas_PayProfitShort() public {
        _deposit(alice, 100 * USD);
        _cold();
        vm.prank(engine);
        uint256 g = gasleft();
        pool.payProfit(trader, 150 * USD);
        _log("payProfit (short: pays 100, IOU 50)", g - gasleft(), 140_000);
    }

    function test_Gas_ReceiveLoss() public {
        _deposit(alice, 100 * USD);
        usdc.mint(engine, 10 * USD);
        _cold();
        vm.prank(engine);
        uint256 g = gasleft();
        pool.receiveLoss(10 * USD);
        _log("receiveLoss", g - gasleft(), 51_000);
    }

    function test_Gas_ReceivePenalty() public {
        _deposit(alice, 100 * USD);
        usdc.mint(engine, 10 * USD);
        _cold();
        vm.prank(engine);
        uint256 g = gasleft();
        pool.receivePenalty(10 * USD);
        _log("receivePenalty (first penalty)", g - gasleft(), 51_000);
    }

    function test_Gas_RecordBadDebt() public {
        _cold();
        vm.prank(engine);
        uint256 g = gasleft();
        pool.recordBadDebt(10 * USD);
        _log("recordBadDebt (first)", g - gasleft(), 31_000);
    }

    function test_Gas_Claim() public {
        _deposit(alice, 100 * USD);
        _profit(trader, 150 * USD);
        _loss(80 * USD);
        _cold();
        vm.prank(trader);
        uint256 g = gasleft();
        pool.claim(trader);
        _log("claim (IOU in full)", g - gasleft(), 58_000);
    }
}
