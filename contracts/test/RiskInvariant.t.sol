// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";

import {IMarginEngine} from "../src/engine/IMarginEngine.sol";
import {MarginEngine} from "../src/engine/MarginEngine.sol";
import {MockAggregator} from "../src/mocks/MockAggregator.sol";
import {IRiskGovernor} from "../src/risk/IRiskGovernor.sol";
import {RiskGovernor} from "../src/risk/RiskGovernor.sol";
import {VolatilityMonitor} from "../src/risk/VolatilityMonitor.sol";
import {RiskBase} from "./RiskBase.t.sol";
import {Test} from "./utils/Test.sol";

/// @title RiskHandler
/// @notice Random price paths and every permissionless call (monitor updates, syncs,
///         relax proposals and executions), publisher raises with random values, and
///         strangers trying the timelock-only functions. Each call checks its own outcome
///         and counts violations; rates are compared with the last ones seen, so any fall
///         that is not a due relax execution is caught.
contract RiskHandler is Test {
    MarginEngine internal engine;
    RiskGovernor internal gov;
    VolatilityMonitor internal monitor;
    MockAggregator[2] internal feeds;
    address internal publisher;
    uint256 internal delay;

    uint16[2] internal lastMmr;
    uint16[2] internal lastImr;
    uint256[2] internal announcedAt;
    uint16[2] internal lastFee;

    uint256 public violations;
    string public lastViolation;
    uint256 public syncs;
    uint256 public relaxes;
    uint256 public raises;
    uint256 public feeRaises;

    constructor(
        MarginEngine engine_,
        RiskGovernor gov_,
        VolatilityMonitor monitor_,
        MockAggregator[2] memory feeds_,
        address publisher_,
        uint256 delay_
    ) {
        engine = engine_;
        gov = gov_;
        monitor = monitor_;
        feeds = feeds_;
        publisher = publisher_;
        delay = delay_;
        for (uint8 i = 0; i < 2; ++i) {
            lastMmr[i] = engine.market(i).mmrBps;
            lastImr[i] = engine.market(i).imrBps;
            lastFee[i] = engine.market(i).closeFeeBps;
        }
    }

    // ------------------------------------------------------------------ actions

    /// @dev One step of a price path: `dt` seconds later, market `which` moves by up to
    ///      ±30%; both feeds get a fresh answer.
    function move(uint8 which, uint256 moveBps, bool up, uint256 dt) external {
        which = which % 2;
        vm.warp(block.timestamp + bound(dt, 1, 30 minutes));
        for (uint8 i = 0; i < 2; ++i) {
            (, int256 answer,,,) = feeds[i].latestRoundData();
            uint256 p = SafeCast.toUint256(answer);
            if (i == which) {
                uint256 d = (p * bound(moveBps, 0, 3_000)) / 10_000;
                p = up ? p + d : (p - d > 1e8 ? p - d : 1e8);
            }
            feeds[i].updateAnswer(SafeCast.toInt256(p));
        }
        _checkNoFall(false);
    }

    /// @dev Calm: `hours_` hours (1..6) at unchanged prices, folded in every hour, so
    ///      volatility decays and relaxes become due.
    function calm(uint256 hours_) external {
        hours_ = bound(hours_, 1, 6);
        for (uint256 h = 0; h < hours_; ++h) {
            vm.warp(block.timestamp + 1 hours);
            for (uint8 i = 0; i < 2; ++i) {
                (, int256 answer,,,) = feeds[i].latestRoundData();
                feeds[i].updateAnswer(answer);
                try monitor.update(address(feeds[i])) {} catch {}
            }
        }
        _checkNoFall(false);
    }

    function update(uint8 which) external {
        try monitor.update(address(feeds[which % 2])) {} catch {}
        _checkNoFall(false);
    }

    function sync(uint8 which) external {
        uint8 id = which % 2;
        IMarginEngine.Market memory before = engine.market(id);
        (uint16 tMmr, uint16 tImr,) = gov.targetRates(id);
        IRiskGovernor.Limits memory l = gov.limits();
        uint256 ceiling = before.mmrBps > l.maxMmrBps ? before.mmrBps : l.maxMmrBps;
        try gov.syncMargin(id) {
            syncs++;
            IMarginEngine.Market memory m = engine.market(id);
            if (m.mmrBps > before.mmrBps + l.maxStepBps || m.imrBps > before.imrBps + l.maxStepBps) {
                _violation("sync exceeded the per-update bound");
            }
            if (m.mmrBps > ceiling) _violation("sync went above the ceiling");
            // exactly min(target, one step, ceiling): the vol-implied requirement is met up to the bound
            uint256 want = _min3(tMmr > before.mmrBps ? tMmr : before.mmrBps, before.mmrBps + l.maxStepBps, ceiling);
            if (m.mmrBps != want) _violation("sync missed min(target, step, ceiling)");
            if (m.imrBps < m.mmrBps) _violation("sync left IMR below MMR");
            if (tImr > before.imrBps && m.imrBps < _min(tImr, before.imrBps + l.maxStepBps)) {
                _violation("sync left IMR short of its bounded target");
            }
        } catch (bytes memory err) {
            // forge-lint: disable-next-line(unsafe-typecast)
            if (bytes4(err) == IRiskGovernor.RiskGovernor__NothingToTighten.selector) {
                // nothing to do means the requirement is already met (up to the ceiling)
                if (before.mmrBps < _min(tMmr, ceiling) || before.imrBps < tImr) {
                    _violation("sync refused while below the volatility target");
                }
            }
        }
        _checkNoFall(false);
    }

    function propose(uint8 which) external {
        uint8 id = which % 2;
        try gov.proposeRelax(id) {
            announcedAt[id] = block.timestamp;
        } catch {}
        _checkNoFall(false);
    }

    function execute(uint8 which) external {
        uint8 id = which % 2;
        try gov.executeRelax(id) {
            relaxes++;
            // forge-lint: disable-next-line(block-timestamp)
            if (block.timestamp < announcedAt[id] + delay) _violation("relax executed before the timelock delay");
            _checkNoFall(true);
        } catch {
            _checkNoFall(false);
        }
    }

    function raise(uint8 which, uint16 dMmr, uint16 dImr) external {
        uint8 id = which % 2;
        IMarginEngine.Market memory before = engine.market(id);
        IRiskGovernor.Limits memory l = gov.limits();
        uint16 mmr = uint16(bound(before.mmrBps + uint256(dMmr % 400), 0, 10_000));
        uint16 imr = uint16(bound(before.imrBps + uint256(dImr % 400), 0, 10_000));
        vm.prank(publisher);
        try gov.raiseMarketRisk(id, mmr, imr) {
            raises++;
            if (mmr > before.mmrBps + l.maxStepBps || imr > before.imrBps + l.maxStepBps) {
                _violation("publisher raise exceeded the bound");
            }
            if (mmr > l.maxMmrBps) _violation("publisher raise above the ceiling");
        } catch {}
        _checkNoFall(false);
    }

    /// @dev The publisher raises a close fee by a random amount: accepted only within one
    ///      step, the ceiling and the cooldown; a stranger's raise never passes.
    function raiseFee(uint8 which, uint16 d, bool asStranger) external {
        uint8 id = which % 2;
        uint16 before = engine.market(id).closeFeeBps;
        IRiskGovernor.Limits memory l = gov.limits();
        uint16 fee = uint16(bound(uint256(before) + (d % 60), 0, 200));
        vm.prank(asStranger ? address(uint160(uint256(keccak256("zkmargin.test.attacker")))) : publisher);
        try gov.raiseCloseFee(id, fee) {
            feeRaises++;
            if (asStranger) _violation("a stranger raised a close fee");
            if (fee <= before) _violation("a close-fee raise did not raise");
            if (fee > before + l.maxCloseFeeStepBps) _violation("close-fee raise exceeded the step");
            if (fee > l.maxCloseFeeBps) _violation("close-fee raise above the ceiling");
        } catch {}
        _checkNoFall(false);
    }

    /// @dev A stranger tries a timelock-only loosening; it must never pass.
    function strangerLoosens(uint8 which, uint16 mmr) external {
        uint8 id = which % 2;
        mmr = uint16(bound(mmr, 1, 10_000));
        vm.prank(address(uint160(uint256(keccak256("zkmargin.test.attacker")))));
        try gov.setMarketRisk(id, mmr, mmr) {
            _violation("a stranger called a timelock-only function");
        } catch {}
        vm.prank(address(uint160(uint256(keccak256("zkmargin.test.attacker")))));
        try gov.setCloseFee(id, 0) {
            _violation("a stranger lowered a close fee");
        } catch {}
        _checkNoFall(false);
    }

    // ------------------------------------------------------------------ checks

    function _checkNoFall(bool dueRelax) internal {
        for (uint8 i = 0; i < 2; ++i) {
            IMarginEngine.Market memory m = engine.market(i);
            if ((m.mmrBps < lastMmr[i] || m.imrBps < lastImr[i]) && !dueRelax) {
                _violation("rates fell without a due relax");
            }
            lastMmr[i] = m.mmrBps;
            lastImr[i] = m.imrBps;
            // no handler call goes through the timelock: a close fee never falls
            if (m.closeFeeBps < lastFee[i]) _violation("a close fee fell without the timelock");
            lastFee[i] = m.closeFeeBps;
        }
    }

    function _violation(string memory why) internal {
        violations++;
        lastViolation = why;
    }

    function _min(uint256 a, uint256 b) internal pure returns (uint256) {
        return a < b ? a : b;
    }

    function _min3(uint256 a, uint256 b, uint256 c) internal pure returns (uint256) {
        return _min(_min(a, b), c);
    }
}

/// @dev Invariants over random price paths and call sequences, and fuzzed single steps.
contract RiskInvariantTest is RiskBase {
    RiskHandler internal handler;

    function setUp() public override {
        super.setUp();
        handler = new RiskHandler(engine, gov, monitor, _feeds(), publisher, DELAY);
        targetContract(address(handler));
    }

    /// @dev One campaign, every rule (a second invariant function would run a second
    ///      campaign over the same handler):
    ///      - no permissionless or publisher call loosened a rate except a relax executed
    ///        at least the timelock's delay after it was announced; every sync met
    ///        min(target, one step, ceiling); no bound was exceeded; no stranger got
    ///        through (the handler counts violations as they happen);
    ///      - floors hold (MMR, IMR never below the publisher's or timelock's base),
    ///        IMR >= MMR, MMR <= the ceiling, and nothing but the market rates moved.
    function invariant_RiskRules() public view {
        assertEq(handler.violations(), 0, handler.lastViolation());
        for (uint8 id = 0; id < 2; ++id) {
            IMarginEngine.Market memory m = engine.market(id);
            IRiskGovernor.Floor memory f = gov.floorOf(id);
            assertGe(m.mmrBps, f.mmrBps, "MMR below its floor");
            assertGe(m.imrBps, f.imrBps, "IMR below its floor");
            assertGe(m.imrBps, m.mmrBps, "IMR below MMR");
            assertLe(m.mmrBps, f.mmrBps > MAX_MMR ? f.mmrBps : MAX_MMR, "MMR above the ceiling");
            assertLe(m.closeFeeBps, MAX_FEE, "close fee above the ceiling");
        }
        assertEq(engine.owner(), address(gov));
        assertEq(uint256(engine.proofLifetime()), LIFETIME);
        assertEq(uint256(engine.gracePeriod()), GRACE);
        assertEq(uint256(engine.liquidationPenaltyBps()), PENALTY);
        assertEq(engine.collateral(USDC).haircutBps, USDC_HAIRCUT);
        assertEq(engine.collateral(WETH).haircutBps, WETH_HAIRCUT);
    }

    /// @dev The handler's paths work: a spike is synced up, a calm is relaxed after the
    ///      delay, and the checks stay quiet.
    function test_Handler_SyncsAndRelaxes() public {
        handler.move(0, 3_000, true, 60);
        handler.update(0);
        handler.move(0, 3_000, false, 60);
        handler.update(0);
        handler.sync(0);
        assertEq(handler.syncs(), 1);
        assertGt(_mmr(ETH), ETH_MMR);
        for (uint256 i = 0; i < 16; ++i) {
            handler.calm(6);
        }
        handler.propose(0);
        assertGt(gov.pendingRelax(ETH).eta, 0);
        handler.execute(0); // too early: refused, nothing falls
        handler.calm(2);
        handler.execute(0);
        assertEq(handler.relaxes(), 1);
        assertEq(_mmr(ETH), ETH_MMR);
        assertEq(handler.violations(), 0, handler.lastViolation());
    }

    /// @dev The close-fee action raises within the step and the cooldown, and its checks
    ///      can fail: a fee lowered behind the handler's back (the timelock's own change) is
    ///      counted.
    function test_Handler_RaisesFeesAndCatchesAFall() public {
        handler.raiseFee(0, 20, false);
        assertEq(handler.feeRaises(), 1);
        assertEq(engine.market(ETH).closeFeeBps, 20);
        handler.raiseFee(0, 20, false); // within the cooldown: refused
        handler.raiseFee(0, 20, true); // a stranger: refused
        assertEq(handler.feeRaises(), 1);
        assertEq(handler.violations(), 0, handler.lastViolation());
        vm.prank(address(timelock));
        gov.setCloseFee(ETH, 10);
        handler.update(0);
        assertEq(handler.violations(), 1);
        assertEq(handler.lastViolation(), "a close fee fell without the timelock");
    }

    /// @dev The checks can fail: a fall the handler did not cause through a due relax
    ///      (here the timelock's own change, made behind its back) is counted.
    function test_Handler_CatchesAnUnannouncedFall() public {
        vm.prank(address(timelock));
        gov.setMarketRisk(ETH, 300, 600);
        handler.update(0);
        assertEq(handler.violations(), 1);
        assertEq(handler.lastViolation(), "rates fell without a due relax");
    }

    // ================================================================== fuzz

    /// @dev Any publisher proposal either is refused or stays within the step and ceiling,
    ///      and never lowers a rate.
    function testFuzz_PublisherTighteningIsBounded(uint8 id, uint16 mmr, uint16 imr) public {
        id = id % 2;
        IMarginEngine.Market memory before = engine.market(id);
        vm.prank(publisher);
        try gov.raiseMarketRisk(id, mmr, imr) {
            assertGe(mmr, before.mmrBps);
            assertGe(imr, before.imrBps);
            assertLe(mmr, before.mmrBps + STEP);
            assertLe(imr, before.imrBps + STEP);
            assertLe(mmr, MAX_MMR);
            assertEq(engine.market(id).mmrBps, mmr);
        } catch (bytes memory err) {
            // forge-lint: disable-next-line(unsafe-typecast)
            bytes4 sel = bytes4(err);
            assertTrue(
                sel == IRiskGovernor.RiskGovernor__NotTightening.selector
                    || sel == IRiskGovernor.RiskGovernor__StepTooLarge.selector
                    || sel == IRiskGovernor.RiskGovernor__AboveCeiling.selector
                    || sel == IRiskGovernor.RiskGovernor__InvalidRates.selector,
                "refused with an unexpected error"
            );
            assertEq(engine.market(id).mmrBps, before.mmrBps);
        }
    }

    function testFuzz_PublisherDurationsAndPenaltyAreBounded(uint64 life, uint64 grace, uint16 pen, uint16 h) public {
        vm.startPrank(publisher);
        try gov.shortenProofLifetime(life) {
            assertLt(life, LIFETIME);
            assertGe(2 * uint256(life), LIFETIME);
            assertGe(life, MIN_LIFETIME);
        } catch {
            assertEq(uint256(engine.proofLifetime()), LIFETIME);
        }
        try gov.shortenGracePeriod(grace) {
            assertLt(grace, GRACE);
            assertGe(2 * uint256(grace), GRACE);
            assertGe(grace, MIN_GRACE);
        } catch {
            assertEq(uint256(engine.gracePeriod()), GRACE);
        }
        try gov.lowerLiquidationPenalty(pen) {
            assertLt(pen, PENALTY);
            assertGe(pen, MIN_PENALTY);
            assertLe(PENALTY - pen, STEP);
        } catch {
            assertEq(uint256(engine.liquidationPenaltyBps()), PENALTY);
        }
        try gov.raiseHaircut(WETH, h) {
            assertGt(h, WETH_HAIRCUT);
            assertLe(h, WETH_HAIRCUT + STEP);
            assertLe(h, MAX_HAIRCUT);
        } catch {
            assertEq(engine.collateral(WETH).haircutBps, WETH_HAIRCUT);
        }
        vm.stopPrank();
    }

    /// @dev A random path of ETH moves, each folded in and synced by anyone: MMR never
    ///      falls, each sync rises by at most one step, and never beyond the ceiling.
    function testFuzz_SyncsAlongAPathNeverLoosenOrOverstep(uint16[8] memory moves, uint32[8] memory dts) public {
        uint16 prev = _mmr(ETH);
        for (uint256 i = 0; i < moves.length; ++i) {
            handler.move(0, moves[i], i % 2 == 0, uint256(dts[i]) + COOLDOWN);
            try monitor.update(address(ethFeed)) {} catch {}
            try gov.syncMargin(ETH) {} catch {}
            uint16 m = _mmr(ETH);
            assertGe(m, prev, "a permissionless call loosened MMR");
            assertLe(m, prev + STEP, "a sync overstepped");
            assertLe(m, MAX_MMR);
            prev = m;
        }
        assertEq(handler.violations(), 0, handler.lastViolation());
    }
}
