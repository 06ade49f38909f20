// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {PortfolioBase} from "./utils/PortfolioBase.sol";
import {IPortfolioEngine} from "../src/portfolio/IPortfolioEngine.sol";
import {PortfolioSettlement} from "../src/portfolio/PortfolioSettlement.sol";

/// @notice Risk publication: the on-chain Poseidon commitment equals zkmargin's (Python),
///         every publication rule with the exact error, series settlement, epoch validity,
///         and the opening inputs against the Python encoder.
contract PortfolioRiskTest is PortfolioBase {
    // ================================================================== Poseidon

    function test_riskCommitmentEqualsZkmargin() public {
        uint32 epoch = _publish(_words());
        assertEq(epoch, 1);
        assertEq(engine.riskEpoch(), 1);
        IPortfolioEngine.RiskEpoch memory e = engine.riskEpochOf(1);
        assertEq(e.commitment, _fixtureUint(".risk.commitment"), "on-chain Poseidon != zkmargin");
        assertEq(e.riskParams, _words().params);
        assertEq(e.marks[0], 41.2e8);
        assertEq(e.marks[1], 1_210.5e8);
        assertEq(e.deltaBps[0], 2_710);
        assertEq(e.deltaBps[1], 2_850);
        assertEq(e.firstExpiry, EXPIRY);
        assertEq(e.marketCount, 2);
        assertEq(e.collateralCount, 2);
        assertEq(e.seriesCount, 2);
    }

    function test_riskCommitmentChangesWithEveryWord() public {
        Words memory w = _words();
        uint256 base = _commitmentOf(w);
        w.values[1] += 1; // one unit of the put's mark
        assertTrue(_commitmentOf(w) != base);
    }

    function _commitmentOf(Words memory w) private returns (uint256) {
        uint32 epoch = _publish(w);
        return engine.riskEpochOf(epoch).commitment;
    }

    function test_accountCommitmentEqualsZkmargin() public view {
        IPortfolioEngine.Position[8] memory book = _carolBook();
        uint256 c = PortfolioSettlement.commitmentOf(
            poseidons[0], poseidons[2], CAROL, book, _fixtureUint(".book.salt")
        );
        assertEq(c, _fixtureUint(".book.commitment"), "on-chain account commitment != zkmargin");
    }

    function test_commitmentOfRefusesBadInstrumentAndSalt() public {
        IPortfolioEngine.Position[8] memory book = _carolBook();
        book[3].instrument = 12;
        vm.expectRevert(abi.encodeWithSelector(IPortfolioEngine.PortfolioEngine__InvalidPosition.selector, 3));
        this.commitmentOfExt(book, 1);
        book[3].instrument = 0;
        vm.expectRevert(abi.encodeWithSelector(IPortfolioEngine.PortfolioEngine__InvalidPosition.selector, 8));
        this.commitmentOfExt(book, R);
    }

    function commitmentOfExt(IPortfolioEngine.Position[8] calldata book, uint256 salt) external view returns (uint256) {
        return PortfolioSettlement.commitmentOf(poseidons[0], poseidons[2], CAROL, book, salt);
    }

    // ================================================================== publication rules

    function test_publishOnlyPublisher() public {
        Words memory w = _words();
        vm.prank(stranger);
        vm.expectRevert(abi.encodeWithSelector(IPortfolioEngine.PortfolioEngine__NotPublisher.selector, stranger));
        engine.publishRisk(w.params, w.chol, w.values, w.oparams, w.keys);
    }

    function test_publishRefusesListedFlagMismatch() public {
        Words memory w = _words();
        w.params = _setField(w.params, 4 + 2, 1); // market 2 flagged listed
        _publishExpect(w, abi.encodeWithSelector(IPortfolioEngine.PortfolioEngine__RiskListingMismatch.selector, 2));
        w = _words();
        w.params = _setField(w.params, 4 + 1, 0); // market 1 flagged unlisted
        _publishExpect(w, abi.encodeWithSelector(IPortfolioEngine.PortfolioEngine__RiskListingMismatch.selector, 1));
    }

    function test_publishRefusesFloorOnUnlistedMarket() public {
        Words memory w = _words();
        w.params = _setField(w.params, 3, 7);
        _publishExpect(w, abi.encodeWithSelector(IPortfolioEngine.PortfolioEngine__RiskListingMismatch.selector, 3));
    }

    function test_publishRefusesFloorBelowMinimum() public {
        Words memory w = _words();
        w.params = _setField(w.params, 1, 39); // BTC floor 39 < 40
        _publishExpect(
            w, abi.encodeWithSelector(IPortfolioEngine.PortfolioEngine__RiskBelowMinimum.selector, 0, 1, 39, 40)
        );
        w.params = _setField(w.params, 1, 40);
        _publish(w); // exactly the minimum passes
    }

    function test_publishRefusesHaircutBelowMinimum() public {
        Words memory w = _words();
        w.params = _setField(w.params, 9, 999); // WETH haircut 999 < 1000
        _publishExpect(
            w, abi.encodeWithSelector(IPortfolioEngine.PortfolioEngine__RiskBelowMinimum.selector, 1, 1, 999, 1000)
        );
    }

    function test_publishRefusesFactorMismatch() public {
        Words memory w = _words();
        w.params = _setField(w.params, 11, 2); // WETH moves with BTC: not the listing
        _publishExpect(w, abi.encodeWithSelector(IPortfolioEngine.PortfolioEngine__RiskListingMismatch.selector, 5));
        w = _words();
        w.params = _setField(w.params, 10, 1); // USDC given a factor
        _publishExpect(w, abi.encodeWithSelector(IPortfolioEngine.PortfolioEngine__RiskListingMismatch.selector, 4));
    }

    function test_publishRefusesLambdas() public {
        Words memory w = _words();
        w.params = _setField(w.params, 12, MIN_LAMBDA - 1);
        _publishExpect(
            w,
            abi.encodeWithSelector(
                IPortfolioEngine.PortfolioEngine__RiskBelowMinimum.selector, 2, 0, MIN_LAMBDA - 1, MIN_LAMBDA
            )
        );
        w = _words();
        w.params = _setField(w.params, 13, 9_999); // λ_IM < λ_MM = 10,000
        _publishExpect(
            w, abi.encodeWithSelector(IPortfolioEngine.PortfolioEngine__RiskBelowMinimum.selector, 3, 0, 9_999, 10_000)
        );
    }

    function test_publishRefusesBitsAboveFields() public {
        Words memory w = _words();
        w.params |= 1 << 224;
        _publishExpect(w, abi.encodeWithSelector(IPortfolioEngine.PortfolioEngine__RiskWordInvalid.selector, 0));
        w = _words();
        w.chol |= 1 << 160;
        _publishExpect(w, abi.encodeWithSelector(IPortfolioEngine.PortfolioEngine__RiskWordInvalid.selector, 1));
        w = _words();
        w.values[0] |= 1 << 192;
        _publishExpect(w, abi.encodeWithSelector(IPortfolioEngine.PortfolioEngine__RiskWordInvalid.selector, 2));
        w = _words();
        w.oparams[1] |= 1 << 64;
        _publishExpect(w, abi.encodeWithSelector(IPortfolioEngine.PortfolioEngine__RiskWordInvalid.selector, 11));
    }

    function test_publishRefusesCholeskyOutOfRangeAndDiagonal() public {
        Words memory w = _words();
        w.chol = _setField(w.chol, 1, 20_001); // L_10 > 10,000
        _publishExpect(w, abi.encodeWithSelector(IPortfolioEngine.PortfolioEngine__RiskWordInvalid.selector, 1));
        w = _words();
        w.chol = _setField(w.chol, 2, 10_000 + 99); // L_11 = 99 < minDiag 100
        _publishExpect(
            w, abi.encodeWithSelector(IPortfolioEngine.PortfolioEngine__RiskBelowMinimum.selector, 4, 1, 99, 100)
        );
        w.chol = _setField(w.chol, 2, 10_000 - 480); // negative diagonal
        _publishExpect(w, abi.encodeWithSelector(IPortfolioEngine.PortfolioEngine__RiskBelowMinimum.selector, 4, 1, 0, 100));
        w = _words();
        w.chol = _setField(w.chol, 3, 10_001); // row of unlisted market 2 not zero
        _publishExpect(w, abi.encodeWithSelector(IPortfolioEngine.PortfolioEngine__RiskListingMismatch.selector, 2));
    }

    function test_publishRefusesOptionSlotMismatch() public {
        Words memory w = _words();
        w.keys[0] += 1; // another strike
        _publishExpect(w, abi.encodeWithSelector(IPortfolioEngine.PortfolioEngine__RiskListingMismatch.selector, 8));
        w = _words();
        w.values[2] = 1; // unlisted slot 2 not empty
        _publishExpect(w, abi.encodeWithSelector(IPortfolioEngine.PortfolioEngine__RiskListingMismatch.selector, 10));
        w = _words();
        w.oparams[0] = _setField(w.oparams[0], 2, 1); // ETH call said to be on BTC
        _publishExpect(w, abi.encodeWithSelector(IPortfolioEngine.PortfolioEngine__RiskListingMismatch.selector, 8));
        w = _words();
        w.oparams[0] = _setField(w.oparams[0], 3, 0); // listed series flagged unlisted
        _publishExpect(w, abi.encodeWithSelector(IPortfolioEngine.PortfolioEngine__RiskListingMismatch.selector, 8));
        w = _words();
        w.oparams[0] = _setField(w.oparams[0], 1, 1); // a call with δ < 0
        _publishExpect(w, abi.encodeWithSelector(IPortfolioEngine.PortfolioEngine__RiskWordInvalid.selector, 10));
        w = _words();
        w.oparams[1] = _setField(w.oparams[1], 0, 10_001); // |δ| > 10,000
        _publishExpect(w, abi.encodeWithSelector(IPortfolioEngine.PortfolioEngine__RiskWordInvalid.selector, 11));
    }

    // ================================================================== epochs

    function test_listingAfterPublicationRefusesProofsUntilRepublished() public {
        _publish(_words());
        engine.openingInputs(CAROL, 1); // fine
        MockAggregator_ feed = new MockAggregator_();
        vm.prank(owner);
        oracle.setFeed(address(feed), HEARTBEAT);
        vm.prank(owner);
        engine.listMarket(address(feed), CLOSE_FEE, 0, 1);
        vm.expectRevert(IPortfolioEngine.PortfolioEngine__ListingsChanged.selector);
        engine.openingInputs(CAROL, 1);
        // the old words no longer match (market 2 is listed now)
        _publishExpect(
            _words(), abi.encodeWithSelector(IPortfolioEngine.PortfolioEngine__RiskListingMismatch.selector, 2)
        );
    }

    function test_noEpochRefusesProofs() public {
        vm.expectRevert(IPortfolioEngine.PortfolioEngine__NoRiskEpoch.selector);
        engine.openingInputs(CAROL, 1);
    }

    function test_openingInputsMatchPythonEncoder() public {
        _publish(_words());
        _deposit(CAROL, USDC, CAROL_USDC);
        uint256 commitment = _fixtureUint(".book.commitment");
        uint256[8] memory got = engine.openingInputs(CAROL, commitment);
        uint256[] memory want = vm.parseJsonUintArray(vm.readFile(FIXTURE), ".book.initialInputs");
        for (uint256 i = 0; i < 8; ++i) {
            if (i == 5) assertEq(got[5], 5, "opening modeWord = initial | opening << 2");
            else assertEq(got[i], want[i], string.concat("public input ", vm.toString(i)));
        }
    }

    function test_expiredEpochRefusesProofs() public {
        _publish(_words());
        vm.warp(EXPIRY);
        _refreshFeeds();
        vm.expectRevert(abi.encodeWithSelector(IPortfolioEngine.PortfolioEngine__EpochExpired.selector, 1));
        engine.openingInputs(CAROL, 1);
    }

    // ================================================================== series settlement

    function test_settleSeriesRules() public {
        vm.expectRevert(abi.encodeWithSelector(IPortfolioEngine.PortfolioEngine__SeriesNotExpired.selector, 0, EXPIRY));
        engine.settleSeries(0, 1);
        vm.expectRevert(abi.encodeWithSelector(IPortfolioEngine.PortfolioEngine__UnknownSeries.selector, 2));
        engine.settleSeries(2, 1);
        // rounds: 1 at T0 (setup); 2 one second before expiry; 3 at expiry + 10; 4 later
        vm.warp(EXPIRY - 1);
        ethFeed.updateAnswer(2_400e8);
        vm.warp(EXPIRY + 10);
        ethFeed.updateAnswer(2_600e8);
        vm.warp(EXPIRY + 20);
        ethFeed.updateAnswer(2_700e8);
        vm.expectRevert(abi.encodeWithSelector(IPortfolioEngine.PortfolioEngine__InvalidSettlementRound.selector, 2));
        engine.settleSeries(0, 2); // before expiry
        vm.expectRevert(abi.encodeWithSelector(IPortfolioEngine.PortfolioEngine__InvalidSettlementRound.selector, 4));
        engine.settleSeries(0, 4); // not the first round at or after expiry
        vm.expectRevert(abi.encodeWithSelector(IPortfolioEngine.PortfolioEngine__InvalidSettlementRound.selector, 9));
        engine.settleSeries(0, 9); // no such round
        vm.expectEmit(address(engine));
        emit IPortfolioEngine.SeriesSettled(0, 3, 2_600e8);
        engine.settleSeries(0, 3);
        IPortfolioEngine.Series memory s = engine.series(0);
        assertTrue(s.settled);
        assertEq(s.settlementPrice, 2_600e8);
        vm.expectRevert(abi.encodeWithSelector(IPortfolioEngine.PortfolioEngine__SeriesSettled.selector, 0));
        engine.settleSeries(0, 3);
    }

    function test_settlementNormalisesDecimals() public {
        vm.warp(EXPIRY - 1);
        btcFeed.updateAnswer(50_000e8);
        btcFeed.setDecimals(18);
        vm.warp(EXPIRY);
        btcFeed.updateAnswer(50_000.123456789e18); // truncated to 8 decimals
        engine.settleSeries(1, 3);
        assertEq(engine.series(1).settlementPrice, 50_000.12345678e8);
    }

    /// @dev After expiry: an unsettled series refuses the publication; settled, its mark must
    ///      be the intrinsic value with δ = gamma = vega = 0.
    function test_publishExpiredSeries() public {
        vm.warp(EXPIRY - 1);
        ethFeed.updateAnswer(2_000e8);
        btcFeed.updateAnswer(50_000e8);
        vm.warp(EXPIRY + 1);
        ethFeed.updateAnswer(2_600e8); // round 3: ETH call 2500 is 100 in the money
        btcFeed.updateAnswer(50_000e8); // round 3: BTC put 55000 is 5000 in the money
        usdcFeed.updateAnswer(int256(USDC_PRICE));
        wethFeed.updateAnswer(int256(WETH_PRICE));
        Words memory w = _words();
        _publishExpect(w, abi.encodeWithSelector(IPortfolioEngine.PortfolioEngine__SeriesNotSettled.selector, 0));
        engine.settleSeries(0, 3);
        engine.settleSeries(1, 3);
        _publishExpect(w, abi.encodeWithSelector(IPortfolioEngine.PortfolioEngine__SettlementMismatch.selector, 0));
        w.values[0] = 100e8;
        w.oparams[0] = 1 << 48; // listed, underlying 0, δ 0
        w.values[1] = 5_000e8 + 1; // one unit off the intrinsic value
        w.oparams[1] = (1 << 48) | (1 << 32);
        _publishExpect(w, abi.encodeWithSelector(IPortfolioEngine.PortfolioEngine__SettlementMismatch.selector, 1));
        w.values[1] = 5_000e8;
        w.oparams[1] = (1 << 48) | (1 << 32) | (1 << 16) | 1; // δ still nonzero
        _publishExpect(w, abi.encodeWithSelector(IPortfolioEngine.PortfolioEngine__SettlementMismatch.selector, 1));
        w.oparams[1] = (1 << 48) | (1 << 32);
        uint32 epoch = _publish(w);
        IPortfolioEngine.RiskEpoch memory e = engine.riskEpochOf(epoch);
        assertEq(e.firstExpiry, type(uint40).max, "no unsettled series left");
        assertEq(e.marks[0], 100e8);
        engine.openingInputs(CAROL, 1); // proofs are accepted again
    }
}

/// @dev A third feed for the listing test.
contract MockAggregator_ {
    function decimals() external pure returns (uint8) {
        return 8;
    }

    function latestRoundData() external view returns (uint80, int256, uint256, uint256, uint80) {
        return (1, 1e8, block.timestamp, block.timestamp, 1);
    }
}
