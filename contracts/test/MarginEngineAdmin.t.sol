// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {Ownable2Step} from "@openzeppelin/contracts/access/Ownable2Step.sol";

import {IMarginEngine} from "../src/engine/IMarginEngine.sol";
import {MarginEngine} from "../src/engine/MarginEngine.sol";
import {MockAggregator} from "../src/mocks/MockAggregator.sol";
import {MockERC20} from "../src/mocks/MockERC20.sol";
import {MarginEngineBase} from "./utils/MarginEngineBase.sol";

/// @dev Construction, listings, risk parameters, ownership and the read-only views.
contract MarginEngineAdminTest is MarginEngineBase {
    /// @dev An engine with no listings (CREATE address; no proof is used here).
    function _bareEngine() internal returns (MarginEngine) {
        return new MarginEngine(owner, oracle, isoVerifier, crossVerifier, poseidon, LIFETIME, GRACE, PENALTY);
    }

    function _deployWith(uint64 lifetime, uint64 grace, uint16 penalty) external returns (MarginEngine) {
        return new MarginEngine(owner, oracle, isoVerifier, crossVerifier, poseidon, lifetime, grace, penalty);
    }

    /// @dev Every outage clock word carries a copy of the current policy (rates, haircuts,
    ///      decimals, collateral count), from which a proof builds its risk inputs without
    ///      reading the policy word: a risk change must reach every clock, the isolated
    ///      ones of other pairs and the cross one alike. The params input (index 3
    ///      isolated, 4 cross) of an opening statement: IMR(s) | haircut(s) | opening flag.
    function test_RiskChangeReachesEveryClock() public {
        vm.startPrank(owner);
        engine.setMarketRisk(ETH, 600, 1200);
        engine.setMarketRisk(BTC, 450, 900);
        engine.setHaircut(USDC, 200);
        engine.setHaircut(WETH, 1500);
        vm.stopPrank();
        IMarginEngine.Kind iso = IMarginEngine.Kind.Isolated;
        uint256[] memory pub = engine.openingInputs(stranger, 1, iso, ETH, USDC); // clock 1
        assertEq(pub[3], 1200 | (200 << 14) | (1 << 28), "ETH/USDC clock");
        pub = engine.openingInputs(stranger, 1, iso, BTC, WETH); // clock 4
        assertEq(pub[3], 900 | (1500 << 14) | (1 << 28), "BTC/WETH clock");
        pub = engine.openingInputs(stranger, 1, IMarginEngine.Kind.Cross, 0, 0); // clock 0
        assertEq(pub[4], 1200 | (900 << 14) | (200 << 56) | (1500 << 70) | (1 << 84), "cross clock");
        // a listing too: the third market's IMR and its slot
        vm.prank(owner);
        engine.listMarket(address(ethFeed), 100, 300);
        pub = engine.openingInputs(stranger, 1, IMarginEngine.Kind.Cross, 0, 0);
        assertEq(pub[4], 1200 | (900 << 14) | (300 << 28) | (200 << 56) | (1500 << 70) | (1 << 84), "new listing");
        assertEq((pub[1] >> 128) & type(uint64).max, ETH_PRICE, "the third market is priced");
    }

    // ================================================================== construction

    function test_Constructor_SetsEverything() public view {
        assertEq(engine.owner(), owner);
        assertEq(engine.pendingOwner(), address(0));
        assertEq(address(engine.oracle()), address(oracle));
        assertEq(engine.isolatedVerifier(), isoVerifier);
        assertEq(engine.crossVerifier(), crossVerifier);
        assertEq(engine.poseidon4(), poseidon);
        assertEq(uint256(engine.proofLifetime()), LIFETIME);
        assertEq(uint256(engine.gracePeriod()), GRACE);
        assertEq(uint256(engine.policyEpoch()), 5); // constructor, 2 markets, 2 assets
        assertEq(uint256(engine.liquidationPenaltyBps()), PENALTY);
        assertEq(engine.SNARK_SCALAR_FIELD(), R);
        // the ASCII bytes of the tag as a big-endian integer (19 bytes: shift out the 13 pad bytes);
        // bytes32 -> uint256 keeps every bit
        // forge-lint: disable-next-line(unsafe-typecast)
        assertEq(engine.COMMITMENT_DOMAIN_TAG(), uint256(bytes32("zkmargin/account/v1")) >> (13 * 8));
        assertEq(engine.BALANCE_LIMIT(), uint256(1) << 96);
    }

    function test_Constructor_EmitsParameterEvents() public {
        vm.expectEmit();
        emit IMarginEngine.ProofLifetimeSet(LIFETIME);
        vm.expectEmit();
        emit IMarginEngine.GracePeriodSet(GRACE);
        vm.expectEmit();
        emit IMarginEngine.LiquidationPenaltySet(PENALTY);
        _bareEngine();
    }

    function test_RevertIf_ConstructedWithZeroLifetime() public {
        vm.expectRevert(abi.encodeWithSelector(IMarginEngine.MarginEngine__InvalidDuration.selector, 0));
        this._deployWith(0, GRACE, PENALTY);
    }

    function test_RevertIf_ConstructedWithZeroGrace() public {
        vm.expectRevert(abi.encodeWithSelector(IMarginEngine.MarginEngine__InvalidDuration.selector, 0));
        this._deployWith(LIFETIME, 0, PENALTY);
    }

    function test_RevertIf_ConstructedWithPenaltyAboveOne() public {
        vm.expectRevert(abi.encodeWithSelector(IMarginEngine.MarginEngine__InvalidBps.selector, 10_001));
        this._deployWith(LIFETIME, GRACE, 10_001);
    }

    function test_RevertIf_ConstructedWithZeroOwner() public {
        vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableInvalidOwner.selector, address(0)));
        new MarginEngine(address(0), oracle, isoVerifier, crossVerifier, poseidon, LIFETIME, GRACE, PENALTY);
    }

    /// @dev MarginEngine__ChainIdTooLarge cannot be reached under forge: `vm.chainId` refuses
    ///      ids >= 2^64 ("chain ID must be less than 2^64"), as EIP-2294 bounds real chains.
    ///      The largest id forge allows deploys and builds inputs with it in the top bits.
    function test_Constructor_AcceptsLargestChainId() public {
        vm.chainId(type(uint64).max);
        MarginEngine e = _bareEngine();
        _listAll(e);
        uint256[] memory inputs = e.openingInputs(ALICE, 1, IMarginEngine.Kind.Isolated, ETH, USDC);
        assertEq(inputs[5], uint256(uint160(address(e))) | (uint256(type(uint64).max) << 160));
        assertLt(inputs[5], R);
    }

    // ================================================================== listings

    function test_ListMarket_AssignsIdsInOrderAndEmits() public {
        MarginEngine e = _bareEngine();
        vm.expectEmit(address(e));
        emit IMarginEngine.MarketListed(0, address(ethFeed), ETH_MMR, ETH_IMR);
        vm.prank(owner);
        assertEq(uint256(e.listMarket(address(ethFeed), ETH_MMR, ETH_IMR)), 0);
        vm.prank(owner);
        assertEq(uint256(e.listMarket(address(btcFeed), BTC_MMR, BTC_IMR)), 1);
        assertEq(uint256(e.marketCount()), 2);
        IMarginEngine.Market memory m = e.market(1);
        assertEq(m.feed, address(btcFeed));
        assertEq(uint256(m.mmrBps), BTC_MMR);
        assertEq(uint256(m.imrBps), BTC_IMR);
    }

    function test_ListMarket_AcceptsRateBoundaries() public {
        MarginEngine e = _bareEngine();
        vm.startPrank(owner);
        e.listMarket(address(ethFeed), 1, 1); // smallest non-zero rate, imr == mmr
        e.listMarket(address(btcFeed), 10_000, 10_000); // 100%
        vm.stopPrank();
        assertEq(uint256(e.marketCount()), 2);
    }

    function test_RevertIf_ListMarketFeedNotRegistered() public {
        MockAggregator f = new MockAggregator(8, 1e8, "X");
        vm.expectRevert(abi.encodeWithSelector(IMarginEngine.MarginEngine__FeedNotRegistered.selector, address(f)));
        vm.prank(owner);
        engine.listMarket(address(f), 500, 1000);
    }

    /// @dev A listed market needs a non-zero MMR: the circuit reads rate 0 as "unused slot".
    function test_RevertIf_ListMarketMmrZero() public {
        vm.expectRevert(abi.encodeWithSelector(IMarginEngine.MarginEngine__InvalidBps.selector, 0));
        vm.prank(owner);
        engine.listMarket(address(ethFeed), 0, 1000);
    }

    function test_RevertIf_ListMarketMmrAboveImr() public {
        vm.expectRevert(abi.encodeWithSelector(IMarginEngine.MarginEngine__InvalidBps.selector, 1001));
        vm.prank(owner);
        engine.listMarket(address(ethFeed), 1001, 1000);
    }

    function test_RevertIf_ListMarketImrAboveOne() public {
        vm.expectRevert(abi.encodeWithSelector(IMarginEngine.MarginEngine__InvalidBps.selector, 10_001));
        vm.prank(owner);
        engine.listMarket(address(ethFeed), 500, 10_001);
    }

    function test_RevertIf_TooManyMarkets() public {
        vm.startPrank(owner);
        engine.listMarket(address(ethFeed), 500, 1000);
        engine.listMarket(address(btcFeed), 500, 1000);
        assertEq(uint256(engine.marketCount()), 4);
        vm.expectRevert(IMarginEngine.MarginEngine__TooManyListings.selector);
        engine.listMarket(address(ethFeed), 500, 1000);
        vm.stopPrank();
    }

    function test_SetMarketRisk_UpdatesAndEmits() public {
        vm.expectEmit(address(engine));
        emit IMarginEngine.MarketRiskSet(BTC, 600, 1200);
        vm.prank(owner);
        engine.setMarketRisk(BTC, 600, 1200);
        IMarginEngine.Market memory m = engine.market(BTC);
        assertEq(uint256(m.mmrBps), 600);
        assertEq(uint256(m.imrBps), 1200);
        assertEq(m.feed, address(btcFeed));
    }

    function test_RevertIf_SetMarketRiskUnknownMarket() public {
        vm.expectRevert(abi.encodeWithSelector(IMarginEngine.MarginEngine__UnknownMarket.selector, 2));
        vm.prank(owner);
        engine.setMarketRisk(2, 500, 1000);
    }

    function test_RevertIf_SetMarketRiskInvalidRates() public {
        vm.startPrank(owner);
        vm.expectRevert(abi.encodeWithSelector(IMarginEngine.MarginEngine__InvalidBps.selector, 0));
        engine.setMarketRisk(ETH, 0, 1000);
        vm.expectRevert(abi.encodeWithSelector(IMarginEngine.MarginEngine__InvalidBps.selector, 2000));
        engine.setMarketRisk(ETH, 2000, 1000);
        vm.expectRevert(abi.encodeWithSelector(IMarginEngine.MarginEngine__InvalidBps.selector, 10_001));
        engine.setMarketRisk(ETH, 500, 10_001);
        vm.stopPrank();
    }

    function test_ListCollateral_RecordsDecimalsAndEmits() public {
        MarginEngine e = _bareEngine();
        vm.expectEmit(address(e));
        emit IMarginEngine.CollateralListed(0, address(usdc), address(usdcFeed), USDC_HAIRCUT, 6);
        vm.prank(owner);
        assertEq(uint256(e.listCollateral(address(usdc), address(usdcFeed), USDC_HAIRCUT)), 0);
        vm.prank(owner);
        assertEq(uint256(e.listCollateral(address(weth), address(wethFeed), 10_000)), 1);
        assertEq(uint256(e.collateralCount()), 2);
        IMarginEngine.Collateral memory c = e.collateral(1);
        assertEq(c.token, address(weth));
        assertEq(c.feed, address(wethFeed));
        assertEq(uint256(c.haircutBps), 10_000);
        assertEq(uint256(c.decimals), 18);
    }

    function test_RevertIf_ListCollateralTokenWithoutCode() public {
        MarginEngine e = _bareEngine();
        vm.startPrank(owner);
        vm.expectRevert(abi.encodeWithSelector(IMarginEngine.MarginEngine__InvalidToken.selector, address(0)));
        e.listCollateral(address(0), address(usdcFeed), 0);
        vm.expectRevert(abi.encodeWithSelector(IMarginEngine.MarginEngine__InvalidToken.selector, stranger));
        e.listCollateral(stranger, address(usdcFeed), 0);
        vm.stopPrank();
    }

    function test_RevertIf_ListCollateralMoreThan18Decimals() public {
        MarginEngine e = _bareEngine();
        MockERC20 t = new MockERC20("T", "T", 19);
        vm.expectRevert(abi.encodeWithSelector(IMarginEngine.MarginEngine__InvalidToken.selector, address(t)));
        vm.prank(owner);
        e.listCollateral(address(t), address(usdcFeed), 0);
    }

    function test_RevertIf_ListCollateralFeedNotRegistered() public {
        MarginEngine e = _bareEngine();
        vm.expectRevert(abi.encodeWithSelector(IMarginEngine.MarginEngine__FeedNotRegistered.selector, stranger));
        vm.prank(owner);
        e.listCollateral(address(usdc), stranger, 0);
    }

    function test_RevertIf_ListCollateralHaircutAboveOne() public {
        MarginEngine e = _bareEngine();
        vm.expectRevert(abi.encodeWithSelector(IMarginEngine.MarginEngine__InvalidBps.selector, 10_001));
        vm.prank(owner);
        e.listCollateral(address(usdc), address(usdcFeed), 10_001);
    }

    function test_RevertIf_TooManyAssets() public {
        vm.expectRevert(IMarginEngine.MarginEngine__TooManyListings.selector);
        vm.prank(owner);
        engine.listCollateral(address(usdc), address(usdcFeed), 0);
    }

    function test_SetHaircut_UpdatesAndEmits() public {
        vm.expectEmit(address(engine));
        emit IMarginEngine.HaircutSet(WETH, 2500);
        vm.prank(owner);
        engine.setHaircut(WETH, 2500);
        assertEq(uint256(engine.collateral(WETH).haircutBps), 2500);
    }

    function test_RevertIf_SetHaircutUnknownAsset() public {
        vm.expectRevert(abi.encodeWithSelector(IMarginEngine.MarginEngine__UnknownAsset.selector, 2));
        vm.prank(owner);
        engine.setHaircut(2, 0);
    }

    function test_RevertIf_SetHaircutAboveOne() public {
        vm.expectRevert(abi.encodeWithSelector(IMarginEngine.MarginEngine__InvalidBps.selector, 10_001));
        vm.prank(owner);
        engine.setHaircut(USDC, 10_001);
    }

    // ================================================================== parameters

    function test_SetProofLifetime_UpdatesAndEmits() public {
        uint64 max = engine.MAX_DURATION();
        vm.expectEmit(address(engine));
        emit IMarginEngine.ProofLifetimeSet(max);
        vm.prank(owner);
        engine.setProofLifetime(max);
        assertEq(uint256(engine.proofLifetime()), max);
    }

    function test_RevertIf_SetProofLifetimeOutOfRange() public {
        uint64 max = engine.MAX_DURATION();
        vm.startPrank(owner);
        vm.expectRevert(abi.encodeWithSelector(IMarginEngine.MarginEngine__InvalidDuration.selector, 0));
        engine.setProofLifetime(0);
        vm.expectRevert(abi.encodeWithSelector(IMarginEngine.MarginEngine__InvalidDuration.selector, max + 1));
        engine.setProofLifetime(max + 1);
        vm.stopPrank();
    }

    function test_SetGracePeriod_UpdatesAndEmits() public {
        vm.expectEmit(address(engine));
        emit IMarginEngine.GracePeriodSet(1);
        vm.prank(owner);
        engine.setGracePeriod(1);
        assertEq(uint256(engine.gracePeriod()), 1);
    }

    function test_RevertIf_SetGracePeriodOutOfRange() public {
        uint64 max = engine.MAX_DURATION();
        vm.startPrank(owner);
        vm.expectRevert(abi.encodeWithSelector(IMarginEngine.MarginEngine__InvalidDuration.selector, 0));
        engine.setGracePeriod(0);
        vm.expectRevert(abi.encodeWithSelector(IMarginEngine.MarginEngine__InvalidDuration.selector, max + 1));
        engine.setGracePeriod(max + 1);
        vm.stopPrank();
    }

    function test_SetLiquidationPenalty_UpdatesAndEmits() public {
        vm.expectEmit(address(engine));
        emit IMarginEngine.LiquidationPenaltySet(0);
        vm.prank(owner);
        engine.setLiquidationPenalty(0);
        assertEq(uint256(engine.liquidationPenaltyBps()), 0);
    }

    function test_RevertIf_SetLiquidationPenaltyAboveCap() public {
        vm.prank(owner);
        engine.setLiquidationPenalty(2_500); // the cap itself is allowed
        vm.expectRevert(abi.encodeWithSelector(IMarginEngine.MarginEngine__InvalidBps.selector, 2_501));
        vm.prank(owner);
        engine.setLiquidationPenalty(2_501);
    }

    // ================================================================== access control

    /// @dev Every owner-only function, with valid arguments (only the caller is wrong).
    function _adminCalls() internal view returns (bytes[] memory calls) {
        calls = new bytes[](10);
        calls[0] = abi.encodeCall(engine.listMarket, (address(ethFeed), 500, 1000));
        calls[1] = abi.encodeCall(engine.setMarketRisk, (ETH, 500, 1000));
        calls[2] = abi.encodeCall(engine.listCollateral, (address(usdc), address(usdcFeed), 0));
        calls[3] = abi.encodeCall(engine.setHaircut, (USDC, 0));
        calls[4] = abi.encodeCall(engine.setProofLifetime, (1 hours));
        calls[5] = abi.encodeCall(engine.setGracePeriod, (1 hours));
        calls[6] = abi.encodeCall(engine.setLiquidationPenalty, (100));
        calls[7] = abi.encodeCall(engine.renounceOwnership, ());
        calls[8] = abi.encodeCall(engine.transferOwnership, (stranger));
        calls[9] = abi.encodeWithSignature("acceptOwnership()");
    }

    function test_RevertIf_NonOwnerCallsAnyAdminFunction() public {
        bytes[] memory calls = _adminCalls();
        for (uint256 i = 0; i < calls.length; ++i) {
            vm.prank(stranger);
            vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, stranger));
            (bool ok,) = address(engine).call(calls[i]);
            assertTrue(ok, string.concat("admin call ", vm.toString(i), " accepted a stranger"));
        }
    }

    function testFuzz_RevertIf_NonOwnerSetsParameters(address caller, uint64 value, uint16 bps) public {
        vm.assume(caller != owner);
        vm.startPrank(caller);
        vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, caller));
        engine.setProofLifetime(value);
        vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, caller));
        engine.setLiquidationPenalty(bps);
        vm.stopPrank();
    }

    function test_RevertIf_OwnerRenounces() public {
        vm.expectRevert(IMarginEngine.MarginEngine__RenounceDisabled.selector);
        vm.prank(owner);
        engine.renounceOwnership();
        assertEq(engine.owner(), owner);
    }

    function test_TransferOwnership_IsTwoStep() public {
        address next = makeAddr("next");
        vm.expectEmit(address(engine));
        emit Ownable2Step.OwnershipTransferStarted(owner, next);
        vm.prank(owner);
        engine.transferOwnership(next);
        assertEq(engine.owner(), owner, "owner changes only on accept");
        assertEq(engine.pendingOwner(), next);

        // the old owner still rules until the transfer is accepted
        vm.prank(owner);
        engine.setGracePeriod(2 hours);
        vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, next));
        vm.prank(next);
        engine.setGracePeriod(3 hours);

        // only the pending owner may accept
        vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, stranger));
        vm.prank(stranger);
        engine.acceptOwnership();

        vm.expectEmit(address(engine));
        emit Ownable.OwnershipTransferred(owner, next);
        vm.prank(next);
        engine.acceptOwnership();
        assertEq(engine.owner(), next);
        assertEq(engine.pendingOwner(), address(0));

        vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, owner));
        vm.prank(owner);
        engine.setGracePeriod(4 hours);
        vm.prank(next);
        engine.setGracePeriod(4 hours);
        assertEq(uint256(engine.gracePeriod()), 4 hours);
    }

    function test_TransferOwnership_CanBeCancelled() public {
        vm.startPrank(owner);
        engine.transferOwnership(stranger);
        engine.transferOwnership(address(0));
        vm.stopPrank();
        vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, stranger));
        vm.prank(stranger);
        engine.acceptOwnership();
    }

    // ================================================================== views

    function test_Views_ListingsOfTheFixtureStack() public view {
        assertEq(uint256(engine.marketCount()), 2);
        assertEq(uint256(engine.collateralCount()), 2);
        assertEq(engine.market(ETH).feed, address(ethFeed));
        assertEq(engine.collateral(USDC).token, address(usdc));
        assertEq(uint256(engine.collateral(USDC).decimals), 6);
        assertEq(_poolAssets(USDC), 0);
        assertEq(engine.balanceOf(ALICE, USDC), 0);
        IMarginEngine.Account memory a = engine.account(ALICE);
        assertEq(uint256(a.kind), uint256(IMarginEngine.Kind.None));
        assertEq(a.commitment, 0);
        (bool now_, uint64 at) = engine.liquidatable(ALICE);
        assertFalse(now_);
        assertEq(uint256(at), type(uint64).max);
    }

    function test_RevertIf_ViewUnknownMarket() public {
        vm.expectRevert(abi.encodeWithSelector(IMarginEngine.MarginEngine__UnknownMarket.selector, 2));
        engine.market(2);
    }

    function test_RevertIf_ViewUnknownAsset() public {
        vm.expectRevert(abi.encodeWithSelector(IMarginEngine.MarginEngine__UnknownAsset.selector, 2));
        engine.collateral(2);
    }

    function test_RevertIf_PublicInputsOfNoAccount() public {
        vm.expectRevert(abi.encodeWithSelector(IMarginEngine.MarginEngine__NoAccount.selector, ALICE));
        engine.publicInputs(ALICE, false, 0, 0);
    }
}
