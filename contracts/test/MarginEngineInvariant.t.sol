// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";

import {IMarginEngine} from "../src/engine/IMarginEngine.sol";
import {MarginEngine} from "../src/engine/MarginEngine.sol";
import {MockAggregator} from "../src/mocks/MockAggregator.sol";
import {MockERC20} from "../src/mocks/MockERC20.sol";
import {IMarginPool} from "../src/pool/IMarginPool.sol";
import {MarginPool} from "../src/pool/MarginPool.sol";
import {console} from "./utils/Console.sol";
import {Vm} from "./utils/Vm.sol";
import {MarginEngineBase} from "./utils/MarginEngineBase.sol";

/// @dev Drives the engine and its two vaults with random deposits, idle withdrawals, vault
///      funding, LP deposits, redemption requests and redemptions, IOU claims, shock
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
    MarginPool[2] internal pools;
    address[2] internal lps;

    /// @dev Ghosts, per asset: tokens that entered the engine or a vault from outside, and
    ///      tokens that left them to anyone (measured as balance changes, not from events).
    uint256[2] public tokensIn;
    uint256[2] public tokensOut;
    /// @dev Ghosts from the engine's events, per asset: loss + fee legs of closes, profit
    ///      legs, liquidation proceeds to the vaults.
    uint256[2] public closeToPool;
    uint256[2] public closeFromPool;
    uint256[2] public liquidationToPool;
    /// @dev What reclaims had the vaults pay back (Reclaimed.paid), per asset.
    uint256[2] public reclaimPaid;
    /// @dev Alice's and Bob's latest liquidation records (nonce, the six words).
    mapping(address who => uint64) internal recordNonce;
    mapping(address who => uint256[6]) internal records;
    uint256 public reclaims;
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
        MarginPool[2] pools;
        address[2] lps;
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
        pools = s.pools;
        lps = s.lps;
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
        tokensIn[asset] += amount;
    }

    function withdrawIdle(uint256 actorSeed, uint256 assetSeed, uint256 amount) external {
        address who = actors[actorSeed % 4];
        uint8 asset = assetSeed % 2 == 0 ? 0 : 1;
        uint256 bal = engine.balanceOf(who, asset);
        if (bal == 0 || model[who].open) return;
        amount = _bound(amount, 1, bal);
        vm.prank(who);
        engine.withdrawIdle(asset, amount);
        tokensOut[asset] += amount;
    }

    function fundPool(uint256 assetSeed, uint256 amount) external {
        uint8 asset = assetSeed % 2 == 0 ? 0 : 1;
        amount = asset == 0 ? _bound(amount, 1, 1e12) : _bound(amount, 1, 1e24);
        tokens[asset].mint(funder, amount);
        vm.startPrank(funder);
        tokens[asset].approve(address(pools[asset]), amount);
        pools[asset].fund(amount);
        vm.stopPrank();
        tokensIn[asset] += amount;
    }

    /// @dev An LP enters a vault (refused in deficit: then nothing happens).
    function lpDeposit(uint256 seed, uint256 amount) external {
        uint8 asset = uint8(seed % 2);
        address lp = lps[(seed >> 8) % 2];
        amount = asset == 0 ? _bound(amount, 1e6, 1e12) : _bound(amount, 1e12, 1e24);
        tokens[asset].mint(lp, amount);
        vm.startPrank(lp);
        tokens[asset].approve(address(pools[asset]), amount);
        try pools[asset].deposit(amount, lp) {
            tokensIn[asset] += amount;
        } catch {}
        vm.stopPrank();
    }

    /// @dev An LP asks to leave with part of its free shares.
    function lpRequest(uint256 seed, uint256 shares) external {
        MarginPool p = pools[seed % 2];
        address lp = lps[(seed >> 8) % 2];
        uint256 free = p.balanceOf(lp);
        if (free == 0) return;
        vm.prank(lp);
        p.requestRedeem(_bound(shares, 1, free));
    }

    /// @dev An LP executes its request (refused outside the window or when worth 0).
    function lpRedeem(uint256 seed) external {
        uint8 asset = uint8(seed % 2);
        address lp = lps[(seed >> 8) % 2];
        uint256 shares = pools[asset].maxRedeem(lp);
        if (shares == 0) return;
        uint256 before = tokens[asset].balanceOf(lp);
        vm.prank(lp);
        try pools[asset].redeem(shares, lp, lp) {} catch {}
        tokensOut[asset] += tokens[asset].balanceOf(lp) - before;
    }

    /// @dev A trader draws its IOUs.
    function claim(uint256 seed) external {
        uint8 asset = uint8(seed % 2);
        address who = actors[(seed >> 8) % 2];
        if (pools[asset].iouOf(who) == 0) return;
        uint256 before = tokens[asset].balanceOf(who);
        vm.prank(who);
        try pools[asset].claim(who) {} catch {}
        tokensOut[asset] += tokens[asset].balanceOf(who) - before;
    }

    /// @dev Token balances of `who` (both assets), to measure what a call paid out.
    function _held(address who) internal view returns (uint256[2] memory) {
        return [tokens[0].balanceOf(who), tokens[1].balanceOf(who)];
    }

    function _countOut(address who, uint256[2] memory before) internal {
        for (uint256 c = 0; c < 2; ++c) {
            tokensOut[c] += tokens[c].balanceOf(who) - before[c];
        }
    }

    /// @dev Adds the legs of the engine's AccountClosed / Liquidated events to the ghosts.
    function _countEvents() internal {
        Vm.Log[] memory logs = vm.getRecordedLogs();
        for (uint256 i = 0; i < logs.length; ++i) {
            if (logs[i].emitter != address(engine)) continue;
            if (logs[i].topics[0] == IMarginEngine.AccountClosed.selector) {
                (,,, uint256[2] memory toPool, uint256[2] memory fromPool,) =
                    abi.decode(logs[i].data, (int256, uint256, uint256, uint256[2], uint256[2], uint256[2]));
                for (uint256 c = 0; c < 2; ++c) {
                    closeToPool[c] += toPool[c];
                    closeFromPool[c] += fromPool[c];
                }
            } else if (logs[i].topics[0] == IMarginEngine.LiquidationRecorded.selector) {
                address who = address(uint160(uint256(logs[i].topics[1])));
                recordNonce[who] = uint64(uint256(logs[i].topics[2]));
                records[who] = abi.decode(logs[i].data, (uint256[6]));
            } else if (logs[i].topics[0] == IMarginEngine.Reclaimed.selector) {
                (,,, uint256[2] memory paid) = abi.decode(logs[i].data, (int256, uint256, uint256, uint256[2]));
                for (uint256 c = 0; c < 2; ++c) {
                    reclaimPaid[c] += paid[c];
                }
            } else if (logs[i].topics[0] == IMarginEngine.Liquidated.selector) {
                (uint256[2] memory reward, uint256[2] memory toPool) =
                    abi.decode(logs[i].data, (uint256[2], uint256[2]));
                reward;
                for (uint256 c = 0; c < 2; ++c) {
                    liquidationToPool[c] += toPool[c];
                }
            }
        }
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
        uint256[2] memory before = _held(keeper);
        vm.recordLogs();
        vm.prank(keeper);
        try engine.liquidate(who) {
            if (!expected) ++liquidationMismatches;
            delete model[who];
            ++liquidations;
        } catch {
            if (expected) ++liquidationMismatches;
        }
        _countEvents();
        _countOut(keeper, before);
    }

    /// @dev Tried on 1 call in 4, so that most runs keep an account open long enough to
    ///      reach lapses, shocks and liquidations.
    function close(uint256 actorSeed) external {
        if (actorSeed % 4 != 0) return;
        uint256 i = (actorSeed >> 8) % 2;
        address who = actors[i];
        uint256[2] memory before = _held(who);
        vm.recordLogs();
        vm.prank(who);
        try engine.close(i == 0 ? alicePositions : bobPositions, i == 0 ? aliceSalt : bobSalt) {
            delete model[who];
            ++closes;
        } catch {}
        _countEvents();
        _countOut(who, before);
    }

    /// @dev Alice or Bob reveals a liquidated account (refused after the window, or twice).
    function reclaim(uint256 actorSeed) external {
        uint256 i = actorSeed % 2;
        address who = actors[i];
        if (records[who][0] == 0) return;
        uint256[2] memory before = _held(who);
        vm.recordLogs();
        vm.prank(who);
        try engine.reclaim(
            recordNonce[who], records[who], i == 0 ? alicePositions : bobPositions, i == 0 ? aliceSalt : bobSalt
        ) {
            ++reclaims;
        } catch {}
        _countEvents();
        _countOut(who, before);
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

    /// @dev The price cache: proofs at this block and time then read it (a move after it at
    ///      the same time leaves it behind the oracle, as a same-block round would).
    function pushPrices() external {
        try engine.pushPrices() {} catch {} // a stale feed refuses the push
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
        s.pools = [usdcPool, wethPool];
        s.lps = [makeAddr("lp1"), makeAddr("lp2")];
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
        bytes4[] memory selectors = new bytes4[](16);
        selectors[15] = MarginEngineHandler.pushPrices.selector;
        selectors[14] = MarginEngineHandler.reclaim.selector;
        selectors[10] = MarginEngineHandler.lpDeposit.selector;
        selectors[11] = MarginEngineHandler.lpRequest.selector;
        selectors[12] = MarginEngineHandler.lpRedeem.selector;
        selectors[13] = MarginEngineHandler.claim.selector;
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

    /// @dev Every token unit the engine holds is an account balance (nothing else stays
    ///      in the engine: profit, loss, fees and penalties all go through the vaults).
    function invariant_CollateralConserved() public view {
        address[4] memory who = [ALICE, BOB, carol, dave];
        for (uint8 c = 0; c < 2; ++c) {
            uint256 sum;
            for (uint256 i = 0; i < 4; ++i) {
                sum += engine.balanceOf(who[i], c);
            }
            assertEq(sum, _asset(c).balanceOf(address(engine)), "balances == engine holdings");
        }
    }

    /// @dev No value created or lost: what the engine and the vault hold is exactly what
    ///      came in from outside (trader deposits, LP deposits, funding; the opening
    ///      deposits of setUp included) less what went out (idle withdrawals, closes,
    ///      keeper rewards, LP redemptions, IOU claims), each measured as balance changes.
    function invariant_NoValueCreated() public view {
        uint256[2] memory setupIn = [ALICE_USDC + BOB_USDC, BOB_WETH];
        for (uint8 c = 0; c < 2; ++c) {
            uint256 held = _asset(c).balanceOf(address(engine)) + _asset(c).balanceOf(address(_pool(c)));
            assertEq(held + handler.tokensOut(c), setupIn[c] + handler.tokensIn(c), "engine + vault == in - out");
        }
    }

    /// @dev The vault's own account (docs/pool.md) holds, and its engine counters equal the
    ///      legs of the engine's events: every engine flow is counted once, on both sides.
    function invariant_VaultIdentities() public view {
        for (uint8 c = 0; c < 2; ++c) {
            MarginPool p = _pool(c);
            IMarginPool.Accounts memory a = p.accounts();
            // held == deposited - withdrawn + funded + losses + penalties - profits - claims,
            // summed without subtraction (an LP may take out more than it put in)
            assertEq(
                a.held + a.withdrawn + a.profitsPaid + a.iouClaimed,
                a.deposited + a.funded + a.lossesReceived + a.penaltiesReceived,
                "held identity"
            );
            assertEq(a.owed, a.iouIssued - a.iouClaimed, "owed identity");
            assertEq(_asset(c).balanceOf(address(p)), a.held, "the vault holds what it counts");
            assertEq(p.totalAssets(), a.held > a.owed ? a.held - a.owed : 0, "totalAssets");
            assertEq(a.lossesReceived, handler.closeToPool(c), "loss and fee legs == lossesReceived");
            assertEq(
                a.profitsPaid + a.iouIssued,
                handler.closeFromPool(c) + handler.reclaimPaid(c),
                "profit legs and reclaims == paid + IOUs"
            );
            assertEq(a.penaltiesReceived, handler.liquidationToPool(c), "liquidation proceeds == penaltiesReceived");
            assertLe(p.convertToAssets(p.totalSupply()), p.totalAssets(), "all shares worth at most totalAssets");
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
        console.log("reclaims", handler.reclaims());
        console.log("outages", handler.outages());
    }

    /// @dev An isolated account never holds a second asset.
    function invariant_IsolatedHoldsOneAsset() public view {
        if (engine.account(ALICE).kind == IMarginEngine.Kind.Isolated) assertEq(engine.balanceOf(ALICE, WETH), 0);
    }
}
