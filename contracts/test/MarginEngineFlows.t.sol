// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IMarginEngine} from "../src/engine/IMarginEngine.sol";
import {MarginEngine} from "../src/engine/MarginEngine.sol";
import {IOracleAdapter} from "../src/oracle/IOracleAdapter.sol";
import {IMarginPool} from "../src/pool/IMarginPool.sol";
import {MarginPool} from "../src/pool/MarginPool.sol";
import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {MarginEngineBase, FeeToken} from "./utils/MarginEngineBase.sol";

/// @dev The trader's flows with real proofs: deposit, fund the pool, open (isolated and
///      cross), prove, withdraw (with a proof and idle), close (PnL against the pool).
contract MarginEngineFlowsTest is MarginEngineBase {
    /// @dev 1e-16 quote (size 1e-8 x price 1e-8): the unit of `pnl` and `badDebt`.
    uint256 internal constant QUOTE = 1e16;

    // ================================================================== deposit

    function test_Deposit_CreditsBalanceAndEmits() public {
        _give(ALICE, USDC, ALICE_USDC);
        vm.expectEmit(address(engine));
        emit IMarginEngine.Deposited(ALICE, USDC, ALICE_USDC);
        vm.prank(ALICE);
        engine.deposit(USDC, ALICE_USDC);
        assertEq(engine.balanceOf(ALICE, USDC), ALICE_USDC);
        assertEq(usdc.balanceOf(address(engine)), ALICE_USDC);
        assertEq(usdc.balanceOf(ALICE), 0);

        _deposit(ALICE, USDC, 1);
        assertEq(engine.balanceOf(ALICE, USDC), ALICE_USDC + 1);
    }

    function test_Deposit_IntoOpenAccount() public {
        _openAlice();
        _deposit(ALICE, USDC, 7e6);
        assertEq(engine.balanceOf(ALICE, USDC), ALICE_USDC + 7e6);
        _openBob();
        _deposit(BOB, WETH, 1);
        assertEq(engine.balanceOf(BOB, WETH), BOB_WETH + 1);
    }

    function test_Deposit_CreditsWhatArrives() public {
        MarginEngine e = new MarginEngine(owner, oracle, isoVerifier, crossVerifier, poseidon, LIFETIME, GRACE, PENALTY);
        FeeToken fee = new FeeToken(1000); // 10% burnt on arrival
        vm.prank(owner);
        e.listCollateral(address(fee), address(wethFeed), 0);
        fee.mint(ALICE, 100e18);
        vm.startPrank(ALICE);
        fee.approve(address(e), type(uint256).max);
        vm.expectEmit(address(e));
        emit IMarginEngine.Deposited(ALICE, 0, 90e18);
        e.deposit(0, 100e18);
        vm.stopPrank();
        assertEq(e.balanceOf(ALICE, 0), 90e18);
        assertEq(fee.balanceOf(address(e)), 90e18);
    }

    function test_RevertIf_DepositArrivesAsNothing() public {
        MarginEngine e = new MarginEngine(owner, oracle, isoVerifier, crossVerifier, poseidon, LIFETIME, GRACE, PENALTY);
        FeeToken fee = new FeeToken(10_000); // everything burnt
        vm.prank(owner);
        e.listCollateral(address(fee), address(wethFeed), 0);
        fee.mint(ALICE, 1e18);
        vm.startPrank(ALICE);
        fee.approve(address(e), type(uint256).max);
        vm.expectRevert(IMarginEngine.MarginEngine__ZeroAmount.selector);
        e.deposit(0, 1e18);
        vm.stopPrank();
    }

    function test_RevertIf_DepositZero() public {
        vm.expectRevert(IMarginEngine.MarginEngine__ZeroAmount.selector);
        vm.prank(ALICE);
        engine.deposit(USDC, 0);
    }

    function test_RevertIf_DepositUnknownAsset() public {
        vm.expectRevert(abi.encodeWithSelector(IMarginEngine.MarginEngine__UnknownAsset.selector, 2));
        vm.prank(ALICE);
        engine.deposit(2, 1);
    }

    /// @dev Normalised (18-decimal) balances stay below 2^96, the circuit's bound. USDC has 6
    ///      decimals, so the largest balance is floor((2^96 - 1) / 1e12) base units.
    function test_RevertIf_DepositBalanceTooLarge() public {
        uint256 max = ((uint256(1) << 96) - 1) / 1e12;
        _deposit(ALICE, USDC, max);
        _give(ALICE, USDC, 1);
        vm.expectRevert(abi.encodeWithSelector(IMarginEngine.MarginEngine__BalanceTooLarge.selector, (max + 1) * 1e12));
        vm.prank(ALICE);
        engine.deposit(USDC, 1);
    }

    function test_RevertIf_DepositOtherAssetIntoIsolated() public {
        _openAlice();
        _give(ALICE, WETH, 1e18);
        vm.expectRevert(abi.encodeWithSelector(IMarginEngine.MarginEngine__WrongAsset.selector, WETH));
        vm.prank(ALICE);
        engine.deposit(WETH, 1e18);
    }

    // ================================================================== withdrawIdle

    function test_WithdrawIdle_ReturnsTokensAndEmits() public {
        _deposit(ALICE, USDC, ALICE_USDC);
        vm.expectEmit(address(engine));
        emit IMarginEngine.Withdrawn(ALICE, USDC, 123, 0);
        vm.prank(ALICE);
        engine.withdrawIdle(USDC, 123);
        assertEq(engine.balanceOf(ALICE, USDC), ALICE_USDC - 123);
        assertEq(usdc.balanceOf(ALICE), 123);
        vm.prank(ALICE);
        engine.withdrawIdle(USDC, ALICE_USDC - 123);
        assertEq(usdc.balanceOf(address(engine)), 0);
    }

    function test_RevertIf_WithdrawIdleWithOpenAccount() public {
        _openAlice();
        vm.expectRevert(abi.encodeWithSelector(IMarginEngine.MarginEngine__AccountExists.selector, ALICE));
        vm.prank(ALICE);
        engine.withdrawIdle(USDC, 1);
    }

    function test_RevertIf_WithdrawIdleMoreThanBalance() public {
        _deposit(ALICE, USDC, 10);
        vm.expectRevert(abi.encodeWithSelector(IMarginEngine.MarginEngine__InsufficientBalance.selector, USDC, 10, 11));
        vm.prank(ALICE);
        engine.withdrawIdle(USDC, 11);
    }

    function test_RevertIf_WithdrawIdleZero() public {
        _deposit(ALICE, USDC, 10);
        vm.expectRevert(IMarginEngine.MarginEngine__ZeroAmount.selector);
        vm.prank(ALICE);
        engine.withdrawIdle(USDC, 0);
    }

    function test_RevertIf_WithdrawIdleUnknownAsset() public {
        vm.expectRevert(abi.encodeWithSelector(IMarginEngine.MarginEngine__UnknownAsset.selector, 7));
        vm.prank(ALICE);
        engine.withdrawIdle(7, 1);
    }

    // ================================================================== setPool

    function test_SetPool_WiresVaultAndApproves() public {
        MarginEngine e = _newListedEngine();
        assertTrue(address(e.pool(USDC)) != address(0) && address(e.pool(WETH)) != address(0));
        assertEq(address(engine.pool(USDC)), address(usdcPool));
        assertEq(address(engine.pool(WETH)), address(wethPool));
        assertEq(usdc.allowance(address(engine), address(usdcPool)), type(uint256).max);
        assertEq(weth.allowance(address(engine), address(wethPool)), type(uint256).max);
    }

    function test_SetPool_Emits() public {
        MarginEngine e = new MarginEngine(owner, oracle, isoVerifier, crossVerifier, poseidon, LIFETIME, GRACE, PENALTY);
        vm.startPrank(owner);
        e.listCollateral(address(usdc), address(usdcFeed), USDC_HAIRCUT);
        MarginPool p = _newPool(e, usdc, "p", "p");
        vm.expectEmit(address(e));
        emit IMarginEngine.PoolSet(USDC, address(p));
        e.setPool(USDC, p);
        vm.stopPrank();
    }

    function test_RevertIf_SetPoolTwice() public {
        vm.startPrank(owner);
        MarginPool p = _newPool(engine, usdc, "p", "p");
        vm.expectRevert(abi.encodeWithSelector(IMarginEngine.MarginEngine__PoolAlreadySet.selector, USDC));
        engine.setPool(USDC, p);
        vm.stopPrank();
    }

    function test_RevertIf_SetPoolOfAnotherAssetOrEngine() public {
        MarginEngine e = new MarginEngine(owner, oracle, isoVerifier, crossVerifier, poseidon, LIFETIME, GRACE, PENALTY);
        vm.startPrank(owner);
        e.listCollateral(address(usdc), address(usdcFeed), USDC_HAIRCUT);
        MarginPool wrongAsset = _newPool(e, weth, "p", "p");
        vm.expectRevert(abi.encodeWithSelector(IMarginEngine.MarginEngine__InvalidPool.selector, address(wrongAsset)));
        e.setPool(USDC, wrongAsset);
        MarginPool wrongEngine = _newPool(engine, usdc, "p", "p");
        vm.expectRevert(abi.encodeWithSelector(IMarginEngine.MarginEngine__InvalidPool.selector, address(wrongEngine)));
        e.setPool(USDC, wrongEngine);
        vm.expectRevert(abi.encodeWithSelector(IMarginEngine.MarginEngine__UnknownAsset.selector, 1));
        e.setPool(WETH, wrongAsset);
        vm.stopPrank();
    }

    function test_RevertIf_SetPoolNotOwner() public {
        vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, stranger));
        vm.prank(stranger);
        engine.setPool(USDC, usdcPool);
    }

    // ================================================================== open

    function test_OpenIsolated_StoresAccountAndEmits() public {
        _deposit(ALICE, USDC, ALICE_USDC);
        uint256 c = _commitment("aliceOpen");
        vm.expectEmit(address(engine));
        emit IMarginEngine.AccountOpened(ALICE, IMarginEngine.Kind.Isolated, c, ETH, USDC, 0);
        vm.prank(ALICE);
        engine.openIsolated(c, ETH, USDC, _proof("aliceOpen"));

        IMarginEngine.Account memory a = engine.account(ALICE);
        assertEq(a.commitment, c);
        assertEq(uint256(a.kind), uint256(IMarginEngine.Kind.Isolated));
        assertEq(uint256(a.market), ETH);
        assertEq(uint256(a.asset), USDC);
        assertEq(uint256(a.nonce), 1);
        assertEq(uint256(a.lastProofAt), T0);
        assertEq(uint256(a.shockAt), 0);
        assertEq(a.provenPriceWords[0], _inputs("aliceOpen")[1]);
        assertEq(a.provenPriceWords[0], ETH_PRICE | (USDC_PRICE << 64));
        assertEq(a.provenPriceWords[1], 0);
        (bool now_, uint64 at) = engine.liquidatable(ALICE);
        assertFalse(now_);
        assertEq(uint256(at), T0 + LIFETIME + 1);
    }

    function test_OpenCross_StoresAccountAndEmits() public {
        _deposit(BOB, USDC, BOB_USDC);
        _deposit(BOB, WETH, BOB_WETH);
        uint256 c = _commitment("bobOpen");
        vm.expectEmit(address(engine));
        emit IMarginEngine.AccountOpened(BOB, IMarginEngine.Kind.Cross, c, 0, 0, 0);
        vm.prank(BOB);
        engine.openCross(c, _proof("bobOpen"));

        IMarginEngine.Account memory a = engine.account(BOB);
        assertEq(a.commitment, c);
        assertEq(uint256(a.kind), uint256(IMarginEngine.Kind.Cross));
        assertEq(uint256(a.nonce), 1);
        assertEq(uint256(a.lastProofAt), T0);
        // markets ETH, BTC, pad, pad | assets USDC, WETH
        // market slots 2 and 3 are unlisted: proven at the pad price 1, stored as 0
        assertEq(a.provenPriceWords[0], ETH_PRICE | (BTC_PRICE << 64));
        assertEq(a.provenPriceWords[1], (USDC_PRICE << 64) | (WETH_PRICE << 128));
    }

    /// @dev A feed shared by two slots (WETH collateral priced by the ETH/USD feed, as on
    ///      the local chain) is read once: one getPrices call with the distinct feeds in slot
    ///      order, and both slots get its price. Unlisted slots are not read (pad price).
    function test_SharedFeedReadOnce() public {
        MarginEngine e = new MarginEngine(owner, oracle, isoVerifier, crossVerifier, poseidon, LIFETIME, GRACE, PENALTY);
        vm.startPrank(owner);
        e.listMarket(address(ethFeed), ETH_MMR, ETH_IMR);
        e.listMarket(address(btcFeed), BTC_MMR, BTC_IMR);
        e.listCollateral(address(usdc), address(usdcFeed), USDC_HAIRCUT);
        e.listCollateral(address(weth), address(ethFeed), WETH_HAIRCUT);
        vm.stopPrank();
        address[] memory distinct = new address[](3);
        (distinct[0], distinct[1], distinct[2]) = (address(ethFeed), address(btcFeed), address(usdcFeed));
        vm.expectCall(address(oracle), abi.encodeCall(IOracleAdapter.getPrices, (distinct)));
        uint256[] memory inputs = e.openingInputs(BOB, 1, IMarginEngine.Kind.Cross, 0, 0);
        assertEq(inputs[1], ETH_PRICE | (BTC_PRICE << 64) | (uint256(1) << 128));
        assertEq(inputs[2], 1 | (USDC_PRICE << 64) | (ETH_PRICE << 128));

        // isolated on (ETH market, WETH): one feed for both slots
        address[] memory one = new address[](1);
        one[0] = address(ethFeed);
        vm.expectCall(address(oracle), abi.encodeCall(IOracleAdapter.getPrices, (one)));
        inputs = e.openingInputs(ALICE, 1, IMarginEngine.Kind.Isolated, ETH, WETH);
        assertEq(inputs[1], ETH_PRICE | (ETH_PRICE << 64));
    }

    /// @dev With nothing listed every slot carries the pad price and the oracle is not called.
    function test_NothingListedPadsWithoutOracleCall() public {
        MarginEngine e = new MarginEngine(owner, oracle, isoVerifier, crossVerifier, poseidon, LIFETIME, GRACE, PENALTY);
        vm.etch(address(oracle), hex"fe"); // any call to the oracle would now fail
        uint256[] memory inputs = e.openingInputs(BOB, 1, IMarginEngine.Kind.Cross, 0, 0);
        assertEq(inputs[1], 1 | (uint256(1) << 64) | (uint256(1) << 128));
        assertEq(inputs[2], 1 | (uint256(1) << 64) | (uint256(1) << 128));
    }

    function test_RevertIf_OpenIsolatedUnknownMarket() public {
        vm.expectRevert(abi.encodeWithSelector(IMarginEngine.MarginEngine__UnknownMarket.selector, 2));
        vm.prank(ALICE);
        engine.openIsolated(1, 2, USDC, _proof("aliceOpen"));
    }

    function test_RevertIf_OpenIsolatedUnknownAsset() public {
        vm.expectRevert(abi.encodeWithSelector(IMarginEngine.MarginEngine__UnknownAsset.selector, 2));
        vm.prank(ALICE);
        engine.openIsolated(1, ETH, 2, _proof("aliceOpen"));
    }

    function test_RevertIf_OpenIsolatedHoldingOtherAsset() public {
        _deposit(ALICE, USDC, ALICE_USDC);
        _deposit(ALICE, WETH, 1);
        vm.expectRevert(abi.encodeWithSelector(IMarginEngine.MarginEngine__WrongAsset.selector, WETH));
        vm.prank(ALICE);
        engine.openIsolated(_commitment("aliceOpen"), ETH, USDC, _proof("aliceOpen"));
    }

    function test_RevertIf_OpenTwice() public {
        _openAlice();
        IMarginEngine.Proof memory p = _proof("aliceOpen");
        uint256 c = _commitment("aliceOpen");
        vm.startPrank(ALICE);
        vm.expectRevert(abi.encodeWithSelector(IMarginEngine.MarginEngine__AccountExists.selector, ALICE));
        engine.openIsolated(c, ETH, USDC, p);
        vm.expectRevert(abi.encodeWithSelector(IMarginEngine.MarginEngine__AccountExists.selector, ALICE));
        engine.openCross(c, p);
        vm.stopPrank();
    }

    function test_RevertIf_OpenWithZeroCommitment() public {
        vm.expectRevert(abi.encodeWithSelector(IMarginEngine.MarginEngine__InvalidCommitment.selector, 0));
        vm.prank(BOB);
        engine.openCross(0, _proof("bobOpen"));
    }

    function test_RevertIf_OpenWithCommitmentNotInField() public {
        // c + r would open the same Poseidon output mod r; the engine refuses it
        uint256 c = _commitment("aliceOpen") + R;
        _deposit(ALICE, USDC, ALICE_USDC);
        vm.expectRevert(abi.encodeWithSelector(IMarginEngine.MarginEngine__InvalidCommitment.selector, c));
        vm.prank(ALICE);
        engine.openIsolated(c, ETH, USDC, _proof("aliceOpen"));
        vm.expectRevert(abi.encodeWithSelector(IMarginEngine.MarginEngine__InvalidCommitment.selector, R));
        vm.prank(ALICE);
        engine.openIsolated(R, ETH, USDC, _proof("aliceOpen"));
    }

    function test_RevertIf_OpenWithoutTheProvenBalance() public {
        _deposit(ALICE, USDC, ALICE_USDC - 1);
        vm.expectRevert(IMarginEngine.MarginEngine__InvalidProof.selector);
        vm.prank(ALICE);
        engine.openIsolated(_commitment("aliceOpen"), ETH, USDC, _proof("aliceOpen"));
    }

    function test_RevertIf_OpenIsolatedOnAnotherMarket() public {
        // the same proof names slot 0; on BTC the slot price and rate differ
        _deposit(ALICE, USDC, ALICE_USDC);
        vm.expectRevert(IMarginEngine.MarginEngine__InvalidProof.selector);
        vm.prank(ALICE);
        engine.openIsolated(_commitment("aliceOpen"), BTC, USDC, _proof("aliceOpen"));
    }

    function test_RevertIf_OpenIsolatedProofAsCross() public {
        _deposit(ALICE, USDC, ALICE_USDC);
        vm.expectRevert(IMarginEngine.MarginEngine__InvalidProof.selector);
        vm.prank(ALICE);
        engine.openCross(_commitment("aliceOpen"), _proof("aliceOpen"));
    }

    // ================================================================== proveMargin

    function test_ProveMargin_IsolatedRefreshesTheAccount() public {
        _openAlice();
        _skip(12 hours);
        vm.expectEmit(address(engine));
        emit IMarginEngine.MarginProven(ALICE, 1, _inputs("aliceProve")[1]);
        vm.prank(ALICE);
        engine.proveMargin(_proof("aliceProve"));
        IMarginEngine.Account memory a = engine.account(ALICE);
        assertEq(uint256(a.nonce), 2);
        assertEq(uint256(a.lastProofAt), T0 + 12 hours);
        (, uint64 at) = engine.liquidatable(ALICE);
        assertEq(uint256(at), T0 + 12 hours + LIFETIME + 1);
    }

    function test_ProveMargin_CrossRefreshesTheAccount() public {
        _openBob();
        _skip(LIFETIME); // the last second before the proof lapses
        vm.expectEmit(address(engine));
        emit IMarginEngine.MarginProven(BOB, 1, _inputs("bobProve")[1]);
        vm.prank(BOB);
        engine.proveMargin(_proof("bobProve"));
        assertEq(uint256(engine.account(BOB).nonce), 2);
        assertEq(uint256(engine.account(BOB).lastProofAt), T0 + LIFETIME);
    }

    function test_RevertIf_ProveMarginNoAccount() public {
        vm.expectRevert(abi.encodeWithSelector(IMarginEngine.MarginEngine__NoAccount.selector, ALICE));
        vm.prank(ALICE);
        engine.proveMargin(_proof("aliceProve"));
    }

    // ================================================================== withdraw

    function test_Withdraw_IsolatedWithProof() public {
        _openAlice();
        vm.expectEmit(address(engine));
        emit IMarginEngine.Withdrawn(ALICE, USDC, ALICE_WITHDRAW, 1);
        vm.prank(ALICE);
        engine.withdraw(USDC, ALICE_WITHDRAW, _proof("aliceWithdraw"));
        assertEq(engine.balanceOf(ALICE, USDC), ALICE_USDC - ALICE_WITHDRAW);
        assertEq(usdc.balanceOf(ALICE), ALICE_WITHDRAW);
        assertEq(uint256(engine.account(ALICE).nonce), 2);
        assertEq(uint256(engine.account(ALICE).lastProofAt), T0);
    }

    function test_Withdraw_CrossWithProof() public {
        _openBob();
        _skip(1 hours);
        vm.prank(BOB);
        engine.withdraw(USDC, BOB_WITHDRAW_USDC, _proof("bobWithdraw"));
        assertEq(engine.balanceOf(BOB, USDC), BOB_USDC - BOB_WITHDRAW_USDC);
        assertEq(engine.balanceOf(BOB, WETH), BOB_WETH);
        assertEq(usdc.balanceOf(BOB), BOB_WITHDRAW_USDC);
        assertEq(uint256(engine.account(BOB).lastProofAt), T0 + 1 hours);
    }

    /// @dev The proof is over the balances *after* the withdrawal: any other amount fails.
    function test_RevertIf_WithdrawAmountDiffersFromProof() public {
        _openAlice();
        vm.startPrank(ALICE);
        vm.expectRevert(IMarginEngine.MarginEngine__InvalidProof.selector);
        engine.withdraw(USDC, ALICE_WITHDRAW + 1, _proof("aliceWithdraw"));
        vm.expectRevert(IMarginEngine.MarginEngine__InvalidProof.selector);
        engine.withdraw(USDC, ALICE_WITHDRAW - 1, _proof("aliceWithdraw"));
        vm.stopPrank();
    }

    function test_RevertIf_WithdrawOtherAssetFromIsolated() public {
        _openAlice();
        vm.expectRevert(abi.encodeWithSelector(IMarginEngine.MarginEngine__WrongAsset.selector, WETH));
        vm.prank(ALICE);
        engine.withdraw(WETH, 1, _proof("aliceWithdraw"));
    }

    function test_RevertIf_WithdrawMoreThanBalance() public {
        _openAlice();
        vm.expectRevert(
            abi.encodeWithSelector(
                IMarginEngine.MarginEngine__InsufficientBalance.selector, USDC, ALICE_USDC, ALICE_USDC + 1
            )
        );
        vm.prank(ALICE);
        engine.withdraw(USDC, ALICE_USDC + 1, _proof("aliceWithdraw"));
    }

    function test_RevertIf_WithdrawZero() public {
        _openAlice();
        vm.expectRevert(IMarginEngine.MarginEngine__ZeroAmount.selector);
        vm.prank(ALICE);
        engine.withdraw(USDC, 0, _proof("aliceWithdraw"));
    }

    function test_RevertIf_WithdrawUnknownAsset() public {
        _openBob();
        vm.expectRevert(abi.encodeWithSelector(IMarginEngine.MarginEngine__UnknownAsset.selector, 2));
        vm.prank(BOB);
        engine.withdraw(2, 1, _proof("bobWithdraw"));
    }

    function test_RevertIf_WithdrawNoAccount() public {
        _deposit(ALICE, USDC, ALICE_USDC);
        vm.expectRevert(abi.encodeWithSelector(IMarginEngine.MarginEngine__NoAccount.selector, ALICE));
        vm.prank(ALICE);
        engine.withdraw(USDC, 1, _proof("aliceWithdraw"));
    }

    // ================================================================== close

    function test_Close_IsolatedAtEntryReturnsCollateral() public {
        _openAlice();
        vm.expectEmit(address(engine));
        emit IMarginEngine.AccountClosed(ALICE, 0, 0, 0, _two(0, 0), _two(0, 0), _two(ALICE_USDC, 0));
        _closeAlice();
        assertEq(usdc.balanceOf(ALICE), ALICE_USDC);
        assertEq(engine.balanceOf(ALICE, USDC), 0);
        assertEq(_poolAssets(USDC), 0);
        IMarginEngine.Account memory a = engine.account(ALICE);
        assertEq(uint256(a.kind), uint256(IMarginEngine.Kind.None));
        assertEq(a.commitment, 0);
        assertEq(uint256(a.nonce), 1, "the nonce survives the close");
        assertEq(uint256(a.lastProofAt), 0);
        assertEq(a.provenPriceWords[0], 0);
    }

    /// @dev Long 1 ETH from 2000 to 2500: +500 quote, paid by the USDC vault.
    function test_Close_IsolatedProfitPaidFromPool() public {
        _openAlice();
        _fundPool(USDC, 1_000e6);
        ethFeed.updateAnswer(2_500e8);
        vm.expectEmit(address(engine));
        emit IMarginEngine.AccountClosed(ALICE, _i(500 * QUOTE), 0, 0, _two(0, 0), _two(500e6, 0), _two(ALICE_USDC, 0));
        vm.expectEmit(address(usdcPool));
        emit IMarginPool.ProfitPaid(ALICE, 500e6, 500e6, 0);
        _closeAlice();
        assertEq(usdc.balanceOf(ALICE), ALICE_USDC + 500e6);
        assertEq(_poolAssets(USDC), 500e6);
        assertEq(usdc.balanceOf(address(engine)), 0, "nothing left in the engine");
        assertEq(usdc.balanceOf(address(usdcPool)), 500e6);
        assertEq(usdcPool.accounts().profitsPaid, 500e6);
    }

    /// @dev Profit converts at the collateral price, rounded down: USDC at 0.99999999.
    function test_Close_IsolatedProfitRoundsDown() public {
        _openAlice();
        _fundPool(USDC, 1_000e6);
        ethFeed.updateAnswer(2_500e8);
        usdcFeed.updateAnswer(0.99999999e8);
        _closeAlice();
        // 500 / 0.99999999 = 500.0000050000000500... USDC -> 500.000005
        assertEq(usdc.balanceOf(ALICE), ALICE_USDC + 500_000_005);
    }

    /// @dev ETH to 1800: -200 quote taken from the balance into the vault.
    function test_Close_IsolatedLossTakenToPool() public {
        _openAlice();
        ethFeed.updateAnswer(1_800e8);
        vm.expectEmit(address(engine));
        emit IMarginEngine.AccountClosed(
            ALICE, -_i(200 * QUOTE), 0, 0, _two(200e6, 0), _two(0, 0), _two(ALICE_USDC - 200e6, 0)
        );
        _closeAlice();
        assertEq(usdc.balanceOf(ALICE), ALICE_USDC - 200e6);
        assertEq(_poolAssets(USDC), 200e6);
        assertEq(usdcPool.accounts().lossesReceived, 200e6);
    }

    /// @dev A loss converts at the collateral price, rounded up: USDC at 1.00000001.
    function test_Close_IsolatedLossRoundsUp() public {
        _openAlice();
        ethFeed.updateAnswer(1_800e8);
        usdcFeed.updateAnswer(1.00000001e8);
        _closeAlice();
        // 200 / 1.00000001 = 199.999998000000019999... USDC -> 199.999999 taken
        assertEq(_poolAssets(USDC), 199_999_999);
        assertEq(usdc.balanceOf(ALICE), ALICE_USDC - 199_999_999);
    }

    /// @dev ETH to 1400: -600 quote against 500 USDC; 100 quote (100 USDC) of bad debt is
    ///      reported and recorded in the USDC vault.
    function test_Close_IsolatedBadDebt() public {
        _openAlice();
        ethFeed.updateAnswer(1_400e8);
        vm.expectEmit(address(engine));
        emit IMarginEngine.AccountClosed(
            ALICE, -_i(600 * QUOTE), 0, 100 * QUOTE, _two(ALICE_USDC, 0), _two(0, 0), _two(0, 0)
        );
        vm.expectEmit(address(usdcPool));
        emit IMarginPool.BadDebtRecorded(100e6);
        _closeAlice();
        assertEq(usdc.balanceOf(ALICE), 0);
        assertEq(_poolAssets(USDC), ALICE_USDC);
        assertEq(usdcPool.accounts().badDebt, 100e6);
        assertEq(uint256(engine.account(ALICE).kind), 0);
    }

    /// @dev Long 2 ETH 2000 -> 2100 (+200), short 0.1 BTC 60000 -> 59000 (+100): +300 quote,
    ///      split by collateral value at the close prices: 1000 USDC and 0.5 WETH at 2000
    ///      are worth 1000 each, so each vault pays 150 (150 USDC; 0.075 WETH).
    function test_Close_CrossProfitSplitByCollateralValue() public {
        _openBob();
        _fundPool(USDC, 1_000e6);
        _fundPool(WETH, 1e18);
        ethFeed.updateAnswer(2_100e8);
        btcFeed.updateAnswer(59_000e8);
        vm.expectEmit(address(engine));
        emit IMarginEngine.AccountClosed(
            BOB, _i(300 * QUOTE), 0, 0, _two(0, 0), _two(150e6, 0.075e18), _two(BOB_USDC, BOB_WETH)
        );
        _closeBob();
        assertEq(usdc.balanceOf(BOB), BOB_USDC + 150e6);
        assertEq(weth.balanceOf(BOB), BOB_WETH + 0.075e18);
        assertEq(_poolAssets(USDC), 850e6);
        assertEq(_poolAssets(WETH), 1e18 - 0.075e18);
    }

    /// @dev The weights follow the prices at close: WETH at 3000 makes 0.5 WETH worth 1500
    ///      against 1000 USDC, so a 250 quote loss (ETH 2000 -> 1875, long 2) is 100 USDC
    ///      and 150 quote = 0.05 WETH.
    function test_Close_CrossLossSplitByCollateralValue() public {
        _openBob();
        ethFeed.updateAnswer(1_875e8);
        wethFeed.updateAnswer(3_000e8);
        vm.expectEmit(address(engine));
        emit IMarginEngine.AccountClosed(
            BOB, -_i(250 * QUOTE), 0, 0, _two(100e6, 0.05e18), _two(0, 0), _two(BOB_USDC - 100e6, BOB_WETH - 0.05e18)
        );
        _closeBob();
        assertEq(usdc.balanceOf(BOB), BOB_USDC - 100e6);
        assertEq(weth.balanceOf(BOB), BOB_WETH - 0.05e18);
        assertEq(_poolAssets(USDC), 100e6);
        assertEq(_poolAssets(WETH), 0.05e18);
    }

    /// @dev ETH 2000 -> 500 and BTC 60000 -> 61000: -3000 - 100 quote against 1000 + 1000:
    ///      both balances go to their vaults, 1100 quote (1100 USDC) is bad debt.
    function test_Close_CrossBadDebt() public {
        _openBob();
        ethFeed.updateAnswer(500e8);
        btcFeed.updateAnswer(61_000e8);
        vm.expectEmit(address(engine));
        emit IMarginEngine.AccountClosed(
            BOB, -_i(3_100 * QUOTE), 0, 1_100 * QUOTE, _two(BOB_USDC, BOB_WETH), _two(0, 0), _two(0, 0)
        );
        _closeBob();
        assertEq(usdc.balanceOf(BOB), 0);
        assertEq(weth.balanceOf(BOB), 0);
        assertEq(_poolAssets(USDC), BOB_USDC);
        assertEq(_poolAssets(WETH), BOB_WETH);
        assertEq(usdcPool.accounts().badDebt, 1_100e6);
        assertEq(wethPool.accounts().badDebt, 0);
    }

    function test_Close_AfterWithdrawAndProof() public {
        _openAlice();
        vm.startPrank(ALICE);
        engine.withdraw(USDC, ALICE_WITHDRAW, _proof("aliceWithdraw"));
        vm.stopPrank();
        _closeAlice();
        assertEq(usdc.balanceOf(ALICE), ALICE_USDC);
        assertEq(uint256(engine.account(ALICE).nonce), 2);
    }

    function test_Close_ThenIdleFundsAndNewDeposits() public {
        _openAlice();
        _closeAlice();
        // a closed account is idle: deposit any asset and withdraw without a proof
        _deposit(ALICE, WETH, 1e18);
        vm.prank(ALICE);
        engine.withdrawIdle(WETH, 1e18);
        assertEq(weth.balanceOf(ALICE), 1e18);
    }

    function test_RevertIf_CloseNoAccount() public {
        vm.expectRevert(abi.encodeWithSelector(IMarginEngine.MarginEngine__NoAccount.selector, ALICE));
        _closeAlice();
    }

    function test_RevertIf_CloseWithWrongSalt() public {
        _openAlice();
        uint256 salt = _salt("alice") + 1;
        IMarginEngine.Position[] memory p = _alicePositions();
        vm.expectRevert(IMarginEngine.MarginEngine__CommitmentMismatch.selector);
        vm.prank(ALICE);
        engine.close(p, salt);
    }

    function test_RevertIf_CloseWithWrongPosition() public {
        _openAlice();
        uint256 salt = _salt("alice");
        IMarginEngine.Position[] memory p = _alicePositions();
        vm.startPrank(ALICE);
        p[0].size -= 1;
        vm.expectRevert(IMarginEngine.MarginEngine__CommitmentMismatch.selector);
        engine.close(p, salt);
        p[0].size += 1;
        p[0].long = false;
        vm.expectRevert(IMarginEngine.MarginEngine__CommitmentMismatch.selector);
        engine.close(p, salt);
        p[0].long = true;
        p[0].entry += 1;
        vm.expectRevert(IMarginEngine.MarginEngine__CommitmentMismatch.selector);
        engine.close(p, salt);
        vm.stopPrank();
    }

    function test_RevertIf_CloseCrossWithSwappedSlots() public {
        _openBob();
        IMarginEngine.Position[] memory p = _bobPositions();
        (p[0], p[1]) = (p[1], p[0]);
        uint256 salt = _salt("bob");
        vm.expectRevert(IMarginEngine.MarginEngine__CommitmentMismatch.selector);
        vm.prank(BOB);
        engine.close(p, salt);
    }

    /// @dev An isolated account reveals exactly one slot, a cross account four.
    function test_RevertIf_CloseWithTheOtherKindsSlotCount() public {
        _openAlice();
        _openBob();
        IMarginEngine.Position[] memory p = _bobPositions();
        uint256 salt = _salt("bob");
        vm.prank(ALICE);
        vm.expectRevert(abi.encodeWithSelector(IMarginEngine.MarginEngine__InvalidPosition.selector, 1));
        engine.close(p, salt); // Alice is isolated: one slot
        IMarginEngine.Position[] memory ap = _alicePositions();
        uint256 aliceSalt = _salt("alice");
        vm.prank(BOB);
        vm.expectRevert(abi.encodeWithSelector(IMarginEngine.MarginEngine__InvalidPosition.selector, 4));
        engine.close(ap, aliceSalt);
    }

    function test_RevertIf_CloseWithWrongSlotCount() public {
        _openBob();
        IMarginEngine.Position[] memory p = new IMarginEngine.Position[](3);
        vm.expectRevert(abi.encodeWithSelector(IMarginEngine.MarginEngine__InvalidPosition.selector, 4));
        vm.prank(BOB);
        engine.close(p, 1);
    }

    function test_RevertIf_CloseWithSlotMarketOutOfRange() public {
        _openAlice();
        IMarginEngine.Position[] memory p = _alicePositions();
        p[0].market = 1; // isolated accounts have one market slot
        vm.expectRevert(abi.encodeWithSelector(IMarginEngine.MarginEngine__InvalidPosition.selector, 0));
        vm.prank(ALICE);
        engine.close(p, 1);

        _openBob();
        IMarginEngine.Position[] memory q = _bobPositions();
        q[3].market = 4;
        vm.expectRevert(abi.encodeWithSelector(IMarginEngine.MarginEngine__InvalidPosition.selector, 3));
        vm.prank(BOB);
        engine.close(q, 1);
    }

    /// @dev A salt >= r would hash like salt - r inside Poseidon; the engine refuses it.
    function test_RevertIf_CloseWithSaltNotInField() public {
        _openAlice();
        uint256 salt = _salt("alice") + R;
        IMarginEngine.Position[] memory p = _alicePositions();
        vm.expectRevert(abi.encodeWithSelector(IMarginEngine.MarginEngine__InvalidPosition.selector, 1));
        vm.prank(ALICE);
        engine.close(p, salt);
    }

    /// @dev A vault short of the profit pays what it has and owes the rest (an IOU the trader
    ///      claims when the vault refills): the close goes through.
    function test_Close_PoolShortLeavesIou() public {
        _openAlice();
        _fundPool(USDC, 499e6);
        ethFeed.updateAnswer(2_500e8);
        vm.expectEmit(address(usdcPool));
        emit IMarginPool.ProfitPaid(ALICE, 500e6, 499e6, 1e6);
        _closeAlice();
        assertEq(usdc.balanceOf(ALICE), ALICE_USDC + 499e6);
        assertEq(usdcPool.iouOf(ALICE), 1e6);
        assertEq(_poolAssets(USDC), 0);
        _fundPool(USDC, 5e6);
        vm.prank(ALICE);
        assertEq(usdcPool.claim(ALICE), 1e6);
        assertEq(usdc.balanceOf(ALICE), ALICE_USDC + 500e6);
        assertEq(_poolAssets(USDC), 4e6);
    }

    function test_RevertIf_CloseWithStaleOracle() public {
        _openAlice();
        vm.warp(T0 + HEARTBEAT + 1);
        vm.expectRevert(
            abi.encodeWithSelector(IOracleAdapter.OracleAdapter__StalePrice.selector, address(ethFeed), T0, HEARTBEAT)
        );
        _closeAlice();
        _refreshFeeds();
        _closeAlice();
    }
}
