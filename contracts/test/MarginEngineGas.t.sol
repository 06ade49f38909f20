// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IMarginEngine} from "../src/engine/IMarginEngine.sol";
import {MarginEngine} from "../src/engine/MarginEngine.sol";
import {CrossGroth16Verifier} from "../src/generated/CrossVerifier.sol";
import {IsolatedGroth16Verifier} from "../src/generated/IsolatedVerifier.sol";
import {console} from "./utils/Console.sol";
import {MarginEngineBase} from "./utils/MarginEngineBase.sol";

/// @dev One run of every flow, for gas numbers, with upper bounds so that a regression
///      fails. The numbers are gasleft() deltas around each call (execution only: no 21000
///      base cost or calldata, and storage the test touched earlier in the same
///      transaction is warm); they do not depend on the proof bytes, so they are the same
///      after every fresh setup. Receipt numbers (the ones compared with the Groth16 floor)
///      come from benchmarks/gas.py; for forge's per-transaction numbers run:
///      bash contracts/tools/forge-test.sh --match-contract MarginEngineGas --isolate -vv
///
///      Bounds: the engine's measured value plus about 1%. Without a price push in the
///      block (the adapter path) the values are above those before the price cache: a
///      cold read of a cache word and of the policy word, and the move-set test and the
///      payouts in the Settlement library. The pushed path (pushPrices earlier in the
///      same block) is in test_Gas_*Pushed: the oracle reads are replaced by one or two
///      cache words. Storage a flow touched earlier in the same test is warm here, so a
///      change can move cost between calls (the receipts in benchmarks/gas.py do not
///      have this effect). Since the clock words carry the current policy, a proof
///      reads no policy word, so flagShock and close here find the policy word cold
///      (the proofs before them no longer warm it). Measured (before packing in brackets):
///        deposit (first)          63,862   (70,490)
///        openIsolated            331,049  (362,156)    openCross    404,539  (436,241)
///        proveMargin isolated    243,209  (251,769)    cross        260,739  (273,913)
///          engine above verifier  16,736   (25,296)    cross         27,537   (40,711)
///        withdraw isolated       268,411  (277,386)    cross        285,942  (299,374)
///        flagShock (cross)        40,143   (32,071)
///        deploy engine         5,256,796 (3,973,458)
///      Pushed (same block as pushPrices), test_Gas_*Pushed:
///        openIsolated            281,424               openCross    307,965
///        proveMargin isolated    233,083               cross        240,716
///        withdraw isolated       258,279               cross        265,862
///        pushPrices (2 words written before)  64,500   (first push: 143,100)
contract MarginEngineGasTest is MarginEngineBase {
    uint256 internal constant PUSH_OPEN_ISO_BOUND = 284_500;
    uint256 internal constant PUSH_WD_ISO_BOUND = 261_000;
    uint256 internal constant PUSH_PROVE_ISO_BOUND = 235_500;
    uint256 internal constant PUSH_OPEN_CROSS_BOUND = 311_000;
    uint256 internal constant PUSH_PROVE_CROSS_BOUND = 243_200;
    uint256 internal constant PUSH_WD_CROSS_BOUND = 268_500;
    uint256 internal constant PUSH_PUSH_BOUND = 65_500;

    /// @dev Logs the gasleft() delta and forge's own count for the call just made
    ///      (`lastCallGas`; with --isolate that is the whole transaction), and checks the bound.
    function _log(string memory what, uint256 delta, uint256 bound) internal view {
        console.log(string.concat(what, ": gasleft delta"), delta);
        console.log(string.concat(what, ": lastCallGas"), uint256(vm.lastCallGas().gasTotalUsed));
        assertLe(delta, bound, string.concat(what, ": gas above its bound"));
    }

    /// @dev Gas of the verifier alone for the same proof and inputs (a view call from here).
    function _verifierGas(string memory name, bool isolated) internal view returns (uint256 used) {
        IMarginEngine.Proof memory p = _proof(name);
        uint256[] memory pub = _inputs(name);
        uint256 g;
        bool ok;
        if (isolated) {
            uint256[6] memory s6;
            for (uint256 i = 0; i < 6; ++i) {
                s6[i] = pub[i];
            }
            g = gasleft();
            ok = IsolatedGroth16Verifier(isoVerifier).verifyProof(p.a, p.b, p.c, s6);
            used = g - gasleft();
        } else {
            uint256[7] memory s7;
            for (uint256 i = 0; i < 7; ++i) {
                s7[i] = pub[i];
            }
            g = gasleft();
            ok = CrossGroth16Verifier(crossVerifier).verifyProof(p.a, p.b, p.c, s7);
            used = g - gasleft();
        }
        assertTrue(ok, "fixture proof refused by its verifier");
    }

    /// @dev The engine's own work on a proof: its gas minus the verifier's (both measured
    ///      here, with the verifier's account warm in both).
    function _logOverhead(string memory what, uint256 engineDelta, uint256 verifierDelta, uint256 bound) internal view {
        uint256 overhead = engineDelta - verifierDelta;
        console.log(string.concat(what, ": engine work above the verifier"), overhead);
        assertLe(overhead, bound, string.concat(what, ": engine work above its bound"));
    }

    function test_Gas_DeployEngine() public {
        uint256 g = gasleft();
        MarginEngine e = new MarginEngine(owner, oracle, isoVerifier, crossVerifier, poseidon, LIFETIME, GRACE, PENALTY);
        _log("deploy engine", g - gasleft(), 5_300_000); // + policy epoch 1 and the 9 clock words
        assertEq(e.owner(), owner);
    }

    function test_Gas_IsolatedLifecycle() public {
        _give(ALICE, USDC, ALICE_USDC);
        vm.startPrank(ALICE);
        uint256 g = gasleft();
        engine.deposit(USDC, ALICE_USDC);
        _log("deposit (first)", g - gasleft(), 65_000);

        IMarginEngine.Proof memory p = _proof("aliceOpen");
        uint256 c = _commitment("aliceOpen");
        g = gasleft();
        engine.openIsolated(c, ETH, USDC, p);
        _log("openIsolated", g - gasleft(), 334_500);

        p = _proof("aliceProve");
        g = gasleft();
        engine.proveMargin(p);
        uint256 delta = g - gasleft();
        _log("proveMargin (isolated)", delta, 245_000);
        vm.stopPrank();
        _logOverhead("proveMargin (isolated)", delta, _verifierGas("aliceProve", true), 17_000); // + the clock word, cold
    }

    function test_Gas_IsolatedWithdrawAndClose() public {
        _openAlice();
        IMarginEngine.Proof memory p = _proof("aliceWithdraw");
        IMarginEngine.Position[] memory pos = _alicePositions();
        uint256 salt = _salt("alice");
        vm.startPrank(ALICE);
        uint256 g = gasleft();
        engine.withdraw(USDC, ALICE_WITHDRAW, p);
        _log("withdraw (isolated)", g - gasleft(), 270_500);
        g = gasleft();
        engine.close(pos, salt);
        _log("close (isolated)", g - gasleft(), 130_000); // + 2 Settlement library calls; no PnL: no vault call
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
        _log("openCross", g - gasleft(), 408_500);

        p = _proof("bobProve");
        g = gasleft();
        engine.proveMargin(p);
        uint256 delta = g - gasleft();
        _log("proveMargin (cross)", delta, 263_500);

        IMarginEngine.Position[] memory pos = _bobPositions();
        uint256 salt = _salt("bob");
        g = gasleft();
        engine.close(pos, salt);
        // + the vault legs, 2 Settlement library calls; the account's policy word and the
        // counts' slot are cold here (the proofs before it in this test read only the clock)
        _log("close (cross)", g - gasleft(), 270_000);
        vm.stopPrank();
        _logOverhead("proveMargin (cross)", delta, _verifierGas("bobProve", false), 27_900); // + the clock word, cold
    }

    function test_Gas_CrossWithdraw() public {
        _openBob();
        IMarginEngine.Proof memory p = _proof("bobWithdraw");
        vm.prank(BOB);
        uint256 g = gasleft();
        engine.withdraw(USDC, BOB_WITHDRAW_USDC, p);
        _log("withdraw (cross)", g - gasleft(), 289_000);
    }

    function test_Gas_FlagShockAndLiquidate() public {
        _openBob();
        _setPrice(ethFeed, SHOCK_ETH_PRICE);
        vm.prank(keeper);
        uint256 g = gasleft();
        engine.flagShock(BOB);
        // + policy and clock words, MoveSetLeft; the policy word and the counts' slot are cold
        // here (the open before it in this test reads only the clock word)
        _log("flagShock (cross)", g - gasleft(), 41_000);
        vm.warp(T0 + GRACE + 1);
        _refreshFeeds(); // keep the feeds live: stale time stops the clocks
        vm.prank(keeper);
        g = gasleft();
        engine.liquidate(BOB);
        _log("liquidate (cross, 2 assets)", g - gasleft(), 295_000); // + the clock sync and the record: 4 feed reads, 2 receivePenalty, the record hash
    }

    function test_Gas_LiquidateIsolated() public {
        _openAlice();
        vm.warp(T0 + LIFETIME + 1);
        _refreshFeeds(); // keep the feeds live: stale time stops the clocks
        vm.prank(keeper);
        uint256 g = gasleft();
        engine.liquidate(ALICE);
        _log("liquidate (isolated)", g - gasleft(), 170_000); // + the clock sync and the record: 2 feed reads, receivePenalty, the record hash
    }

    /// @dev Open, prove and withdraw (isolated) in the block of a push: no adapter read.
    function test_Gas_IsolatedPushed() public {
        _give(ALICE, USDC, ALICE_USDC);
        vm.prank(ALICE);
        engine.deposit(USDC, ALICE_USDC);
        uint256 g = gasleft();
        engine.pushPrices();
        _log("pushPrices (first)", g - gasleft(), 144_500); // the 2 cache words created
        vm.startPrank(ALICE);
        IMarginEngine.Proof memory p = _proof("aliceOpen");
        uint256 c = _commitment("aliceOpen");
        g = gasleft();
        engine.openIsolated(c, ETH, USDC, p);
        _log("openIsolated (pushed)", g - gasleft(), PUSH_OPEN_ISO_BOUND);
        p = _proof("aliceWithdraw");
        g = gasleft();
        engine.withdraw(USDC, ALICE_WITHDRAW, p);
        _log("withdraw isolated (pushed)", g - gasleft(), PUSH_WD_ISO_BOUND);
        vm.stopPrank();
    }

    function test_Gas_IsolatedProvePushed() public {
        _openAlice();
        engine.pushPrices();
        IMarginEngine.Proof memory p = _proof("aliceProve");
        vm.prank(ALICE);
        uint256 g = gasleft();
        engine.proveMargin(p);
        uint256 delta = g - gasleft();
        _log("proveMargin isolated (pushed)", delta, PUSH_PROVE_ISO_BOUND);
    }

    /// @dev Open, prove (cross) in the block of a push, and a withdrawal in another.
    function test_Gas_CrossPushed() public {
        _deposit(BOB, USDC, BOB_USDC);
        _deposit(BOB, WETH, BOB_WETH);
        engine.pushPrices();
        IMarginEngine.Proof memory p = _proof("bobOpen");
        uint256 c = _commitment("bobOpen");
        vm.startPrank(BOB);
        uint256 g = gasleft();
        engine.openCross(c, p);
        _log("openCross (pushed)", g - gasleft(), PUSH_OPEN_CROSS_BOUND);
        p = _proof("bobProve");
        g = gasleft();
        engine.proveMargin(p);
        _log("proveMargin cross (pushed)", g - gasleft(), PUSH_PROVE_CROSS_BOUND);
        vm.stopPrank();
    }

    function test_Gas_CrossWithdrawPushed() public {
        _openBob();
        vm.roll(block.number + 1);
        uint256 g = gasleft();
        engine.pushPrices();
        _log("pushPrices (again)", g - gasleft(), PUSH_PUSH_BOUND);
        IMarginEngine.Proof memory p = _proof("bobWithdraw");
        vm.prank(BOB);
        g = gasleft();
        engine.withdraw(USDC, BOB_WITHDRAW_USDC, p);
        _log("withdraw cross (pushed)", g - gasleft(), PUSH_WD_CROSS_BOUND);
    }
}
