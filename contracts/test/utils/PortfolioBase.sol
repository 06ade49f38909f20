// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {Test} from "./Test.sol";
import {OracleAdapter} from "../../src/oracle/OracleAdapter.sol";
import {MockAggregator} from "../../src/mocks/MockAggregator.sol";
import {MockERC20} from "../../src/mocks/MockERC20.sol";
import {MarginPool} from "../../src/pool/MarginPool.sol";
import {PortfolioGroth16Verifier} from "../../src/generated/PortfolioVerifier.sol";
import {IPortfolioEngine} from "../../src/portfolio/IPortfolioEngine.sol";
import {PortfolioEngine} from "../../src/portfolio/PortfolioEngine.sol";

/// @title PortfolioBase
/// @notice Deploys the portfolio engine stack exactly as contracts/tools/make_fixtures.py
///         assumes (its "portfolio" section) and reads test/fixtures/generated/portfolio.json.
/// @dev The engine sits at keccak256("zkmargin.test.portfolio") cut to 160 bits (proofs bind
///      it). Listing order = id order: markets ETH-USD 0, BTC-USD 1; collateral USDC 0 (6
///      decimals), WETH 1 (18 decimals, risk factor ETH-USD); series 0 ETH 2500 call, 1 BTC
///      55000 put, both expiring at EXPIRY.
abstract contract PortfolioBase is Test {
    string internal constant FIXTURE = "test/fixtures/generated/portfolio.json";
    uint256 internal constant CHAIN_ID = 31337;
    address internal constant ENGINE_AT = address(uint160(uint256(keccak256("zkmargin.test.portfolio"))));
    address internal constant CAROL = address(uint160(uint256(keccak256("zkmargin.test.carol"))));

    uint256 internal constant T0 = 1_700_000_000;
    uint40 internal constant EXPIRY = uint40(T0 + 30 days);
    uint32 internal constant HEARTBEAT = 1 hours;
    uint64 internal constant LIFETIME = 1 days;
    uint64 internal constant GRACE = 1 hours;
    uint16 internal constant PENALTY = 250;
    uint16 internal constant CLOSE_FEE = 10;
    uint64 internal constant POOL_DELAY = 1 days;
    uint64 internal constant POOL_WINDOW = 1 hours;
    uint256 internal constant R = 21888242871839275222246405745257275088548364400416034343698204186575808495617;

    uint8 internal constant ETH = 0;
    uint8 internal constant BTC = 1;
    uint8 internal constant USDC = 0;
    uint8 internal constant WETH = 1;
    uint256 internal constant ETH_PRICE = 2_000e8;
    uint256 internal constant BTC_PRICE = 60_000e8;
    uint256 internal constant USDC_PRICE = 1e8;
    uint256 internal constant WETH_PRICE = 2_000e8;
    uint16 internal constant MIN_LAMBDA = 5_000;
    uint256 internal constant CAROL_USDC = 3_000e6;

    OracleAdapter internal oracle;
    MockAggregator internal ethFeed;
    MockAggregator internal btcFeed;
    MockAggregator internal usdcFeed;
    MockAggregator internal wethFeed;
    MockERC20 internal usdc;
    MockERC20 internal weth;
    address[4] internal poseidons;
    address internal verifier;
    PortfolioEngine internal engine;
    MarginPool internal usdcPool;
    MarginPool internal wethPool;

    address internal owner;
    address internal publisher;
    address internal keeper;
    address internal funder;
    address internal stranger;

    /// @dev The fixture's risk words (a valid publication under the listings below).
    struct Words {
        uint256 params;
        uint256 chol;
        uint256[8] values;
        uint256[8] oparams;
        uint256[8] keys;
    }

    function setUp() public virtual {
        _checkFixture();
        vm.warp(T0);
        _deployStack();
    }

    function _checkFixture() internal view {
        if (!vm.exists(FIXTURE)) {
            fail("missing test/fixtures/generated/portfolio.json: run `.venv/bin/python contracts/tools/make_fixtures.py`");
        }
        string memory fx = vm.readFile(FIXTURE);
        assertEq(vm.parseJsonUint(fx, ".chainId"), CHAIN_ID, "fixture chain id");
        assertEq(vm.parseJsonAddress(fx, ".engine"), ENGINE_AT, "fixture engine address");
        assertEq(vm.parseJsonAddress(fx, ".carol"), CAROL, "fixture carol");
        assertEq(vm.parseJsonUint(fx, ".expiry"), EXPIRY, "fixture expiry");
    }

    function _deployStack() internal {
        owner = makeAddr("owner");
        publisher = makeAddr("publisher");
        keeper = makeAddr("keeper");
        funder = makeAddr("funder");
        stranger = makeAddr("stranger");
        oracle = new OracleAdapter(owner);
        ethFeed = new MockAggregator(8, int256(ETH_PRICE), "ETH / USD");
        btcFeed = new MockAggregator(8, int256(BTC_PRICE), "BTC / USD");
        usdcFeed = new MockAggregator(8, int256(USDC_PRICE), "USDC / USD");
        wethFeed = new MockAggregator(8, int256(WETH_PRICE), "WETH / USD");
        vm.startPrank(owner);
        oracle.setFeed(address(ethFeed), HEARTBEAT);
        oracle.setFeed(address(btcFeed), HEARTBEAT);
        oracle.setFeed(address(usdcFeed), HEARTBEAT);
        oracle.setFeed(address(wethFeed), HEARTBEAT);
        vm.stopPrank();
        usdc = new MockERC20("USD Coin", "USDC", 6);
        weth = new MockERC20("Wrapped Ether", "WETH", 18);
        for (uint256 i = 0; i < 4; ++i) {
            poseidons[i] = _deployPoseidon(i + 2);
        }
        verifier = address(new PortfolioGroth16Verifier());
        engine = PortfolioEngine(_deployAt(ENGINE_AT, _engineInitCode()));
        vm.label(address(engine), "portfolioEngine");
        _listAll();
    }

    function _engineInitCode() internal view returns (bytes memory) {
        return abi.encodePacked(
            type(PortfolioEngine).creationCode,
            abi.encode(owner, oracle, verifier, poseidons, publisher, LIFETIME, GRACE, PENALTY)
        );
    }

    function _listAll() internal {
        vm.startPrank(owner);
        engine.listMarket(address(ethFeed), CLOSE_FEE, 50, 100);
        engine.listMarket(address(btcFeed), CLOSE_FEE, 40, 100);
        engine.listCollateral(address(usdc), address(usdcFeed), 0, 100);
        engine.listCollateral(address(weth), address(wethFeed), 1, 1000);
        engine.listSeries(ETH, 2_500e8, EXPIRY, 1);
        engine.listSeries(BTC, 55_000e8, EXPIRY, 2);
        engine.setMinLambdaMM(MIN_LAMBDA);
        usdcPool = new MarginPool(usdc, "zkmargin portfolio USDC", "zpUSDC", owner, POOL_DELAY, POOL_WINDOW);
        usdcPool.setEngine(address(engine));
        wethPool = new MarginPool(weth, "zkmargin portfolio WETH", "zpWETH", owner, POOL_DELAY, POOL_WINDOW);
        wethPool.setEngine(address(engine));
        engine.setPool(USDC, usdcPool);
        engine.setPool(WETH, wethPool);
        vm.stopPrank();
    }

    function _deployAt(address where, bytes memory initCode) internal returns (address) {
        vm.etch(where, initCode);
        (bool ok, bytes memory runtime) = where.call("");
        assertTrue(ok, "constructor reverted");
        vm.etch(where, runtime);
        return where;
    }

    /// @dev circomlibjs' Poseidon contract for `n` inputs, from `zkmargin setup`'s export.
    function _deployPoseidon(uint256 n) internal returns (address p) {
        string memory path = string.concat("src/generated/Poseidon", vm.toString(n), ".json");
        bytes memory code = vm.parseJsonBytes(vm.readFile(path), ".bytecode");
        assembly ("memory-safe") {
            p := create(0, add(code, 0x20), mload(code))
        }
        assertTrue(p != address(0) && p.code.length > 0, "Poseidon deployment failed");
    }

    // ------------------------------------------------------------------ fixture data

    function _words() internal view returns (Words memory w) {
        string memory fx = vm.readFile(FIXTURE);
        w.params = vm.parseJsonUint(fx, ".risk.params");
        w.chol = vm.parseJsonUint(fx, ".risk.cholesky");
        uint256[] memory a = vm.parseJsonUintArray(fx, ".risk.optionValues");
        uint256[] memory b = vm.parseJsonUintArray(fx, ".risk.optionParams");
        uint256[] memory s = vm.parseJsonUintArray(fx, ".risk.optionKeys");
        for (uint256 j = 0; j < 8; ++j) {
            (w.values[j], w.oparams[j], w.keys[j]) = (a[j], b[j], s[j]);
        }
    }

    function _fixtureUint(string memory key) internal view returns (uint256) {
        return vm.parseJsonUint(vm.readFile(FIXTURE), key);
    }

    /// @dev A real proof of the fixture (EVM coordinate order).
    function _proof(string memory name) internal view returns (IPortfolioEngine.Proof memory p) {
        string memory fx = vm.readFile(FIXTURE);
        uint256[] memory a = vm.parseJsonUintArray(fx, string.concat(".proofs.", name, ".a"));
        uint256[] memory b = vm.parseJsonUintArray(fx, string.concat(".proofs.", name, ".b"));
        uint256[] memory c = vm.parseJsonUintArray(fx, string.concat(".proofs.", name, ".c"));
        p.a = [a[0], a[1]];
        p.b = [[b[0], b[1]], [b[2], b[3]]];
        p.c = [c[0], c[1]];
    }

    /// @dev The public inputs the fixture's proof `name` was made for.
    function _proofInputs(string memory name) internal view returns (uint256[8] memory in_) {
        uint256[] memory v = vm.parseJsonUintArray(vm.readFile(FIXTURE), string.concat(".proofs.", name, ".inputs"));
        assertEq(v.length, 8, "fixture inputs");
        for (uint256 i = 0; i < 8; ++i) {
            in_[i] = v[i];
        }
    }

    /// @dev Carol's book (the fixture's): long 1 ETH perp at 2,000, short 1 ETH 2500 call at
    ///      its mark 41.2.
    function _carolBook() internal pure returns (IPortfolioEngine.Position[8] memory book) {
        book[0] = IPortfolioEngine.Position(ETH, true, 1e8, 2_000e8);
        book[1] = IPortfolioEngine.Position(4, false, 1e8, 41.2e8);
    }

    function _carolSalt() internal view returns (uint256) {
        return _fixtureUint(".book.salt");
    }

    /// @dev Publishes the fixture's epoch, deposits Carol's 3,000 USDC and opens her account
    ///      with the real opening proof.
    function _openCarol() internal {
        _publish(_words());
        _deposit(CAROL, USDC, CAROL_USDC);
        vm.prank(CAROL);
        engine.open(_fixtureUint(".book.commitment"), _proof("carolOpen"));
    }

    /// @dev Funds a vault with LP money (so it can pay profits).
    function _fundPool(MarginPool p, MockERC20 token, uint256 amount) internal {
        token.mint(funder, amount);
        vm.startPrank(funder);
        token.approve(address(p), amount);
        p.deposit(amount, funder);
        vm.stopPrank();
    }

    function _publish(Words memory w) internal returns (uint32) {
        vm.prank(publisher);
        return engine.publishRisk(w.params, w.chol, w.values, w.oparams, w.keys);
    }

    function _publishExpect(Words memory w, bytes memory err) internal {
        vm.prank(publisher);
        vm.expectRevert(err);
        engine.publishRisk(w.params, w.chol, w.values, w.oparams, w.keys);
    }

    /// @dev Replaces 16-bit field `i` of `word`.
    function _setField(uint256 word, uint256 i, uint256 v) internal pure returns (uint256) {
        return (word & ~(uint256(0xffff) << (16 * i))) | (v << (16 * i));
    }

    function _fund(address who, MockERC20 token, uint256 amount) internal {
        token.mint(who, amount);
        vm.prank(who);
        token.approve(address(engine), amount);
    }

    function _deposit(address who, uint8 asset, uint256 amount) internal {
        _fund(who, asset == USDC ? usdc : weth, amount);
        vm.prank(who);
        engine.deposit(asset, amount);
    }

    /// @dev Refreshes every feed at the current block (same answers unless set).
    function _refreshFeeds() internal {
        _bump(ethFeed);
        _bump(btcFeed);
        _bump(usdcFeed);
        _bump(wethFeed);
    }

    function _bump(MockAggregator feed) internal {
        (, int256 answer,,,) = feed.latestRoundData();
        feed.updateAnswer(answer);
    }
}
