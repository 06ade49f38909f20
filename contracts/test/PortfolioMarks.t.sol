// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {Vm} from "./utils/Vm.sol";
import {PortfolioBase} from "./utils/PortfolioBase.sol";
import {IPortfolioEngine} from "../src/portfolio/IPortfolioEngine.sol";
import {PortfolioSettlement} from "../src/portfolio/PortfolioSettlement.sol";

/// @notice The stale-mark attack on option settlement, with REAL proofs: an epoch's marks do
///         not move with the underlying, so before the fix a short call closed after a rally
///         paid the old mark and a long put closed after a rally was paid the old mark, the
///         vault making up the difference. The engine now settles an option at the tangent
///         from the publication price (long, floored at intrinsic) or the tangent plus the
///         gamma charge (short), see {IPortfolioEngine} "Option settlement".
/// @dev The fixture's epoch, read by the engine at ETH 2,000 and BTC 60,000: series 0 the ETH
///      2500 call, mark 41.2, δ 0.271, gamma charge 9.8; series 1 the BTC 55000 put, mark
///      1,210.5, δ −0.285, gamma charge 310. Carol: long 1 ETH perp at 2,000, short 1 call at
///      41.2 (USDC 3,000). Dave: long 1 put at 1,210.5, short 0.5 ETH perp at 2,000.
contract PortfolioMarksTest is PortfolioBase {
    address internal constant DAVE = address(uint160(uint256(keccak256("zkmargin.test.dave"))));
    uint256 internal constant CALL_MARK = 41.2e8;
    uint256 internal constant CALL_DELTA = 2_710;
    uint256 internal constant CALL_GAMMA = 9.8e8;
    uint256 internal constant PUT_MARK = 1_210.5e8;
    uint256 internal constant PUT_DELTA = 2_850;
    uint256 internal constant PUT_GAMMA = 310e8;

    function setUp() public override {
        super.setUp();
        _fundPool(usdcPool, usdc, 100_000e6);
        _fundPool(wethPool, weth, 100e18);
    }

    // ================================================================== the attack

    /// @dev ETH rallies 15% after the publication. At the stale mark the short call would
    ///      cost nothing to buy back (PnL +300 on the perp alone); it owes the tangent plus its
    ///      gamma charge: 41.2 + 0.271·300 + 9.8 = 132.3, so PnL = 300 − (132.3 − 41.2).
    function test_shortCallAfterRallyPaysAtLeastTheBound() public {
        _openCarol();
        ethFeed.updateAnswer(2_300e8);
        int256 staleMarkPnl = 300e16;
        int256 bound = int256(CALL_MARK + CALL_DELTA * 300e8 / 1e4 + CALL_GAMMA); // 132.3
        int256 pnl = _closeCarol();
        assertEq(pnl, 208.9e16);
        assertLe(pnl, staleMarkPnl - (bound - int256(CALL_MARK)) * 1e8, "the short paid less than the bound");
    }

    /// @dev Past the strike the intrinsic value is the larger: ETH 2,800, tangent + gamma
    ///      41.2 + 0.271·800 + 9.8 = 267.8 < intrinsic 300; PnL = 800 − (300 − 41.2).
    function test_shortCallDeepInTheMoneyOwesIntrinsic() public {
        _openCarol();
        ethFeed.updateAnswer(2_800e8);
        assertEq(_closeCarol(), 541.2e16);
    }

    /// @dev BTC rallies to 64,000: at the stale mark the long put would close flat; it is paid
    ///      at most the tangent 1,210.5 − 0.285·4,000 = 70.5 (intrinsic 0), PnL −1,140.
    function test_longPutAfterRallyIsPaidAtMostTheTangent() public {
        _openDave();
        btcFeed.updateAnswer(64_000e8);
        int256 bound = int256(PUT_MARK) - int256(PUT_DELTA * 4_000e8 / 1e4); // 70.5
        int256 pnl = _closeDave();
        assertEq(pnl, -1_140e16);
        assertLe(pnl, (bound - int256(PUT_MARK)) * 1e8, "the long was paid more than the tangent");
    }

    /// @dev The liquidation record carries both sides' values at the liquidation prices (ETH
    ///      1,900): call long ⌊41.2 − 27.1⌋ = 14.1, short 14.1 + 9.8 = 23.9; BTC unchanged:
    ///      put long 1,210.5, short 1,520.5. The reclaim settles Carol's short call at 23.9.
    function test_liquidationRecordsLongAndShortValues() public {
        _openCarol();
        vm.warp(T0 + LIFETIME + 1);
        ethFeed.updateAnswer(1_900e8);
        _refreshFeeds();
        vm.recordLogs();
        engine.liquidate(CAROL);
        uint256[9] memory r = _recorded();
        assertEq(uint64(r[5]), 14.1e8, "call, long");
        assertEq(uint64(r[7]), 23.9e8, "call, short");
        assertEq(uint64(r[5] >> 64), PUT_MARK, "put, long");
        assertEq(uint64(r[7] >> 64), PUT_MARK + PUT_GAMMA, "put, short");
        vm.recordLogs();
        vm.prank(CAROL);
        engine.reclaim(1, r, _carolBook(), _carolSalt());
        // perp −100, short call +(41.2 − 23.9) = 17.3
        assertEq(_reclaimedPnl(), -82.7e16);
    }

    /// @dev A settled series keeps its intrinsic value for both sides, whatever the move since
    ///      the publication: ETH settles at 2,600, then trades at 3,000; the call owes 100.
    function test_settledSeriesKeepsItsIntrinsicValue() public {
        vm.prank(owner);
        engine.setProofLifetime(365 days);
        _openCarol();
        vm.warp(EXPIRY + 10);
        ethFeed.updateAnswer(2_600e8); // round 2: the settlement round
        engine.settleSeries(0, 2);
        ethFeed.updateAnswer(3_000e8);
        btcFeed.updateAnswer(int256(BTC_PRICE));
        usdcFeed.updateAnswer(int256(USDC_PRICE));
        wethFeed.updateAnswer(int256(WETH_PRICE));
        assertEq(_closeCarol(), 1_000e16 - (100e16 - 41.2e16));
    }

    /// @dev The engine reads (with the adapter's checks) and stores the oracle price of every
    ///      listed market at publication; a stale market feed refuses the publication.
    function test_publicationStoresOraclePrices() public {
        ethFeed.updateAnswer(2_100e8);
        uint32 epoch = _publish(_words());
        IPortfolioEngine.RiskEpoch memory e = engine.riskEpochOf(epoch);
        assertEq(e.prices[ETH], 2_100e8);
        assertEq(e.prices[BTC], BTC_PRICE);
        assertEq(e.prices[2], 0, "unlisted market");
        assertEq(e.gammaCharges[0], CALL_GAMMA);
        assertEq(e.gammaCharges[1], PUT_GAMMA);
        vm.warp(T0 + HEARTBEAT + 1);
        _publishExpect(
            _words(),
            abi.encodeWithSignature(
                "OracleAdapter__StalePrice(address,uint256,uint256)", address(ethFeed), T0, HEARTBEAT
            )
        );
    }

    // ================================================================== the rule

    /// @dev Whatever the move: a long is worth at least its intrinsic value and at most what
    ///      an equal short owes (a long and a short of the same series never net a payment
    ///      from the vault), both at most the no-arbitrage cap; the long is exactly the
    ///      tangent rounded down (floored at intrinsic) and the short at least the tangent
    ///      plus the gamma charge (capped).
    function testFuzz_longNeverAboveShort(
        bool call,
        uint64 strike,
        uint64 mark,
        uint16 delta,
        uint64 gamma,
        uint64 published,
        uint64 p
    ) public pure {
        strike = uint64(bound(strike, 1, type(uint64).max));
        delta = uint16(bound(delta, 0, 10_000));
        published = uint64(bound(published, 1, type(uint64).max));
        p = uint64(bound(p, 1, type(uint64).max));
        uint256 kind = call ? 1 : 2;
        (uint64 long, uint64 short) = PortfolioSettlement.optionValues(kind, strike, mark, delta, gamma, published, p);
        uint256 intrinsic = call ? (p > strike ? p - strike : 0) : (strike > p ? strike - p : 0);
        uint256 cap = call ? p : strike;
        assertLe(long, short, "long above short");
        assertGe(long, intrinsic, "long below intrinsic");
        assertGe(short, intrinsic, "short below intrinsic");
        assertLe(short, cap, "above the cap");
        int256 t = int256(uint256(mark)) * 1e4 + (call ? int256(1) : -1) * int256(uint256(delta))
            * (int256(uint256(p)) - int256(uint256(published)));
        int256 tangentDown = t >= 0 ? t / 1e4 : -((-t + 1e4 - 1) / 1e4);
        int256 tangentUp = t >= 0 ? (t + 1e4 - 1) / 1e4 : -(-t / 1e4);
        int256 wantLong = tangentDown > int256(intrinsic) ? tangentDown : int256(intrinsic);
        assertEq(int256(uint256(long)), wantLong < int256(cap) ? wantLong : int256(cap), "long");
        int256 charged = tangentUp + int256(uint256(gamma));
        assertGe(int256(uint256(short)), charged < int256(cap) ? charged : int256(cap), "short below the bound");
    }

    /// @dev The vault's side of the attack, on the engine with a real proof: whatever ETH does,
    ///      Carol's short call costs at least its intrinsic value and at least the tangent plus
    ///      gamma (capped at the ETH price), so her PnL never exceeds the perp's gain minus that.
    function testFuzz_shortCallNeverSettlesBelowTheBound(uint32 ethPrice) public {
        uint256 pe = bound(ethPrice, 1_000, 4_000) * 1e8;
        _openCarol();
        ethFeed.updateAnswer(int256(pe));
        int256 t = int256(CALL_MARK) + int256(CALL_DELTA) * (int256(pe) - 2_000e8) / 1e4 + int256(CALL_GAMMA);
        int256 intrinsic = pe > 2_500e8 ? int256(pe) - 2_500e8 : int256(0);
        int256 owed = t > intrinsic ? t : intrinsic;
        int256 pnl = _closeCarol();
        assertLe(pnl, (int256(pe) - 2_000e8 - (owed - int256(CALL_MARK))) * 1e8);
    }

    // ================================================================== helpers

    function _openDave() internal {
        _publish(_words());
        _deposit(DAVE, USDC, 1_500e6);
        _deposit(DAVE, WETH, 1e18);
        vm.prank(DAVE);
        engine.open(_fixtureUint(".daveCommitment"), _proof("daveOpen"));
    }

    function _daveBook() internal pure returns (IPortfolioEngine.Position[8] memory book) {
        book[0] = IPortfolioEngine.Position(5, true, 1e8, 1_210.5e8);
        book[1] = IPortfolioEngine.Position(ETH, false, 0.5e8, 2_000e8);
    }

    function _closeCarol() internal returns (int256) {
        vm.recordLogs();
        vm.prank(CAROL);
        engine.close(_carolBook(), _carolSalt());
        return _closedPnl();
    }

    function _closeDave() internal returns (int256) {
        vm.recordLogs();
        vm.prank(DAVE);
        engine.close(_daveBook(), _fixtureUint(".daveSalt"));
        return _closedPnl();
    }

    /// @dev The `pnl` of the last {AccountClosed} (1e-16 quote).
    function _closedPnl() internal returns (int256 pnl) {
        bytes memory data = _logData(IPortfolioEngine.AccountClosed.selector);
        (pnl) = abi.decode(data, (int256));
    }

    /// @dev The `pnl` of the last {Reclaimed} (1e-16 quote).
    function _reclaimedPnl() internal returns (int256 pnl) {
        bytes memory data = _logData(IPortfolioEngine.Reclaimed.selector);
        (pnl) = abi.decode(data, (int256));
    }

    function _recorded() internal returns (uint256[9] memory) {
        return abi.decode(_logData(IPortfolioEngine.LiquidationRecorded.selector), (uint256[9]));
    }

    function _logData(bytes32 topic) internal returns (bytes memory) {
        Vm.Log[] memory logs = vm.getRecordedLogs();
        for (uint256 i = logs.length; i > 0; --i) {
            if (logs[i - 1].emitter == address(engine) && logs[i - 1].topics[0] == topic) return logs[i - 1].data;
        }
        fail("no such event");
    }
}
