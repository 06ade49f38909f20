// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {ERC4626} from "@openzeppelin/contracts/token/ERC20/extensions/ERC4626.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";

import {MockERC20} from "../src/mocks/MockERC20.sol";
import {IMarginPool} from "../src/pool/IMarginPool.sol";
import {MarginPool} from "../src/pool/MarginPool.sol";
import {PoolBase} from "./PoolBase.t.sol";

/// @dev The counterfactual: a plain OpenZeppelin ERC-4626 vault (offset 0, totalAssets =
///      token balance, instant exits) with an engine-style payout. Test-only.
contract PlainVault is ERC4626 {
    constructor(IERC20 asset_) ERC20("plain", "plain") ERC4626(asset_) {}

    function payOut(address to, uint256 amount) external {
        SafeERC20.safeTransfer(IERC20(asset()), to, amount);
    }
}

/// @dev A token whose transfers call back into an armed target (an ERC-777-style hook).
contract HookToken is MockERC20 {
    address public target;
    bytes public data;
    bool public lastOk;
    bytes public lastRet;

    constructor() MockERC20("Hook USD", "hUSD", 6) {}

    function arm(address target_, bytes calldata data_) external {
        target = target_;
        data = data_;
    }

    function _update(address from, address to, uint256 value) internal override {
        super._update(from, to, value);
        address t = target;
        if (t != address(0) && from != address(0)) {
            target = address(0); // once
            (bool ok, bytes memory ret) = t.call(data); // failure recorded, not bubbled
            lastOk = ok;
            lastRet = ret;
        }
    }
}

/// @dev The attacks the pool must defeat, each shown against the pool and (where it makes
///      the point) against a plain ERC-4626 vault that falls to it; and rounding at the edges.
contract PoolAttacksTest is PoolBase {
    // ================================================================== inflation / donation

    /// @dev Classic first-depositor attack on a plain vault: 1 unit for 1 share, a large
    ///      donation, and the victim's deposit rounds to 0 shares: the victim loses it all.
    function test_DonationAttack_PlainVaultLosesVictimDeposit() public {
        PlainVault v = new PlainVault(usdc);
        address attacker = makeAddr("attacker");
        usdc.mint(attacker, 10_001 * USD);
        vm.startPrank(attacker);
        usdc.approve(address(v), 1);
        v.deposit(1, attacker);
        assertTrue(usdc.transfer(address(v), 10_000 * USD)); // donation
        vm.stopPrank();
        usdc.mint(alice, 1_000 * USD);
        vm.startPrank(alice);
        usdc.approve(address(v), 1_000 * USD);
        uint256 shares = v.deposit(1_000 * USD, alice);
        vm.stopPrank();
        assertEq(shares, 0, "victim got nothing for 1,000 USDC");
        assertEq(v.maxWithdraw(alice), 0);
    }

    /// @dev The same attack on the pool. A plain transfer does not count at all; the only way
    ///      to raise the share price is `fund` (accounted), and with the 10^6 virtual shares
    ///      the victim still gets its deposit back (less a few units of rounding) while the
    ///      attacker loses about half of the donation to the virtual shares.
    function test_DonationAttack_OffsetDefeatsIt() public {
        address attacker = makeAddr("attacker");
        _deposit(attacker, 1);
        usdc.mint(address(pool), 10_000 * USD); // raw donation: ignored
        assertEq(pool.totalAssets(), 1);
        _fund(attacker, 10_000 * USD); // accounted donation
        uint256 shares = _deposit(alice, 1_000 * USD);
        assertGt(shares, 0);

        uint256 victimOut = _exitAll(alice);
        uint256 attackerOut = _exitAll(attacker);
        assertGe(victimOut + 5_000, 1_000 * USD, "victim loses at most half a cent");
        assertLt(attackerOut, (10_000 * USD * 51) / 100, "attacker loses about half its donation");
        _checkIdentity();
    }

    /// @dev Fuzzed: whatever the attacker's deposit and donation, it never profits, and the
    ///      victim either is refused (ZeroShares, nothing lost) or loses at most the value of
    ///      one share plus 2 units.
    function testFuzz_DonationAttackNeverPays(uint256 a, uint256 d, uint256 v) public {
        a = bound(a, 1, 1_000_000 * USD);
        d = bound(d, 1, 1_000_000_000 * USD);
        v = bound(v, 1, 10_000_000 * USD);
        address attacker = makeAddr("attacker");
        _deposit(attacker, a);
        _fund(attacker, d);
        uint256 expectShares = pool.previewDeposit(v);
        if (expectShares == 0) {
            usdc.mint(alice, v);
            vm.startPrank(alice);
            usdc.approve(address(pool), v);
            vm.expectRevert(IMarginPool.MarginPool__ZeroShares.selector);
            pool.deposit(v, alice);
            vm.stopPrank();
            return;
        }
        _deposit(alice, v);
        // value of one share at the victim's entry, rounded up
        uint256 oneShare = (pool.totalAssets() + 1) / (pool.totalSupply() + 1e6) + 1;
        uint256 victimOut = _exitOrZero(alice);
        uint256 attackerOut = _exitOrZero(attacker);
        assertLe(attackerOut, a + d, "attacker profited");
        assertGe(victimOut + oneShare + 2, v, "victim lost more than rounding");
    }

    /// @dev As _exitAll, but shares worth nothing are kept (redeeming them would revert).
    function _exitOrZero(address lp) internal returns (uint256) {
        uint256 shares = pool.balanceOf(lp);
        uint64 at = _request(lp, shares);
        vm.warp(at);
        if (pool.previewRedeem(shares) == 0) return 0;
        vm.prank(lp);
        return pool.redeem(shares, lp, lp);
    }

    // ================================================================== front-running a loss

    /// @dev Plain vault: Alice sees a trader profit coming (an oracle move not yet settled),
    ///      exits first at the old price, and Bob bears the whole 500 USDC loss.
    function test_FrontRunLoss_PlainVaultLetsInformedLpEscape() public {
        PlainVault v = new PlainVault(usdc);
        address[2] memory lps = [alice, bob];
        for (uint256 i = 0; i < 2; ++i) {
            usdc.mint(lps[i], 1_000 * USD);
            vm.startPrank(lps[i]);
            usdc.approve(address(v), 1_000 * USD);
            v.deposit(1_000 * USD, lps[i]);
            vm.stopPrank();
        }
        uint256 all = v.balanceOf(alice);
        vm.prank(alice);
        uint256 out = v.redeem(all, alice, alice);
        v.payOut(trader, 500 * USD); // the engine settles the trader's profit
        assertGe(out + 1, 1_000 * USD, "Alice escaped with her full deposit");
        assertLe(v.maxWithdraw(bob), 500 * USD, "Bob bears the whole loss");
    }

    /// @dev The pool: Alice cannot exit at once; her request executes after the delay at the
    ///      price after the loss settled, so the loss is shared pro rata.
    function test_FrontRunLoss_DelayDefeatsIt() public {
        uint256 sa = _deposit(alice, 1_000 * USD);
        _deposit(bob, 1_000 * USD);
        // the move is visible now; the engine settles it within the delay
        assertEq(pool.maxRedeem(alice), 0);
        vm.expectRevert(abi.encodeWithSelector(IMarginPool.MarginPool__NoRequest.selector, alice));
        vm.prank(alice);
        pool.redeem(sa, alice, alice);
        uint64 at = _request(alice, sa);
        vm.expectRevert(abi.encodeWithSelector(IMarginPool.MarginPool__RequestNotMatured.selector, alice, at));
        vm.prank(alice);
        pool.redeem(sa, alice, alice);
        vm.warp(block.timestamp + 1 hours);
        _profit(trader, 500 * USD);
        vm.warp(at);
        vm.prank(alice);
        uint256 out = pool.redeem(sa, alice, alice);
        assertLe(out, 750 * USD, "Alice bears her half of the loss");
        assertGe(out + 1, 750 * USD);
        assertGe(pool.maxWithdraw(bob) + pool.convertToAssets(pool.balanceOf(bob)) + 1, 750 * USD, "Bob keeps his");
        _checkIdentity();
    }

    /// @dev Fuzzed: any loss settled between request and maturity lowers the requester's
    ///      payout to at most her pro-rata share of what is left.
    function testFuzz_FrontRunLoss_RequesterSharesTheLoss(uint256 da, uint256 db, uint256 loss, uint256 when)
        public
    {
        da = bound(da, 1 * USD, 10_000_000 * USD);
        db = bound(db, 1 * USD, 10_000_000 * USD);
        loss = bound(loss, 0, da + db);
        when = bound(when, 0, DELAY - 1);
        uint256 sa = _deposit(alice, da);
        uint256 sb = _deposit(bob, db);
        uint64 at = _request(alice, sa);
        vm.warp(block.timestamp + when);
        _profit(trader, loss);
        vm.warp(at);
        uint256 left = pool.totalAssets();
        uint256 fair = (left * sa) / (sa + sb); // her share, rounded down
        if (pool.previewRedeem(sa) == 0) return; // wiped out: nothing to take
        vm.prank(alice);
        uint256 out = pool.redeem(sa, alice, alice);
        assertLe(out, fair + 1, "requester escaped part of the loss");
    }

    /// @dev A matured request does not stay a free exit option: after the window it cannot
    ///      execute, and renewing it restarts the full delay, so a loss that appears while
    ///      Alice waits is settled before she can leave.
    function test_StandingRequestExpires() public {
        uint256 sa = _deposit(alice, 1_000 * USD);
        _deposit(bob, 1_000 * USD);
        uint64 at = _request(alice, sa);
        vm.warp(at + WINDOW + 1 days); // Alice sat on her request, waiting for a loss to dodge
        vm.expectRevert(
            abi.encodeWithSelector(IMarginPool.MarginPool__RequestExpired.selector, alice, at + WINDOW)
        );
        vm.prank(alice);
        pool.redeem(sa, alice, alice);
        vm.prank(alice);
        pool.cancelRedeem();
        uint64 renewed = _request(alice, sa);
        assertEq(uint256(renewed), block.timestamp + DELAY, "full delay again");
        _profit(trader, 1_000 * USD);
        vm.warp(renewed);
        vm.prank(alice);
        assertLe(pool.redeem(sa, alice, alice), 500 * USD);
    }

    // ================================================================== rounding

    /// @dev Depositing then redeeming at an unchanged price never returns more than was paid
    ///      in, whatever the price (set by a loss or funding) and the amount.
    function testFuzz_RoundTripNeverProfits(uint256 seed, uint256 extra, uint256 x) public {
        seed = bound(seed, 1, 1_000_000 * USD);
        extra = bound(extra, 0, 1_000_000_000 * USD);
        x = bound(x, 1, 1_000_000 * USD);
        _deposit(bob, seed);
        if (extra != 0) _loss(extra);
        if (pool.previewDeposit(x) == 0) return;
        _deposit(alice, x);
        uint256 shares = pool.balanceOf(alice);
        uint64 at = _request(alice, shares);
        vm.warp(at);
        if (pool.previewRedeem(shares) == 0) return;
        vm.prank(alice);
        uint256 out = pool.redeem(shares, alice, alice);
        assertLe(out, x, "round trip created value");
    }

    /// @dev Every conversion rounds against the LP: redeem pays at most shares * price,
    ///      withdraw burns at least assets / price, mint costs at least shares * price.
    function testFuzz_ConversionsRoundAgainstTheLp(uint256 seed, uint256 extra, uint256 n) public {
        seed = bound(seed, 1, 1_000_000 * USD);
        extra = bound(extra, 0, 1_000_000_000 * USD);
        _deposit(bob, seed);
        if (extra != 0) _loss(extra);
        uint256 ta = pool.totalAssets() + 1;
        uint256 ts = pool.totalSupply() + 1e6;
        n = bound(n, 1, pool.totalSupply());
        // redeem(n): assets * ts <= n * ta
        assertLe(pool.previewRedeem(n) * ts, n * ta);
        // mint(n): assets * ts >= n * ta
        assertGe(pool.previewMint(n) * ts, n * ta);
        // withdraw(a): shares * ta >= a * ts
        uint256 a = bound(n, 1, pool.totalAssets());
        assertGe(pool.previewWithdraw(a) * ta, a * ts);
        // deposit(a): shares * ta <= a * ts
        assertLe(pool.previewDeposit(a) * ta, a * ts);
    }

    /// @dev Edges: 1 share at a price above 1 unit per share pays floor; withdrawing 1 unit
    ///      burns at least one share; all LPs together never get more than totalAssets.
    function test_RoundingEdges() public {
        _deposit(alice, 1); // 1e6 shares
        _deposit(bob, 3); // 3e6 shares
        _loss(1_000_003); // totalAssets 1,000,007; 4e6 + 1e6 virtual shares
        uint64 at = _request(alice, 1e6);
        _request(bob, 3e6);
        vm.warp(at);
        // one share is worth (1,000,008) / (5,000,000) = 0.2 units: rounds to 0 -> refused
        vm.expectRevert(IMarginPool.MarginPool__ZeroAssets.selector);
        vm.prank(alice);
        pool.redeem(1, alice, alice);
        // withdrawing 1 unit costs ceil(5e6 / 1,000,008) = 5 shares, not 4
        assertEq(pool.previewWithdraw(1), 5);
        vm.prank(alice);
        assertEq(pool.withdraw(1, alice, alice), 5);
        uint256 outA = pool.maxWithdraw(alice);
        uint256 restA = pool.maxRedeem(alice);
        vm.prank(alice);
        pool.redeem(restA, alice, alice);
        uint256 outB = pool.maxWithdraw(bob);
        vm.prank(bob);
        pool.redeem(3e6, bob, bob);
        assertLe(1 + outA + outB, 1_000_007, "LPs took more than the pool had");
        assertGt(pool.totalAssets(), 0, "the virtual shares keep the dust");
        _checkIdentity();
    }

    // ================================================================== reentrancy

    function _hookPool() internal returns (HookToken t, MarginPool p) {
        t = new HookToken();
        p = new MarginPool(t, "n", "s", owner, DELAY, WINDOW);
        vm.prank(owner);
        p.setEngine(engine);
        t.mint(alice, 100 * USD);
        vm.prank(alice);
        t.approve(address(p), type(uint256).max);
    }

    /// @dev A token hook re-entering the pool during a deposit is refused by the guard, and
    ///      the deposit is accounted once.
    function test_ReentrancyThroughTokenHookRefused() public {
        (HookToken t, MarginPool p) = _hookPool();
        t.arm(address(p), abi.encodeCall(p.fund, (1)));
        vm.prank(alice);
        p.deposit(10 * USD, alice);
        assertFalse(t.lastOk(), "re-entered fund() succeeded");
        // forge-lint: disable-next-line(unsafe-typecast)
        assertEq(bytes4(t.lastRet()), ReentrancyGuardTransient.ReentrancyGuardReentrantCall.selector);
        assertEq(p.accounts().held, 10 * USD);
        assertEq(p.accounts().funded, 0);
    }

    /// @dev During payProfit, the receiver's hook re-entering (claim) is refused; the payout
    ///      itself completes and is accounted once.
    function test_ReentrancyDuringPayoutRefused() public {
        (HookToken t, MarginPool p) = _hookPool();
        vm.prank(alice);
        p.deposit(100 * USD, alice);
        t.arm(address(p), abi.encodeCall(p.claim, (trader)));
        vm.prank(engine);
        (uint256 paid, uint256 owed) = p.payProfit(trader, 10 * USD);
        assertEq(paid, 10 * USD);
        assertEq(owed, 0);
        assertFalse(t.lastOk(), "re-entered claim() succeeded");
        // forge-lint: disable-next-line(unsafe-typecast)
        assertEq(bytes4(t.lastRet()), ReentrancyGuardTransient.ReentrancyGuardReentrantCall.selector);
        assertEq(p.accounts().held, 90 * USD);
        assertEq(t.balanceOf(address(p)), 90 * USD);
    }
}
