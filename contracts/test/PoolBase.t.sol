// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {MockERC20} from "../src/mocks/MockERC20.sol";
import {IMarginPool} from "../src/pool/IMarginPool.sol";
import {MarginPool} from "../src/pool/MarginPool.sol";
import {Test} from "./utils/Test.sol";

/// @dev Shared setup of the pool tests: a 6-decimal USDC, a pool with a 1-day delay and a
///      1-day execution window, an engine address (an EOA standing in for MarginEngine).
abstract contract PoolBase is Test {
    uint64 internal constant DELAY = 1 days;
    uint64 internal constant WINDOW = 1 days;
    uint256 internal constant T0 = 1_700_000_000;
    uint256 internal constant USD = 1e6; // one USDC

    MockERC20 internal usdc;
    MarginPool internal pool;

    address internal owner = makeAddr("owner");
    address internal engine = makeAddr("engine");
    address internal alice = makeAddr("alice");
    address internal bob = makeAddr("bob");
    address internal carol = makeAddr("carol");
    address internal trader = makeAddr("trader");

    function setUp() public virtual {
        vm.warp(T0);
        usdc = new MockERC20("USD Coin", "USDC", 6);
        pool = new MarginPool(usdc, "zkmargin USDC pool", "zmpUSDC", owner, DELAY, WINDOW);
        vm.prank(owner);
        pool.setEngine(engine);
        vm.prank(engine);
        usdc.approve(address(pool), type(uint256).max);
    }

    // ------------------------------------------------------------------ helpers

    function _deposit(address lp, uint256 assets) internal returns (uint256 shares) {
        usdc.mint(lp, assets);
        vm.startPrank(lp);
        usdc.approve(address(pool), assets);
        shares = pool.deposit(assets, lp);
        vm.stopPrank();
    }

    function _request(address lp, uint256 shares) internal returns (uint64 maturesAt) {
        vm.prank(lp);
        maturesAt = pool.requestRedeem(shares);
    }

    /// @dev Requests every share of `lp`, waits the delay, redeems them all.
    function _exitAll(address lp) internal returns (uint256 assets) {
        uint256 shares = pool.balanceOf(lp);
        uint64 at = _request(lp, shares);
        vm.warp(at);
        vm.prank(lp);
        assets = pool.redeem(shares, lp, lp);
    }

    /// @dev The engine pays a trader loss of `amount` into the pool.
    function _loss(uint256 amount) internal {
        usdc.mint(engine, amount);
        vm.prank(engine);
        pool.receiveLoss(amount);
    }

    function _penalty(uint256 amount) internal {
        usdc.mint(engine, amount);
        vm.prank(engine);
        pool.receivePenalty(amount);
    }

    function _profit(address to, uint256 amount) internal returns (uint256 paid, uint256 owed) {
        vm.prank(engine);
        (paid, owed) = pool.payProfit(to, amount);
    }

    function _fund(address from, uint256 amount) internal {
        usdc.mint(from, amount);
        vm.startPrank(from);
        usdc.approve(address(pool), amount);
        pool.fund(amount);
        vm.stopPrank();
    }

    /// @dev The accounting identity, checked after every unit test that moves money.
    function _checkIdentity() internal view {
        IMarginPool.Accounts memory a = pool.accounts();
        assertEq(
            a.held,
            a.deposited + a.funded + a.lossesReceived + a.penaltiesReceived - a.withdrawn - a.profitsPaid
                - a.iouClaimed,
            "held != inflows - outflows"
        );
        assertEq(a.owed, a.iouIssued - a.iouClaimed, "owed != issued - claimed");
        assertEq(pool.totalAssets(), a.held > a.owed ? a.held - a.owed : 0, "totalAssets != held - owed");
        assertGe(usdc.balanceOf(address(pool)), a.held, "pool holds fewer tokens than it accounts");
        assertEq(pool.balanceOf(address(pool)), pool.totalPendingShares(), "escrow != pending shares");
    }
}
