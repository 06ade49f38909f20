// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";

import {IMarginEngine} from "../src/engine/IMarginEngine.sol";
import {IOracleAdapter} from "../src/oracle/IOracleAdapter.sol";
import {IRiskGovernor} from "../src/risk/IRiskGovernor.sol";
import {IVolatilityMonitor} from "../src/risk/IVolatilityMonitor.sol";
import {RiskBase} from "./RiskBase.t.sol";

/// @dev The volatility monitor, volatility-driven tightening (anyone, at once, bounded)
///      and relaxing (anyone, two steps, after the timelock's delay), and per-proof policy.
contract RiskVolatilityTest is RiskBase {
    // ================================================================== monitor: admin

    function test_Monitor_TracksFromTheOraclePrice() public view {
        IVolatilityMonitor.Observation memory o = monitor.observation(address(ethFeed));
        assertEq(uint256(o.price), ETH_PRICE);
        assertEq(uint256(o.updatedAt), T0);
        assertEq(uint256(o.variance), SEED_VARIANCE);
        assertEq(monitor.horizon(address(ethFeed)), HORIZON);
        assertTrue(monitor.isCurrent(address(ethFeed)));
        assertEq(monitor.owner(), address(timelock));
    }

    function test_Monitor_TimelockTracksAFeed() public {
        bytes memory data = abi.encodeCall(IVolatilityMonitor.trackFeed, (address(wethFeed), 2 days, 1e10));
        bytes32 id = _scheduleOn(address(monitor), data);
        vm.expectRevert(_notReady(id));
        _executeOn(address(monitor), data);
        _skip(DELAY);
        _executeOn(address(monitor), data);
        assertEq(monitor.horizon(address(wethFeed)), 2 days);
        assertEq(uint256(monitor.observation(address(wethFeed)).price), WETH_PRICE);
    }

    function test_RevertIf_StrangerConfiguresTheMonitor() public {
        vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, stranger));
        vm.prank(stranger);
        monitor.trackFeed(address(usdcFeed), HORIZON, 0);
        vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, stranger));
        vm.prank(stranger);
        monitor.setHorizon(address(ethFeed), 1 hours);
    }

    function test_RevertIf_TrackFeedOutOfRange() public {
        vm.startPrank(address(timelock));
        vm.expectRevert(
            abi.encodeWithSelector(IVolatilityMonitor.VolatilityMonitor__AlreadyTracked.selector, address(ethFeed))
        );
        monitor.trackFeed(address(ethFeed), HORIZON, 0);
        vm.expectRevert(
            abi.encodeWithSelector(IVolatilityMonitor.VolatilityMonitor__FeedNotRegistered.selector, stranger)
        );
        monitor.trackFeed(stranger, HORIZON, 0);
        uint32 lo = monitor.MIN_HORIZON();
        uint32 hi = monitor.MAX_HORIZON();
        vm.expectRevert(abi.encodeWithSelector(IVolatilityMonitor.VolatilityMonitor__InvalidHorizon.selector, lo - 1));
        monitor.trackFeed(address(usdcFeed), lo - 1, 0);
        vm.expectRevert(abi.encodeWithSelector(IVolatilityMonitor.VolatilityMonitor__InvalidHorizon.selector, hi + 1));
        monitor.trackFeed(address(usdcFeed), hi + 1, 0);
        uint256 maxVar = monitor.MAX_VARIANCE();
        vm.expectRevert(
            abi.encodeWithSelector(IVolatilityMonitor.VolatilityMonitor__InvalidVariance.selector, maxVar + 1)
        );
        monitor.trackFeed(address(usdcFeed), HORIZON, maxVar + 1);
        vm.expectRevert(abi.encodeWithSelector(IVolatilityMonitor.VolatilityMonitor__InvalidHorizon.selector, hi + 1));
        monitor.setHorizon(address(ethFeed), hi + 1);
        vm.expectRevert(
            abi.encodeWithSelector(IVolatilityMonitor.VolatilityMonitor__UnknownFeed.selector, address(usdcFeed))
        );
        monitor.setHorizon(address(usdcFeed), HORIZON);
        vm.expectRevert(IVolatilityMonitor.VolatilityMonitor__RenounceDisabled.selector);
        monitor.renounceOwnership();
        vm.stopPrank();
    }

    // ================================================================== monitor: update

    /// @dev One step against the formula of docs/risk.md, evaluated here by hand.
    function test_Update_FoldsOneReturn() public {
        _skip(1 minutes);
        _setPrice(ethFeed, 2_400e8); // +20%
        uint256 v = monitor.update(address(ethFeed));
        // r = 400/2000 = 0.2 exactly; r² = 0.04; v' = ⌈(v0·(H − 60) + r²)/H⌉
        uint256 want = Math.ceilDiv(SEED_VARIANCE * (HORIZON - 60) + 0.04e18, HORIZON);
        assertEq(v, want);
        IVolatilityMonitor.Observation memory o = monitor.observation(address(ethFeed));
        assertEq(uint256(o.variance), want);
        assertEq(uint256(o.price), 2_400e8);
        assertEq(uint256(o.updatedAt), block.timestamp);
    }

    /// @dev The return is measured against the lower price (|ΔP|/min ≥ |ln|): a fall by
    ///      1/6 counts like the +20% rise it undoes.
    function test_Update_ReturnIsSymmetric() public {
        uint256 up = monitor.nextVariance(0, 2_000e8, 2_400e8, 60, HORIZON);
        uint256 down = monitor.nextVariance(0, 2_400e8, 2_000e8, 60, HORIZON);
        assertEq(up, down);
        assertEq(up, Math.ceilDiv(0.04e18, HORIZON));
    }

    function test_Update_LongGapReplacesTheEstimate() public {
        uint256 v = monitor.nextVariance(SEED_VARIANCE, 2_000e8, 2_200e8, HORIZON + 1, HORIZON);
        assertEq(v, Math.ceilDiv(0.01e18, HORIZON + 1)); // r = 0.1: r²/dt, the old estimate gone
    }

    /// @dev Attack: spamming update in one oracle round, to inflate or dilute the estimate.
    function test_RevertIf_UpdatedTwiceForOneOracleTimestamp() public {
        _skip(1 minutes);
        monitor.update(address(ethFeed));
        vm.expectRevert(
            abi.encodeWithSelector(
                IVolatilityMonitor.VolatilityMonitor__NoNewObservation.selector, address(ethFeed), block.timestamp
            )
        );
        monitor.update(address(ethFeed));
        // a new round in the same second is still the same timestamp
        _setPrice(ethFeed, 3_000e8);
        vm.expectRevert(
            abi.encodeWithSelector(
                IVolatilityMonitor.VolatilityMonitor__NoNewObservation.selector, address(ethFeed), block.timestamp
            )
        );
        monitor.update(address(ethFeed));
    }

    function test_RevertIf_UpdateReadsAStaleOracle() public {
        vm.warp(block.timestamp + HEARTBEAT + 1);
        vm.expectRevert(
            abi.encodeWithSelector(IOracleAdapter.OracleAdapter__StalePrice.selector, address(ethFeed), T0, HEARTBEAT)
        );
        monitor.update(address(ethFeed));
    }

    function test_RevertIf_UpdateUntrackedFeed() public {
        vm.expectRevert(
            abi.encodeWithSelector(IVolatilityMonitor.VolatilityMonitor__UnknownFeed.selector, address(usdcFeed))
        );
        monitor.update(address(usdcFeed));
    }

    /// @dev Attack: many updates of an unchanged price, to dilute a high estimate faster
    ///      than time does. Decay is per second, not per call: 60 updates over an hour
    ///      leave at least as much variance as one update after the hour.
    function test_Update_ManyCallsDoNotDiluteFasterThanTime() public {
        _spikeEth();
        _copyEthToBtc();
        uint256 v0 = monitor.observation(address(ethFeed)).variance;
        uint256 b0 = monitor.observation(address(btcFeed)).variance;
        for (uint256 i = 0; i < 60; ++i) {
            _skip(1 minutes); // refreshes every feed at an unchanged price
            monitor.update(address(ethFeed));
        }
        monitor.update(address(btcFeed)); // once, after the same hour
        uint256 vMany = monitor.observation(address(ethFeed)).variance;
        uint256 vOnce = monitor.observation(address(btcFeed)).variance;
        assertEq(v0, b0, "both feeds started equal");
        assertLt(vMany, v0, "time decays the estimate");
        assertGe(vMany, vOnce, "spamming updates diluted faster than time");
    }

    /// @dev Makes BTC's observation equal to ETH's (variance and timestamp), so the two
    ///      feeds differ only by how often they are updated from now on.
    function _copyEthToBtc() internal {
        IVolatilityMonitor.Observation memory e = monitor.observation(address(ethFeed));
        // the struct is one slot: price | updatedAt << 64 | variance << 128
        bytes32 slot = keccak256(abi.encode(address(btcFeed), uint256(2))); // after Ownable2Step's 2
        uint256 btcNow = uint256(monitor.observation(address(btcFeed)).price);
        uint256 word = btcNow | (uint256(e.updatedAt) << 64) | (uint256(e.variance) << 128);
        vm.store(address(monitor), slot, bytes32(word));
        IVolatilityMonitor.Observation memory b = monitor.observation(address(btcFeed));
        assertEq(uint256(b.variance), uint256(e.variance), "storage layout of the monitor changed");
        assertEq(uint256(b.updatedAt), uint256(e.updatedAt));
    }

    function test_SigmaOver_RoundsUp() public view {
        uint256 v = monitor.observation(address(ethFeed)).variance;
        uint256 s = monitor.sigmaOver(address(ethFeed), MARGIN_PERIOD);
        uint256 x = v * MARGIN_PERIOD * 1e18;
        assertGe(s * s, x);
        assertLt((s - 1) * (s - 1), x);
    }

    function test_RevertIf_SigmaOverABadPeriod() public {
        vm.expectRevert(abi.encodeWithSelector(IVolatilityMonitor.VolatilityMonitor__InvalidPeriod.selector, 0));
        monitor.sigmaOver(address(ethFeed), 0);
        uint256 p = monitor.MAX_PERIOD() + 1;
        vm.expectRevert(abi.encodeWithSelector(IVolatilityMonitor.VolatilityMonitor__InvalidPeriod.selector, p));
        monitor.sigmaOver(address(ethFeed), p);
    }

    // ================================================================== fuzz: the estimator

    function testFuzz_NextVariance_RoundsUpAndIsCapped(uint256 v, uint64 p0, uint64 p1, uint32 dt, uint32 h)
        public
        view
    {
        v = bound(v, 0, monitor.MAX_VARIANCE());
        p0 = uint64(bound(p0, 1, type(uint64).max));
        p1 = uint64(bound(p1, 1, type(uint64).max));
        h = uint32(bound(h, monitor.MIN_HORIZON(), monitor.MAX_HORIZON()));
        dt = uint32(bound(dt, 1, 2 * uint256(h)));
        uint256 got = monitor.nextVariance(v, p0, p1, dt, h);
        assertLe(got, monitor.MAX_VARIANCE());
        // never below the exact rational value (unless capped)
        uint256 lo = p0 < p1 ? p0 : p1;
        uint256 diff = p0 < p1 ? p1 - p0 : p0 - p1;
        uint256 r = Math.mulDiv(diff, 1e18, lo); // floor
        uint256 r2 = Math.mulDiv(r, r, 1e18); // floor
        uint256 exact = dt >= h ? r2 / dt : (v * (h - dt) + r2) / h;
        if (exact < monitor.MAX_VARIANCE()) assertGe(got, exact);
        // no move: pure decay, never an increase
        assertLe(monitor.nextVariance(v, p0, p0, dt, h), v < 1 ? 0 : v);
    }

    function testFuzz_NextVariance_BiggerMoveNeverLess(uint64 p0, uint64 a, uint64 b, uint32 dt) public view {
        p0 = uint64(bound(p0, 1e8, 1e14));
        a = uint64(bound(a, 0, 1e14));
        b = uint64(bound(b, a, 1e14));
        dt = uint32(bound(dt, 1, 2 days));
        uint256 small = monitor.nextVariance(SEED_VARIANCE, p0, uint256(p0) + a, dt, HORIZON);
        uint256 big = monitor.nextVariance(SEED_VARIANCE, p0, uint256(p0) + b, dt, HORIZON);
        assertGe(big, small);
    }

    // ================================================================== sync: tighten at once

    /// @dev Volatility spike: anyone updates and syncs; margin rises in the same block, by
    ///      the per-update bound, toward the target recomputed here.
    function test_SyncMargin_VolSpikeRaisesMarginAtOnce() public {
        _spikeEth();
        (uint256 tMmr, uint256 tImr) = _expectedTarget(ETH);
        (uint16 gMmr, uint16 gImr,) = gov.targetRates(ETH);
        assertEq(uint256(gMmr), tMmr);
        assertEq(uint256(gImr), tImr);
        assertGt(tMmr, ETH_MMR + STEP, "the spike implies more than one step");
        uint256 epoch = engine.policyEpoch();
        vm.expectEmit(address(gov));
        emit IRiskGovernor.MarginSynced(ETH, stranger, ETH_MMR + STEP, ETH_IMR + STEP, SafeCast.toUint16(tMmr));
        vm.prank(stranger);
        gov.syncMargin(ETH);
        assertEq(_mmr(ETH), ETH_MMR + STEP);
        assertEq(_imr(ETH), ETH_IMR + STEP);
        assertEq(uint256(engine.policyEpoch()), epoch + 1, "a new policy epoch: acts on the next proof");
        assertEq(gov.floorOf(ETH).mmrBps, ETH_MMR, "volatility never moves the floor");
        // the next sync waits for the cooldown, then takes the next step
        vm.expectRevert(
            abi.encodeWithSelector(IRiskGovernor.RiskGovernor__Cooldown.selector, P_ETH, block.timestamp + COOLDOWN)
        );
        gov.syncMargin(ETH);
        vm.warp(block.timestamp + COOLDOWN);
        gov.syncMargin(ETH);
        assertEq(_mmr(ETH), ETH_MMR + 2 * STEP);
    }

    function test_SyncMargin_StopsAtTheTargetAndTheCeiling() public {
        _spikeEth();
        (uint256 tMmr,) = _expectedTarget(ETH);
        for (uint256 i = 0; i < 20; ++i) {
            try gov.syncMargin(ETH) {} catch {}
            vm.warp(block.timestamp + COOLDOWN);
        }
        uint256 want = tMmr < MAX_MMR ? tMmr : MAX_MMR;
        assertEq(_mmr(ETH), want);
        vm.expectRevert(
            abi.encodeWithSelector(
                IRiskGovernor.RiskGovernor__NothingToTighten.selector,
                ETH,
                SafeCast.toUint16(want),
                SafeCast.toUint16(tMmr)
            )
        );
        gov.syncMargin(ETH);
    }

    function test_RevertIf_SyncWithoutVolatility() public {
        (uint16 tMmr,,) = gov.targetRates(ETH);
        assertEq(tMmr, ETH_MMR, "the seed implies less than the floor");
        vm.expectRevert(
            abi.encodeWithSelector(IRiskGovernor.RiskGovernor__NothingToTighten.selector, ETH, ETH_MMR, ETH_MMR)
        );
        gov.syncMargin(ETH);
    }

    // ================================================================== relax: two steps

    /// @dev Calm after a spike: the way down is announced, waits max(relaxDelay, the
    ///      timelock's delay), and lands on the volatility target of the moment.
    function test_Relax_WaitsForTheTimelockDelay() public {
        _raiseEthBySpike();
        _calmEth(3 days);
        (uint16 tMmr, uint16 tImr,) = gov.targetRates(ETH);
        assertLt(tMmr, _mmr(ETH));
        uint64 eta = _u64(block.timestamp + DELAY); // DELAY > RELAX_DELAY
        vm.expectEmit(address(gov));
        emit IRiskGovernor.RelaxProposed(ETH, stranger, tMmr, tImr, eta);
        vm.prank(stranger);
        gov.proposeRelax(ETH);
        uint16 before = _mmr(ETH);
        vm.expectRevert(abi.encodeWithSelector(IRiskGovernor.RiskGovernor__RelaxNotReady.selector, ETH, eta));
        gov.executeRelax(ETH);
        vm.warp(eta - 1);
        _refreshFeeds();
        monitor.update(address(ethFeed));
        vm.expectRevert(abi.encodeWithSelector(IRiskGovernor.RiskGovernor__RelaxNotReady.selector, ETH, eta));
        gov.executeRelax(ETH);
        assertEq(_mmr(ETH), before, "loosened before the delay");
        vm.warp(eta);
        _refreshFeeds();
        monitor.update(address(ethFeed));
        gov.executeRelax(ETH);
        (uint256 wantMmr,) = _expectedTarget(ETH);
        assertEq(uint256(_mmr(ETH)), Math.max(wantMmr, tMmr));
        assertGe(_mmr(ETH), ETH_MMR, "never below the floor");
        assertEq(gov.pendingRelax(ETH).eta, 0);
    }

    function test_RevertIf_RelaxWithStaleVolatility() public {
        _raiseEthBySpike();
        _calmEth(3 days);
        _skip(1 minutes); // a new oracle answer the monitor has not seen
        vm.expectRevert(
            abi.encodeWithSelector(IRiskGovernor.RiskGovernor__VolatilityNotCurrent.selector, address(ethFeed))
        );
        gov.proposeRelax(ETH);
    }

    function test_RevertIf_NothingToRelax() public {
        vm.expectRevert(
            abi.encodeWithSelector(IRiskGovernor.RiskGovernor__NothingToRelax.selector, ETH, ETH_MMR, ETH_MMR)
        );
        gov.proposeRelax(ETH);
        vm.expectRevert(abi.encodeWithSelector(IRiskGovernor.RiskGovernor__NoPendingRelax.selector, ETH));
        gov.executeRelax(ETH);
    }

    /// @dev Attack: volatility comes back while a relax waits. A sync cancels it; without a
    ///      sync the execution still never goes below today's target.
    function test_Relax_CancelledByATightening() public {
        _raiseEthBySpike();
        _calmEth(3 days);
        gov.proposeRelax(ETH);
        _spikeEth();
        vm.expectEmit(address(gov));
        emit IRiskGovernor.RelaxCancelled(ETH);
        gov.syncMargin(ETH);
        vm.warp(block.timestamp + DELAY);
        vm.expectRevert(abi.encodeWithSelector(IRiskGovernor.RiskGovernor__NoPendingRelax.selector, ETH));
        gov.executeRelax(ETH);
    }

    function test_Relax_NeverBelowTheTargetAtExecution() public {
        _raiseEthBySpike();
        _calmEth(3 days);
        gov.proposeRelax(ETH);
        uint16 announced = gov.pendingRelax(ETH).mmrBps;
        uint16 cur = _mmr(ETH);
        vm.warp(block.timestamp + DELAY);
        _refreshFeeds();
        _setPrice(ethFeed, (uint256(monitor.observation(address(ethFeed)).price) * 105) / 100); // +5%, nobody syncs
        monitor.update(address(ethFeed));
        (uint16 tMmr,,) = gov.targetRates(ETH);
        assertGt(tMmr, announced, "the test needs the target to have risen");
        assertLt(tMmr, cur, "and to stay below the current rate");
        gov.executeRelax(ETH);
        assertEq(_mmr(ETH), tMmr, "today's target, not the announced one");
    }

    /// @dev Attack: re-proposing to postpone a relax forever (each slightly deeper as
    ///      volatility decays). Only one announcement per market at a time.
    function test_RevertIf_RelaxProposedTwice() public {
        _raiseEthBySpike();
        _calmEth(3 days);
        gov.proposeRelax(ETH);
        uint64 eta = gov.pendingRelax(ETH).eta;
        _calmEth(1 hours);
        vm.expectRevert(abi.encodeWithSelector(IRiskGovernor.RiskGovernor__RelaxPending.selector, ETH, eta));
        vm.prank(stranger);
        gov.proposeRelax(ETH);
        assertEq(gov.pendingRelax(ETH).eta, eta);
    }

    // ================================================================== per-proof policy

    /// @dev A proof accepted before a loosening keeps its lifetime and grace: the timelock
    ///      lengthens both, Alice's account still lapses and runs out of grace on the old ones.
    function test_Proof_KeepsItsLifetimeAndGraceThroughALoosening() public {
        _openAlice(); // at T0, lifetime 1 day, grace 1 hour
        bytes memory l = abi.encodeCall(IRiskGovernor.setProofLifetime, (3 days));
        bytes memory g = abi.encodeCall(IRiskGovernor.setGracePeriod, (4 hours));
        _schedule(l);
        _schedule(g);
        _skip(DELAY);
        _execute(l);
        _execute(g);
        assertEq(uint256(engine.proofLifetime()), 3 days);
        IMarginEngine.Account memory a = engine.account(ALICE);
        assertEq(uint256(a.lifetime), LIFETIME, "the accepted proof keeps its lifetime");
        assertEq(uint256(a.grace), GRACE, "and its grace");
        (, uint64 at) = engine.liquidatable(ALICE);
        assertEq(uint256(at), T0 + LIFETIME + 1);
        // a flag runs the old grace
        _setPrice(ethFeed, SHOCK_ETH_PRICE);
        vm.prank(keeper);
        engine.flagShock(ALICE);
        (, at) = engine.liquidatable(ALICE);
        assertEq(uint256(at), block.timestamp + GRACE + 1);
        vm.warp(block.timestamp + GRACE + 1);
        _refreshFeeds();
        vm.prank(keeper);
        engine.liquidate(ALICE);
    }

    /// @dev An immediate tightening (publisher) acts on the next proof only, too.
    function test_Proof_KeepsItsLifetimeThroughATightening() public {
        _openAlice();
        vm.prank(publisher);
        gov.shortenProofLifetime(LIFETIME / 2);
        assertEq(uint256(engine.account(ALICE).lifetime), LIFETIME);
        (, uint64 at) = engine.liquidatable(ALICE);
        assertEq(uint256(at), T0 + LIFETIME + 1);
    }

    // ================================================================== helpers

    function _raiseEthBySpike() internal {
        _spikeEth();
        gov.syncMargin(ETH);
        assertGt(_mmr(ETH), ETH_MMR);
    }

    /// @dev `span` seconds of an unchanged ETH price, folded in every hour.
    function _calmEth(uint256 span) internal {
        for (uint256 t = 0; t < span; t += 1 hours) {
            _skip(1 hours);
            monitor.update(address(ethFeed));
        }
    }
}
