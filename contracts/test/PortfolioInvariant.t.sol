// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {Test} from "./utils/Test.sol";
import {Vm} from "./utils/Vm.sol";
import {PortfolioBase} from "./utils/PortfolioBase.sol";
import {IPortfolioEngine} from "../src/portfolio/IPortfolioEngine.sol";
import {PortfolioEngine} from "../src/portfolio/PortfolioEngine.sol";
import {MarginPool} from "../src/pool/MarginPool.sol";
import {MockAggregator} from "../src/mocks/MockAggregator.sol";
import {MockERC20} from "../src/mocks/MockERC20.sol";

/// @notice Drives the portfolio engine, from Carol's account opened with her real proof (it
///         binds nonce 0: one account life per run), through random sequences of price
///         moves, time, deposits, idle withdrawals, flags, liquidations, reclaims and closes.
contract PortfolioHandler is Test {
    PortfolioEngine internal engine;
    MockERC20 internal usdc;
    MarginPool internal pool;
    MockAggregator internal ethFeed;
    MockAggregator[4] internal feeds;
    address internal carol;
    address internal keeper;
    IPortfolioEngine.Proof internal openProof;
    uint256 internal commitment;
    uint256 internal salt;
    IPortfolioEngine.Position[8] internal book;
    uint256[9] internal record;
    bool public hasRecord;
    uint256 public calls;
    uint256 public closed;
    uint256 public liquidated;
    uint256 public reclaimed;

    constructor(
        PortfolioEngine engine_,
        MockERC20 usdc_,
        MarginPool pool_,
        MockAggregator[4] memory feeds_,
        address carol_,
        address keeper_,
        IPortfolioEngine.Proof memory proof_,
        uint256 commitment_,
        uint256 salt_,
        IPortfolioEngine.Position[8] memory book_
    ) {
        (engine, usdc, pool, feeds, carol, keeper) = (engine_, usdc_, pool_, feeds_, carol_, keeper_);
        ethFeed = feeds_[0];
        openProof = proof_;
        (commitment, salt) = (commitment_, salt_);
        for (uint256 i = 0; i < 8; ++i) {
            book[i] = book_[i];
        }
    }

    function deposit(uint256 amount) external {
        ++calls;
        amount = bound(amount, 1, 10_000e6);
        usdc.mint(carol, amount);
        vm.startPrank(carol);
        usdc.approve(address(engine), amount);
        engine.deposit(0, amount);
        vm.stopPrank();
    }

    function withdrawIdle(uint256 amount) external {
        ++calls;
        uint256 bal = engine.balanceOf(carol, 0);
        if (bal == 0) return;
        vm.prank(carol);
        try engine.withdrawIdle(0, bound(amount, 1, bal)) {} catch {}
    }

    function movePrice(uint256 bps) external {
        ++calls;
        (, int256 p,,,) = ethFeed.latestRoundData();
        int256 move = int256(bound(bps, 0, 4_000)) - 2_000; // ±20%
        int256 q = p + (p * move) / 10_000;
        if (q > 100e8) ethFeed.updateAnswer(q);
    }

    function passTime(uint256 secs) external {
        ++calls;
        // at most 12 h a step: a run (depth 50) stays before the series' expiry (30 days),
        // which would otherwise block close and liquidation until someone settles it
        vm.warp(block.timestamp + bound(secs, 1, 12 hours));
        for (uint256 i = 0; i < 4; ++i) {
            (, int256 p,,,) = feeds[i].latestRoundData();
            feeds[i].updateAnswer(p);
        }
    }

    /// @dev A keeper's price push: only proofs read it, so no invariant may depend on it.
    function pushPrices() external {
        ++calls;
        try engine.pushPrices() {} catch {}
    }

    function flag() external {
        ++calls;
        vm.prank(keeper);
        try engine.flag(carol) {} catch {}
    }

    function liquidate() external {
        ++calls;
        vm.recordLogs();
        vm.prank(keeper);
        try engine.liquidate(carol) {
            ++liquidated;
            Vm.Log[] memory logs = vm.getRecordedLogs();
            for (uint256 i = 0; i < logs.length; ++i) {
                if (logs[i].topics[0] == IPortfolioEngine.LiquidationRecorded.selector) {
                    record = abi.decode(logs[i].data, (uint256[9]));
                    hasRecord = true;
                }
            }
        } catch {}
    }

    function reclaim() external {
        ++calls;
        if (!hasRecord) return;
        vm.prank(carol);
        try engine.reclaim(1, record, book, salt) {
            hasRecord = false;
            ++reclaimed;
        } catch {}
    }

    function close() external {
        ++calls;
        vm.prank(carol);
        try engine.close(book, salt) {
            ++closed;
        } catch {}
    }
}

contract PortfolioInvariantTest is PortfolioBase {
    PortfolioHandler internal handler;
    uint256 internal constant POOL_USDC = 1_000_000e6;

    function setUp() public override {
        super.setUp();
        _fundPool(usdcPool, usdc, POOL_USDC);
        _publish(_words());
        _deposit(CAROL, USDC, CAROL_USDC);
        vm.prank(CAROL);
        engine.open(_fixtureUint(".book.commitment"), _proof("carolOpen"));
        handler = new PortfolioHandler(
            engine,
            usdc,
            usdcPool,
            [ethFeed, btcFeed, usdcFeed, wethFeed],
            CAROL,
            keeper,
            _proof("carolOpen"),
            _fixtureUint(".book.commitment"),
            _carolSalt(),
            _carolBook()
        );
        targetContract(address(handler));
    }

    /// forge-config: default.invariant.runs = 200
    /// forge-config: default.invariant.depth = 50
    /// @dev The engine holds exactly the balances it records (nothing stuck, nothing owed).
    function invariant_engineHoldsRecordedBalances() public view {
        assertEq(usdc.balanceOf(address(engine)), engine.balanceOf(CAROL, USDC));
    }

    /// forge-config: default.invariant.runs = 200
    /// forge-config: default.invariant.depth = 50
    /// @dev No value is created: every USDC minted is with Carol, the keeper, the engine or
    ///      the vault; and what the vault owes as IOUs it either holds or has recorded.
    function invariant_noValueCreated() public view {
        uint256 held = usdc.balanceOf(CAROL) + usdc.balanceOf(keeper) + usdc.balanceOf(address(engine))
            + usdc.balanceOf(address(usdcPool));
        assertEq(held, usdc.totalSupply());
        // the LPs' claim plus the trader's IOU is what the vault holds (IOUs come first)
        assertEq(usdcPool.totalAssets() + usdcPool.iouOf(CAROL), usdc.balanceOf(address(usdcPool)));
    }

    /// @dev The handler's paths to the account's ends are reachable (so the invariants are
    ///      checked across closes, liquidations and reclaims, not only reverted calls).
    function test_handlerReachesCloseAndLiquidationAndReclaim() public {
        uint256 snap = vm.snapshotState();
        handler.close();
        assertEq(handler.closed(), 1);
        vm.revertToState(snap);
        handler.passTime(12 hours);
        handler.passTime(12 hours);
        handler.passTime(1);
        handler.liquidate();
        assertEq(handler.liquidated(), 1);
        handler.reclaim();
        assertEq(handler.reclaimed(), 1);
        invariant_noValueCreated();
        invariant_engineHoldsRecordedBalances();
    }
}
