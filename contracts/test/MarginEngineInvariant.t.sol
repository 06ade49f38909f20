// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";

import {IMarginEngine} from "../src/engine/IMarginEngine.sol";
import {MarginEngine} from "../src/engine/MarginEngine.sol";
import {MockAggregator} from "../src/mocks/MockAggregator.sol";
import {MockERC20} from "../src/mocks/MockERC20.sol";
import {console} from "./utils/Console.sol";
import {Vm} from "./utils/Vm.sol";
import {MarginEngineBase} from "./utils/MarginEngineBase.sol";

/// @dev Drives the engine with random deposits, idle withdrawals, pool funding, shock
///      flags, liquidations, closes, time warps and price moves, plus a small pool of
///      pre-generated proofs (Alice's and Bob's maintenance proofs at nonce 1, submitted
///      after resetting the prices they were made at). Proof-carrying calls beyond that
///      pool (openings after a liquidation, withdrawals with proofs) are left out: every
///      proof binds one nonce, balance and price set.
///
///      The handler keeps its own model of each account (open? last proof? shock flagged
///      when?) from the calls that succeeded, and counts every liquidation whose outcome
///      disagrees with the rule computed from that model. Oracle outages (every feed
///      silent past its heartbeat, poked during and after) shift the model's times by the
///      stale time, as the rule says (stale time counts toward no clock).
contract MarginEngineHandler {
    Vm internal constant vm = Vm(0x7109709ECfa91a80626fF3989D68f67F5b1DD12D);

    struct Model {
        bool open;
        uint256 provenAt;
        uint256 shockAt;
    }

    MarginEngine public immutable engine;
    MockERC20[2] internal tokens;
    MockAggregator[4] internal feeds;
    int256[4] internal basePrices;
    address[4] public actors; // alice (isolated), bob (cross), carol, dave (idle only)
    address public immutable keeper;
    address public immutable funder;
    uint64 public immutable lifetime;
    uint64 public immutable grace;

    IMarginEngine.Proof internal aliceProve;
    IMarginEngine.Proof internal bobProve;
    IMarginEngine.Position[] internal alicePositions;
    IMarginEngine.Position[] internal bobPositions;
    uint256 internal aliceSalt;
    uint256 internal bobSalt;
    uint256 internal aliceProvenBalance;
    uint256[2] internal bobProvenBalance;

    mapping(address who => Model model) public model;
    uint256 public liquidationMismatches;
    uint256 public liquidations;
    uint256 public proofsAccepted;
    uint256 public closes;
    uint256 public shocks;
    uint256 public outages;
    /// @dev Every feed's heartbeat (MarginEngineBase.HEARTBEAT).
    uint256 internal constant HEARTBEAT = 1 hours;

    struct Setup {
        MarginEngine engine;
        MockERC20[2] tokens;
        MockAggregator[4] feeds;
        int256[4] basePrices;
        address[4] actors;
        address keeper;
        address funder;
        IMarginEngine.Proof aliceProve;
        IMarginEngine.Proof bobProve;
        IMarginEngine.Position[] alicePositions;
        IMarginEngine.Position[] bobPositions;
        uint256 aliceSalt;
        uint256 bobSalt;
        uint256 aliceProvenBalance;
        uint256[2] bobProvenBalance;
    }

    constructor(Setup memory s) {
        engine = s.engine;
        tokens = s.tokens;
        feeds = s.feeds;
        basePrices = s.basePrices;
        actors = s.actors;
        keeper = s.keeper;
        funder = s.funder;
        lifetime = s.engine.proofLifetime();
        grace = s.engine.gracePeriod();
        aliceProve = s.aliceProve;
        bobProve = s.bobProve;
        for (uint256 i = 0; i < s.alicePositions.length; ++i) {
            alicePositions.push(s.alicePositions[i]);
        }
        for (uint256 i = 0; i < s.bobPositions.length; ++i) {
            bobPositions.push(s.bobPositions[i]);
        }
        aliceSalt = s.aliceSalt;
        bobSalt = s.bobSalt;
        aliceProvenBalance = s.aliceProvenBalance;
        bobProvenBalance = s.bobProvenBalance;
        for (uint256 i = 0; i < 2; ++i) {
            model[s.actors[i]] = Model({open: true, provenAt: block.timestamp, shockAt: 0});
        }
    }

    // ------------------------------------------------------------------ the rule

    /// @dev The liquidation rule of docs/protocol.md over the handler's own model (not the engine's storage).
    function ruleSays(address who) public view returns (bool) {
        Model memory m = model[who];
        if (!m.open) return false;
        // forge-lint: disable-next-line(block-timestamp)
        return block.timestamp > m.provenAt + lifetime || (m.shockAt != 0 && block.timestamp > m.shockAt + grace);
    }

    function actorCount() external pure returns (uint256) {
        return 4;
    }

    // ------------------------------------------------------------------ actions

    /// @dev Mostly the idle actors: a deposit into Alice's or Bob's account (1 call in 8)
    ///      changes the balances their proofs were made for.
    function deposit(uint256 actorSeed, uint256 assetSeed, uint256 amount) external {
        address who = actorSeed % 8 == 0 ? actors[actorSeed % 16 == 0 ? 0 : 1] : actors[2 + (actorSeed >> 8) % 2];
        uint8 asset = assetSeed % 2 == 0 ? 0 : 1;
        if (who == actors[0]) asset = 0; // Alice is isolated on USDC
        amount = asset == 0 ? _bound(amount, 1, 1e12) : _bound(amount, 1, 1e24);
        tokens[asset].mint(who, amount);
        vm.startPrank(who);
        tokens[asset].approve(address(engine), amount);
        engine.deposit(asset, amount);
        vm.stopPrank();
    }

    function withdrawIdle(uint256 actorSeed, uint256 assetSeed, uint256 amount) external {
        address who = actors[actorSeed % 4];
        uint8 asset = assetSeed % 2 == 0 ? 0 : 1;
        uint256 bal = engine.balanceOf(who, asset);
        if (bal == 0 || model[who].open) return;
        amount = _bound(amount, 1, bal);
        vm.prank(who);
        engine.withdrawIdle(asset, amount);
    }

    function fundPool(uint256 assetSeed, uint256 amount) external {
        uint8 asset = assetSeed % 2 == 0 ? 0 : 1;
        amount = asset == 0 ? _bound(amount, 1, 1e12) : _bound(amount, 1, 1e24);
        tokens[asset].mint(funder, amount);
        vm.startPrank(funder);
        tokens[asset].approve(address(engine), amount);
        engine.fundPool(asset, amount);
        vm.stopPrank();
    }

    function flagShock(uint256 actorSeed) external {
        address who = actors[actorSeed % 2];
        vm.prank(keeper);
        try engine.flagShock(who) {
            model[who].shockAt = block.timestamp;
            ++shocks;
        } catch {}
    }

    function liquidate(uint256 actorSeed) external {
        address who = actors[actorSeed % 4];
        bool expected = ruleSays(who);
        vm.prank(keeper);
        try engine.liquidate(who) {
            if (!expected) ++liquidationMismatches;
            delete model[who];
            ++liquidations;
        } catch {
            if (expected) ++liquidationMismatches;
        }
    }

    /// @dev Tried on 1 call in 4, so that most runs keep an account open long enough to
    ///      reach lapses, shocks and liquidations.
    function close(uint256 actorSeed) external {
        if (actorSeed % 4 != 0) return;
        uint256 i = (actorSeed >> 8) % 2;
        address who = actors[i];
        vm.prank(who);
        try engine.close(i == 0 ? alicePositions : bobPositions, i == 0 ? aliceSalt : bobSalt) {
            delete model[who];
            ++closes;
        } catch {}
    }

    /// @dev Submits the actor's maintenance proof when it can still match: nonce 1 and the
    ///      proven balances; prices go back to the ones it was made at.
    function prove(uint256 actorSeed) external {
        uint256 i = actorSeed % 2;
        address who = actors[i];
        IMarginEngine.Account memory a = engine.account(who);
        if (a.kind == IMarginEngine.Kind.None || a.nonce != 1) return;
        if (i == 0 && engine.balanceOf(who, 0) != aliceProvenBalance) return;
        if (
            i == 1
                && (engine.balanceOf(who, 0) != bobProvenBalance[0] || engine.balanceOf(who, 1) != bobProvenBalance[1])
        ) {
            return;
        }
        for (uint256 f = 0; f < 4; ++f) {
            feeds[f].updateAnswer(basePrices[f]);
        }
        vm.prank(who);
        engine.proveMargin(i == 0 ? aliceProve : bobProve);
        model[who].provenAt = block.timestamp;
        model[who].shockAt = 0;
        ++proofsAccepted;
    }

    /// @dev An outage: the feeds go silent for `dt` (past their heartbeat), someone pokes
    ///      each open account during it and after the feeds resume. The rule's clocks do
    ///      not count the stale time, from updatedAt + heartbeat + 1 to the resumption.
    function outage(uint256 dt) external {
        dt = _bound(dt, HEARTBEAT + 2, 2 days);
        _refresh();
        uint256 start = block.timestamp;
        vm.warp(start + dt);
        _pokeOpen();
        _refresh();
        _pokeOpen();
        uint256 counted = dt - HEARTBEAT - 1;
        for (uint256 i = 0; i < 2; ++i) {
            Model storage m = model[actors[i]];
            if (!m.open) continue;
            m.provenAt += counted;
            if (m.shockAt != 0) m.shockAt += counted;
        }
        ++outages;
    }

    function _pokeOpen() internal {
        for (uint256 i = 0; i < 2; ++i) {
            if (model[actors[i]].open) engine.pokeStale(actors[i]);
        }
    }

    function warp(uint256 dt) external {
        dt = _bound(dt, 0, 2 days);
        vm.warp(block.timestamp + dt);
        _refresh();
    }

    /// @dev Moves one feed by -30%..+30% and re-posts every feed at the current time.
    function movePrice(uint256 feedSeed, uint256 moveBps) external {
        MockAggregator f = feeds[feedSeed % 4];
        (, int256 p,,,) = f.latestRoundData();
        int256 move = SafeCast.toInt256(_bound(moveBps, 0, 6000)) - 3000;
        int256 next = p + (p * move) / 10_000;
        if (next <= 0) next = 1;
        f.updateAnswer(next);
        _refresh();
    }

    function _refresh() internal {
        for (uint256 f = 0; f < 4; ++f) {
            (, int256 p,,,) = feeds[f].latestRoundData();
            feeds[f].updateAnswer(p);
        }
    }

    function _bound(uint256 x, uint256 lo, uint256 hi) internal pure returns (uint256) {
        return lo + (x % (hi - lo + 1));
    }
}

contract MarginEngineInvariantTest is MarginEngineBase {
    MarginEngineHandler internal handler;
    address internal carol;
    address internal dave;

    function setUp() public override {
        super.setUp();
        carol = makeAddr("carol");
        dave = makeAddr("dave");
        _openAlice();
        _openBob();

        MarginEngineHandler.Setup memory s;
        s.engine = engine;
        s.tokens = [usdc, weth];
        s.feeds = [ethFeed, btcFeed, usdcFeed, wethFeed];
        s.basePrices = [_i(ETH_PRICE), _i(BTC_PRICE), _i(USDC_PRICE), _i(WETH_PRICE)];
        s.actors = [ALICE, BOB, carol, dave];
        s.keeper = keeper;
        s.funder = funder;
        s.aliceProve = _proof("aliceProve");
        s.bobProve = _proof("bobProve");
        s.alicePositions = _alicePositions();
        s.bobPositions = _bobPositions();
        s.aliceSalt = _salt("alice");
        s.bobSalt = _salt("bob");
        s.aliceProvenBalance = ALICE_USDC;
        s.bobProvenBalance = [BOB_USDC, BOB_WETH];
        handler = new MarginEngineHandler(s);

        targetContract(address(handler));
        bytes4[] memory selectors = new bytes4[](10);
        selectors[0] = MarginEngineHandler.deposit.selector;
        selectors[1] = MarginEngineHandler.withdrawIdle.selector;
        selectors[2] = MarginEngineHandler.fundPool.selector;
        selectors[3] = MarginEngineHandler.flagShock.selector;
        selectors[4] = MarginEngineHandler.liquidate.selector;
        selectors[5] = MarginEngineHandler.close.selector;
        selectors[6] = MarginEngineHandler.prove.selector;
        selectors[7] = MarginEngineHandler.warp.selector;
        selectors[8] = MarginEngineHandler.movePrice.selector;
        selectors[9] = MarginEngineHandler.outage.selector;
        targetSelector(address(handler), selectors);
    }

    /// @dev Every token unit the engine holds belongs to an account balance or a pool.
    function invariant_CollateralConserved() public view {
        address[4] memory who = [ALICE, BOB, carol, dave];
        for (uint8 c = 0; c < 2; ++c) {
            uint256 sum = engine.pool(c);
            for (uint256 i = 0; i < 4; ++i) {
                sum += engine.balanceOf(who[i], c);
            }
            assertEq(sum, _asset(c).balanceOf(address(engine)), "balances + pool == engine holdings");
        }
    }

    /// @dev The engine's verdict equals the rule over the handler's independent model.
    function invariant_LiquidatableOnlyWhenTheRuleSays() public view {
        address[4] memory who = [ALICE, BOB, carol, dave];
        for (uint256 i = 0; i < 4; ++i) {
            (bool now_,) = engine.liquidatable(who[i]);
            assertEq(now_, handler.ruleSays(who[i]), "liquidatable() disagrees with the rule");
            (bool open,,) = handler.model(who[i]);
            assertEq(engine.account(who[i]).kind != IMarginEngine.Kind.None, open, "open accounts");
        }
        assertEq(handler.liquidationMismatches(), 0, "a liquidation succeeded or failed against the rule");
    }

    /// @dev Shows (with -vv) that runs reach the interesting states, not only reverts.
    function afterInvariant() public view {
        console.log("proofs accepted", handler.proofsAccepted());
        console.log("shocks flagged", handler.shocks());
        console.log("liquidations", handler.liquidations());
        console.log("closes", handler.closes());
        console.log("outages", handler.outages());
    }

    /// @dev An isolated account never holds a second asset.
    function invariant_IsolatedHoldsOneAsset() public view {
        if (engine.account(ALICE).kind == IMarginEngine.Kind.Isolated) assertEq(engine.balanceOf(ALICE, WETH), 0);
    }
}
