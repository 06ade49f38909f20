// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {Vm} from "./utils/Vm.sol";
import {PortfolioBase} from "./utils/PortfolioBase.sol";
import {IPortfolioEngine} from "../src/portfolio/IPortfolioEngine.sol";
import {IOracleAdapter} from "../src/oracle/IOracleAdapter.sol";

/// @notice The portfolio engine with REAL Groth16 proofs (contracts/tools/make_fixtures.py):
///         open, proveMargin, withdraw, close, flag, liquidate, reclaim, series settlement at
///         close, value conservation, and the latency round trip.
contract PortfolioProofsTest is PortfolioBase {
    address internal constant BOB = address(uint160(uint256(keccak256("zkmargin.test.bob"))));
    uint256 internal constant POOL_USDC = 100_000e6;
    /// @dev Carol's close fee at the setup prices: perp 2,000·10 bps = 2, call 2,000·0.271·10 bps
    ///      = 0.542 (1e-6 USDC, rounded up).
    uint256 internal constant FEE_AT_SETUP = 2.542e6;
    /// @dev The short call's gamma charge (9.8 USDC): at unchanged prices it owes mark + charge.
    uint256 internal constant CALL_GAMMA = 9.8e6;

    function setUp() public override {
        super.setUp();
        _fundPool(usdcPool, usdc, POOL_USDC);
    }

    // ================================================================== open

    function test_openWithRealProof() public {
        _publish(_words());
        _deposit(CAROL, USDC, CAROL_USDC);
        uint256 commitment = _fixtureUint(".book.commitment");
        uint256[8] memory want = _proofInputs("carolOpen");
        uint256[8] memory got = engine.openingInputs(CAROL, commitment);
        for (uint256 i = 0; i < 8; ++i) {
            assertEq(got[i], want[i], string.concat("opening input ", vm.toString(i)));
        }
        vm.expectEmit(address(engine));
        emit IPortfolioEngine.AccountOpened(CAROL, commitment, 1, 0);
        vm.prank(CAROL);
        engine.open(commitment, _proof("carolOpen"));
        IPortfolioEngine.Account memory a = engine.account(CAROL);
        assertEq(a.commitment, commitment);
        assertEq(a.nonce, 1);
        assertEq(a.epoch, 1);
        assertEq(a.mode, 5);
        assertEq(a.provenAt, T0);
        assertEq(a.lifetime, LIFETIME);
        assertEq(a.expiryCap, uint64(EXPIRY) + GRACE);
        assertEq(a.provenPriceWords[0], want[1]);
        assertEq(a.provenPriceWords[1], want[2]);
    }

    function test_openRefusals() public {
        _publish(_words());
        _deposit(CAROL, USDC, CAROL_USDC);
        uint256 commitment = _fixtureUint(".book.commitment");
        IPortfolioEngine.Proof memory p = _proof("carolOpen");
        // another commitment, another account, other balances: the proof does not verify
        vm.prank(CAROL);
        vm.expectRevert(IPortfolioEngine.PortfolioEngine__InvalidProof.selector);
        engine.open(commitment + 1, p);
        _deposit(BOB, USDC, CAROL_USDC);
        vm.prank(BOB);
        vm.expectRevert(IPortfolioEngine.PortfolioEngine__InvalidProof.selector);
        engine.open(commitment, p);
        _deposit(CAROL, USDC, 1);
        vm.prank(CAROL);
        vm.expectRevert(IPortfolioEngine.PortfolioEngine__InvalidProof.selector);
        engine.open(commitment, p);
        vm.prank(CAROL);
        engine.withdrawIdle(USDC, 1);
        // a price move since proving
        ethFeed.updateAnswer(2_000e8 + 1);
        vm.prank(CAROL);
        vm.expectRevert(IPortfolioEngine.PortfolioEngine__InvalidProof.selector);
        engine.open(commitment, p);
        ethFeed.updateAnswer(2_000e8);
        vm.prank(CAROL);
        engine.open(commitment, p);
        vm.prank(CAROL);
        vm.expectRevert(abi.encodeWithSelector(IPortfolioEngine.PortfolioEngine__AccountExists.selector, CAROL));
        engine.open(commitment, p);
    }

    /// @dev A maintenance proof is not an opening proof (the modeWord is bound).
    function test_openRefusesMaintenanceProof() public {
        _publish(_words());
        _deposit(CAROL, USDC, CAROL_USDC);
        vm.prank(CAROL);
        vm.expectRevert(IPortfolioEngine.PortfolioEngine__InvalidProof.selector);
        engine.open(_fixtureUint(".book.commitment"), _proof("carolProve"));
    }

    // ================================================================== prove / withdraw

    function test_proveMarginAndReplay() public {
        _openCarol();
        vm.warp(T0 + 1 hours);
        _refreshFeeds();
        uint256[8] memory want = _proofInputs("carolProve");
        uint256[8] memory got = engine.publicInputs(CAROL, 0, 0, 0);
        for (uint256 i = 0; i < 8; ++i) {
            assertEq(got[i], want[i]);
        }
        vm.prank(CAROL);
        engine.proveMargin(_proof("carolProve"));
        IPortfolioEngine.Account memory a = engine.account(CAROL);
        assertEq(a.nonce, 2);
        assertEq(a.mode, 0);
        assertEq(a.provenAt, T0 + 1 hours);
        vm.prank(CAROL);
        vm.expectRevert(IPortfolioEngine.PortfolioEngine__InvalidProof.selector);
        engine.proveMargin(_proof("carolProve")); // nonce 1 is spent
    }

    function test_withdrawWithRealProof() public {
        _openCarol();
        uint256[8] memory want = _proofInputs("carolWithdraw");
        uint256[8] memory got = engine.publicInputs(CAROL, 3, USDC, 1_000e6);
        for (uint256 i = 0; i < 8; ++i) {
            assertEq(got[i], want[i]);
        }
        IPortfolioEngine.Proof memory p = _proof("carolWithdraw");
        vm.prank(CAROL);
        vm.expectRevert(IPortfolioEngine.PortfolioEngine__InvalidProof.selector);
        engine.withdraw(USDC, 1_000e6 + 1, p); // one unit more than proven
        vm.prank(CAROL);
        vm.expectRevert(
            abi.encodeWithSelector(IPortfolioEngine.PortfolioEngine__InsufficientBalance.selector, WETH, 0, 1_000e6)
        );
        engine.withdraw(WETH, 1_000e6, p);
        vm.prank(CAROL);
        engine.withdraw(USDC, 1_000e6, p);
        assertEq(engine.balanceOf(CAROL, USDC), 2_000e6);
        assertEq(usdc.balanceOf(CAROL), 1_000e6);
        assertEq(engine.account(CAROL).mode, 3);
    }

    /// @dev Every feed stale: the price read refuses (the adapter's error) while no outage is
    ///      counted yet, and the engine refuses once one is (after a poke).
    function test_withdrawRefusedWhileStale() public {
        _openCarol();
        vm.warp(T0 + 2 hours); // every feed stale
        IPortfolioEngine.Proof memory p = _proof("carolWithdraw");
        vm.prank(CAROL);
        vm.expectRevert(
            abi.encodeWithSelector(IOracleAdapter.OracleAdapter__StalePrice.selector, address(ethFeed), T0, HEARTBEAT)
        );
        engine.withdraw(USDC, 1_000e6, p);
        engine.pokeStale();
        vm.prank(CAROL);
        vm.expectRevert(IPortfolioEngine.PortfolioEngine__FeedsStale.selector);
        engine.withdraw(USDC, 1_000e6, p);
    }

    // ================================================================== close

    /// @dev At the publication prices the perpetual is flat and the short call owes its mark
    ///      plus its gamma charge (PnL −9.8), with the fee.
    function test_closeAtSetupPrices() public {
        _openCarol();
        uint256 poolBefore = usdcPool.totalAssets();
        uint256 paid = FEE_AT_SETUP + CALL_GAMMA;
        vm.expectEmit(address(engine));
        emit IPortfolioEngine.AccountClosed(
            CAROL, -9.8e16, 2.542e16, 0, [paid, 0], [uint256(0), 0], [CAROL_USDC - paid, 0]
        );
        vm.prank(CAROL);
        engine.close(_carolBook(), _carolSalt());
        assertEq(usdc.balanceOf(CAROL), CAROL_USDC - paid);
        assertEq(usdcPool.totalAssets(), poolBefore + paid);
        assertEq(usdc.balanceOf(address(engine)), 0);
        IPortfolioEngine.Account memory a = engine.account(CAROL);
        assertEq(a.commitment, 0);
        assertEq(a.nonce, 1, "the nonce survives the close");
    }

    /// @dev The close fee is the market's at close time (the owner's setCloseFee): at 0 the
    ///      round trip at unchanged prices returns the deposit less only the gamma charge.
    function test_closeFeeFollowsTheListing() public {
        _openCarol();
        vm.prank(owner);
        engine.setCloseFee(ETH, 0);
        vm.prank(CAROL);
        engine.close(_carolBook(), _carolSalt());
        assertEq(usdc.balanceOf(CAROL), CAROL_USDC - CALL_GAMMA);
    }

    function test_closeRefusesWrongReveal() public {
        _openCarol();
        IPortfolioEngine.Position[8] memory book = _carolBook();
        book[1].size += 1; // one unit of the call hidden
        vm.prank(CAROL);
        vm.expectRevert(IPortfolioEngine.PortfolioEngine__CommitmentMismatch.selector);
        engine.close(book, _carolSalt());
        vm.prank(CAROL);
        vm.expectRevert(IPortfolioEngine.PortfolioEngine__CommitmentMismatch.selector);
        engine.close(_carolBook(), _carolSalt() + 1);
    }

    /// @dev After expiry an unsettled series refuses the close; once settled the call pays
    ///      its intrinsic value (no option fee: δ is 0 after settlement).
    function test_closeAfterExpiryNeedsSettlement() public {
        vm.prank(owner);
        engine.setProofLifetime(365 days);
        _openCarol();
        vm.warp(EXPIRY - 1);
        ethFeed.updateAnswer(2_400e8);
        vm.warp(EXPIRY + 10);
        ethFeed.updateAnswer(2_600e8); // round 3: the settlement round
        btcFeed.updateAnswer(int256(BTC_PRICE));
        usdcFeed.updateAnswer(int256(USDC_PRICE));
        wethFeed.updateAnswer(int256(WETH_PRICE));
        vm.prank(CAROL);
        vm.expectRevert(abi.encodeWithSelector(IPortfolioEngine.PortfolioEngine__SeriesNotSettled.selector, 0));
        engine.close(_carolBook(), _carolSalt());
        engine.settleSeries(0, 3);
        // perp +600, short call −(100 − 41.2) = −58.8, fee 2,600·10 bps = 2.6: +538.6 USDC
        vm.prank(CAROL);
        engine.close(_carolBook(), _carolSalt());
        assertEq(usdc.balanceOf(CAROL), CAROL_USDC + 538.6e6);
    }

    /// @dev The latency guard: knowing the next ETH round (+0.1%, the close fee), opening
    ///      long at the old price and closing at the new one does not pay.
    function test_latencyRoundTripDoesNotProfit() public {
        _openCarol();
        ethFeed.updateAnswer(2_002e8);
        vm.prank(CAROL);
        engine.close(_carolBook(), _carolSalt());
        assertLt(usdc.balanceOf(CAROL) + usdcPool.iouOf(CAROL), CAROL_USDC, "the round trip profited");
    }

    /// @dev No value is created: whatever the close prices, the trader's receipt plus the
    ///      vault's change equals the deposit (tokens conserved), and the vault's change is
    ///      exactly −(PnL − fee) rounded against the trader.
    function testFuzz_closeConservesValue(uint32 ethPrice, uint32 btcPrice) public {
        uint256 pe = bound(ethPrice, 1_000, 4_000) * 1e8;
        uint256 pb = bound(btcPrice, 30_000, 90_000) * 1e8;
        _openCarol();
        ethFeed.updateAnswer(int256(pe));
        btcFeed.updateAnswer(int256(pb));
        uint256 total = usdc.balanceOf(address(engine)) + usdc.balanceOf(address(usdcPool));
        uint256 poolBefore = usdcPool.totalAssets();
        vm.prank(CAROL);
        engine.close(_carolBook(), _carolSalt());
        uint256 got = usdc.balanceOf(CAROL) + usdcPool.iouOf(CAROL);
        assertEq(
            usdc.balanceOf(CAROL) + usdc.balanceOf(address(usdcPool)) + usdc.balanceOf(address(engine)), total
        );
        // PnL − fee in 1e-16 quote: perp (pe − 2000e8) − (what the short call owes − 41.2);
        // fee up, the perp's at the higher of entry and close
        int256 pnl = int256(pe) - 2_000e8 - (_shortCallOwes(pe) - 41.2e8);
        uint256 perpAt = pe > 2_000e8 ? pe : 2_000e8;
        uint256 fee16 = (1e8 * perpAt * 10 * 1e4 + 1e8 * pe * 2_710 * 10 + 1e8 - 1) / 1e8;
        int256 net16 = pnl * 1e8 - int256(fee16);
        // USDC at 1: 1e-6 USDC = 1e10 units of 1e-16 quote; the trader's side rounds down
        int256 netUsdc = net16 >= 0 ? net16 / 1e10 : -((-net16 + 1e10 - 1) / 1e10);
        assertEq(int256(got), int256(CAROL_USDC) + netUsdc, "trader receipt");
        assertEq(int256(usdcPool.totalAssets()) - int256(poolBefore) + int256(usdcPool.iouOf(CAROL)), -netUsdc);
    }

    /// @dev The settlement rule for Carol's short call (mark 41.2, δ 0.271, gamma 9.8,
    ///      published at ETH 2,000), written out: min(P, max(intrinsic, ⌈tangent⌉ + gamma)).
    function _shortCallOwes(uint256 pe) internal pure returns (int256) {
        int256 t = 41.2e8 * 1e4 + 2_710 * (int256(pe) - 2_000e8);
        int256 up = t >= 0 ? (t + 1e4 - 1) / 1e4 : -(-t / 1e4);
        int256 owed = up + 9.8e8;
        int256 intrinsic = pe > 2_500e8 ? int256(pe) - 2_500e8 : int256(0);
        if (owed < intrinsic) owed = intrinsic;
        return owed > int256(pe) ? int256(pe) : owed;
    }

    // ================================================================== flag / liquidate

    function test_flagBoundaryOnAnAccount() public {
        _openCarol();
        ethFeed.updateAnswer(2_100e8); // +5% alone: inside (‖u‖ = 0.93 < 0.975)
        assertFalse(engine.flaggable(CAROL));
        vm.expectRevert(abi.encodeWithSelector(IPortfolioEngine.PortfolioEngine__InsideProvenSet.selector, CAROL));
        engine.flag(CAROL);
        ethFeed.updateAnswer(2_200e8); // +10%: outside
        assertTrue(engine.flaggable(CAROL));
        vm.expectEmit(address(engine));
        emit IPortfolioEngine.Flagged(CAROL, keeper, 0, uint64(T0));
        vm.prank(keeper);
        engine.flag(CAROL);
        vm.expectRevert(abi.encodeWithSelector(IPortfolioEngine.PortfolioEngine__ShockPending.selector, CAROL));
        engine.flag(CAROL);
        assertFalse(engine.liquidatable(CAROL));
        vm.expectRevert(abi.encodeWithSelector(IPortfolioEngine.PortfolioEngine__NotLiquidatable.selector, CAROL));
        engine.liquidate(CAROL);
        // the trader proves again at the new price within the grace period: safe
        vm.prank(CAROL);
        engine.proveMargin(_proof("carolProveShock"));
        assertEq(engine.account(CAROL).shockAt, 0);
        vm.warp(T0 + GRACE + 1);
        _refreshFeeds();
        assertFalse(engine.liquidatable(CAROL));
    }

    function test_flagGraceThenLiquidate() public {
        _openCarol();
        ethFeed.updateAnswer(2_200e8);
        engine.flag(CAROL);
        vm.warp(T0 + GRACE);
        _refreshFeeds();
        assertFalse(engine.liquidatable(CAROL), "grace still running at its last second");
        vm.warp(T0 + GRACE + 1);
        _refreshFeeds();
        assertTrue(engine.liquidatable(CAROL));
        vm.prank(keeper);
        engine.liquidate(CAROL);
        assertEq(usdc.balanceOf(keeper), 75e6); // 2.5% of 3,000
    }

    /// @dev An outage stops the lapse clock: a proof lapses after its lifetime of live time.
    function test_lapseRunsOnTheLiveClock() public {
        _openCarol();
        vm.warp(T0 + 5 hours); // every feed stale from T0 + 1 h + 1
        engine.pokeStale();
        _refreshFeeds();
        engine.pokeStale(); // the outage closes: 4 h − 1 s
        vm.warp(T0 + LIFETIME + 1);
        _refreshFeeds();
        assertFalse(engine.liquidatable(CAROL), "outage time does not count");
        vm.warp(T0 + LIFETIME + 4 hours);
        _refreshFeeds();
        assertTrue(engine.liquidatable(CAROL));
    }

    function test_liquidateAndReclaim() public {
        _openCarol();
        vm.warp(T0 + LIFETIME + 1);
        _refreshFeeds();
        uint256 poolBefore = usdcPool.totalAssets();
        vm.recordLogs();
        vm.prank(keeper);
        engine.liquidate(CAROL);
        uint256[9] memory r = _recorded();
        assertEq(usdc.balanceOf(keeper), 75e6);
        assertEq(usdcPool.totalAssets(), poolBefore + 2_925e6);
        assertEq(engine.liquidationOf(CAROL, 1), keccak256(abi.encode(r)));
        assertEq(engine.account(CAROL).commitment, 0);

        // tampering: any changed word of the record, another nonce, a wrong reveal
        for (uint256 i = 0; i < 9; ++i) {
            uint256[9] memory t;
            for (uint256 k = 0; k < 9; ++k) {
                t[k] = r[k]; // a copy (memory assignment would alias r)
            }
            t[i] ^= 1;
            vm.prank(CAROL);
            vm.expectRevert(abi.encodeWithSelector(IPortfolioEngine.PortfolioEngine__NoLiquidation.selector, CAROL, 1));
            engine.reclaim(1, t, _carolBook(), _carolSalt());
        }
        vm.prank(CAROL);
        vm.expectRevert(abi.encodeWithSelector(IPortfolioEngine.PortfolioEngine__NoLiquidation.selector, CAROL, 0));
        engine.reclaim(0, r, _carolBook(), _carolSalt());
        vm.prank(BOB);
        vm.expectRevert(abi.encodeWithSelector(IPortfolioEngine.PortfolioEngine__NoLiquidation.selector, BOB, 1));
        engine.reclaim(1, r, _carolBook(), _carolSalt());
        IPortfolioEngine.Position[8] memory lie = _carolBook();
        lie[1].size = 0; // hide the short call
        vm.prank(CAROL);
        vm.expectRevert(IPortfolioEngine.PortfolioEngine__CommitmentMismatch.selector);
        engine.reclaim(1, r, lie, _carolSalt());

        // at the recorded prices: escrow 2,925 − fee 2.542 − the call's gamma charge 9.8
        vm.prank(CAROL);
        engine.reclaim(1, r, _carolBook(), _carolSalt());
        uint256 paid = FEE_AT_SETUP + CALL_GAMMA;
        assertEq(usdc.balanceOf(CAROL) + usdcPool.iouOf(CAROL), 2_925e6 - paid);
        assertEq(usdcPool.totalAssets() + usdcPool.iouOf(CAROL), poolBefore + paid);
        // self-liquidation pays reward + reclaim = what closing pays, never more
        assertEq(usdc.balanceOf(CAROL) + usdcPool.iouOf(CAROL) + 75e6, CAROL_USDC - paid);
        vm.prank(CAROL);
        vm.expectRevert(abi.encodeWithSelector(IPortfolioEngine.PortfolioEngine__NoLiquidation.selector, CAROL, 1));
        engine.reclaim(1, r, _carolBook(), _carolSalt());
    }

    function test_reclaimWindow() public {
        _openCarol();
        vm.warp(T0 + LIFETIME + 1);
        _refreshFeeds();
        vm.recordLogs();
        engine.liquidate(CAROL);
        uint256[9] memory r = _recorded();
        uint64 deadline = uint64(r[1]);
        assertEq(deadline, T0 + LIFETIME + 1 + 1 days);
        vm.warp(deadline + 1);
        vm.prank(CAROL);
        vm.expectRevert(abi.encodeWithSelector(IPortfolioEngine.PortfolioEngine__ReclaimExpired.selector, deadline));
        engine.reclaim(1, r, _carolBook(), _carolSalt());
    }

    /// @dev The expiry cap: at firstExpiry + grace every account proven under the epoch lapses.
    function test_expiryCapsTheLifetime() public {
        vm.prank(owner);
        engine.setProofLifetime(365 days);
        _openCarol();
        vm.warp(uint256(EXPIRY) + GRACE);
        _refreshFeeds();
        assertFalse(engine.liquidatable(CAROL));
        vm.warp(uint256(EXPIRY) + GRACE + 1);
        _refreshFeeds();
        assertTrue(engine.liquidatable(CAROL));
        // a keeper must settle an expired series before liquidating (marks for the record)
        vm.expectRevert(abi.encodeWithSelector(IPortfolioEngine.PortfolioEngine__SeriesNotSettled.selector, 0));
        engine.liquidate(CAROL);
    }

    // ================================================================== two assets (Dave)

    address internal constant DAVE = address(uint160(uint256(keccak256("zkmargin.test.dave"))));

    function _daveBook() internal pure returns (IPortfolioEngine.Position[8] memory book) {
        book[0] = IPortfolioEngine.Position(5, true, 1e8, 1_210.5e8); // long the BTC put
        book[1] = IPortfolioEngine.Position(ETH, false, 0.5e8, 2_000e8); // short 0.5 ETH
    }

    function _openDave() internal {
        assertEq(vm.parseJsonAddress(vm.readFile(FIXTURE), ".dave"), DAVE, "fixture dave");
        _publish(_words());
        _deposit(DAVE, USDC, 1_500e6);
        _deposit(DAVE, WETH, 1e18);
        vm.prank(DAVE);
        engine.open(_fixtureUint(".daveCommitment"), _proof("daveOpen"));
    }

    /// @dev The close fee (perp 0.5·2,000·10 bps = 1, put 60,000·0.285·10 bps = 17.1: 18.1
    ///      quote) splits pro rata to the assets' values (WETH 2,000, USDC 1,500), each leg
    ///      rounded up: 0.005171428571428572 WETH and 7.757143 USDC.
    function test_closeSplitsLegsBetweenTwoVaults() public {
        _fundPool(wethPool, weth, 100e18);
        _openDave();
        uint256 usdcPoolBefore = usdcPool.totalAssets();
        uint256 wethPoolBefore = wethPool.totalAssets();
        uint256[2] memory toPool = [uint256(7_757_143), 5_171_428_571_428_572];
        vm.expectEmit(address(engine));
        emit IPortfolioEngine.AccountClosed(
            DAVE, 0, 18.1e16, 0, toPool, [uint256(0), 0], [1_500e6 - toPool[0], 1e18 - toPool[1]]
        );
        vm.prank(DAVE);
        engine.close(_daveBook(), _fixtureUint(".daveSalt"));
        assertEq(usdcPool.totalAssets(), usdcPoolBefore + toPool[0]);
        assertEq(wethPool.totalAssets(), wethPoolBefore + toPool[1]);
        assertEq(weth.balanceOf(DAVE), 1e18 - toPool[1]);
        assertEq(usdc.balanceOf(DAVE), 1_500e6 - toPool[0]);
    }

    /// @dev WETH (risk factor ETH, haircut 10%) falling 9.75% against a flat ETH stays in the
    ///      proven set; one unit more is a flag with reason 2 (collateral 1).
    function test_flagCollateralDivergenceOnAnAccount() public {
        _openDave();
        wethFeed.updateAnswer(1_805e8);
        vm.expectRevert(abi.encodeWithSelector(IPortfolioEngine.PortfolioEngine__InsideProvenSet.selector, DAVE));
        engine.flag(DAVE);
        wethFeed.updateAnswer(1_805e8 - 1);
        vm.expectEmit(address(engine));
        emit IPortfolioEngine.Flagged(DAVE, keeper, 2, uint64(T0));
        vm.prank(keeper);
        engine.flag(DAVE);
    }

    // ================================================================== self-liquidation

    address internal constant DAVE2 = address(uint160(uint256(keccak256("zkmargin.test.dave2"))));

    /// @dev Dave's lapse (a keeper may liquidate him) with ETH at `pe` (WETH unchanged).
    function _lapseDave(uint256 pe) internal {
        _fundPool(wethPool, weth, 100e18);
        _openDave();
        vm.warp(T0 + LIFETIME + 1);
        _refreshFeeds();
        ethFeed.updateAnswer(int256(pe));
        assertTrue(engine.liquidatable(DAVE));
    }

    /// @dev Dave liquidates himself from a second address and reclaims.
    function _selfLiquidateDave() internal {
        vm.recordLogs();
        vm.prank(DAVE2);
        engine.liquidate(DAVE);
        uint256[9] memory r = _recorded();
        vm.prank(DAVE);
        engine.reclaim(1, r, _daveBook(), _fixtureUint(".daveSalt"));
    }

    function _closeDave() internal {
        vm.prank(DAVE);
        engine.close(_daveBook(), _fixtureUint(".daveSalt"));
    }

    /// @dev Per asset (USDC, WETH): what Dave's two addresses got (IOUs included) and what
    ///      the vault holds plus owes him; and the bad debt recorded (USDC vault).
    function _daveOutcome() internal view returns (uint256[2] memory paid, uint256[2] memory vault, uint256 badDebt) {
        paid[0] = usdc.balanceOf(DAVE) + usdc.balanceOf(DAVE2) + usdcPool.iouOf(DAVE);
        paid[1] = weth.balanceOf(DAVE) + weth.balanceOf(DAVE2) + wethPool.iouOf(DAVE);
        vault = [usdcPool.totalAssets(), wethPool.totalAssets()];
        badDebt = usdcPool.accounts().badDebt;
    }

    /// @dev The attack: ETH at 10,000 leaves Dave (1,500 USDC + 1 WETH at 2,000, short
    ///      0.5 ETH) underwater, below the 2.5% penalty. Liquidating himself from a second
    ///      address and reclaiming pays the penalty (37.5 USDC, 0.025 WETH) and nothing
    ///      more; closing pays the same reward first, then settles the escrow at the same
    ///      bad debt: exactly the same to each unit, at the same cost to each vault.
    function test_selfLiquidationUnderwater_closingPaysTheSame() public {
        uint256 snap = vm.snapshotState();
        _lapseDave(10_000e8);
        _selfLiquidateDave();
        (uint256[2] memory selfPaid, uint256[2] memory selfVault, uint256 selfBadDebt) = _daveOutcome();
        assertEq(selfPaid[0], 37.5e6, "self-liquidation: the USDC penalty");
        assertEq(selfPaid[1], 0.025e18, "and the WETH penalty");
        assertGt(selfBadDebt, 0, "underwater");
        vm.revertToState(snap);

        _lapseDave(10_000e8);
        vm.expectEmit(address(engine));
        emit IPortfolioEngine.CloseRewarded(DAVE, [uint256(37.5e6), 0.025e18]);
        _closeDave();
        (uint256[2] memory paid, uint256[2] memory vault, uint256 badDebt) = _daveOutcome();
        assertEq(paid[0], selfPaid[0], "closing pays the same USDC");
        assertEq(paid[1], selfPaid[1], "and the same WETH");
        assertEq(vault[0], selfVault[0], "the USDC vault holds the same");
        assertEq(vault[1], selfVault[1], "the WETH vault holds the same");
        assertEq(badDebt, selfBadDebt, "and the same bad debt");
    }

    /// @dev Above the penalty (Carol, lapsed at the setup prices) closing pays the 75 USDC
    ///      reward and the escrow less the fee and the call's charge: exactly what closing
    ///      before the lapse pays (test_closeAtSetupPrices), no windfall.
    function test_closeWhenLiquidatable_aboveThePenaltyPaysAsBefore() public {
        _openCarol();
        vm.warp(T0 + LIFETIME + 1);
        _refreshFeeds();
        assertTrue(engine.liquidatable(CAROL));
        uint256 poolBefore = usdcPool.totalAssets();
        uint256 paid = FEE_AT_SETUP + CALL_GAMMA;
        vm.expectEmit(address(engine));
        emit IPortfolioEngine.CloseRewarded(CAROL, [uint256(75e6), 0]);
        vm.expectEmit(address(engine));
        emit IPortfolioEngine.AccountClosed(
            CAROL, -9.8e16, 2.542e16, 0, [paid, 0], [uint256(0), 0], [CAROL_USDC - 75e6 - paid, 0]
        );
        vm.prank(CAROL);
        engine.close(_carolBook(), _carolSalt());
        assertEq(usdc.balanceOf(CAROL), CAROL_USDC - paid, "as a close before the lapse");
        assertEq(usdcPool.totalAssets(), poolBefore + paid);
        assertEq(usdc.balanceOf(address(engine)), 0);
    }

    /// @dev Closing a lapsed account against liquidating oneself from a second address and
    ///      reclaiming, at the same prices, in profit or deep underwater: never less, the
    ///      same up to one unit of rounding per asset, at the same cost to each vault.
    function testFuzz_selfLiquidationPaysNoMoreThanClosing(uint32 ethPrice) public {
        uint256 pe = bound(ethPrice, 1_000, 12_000) * 1e8;
        uint256 snap = vm.snapshotState();
        _lapseDave(pe);
        _closeDave();
        (uint256[2] memory closing, uint256[2] memory vault,) = _daveOutcome();
        vm.revertToState(snap);

        _lapseDave(pe);
        _selfLiquidateDave();
        (uint256[2] memory selfPaid, uint256[2] memory selfVault,) = _daveOutcome();
        for (uint256 c = 0; c < 2; ++c) {
            assertGe(closing[c], selfPaid[c], "self-liquidation pays more than closing");
            assertLe(closing[c], selfPaid[c] + 1, "the same up to one unit of rounding");
            assertEq(closing[c] + vault[c], selfPaid[c] + selfVault[c], "the vault pays what the trader gets");
        }
    }

    function _recorded() internal returns (uint256[9] memory r) {
        Vm.Log[] memory logs = vm.getRecordedLogs();
        bytes32 topic = IPortfolioEngine.LiquidationRecorded.selector;
        for (uint256 i = 0; i < logs.length; ++i) {
            if (logs[i].emitter == address(engine) && logs[i].topics[0] == topic) {
                return abi.decode(logs[i].data, (uint256[9]));
            }
        }
        fail("no LiquidationRecorded");
    }
}
