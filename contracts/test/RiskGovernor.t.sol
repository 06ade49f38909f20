// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";
import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {TimelockController} from "@openzeppelin/contracts/governance/TimelockController.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";

import {IMarginEngine} from "../src/engine/IMarginEngine.sol";
import {MarginEngine} from "../src/engine/MarginEngine.sol";
import {MarginPool} from "../src/pool/MarginPool.sol";
import {IMarginPool} from "../src/pool/IMarginPool.sol";
import {IGovernedEngine, IRiskGovernor} from "../src/risk/IRiskGovernor.sol";
import {RiskGovernor} from "../src/risk/RiskGovernor.sol";
import {RiskBase} from "./RiskBase.t.sol";

/// @dev Roles, the timelock path for loosening, bounded immediate tightening, limits.
contract RiskGovernorTest is RiskBase {
    // ================================================================== setup and roles

    function test_Setup_GovernorOwnsTheEngineAndTheTimelockAdministers() public view {
        assertEq(engine.owner(), address(gov));
        assertEq(engine.pendingOwner(), address(0));
        assertTrue(gov.hasRole(gov.DEFAULT_ADMIN_ROLE(), address(timelock)));
        assertFalse(gov.hasRole(gov.DEFAULT_ADMIN_ROLE(), owner));
        assertFalse(gov.hasRole(gov.DEFAULT_ADMIN_ROLE(), address(this)));
        assertTrue(gov.hasRole(gov.RISK_PUBLISHER_ROLE(), publisher));
        assertEq(timelock.getMinDelay(), DELAY);
        // floors are the engine's rates when the governor took over
        assertEq(gov.floorOf(ETH).mmrBps, ETH_MMR);
        assertEq(gov.floorOf(ETH).imrBps, ETH_IMR);
        assertEq(gov.floorOf(BTC).mmrBps, BTC_MMR);
        assertEq(gov.floorOf(BTC).imrBps, BTC_IMR);
    }

    /// @dev Attack: the former owner (or anyone) loosens margin on the engine at once.
    function test_RevertIf_FormerOwnerCallsTheEngine() public {
        vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, owner));
        vm.prank(owner);
        engine.setMarketRisk(ETH, 100, 200);
        vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, publisher));
        vm.prank(publisher);
        engine.setLiquidationPenalty(2_500);
    }

    /// @dev Attack: an admin loosens at once through the governor. Every timelock-only
    ///      function refuses the publisher, the former owner and a stranger.
    function test_RevertIf_TimelockOnlyFunctionsCalledByOthers() public {
        bytes[] memory calls = _adminCalls();
        address[3] memory callers = [publisher, owner, stranger];
        for (uint256 c = 0; c < callers.length; ++c) {
            for (uint256 i = 0; i < calls.length; ++i) {
                vm.prank(callers[c]);
                (bool ok, bytes memory ret) = address(gov).call(calls[i]);
                assertFalse(ok, "an admin function ran without the timelock");
                assertEq(
                    ret,
                    abi.encodeWithSelector(
                        IAccessControl.AccessControlUnauthorizedAccount.selector, callers[c], gov.DEFAULT_ADMIN_ROLE()
                    )
                );
            }
        }
    }

    function _adminCalls() internal view returns (bytes[] memory calls) {
        calls = new bytes[](11);
        calls[0] = abi.encodeCall(IRiskGovernor.setMarketRisk, (ETH, 100, 200));
        calls[1] = abi.encodeCall(IRiskGovernor.setHaircut, (WETH, 0));
        calls[2] = abi.encodeCall(IRiskGovernor.setProofLifetime, (365 days));
        calls[3] = abi.encodeCall(IRiskGovernor.setGracePeriod, (365 days));
        calls[4] = abi.encodeCall(IRiskGovernor.setLiquidationPenalty, (2_500));
        calls[5] = abi.encodeCall(IRiskGovernor.listMarket, (address(ethFeed), 1, 1));
        calls[6] = abi.encodeCall(IRiskGovernor.listCollateral, (address(usdc), address(usdcFeed), 0));
        calls[7] = abi.encodeCall(IRiskGovernor.setLimits, (_limits()));
        calls[8] = abi.encodeCall(IRiskGovernor.transferEngineOwnership, (stranger));
        calls[9] = abi.encodeCall(IRiskGovernor.setCloseFee, (ETH, 0));
        calls[10] = abi.encodeCall(IRiskGovernor.setPool, (WETH, IMarginPool(address(wethPool))));
    }

    function test_RevertIf_StrangerGrantsItselfThePublisherRole() public {
        bytes32 role = gov.RISK_PUBLISHER_ROLE();
        vm.expectRevert(
            abi.encodeWithSelector(
                IAccessControl.AccessControlUnauthorizedAccount.selector, stranger, gov.DEFAULT_ADMIN_ROLE()
            )
        );
        vm.prank(stranger);
        gov.grantRole(role, stranger);
    }

    function test_RevertIf_StrangerPublishes() public {
        bytes32 role = gov.RISK_PUBLISHER_ROLE();
        vm.expectRevert(
            abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, stranger, role)
        );
        vm.prank(stranger);
        gov.raiseMarketRisk(ETH, 600, 1_100);
    }

    function test_Timelock_GrantsAndRevokesThePublisher() public {
        bytes32 role = gov.RISK_PUBLISHER_ROLE();
        _viaTimelock(abi.encodeCall(gov.grantRole, (role, stranger)));
        vm.prank(stranger);
        gov.raiseMarketRisk(ETH, 600, 1_100);
        assertEq(_mmr(ETH), 600);
        _viaTimelock(abi.encodeCall(gov.revokeRole, (role, stranger)));
        vm.expectRevert(
            abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, stranger, role)
        );
        vm.prank(stranger);
        gov.raiseMarketRisk(ETH, 700, 1_200);
    }

    // ================================================================== the timelock path

    /// @dev Loosening waits for the timelock: refused one second before the delay, applied
    ///      at it; the floor follows.
    function test_Timelock_LooseningWaitsForTheDelay() public {
        bytes memory data = abi.encodeCall(IRiskGovernor.setMarketRisk, (ETH, 300, 600));
        uint256 t0 = block.timestamp;
        bytes32 id = _schedule(data);
        vm.expectRevert(_notReady(id));
        _execute(data);
        vm.warp(t0 + DELAY - 1);
        vm.expectRevert(_notReady(id));
        _execute(data);
        assertEq(_mmr(ETH), ETH_MMR, "loosened before the delay");
        vm.warp(t0 + DELAY);
        vm.expectEmit(address(engine));
        emit IMarginEngine.MarketRiskSet(ETH, 300, 600);
        _execute(data);
        assertEq(_mmr(ETH), 300);
        assertEq(_imr(ETH), 600);
        assertEq(gov.floorOf(ETH).mmrBps, 300);
    }

    function test_Timelock_EachLooseningWaits() public {
        bytes[5] memory ops = [
            abi.encodeCall(IRiskGovernor.setHaircut, (WETH, 500)),
            abi.encodeCall(IRiskGovernor.setProofLifetime, (3 days)),
            abi.encodeCall(IRiskGovernor.setGracePeriod, (2 hours)),
            abi.encodeCall(IRiskGovernor.setLiquidationPenalty, (500)),
            abi.encodeCall(IRiskGovernor.setMarketRisk, (BTC, 300, 700))
        ];
        bytes32[5] memory ids;
        for (uint256 i = 0; i < ops.length; ++i) {
            ids[i] = _schedule(ops[i]);
        }
        vm.warp(block.timestamp + DELAY - 1);
        for (uint256 i = 0; i < ops.length; ++i) {
            vm.expectRevert(_notReady(ids[i]));
            _execute(ops[i]);
        }
        vm.warp(block.timestamp + 1);
        for (uint256 i = 0; i < ops.length; ++i) {
            _execute(ops[i]);
        }
        assertEq(engine.collateral(WETH).haircutBps, 500);
        assertEq(uint256(engine.proofLifetime()), 3 days);
        assertEq(uint256(engine.gracePeriod()), 2 hours);
        assertEq(uint256(engine.liquidationPenaltyBps()), 500);
        assertEq(_mmr(BTC), 300);
    }

    function test_RevertIf_ScheduledWithLessThanTheMinimumDelay() public {
        bytes memory data = abi.encodeCall(IRiskGovernor.setLiquidationPenalty, (2_500));
        vm.expectRevert(abi.encodeWithSelector(TimelockController.TimelockInsufficientDelay.selector, DELAY - 1, DELAY));
        vm.prank(proposer);
        timelock.schedule(address(gov), 0, data, bytes32(0), bytes32(0), DELAY - 1);
    }

    function test_RevertIf_StrangerSchedules() public {
        bytes memory data = abi.encodeCall(IRiskGovernor.setLiquidationPenalty, (2_500));
        vm.expectRevert(
            abi.encodeWithSelector(
                IAccessControl.AccessControlUnauthorizedAccount.selector, stranger, timelock.PROPOSER_ROLE()
            )
        );
        vm.prank(stranger);
        timelock.schedule(address(gov), 0, data, bytes32(0), bytes32(0), DELAY);
    }

    function test_Timelock_ListsAMarketWithItsFloor() public {
        _viaTimelock(abi.encodeCall(IRiskGovernor.listMarket, (address(btcFeed), 700, 1_400)));
        assertEq(engine.marketCount(), 3);
        assertEq(_mmr(2), 700);
        assertEq(gov.floorOf(2).imrBps, 1_400);
    }

    /// @dev The engine's own bounds still apply through the timelock (its error bubbles up).
    function test_RevertIf_TimelockSetsPenaltyAboveTheEngineCap() public {
        bytes memory data = abi.encodeCall(IRiskGovernor.setLiquidationPenalty, (2_501));
        _schedule(data);
        vm.warp(block.timestamp + DELAY);
        vm.expectRevert(abi.encodeWithSelector(IMarginEngine.MarginEngine__InvalidBps.selector, 2_501));
        _execute(data);
    }

    function test_Timelock_HandsTheEngineOver() public {
        _viaTimelock(abi.encodeCall(IRiskGovernor.transferEngineOwnership, (stranger)));
        assertEq(engine.owner(), address(gov), "two-step: still the governor's until accepted");
        vm.prank(stranger);
        engine.acceptOwnership();
        assertEq(engine.owner(), stranger);
    }

    /// @dev Attack: calling acceptEngineOwnership again to reset the floors to today's
    ///      (volatility-raised) rates. Only a pending transfer can be accepted.
    function test_RevertIf_EngineOwnershipAcceptedTwice() public {
        vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, address(gov)));
        vm.prank(stranger);
        gov.acceptEngineOwnership();
    }

    /// @dev A timelocked change of a market voids a relax announced against older rates.
    function test_Timelock_SetMarketRiskCancelsAPendingRelax() public {
        _spikeEth();
        gov.syncMargin(ETH); // 700 / 1200 on a 500 / 1000 floor
        for (uint256 i = 0; i < 72; ++i) {
            _skip(1 hours);
            monitor.update(address(ethFeed));
        }
        gov.proposeRelax(ETH);
        assertGt(gov.pendingRelax(ETH).eta, 0);
        bytes memory data = abi.encodeCall(IRiskGovernor.setMarketRisk, (ETH, 600, 1_100));
        _schedule(data);
        vm.warp(block.timestamp + DELAY);
        vm.expectEmit(address(gov));
        emit IRiskGovernor.RelaxCancelled(ETH);
        _execute(data);
        assertEq(gov.pendingRelax(ETH).eta, 0);
        assertEq(_mmr(ETH), 600);
        vm.expectRevert(abi.encodeWithSelector(IRiskGovernor.RiskGovernor__NoPendingRelax.selector, ETH));
        gov.executeRelax(ETH);
    }

    // ================================================================== publisher: direction

    /// @dev Attack: the publisher loosens a parameter "at once". Each refusal names the
    ///      parameter, its value and the proposal.
    function test_RevertIf_PublisherLoosens() public {
        vm.startPrank(publisher);
        vm.expectRevert(abi.encodeWithSelector(IRiskGovernor.RiskGovernor__NotTightening.selector, P_ETH, 500, 400));
        gov.raiseMarketRisk(ETH, 400, 1_000);
        vm.expectRevert(abi.encodeWithSelector(IRiskGovernor.RiskGovernor__NotTightening.selector, P_ETH, 500, 600));
        gov.raiseMarketRisk(ETH, 600, 900); // MMR up but IMR down
        vm.expectRevert(abi.encodeWithSelector(IRiskGovernor.RiskGovernor__NotTightening.selector, P_ETH, 500, 500));
        gov.raiseMarketRisk(ETH, 500, 1_000); // no change
        vm.expectRevert(abi.encodeWithSelector(IRiskGovernor.RiskGovernor__NotTightening.selector, P_WETH, 1_000, 900));
        gov.raiseHaircut(WETH, 900);
        vm.expectRevert(
            abi.encodeWithSelector(IRiskGovernor.RiskGovernor__NotTightening.selector, P_LIFETIME, LIFETIME, 2 days)
        );
        gov.shortenProofLifetime(2 days);
        vm.expectRevert(
            abi.encodeWithSelector(IRiskGovernor.RiskGovernor__NotTightening.selector, P_GRACE, GRACE, GRACE)
        );
        gov.shortenGracePeriod(GRACE);
        vm.expectRevert(abi.encodeWithSelector(IRiskGovernor.RiskGovernor__NotTightening.selector, P_PENALTY, 250, 300));
        gov.lowerLiquidationPenalty(300);
        vm.stopPrank();
    }

    function test_Publisher_TightensAtOnce() public {
        vm.startPrank(publisher);
        vm.expectEmit(address(gov));
        emit IRiskGovernor.Tightened(P_ETH, publisher, 500, 700);
        gov.raiseMarketRisk(ETH, 700, 1_200);
        gov.raiseHaircut(USDC, 300);
        gov.shortenProofLifetime(LIFETIME / 2);
        gov.shortenGracePeriod(GRACE / 2);
        gov.lowerLiquidationPenalty(150);
        vm.stopPrank();
        assertEq(_mmr(ETH), 700);
        assertEq(_imr(ETH), 1_200);
        assertEq(gov.floorOf(ETH).mmrBps, 700, "the publisher's raise is the new floor");
        assertEq(engine.collateral(USDC).haircutBps, 300);
        assertEq(uint256(engine.proofLifetime()), LIFETIME / 2);
        assertEq(uint256(engine.gracePeriod()), GRACE / 2);
        assertEq(uint256(engine.liquidationPenaltyBps()), 150);
    }

    // ================================================================== publisher: bounds

    /// @dev Attack: a tightening larger than the per-update bound.
    function test_RevertIf_TighteningExceedsTheStep() public {
        vm.startPrank(publisher);
        vm.expectRevert(
            abi.encodeWithSelector(IRiskGovernor.RiskGovernor__StepTooLarge.selector, P_ETH, 500, 701, 500 + STEP)
        );
        gov.raiseMarketRisk(ETH, 701, 1_000);
        vm.expectRevert(
            abi.encodeWithSelector(IRiskGovernor.RiskGovernor__StepTooLarge.selector, P_ETH, 1_000, 1_201, 1_000 + STEP)
        );
        gov.raiseMarketRisk(ETH, 500, 1_201);
        vm.expectRevert(
            abi.encodeWithSelector(IRiskGovernor.RiskGovernor__StepTooLarge.selector, P_USDC, 100, 301, 100 + STEP)
        );
        gov.raiseHaircut(USDC, 301);
        vm.expectRevert(
            abi.encodeWithSelector(
                IRiskGovernor.RiskGovernor__StepTooLarge.selector, P_LIFETIME, LIFETIME, LIFETIME / 2 - 1, LIFETIME / 2
            )
        );
        gov.shortenProofLifetime(LIFETIME / 2 - 1);
        vm.expectRevert(
            abi.encodeWithSelector(
                IRiskGovernor.RiskGovernor__StepTooLarge.selector, P_GRACE, GRACE, GRACE / 2 - 1, GRACE / 2
            )
        );
        gov.shortenGracePeriod(GRACE / 2 - 1);
        vm.expectRevert(
            abi.encodeWithSelector(IRiskGovernor.RiskGovernor__StepTooLarge.selector, P_PENALTY, 250, 49, 250 - STEP)
        );
        gov.lowerLiquidationPenalty(49);
        vm.stopPrank();
    }

    function test_RevertIf_PenaltyCutBelowTheFloor() public {
        vm.expectRevert(
            abi.encodeWithSelector(IRiskGovernor.RiskGovernor__BelowFloor.selector, P_PENALTY, 99, MIN_PENALTY)
        );
        vm.prank(publisher);
        gov.lowerLiquidationPenalty(99);
    }

    function test_RevertIf_MarginRaisedAboveTheCeiling() public {
        uint16 mmr = ETH_MMR;
        uint16 imr = ETH_IMR;
        while (mmr + STEP <= MAX_MMR) {
            mmr += STEP;
            imr += STEP;
            vm.prank(publisher);
            gov.raiseMarketRisk(ETH, mmr, imr);
            vm.warp(block.timestamp + COOLDOWN);
        }
        uint16 over = MAX_MMR + 1;
        vm.expectRevert(abi.encodeWithSelector(IRiskGovernor.RiskGovernor__AboveCeiling.selector, P_ETH, over, MAX_MMR));
        vm.prank(publisher);
        gov.raiseMarketRisk(ETH, over, imr + 1);
    }

    function test_RevertIf_HaircutRaisedAboveTheCeiling() public {
        uint16 h = WETH_HAIRCUT;
        while (h + STEP <= MAX_HAIRCUT) {
            h += STEP;
            vm.prank(publisher);
            gov.raiseHaircut(WETH, h);
            vm.warp(block.timestamp + COOLDOWN);
        }
        assertEq(engine.collateral(WETH).haircutBps, MAX_HAIRCUT);
        vm.expectRevert(
            abi.encodeWithSelector(
                IRiskGovernor.RiskGovernor__AboveCeiling.selector, P_WETH, MAX_HAIRCUT + 1, MAX_HAIRCUT
            )
        );
        vm.prank(publisher);
        gov.raiseHaircut(WETH, MAX_HAIRCUT + 1);
    }

    function test_RevertIf_LifetimeAndGraceCutBelowTheirFloors() public {
        uint64 life = LIFETIME;
        while (life / 2 >= MIN_LIFETIME) {
            life = life / 2;
            vm.prank(publisher);
            gov.shortenProofLifetime(life);
            vm.warp(block.timestamp + COOLDOWN);
        }
        uint64 tooShort = MIN_LIFETIME - 1;
        assertGe(2 * uint256(tooShort), life, "within the step: only the floor refuses it");
        vm.expectRevert(
            abi.encodeWithSelector(IRiskGovernor.RiskGovernor__BelowFloor.selector, P_LIFETIME, tooShort, MIN_LIFETIME)
        );
        vm.prank(publisher);
        gov.shortenProofLifetime(tooShort);

        vm.prank(publisher);
        gov.shortenGracePeriod(30 minutes);
        vm.warp(block.timestamp + COOLDOWN);
        vm.prank(publisher);
        gov.shortenGracePeriod(15 minutes);
        vm.warp(block.timestamp + COOLDOWN);
        vm.prank(publisher);
        gov.shortenGracePeriod(MIN_GRACE);
        vm.warp(block.timestamp + COOLDOWN);
        vm.expectRevert(
            abi.encodeWithSelector(IRiskGovernor.RiskGovernor__BelowFloor.selector, P_GRACE, MIN_GRACE - 1, MIN_GRACE)
        );
        vm.prank(publisher);
        gov.shortenGracePeriod(MIN_GRACE - 1);
    }

    function test_RevertIf_InvalidRates() public {
        vm.startPrank(publisher);
        vm.expectRevert(abi.encodeWithSelector(IRiskGovernor.RiskGovernor__InvalidRates.selector, 0, 1_000));
        gov.raiseMarketRisk(ETH, 0, 1_000);
        vm.expectRevert(abi.encodeWithSelector(IRiskGovernor.RiskGovernor__InvalidRates.selector, 700, 650));
        gov.raiseMarketRisk(ETH, 700, 650);
        vm.stopPrank();
    }

    function test_RevertIf_UnknownMarketOrAsset() public {
        vm.expectRevert(abi.encodeWithSelector(IRiskGovernor.RiskGovernor__UnknownMarket.selector, 2));
        vm.prank(publisher);
        gov.raiseMarketRisk(2, 600, 1_200);
        vm.expectRevert(abi.encodeWithSelector(IRiskGovernor.RiskGovernor__UnknownAsset.selector, 2));
        vm.prank(publisher);
        gov.raiseHaircut(2, 600);
        vm.expectRevert(abi.encodeWithSelector(IRiskGovernor.RiskGovernor__UnknownMarket.selector, 3));
        gov.syncMargin(3);
    }

    // ================================================================== rate limits

    function test_RevertIf_TightenedAgainWithinTheCooldown() public {
        uint256 t = block.timestamp;
        vm.startPrank(publisher);
        gov.raiseMarketRisk(ETH, 600, 1_100);
        vm.expectRevert(abi.encodeWithSelector(IRiskGovernor.RiskGovernor__Cooldown.selector, P_ETH, t + COOLDOWN));
        gov.raiseMarketRisk(ETH, 700, 1_200);
        // another parameter has its own clock
        gov.raiseMarketRisk(BTC, 500, 900);
        vm.warp(t + COOLDOWN - 1);
        vm.expectRevert(abi.encodeWithSelector(IRiskGovernor.RiskGovernor__Cooldown.selector, P_ETH, t + COOLDOWN));
        gov.raiseMarketRisk(ETH, 700, 1_200);
        vm.warp(t + COOLDOWN);
        gov.raiseMarketRisk(ETH, 700, 1_200);
        vm.stopPrank();
        assertEq(gov.readyAt(P_ETH), t + 2 * COOLDOWN);
    }

    /// @dev The engine has 32,767 policy epochs; immediate changes stop EPOCH_RESERVE short
    ///      of them so the timelock can always still act. The epoch counter is moved there
    ///      with vm.store (reaching it by 31,743 real changes would prove nothing more).
    function test_RevertIf_EpochBudgetExhausted() public {
        uint256 last = gov.MAX_EPOCH() - gov.EPOCH_RESERVE();
        _storeEpoch(last);
        assertEq(uint256(engine.policyEpoch()), last);
        vm.expectRevert(abi.encodeWithSelector(IRiskGovernor.RiskGovernor__EpochBudgetExhausted.selector, last));
        vm.prank(publisher);
        gov.raiseMarketRisk(ETH, 600, 1_100);
        _spikeEth();
        vm.expectRevert(abi.encodeWithSelector(IRiskGovernor.RiskGovernor__EpochBudgetExhausted.selector, last));
        gov.syncMargin(ETH);
        // the timelock still can
        _viaTimelock(abi.encodeCall(IRiskGovernor.setMarketRisk, (ETH, 800, 1_600)));
        assertEq(_mmr(ETH), 800);
    }

    // ================================================================== close fee

    function _fee(uint8 id) internal view returns (uint16) {
        return engine.market(id).closeFeeBps;
    }

    /// @dev The handover used to strand the close fee: the engine's setCloseFee is
    ///      owner-only and the governor is the owner. The former owner cannot call it, and
    ///      the publisher raises it at once through the governor, by one step.
    function test_Publisher_RaisesTheCloseFeeAtOnce() public {
        vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, owner));
        vm.prank(owner);
        engine.setCloseFee(ETH, 50);
        assertEq(_fee(ETH), 0);
        uint16 epoch = engine.policyEpoch();
        vm.expectEmit(address(engine));
        emit IMarginEngine.CloseFeeSet(ETH, FEE_STEP);
        vm.expectEmit(address(gov));
        emit IRiskGovernor.Tightened(P_FEE_ETH, publisher, 0, FEE_STEP);
        vm.prank(publisher);
        gov.raiseCloseFee(ETH, FEE_STEP);
        assertEq(_fee(ETH), FEE_STEP);
        assertEq(_fee(BTC), 0, "one market's fee only");
        assertEq(gov.readyAt(P_FEE_ETH), block.timestamp + COOLDOWN);
        // not a policy epoch: the engine does not snapshot the fee
        assertEq(engine.policyEpoch(), epoch);
    }

    /// @dev Attack: a compromised publisher key sets the close fee to the engine's cap in
    ///      one call. Refused one unit over the step; one step is accepted.
    function test_RevertIf_CloseFeeRaisedOverTheStep() public {
        vm.expectRevert(
            abi.encodeWithSelector(IRiskGovernor.RiskGovernor__StepTooLarge.selector, P_FEE_ETH, 0, 200, FEE_STEP)
        );
        vm.prank(publisher);
        gov.raiseCloseFee(ETH, 200);
        vm.expectRevert(
            abi.encodeWithSelector(
                IRiskGovernor.RiskGovernor__StepTooLarge.selector, P_FEE_ETH, 0, FEE_STEP + 1, FEE_STEP
            )
        );
        vm.prank(publisher);
        gov.raiseCloseFee(ETH, FEE_STEP + 1);
        assertEq(_fee(ETH), 0);
    }

    /// @dev Attack: the publisher lowers the close fee at once (re-opening the round trip
    ///      against a known oracle round), or "raises" it to its own value.
    function test_RevertIf_PublisherLowersTheCloseFee() public {
        _viaTimelock(abi.encodeCall(IRiskGovernor.setCloseFee, (ETH, 50)));
        vm.startPrank(publisher);
        vm.expectRevert(abi.encodeWithSelector(IRiskGovernor.RiskGovernor__NotTightening.selector, P_FEE_ETH, 50, 49));
        gov.raiseCloseFee(ETH, 49);
        vm.expectRevert(abi.encodeWithSelector(IRiskGovernor.RiskGovernor__NotTightening.selector, P_FEE_ETH, 50, 0));
        gov.raiseCloseFee(ETH, 0);
        vm.expectRevert(abi.encodeWithSelector(IRiskGovernor.RiskGovernor__NotTightening.selector, P_FEE_ETH, 50, 50));
        gov.raiseCloseFee(ETH, 50);
        vm.stopPrank();
        assertEq(_fee(ETH), 50);
    }

    /// @dev Lowering goes through the timelock: refused one second before the delay,
    ///      applied at it.
    function test_Timelock_LowersTheCloseFeeAfterTheDelay() public {
        _viaTimelock(abi.encodeCall(IRiskGovernor.setCloseFee, (ETH, 50)));
        assertEq(_fee(ETH), 50);
        bytes memory data = abi.encodeCall(IRiskGovernor.setCloseFee, (ETH, 10));
        uint256 t0 = block.timestamp;
        bytes32 id = _schedule(data);
        vm.warp(t0 + DELAY - 1);
        vm.expectRevert(_notReady(id));
        _execute(data);
        assertEq(_fee(ETH), 50, "lowered before the delay");
        vm.warp(t0 + DELAY);
        vm.expectEmit(address(engine));
        emit IMarginEngine.CloseFeeSet(ETH, 10);
        _execute(data);
        assertEq(_fee(ETH), 10);
    }

    /// @dev The engine's cap still applies through the timelock (its error bubbles up).
    function test_RevertIf_TimelockSetsCloseFeeAboveTheEngineCap() public {
        bytes memory data = abi.encodeCall(IRiskGovernor.setCloseFee, (ETH, 201));
        _schedule(data);
        vm.warp(block.timestamp + DELAY);
        vm.expectRevert(abi.encodeWithSelector(IMarginEngine.MarginEngine__InvalidBps.selector, 201));
        _execute(data);
    }

    function test_RevertIf_StrangerRaisesTheCloseFee() public {
        bytes32 role = gov.RISK_PUBLISHER_ROLE();
        vm.expectRevert(
            abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, stranger, role)
        );
        vm.prank(stranger);
        gov.raiseCloseFee(ETH, FEE_STEP);
        assertEq(_fee(ETH), 0);
    }

    function test_RevertIf_CloseFeeRaisedWithinTheCooldown() public {
        uint256 t = block.timestamp;
        vm.startPrank(publisher);
        gov.raiseCloseFee(ETH, FEE_STEP);
        vm.warp(t + COOLDOWN - 1);
        vm.expectRevert(abi.encodeWithSelector(IRiskGovernor.RiskGovernor__Cooldown.selector, P_FEE_ETH, t + COOLDOWN));
        gov.raiseCloseFee(ETH, 2 * FEE_STEP);
        // its own clock: neither another market's fee nor the market's rates wait for it
        gov.raiseCloseFee(BTC, FEE_STEP);
        gov.raiseMarketRisk(ETH, 600, 1_100);
        vm.warp(t + COOLDOWN);
        gov.raiseCloseFee(ETH, 2 * FEE_STEP);
        vm.stopPrank();
        assertEq(_fee(ETH), 2 * FEE_STEP);
        assertEq(_fee(BTC), FEE_STEP);
    }

    function test_RevertIf_CloseFeeRaisedAboveTheCeiling() public {
        uint16 fee = 0;
        while (fee + FEE_STEP <= MAX_FEE) {
            fee += FEE_STEP;
            vm.prank(publisher);
            gov.raiseCloseFee(ETH, fee);
            vm.warp(block.timestamp + COOLDOWN);
        }
        assertEq(_fee(ETH), MAX_FEE);
        vm.expectRevert(
            abi.encodeWithSelector(IRiskGovernor.RiskGovernor__AboveCeiling.selector, P_FEE_ETH, MAX_FEE + 1, MAX_FEE)
        );
        vm.prank(publisher);
        gov.raiseCloseFee(ETH, MAX_FEE + 1);
    }

    /// @dev The close fee is not a policy epoch: a raise needs none, so it still works when
    ///      the epoch budget is exhausted (and spends nothing of it).
    function test_CloseFee_SpendsNoPolicyEpoch() public {
        uint256 last = gov.MAX_EPOCH() - gov.EPOCH_RESERVE();
        _storeEpoch(last);
        vm.prank(publisher);
        gov.raiseCloseFee(ETH, FEE_STEP);
        assertEq(_fee(ETH), FEE_STEP);
        assertEq(uint256(engine.policyEpoch()), last);
    }

    function test_RevertIf_CloseFeeOfAnUnknownMarket() public {
        vm.expectRevert(abi.encodeWithSelector(IRiskGovernor.RiskGovernor__UnknownMarket.selector, 2));
        vm.prank(publisher);
        gov.raiseCloseFee(2, FEE_STEP);
    }

    // ================================================================== vaults

    /// @dev Attack (a stranding, not a theft): a collateral asset listed through the
    ///      timelock after the handover had no way to get its vault (setPool is owner-only),
    ///      so every close of an account holding it would revert MarginEngine__PoolNotSet.
    ///      The timelock now wires it; the engine's own once-only rule still holds.
    function test_Timelock_WiresTheVaultOfALaterListedAsset() public {
        MarginEngine e = new MarginEngine(owner, oracle, isoVerifier, crossVerifier, poseidon, LIFETIME, GRACE, PENALTY);
        vm.startPrank(owner);
        e.listMarket(address(ethFeed), ETH_MMR, ETH_IMR);
        e.listCollateral(address(usdc), address(usdcFeed), USDC_HAIRCUT);
        e.setPool(USDC, _newPool(e, usdc, "u", "u"));
        MarginPool wp = _newPool(e, weth, "w", "w");
        MarginPool other = _newPool(e, weth, "w2", "w2");
        vm.stopPrank();
        RiskGovernor g = new RiskGovernor(IGovernedEngine(address(e)), monitor, timelock, publisher, _limits());
        vm.prank(owner);
        e.transferOwnership(address(g));
        g.acceptEngineOwnership();

        bytes memory list = abi.encodeCall(IRiskGovernor.listCollateral, (address(weth), address(wethFeed), 1_000));
        bytes memory wire = abi.encodeCall(IRiskGovernor.setPool, (WETH, IMarginPool(address(wp))));
        _scheduleOn(address(g), list);
        _scheduleOn(address(g), wire);
        vm.warp(block.timestamp + DELAY);
        _executeOn(address(g), list);
        assertEq(address(e.pool(WETH)), address(0));
        _executeOn(address(g), wire);
        assertEq(address(e.pool(WETH)), address(wp));
        // once only, even for the timelock
        bytes memory again = abi.encodeCall(IRiskGovernor.setPool, (WETH, IMarginPool(address(other))));
        _scheduleOn(address(g), again);
        vm.warp(block.timestamp + DELAY);
        vm.expectRevert(abi.encodeWithSelector(IMarginEngine.MarginEngine__PoolAlreadySet.selector, WETH));
        _executeOn(address(g), again);
    }

    // ================================================================== limits

    function test_RevertIf_LimitOutOfRange() public {
        uint256[12] memory lo = [uint256(1), 60, 60, 1, 0, 60, 60, 0, 10_000, 60, 1, 0];
        uint256[12] memory hi =
            [uint256(2_500), 30 days, 30 days, 10_000, 10_000, 365 days, 365 days, 2_500, 100_000, 30 days, 200, 200];
        for (uint8 f = 0; f < 12; ++f) {
            if (lo[f] > 0) _expectBadLimit(f, lo[f] - 1);
            _expectBadLimit(f, hi[f] + 1);
            // the edges themselves are accepted
            new RiskGovernor(IGovernedEngine(address(engine)), monitor, timelock, publisher, _with(f, lo[f]));
            new RiskGovernor(IGovernedEngine(address(engine)), monitor, timelock, publisher, _with(f, hi[f]));
        }
    }

    function test_RevertIf_ConstructedWithZeroAddresses() public {
        vm.expectRevert(IRiskGovernor.RiskGovernor__ZeroAddress.selector);
        new RiskGovernor(IGovernedEngine(address(0)), monitor, timelock, publisher, _limits());
        vm.expectRevert(IRiskGovernor.RiskGovernor__ZeroAddress.selector);
        new RiskGovernor(
            IGovernedEngine(address(engine)), monitor, TimelockController(payable(address(0))), publisher, _limits()
        );
    }

    function test_Timelock_SetsLimits() public {
        IRiskGovernor.Limits memory l = _limits();
        l.maxStepBps = 50;
        _viaTimelock(abi.encodeCall(IRiskGovernor.setLimits, (l)));
        assertEq(gov.limits().maxStepBps, 50);
        vm.expectRevert(abi.encodeWithSelector(IRiskGovernor.RiskGovernor__StepTooLarge.selector, P_ETH, 500, 551, 550));
        vm.prank(publisher);
        gov.raiseMarketRisk(ETH, 551, 1_000);
    }

    function _expectBadLimit(uint8 field, uint256 value) internal {
        vm.expectRevert(abi.encodeWithSelector(IRiskGovernor.RiskGovernor__InvalidLimit.selector, field, value));
        new RiskGovernor(IGovernedEngine(address(engine)), monitor, timelock, publisher, _with(field, value));
    }

    function _with(uint8 field, uint256 v) internal pure returns (IRiskGovernor.Limits memory l) {
        l = _limits();
        if (field == 0) l.maxStepBps = SafeCast.toUint16(v);
        else if (field == 1) l.cooldown = SafeCast.toUint32(v);
        else if (field == 2) l.relaxDelay = SafeCast.toUint32(v);
        else if (field == 3) l.maxMmrBps = SafeCast.toUint16(v);
        else if (field == 4) l.maxHaircutBps = SafeCast.toUint16(v);
        else if (field == 5) l.minLifetime = SafeCast.toUint32(v);
        else if (field == 6) l.minGrace = SafeCast.toUint32(v);
        else if (field == 7) l.minPenaltyBps = SafeCast.toUint16(v);
        else if (field == 8) l.zBps = SafeCast.toUint32(v);
        else if (field == 9) l.marginPeriod = SafeCast.toUint32(v);
        else if (field == 10) l.maxCloseFeeStepBps = SafeCast.toUint16(v);
        else l.maxCloseFeeBps = SafeCast.toUint16(v);
    }
}
