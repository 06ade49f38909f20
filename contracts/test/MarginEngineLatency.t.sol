// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";

import {IMarginEngine} from "../src/engine/IMarginEngine.sol";
import {Vm} from "./utils/Vm.sol";
import {MarginEngineBase} from "./utils/MarginEngineBase.sol";

/// @dev The oracle-latency round trip (issue 11): a trader who knows the next oracle round
///      opens before it and closes after it. Entries are fixed at the current oracle price
///      (the opening proof forces it) and close settles at the current one, so without a
///      cost the move is a risk-free profit paid by the vault. The close fee, charged on
///      the notional revealed at close and sized to the feed's deviation threshold
///      (SECURITY.md, "Oracle latency"), makes every such round trip lose.
///      Alice: isolated long 1 ETH at 2000 on 500 USDC. Bob: cross long 2 ETH at 2000 and
///      short 0.1 BTC at 60000 on 1000 USDC + 0.5 WETH.
contract MarginEngineLatencyTest is MarginEngineBase {
    /// @dev The deviation threshold of the ETH/USD and BTC/USD feeds the tests model
    ///      (Chainlink's mainnet feeds: 0.5%), and the fee sized to it.
    uint16 internal constant DEVIATION_BPS = 50;
    uint16 internal constant FEE_BPS = 50;

    function setUp() public override {
        super.setUp();
        _fundPool(USDC, 100_000e6);
        _fundPool(WETH, 100e18);
    }

    function _setFees(uint16 feeBps) internal {
        vm.startPrank(owner);
        engine.setCloseFee(ETH, feeBps);
        engine.setCloseFee(BTC, feeBps);
        vm.stopPrank();
    }

    /// @dev Alice's USDC after the round trip 2000 -> `next` (opened before the round,
    ///      closed right after it), IOUs included.
    function _aliceRoundTrip(uint256 next) internal returns (uint256) {
        _openAlice(); // entry = the current oracle price, 2000
        _setPrice(ethFeed, next); // the round the attacker knew
        _closeAlice();
        return usdc.balanceOf(ALICE) + usdcPool.iouOf(ALICE);
    }

    // ------------------------------------------------------------------ the attack

    /// @dev The attack on an engine without the fee (as before this change): +0.5% of the
    ///      notional (10 USDC on 1 ETH, 2% of the 500 USDC margin at 4x) per known round,
    ///      paid by the vault's LPs.
    function test_LatencyRoundTrip_ProfitsWithoutFee() public {
        uint256 got = _aliceRoundTrip(2_010e8);
        assertEq(got, ALICE_USDC + 10e6, "a risk-free 10 USDC");
        assertEq(_poolAssets(USDC), 100_000e6 - 10e6, "paid by the LPs");
    }

    /// @dev With the fee: the same round trip loses 0.05 USDC (fee 0.5% of 2010 = 10.05).
    function test_LatencyRoundTrip_FeeRemovesTheEdge() public {
        _setFees(FEE_BPS);
        uint256 got = _aliceRoundTrip(2_010e8);
        assertEq(got, ALICE_USDC + 10e6 - 10.05e6, "profit 10, fee 10.05");
        assertLt(got, ALICE_USDC, "the round trip loses");
        assertEq(_poolAssets(USDC), 100_000e6 + 0.05e6, "the vault keeps the difference");
        assertEq(usdcPool.accounts().lossesReceived, 0.05e6, "the net fee reaches the vault");
    }

    /// @dev Every known next round within the deviation threshold, either way, on either
    ///      side (Alice long; Bob long ETH and short BTC, moved together): never a profit.
    function testFuzz_LatencyRoundTrip_NeverProfitsWithinThreshold(uint256 moveBps, bool up) public {
        _setFees(FEE_BPS);
        moveBps = bound(moveBps, 0, DEVIATION_BPS);
        uint256 move = (ETH_PRICE * moveBps) / 10_000;
        uint256 got = _aliceRoundTrip(up ? ETH_PRICE + move : ETH_PRICE - move);
        assertLe(got, ALICE_USDC, "no round trip profits");
    }

    /// @dev Bob's cross account: ETH and BTC each move by up to the threshold in the
    ///      direction that pays him (ETH up for his long, BTC down for his short).
    function testFuzz_LatencyRoundTrip_CrossNeverProfits(uint256 ethBps, uint256 btcBps) public {
        _setFees(FEE_BPS);
        ethBps = bound(ethBps, 0, DEVIATION_BPS);
        btcBps = bound(btcBps, 0, DEVIATION_BPS);
        _openBob();
        uint256 ethNext = ETH_PRICE + (ETH_PRICE * ethBps) / 10_000;
        uint256 btcNext = BTC_PRICE - (BTC_PRICE * btcBps) / 10_000;
        _setPrices(ethNext, btcNext, USDC_PRICE, WETH_PRICE);
        _closeBob();
        // value of what Bob holds afterwards, in 1e-8 quote x token units (both at 1e18)
        uint256 usdcGot = usdc.balanceOf(BOB) + usdcPool.iouOf(BOB);
        uint256 wethGot = weth.balanceOf(BOB) + wethPool.iouOf(BOB);
        uint256 after_ = usdcGot * 1e12 * USDC_PRICE + wethGot * WETH_PRICE;
        uint256 before = BOB_USDC * 1e12 * USDC_PRICE + BOB_WETH * WETH_PRICE;
        assertLe(after_, before, "no round trip profits");
    }

    // ------------------------------------------------------------------ honest cost

    /// @dev An honest trader pays the fee once per round trip, on the notional at close:
    ///      ETH 2000 -> 2200, +200 profit, fee 0.5% of 2200 = 11: 189 net.
    function test_HonestTrader_PaysTheFeeOnce() public {
        _setFees(FEE_BPS);
        _openAlice();
        _setPrice(ethFeed, 2_200e8);
        vm.expectEmit(address(engine));
        emit IMarginEngine.AccountClosed(ALICE, _i(200e16), 11e16, 0, _two(0, 0), _two(189e6, 0), _two(ALICE_USDC, 0));
        _closeAlice();
        assertEq(usdc.balanceOf(ALICE), ALICE_USDC + 189e6);
    }

    /// @dev The fee is on the notional at the higher of entry and close: ETH 2000 -> 1900,
    ///      -100, fee 0.5% of 2000 = 10: 110 to the vault.
    function test_HonestTrader_FeeAddsToALoss() public {
        _setFees(FEE_BPS);
        _openAlice();
        _setPrice(ethFeed, 1_900e8);
        _closeAlice();
        assertEq(usdc.balanceOf(ALICE), ALICE_USDC - 110e6);
        assertEq(usdcPool.accounts().lossesReceived, 110e6);
    }

    /// @dev Why the higher of entry and close: a short that knows a fall of exactly the
    ///      threshold (BTC 60000 -> 59700, Bob short 0.1) gains 30; a fee on the close
    ///      notional (0.5% of 5970 = 29.85) would leave it 0.15, the fee on the entry
    ///      notional (30) leaves it nothing. Bob's ETH leg does not move (fee 20).
    function test_LatencyRoundTrip_ShortPaysOnTheEntryNotional() public {
        _setFees(FEE_BPS);
        _openBob();
        _setPrices(ETH_PRICE, 59_700e8, USDC_PRICE, WETH_PRICE);
        vm.recordLogs();
        _closeBob();
        Vm.Log[] memory logs = vm.getRecordedLogs();
        for (uint256 i = 0; i < logs.length; ++i) {
            if (logs[i].emitter == address(engine) && logs[i].topics[0] == IMarginEngine.AccountClosed.selector) {
                (int256 pnl, uint256 fee) = abi.decode(logs[i].data, (int256, uint256));
                assertEq(pnl, _i(30e16), "the short's known gain");
                assertEq(fee, 50e16, "20 on 2 ETH at 2000 + 30 on 0.1 BTC at its 60000 entry");
                return;
            }
        }
        fail("no AccountClosed event");
    }

    /// @dev The fee is on the notional at the close price (1 ETH at 2000.00000001, 1 bps:
    ///      0.200000000001 quote, in 1e-16 units 2000000000010000), and the net loss
    ///      (fee - pnl = 0.199999990001 quote) is taken rounded up: 0.2 USDC.
    function test_Fee_OnTheNotionalAtClose() public {
        _setFees(1);
        _openAlice();
        _setPrice(ethFeed, ETH_PRICE + 1);
        vm.expectEmit(address(engine));
        emit IMarginEngine.AccountClosed(
            ALICE, 1e8, 2_000_000_000_010_000, 0, _two(200_000, 0), _two(0, 0), _two(ALICE_USDC - 200_000, 0)
        );
        _closeAlice();
        assertEq(usdc.balanceOf(ALICE), ALICE_USDC - 200_000);
    }

    // ------------------------------------------------------------------ admin

    function test_SetCloseFee_StoresAndEmits() public {
        vm.expectEmit(address(engine));
        emit IMarginEngine.CloseFeeSet(ETH, 75);
        vm.prank(owner);
        engine.setCloseFee(ETH, 75);
        assertEq(engine.market(ETH).closeFeeBps, 75);
        assertEq(engine.market(BTC).closeFeeBps, 0);
        // a risk change keeps the fee, and the fee keeps the rates
        vm.prank(owner);
        engine.setMarketRisk(ETH, 600, 1200);
        assertEq(engine.market(ETH).closeFeeBps, 75);
        assertEq(engine.market(ETH).mmrBps, 600);
        assertEq(engine.market(ETH).imrBps, 1200);
        assertEq(engine.market(ETH).feed, address(ethFeed));
    }

    function test_RevertIf_SetCloseFeeAboveMax() public {
        uint16 max = engine.MAX_CLOSE_FEE_BPS();
        vm.prank(owner);
        engine.setCloseFee(ETH, max);
        vm.expectRevert(abi.encodeWithSelector(IMarginEngine.MarginEngine__InvalidBps.selector, max + 1));
        vm.prank(owner);
        engine.setCloseFee(ETH, max + 1);
    }

    function test_RevertIf_SetCloseFeeUnknownMarketOrNotOwner() public {
        vm.expectRevert(abi.encodeWithSelector(IMarginEngine.MarginEngine__UnknownMarket.selector, 2));
        vm.prank(owner);
        engine.setCloseFee(2, 10);
        vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, stranger));
        vm.prank(stranger);
        engine.setCloseFee(ETH, 10);
    }
}
