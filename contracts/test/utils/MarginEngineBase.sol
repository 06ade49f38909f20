// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";

import {IMarginEngine} from "../../src/engine/IMarginEngine.sol";
import {MarginEngine} from "../../src/engine/MarginEngine.sol";
import {CrossGroth16Verifier} from "../../src/generated/CrossVerifier.sol";
import {IsolatedGroth16Verifier} from "../../src/generated/IsolatedVerifier.sol";
import {MarginPool} from "../../src/pool/MarginPool.sol";
import {MockAggregator} from "../../src/mocks/MockAggregator.sol";
import {MockERC20} from "../../src/mocks/MockERC20.sol";
import {OracleAdapter} from "../../src/oracle/OracleAdapter.sol";
import {Test} from "./Test.sol";

/// @title ReentrantToken
/// @notice A malicious 6-decimal ERC-20: once armed, its next `transfer`/`transferFrom`
///         calls `target` with `payload` (after moving the tokens, like an ERC-777 hook)
///         and bubbles up any revert. `exec` lets the token act as an account itself.
/// @dev TESTS ONLY. Anyone can mint, arm and exec.
contract ReentrantToken is ERC20 {
    address public target;
    bytes public payload;
    /// @notice Whether the last hook call succeeded (for tests that expect it to).
    bool public lastHookOk;

    constructor() ERC20("Reentrant", "REE") {}

    function decimals() public pure override returns (uint8) {
        return 6;
    }

    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }

    function arm(address target_, bytes calldata payload_) external {
        target = target_;
        payload = payload_;
    }

    /// @notice Calls `to` with `data` as this contract (the token is also an account).
    function exec(address to, bytes calldata data) external returns (bytes memory ret) {
        bool ok;
        (ok, ret) = to.call(data);
        if (!ok) _bubble(ret);
    }

    /// @notice Approves `spender` to move this contract's own tokens.
    function selfApprove(address spender, uint256 amount) external {
        _approve(address(this), spender, amount);
    }

    function transfer(address to, uint256 value) public override returns (bool) {
        bool ok = super.transfer(to, value);
        _hook();
        return ok;
    }

    function transferFrom(address from, address to, uint256 value) public override returns (bool) {
        bool ok = super.transferFrom(from, to, value);
        _hook();
        return ok;
    }

    function _hook() private {
        address t = target;
        if (t == address(0)) return;
        target = address(0);
        bytes memory p = payload;
        delete payload;
        (bool ok, bytes memory ret) = t.call(p);
        if (!ok) _bubble(ret);
        lastHookOk = true;
    }

    function _bubble(bytes memory ret) private pure {
        assembly ("memory-safe") {
            revert(add(ret, 0x20), mload(ret))
        }
    }
}

/// @title FeeToken
/// @notice An 18-decimal ERC-20 that burns `feeBps` of every `transferFrom` at the receiver.
/// @dev TESTS ONLY.
contract FeeToken is MockERC20 {
    uint16 public feeBps;

    constructor(uint16 feeBps_) MockERC20("Fee", "FEE", 18) {
        feeBps = feeBps_;
    }

    function transferFrom(address from, address to, uint256 value) public override returns (bool) {
        bool ok = super.transferFrom(from, to, value);
        _burn(to, (value * feeBps) / 10_000);
        return ok;
    }
}

/// @title MarginEngineBase
/// @notice Deploys zkmargin's engine stack exactly as contracts/tools/make_fixtures.py
///         assumes, and reads the real Groth16 proofs it generated.
/// @dev The engine sits at a fixed address, keccak256("zkmargin.test.engine") cut to 160
///      bits, created by running its init code there (forge-std's `deployCodeTo` trick), so
///      the proofs (which bind the engine address, chain id 31337 and the account nonce)
///      stay valid however many contracts setUp deploys. Listing order = id order:
///      markets ETH-USD 0, BTC-USD 1; collateral USDC 0 (6 decimals), WETH 1 (18).
///      The scenario numbers below are the generator's; a drift shows up as different
///      public inputs (asserted against the fixture) or a commitment mismatch at close.
abstract contract MarginEngineBase is Test {
    // ------------------------------------------------------------------ fixture
    string internal constant FIXTURE = "test/fixtures/generated/engine.json";
    string internal constant POSEIDON4_JSON = "src/generated/Poseidon4.json";
    uint256 internal constant CHAIN_ID = 31337;

    address internal constant ENGINE_AT = address(uint160(uint256(keccak256("zkmargin.test.engine"))));
    address internal constant ALICE = address(uint160(uint256(keccak256("zkmargin.test.alice"))));
    address internal constant BOB = address(uint160(uint256(keccak256("zkmargin.test.bob"))));
    /// @dev The malicious token of the reentrancy tests, and the account it opens.
    address internal constant EVE = address(uint160(uint256(keccak256("zkmargin.test.eve"))));

    // ------------------------------------------------------------------ parameters
    uint256 internal constant T0 = 1_700_000_000;
    uint32 internal constant HEARTBEAT = 1 hours;
    uint64 internal constant LIFETIME = 1 days;
    uint64 internal constant GRACE = 1 hours;
    uint16 internal constant PENALTY = 250; // 2.5%
    uint64 internal constant POOL_DELAY = 1 days;
    uint64 internal constant POOL_WINDOW = 1 hours;
    uint256 internal constant R = 21888242871839275222246405745257275088548364400416034343698204186575808495617;
    uint256 internal constant Q = 21888242871839275222246405745257275088696311157297823662689037894645226208583;

    uint16 internal constant ETH_MMR = 500;
    uint16 internal constant ETH_IMR = 1000;
    uint16 internal constant BTC_MMR = 400;
    uint16 internal constant BTC_IMR = 800;
    uint16 internal constant USDC_HAIRCUT = 100;
    uint16 internal constant WETH_HAIRCUT = 1000;

    uint256 internal constant ETH_PRICE = 2_000e8;
    uint256 internal constant BTC_PRICE = 60_000e8;
    uint256 internal constant USDC_PRICE = 1e8;
    uint256 internal constant WETH_PRICE = 2_000e8;
    uint256 internal constant SHOCK_ETH_PRICE = 1_800e8;

    uint8 internal constant ETH = 0;
    uint8 internal constant BTC = 1;
    uint8 internal constant USDC = 0;
    uint8 internal constant WETH = 1;

    // ------------------------------------------------------------------ scenario
    uint256 internal constant ALICE_USDC = 500e6;
    uint256 internal constant ALICE_WITHDRAW = 200e6;
    uint256 internal constant BOB_USDC = 1_000e6;
    uint256 internal constant BOB_WETH = 0.5e18;
    uint256 internal constant BOB_WITHDRAW_USDC = 500e6;
    uint256 internal constant EVE_TOKEN = 1_000e6;
    uint256 internal constant EVE_WETH = 0.5e18;

    // ------------------------------------------------------------------ deployed
    OracleAdapter internal oracle;
    MockAggregator internal ethFeed;
    MockAggregator internal btcFeed;
    MockAggregator internal usdcFeed;
    MockAggregator internal wethFeed;
    MockERC20 internal usdc; // a ReentrantToken at EVE when deployed with `reentrant`
    MockERC20 internal weth;
    address internal isoVerifier;
    address internal crossVerifier;
    address internal poseidon;
    MarginEngine internal engine;
    /// @dev The engine's vaults (asset 0 and 1).
    MarginPool internal usdcPool;
    MarginPool internal wethPool;

    address internal owner;
    address internal keeper;
    address internal funder;
    address internal stranger;

    function setUp() public virtual {
        _checkFixture();
        vm.warp(T0);
        _deployStack(false);
    }

    // ================================================================== deployment

    function _checkFixture() internal view {
        if (!vm.exists(FIXTURE)) {
            fail(
                "missing test/fixtures/generated/engine.json: run `.venv/bin/python contracts/tools/make_fixtures.py` from the repo root"
            );
        }
        string memory fx = vm.readFile(FIXTURE);
        assertEq(vm.parseJsonUint(fx, ".format"), 1, "fixture format");
        assertEq(vm.parseJsonUint(fx, ".chainId"), CHAIN_ID, "fixture chain id");
        assertEq(vm.parseJsonAddress(fx, ".engine"), ENGINE_AT, "fixture engine address");
        assertEq(vm.parseJsonAddress(fx, ".alice"), ALICE, "fixture alice");
        assertEq(vm.parseJsonAddress(fx, ".bob"), BOB, "fixture bob");
        assertEq(vm.parseJsonAddress(fx, ".eve"), EVE, "fixture eve");
    }

    /// @dev Oracle, four feeds, two tokens, both verifiers, Poseidon(4), the engine at
    ///      ENGINE_AT, and the listings. With `reentrant`, asset 0 is a ReentrantToken at EVE.
    function _deployStack(bool reentrant) internal {
        owner = makeAddr("owner");
        keeper = makeAddr("keeper");
        funder = makeAddr("funder");
        stranger = makeAddr("stranger");

        oracle = new OracleAdapter(owner);
        ethFeed = new MockAggregator(8, _i(ETH_PRICE), "ETH / USD");
        btcFeed = new MockAggregator(8, _i(BTC_PRICE), "BTC / USD");
        usdcFeed = new MockAggregator(8, _i(USDC_PRICE), "USDC / USD");
        wethFeed = new MockAggregator(8, _i(WETH_PRICE), "WETH / USD");
        vm.startPrank(owner);
        oracle.setFeed(address(ethFeed), HEARTBEAT);
        oracle.setFeed(address(btcFeed), HEARTBEAT);
        oracle.setFeed(address(usdcFeed), HEARTBEAT);
        oracle.setFeed(address(wethFeed), HEARTBEAT);
        vm.stopPrank();

        if (reentrant) {
            usdc = MockERC20(_deployAt(EVE, type(ReentrantToken).creationCode));
        } else {
            usdc = new MockERC20("USD Coin", "USDC", 6);
        }
        weth = new MockERC20("Wrapped Ether", "WETH", 18);
        vm.label(address(usdc), "USDC");
        vm.label(address(weth), "WETH");

        isoVerifier = address(new IsolatedGroth16Verifier());
        crossVerifier = address(new CrossGroth16Verifier());
        poseidon = _deployPoseidon();

        engine = MarginEngine(_deployAt(ENGINE_AT, _engineInitCode()));
        vm.label(address(engine), "engine");
        assertEq(address(engine), vm.parseJsonAddress(vm.readFile(FIXTURE), ".engine"), "engine address drifted");
        (usdcPool, wethPool) = _listAll(engine);
        vm.label(address(usdcPool), "usdcPool");
        vm.label(address(wethPool), "wethPool");
    }

    function _engineInitCode() internal view returns (bytes memory) {
        return abi.encodePacked(
            type(MarginEngine).creationCode,
            abi.encode(owner, oracle, isoVerifier, crossVerifier, poseidon, LIFETIME, GRACE, PENALTY)
        );
    }

    /// @dev A second engine with the same stack and listings, at a CREATE address.
    function _newListedEngine() internal returns (MarginEngine e) {
        e = new MarginEngine(owner, oracle, isoVerifier, crossVerifier, poseidon, LIFETIME, GRACE, PENALTY);
        _listAll(e);
    }

    /// @dev Lists the markets and assets on `e` and wires a fresh vault per asset.
    function _listAll(MarginEngine e) internal returns (MarginPool p0, MarginPool p1) {
        vm.startPrank(owner);
        e.listMarket(address(ethFeed), ETH_MMR, ETH_IMR);
        e.listMarket(address(btcFeed), BTC_MMR, BTC_IMR);
        e.listCollateral(address(usdc), address(usdcFeed), USDC_HAIRCUT);
        e.listCollateral(address(weth), address(wethFeed), WETH_HAIRCUT);
        p0 = _newPool(e, usdc, "zkmargin USDC pool", "zmpUSDC");
        p1 = _newPool(e, weth, "zkmargin WETH pool", "zmpWETH");
        e.setPool(USDC, p0);
        e.setPool(WETH, p1);
        vm.stopPrank();
    }

    /// @dev A vault of `token` for engine `e` (call as the owner).
    function _newPool(MarginEngine e, MockERC20 token, string memory name, string memory symbol)
        internal
        returns (MarginPool p)
    {
        p = new MarginPool(token, name, symbol, owner, POOL_DELAY, POOL_WINDOW);
        p.setEngine(address(e));
    }

    /// @dev The vault of asset `id`.
    function _pool(uint8 id) internal view returns (MarginPool) {
        return id == USDC ? usdcPool : wethPool;
    }

    /// @dev What the vault of asset `id` holds for its LPs (its totalAssets()).
    function _poolAssets(uint8 id) internal view returns (uint256) {
        return _pool(id).totalAssets();
    }

    /// @dev Runs `initCode` at `where` and installs the runtime code it returns (storage
    ///      written by the constructor stays at `where`).
    function _deployAt(address where, bytes memory initCode) internal returns (address) {
        vm.etch(where, initCode);
        (bool ok, bytes memory runtime) = where.call("");
        assertTrue(ok, "constructor reverted");
        vm.etch(where, runtime);
        return where;
    }

    /// @dev circomlibjs' Poseidon(4) contract from the bytecode `zkmargin setup` exported.
    function _deployPoseidon() internal returns (address p) {
        bytes memory code = vm.parseJsonBytes(vm.readFile(POSEIDON4_JSON), ".bytecode");
        assembly ("memory-safe") {
            p := create(0, add(code, 0x20), mload(code))
        }
        assertTrue(p != address(0) && p.code.length > 0, "Poseidon4 deployment failed");
    }

    // ================================================================== fixture proofs

    function _key(string memory name, string memory field) private pure returns (string memory) {
        return string.concat(".proofs.", name, ".", field);
    }

    /// @dev A fixture proof, already in the EVM's coordinate order.
    function _proof(string memory name) internal view returns (IMarginEngine.Proof memory p) {
        string memory fx = vm.readFile(FIXTURE);
        uint256[] memory a = vm.parseJsonUintArray(fx, _key(name, "a"));
        uint256[] memory b = vm.parseJsonUintArray(fx, _key(name, "b"));
        uint256[] memory c = vm.parseJsonUintArray(fx, _key(name, "c"));
        p.a = [a[0], a[1]];
        p.b = [[b[0], b[1]], [b[2], b[3]]];
        p.c = [c[0], c[1]];
    }

    /// @dev The public inputs the generator proved (Python's encoding).
    function _inputs(string memory name) internal view returns (uint256[] memory) {
        return vm.parseJsonUintArray(vm.readFile(FIXTURE), _key(name, "inputs"));
    }

    function _commitment(string memory name) internal view returns (uint256) {
        return vm.parseJsonUint(vm.readFile(FIXTURE), _key(name, "commitment"));
    }

    function _salt(string memory who) internal view returns (uint256) {
        return vm.parseJsonUint(vm.readFile(FIXTURE), string.concat(".salts.", who));
    }

    // ================================================================== positions

    function _pos(uint8 slot, bool long, uint64 size, uint64 entry)
        internal
        pure
        returns (IMarginEngine.Position memory)
    {
        return IMarginEngine.Position({market: slot, long: long, size: size, entry: entry});
    }

    /// @dev Alice (isolated): long 1 ETH at 2000.
    function _alicePositions() internal pure returns (IMarginEngine.Position[] memory p) {
        p = new IMarginEngine.Position[](1);
        p[0] = _pos(0, true, 1e8, _u64(ETH_PRICE));
    }

    /// @dev Bob (cross): long 2 ETH at 2000, short 0.1 BTC at 60000, two empty slots.
    function _bobPositions() internal pure returns (IMarginEngine.Position[] memory p) {
        p = new IMarginEngine.Position[](4);
        p[0] = _pos(ETH, true, 2e8, _u64(ETH_PRICE));
        p[1] = _pos(BTC, false, 0.1e8, _u64(BTC_PRICE));
    }

    /// @dev Eve's first account (cross): long 1 ETH at 2000.
    function _evePositions() internal pure returns (IMarginEngine.Position[] memory p) {
        p = new IMarginEngine.Position[](4);
        p[0] = _pos(ETH, true, 1e8, _u64(ETH_PRICE));
    }

    /// @dev Eve's second account (cross): long 2 ETH at 2000.
    function _eve2Positions() internal pure returns (IMarginEngine.Position[] memory p) {
        p = new IMarginEngine.Position[](4);
        p[0] = _pos(ETH, true, 2e8, _u64(ETH_PRICE));
    }

    // ================================================================== money

    function _asset(uint8 id) internal view returns (MockERC20) {
        return id == USDC ? usdc : weth;
    }

    /// @dev Mints `amount` of asset `id` to `who` and approves the engine for it.
    function _give(address who, uint8 id, uint256 amount) internal {
        MockERC20 t = _asset(id);
        t.mint(who, amount);
        vm.prank(who);
        t.approve(address(engine), type(uint256).max);
    }

    function _deposit(address who, uint8 id, uint256 amount) internal {
        _give(who, id, amount);
        vm.prank(who);
        engine.deposit(id, amount);
    }

    /// @dev Insurance top-up of asset `id`'s vault (no shares).
    function _fundPool(uint8 id, uint256 amount) internal {
        MockERC20 t = _asset(id);
        t.mint(funder, amount);
        vm.startPrank(funder);
        t.approve(address(_pool(id)), amount);
        _pool(id).fund(amount);
        vm.stopPrank();
    }

    // ================================================================== accounts

    function _openAlice() internal {
        _deposit(ALICE, USDC, ALICE_USDC);
        vm.prank(ALICE);
        engine.openIsolated(_commitment("aliceOpen"), ETH, USDC, _proof("aliceOpen"));
    }

    function _openBob() internal {
        _deposit(BOB, USDC, BOB_USDC);
        _deposit(BOB, WETH, BOB_WETH);
        vm.prank(BOB);
        engine.openCross(_commitment("bobOpen"), _proof("bobOpen"));
    }

    function _closeAlice() internal {
        vm.prank(ALICE);
        engine.close(_alicePositions(), _salt("alice"));
    }

    function _closeBob() internal {
        vm.prank(BOB);
        engine.close(_bobPositions(), _salt("bob"));
    }

    // ================================================================== prices and time

    function _setPrices(uint256 ethP, uint256 btcP, uint256 usdcP, uint256 wethP) internal {
        _setPrice(ethFeed, ethP);
        _setPrice(btcFeed, btcP);
        _setPrice(usdcFeed, usdcP);
        _setPrice(wethFeed, wethP);
    }

    /// @dev Re-posts every feed's latest answer at the current time (keeps them fresh).
    function _refreshFeeds() internal {
        _refresh(ethFeed);
        _refresh(btcFeed);
        _refresh(usdcFeed);
        _refresh(wethFeed);
    }

    function _refresh(MockAggregator f) internal {
        (, int256 answer,,,) = f.latestRoundData();
        f.updateAnswer(answer);
    }

    /// @dev Warps forward by `dt` seconds and refreshes the feeds.
    function _skip(uint256 dt) internal {
        vm.warp(block.timestamp + dt);
        _refreshFeeds();
    }

    // ================================================================== casts (checked)

    function _two(uint256 a, uint256 b) internal pure returns (uint256[2] memory) {
        return [a, b];
    }

    function _i(uint256 x) internal pure returns (int256) {
        return SafeCast.toInt256(x);
    }

    function _u(int256 x) internal pure returns (uint256) {
        return SafeCast.toUint256(x);
    }

    function _u64(uint256 x) internal pure returns (uint64) {
        return SafeCast.toUint64(x);
    }

    function _setPrice(MockAggregator f, uint256 price) internal {
        f.updateAnswer(_i(price));
    }

    // ================================================================== asserts

    function _assertInputs(uint256[] memory got, uint256[] memory expected, string memory what) internal pure {
        assertEq(got.length, expected.length, string.concat(what, ": input count"));
        for (uint256 i = 0; i < got.length; ++i) {
            assertEq(got[i], expected[i], string.concat(what, ": input ", vm.toString(i)));
        }
    }
}
