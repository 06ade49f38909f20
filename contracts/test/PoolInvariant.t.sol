// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {MockERC20} from "../src/mocks/MockERC20.sol";
import {IMarginPool} from "../src/pool/IMarginPool.sol";
import {MarginPool} from "../src/pool/MarginPool.sol";
import {Test} from "./utils/Test.sol";

/// @dev Drives the pool with a mix of LP, trader, funder and engine flows, keeping a ghost
///      account of every token movement it asked for. Inputs are bounded so most calls
///      succeed; a call that reverts changes nothing (forge's fail_on_revert is off).
contract PoolHandler is Test {
    MarginPool internal immutable pool;
    MockERC20 internal immutable usdc;
    address internal immutable engine;

    address[] public lps;
    address[] public traders;
    address internal funder = address(0xF0);

    // ghost account (asset units)
    uint256 public deposited;
    uint256 public withdrawn;
    uint256 public funded;
    uint256 public losses;
    uint256 public penalties;
    uint256 public profitsRequested;
    uint256 public profitsPaid;
    uint256 public iouIssued;
    uint256 public iouClaimed;
    uint256 public badDebt;
    uint256 public rawDonated;

    // safety flags, checked by the invariants
    bool public earlyExit; // a request executed before its maturity or after its window
    bool public exitTookIouBacking; // an LP exit left the pool holding less than it owes
    bool public roundTripProfit; // an LP got more than the exact value of its shares
    bool public iouBackingPaidOut; // payProfit paid more than totalAssets (tokens owed to earlier IOUs)
    mapping(address => uint64) public maturesAt;
    mapping(address => uint64) public expiresAt;

    uint256 public calls;
    // how often the interesting paths ran (each is reached in the default 256 x 50 runs)
    uint256 public exits;
    uint256 public ious;
    uint256 public claims;
    uint256 public deficits;

    constructor(MarginPool pool_, MockERC20 usdc_, address engine_) {
        pool = pool_;
        usdc = usdc_;
        engine = engine_;
        for (uint256 i = 0; i < 3; ++i) {
            // small constants: no truncation
            // forge-lint: disable-next-line(unsafe-typecast)
            lps.push(address(uint160(0x1000 + i)));
            // forge-lint: disable-next-line(unsafe-typecast)
            traders.push(address(uint160(0x2000 + i)));
        }
        vm.prank(engine);
        usdc.approve(address(pool), type(uint256).max);
    }

    function lpCount() external view returns (uint256) {
        return lps.length;
    }

    function traderCount() external view returns (uint256) {
        return traders.length;
    }

    // ------------------------------------------------------------------ LPs

    function deposit(uint256 who, uint256 amount) external {
        address lp = lps[who % lps.length];
        amount = bound(amount, 1, 10_000_000e6);
        if (pool.maxDeposit(lp) == 0 || pool.previewDeposit(amount) == 0) return;
        usdc.mint(lp, amount);
        vm.startPrank(lp);
        usdc.approve(address(pool), amount);
        pool.deposit(amount, lp);
        vm.stopPrank();
        deposited += amount;
        ++calls;
    }

    function mint(uint256 who, uint256 shares) external {
        address lp = lps[who % lps.length];
        shares = bound(shares, 1, 1e22);
        if (pool.maxMint(lp) == 0) return;
        uint256 assets = pool.previewMint(shares);
        if (assets > 100_000_000e6) return;
        usdc.mint(lp, assets);
        vm.startPrank(lp);
        usdc.approve(address(pool), assets);
        pool.mint(shares, lp);
        vm.stopPrank();
        deposited += assets;
        ++calls;
    }

    function requestRedeem(uint256 who, uint256 frac) external {
        address lp = lps[who % lps.length];
        uint256 bal = pool.balanceOf(lp);
        if (bal == 0) return;
        uint256 shares = bound(frac, 1, bal);
        vm.prank(lp);
        uint64 at = pool.requestRedeem(shares);
        maturesAt[lp] = at;
        expiresAt[lp] = at + pool.executionWindow();
        ++calls;
    }

    function cancelRedeem(uint256 who) external {
        address lp = lps[who % lps.length];
        if (pool.pendingRedeem(lp).shares == 0) return;
        vm.prank(lp);
        pool.cancelRedeem();
        ++calls;
    }

    /// @dev Redeems part of a request; half the time first waits until it matures.
    function redeem(uint256 who, uint256 frac, bool wait) external {
        address lp = lps[who % lps.length];
        IMarginPool.Request memory r = pool.pendingRedeem(lp);
        if (r.shares == 0) return;
        // forge-lint: disable-next-line(block-timestamp)
        if (wait && block.timestamp < r.maturesAt) vm.warp(r.maturesAt + (frac % 3600));
        uint256 shares = bound(frac, 1, r.shares);
        uint256 exact = _exactValue(shares);
        uint256 owedBefore = pool.accounts().owed;
        uint256 heldBefore = pool.accounts().held;
        vm.prank(lp);
        try pool.redeem(shares, lp, lp) returns (uint256 assets) {
            _afterExit(lp, assets, exact, heldBefore, owedBefore);
        } catch {}
    }

    function withdraw(uint256 who, uint256 amount, bool wait) external {
        address lp = lps[who % lps.length];
        IMarginPool.Request memory r = pool.pendingRedeem(lp);
        if (r.shares == 0) return;
        // forge-lint: disable-next-line(block-timestamp)
        if (wait && block.timestamp < r.maturesAt) vm.warp(r.maturesAt);
        uint256 max = pool.maxWithdraw(lp);
        if (max == 0) return;
        amount = bound(amount, 1, max);
        uint256 owedBefore = pool.accounts().owed;
        uint256 heldBefore = pool.accounts().held;
        uint256 ta = pool.totalAssets() + 1;
        uint256 ts = pool.totalSupply() + 1e6;
        vm.prank(lp);
        uint256 burnt = pool.withdraw(amount, lp, lp);
        _afterExit(lp, amount, (burnt * ta) / ts, heldBefore, owedBefore);
    }

    function transferShares(uint256 from, uint256 to, uint256 amount) external {
        address a = lps[from % lps.length];
        address b = lps[to % lps.length];
        uint256 bal = pool.balanceOf(a);
        if (bal == 0) return;
        amount = bound(amount, 0, bal);
        vm.prank(a);
        require(pool.transfer(b, amount), "share transfer failed");
        ++calls;
    }

    // ------------------------------------------------------------------ anyone

    function fund(uint256 amount) external {
        amount = bound(amount, 1, 1_000_000e6);
        usdc.mint(funder, amount);
        vm.startPrank(funder);
        usdc.approve(address(pool), amount);
        pool.fund(amount);
        vm.stopPrank();
        funded += amount;
        ++calls;
    }

    function donate(uint256 amount) external {
        amount = bound(amount, 1, 1_000_000e6);
        usdc.mint(address(pool), amount);
        rawDonated += amount;
        ++calls;
    }

    function claim(uint256 who) external {
        address t = traders[who % traders.length];
        if (pool.iouOf(t) == 0 || pool.accounts().held == 0) return;
        vm.prank(t);
        iouClaimed += pool.claim(t);
        ++claims;
        ++calls;
    }

    function warp(uint256 dt) external {
        vm.warp(block.timestamp + bound(dt, 1, 3 days));
    }

    // ------------------------------------------------------------------ engine

    function payProfit(uint256 who, uint256 amount) external {
        address t = traders[who % traders.length];
        amount = bound(amount, 0, 5_000_000e6);
        uint256 free = pool.totalAssets();
        vm.prank(engine);
        (uint256 paid, uint256 owed) = pool.payProfit(t, amount);
        if (paid > free) iouBackingPaidOut = true;
        require(paid + owed == amount, "payProfit lost part of the amount");
        profitsRequested += amount;
        profitsPaid += paid;
        iouIssued += owed;
        if (owed != 0) ++ious;
        if (pool.accounts().owed > pool.accounts().held) ++deficits;
        ++calls;
    }

    function receiveLoss(uint256 amount) external {
        amount = bound(amount, 0, 5_000_000e6);
        usdc.mint(engine, amount);
        vm.prank(engine);
        pool.receiveLoss(amount);
        losses += amount;
        ++calls;
    }

    function receivePenalty(uint256 amount) external {
        amount = bound(amount, 0, 1_000_000e6);
        usdc.mint(engine, amount);
        vm.prank(engine);
        pool.receivePenalty(amount);
        penalties += amount;
        ++calls;
    }

    function recordBadDebt(uint256 amount) external {
        amount = bound(amount, 0, 1_000_000e6);
        vm.prank(engine);
        pool.recordBadDebt(amount);
        badDebt += amount;
        ++calls;
    }

    // ------------------------------------------------------------------ internal

    /// @dev shares * (totalAssets + 1) / (totalSupply + 10^6), exact, as a floor.
    function _exactValue(uint256 shares) internal view returns (uint256) {
        return (shares * (pool.totalAssets() + 1)) / (pool.totalSupply() + 1e6);
    }

    function _afterExit(address lp, uint256 assets, uint256 exact, uint256 heldBefore, uint256 owedBefore)
        internal
    {
        // forge-lint: disable-next-line(block-timestamp)
        if (block.timestamp < maturesAt[lp] || block.timestamp > expiresAt[lp]) earlyExit = true;
        if (heldBefore >= owedBefore && pool.accounts().held < owedBefore) exitTookIouBacking = true;
        if (assets > exact) roundTripProfit = true;
        withdrawn += assets;
        ++exits;
        ++calls;
    }
}

/// @dev The pool's accounting identity and safety properties under random mixes of LP and
///      engine flows: 256 runs x depth 50 here (the default profile's 1,000 x 100 is set
///      for the engine's suite), 4,000 x 200 under FOUNDRY_PROFILE=ci.
contract PoolInvariantTest is Test {
    MockERC20 internal usdc;
    MarginPool internal pool;
    PoolHandler internal handler;
    address internal engine = address(0xE9);

    function setUp() public {
        vm.warp(1_700_000_000);
        usdc = new MockERC20("USD Coin", "USDC", 6);
        pool = new MarginPool(usdc, "zkmargin USDC pool", "zmpUSDC", address(this), 1 days, 1 days);
        pool.setEngine(engine);
        handler = new PoolHandler(pool, usdc, engine);
        targetContract(address(handler));
        bytes4[] memory sel = new bytes4[](16);
        sel[0] = PoolHandler.deposit.selector;
        sel[1] = PoolHandler.mint.selector;
        sel[2] = PoolHandler.requestRedeem.selector;
        sel[3] = PoolHandler.cancelRedeem.selector;
        sel[4] = PoolHandler.redeem.selector;
        sel[5] = PoolHandler.withdraw.selector;
        sel[6] = PoolHandler.transferShares.selector;
        sel[7] = PoolHandler.fund.selector;
        sel[8] = PoolHandler.donate.selector;
        sel[9] = PoolHandler.claim.selector;
        sel[10] = PoolHandler.warp.selector;
        sel[11] = PoolHandler.payProfit.selector;
        sel[12] = PoolHandler.receiveLoss.selector;
        sel[13] = PoolHandler.receivePenalty.selector;
        sel[14] = PoolHandler.recordBadDebt.selector;
        sel[15] = PoolHandler.deposit.selector; // LP entries twice as likely
        targetSelector(address(handler), sel);
    }

    /// forge-config: default.invariant.runs = 256
    /// forge-config: default.invariant.depth = 50
    /// @dev deposits - withdrawals + funding + losses + penalties - profits paid - IOUs claimed
    ///      == held, and every counter of the pool equals the handler's ghost.
    function invariant_AccountingIdentity() public view {
        IMarginPool.Accounts memory a = pool.accounts();
        assertEq(a.deposited, handler.deposited(), "deposited");
        assertEq(a.withdrawn, handler.withdrawn(), "withdrawn");
        assertEq(a.funded, handler.funded(), "funded");
        assertEq(a.lossesReceived, handler.losses(), "losses");
        assertEq(a.penaltiesReceived, handler.penalties(), "penalties");
        assertEq(a.profitsPaid, handler.profitsPaid(), "profits paid");
        assertEq(a.iouIssued, handler.iouIssued(), "IOUs issued");
        assertEq(a.iouClaimed, handler.iouClaimed(), "IOUs claimed");
        assertEq(a.badDebt, handler.badDebt(), "bad debt");
        assertEq(
            a.held,
            a.deposited + a.funded + a.lossesReceived + a.penaltiesReceived - a.withdrawn - a.profitsPaid
                - a.iouClaimed,
            "held != inflows - outflows"
        );
        assertEq(usdc.balanceOf(address(pool)), a.held + handler.rawDonated(), "tokens != held + raw donations");
    }

    /// forge-config: default.invariant.runs = 256
    /// forge-config: default.invariant.depth = 50
    /// @dev IOUs: owed == issued - claimed == sum over traders; every profit asked for was
    ///      either paid or owed; traders hold exactly what was paid or claimed.
    function invariant_IousTracked() public view {
        IMarginPool.Accounts memory a = pool.accounts();
        uint256 sum;
        uint256 received;
        for (uint256 i = 0; i < handler.traderCount(); ++i) {
            address t = handler.traders(i);
            sum += pool.iouOf(t);
            received += usdc.balanceOf(t);
        }
        assertEq(a.owed, sum, "owed != sum of IOUs");
        assertEq(a.owed, a.iouIssued - a.iouClaimed, "owed != issued - claimed");
        assertEq(handler.profitsRequested(), a.profitsPaid + a.iouIssued, "profit neither paid nor owed");
        assertEq(received, a.profitsPaid + a.iouClaimed, "traders' tokens != paid + claimed");
    }

    /// forge-config: default.invariant.runs = 256
    /// forge-config: default.invariant.depth = 50
    /// @dev totalAssets == held - owed (0 in deficit); all shares together are worth at most
    ///      totalAssets; deposits are closed exactly in deficit.
    function invariant_TotalAssetsAndSolvency() public view {
        IMarginPool.Accounts memory a = pool.accounts();
        uint256 ta = pool.totalAssets();
        assertEq(ta, a.held > a.owed ? a.held - a.owed : 0, "totalAssets != held - owed");
        assertLe(pool.convertToAssets(pool.totalSupply()), ta, "shares worth more than the pool");
        assertEq(pool.maxDeposit(address(1)) == 0, a.owed > a.held, "deposits open in deficit");
    }

    /// forge-config: default.invariant.runs = 256
    /// forge-config: default.invariant.depth = 50
    /// @dev Shares: supply == LP balances + escrow; escrow == pending == sum of requests.
    function invariant_SharesConserved() public view {
        uint256 sum = pool.balanceOf(address(pool));
        uint256 pending;
        for (uint256 i = 0; i < handler.lpCount(); ++i) {
            address lp = handler.lps(i);
            sum += pool.balanceOf(lp);
            pending += pool.pendingRedeem(lp).shares;
        }
        assertEq(pool.totalSupply(), sum, "supply != balances");
        assertEq(pool.balanceOf(address(pool)), pool.totalPendingShares(), "escrow != pending");
        assertEq(pending, pool.totalPendingShares(), "pending != sum of requests");
    }

    /// forge-config: default.invariant.runs = 256
    /// forge-config: default.invariant.depth = 50
    /// @dev No exit outside its window, no exit into the IOUs' backing, no exit paying more
    ///      than the exact (floor) value of the shares burnt; no profit paid out of tokens
    ///      that back earlier IOUs.
    function invariant_ExitsAreSafe() public view {
        assertFalse(handler.iouBackingPaidOut(), "payProfit paid out tokens owed to earlier IOUs");
        assertFalse(handler.earlyExit(), "request executed outside its window");
        assertFalse(handler.exitTookIouBacking(), "LP exit took tokens owed to traders");
        assertFalse(handler.roundTripProfit(), "exit paid more than the shares' value");
    }
}
