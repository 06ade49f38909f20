// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IMarginEngine} from "../src/engine/IMarginEngine.sol";
import {MarginEngine} from "../src/engine/MarginEngine.sol";
import {IsolatedGroth16Verifier} from "../src/generated/IsolatedVerifier.sol";
import {IOracleAdapter} from "../src/oracle/IOracleAdapter.sol";
import {MarginEngineBase} from "./utils/MarginEngineBase.sol";

/// @dev Binding of proofs: the engine builds exactly Python's public inputs; a proof is
///      usable once, by its account, on its engine and chain, for its statement; tampered
///      proofs and out-of-field inputs are refused; stale prices stop proving.
contract MarginEngineProofsTest is MarginEngineBase {
    // ================================================================== Python == Solidity

    function test_OpeningInputs_EqualPythons() public {
        _deposit(ALICE, USDC, ALICE_USDC);
        _assertInputs(
            engine.openingInputs(ALICE, _commitment("aliceOpen"), IMarginEngine.Kind.Isolated, ETH, USDC),
            _inputs("aliceOpen"),
            "aliceOpen"
        );
        _deposit(BOB, USDC, BOB_USDC);
        _deposit(BOB, WETH, BOB_WETH);
        _assertInputs(
            engine.openingInputs(BOB, _commitment("bobOpen"), IMarginEngine.Kind.Cross, 0, 0),
            _inputs("bobOpen"),
            "bobOpen"
        );
        // cross ignores the market and asset arguments
        _assertInputs(
            engine.openingInputs(BOB, _commitment("bobOpen"), IMarginEngine.Kind.Cross, 3, 1),
            _inputs("bobOpen"),
            "bobOpen'"
        );
    }

    function test_PublicInputs_EqualPythons() public {
        _openAlice();
        _openBob();
        _assertInputs(engine.publicInputs(ALICE, false, 0, 0), _inputs("aliceProve"), "aliceProve");
        _assertInputs(engine.publicInputs(ALICE, true, USDC, ALICE_WITHDRAW), _inputs("aliceWithdraw"), "aliceWithdraw");
        _assertInputs(engine.publicInputs(BOB, false, 0, 0), _inputs("bobProve"), "bobProve");
        _assertInputs(engine.publicInputs(BOB, true, USDC, BOB_WITHDRAW_USDC), _inputs("bobWithdraw"), "bobWithdraw");
        _setPrice(ethFeed, SHOCK_ETH_PRICE);
        _assertInputs(engine.publicInputs(ALICE, false, 0, 0), _inputs("aliceProveShock"), "aliceProveShock");
    }

    /// @dev The documented layout, word by word, for the isolated opening.
    function test_PublicInputs_Layout() public {
        _deposit(ALICE, USDC, ALICE_USDC);
        uint256 c = _commitment("aliceOpen");
        uint256[] memory x = engine.openingInputs(ALICE, c, IMarginEngine.Kind.Isolated, ETH, USDC);
        assertEq(x.length, 6);
        assertEq(x[0], c);
        assertEq(x[1], ETH_PRICE | (USDC_PRICE << 64));
        assertEq(x[2], ALICE_USDC * 1e12); // 18-decimal normalised
        assertEq(x[3], uint256(ETH_IMR) | (uint256(USDC_HAIRCUT) << 14) | (uint256(1) << 28));
        assertEq(x[4], uint256(uint160(ALICE)));
        assertEq(x[5], uint256(uint160(ENGINE_AT)) | (CHAIN_ID << 160));
        // maintenance, no opening flag; nonce 1 after the opening
        _openAliceWithoutDeposit();
        uint256[] memory y = engine.publicInputs(ALICE, false, 0, 0);
        assertEq(y[3], uint256(ETH_MMR) | (uint256(USDC_HAIRCUT) << 14));
        assertEq(y[4], uint256(uint160(ALICE)) | (uint256(1) << 160));
    }

    function _openAliceWithoutDeposit() internal {
        vm.prank(ALICE);
        engine.openIsolated(_commitment("aliceOpen"), ETH, USDC, _proof("aliceOpen"));
    }

    function test_RevertIf_PublicInputsPreviewWrongAsset() public {
        _openAlice();
        vm.expectRevert(abi.encodeWithSelector(IMarginEngine.MarginEngine__UnknownAsset.selector, 5));
        engine.publicInputs(ALICE, true, 5, 1);
        vm.expectRevert(abi.encodeWithSelector(IMarginEngine.MarginEngine__WrongAsset.selector, WETH));
        engine.publicInputs(ALICE, true, WETH, 1);
        vm.expectRevert(
            abi.encodeWithSelector(
                IMarginEngine.MarginEngine__InsufficientBalance.selector, USDC, ALICE_USDC, ALICE_USDC + 1
            )
        );
        engine.publicInputs(ALICE, true, USDC, ALICE_USDC + 1);
    }

    // ================================================================== gas

    /// A valid proof sent with too little gas is refused as such, never as an invalid proof.
    function test_RevertIf_ValidProofStarvedOfGas() public {
        _openAlice();
        IMarginEngine.Proof memory p = _proof("aliceProve");
        vm.prank(ALICE);
        (bool ok, bytes memory ret) = address(engine).call{gas: 300_000}(abi.encodeCall(IMarginEngine.proveMargin, (p)));
        assertFalse(ok);
        assertEq(bytes4(ret), IMarginEngine.MarginEngine__InsufficientGas.selector);
        vm.prank(ALICE);
        engine.proveMargin(p); // with enough gas the same proof is accepted
        assertEq(engine.account(ALICE).nonce, 2);
    }

    /// A bad proof burns at most the verifier's allowance, not the whole gas limit.
    function test_BadProofBurnsAtMostTheVerifierAllowance() public {
        _openAlice();
        IMarginEngine.Proof memory p = _proof("aliceProve");
        p.a[1] = p.a[1] ^ 1; // off the curve: the precompile fails and eats its gas
        uint256 before = gasleft();
        vm.prank(ALICE);
        (bool ok,) = address(engine).call{gas: 5_000_000}(abi.encodeCall(IMarginEngine.proveMargin, (p)));
        uint256 used = before - gasleft();
        assertFalse(ok);
        assertLt(used, engine.VERIFIER_GAS() + 150_000);
    }

    // ================================================================== replay

    function test_RevertIf_SameProofTwice() public {
        _openAlice();
        IMarginEngine.Proof memory p = _proof("aliceProve");
        vm.startPrank(ALICE);
        engine.proveMargin(p);
        vm.expectRevert(IMarginEngine.MarginEngine__InvalidProof.selector);
        engine.proveMargin(p); // the nonce moved: the engine now builds nonce 2
        vm.stopPrank();
    }

    function test_RevertIf_SameWithdrawProofTwice() public {
        _openAlice();
        IMarginEngine.Proof memory p = _proof("aliceWithdraw");
        vm.prank(ALICE);
        engine.withdraw(USDC, ALICE_WITHDRAW, p);
        _deposit(ALICE, USDC, ALICE_WITHDRAW); // the same balances again; only the nonce moved
        vm.startPrank(ALICE);
        vm.expectRevert(IMarginEngine.MarginEngine__InvalidProof.selector);
        engine.withdraw(USDC, ALICE_WITHDRAW, p);
        vm.stopPrank();
    }

    function test_RevertIf_OpeningProofReplayedAfterClose() public {
        _openAlice();
        _closeAlice();
        _deposit(ALICE, USDC, ALICE_USDC); // same balance, same prices: only the nonce differs
        vm.expectRevert(IMarginEngine.MarginEngine__InvalidProof.selector);
        _openAliceWithoutDeposit();
    }

    function test_RevertIf_OpeningProofReplayedAfterLiquidation() public {
        _openAlice();
        vm.warp(T0 + LIFETIME + 1);
        _refreshFeeds(); // keep the feeds live: stale time stops the clocks
        vm.prank(keeper);
        engine.liquidate(ALICE);
        _refreshFeeds();
        _deposit(ALICE, USDC, ALICE_USDC);
        vm.expectRevert(IMarginEngine.MarginEngine__InvalidProof.selector);
        _openAliceWithoutDeposit();
    }

    function test_RevertIf_ProofOfAnotherAccount() public {
        // Bob holds exactly Alice's balance and submits her opening proof and commitment
        _deposit(BOB, USDC, ALICE_USDC);
        vm.expectRevert(IMarginEngine.MarginEngine__InvalidProof.selector);
        vm.prank(BOB);
        engine.openIsolated(_commitment("aliceOpen"), ETH, USDC, _proof("aliceOpen"));
        // and a maintenance proof of Alice's cannot serve Bob's account
        _deposit(BOB, USDC, BOB_USDC - ALICE_USDC);
        _deposit(BOB, WETH, BOB_WETH);
        vm.prank(BOB);
        engine.openCross(_commitment("bobOpen"), _proof("bobOpen"));
        vm.expectRevert(IMarginEngine.MarginEngine__InvalidProof.selector);
        vm.prank(BOB);
        engine.proveMargin(_proof("aliceProve"));
    }

    function test_RevertIf_ProofForAnotherEngine() public {
        MarginEngine other = _newListedEngine();
        assertTrue(address(other) != ENGINE_AT);
        _give(ALICE, USDC, ALICE_USDC);
        vm.startPrank(ALICE);
        usdc.approve(address(other), type(uint256).max);
        other.deposit(USDC, ALICE_USDC);
        IMarginEngine.Proof memory p = _proof("aliceOpen");
        uint256 c = _commitment("aliceOpen");
        vm.expectRevert(IMarginEngine.MarginEngine__InvalidProof.selector);
        other.openIsolated(c, ETH, USDC, p);
        vm.stopPrank();
        // the same proof is good where it was made for
        _openAlice();
        assertEq(uint256(engine.account(ALICE).nonce), 1);
    }

    function test_RevertIf_ProofForAnotherChain() public {
        _deposit(ALICE, USDC, ALICE_USDC);
        vm.chainId(1);
        vm.expectRevert(IMarginEngine.MarginEngine__InvalidProof.selector);
        _openAliceWithoutDeposit();
        vm.chainId(CHAIN_ID);
        _openAliceWithoutDeposit();
    }

    function testFuzz_RevertIf_ProofForAnyOtherChain(uint64 chainId) public {
        vm.assume(chainId != CHAIN_ID);
        _openAlice();
        vm.chainId(chainId);
        vm.expectRevert(IMarginEngine.MarginEngine__InvalidProof.selector);
        vm.prank(ALICE);
        engine.proveMargin(_proof("aliceProve"));
    }

    // ================================================================== statement binding

    function test_RevertIf_InitialProofUsedForMaintenance() public {
        _openAlice();
        vm.expectRevert(IMarginEngine.MarginEngine__InvalidProof.selector);
        vm.prank(ALICE);
        engine.proveMargin(_proof("aliceWithdraw"));
    }

    function test_RevertIf_MaintenanceProofUsedForWithdraw() public {
        _openAlice();
        vm.expectRevert(IMarginEngine.MarginEngine__InvalidProof.selector);
        vm.prank(ALICE);
        engine.withdraw(USDC, ALICE_WITHDRAW, _proof("aliceProve"));
    }

    function test_RevertIf_ProofAfterPriceMoved() public {
        _openAlice();
        _setPrice(ethFeed, ETH_PRICE + 1);
        vm.expectRevert(IMarginEngine.MarginEngine__InvalidProof.selector);
        vm.prank(ALICE);
        engine.proveMargin(_proof("aliceProve"));
        // the collateral price is bound too
        _setPrice(ethFeed, ETH_PRICE);
        _setPrice(usdcFeed, USDC_PRICE - 1);
        vm.expectRevert(IMarginEngine.MarginEngine__InvalidProof.selector);
        vm.prank(ALICE);
        engine.proveMargin(_proof("aliceProve"));
    }

    function test_RevertIf_ProofAfterBalanceChanged() public {
        _openAlice();
        _deposit(ALICE, USDC, 1);
        vm.expectRevert(IMarginEngine.MarginEngine__InvalidProof.selector);
        vm.prank(ALICE);
        engine.proveMargin(_proof("aliceProve"));
    }

    function test_RevertIf_ProofAfterRiskParametersChanged() public {
        _openBob();
        uint256 snap = vm.snapshotState();
        vm.prank(owner);
        engine.setMarketRisk(BTC, BTC_MMR + 1, BTC_IMR);
        vm.expectRevert(IMarginEngine.MarginEngine__InvalidProof.selector);
        vm.prank(BOB);
        engine.proveMargin(_proof("bobProve"));

        vm.revertToState(snap);
        vm.prank(owner);
        engine.setHaircut(WETH, WETH_HAIRCUT - 1);
        vm.expectRevert(IMarginEngine.MarginEngine__InvalidProof.selector);
        vm.prank(BOB);
        engine.proveMargin(_proof("bobProve"));

        // restoring the parameters restores the statement
        vm.prank(owner);
        engine.setHaircut(WETH, WETH_HAIRCUT);
        vm.prank(BOB);
        engine.proveMargin(_proof("bobProve"));
    }

    /// @dev Listing a third market changes the cross statement (slot 2 leaves the pad price
    ///      and gets a rate), so proofs made before the listing no longer verify.
    function test_RevertIf_CrossProofAfterNewListing() public {
        _openBob();
        vm.prank(owner);
        engine.listMarket(address(ethFeed), 100, 200);
        vm.expectRevert(IMarginEngine.MarginEngine__InvalidProof.selector);
        vm.prank(BOB);
        engine.proveMargin(_proof("bobProve"));
    }

    // ================================================================== tampering

    /// @dev Gas for calls that carry a broken proof. A point off the curve makes the pairing
    ///      precompile fail, and a failing precompile consumes all the gas it was given: the
    ///      snarkjs verifier forwards everything, so a bad proof burns the caller's whole gas
    ///      limit before the engine reverts (1e9 under forge's default limit). Capping the
    ///      call keeps the test inside the block gas limit; the engine still reverts with
    ///      InvalidProof on the 1/64 it keeps.
    uint256 internal constant BAD_PROOF_GAS = 2_000_000;

    /// @dev Each of the 8 proof coordinates, moved by one, is refused; so is a coordinate
    ///      pushed past the base field (x + q) and a negated A (a valid curve point).
    function test_RevertIf_ProofTampered() public {
        _openAlice();
        IMarginEngine.Proof memory good = _proof("aliceProve");
        for (uint256 i = 0; i < 8; ++i) {
            IMarginEngine.Proof memory p = _proof("aliceProve");
            if (i < 2) p.a[i] = addmod(p.a[i], 1, Q);
            else if (i < 6) p.b[(i - 2) / 2][(i - 2) % 2] = addmod(p.b[(i - 2) / 2][(i - 2) % 2], 1, Q);
            else p.c[i - 6] = addmod(p.c[i - 6], 1, Q);
            vm.expectRevert(IMarginEngine.MarginEngine__InvalidProof.selector);
            vm.prank(ALICE);
            engine.proveMargin{gas: BAD_PROOF_GAS}(p);
        }
        IMarginEngine.Proof memory neg = _proof("aliceProve");
        neg.a[1] = Q - neg.a[1];
        vm.expectRevert(IMarginEngine.MarginEngine__InvalidProof.selector);
        vm.prank(ALICE);
        engine.proveMargin{gas: BAD_PROOF_GAS}(neg);

        IMarginEngine.Proof memory wide = _proof("aliceProve");
        wide.c[0] += Q;
        vm.expectRevert(IMarginEngine.MarginEngine__InvalidProof.selector);
        vm.prank(ALICE);
        engine.proveMargin{gas: BAD_PROOF_GAS}(wide);

        // G2 coordinates in snarkjs order instead of the EVM's
        IMarginEngine.Proof memory swapped = _proof("aliceProve");
        swapped.b = [[good.b[0][1], good.b[0][0]], [good.b[1][1], good.b[1][0]]];
        vm.expectRevert(IMarginEngine.MarginEngine__InvalidProof.selector);
        vm.prank(ALICE);
        engine.proveMargin{gas: BAD_PROOF_GAS}(swapped);

        // nothing was consumed: the untouched proof still works
        vm.prank(ALICE);
        engine.proveMargin(good);
    }

    function testFuzz_RevertIf_ProofCoordinateChanged(uint256 which, uint256 value) public {
        _openAlice();
        IMarginEngine.Proof memory p = _proof("aliceProve");
        which = bound(which, 0, 7);
        uint256 old;
        if (which < 2) {
            (old, p.a[which]) = (p.a[which], value);
        } else if (which < 6) {
            (old, p.b[(which - 2) / 2][(which - 2) % 2]) = (p.b[(which - 2) / 2][(which - 2) % 2], value);
        } else {
            (old, p.c[which - 6]) = (p.c[which - 6], value);
        }
        vm.assume(value != old);
        vm.expectRevert(IMarginEngine.MarginEngine__InvalidProof.selector);
        vm.prank(ALICE);
        engine.proveMargin{gas: BAD_PROOF_GAS}(p);
    }

    /// @dev The generated verifier on its own: it accepts the fixture proof with Python's
    ///      inputs and refuses any input moved to x + r (same value mod r) or by one.
    function test_Verifier_RejectsInputsOutsideTheField() public view {
        IMarginEngine.Proof memory p = _proof("aliceOpen");
        uint256[] memory x = _inputs("aliceOpen");
        uint256[6] memory pub;
        for (uint256 i = 0; i < 6; ++i) {
            pub[i] = x[i];
        }
        IsolatedGroth16Verifier v = IsolatedGroth16Verifier(isoVerifier);
        assertTrue(v.verifyProof(p.a, p.b, p.c, pub), "the fixture proof verifies");
        for (uint256 i = 0; i < 6; ++i) {
            uint256 old = pub[i];
            pub[i] = old + R;
            assertFalse(v.verifyProof(p.a, p.b, p.c, pub), "input + r accepted");
            pub[i] = old + 1;
            assertFalse(v.verifyProof(p.a, p.b, p.c, pub), "tampered input accepted");
            pub[i] = old;
        }
    }

    /// @dev The engine builds every input itself, so one >= r cannot arise from honest state:
    ///      this writes a commitment >= r straight into storage. The engine no longer checks
    ///      the field itself (a duplicate of the verifier's own check): the verifier refuses
    ///      the input (answers false), so the proof is refused as invalid.
    function test_RevertIf_PublicInputNotInField() public {
        _openAlice();
        bytes32 slot = _commitmentSlot(ALICE, _commitment("aliceOpen"));
        for (uint256 k = 0; k < 3; ++k) {
            uint256 bad = [R, R + _commitment("aliceOpen"), type(uint256).max][k];
            vm.store(address(engine), slot, bytes32(bad));
            assertEq(engine.account(ALICE).commitment, bad);
            vm.expectRevert(IMarginEngine.MarginEngine__InvalidProof.selector);
            vm.prank(ALICE);
            engine.proveMargin(_proof("aliceProve"));
        }
    }

    /// @dev Finds the storage slot of `who`'s commitment (first field of Account) by value,
    ///      so the test does not depend on the engine's storage layout.
    function _commitmentSlot(address who, uint256 value) internal view returns (bytes32) {
        for (uint256 base = 0; base < 64; ++base) {
            bytes32 slot = keccak256(abi.encode(who, base));
            if (uint256(vm.load(address(engine), slot)) == value) return slot;
        }
        revert("commitment slot not found");
    }

    // ================================================================== oracle

    function test_Prove_WithPriceExactlyHeartbeatOld() public {
        _openAlice();
        vm.warp(T0 + HEARTBEAT);
        vm.prank(ALICE);
        engine.proveMargin(_proof("aliceProve"));
    }

    function test_RevertIf_ProveWithPriceStaleByOneSecond() public {
        _openAlice();
        vm.warp(T0 + HEARTBEAT + 1);
        vm.expectRevert(
            abi.encodeWithSelector(IOracleAdapter.OracleAdapter__StalePrice.selector, address(ethFeed), T0, HEARTBEAT)
        );
        vm.prank(ALICE);
        engine.proveMargin(_proof("aliceProve"));
        // a stale collateral feed stops proving as well
        _refresh(ethFeed);
        vm.expectRevert(
            abi.encodeWithSelector(IOracleAdapter.OracleAdapter__StalePrice.selector, address(usdcFeed), T0, HEARTBEAT)
        );
        vm.prank(ALICE);
        engine.proveMargin(_proof("aliceProve"));
        _refresh(usdcFeed);
        vm.prank(ALICE);
        engine.proveMargin(_proof("aliceProve"));
    }

    function test_RevertIf_OpenWithStaleOracle() public {
        _deposit(BOB, USDC, BOB_USDC);
        _deposit(BOB, WETH, BOB_WETH);
        vm.warp(T0 + HEARTBEAT + 1);
        _refresh(ethFeed);
        _refresh(btcFeed);
        _refresh(usdcFeed); // WETH stays stale
        vm.expectRevert(
            abi.encodeWithSelector(IOracleAdapter.OracleAdapter__StalePrice.selector, address(wethFeed), T0, HEARTBEAT)
        );
        vm.prank(BOB);
        engine.openCross(_commitment("bobOpen"), _proof("bobOpen"));
    }

    function test_RevertIf_OracleFeedBroken() public {
        _openAlice();
        ethFeed.updateAnswer(0);
        vm.expectRevert(
            abi.encodeWithSelector(IOracleAdapter.OracleAdapter__NonPositivePrice.selector, address(ethFeed), _i(0))
        );
        vm.prank(ALICE);
        engine.proveMargin(_proof("aliceProve"));
    }
}
