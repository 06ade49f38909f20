// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {IERC20Errors} from "@openzeppelin/contracts/interfaces/draft-IERC6093.sol";
import {IERC4626} from "@openzeppelin/contracts/interfaces/IERC4626.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";

import {MockERC20} from "../src/mocks/MockERC20.sol";
import {IMarginPool} from "../src/pool/IMarginPool.sol";
import {MarginPool} from "../src/pool/MarginPool.sol";
import {PoolBase} from "./PoolBase.t.sol";

/// @dev A USDC-like token with a blocklist: transfers to a blocked address revert.
contract BlockingToken is MockERC20 {
    mapping(address => bool) public blocked;

    constructor() MockERC20("Blocking USD", "bUSD", 6) {}

    function setBlocked(address who, bool b) external {
        blocked[who] = b;
    }

    function _update(address from, address to, uint256 value) internal override {
        require(!blocked[to], "blocked");
        super._update(from, to, value);
    }
}

/// @dev Every function of MarginPool: the happy path, its event and accounting, and every
///      revert with its custom error.
contract PoolUnitTest is PoolBase {
    // ================================================================== deployment and owner

    function test_Deployment() public view {
        assertEq(pool.asset(), address(usdc));
        assertEq(pool.decimals(), 12, "6 asset decimals + offset 6");
        assertEq(pool.owner(), owner);
        assertEq(pool.engine(), engine);
        assertEq(uint256(pool.withdrawDelay()), DELAY);
        assertEq(uint256(pool.executionWindow()), WINDOW);
        assertEq(pool.totalAssets(), 0);
        assertEq(pool.convertToShares(1), 1e6, "one asset unit = 10^offset shares when empty");
    }

    function test_RevertIf_ConstructorZeroAsset() public {
        vm.expectRevert(IMarginPool.MarginPool__ZeroAddress.selector);
        new MarginPool(IERC20(address(0)), "n", "s", owner, DELAY, WINDOW);
    }

    function test_RevertIf_ConstructorZeroOwner() public {
        vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableInvalidOwner.selector, address(0)));
        new MarginPool(usdc, "n", "s", address(0), DELAY, WINDOW);
    }

    function test_RevertIf_ConstructorDelayOutOfRange() public {
        uint64 h = 1 hours;
        vm.expectRevert(abi.encodeWithSelector(IMarginPool.MarginPool__DelayOutOfRange.selector, h - 1, WINDOW));
        new MarginPool(usdc, "n", "s", owner, h - 1, WINDOW);
        vm.expectRevert(
            abi.encodeWithSelector(IMarginPool.MarginPool__DelayOutOfRange.selector, 30 days + 1, WINDOW)
        );
        new MarginPool(usdc, "n", "s", owner, 30 days + 1, WINDOW);
        vm.expectRevert(abi.encodeWithSelector(IMarginPool.MarginPool__DelayOutOfRange.selector, DELAY, h - 1));
        new MarginPool(usdc, "n", "s", owner, DELAY, h - 1);
        vm.expectRevert(abi.encodeWithSelector(IMarginPool.MarginPool__DelayOutOfRange.selector, DELAY, 7 days + 1));
        new MarginPool(usdc, "n", "s", owner, DELAY, 7 days + 1);
        // the bounds themselves are accepted
        new MarginPool(usdc, "n", "s", owner, h, h);
        new MarginPool(usdc, "n", "s", owner, 30 days, 7 days);
    }

    function test_SetEngineOnce() public {
        MarginPool p = new MarginPool(usdc, "n", "s", owner, DELAY, WINDOW);
        vm.expectEmit(address(p));
        emit IMarginPool.EngineSet(engine);
        vm.prank(owner);
        p.setEngine(engine);
        assertEq(p.engine(), engine);
        vm.expectRevert(abi.encodeWithSelector(IMarginPool.MarginPool__EngineAlreadySet.selector, engine));
        vm.prank(owner);
        p.setEngine(alice);
    }

    function test_RevertIf_SetEngineZero() public {
        MarginPool p = new MarginPool(usdc, "n", "s", owner, DELAY, WINDOW);
        vm.expectRevert(IMarginPool.MarginPool__ZeroAddress.selector);
        vm.prank(owner);
        p.setEngine(address(0));
    }

    function test_RevertIf_SetEngineNotOwner() public {
        MarginPool p = new MarginPool(usdc, "n", "s", owner, DELAY, WINDOW);
        vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, alice));
        vm.prank(alice);
        p.setEngine(alice);
    }

    function test_RevertIf_EngineNotSet() public {
        MarginPool p = new MarginPool(usdc, "n", "s", owner, DELAY, WINDOW);
        // before setEngine, nobody is the engine (not even address(0)'s callers)
        vm.expectRevert(abi.encodeWithSelector(IMarginPool.MarginPool__NotEngine.selector, owner));
        vm.prank(owner);
        p.payProfit(alice, 1);
    }

    function test_SetWithdrawDelayAppliesToNewRequestsOnly() public {
        uint256 shares = _deposit(alice, 100 * USD);
        uint64 first = _request(alice, shares / 2);
        vm.expectEmit(address(pool));
        emit IMarginPool.WithdrawDelaySet(3 days, 2 hours);
        vm.prank(owner);
        pool.setWithdrawDelay(3 days, 2 hours);
        IMarginPool.Request memory r = pool.pendingRedeem(alice);
        assertEq(uint256(r.maturesAt), uint256(first), "pending request kept its clock");
        _deposit(bob, 100 * USD);
        uint64 second = _request(bob, 1);
        assertEq(uint256(second), block.timestamp + 3 days);
        assertEq(uint256(pool.pendingRedeem(bob).expiresAt), block.timestamp + 3 days + 2 hours);
    }

    function test_RevertIf_SetWithdrawDelayNotOwnerOrOutOfRange() public {
        vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, alice));
        vm.prank(alice);
        pool.setWithdrawDelay(DELAY, WINDOW);
        vm.expectRevert(abi.encodeWithSelector(IMarginPool.MarginPool__DelayOutOfRange.selector, uint64(0), WINDOW));
        vm.prank(owner);
        pool.setWithdrawDelay(0, WINDOW);
    }

    function test_RevertIf_RenounceOwnership() public {
        vm.expectRevert(IMarginPool.MarginPool__RenounceDisabled.selector);
        vm.prank(owner);
        pool.renounceOwnership();
        vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, alice));
        vm.prank(alice);
        pool.renounceOwnership();
    }

    function test_OwnershipTwoStep() public {
        vm.prank(owner);
        pool.transferOwnership(alice);
        assertEq(pool.owner(), owner, "not yet accepted");
        vm.prank(alice);
        pool.acceptOwnership();
        assertEq(pool.owner(), alice);
    }

    // ================================================================== deposit / mint

    function test_Deposit() public {
        usdc.mint(alice, 100 * USD);
        vm.startPrank(alice);
        usdc.approve(address(pool), 100 * USD);
        vm.expectEmit(address(pool));
        emit IERC4626.Deposit(alice, bob, 100 * USD, 100 * USD * 1e6);
        uint256 shares = pool.deposit(100 * USD, bob);
        vm.stopPrank();
        assertEq(shares, 100 * USD * 1e6);
        assertEq(pool.balanceOf(bob), shares);
        assertEq(pool.totalAssets(), 100 * USD);
        assertEq(pool.accounts().deposited, 100 * USD);
        _checkIdentity();
    }

    function test_Mint() public {
        _deposit(alice, 100 * USD);
        _loss(1); // price no longer a round number: mint rounds the assets up
        uint256 shares = 3e6 + 1;
        uint256 ta = pool.totalAssets();
        uint256 supply = pool.totalSupply();
        uint256 expected = pool.previewMint(shares);
        // rounded up: the smallest amount worth at least `shares`
        assertGe(expected * (supply + 1e6), shares * (ta + 1));
        assertLt((expected - 1) * (supply + 1e6), shares * (ta + 1));
        usdc.mint(bob, expected);
        vm.startPrank(bob);
        usdc.approve(address(pool), expected);
        uint256 assets = pool.mint(shares, bob);
        vm.stopPrank();
        assertEq(assets, expected);
        assertEq(pool.balanceOf(bob), shares);
        _checkIdentity();
    }

    function test_RevertIf_DepositZero() public {
        vm.expectRevert(IMarginPool.MarginPool__ZeroShares.selector);
        vm.prank(alice);
        pool.deposit(0, alice);
        vm.expectRevert(IMarginPool.MarginPool__ZeroShares.selector);
        vm.prank(alice);
        pool.mint(0, alice);
    }

    function test_RevertIf_DepositRoundsToZeroShares() public {
        _deposit(alice, 1); // 1e6 shares for 1 unit
        _fund(carol, 10_000_000 * USD); // share worth ~1e7 units... per 1e6 shares
        // 1 unit now buys (1e6 + 1e6) / (1e13 + 2) shares = 0: refused, not silently taken
        usdc.mint(bob, 1);
        vm.startPrank(bob);
        usdc.approve(address(pool), 1);
        vm.expectRevert(IMarginPool.MarginPool__ZeroShares.selector);
        pool.deposit(1, bob);
        vm.stopPrank();
    }

    function test_RevertIf_DepositInDeficit() public {
        _deposit(alice, 100 * USD);
        _profit(trader, 150 * USD); // pays 100, owes 50: deficit
        assertEq(pool.maxDeposit(bob), 0);
        assertEq(pool.maxMint(bob), 0);
        usdc.mint(bob, 10 * USD);
        vm.startPrank(bob);
        usdc.approve(address(pool), 10 * USD);
        vm.expectRevert(abi.encodeWithSelector(IMarginPool.MarginPool__InDeficit.selector, 0, 50 * USD));
        pool.deposit(10 * USD, bob);
        vm.expectRevert(abi.encodeWithSelector(IMarginPool.MarginPool__InDeficit.selector, 0, 50 * USD));
        pool.mint(1e6, bob);
        vm.stopPrank();
        // a funder recapitalises: once held >= owed, deposits reopen
        _fund(carol, 50 * USD);
        assertEq(pool.maxDeposit(bob), type(uint256).max);
        _checkIdentity();
    }

    // ================================================================== requests

    function test_RequestRedeemEscrowsShares() public {
        uint256 shares = _deposit(alice, 100 * USD);
        vm.expectEmit(address(pool));
        uint64 at0 = uint64(block.timestamp) + DELAY;
        emit IMarginPool.RedeemRequested(alice, shares / 4, shares / 4, at0, at0 + WINDOW);
        uint64 at = _request(alice, shares / 4);
        assertEq(uint256(at), T0 + DELAY);
        assertEq(pool.balanceOf(alice), shares - shares / 4);
        assertEq(pool.balanceOf(address(pool)), shares / 4);
        assertEq(pool.totalPendingShares(), shares / 4);
        assertEq(pool.maxRedeem(alice), 0, "not matured");
        assertEq(pool.maxWithdraw(alice), 0, "not matured");
        _checkIdentity();
    }

    function test_SecondRequestAddsAndRestartsClock() public {
        uint256 shares = _deposit(alice, 100 * USD);
        _request(alice, shares / 2);
        vm.warp(T0 + DELAY - 1);
        uint64 at = _request(alice, shares / 4);
        assertEq(uint256(at), T0 + DELAY - 1 + DELAY, "clock restarted");
        assertEq(pool.pendingRedeem(alice).shares, shares / 2 + shares / 4);
        vm.warp(T0 + DELAY);
        assertEq(pool.maxRedeem(alice), 0, "the first part did not keep its earlier maturity");
    }

    function test_RevertIf_RequestZeroOrMoreThanBalance() public {
        uint256 shares = _deposit(alice, 100 * USD);
        vm.expectRevert(IMarginPool.MarginPool__ZeroShares.selector);
        _request(alice, 0);
        vm.expectRevert(
            abi.encodeWithSelector(IMarginPool.MarginPool__InsufficientShares.selector, alice, shares, shares + 1)
        );
        _request(alice, shares + 1);
        _request(alice, shares);
        vm.expectRevert(abi.encodeWithSelector(IMarginPool.MarginPool__InsufficientShares.selector, alice, 0, 1));
        _request(alice, 1); // escrowed shares cannot be requested twice
    }

    /// @dev A request is stored in one slot (128-bit shares); shares beyond that (reachable
    ///      only after the pool was wiped out and refilled) revert with SafeCast's error.
    function test_RevertIf_RequestAbove128Bits() public {
        _deposit(alice, 1);
        _profit(trader, 1); // totalAssets 0, 1e6 shares outstanding
        uint256 shares = _deposit(bob, 2e32); // 2e32 * (1e6 + 1e6) / 1 shares
        assertGt(shares, type(uint128).max);
        vm.expectRevert(abi.encodeWithSelector(SafeCast.SafeCastOverflowedUintDowncast.selector, 128, shares));
        _request(bob, shares);
        _request(bob, type(uint128).max); // the largest request is fine
    }

    function test_EscrowedSharesCannotBeTransferred() public {
        uint256 shares = _deposit(alice, 100 * USD);
        _request(alice, shares);
        vm.expectRevert(abi.encodeWithSelector(IERC20Errors.ERC20InsufficientBalance.selector, alice, 0, 1));
        vm.prank(alice);
        (bool ok,) = address(pool).call(abi.encodeCall(pool.transfer, (bob, 1)));
        assertTrue(ok, "expected ERC20InsufficientBalance");
    }

    function test_CancelRedeem() public {
        uint256 shares = _deposit(alice, 100 * USD);
        _request(alice, shares);
        vm.expectEmit(address(pool));
        emit IMarginPool.RedeemCancelled(alice, shares);
        vm.prank(alice);
        assertEq(pool.cancelRedeem(), shares);
        assertEq(pool.balanceOf(alice), shares);
        assertEq(pool.totalPendingShares(), 0);
        assertEq(pool.pendingRedeem(alice).maturesAt, 0);
        _checkIdentity();
    }

    function test_RevertIf_CancelWithoutRequest() public {
        vm.expectRevert(abi.encodeWithSelector(IMarginPool.MarginPool__NoRequest.selector, alice));
        vm.prank(alice);
        pool.cancelRedeem();
    }

    // ================================================================== redeem / withdraw

    function test_RedeemMaturedRequest() public {
        uint256 shares = _deposit(alice, 100 * USD);
        uint64 at = _request(alice, shares);
        vm.warp(at);
        assertEq(pool.maxRedeem(alice), shares);
        // a sole LP with no flows gets exactly its deposit back: (1e14) * (1e8 + 1) / (1e14 + 1e6) = 1e8
        assertEq(pool.maxWithdraw(alice), 100 * USD);
        vm.expectEmit(address(pool));
        emit IERC4626.Withdraw(alice, bob, alice, 100 * USD, shares);
        vm.prank(alice);
        uint256 assets = pool.redeem(shares, bob, alice);
        assertEq(assets, 100 * USD);
        assertEq(usdc.balanceOf(bob), assets);
        assertEq(pool.totalSupply(), 0);
        assertEq(pool.pendingRedeem(alice).shares, 0);
        assertEq(pool.accounts().withdrawn, assets);
        _checkIdentity();
    }

    function test_RedeemPartialKeepsRest() public {
        uint256 shares = _deposit(alice, 100 * USD);
        uint64 at = _request(alice, shares);
        vm.warp(at + 10);
        vm.prank(alice);
        pool.redeem(shares / 3, alice, alice);
        IMarginPool.Request memory r = pool.pendingRedeem(alice);
        assertEq(r.shares, shares - shares / 3);
        assertEq(uint256(r.maturesAt), uint256(at));
        assertEq(pool.maxRedeem(alice), shares - shares / 3);
        _checkIdentity();
    }

    function test_WithdrawMaturedRequest() public {
        uint256 shares = _deposit(alice, 100 * USD);
        _loss(7); // odd price
        uint64 at = _request(alice, shares);
        vm.warp(at);
        uint256 expectedShares = pool.previewWithdraw(40 * USD);
        vm.prank(alice);
        uint256 burnt = pool.withdraw(40 * USD, alice, alice);
        assertEq(burnt, expectedShares);
        assertEq(usdc.balanceOf(alice), 40 * USD);
        assertEq(pool.pendingRedeem(alice).shares, shares - burnt);
        _checkIdentity();
    }

    function test_MaxRedeemWindowEdges() public {
        uint256 shares = _deposit(alice, 100 * USD);
        uint64 at = _request(alice, shares);
        vm.warp(at - 1);
        assertEq(pool.maxRedeem(alice), 0);
        vm.warp(at);
        assertEq(pool.maxRedeem(alice), shares);
        vm.warp(at + WINDOW);
        assertEq(pool.maxRedeem(alice), shares, "last second of the window");
        vm.warp(at + WINDOW + 1);
        assertEq(pool.maxRedeem(alice), 0);
        assertEq(pool.maxWithdraw(alice), 0);
    }

    function test_RevertIf_RedeemWithoutRequest() public {
        _deposit(alice, 100 * USD);
        vm.expectRevert(abi.encodeWithSelector(IMarginPool.MarginPool__NoRequest.selector, alice));
        vm.prank(alice);
        pool.redeem(1, alice, alice);
        vm.expectRevert(abi.encodeWithSelector(IMarginPool.MarginPool__NoRequest.selector, alice));
        vm.prank(alice);
        pool.withdraw(1, alice, alice);
    }

    function test_RevertIf_RedeemBeforeMaturity() public {
        uint256 shares = _deposit(alice, 100 * USD);
        uint64 at = _request(alice, shares);
        vm.warp(at - 1);
        vm.expectRevert(abi.encodeWithSelector(IMarginPool.MarginPool__RequestNotMatured.selector, alice, at));
        vm.prank(alice);
        pool.redeem(shares, alice, alice);
        vm.expectRevert(abi.encodeWithSelector(IMarginPool.MarginPool__RequestNotMatured.selector, alice, at));
        vm.prank(alice);
        pool.withdraw(1, alice, alice);
    }

    function test_RevertIf_RedeemAfterExpiry() public {
        uint256 shares = _deposit(alice, 100 * USD);
        uint64 at = _request(alice, shares);
        vm.warp(at + WINDOW + 1);
        vm.expectRevert(
            abi.encodeWithSelector(IMarginPool.MarginPool__RequestExpired.selector, alice, at + WINDOW)
        );
        vm.prank(alice);
        pool.redeem(shares, alice, alice);
        // an expired request can be cancelled (shares back) or renewed (clock restarts)
        vm.prank(alice);
        pool.cancelRedeem();
        assertEq(pool.balanceOf(alice), shares);
    }

    function test_RevertIf_RedeemMoreThanRequested() public {
        uint256 shares = _deposit(alice, 100 * USD);
        uint64 at = _request(alice, shares / 2);
        vm.warp(at);
        vm.expectRevert(
            abi.encodeWithSelector(IMarginPool.MarginPool__ExceedsRequest.selector, alice, shares / 2, shares / 2 + 1)
        );
        vm.prank(alice);
        pool.redeem(shares / 2 + 1, alice, alice);
        uint256 tooMuch = pool.maxWithdraw(alice) + 1;
        uint256 need = pool.previewWithdraw(tooMuch);
        vm.expectRevert(
            abi.encodeWithSelector(IMarginPool.MarginPool__ExceedsRequest.selector, alice, shares / 2, need)
        );
        vm.prank(alice);
        pool.withdraw(tooMuch, alice, alice);
    }

    function test_RevertIf_RedeemZero() public {
        uint256 shares = _deposit(alice, 100 * USD);
        uint64 at = _request(alice, shares);
        vm.warp(at);
        vm.expectRevert(IMarginPool.MarginPool__ZeroShares.selector);
        vm.prank(alice);
        pool.redeem(0, alice, alice);
        vm.expectRevert(IMarginPool.MarginPool__ZeroAssets.selector);
        vm.prank(alice);
        pool.withdraw(0, alice, alice);
        // shares worth less than one unit: refused rather than burnt for nothing
        vm.expectRevert(IMarginPool.MarginPool__ZeroAssets.selector);
        vm.prank(alice);
        pool.redeem(1, alice, alice);
    }

    function test_RedeemByOperatorSpendsAllowance() public {
        uint256 shares = _deposit(alice, 100 * USD);
        uint64 at = _request(alice, shares);
        vm.warp(at);
        vm.expectRevert(abi.encodeWithSelector(IERC20Errors.ERC20InsufficientAllowance.selector, bob, 0, shares));
        vm.prank(bob);
        pool.redeem(shares, bob, alice);
        vm.prank(alice);
        pool.approve(bob, shares);
        vm.prank(bob);
        uint256 assets = pool.redeem(shares, carol, alice);
        assertEq(usdc.balanceOf(carol), assets);
        assertEq(pool.allowance(alice, bob), 0);
    }

    // ================================================================== fund / claim

    function test_FundRaisesSharePrice() public {
        uint256 shares = _deposit(alice, 100 * USD);
        usdc.mint(carol, 50 * USD);
        vm.startPrank(carol);
        usdc.approve(address(pool), 50 * USD);
        vm.expectEmit(address(pool));
        emit IMarginPool.Funded(carol, 50 * USD);
        pool.fund(50 * USD);
        vm.stopPrank();
        assertEq(pool.totalAssets(), 150 * USD);
        assertEq(pool.totalSupply(), shares, "no shares for funding");
        assertEq(pool.accounts().funded, 50 * USD);
        _checkIdentity();
    }

    function test_RevertIf_FundZero() public {
        vm.expectRevert(IMarginPool.MarginPool__ZeroAssets.selector);
        pool.fund(0);
    }

    function test_PlainTransferIsNotCounted() public {
        _deposit(alice, 100 * USD);
        usdc.mint(address(pool), 1_000 * USD);
        assertEq(pool.totalAssets(), 100 * USD, "a transfer without a call does not move the price");
        _checkIdentity();
    }

    function test_ClaimIou() public {
        _deposit(alice, 100 * USD);
        _profit(trader, 130 * USD);
        assertEq(pool.iouOf(trader), 30 * USD);
        _loss(20 * USD);
        vm.expectEmit(address(pool));
        emit IMarginPool.IouClaimed(trader, carol, 20 * USD, 10 * USD);
        vm.prank(trader);
        assertEq(pool.claim(carol), 20 * USD, "pays what the pool holds");
        assertEq(usdc.balanceOf(carol), 20 * USD);
        assertEq(pool.iouOf(trader), 10 * USD);
        _fund(bob, 40 * USD);
        vm.prank(trader);
        assertEq(pool.claim(trader), 10 * USD);
        assertEq(pool.iouOf(trader), 0);
        assertEq(pool.totalAssets(), 30 * USD);
        IMarginPool.Accounts memory a = pool.accounts();
        assertEq(a.iouIssued, 30 * USD);
        assertEq(a.iouClaimed, 30 * USD);
        assertEq(a.owed, 0);
        _checkIdentity();
    }

    function test_RevertIf_ClaimNothing() public {
        vm.expectRevert(abi.encodeWithSelector(IMarginPool.MarginPool__NothingToClaim.selector, trader));
        vm.prank(trader);
        pool.claim(trader);
        // an IOU but no tokens in the pool
        _profit(trader, 5 * USD);
        vm.expectRevert(abi.encodeWithSelector(IMarginPool.MarginPool__NothingToClaim.selector, trader));
        vm.prank(trader);
        pool.claim(trader);
        vm.expectRevert(IMarginPool.MarginPool__ZeroAddress.selector);
        vm.prank(trader);
        pool.claim(address(0));
    }

    // ================================================================== engine flows

    function test_PayProfitInFull() public {
        _deposit(alice, 100 * USD);
        vm.expectEmit(address(pool));
        emit IMarginPool.ProfitPaid(trader, 40 * USD, 40 * USD, 0);
        (uint256 paid, uint256 owed) = _profit(trader, 40 * USD);
        assertEq(paid, 40 * USD);
        assertEq(owed, 0);
        assertEq(usdc.balanceOf(trader), 40 * USD);
        assertEq(pool.totalAssets(), 60 * USD);
        assertEq(pool.accounts().profitsPaid, 40 * USD);
        _checkIdentity();
    }

    function test_PayProfitShortRecordsIouNeverReverts() public {
        _deposit(alice, 100 * USD);
        vm.expectEmit(address(pool));
        emit IMarginPool.ProfitPaid(trader, 250 * USD, 100 * USD, 150 * USD);
        (uint256 paid, uint256 owed) = _profit(trader, 250 * USD);
        assertEq(paid, 100 * USD);
        assertEq(owed, 150 * USD);
        assertEq(pool.iouOf(trader), 150 * USD);
        assertEq(pool.totalAssets(), 0);
        // an empty pool still does not revert
        (paid, owed) = _profit(bob, 7);
        assertEq(paid, 0);
        assertEq(owed, 7);
        _checkIdentity();
    }

    function test_IousAreSeniorToLaterProfits() public {
        _deposit(alice, 100 * USD);
        _profit(trader, 150 * USD); // owes 50
        _loss(30 * USD); // held 30 < owed 50: all of it backs the IOU
        (uint256 paid, uint256 owed) = _profit(bob, 10 * USD);
        assertEq(paid, 0, "tokens backing an IOU are not paid to a later trader");
        assertEq(owed, 10 * USD);
        _checkIdentity();
    }

    function test_PayProfitZeroIsNoop() public {
        _deposit(alice, 100 * USD);
        vm.recordLogs();
        (uint256 paid, uint256 owed) = _profit(trader, 0);
        assertEq(paid + owed, 0);
        assertEq(vm.getRecordedLogs().length, 0);
    }

    function test_PayProfitToBlockedReceiverBecomesIou() public {
        BlockingToken t = new BlockingToken();
        MarginPool p = new MarginPool(t, "n", "s", owner, DELAY, WINDOW);
        vm.prank(owner);
        p.setEngine(engine);
        t.mint(alice, 100 * USD);
        vm.startPrank(alice);
        t.approve(address(p), 100 * USD);
        p.deposit(100 * USD, alice);
        vm.stopPrank();
        t.setBlocked(trader, true);
        vm.prank(engine);
        (uint256 paid, uint256 owed) = p.payProfit(trader, 10 * USD);
        assertEq(paid, 0, "a failing transfer does not revert the engine's close");
        assertEq(owed, 10 * USD);
        assertEq(p.accounts().held, 100 * USD);
        assertEq(p.totalAssets(), 90 * USD, "the IOU is a liability");
        vm.prank(trader);
        p.claim(carol); // claimable to another address
        assertEq(t.balanceOf(carol), 10 * USD);
    }

    function test_RevertIf_PayProfitToZero() public {
        vm.expectRevert(IMarginPool.MarginPool__ZeroAddress.selector);
        vm.prank(engine);
        pool.payProfit(address(0), 1);
    }

    function test_ReceiveLossAndPenalty() public {
        _deposit(alice, 100 * USD);
        usdc.mint(engine, 30 * USD);
        vm.expectEmit(address(pool));
        emit IMarginPool.LossReceived(20 * USD);
        vm.prank(engine);
        pool.receiveLoss(20 * USD);
        vm.expectEmit(address(pool));
        emit IMarginPool.PenaltyReceived(10 * USD);
        vm.prank(engine);
        pool.receivePenalty(10 * USD);
        assertEq(pool.totalAssets(), 130 * USD);
        IMarginPool.Accounts memory a = pool.accounts();
        assertEq(a.lossesReceived, 20 * USD);
        assertEq(a.penaltiesReceived, 10 * USD);
        assertEq(usdc.balanceOf(engine), 0);
        // zero amounts are no-ops (the engine need not special-case them)
        vm.startPrank(engine);
        pool.receiveLoss(0);
        pool.receivePenalty(0);
        pool.recordBadDebt(0);
        vm.stopPrank();
        assertEq(pool.totalAssets(), 130 * USD);
        _checkIdentity();
    }

    function test_RevertIf_ReceiveLossWithoutTokens() public {
        vm.prank(engine);
        vm.expectRevert(abi.encodeWithSelector(IERC20Errors.ERC20InsufficientBalance.selector, engine, 0, 1));
        pool.receiveLoss(1);
    }

    function test_RecordBadDebtMovesNoTokens() public {
        _deposit(alice, 100 * USD);
        vm.expectEmit(address(pool));
        emit IMarginPool.BadDebtRecorded(9 * USD);
        vm.prank(engine);
        pool.recordBadDebt(9 * USD);
        assertEq(pool.accounts().badDebt, 9 * USD);
        assertEq(pool.totalAssets(), 100 * USD, "the pool never booked the uncollected gain");
        _checkIdentity();
    }

    function test_RevertIf_EngineFlowsFromAnyoneElse() public {
        bytes[] memory calls = new bytes[](4);
        calls[0] = abi.encodeCall(pool.payProfit, (alice, 1));
        calls[1] = abi.encodeCall(pool.receiveLoss, (1));
        calls[2] = abi.encodeCall(pool.receivePenalty, (1));
        calls[3] = abi.encodeCall(pool.recordBadDebt, (1));
        address[3] memory callers = [alice, owner, address(pool)];
        for (uint256 i = 0; i < calls.length; ++i) {
            for (uint256 j = 0; j < callers.length; ++j) {
                vm.prank(callers[j]);
                vm.expectRevert(abi.encodeWithSelector(IMarginPool.MarginPool__NotEngine.selector, callers[j]));
                (bool ok,) = address(pool).call(calls[i]);
                assertTrue(ok, "expected NotEngine");
            }
        }
    }
}
