// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IMarginEngine} from "../src/engine/IMarginEngine.sol";
import {MarginEngine} from "../src/engine/MarginEngine.sol";
import {console} from "./utils/Console.sol";
import {MarginEngineBase} from "./utils/MarginEngineBase.sol";

/// @dev One run of every flow, for gas numbers. The logged numbers are gasleft() deltas
///      around each call (execution only: no 21000 base cost or calldata, and storage the
///      test touched earlier in the same transaction is warm). For per-transaction
///      numbers run: bash contracts/tools/forge-test.sh --match-contract MarginEngineGas --isolate --gas-report
contract MarginEngineGasTest is MarginEngineBase {
    /// @dev Logs the gasleft() delta and forge's own count for the call just made
    ///      (`lastCallGas`; with --isolate that is the whole transaction).
    function _log(string memory what, uint256 delta) internal view {
        console.log(string.concat(what, ": gasleft delta"), delta);
        console.log(string.concat(what, ": lastCallGas"), uint256(vm.lastCallGas().gasTotalUsed));
    }

    function test_Gas_DeployEngine() public {
        uint256 g = gasleft();
        MarginEngine e =
            new MarginEngine(owner, oracle, isoVerifier, crossVerifier, poseidon, LIFETIME, GRACE, THRESHOLD, PENALTY);
        _log("deploy engine", g - gasleft());
        assertEq(e.owner(), owner);
    }

    function test_Gas_IsolatedLifecycle() public {
        _give(ALICE, USDC, ALICE_USDC);
        vm.startPrank(ALICE);
        uint256 g = gasleft();
        engine.deposit(USDC, ALICE_USDC);
        _log("deposit (first)", g - gasleft());

        IMarginEngine.Proof memory p = _proof("aliceOpen");
        uint256 c = _commitment("aliceOpen");
        g = gasleft();
        engine.openIsolated(c, ETH, USDC, p);
        _log("openIsolated", g - gasleft());

        p = _proof("aliceProve");
        g = gasleft();
        engine.proveMargin(p);
        _log("proveMargin (isolated)", g - gasleft());
        vm.stopPrank();
    }

    function test_Gas_IsolatedWithdrawAndClose() public {
        _openAlice();
        IMarginEngine.Proof memory p = _proof("aliceWithdraw");
        IMarginEngine.Position[] memory pos = _alicePositions();
        uint256 salt = _salt("alice");
        vm.startPrank(ALICE);
        uint256 g = gasleft();
        engine.withdraw(USDC, ALICE_WITHDRAW, p);
        _log("withdraw (isolated)", g - gasleft());
        g = gasleft();
        engine.close(pos, salt);
        _log("close (isolated)", g - gasleft());
        vm.stopPrank();
    }

    function test_Gas_CrossLifecycle() public {
        _deposit(BOB, USDC, BOB_USDC);
        _deposit(BOB, WETH, BOB_WETH);
        IMarginEngine.Proof memory p = _proof("bobOpen");
        uint256 c = _commitment("bobOpen");
        vm.startPrank(BOB);
        uint256 g = gasleft();
        engine.openCross(c, p);
        _log("openCross", g - gasleft());

        p = _proof("bobProve");
        g = gasleft();
        engine.proveMargin(p);
        _log("proveMargin (cross)", g - gasleft());

        IMarginEngine.Position[] memory pos = _bobPositions();
        uint256 salt = _salt("bob");
        g = gasleft();
        engine.close(pos, salt);
        _log("close (cross)", g - gasleft());
        vm.stopPrank();
    }

    function test_Gas_CrossWithdraw() public {
        _openBob();
        IMarginEngine.Proof memory p = _proof("bobWithdraw");
        vm.prank(BOB);
        uint256 g = gasleft();
        engine.withdraw(USDC, BOB_WITHDRAW_USDC, p);
        _log("withdraw (cross)", g - gasleft());
    }

    function test_Gas_FlagShockAndLiquidate() public {
        _openBob();
        _setPrice(ethFeed, SHOCK_ETH_PRICE);
        vm.prank(keeper);
        uint256 g = gasleft();
        engine.flagShock(BOB);
        _log("flagShock (cross)", g - gasleft());
        vm.warp(T0 + GRACE + 1);
        vm.prank(keeper);
        g = gasleft();
        engine.liquidate(BOB);
        _log("liquidate (cross, 2 assets)", g - gasleft());
    }

    function test_Gas_LiquidateIsolated() public {
        _openAlice();
        vm.warp(T0 + LIFETIME + 1);
        vm.prank(keeper);
        uint256 g = gasleft();
        engine.liquidate(ALICE);
        _log("liquidate (isolated)", g - gasleft());
    }
}
