// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IMarginEngine} from "../src/engine/IMarginEngine.sol";
import {IOracleAdapter} from "../src/oracle/IOracleAdapter.sol";
import {StressCheck} from "../src/periphery/StressCheck.sol";
import {MarginEngineBase} from "./utils/MarginEngineBase.sol";

/// @dev Stress proofs (`stressInputs`, `verifyStress`): the engine builds the maintenance
///      statement at the oracle prices moved by the stated shocks (exactly Python's
///      zkmargin.stress rule), verifies a real proof of it without changing anything, and
///      refuses a wrong shock, a shock of -100% or less, a stale oracle and an old nonce.
///      Fixture shocks: ETH-USD -20%, BTC-USD +10% (WETH has its own feed here).
contract MarginEngineStressTest is MarginEngineBase {
    StressCheck internal stress;

    function setUp() public override {
        super.setUp();
        stress = new StressCheck(engine);
    }

    function _shocks(int16 eth, int16 btc) internal pure returns (int16[] memory s) {
        s = new int16[](2);
        s[0] = eth;
        s[1] = btc;
    }

    function _fixtureShocks() internal view returns (int16[] memory) {
        int256[] memory bps = vm.parseJsonIntArray(vm.readFile(FIXTURE), ".stressBps");
        assertEq(bps.length, 2, "fixture shock count");
        return _shocks(int16(bps[0]), int16(bps[1]));
    }

    function test_StressInputs_EqualPythons() public {
        _openAlice();
        _openBob();
        _assertInputs(stress.stressInputs(ALICE, _fixtureShocks()), _inputs("aliceStress"), "aliceStress");
        _assertInputs(stress.stressInputs(BOB, _fixtureShocks()), _inputs("bobStress"), "bobStress");
    }

    /// @dev The shocked price words, slot by slot: floor(P·(10⁴ + bps)/10⁴) on each market;
    ///      collateral on its own feed, and unlisted slots, keep their price.
    function test_StressInputs_Layout() public {
        _openBob();
        uint256[] memory x = stress.stressInputs(BOB, _shocks(-2_000, 1_000));
        uint256[] memory plain = engine.publicInputs(BOB, false, 0, 0);
        assertEq(x[1], (ETH_PRICE * 8_000) / 10_000 | ((BTC_PRICE * 11_000) / 10_000) << 64 | uint256(1) << 128);
        assertEq(x[2], plain[2], "pad slot 3, USDC and WETH (own feed) unchanged");
        for (uint256 i = 3; i < x.length; ++i) {
            assertEq(x[i], plain[i], "balances, MMRs, nonce and binding are the maintenance statement's");
        }
        // rounding is down, as in Python: 60000e8 * (10^4 - 1) / 10^4 is exact, 1 unit less is not
        _setPrice(btcFeed, BTC_PRICE + 1);
        x = stress.stressInputs(BOB, _shocks(0, -1));
        assertEq((x[1] >> 64) & type(uint64).max, ((BTC_PRICE + 1) * 9_999) / 10_000);
    }

    function test_VerifyStress_AcceptsProofAndChangesNothing() public {
        _openAlice();
        _openBob();
        IMarginEngine.Account memory before = engine.account(BOB);
        assertTrue(stress.verifyStress(ALICE, _fixtureShocks(), _proof("aliceStress")), "alice");
        assertTrue(stress.verifyStress(BOB, _fixtureShocks(), _proof("bobStress")), "bob");
        // anyone may check it; nothing is stored (a view)
        vm.prank(stranger);
        assertTrue(stress.verifyStress(BOB, _fixtureShocks(), _proof("bobStress")), "stranger");
        assertEq(engine.account(BOB).nonce, before.nonce);
        assertEq(engine.account(BOB).lastProofAt, before.lastProofAt);
    }

    function test_VerifyStress_WrongShockRefused() public {
        _openAlice();
        _openBob();
        assertFalse(stress.verifyStress(BOB, _shocks(-1_999, 1_000), _proof("bobStress")), "ETH off by 1 bp");
        assertFalse(stress.verifyStress(BOB, _shocks(-2_000, 0), _proof("bobStress")), "BTC shock dropped");
        assertFalse(stress.verifyStress(BOB, _shocks(0, 0), _proof("bobStress")), "no shock");
        // the plain maintenance proof is not a proof of the stressed statement, nor the reverse
        assertFalse(stress.verifyStress(BOB, _fixtureShocks(), _proof("bobProve")), "maintenance proof");
        assertTrue(stress.verifyStress(BOB, _shocks(0, 0), _proof("bobProve")), "0% is the maintenance statement");
        // another account's stress proof
        assertFalse(stress.verifyStress(ALICE, _fixtureShocks(), _proof("bobStress")), "bob's proof for alice");
        assertFalse(stress.verifyStress(BOB, _fixtureShocks(), _proof("aliceStress")), "alice's proof for bob");
    }

    function test_VerifyStress_BoundToTheCurrentNonce() public {
        _openBob();
        vm.prank(BOB);
        engine.proveMargin(_proof("bobProve")); // nonce 1 -> 2
        assertFalse(stress.verifyStress(BOB, _fixtureShocks(), _proof("bobStress")));
    }

    function test_RevertIf_ShockOfMinus100PercentOrLess() public {
        _openBob();
        vm.expectRevert(abi.encodeWithSelector(StressCheck.StressCheck__ShockTooLow.selector, ETH, int16(-10_000)));
        stress.stressInputs(BOB, _shocks(-10_000, 0));
        vm.expectRevert(abi.encodeWithSelector(StressCheck.StressCheck__ShockTooLow.selector, BTC, type(int16).min));
        stress.verifyStress(BOB, _shocks(0, type(int16).min), _proof("bobStress"));
        // -99.99% is a shock
        stress.stressInputs(BOB, _shocks(-9_999, 0));
    }

    function testFuzz_RevertIf_ShockAtMostMinus100Percent(int16 bps) public {
        bps = int16(bound(bps, type(int16).min, -10_000));
        _openBob();
        vm.expectRevert(abi.encodeWithSelector(StressCheck.StressCheck__ShockTooLow.selector, BTC, bps));
        stress.stressInputs(BOB, _shocks(0, bps));
    }

    function test_RevertIf_ShockCountIsNotTheMarketCount() public {
        _openBob();
        int16[] memory one = new int16[](1);
        vm.expectRevert(abi.encodeWithSelector(StressCheck.StressCheck__ShockCount.selector, 1, 2));
        stress.stressInputs(BOB, one);
        int16[] memory three = new int16[](3);
        vm.expectRevert(abi.encodeWithSelector(StressCheck.StressCheck__ShockCount.selector, 3, 2));
        stress.verifyStress(BOB, three, _proof("bobStress"));
    }

    function test_RevertIf_ShockedPriceOutOfRange() public {
        _openAlice();
        _setPrice(ethFeed, 1); // 1e-8 quote: -50% rounds down to 0
        vm.expectRevert(abi.encodeWithSelector(StressCheck.StressCheck__ShockedPriceOutOfRange.selector, 0, 0));
        stress.stressInputs(ALICE, _shocks(-5_000, 0));
        uint256 big = uint256(type(uint64).max) / 2;
        _setPrice(ethFeed, big); // x 3.2767 no longer fits 64 bits
        vm.expectRevert(
            abi.encodeWithSelector(
                StressCheck.StressCheck__ShockedPriceOutOfRange.selector, 0, (big * 42_767) / 10_000
            )
        );
        stress.stressInputs(ALICE, _shocks(type(int16).max, 0));
    }

    function test_RevertIf_StressWithStaleOracle() public {
        _openBob();
        vm.warp(T0 + HEARTBEAT + 1);
        vm.expectRevert(
            abi.encodeWithSelector(IOracleAdapter.OracleAdapter__StalePrice.selector, address(ethFeed), T0, HEARTBEAT)
        );
        stress.verifyStress(BOB, _fixtureShocks(), _proof("bobStress"));
        _refreshFeeds();
        assertTrue(stress.verifyStress(BOB, _fixtureShocks(), _proof("bobStress")));
    }

    function test_RevertIf_StressOfNoAccount() public {
        vm.expectRevert(abi.encodeWithSelector(IMarginEngine.MarginEngine__NoAccount.selector, stranger));
        stress.stressInputs(stranger, _shocks(0, 0));
    }

    function test_RevertIf_VerifyStressStarvedOfGas() public {
        _openBob();
        (bool ok, bytes memory ret) = address(stress).call{gas: 300_000}(
            abi.encodeCall(stress.verifyStress, (BOB, _fixtureShocks(), _proof("bobStress")))
        );
        assertFalse(ok);
        // casting to 'bytes4' is safe: the selector is the first 4 bytes of the revert data
        // forge-lint: disable-next-line(unsafe-typecast)
        assertEq(bytes4(ret), StressCheck.StressCheck__InsufficientGas.selector);
    }
}
