// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {TimelockController} from "@openzeppelin/contracts/governance/TimelockController.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";

import {MockAggregator} from "../src/mocks/MockAggregator.sol";
import {IGovernedEngine, IRiskGovernor} from "../src/risk/IRiskGovernor.sol";
import {RiskGovernor} from "../src/risk/RiskGovernor.sol";
import {VolatilityMonitor} from "../src/risk/VolatilityMonitor.sol";
import {MarginEngineBase} from "./utils/MarginEngineBase.sol";

/// @dev The engine stack of MarginEngineBase (real verifiers, fixture proofs) handed to a
///      RiskGovernor behind an OpenZeppelin TimelockController, with a VolatilityMonitor
///      tracking ETH/USD and BTC/USD. Not a test itself (no test functions).
abstract contract RiskBase is MarginEngineBase {
    uint256 internal constant DELAY = 2 hours; // the timelock's minimum delay
    uint32 internal constant HORIZON = 1 days;
    /// @dev ≈ 80% a year: 0.64 / 31,536,000 s, WAD per second.
    uint256 internal constant SEED_VARIANCE = 2e10;

    uint16 internal constant STEP = 200;
    uint32 internal constant COOLDOWN = 10 minutes;
    uint32 internal constant RELAX_DELAY = 1 hours; // shorter than DELAY: the timelock's wins
    uint16 internal constant MAX_MMR = 1_500;
    uint16 internal constant MAX_HAIRCUT = 2_000;
    uint32 internal constant MIN_LIFETIME = 1 hours;
    uint32 internal constant MIN_GRACE = 10 minutes;
    uint16 internal constant MIN_PENALTY = 100;
    uint32 internal constant Z_BPS = 30_000; // 3σ
    uint32 internal constant MARGIN_PERIOD = 1 hours;
    uint16 internal constant FEE_STEP = 25; // close fee: largest immediate rise
    uint16 internal constant MAX_FEE = 150; // close fee: ceiling of immediate rises

    uint8 internal constant P_ETH = 0;
    uint8 internal constant P_BTC = 1;
    uint8 internal constant P_USDC = 4;
    uint8 internal constant P_WETH = 5;
    uint8 internal constant P_LIFETIME = 6;
    uint8 internal constant P_GRACE = 7;
    uint8 internal constant P_PENALTY = 8;
    uint8 internal constant P_FEE_ETH = 9;
    uint8 internal constant P_FEE_BTC = 10;

    TimelockController internal timelock;
    VolatilityMonitor internal monitor;
    RiskGovernor internal gov;
    address internal proposer;
    address internal publisher;

    function setUp() public virtual override {
        super.setUp();
        proposer = makeAddr("proposer");
        publisher = makeAddr("publisher");
        address[] memory proposers = new address[](1);
        proposers[0] = proposer;
        address[] memory executors = new address[](1);
        executors[0] = address(0); // anyone executes a due operation
        timelock = new TimelockController(DELAY, proposers, executors, address(0));
        address[] memory tracked = new address[](2);
        tracked[0] = address(ethFeed);
        tracked[1] = address(btcFeed);
        monitor = new VolatilityMonitor(address(timelock), oracle, tracked, HORIZON, SEED_VARIANCE);
        gov = new RiskGovernor(IGovernedEngine(address(engine)), monitor, timelock, publisher, _limits());
        vm.prank(owner);
        engine.transferOwnership(address(gov));
        gov.acceptEngineOwnership();
    }

    function _limits() internal pure returns (IRiskGovernor.Limits memory) {
        return IRiskGovernor.Limits({
            maxStepBps: STEP,
            cooldown: COOLDOWN,
            relaxDelay: RELAX_DELAY,
            maxMmrBps: MAX_MMR,
            maxHaircutBps: MAX_HAIRCUT,
            minLifetime: MIN_LIFETIME,
            minGrace: MIN_GRACE,
            minPenaltyBps: MIN_PENALTY,
            zBps: Z_BPS,
            marginPeriod: MARGIN_PERIOD,
            maxCloseFeeStepBps: FEE_STEP,
            maxCloseFeeBps: MAX_FEE
        });
    }

    // ================================================================== timelock

    function _schedule(bytes memory data) internal returns (bytes32) {
        return _scheduleOn(address(gov), data);
    }

    function _execute(bytes memory data) internal {
        _executeOn(address(gov), data);
    }

    function _scheduleOn(address target, bytes memory data) internal returns (bytes32 id) {
        id = timelock.hashOperation(target, 0, data, bytes32(0), bytes32(0));
        vm.prank(proposer);
        timelock.schedule(target, 0, data, bytes32(0), bytes32(0), DELAY);
    }

    function _executeOn(address target, bytes memory data) internal {
        timelock.execute(target, 0, data, bytes32(0), bytes32(0));
    }

    /// @dev Schedules, waits out the delay (feeds refreshed), executes.
    function _viaTimelock(bytes memory data) internal {
        _schedule(data);
        _skip(DELAY);
        _execute(data);
    }

    /// @dev The revert data of executing an operation that is not Ready.
    function _notReady(bytes32 id) internal pure returns (bytes memory) {
        return abi.encodeWithSelector(
            TimelockController.TimelockUnexpectedOperationState.selector,
            id,
            bytes32(uint256(1) << uint8(TimelockController.OperationState.Ready))
        );
    }

    // ================================================================== prices, rates

    function _mmr(uint8 id) internal view returns (uint16) {
        return engine.market(id).mmrBps;
    }

    function _imr(uint8 id) internal view returns (uint16) {
        return engine.market(id).imrBps;
    }

    /// @dev Moves ETH to `price` `dt` seconds later (other feeds refreshed) and folds it
    ///      into the monitor.
    function _moveEth(uint256 dt, uint256 price) internal {
        _skip(dt);
        _setPrice(ethFeed, price);
        monitor.update(address(ethFeed));
    }

    /// @dev Several ±20% ETH moves a minute apart: realized volatility far above the seed.
    function _spikeEth() internal {
        _moveEth(1 minutes, 2_400e8);
        _moveEth(1 minutes, 1_900e8);
        _moveEth(1 minutes, 2_300e8);
    }

    /// @dev The volatility target, recomputed here from the monitor's raw variance with
    ///      the formula of docs/risk.md (not through the governor's own code).
    function _expectedTarget(uint8 id) internal view returns (uint256 mmr, uint256 imr) {
        address feed = engine.market(id).feed;
        uint256 v = monitor.observation(feed).variance;
        uint256 sigma = Math.sqrt(v * MARGIN_PERIOD * 1e18);
        if (sigma * sigma < v * MARGIN_PERIOD * 1e18) sigma += 1; // ceil
        uint256 req = (sigma * Z_BPS + 1e18 - 1) / 1e18; // ceil
        if (req > 10_000) req = 10_000;
        IRiskGovernor.Floor memory f = gov.floorOf(id);
        mmr = req > f.mmrBps ? req : f.mmrBps;
        imr = (mmr * f.imrBps + f.mmrBps - 1) / f.mmrBps;
        if (imr > 10_000) imr = 10_000;
        if (imr < f.imrBps) imr = f.imrBps;
    }

    /// @dev Overwrites the engine's policy epoch counter. The field is found by its value:
    ///      the uint16 right after `liquidationPenaltyBps` (declared next to each other, so
    ///      packed side by side); the caller's assertion on `policyEpoch()` catches a miss.
    function _storeEpoch(uint256 epoch) internal {
        uint256 pen = engine.liquidationPenaltyBps();
        uint256 cur = engine.policyEpoch();
        for (uint256 i = 0; i < 32; ++i) {
            uint256 word = uint256(vm.load(address(engine), bytes32(i)));
            for (uint256 off = 0; off + 32 <= 256; off += 8) {
                if ((word >> off) & 0xffff == pen && (word >> (off + 16)) & 0xffff == cur) {
                    word = (word & ~(uint256(0xffff) << (off + 16))) | (epoch << (off + 16));
                    vm.store(address(engine), bytes32(i), bytes32(word));
                    return;
                }
            }
        }
        revert("policy epoch not found in storage");
    }

    function _feeds() internal view returns (MockAggregator[2] memory) {
        return [ethFeed, btcFeed];
    }
}
