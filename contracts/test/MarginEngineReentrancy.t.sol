// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {ReentrancyGuard} from "@openzeppelin/contracts/utils/ReentrancyGuard.sol";

import {IMarginEngine} from "../src/engine/IMarginEngine.sol";
import {MarginEngineBase, ReentrantToken} from "./utils/MarginEngineBase.sol";

/// @dev Asset 0 is a malicious ERC-20 (ReentrantToken at EVE) whose transfer hook calls back
///      into the engine. Every state-changing entry point must refuse the nested call.
///      The proofs are the fixture's: they bind the engine address and the listed
///      parameters (prices, rates, haircuts), not the token contract, so they still verify.
contract MarginEngineReentrancyTest is MarginEngineBase {
    ReentrantToken internal token;

    function setUp() public override {
        _checkFixture();
        vm.warp(T0);
        _deployStack(true);
        token = ReentrantToken(EVE);
    }

    // ------------------------------------------------------------------ helpers

    /// @dev One call to every state-changing engine function (arguments do not matter: the
    ///      guard must refuse the call before looking at them).
    function _reentries() internal view returns (bytes[] memory calls) {
        IMarginEngine.Proof memory p = _proof("aliceProve");
        calls = new bytes[](11);
        uint256[6] memory record;
        calls[10] = abi.encodeCall(engine.reclaim, (1, record, _alicePositions(), 1));
        calls[0] = abi.encodeCall(engine.deposit, (USDC, 1));
        calls[1] = abi.encodeCall(engine.withdrawIdle, (USDC, 1));
        calls[2] = abi.encodeCall(engine.withdraw, (USDC, 1, p));
        calls[3] = abi.encodeCall(engine.close, (_alicePositions(), 1));
        calls[4] = abi.encodeCall(engine.liquidate, (ALICE));
        calls[5] = abi.encodeCall(engine.flagShock, (ALICE));
        calls[6] = abi.encodeCall(engine.proveMargin, (p));
        calls[7] = abi.encodeCall(engine.openIsolated, (1, ETH, USDC, p));
        calls[8] = abi.encodeCall(engine.openCross, (1, p));
        calls[9] = abi.encodeCall(engine.pokeStale, (ALICE));
    }

    /// @dev Runs `entry` (from `caller`) once per re-entered function; each must revert
    ///      with ReentrancyGuardReentrantCall, bubbled up through SafeERC20.
    function _assertEveryReentryRefused(address caller, bytes memory entry) internal {
        bytes[] memory calls = _reentries();
        for (uint256 i = 0; i < calls.length; ++i) {
            uint256 snap = vm.snapshotState();
            token.arm(address(engine), calls[i]);
            vm.prank(caller);
            vm.expectRevert(ReentrancyGuard.ReentrancyGuardReentrantCall.selector);
            // with expectRevert, a low-level call returns true iff it reverted as expected
            (bool ok,) = address(engine).call(entry);
            assertTrue(ok, string.concat("re-entered call ", vm.toString(i), " was not refused by the guard"));
            vm.revertToState(snap);
        }
    }

    function _tokenCall(bytes memory data) internal returns (bytes memory) {
        return token.exec(address(engine), data);
    }

    /// @dev Eve (the token itself) deposits both assets and opens her first cross account.
    function _openEve() internal {
        token.mint(EVE, EVE_TOKEN);
        token.selfApprove(address(engine), type(uint256).max);
        weth.mint(EVE, EVE_WETH);
        token.exec(address(weth), abi.encodeCall(weth.approve, (address(engine), type(uint256).max)));
        _tokenCall(abi.encodeCall(engine.deposit, (USDC, EVE_TOKEN)));
        _tokenCall(abi.encodeCall(engine.deposit, (WETH, EVE_WETH)));
        _tokenCall(abi.encodeCall(engine.openCross, (_commitment("eveOpen"), _proof("eveOpen"))));
    }

    // ------------------------------------------------------------------ control

    function test_UnarmedTokenBehavesLikeAnErc20() public {
        _openAlice();
        vm.prank(ALICE);
        engine.withdraw(USDC, ALICE_WITHDRAW, _proof("aliceWithdraw"));
        assertEq(token.balanceOf(ALICE), ALICE_WITHDRAW);
        _closeAlice();
        assertEq(token.balanceOf(ALICE), ALICE_USDC);
        assertEq(token.balanceOf(address(engine)), 0);
    }

    // ------------------------------------------------------------------ each entry point

    function test_RevertIf_ReentryDuringDeposit() public {
        _give(ALICE, USDC, 10e6);
        _assertEveryReentryRefused(ALICE, abi.encodeCall(engine.deposit, (USDC, 10e6)));
    }

    /// @dev At a loss the vault pulls the loss leg first (transferFrom from the engine):
    ///      the hook fires inside the vault's receiveLoss, while the engine's guard is held.
    function test_RevertIf_ReentryDuringLossPaidToVault() public {
        _openAlice();
        ethFeed.updateAnswer(1_800e8);
        _assertEveryReentryRefused(ALICE, abi.encodeCall(engine.close, (_alicePositions(), _salt("alice"))));
    }

    function test_RevertIf_ReentryDuringWithdrawIdle() public {
        _deposit(ALICE, USDC, 10e6);
        _assertEveryReentryRefused(ALICE, abi.encodeCall(engine.withdrawIdle, (USDC, 10e6)));
    }

    function test_RevertIf_ReentryDuringWithdraw() public {
        _openAlice();
        _assertEveryReentryRefused(
            ALICE, abi.encodeCall(engine.withdraw, (USDC, ALICE_WITHDRAW, _proof("aliceWithdraw")))
        );
    }

    function test_RevertIf_ReentryDuringClose() public {
        _openAlice();
        _assertEveryReentryRefused(ALICE, abi.encodeCall(engine.close, (_alicePositions(), _salt("alice"))));
    }

    function test_RevertIf_ReentryDuringLiquidate() public {
        _openAlice();
        vm.warp(T0 + LIFETIME + 1);
        _refreshFeeds(); // keep the feeds live: stale time stops the clocks
        _assertEveryReentryRefused(keeper, abi.encodeCall(engine.liquidate, (ALICE)));
    }

    // ------------------------------------------------------------------ the exploit

    /// @dev The attack the guard stops. `close` pays asset 0 before asset 1; from asset 0's
    ///      transfer hook, Eve opens a new cross account with a real opening proof made for
    ///      the mid-close balances (0 of asset 0, all her WETH). `close` then pays out the
    ///      WETH too, leaving an open account whose proven collateral is gone: a free option
    ///      on the pool (ETH up: profit paid from the pool; ETH down: nothing to seize).
    ///      Before the fix (open*/proveMargin/flagShock were not nonReentrant) this
    ///      nested openCross succeeded.
    function test_RevertIf_ReenteredOpenCrossDuringClose() public {
        _openEve();
        token.arm(address(engine), abi.encodeCall(engine.openCross, (_commitment("eveReopen"), _proof("eveReopen"))));

        vm.expectRevert(ReentrancyGuard.ReentrancyGuardReentrantCall.selector);
        _tokenCall(abi.encodeCall(engine.close, (_evePositions(), _salt("eve"))));

        // nothing moved: Eve's first account and balances are intact
        IMarginEngine.Account memory a = engine.account(EVE);
        assertEq(a.commitment, _commitment("eveOpen"));
        assertEq(a.nonce, 1);
        assertEq(engine.balanceOf(EVE, USDC), EVE_TOKEN);
        assertEq(engine.balanceOf(EVE, WETH), EVE_WETH);
    }

    /// @dev The nested opening proof is genuine: outside a callback, at the balances it was
    ///      made for, the engine accepts it (so only the guard stops the attack above).
    function test_NestedOpeningProofIsValidOutsideTheCallback() public {
        _openEve();
        _tokenCall(abi.encodeCall(engine.close, (_evePositions(), _salt("eve"))));
        // Eve now re-deposits only her WETH: the state the nested call would have seen
        _tokenCall(abi.encodeCall(engine.deposit, (WETH, EVE_WETH)));
        _assertInputs(
            engine.openingInputs(EVE, _commitment("eveReopen"), IMarginEngine.Kind.Cross, 0, 0),
            _inputs("eveReopen"),
            "eveReopen"
        );
        _tokenCall(abi.encodeCall(engine.openCross, (_commitment("eveReopen"), _proof("eveReopen"))));
        assertEq(engine.account(EVE).nonce, 2);
    }
}
