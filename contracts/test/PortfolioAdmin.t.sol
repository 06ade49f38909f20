// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {PortfolioBase} from "./utils/PortfolioBase.sol";
import {IPortfolioEngine} from "../src/portfolio/IPortfolioEngine.sol";
import {MarginPool} from "../src/pool/MarginPool.sol";
import {PortfolioEngine} from "../src/portfolio/PortfolioEngine.sol";

/// @notice Listings, owner parameters, deposits, idle withdrawals, the outage clock, and
///         every refusal that comes before a proof is verified (exact errors).
contract PortfolioAdminTest is PortfolioBase {
    IPortfolioEngine.Proof internal junk;

    function test_listingsAsDeployed() public view {
        assertEq(engine.marketCount(), 2);
        assertEq(engine.collateralCount(), 2);
        assertEq(engine.seriesCount(), 2);
        IPortfolioEngine.Collateral memory c = engine.collateral(WETH);
        assertEq(c.token, address(weth));
        assertEq(c.decimals, 18);
        assertEq(c.riskFactor, 1);
        IPortfolioEngine.Series memory s = engine.series(1);
        assertEq(s.underlying, BTC);
        assertEq(s.kind, 2);
        assertEq(s.strike, 55_000e8);
        assertEq(s.expiry, EXPIRY);
        assertEq(engine.publisher(), publisher);
        assertEq(address(engine.pool(USDC)), address(usdcPool));
        assertEq(engine.PORTFOLIO_TAG(), uint256(bytes32(bytes21("zkmargin/portfolio/v1"))) >> 88);
    }

    function test_onlyOwner() public {
        vm.startPrank(stranger);
        vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, stranger));
        engine.listMarket(address(ethFeed), 0, 0, 1);
        vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, stranger));
        engine.setPublisher(stranger);
        vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, stranger));
        engine.listSeries(ETH, 1, EXPIRY, 1);
        vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, stranger));
        engine.setMinLambdaMM(1);
        vm.stopPrank();
    }

    function test_listingRefusals() public {
        vm.startPrank(owner);
        vm.expectRevert(abi.encodeWithSelector(IPortfolioEngine.PortfolioEngine__FeedNotRegistered.selector, stranger));
        engine.listMarket(stranger, 0, 0, 1);
        vm.expectRevert(abi.encodeWithSelector(IPortfolioEngine.PortfolioEngine__InvalidBps.selector, 201));
        engine.listMarket(address(ethFeed), 201, 0, 1);
        vm.expectRevert(abi.encodeWithSelector(IPortfolioEngine.PortfolioEngine__InvalidBps.selector, 0));
        engine.listMarket(address(ethFeed), 0, 0, 0); // a zero minimum diagonal
        vm.expectRevert(abi.encodeWithSelector(IPortfolioEngine.PortfolioEngine__UnknownMarket.selector, 2));
        engine.listSeries(2, 1e8, EXPIRY, 1);
        vm.expectRevert(IPortfolioEngine.PortfolioEngine__InvalidSeries.selector);
        engine.listSeries(ETH, 0, EXPIRY, 1);
        vm.expectRevert(IPortfolioEngine.PortfolioEngine__InvalidSeries.selector);
        engine.listSeries(ETH, 1e8, uint40(block.timestamp), 1);
        vm.expectRevert(IPortfolioEngine.PortfolioEngine__InvalidSeries.selector);
        engine.listSeries(ETH, 1e8, EXPIRY, 3);
        vm.expectRevert(IPortfolioEngine.PortfolioEngine__TooManyListings.selector);
        engine.listCollateral(address(usdc), address(usdcFeed), 0, 0);
        for (uint256 j = 2; j < 8; ++j) {
            engine.listSeries(ETH, uint64(j) * 1_000e8, EXPIRY, 1);
        }
        vm.expectRevert(IPortfolioEngine.PortfolioEngine__TooManyListings.selector);
        engine.listSeries(ETH, 9_000e8, EXPIRY, 1);
        vm.expectRevert(abi.encodeWithSelector(IPortfolioEngine.PortfolioEngine__InvalidDuration.selector, 0));
        engine.setProofLifetime(0);
        vm.expectRevert(abi.encodeWithSelector(IPortfolioEngine.PortfolioEngine__InvalidDuration.selector, 366 days));
        engine.setGracePeriod(366 days);
        vm.expectRevert(abi.encodeWithSelector(IPortfolioEngine.PortfolioEngine__InvalidBps.selector, 2_501));
        engine.setLiquidationPenalty(2_501);
        vm.expectRevert(abi.encodeWithSelector(IPortfolioEngine.PortfolioEngine__RenounceDisabled.selector));
        engine.renounceOwnership();
        vm.stopPrank();
    }

    /// @dev Raised minimums apply to the next publication; a new publisher takes over at once.
    function test_minimumsAndPublisherApplyToTheNextPublication() public {
        _publish(_words());
        vm.startPrank(owner);
        engine.setMarketMinimums(ETH, 51, 100);
        vm.expectRevert(abi.encodeWithSelector(IPortfolioEngine.PortfolioEngine__UnknownMarket.selector, 2));
        engine.setMarketMinimums(2, 0, 1);
        vm.stopPrank();
        _publishExpect(
            _words(), abi.encodeWithSelector(IPortfolioEngine.PortfolioEngine__RiskBelowMinimum.selector, 0, 0, 50, 51)
        );
        vm.startPrank(owner);
        engine.setMarketMinimums(ETH, 50, 901); // L_00 = 900 is now below the minimum
        vm.stopPrank();
        _publishExpect(
            _words(), abi.encodeWithSelector(IPortfolioEngine.PortfolioEngine__RiskBelowMinimum.selector, 4, 0, 900, 901)
        );
        vm.startPrank(owner);
        engine.setMarketMinimums(ETH, 50, 100);
        engine.setMinHaircut(USDC, 101);
        vm.stopPrank();
        _publishExpect(
            _words(), abi.encodeWithSelector(IPortfolioEngine.PortfolioEngine__RiskBelowMinimum.selector, 1, 0, 100, 101)
        );
        vm.startPrank(owner);
        engine.setMinHaircut(USDC, 100);
        engine.setPublisher(stranger);
        vm.stopPrank();
        _publishExpect(_words(), abi.encodeWithSelector(IPortfolioEngine.PortfolioEngine__NotPublisher.selector, publisher));
        Words memory w = _words();
        vm.prank(stranger);
        assertEq(engine.publishRisk(w.params, w.chol, w.values, w.oparams, w.keys), 2);
    }

    function test_setPoolRefusals() public {
        vm.startPrank(owner);
        vm.expectRevert(abi.encodeWithSelector(IPortfolioEngine.PortfolioEngine__PoolAlreadySet.selector, USDC));
        engine.setPool(USDC, usdcPool);
        vm.stopPrank();
        // a fresh engine: a vault whose engine is another contract, or of another token
        PortfolioEngine e = _bareEngine();
        MarginPool other = new MarginPool(usdc, "x", "x", owner, POOL_DELAY, POOL_WINDOW);
        vm.prank(owner);
        other.setEngine(address(engine));
        vm.prank(owner);
        vm.expectRevert(abi.encodeWithSelector(IPortfolioEngine.PortfolioEngine__InvalidPool.selector, address(other)));
        e.setPool(USDC, other);
        MarginPool wrongToken = new MarginPool(weth, "y", "y", owner, POOL_DELAY, POOL_WINDOW);
        vm.prank(owner);
        wrongToken.setEngine(address(e));
        vm.prank(owner);
        vm.expectRevert(abi.encodeWithSelector(IPortfolioEngine.PortfolioEngine__InvalidPool.selector, address(wrongToken)));
        e.setPool(USDC, wrongToken);
    }

    function _bareEngine() internal returns (PortfolioEngine e) {
        e = new PortfolioEngine(owner, oracle, verifier, poseidons, publisher, LIFETIME, GRACE, PENALTY);
        vm.startPrank(owner);
        e.listMarket(address(ethFeed), 0, 0, 1);
        e.listCollateral(address(usdc), address(usdcFeed), 0, 0);
        vm.stopPrank();
    }

    // ================================================================== deposits

    function test_depositAndIdleWithdraw() public {
        _deposit(CAROL, USDC, CAROL_USDC);
        assertEq(engine.balanceOf(CAROL, USDC), CAROL_USDC);
        assertEq(usdc.balanceOf(address(engine)), CAROL_USDC);
        vm.prank(CAROL);
        engine.withdrawIdle(USDC, 1_000e6);
        assertEq(engine.balanceOf(CAROL, USDC), 2_000e6);
        assertEq(usdc.balanceOf(CAROL), 1_000e6);
        vm.prank(CAROL);
        vm.expectRevert(
            abi.encodeWithSelector(IPortfolioEngine.PortfolioEngine__InsufficientBalance.selector, USDC, 2_000e6, 2_000e6 + 1)
        );
        engine.withdrawIdle(USDC, 2_000e6 + 1);
    }

    function test_depositRefusals() public {
        vm.startPrank(CAROL);
        vm.expectRevert(abi.encodeWithSelector(IPortfolioEngine.PortfolioEngine__UnknownAsset.selector, 2));
        engine.deposit(2, 1);
        vm.expectRevert(IPortfolioEngine.PortfolioEngine__ZeroAmount.selector);
        engine.deposit(USDC, 0);
        vm.stopPrank();
        // the normalised balance must stay below 2^96
        uint256 limit = ((uint256(1) << 96) + 1e12 - 1) / 1e12; // smallest USDC amount at the bound
        _fund(CAROL, usdc, limit);
        vm.prank(CAROL);
        vm.expectRevert(
            abi.encodeWithSelector(IPortfolioEngine.PortfolioEngine__BalanceTooLarge.selector, (limit) * 1e12)
        );
        engine.deposit(USDC, limit);
        vm.prank(CAROL);
        engine.deposit(USDC, limit - 1);
    }

    // ================================================================== before the proof

    function test_refusalsBeforeTheVerifier() public {
        _publish(_words());
        vm.startPrank(CAROL);
        vm.expectRevert(abi.encodeWithSelector(IPortfolioEngine.PortfolioEngine__InvalidCommitment.selector, 0));
        engine.open(0, junk);
        vm.expectRevert(abi.encodeWithSelector(IPortfolioEngine.PortfolioEngine__InvalidCommitment.selector, R));
        engine.open(R, junk);
        vm.expectRevert(abi.encodeWithSelector(IPortfolioEngine.PortfolioEngine__NoAccount.selector, CAROL));
        engine.proveMargin(junk);
        vm.expectRevert(abi.encodeWithSelector(IPortfolioEngine.PortfolioEngine__NoAccount.selector, CAROL));
        engine.withdraw(USDC, 1, junk);
        IPortfolioEngine.Position[8] memory none;
        vm.expectRevert(abi.encodeWithSelector(IPortfolioEngine.PortfolioEngine__NoAccount.selector, CAROL));
        engine.close(none, 0);
        vm.stopPrank();
        vm.expectRevert(abi.encodeWithSelector(IPortfolioEngine.PortfolioEngine__NoAccount.selector, CAROL));
        engine.flag(CAROL);
        vm.expectRevert(abi.encodeWithSelector(IPortfolioEngine.PortfolioEngine__NoAccount.selector, CAROL));
        engine.liquidate(CAROL);
        assertFalse(engine.liquidatable(CAROL));
        assertFalse(engine.flaggable(CAROL));
    }

    /// @dev The real verifier rejects a junk proof (it got its full gas allowance).
    function test_junkProofRefused() public {
        _publish(_words());
        vm.prank(CAROL);
        vm.expectRevert(IPortfolioEngine.PortfolioEngine__InvalidProof.selector);
        engine.open(1, junk);
    }

    function test_starvedVerifierRefused() public {
        _publish(_words());
        uint256 needed = (engine.VERIFIER_GAS() * 64) / 63 + 5_000;
        vm.prank(CAROL);
        (bool ok, bytes memory ret) =
            address(engine).call{gas: 300_000}(abi.encodeCall(engine.open, (uint256(1), junk)));
        assertFalse(ok);
        assertEq(bytes4(ret), IPortfolioEngine.PortfolioEngine__InsufficientGas.selector);
        assertGt(needed, 300_000);
    }

    // ================================================================== outage clock

    function test_staleClockStopsAndOpenRefused() public {
        _publish(_words());
        uint64 live0 = engine.liveTime();
        assertEq(live0, T0);
        // every feed goes stale after its heartbeat: the clock stops at T0 + 1 h + 1
        vm.warp(T0 + 5 hours);
        assertEq(engine.liveTime(), T0 + HEARTBEAT + 1, "live time stops when the first feed went stale");
        vm.expectEmit(address(engine));
        emit IPortfolioEngine.StaleClock(uint64(T0 + HEARTBEAT + 1), 0);
        engine.pokeStale();
        vm.prank(CAROL);
        vm.expectRevert(IPortfolioEngine.PortfolioEngine__FeedsStale.selector);
        engine.open(1, junk);
        // all fresh again at T0 + 5 h: the outage lasted 5 h − 1 h − 1 s
        _refreshFeeds();
        uint64 outage = uint64(5 hours - HEARTBEAT - 1);
        vm.expectEmit(address(engine));
        emit IPortfolioEngine.StaleClock(0, outage);
        engine.pokeStale();
        vm.warp(T0 + 6 hours);
        assertEq(engine.liveTime(), T0 + 6 hours - outage);
    }

    function test_oneStaleFeedStopsTheClock() public {
        vm.warp(T0 + 30 minutes);
        _bump(ethFeed);
        _bump(btcFeed);
        _bump(usdcFeed); // WETH not updated since T0
        vm.warp(T0 + 2 hours);
        _bump(ethFeed);
        _bump(btcFeed);
        _bump(usdcFeed);
        assertEq(engine.liveTime(), T0 + HEARTBEAT + 1);
    }
}

