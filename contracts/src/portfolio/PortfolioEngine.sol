// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {Ownable2Step} from "@openzeppelin/contracts/access/Ownable2Step.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IERC20Metadata} from "@openzeppelin/contracts/token/ERC20/extensions/IERC20Metadata.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {IOracleAdapter} from "../oracle/IOracleAdapter.sol";
import {IMarginPool} from "../pool/IMarginPool.sol";
import {IPortfolioEngine} from "./IPortfolioEngine.sol";
import {PortfolioRisk} from "./PortfolioRisk.sol";
import {PortfolioSettlement} from "./PortfolioSettlement.sol";

/// @notice The snarkjs verifier of the portfolio circuit (8 public inputs).
interface IPortfolioVerifier {
    function verifyProof(
        uint256[2] calldata a,
        uint256[2][2] calldata b,
        uint256[2] calldata c,
        uint256[8] calldata pubSignals
    ) external view returns (bool);
}

/// @title PortfolioEngine
/// @notice Portfolio-margin accounts on-chain (see {IPortfolioEngine}).
/// @dev Owner: the governance timelock (listings, minimums, clocks, penalty, fees, the
///      publisher). The publisher publishes risk epochs within the owner's minimums.
contract PortfolioEngine is IPortfolioEngine, Ownable2Step, ReentrancyGuardTransient {
    using SafeERC20 for IERC20;

    uint256 public constant SNARK_SCALAR_FIELD = PortfolioSettlement.SNARK_SCALAR_FIELD;
    uint256 public constant PORTFOLIO_TAG = PortfolioSettlement.PORTFOLIO_TAG;
    /// @notice "zkmargin/risk/v1" as a big-endian integer.
    uint256 public constant RISK_TAG = PortfolioRisk.RISK_TAG;
    /// @notice K | M << 8 | J << 16 of PortfolioMargin(8, 4, 2, 8).
    uint256 public constant SHAPE_WORD = PortfolioRisk.SHAPE_WORD;
    uint256 public constant BPS = 10_000;
    uint8 public constant MAX_MARKETS = 4;
    uint8 public constant MAX_ASSETS = 2;
    uint8 public constant MAX_SERIES = 8;
    uint256 public constant BALANCE_LIMIT = 1 << 96;
    uint64 public constant PAD_PRICE = 1;
    uint64 public constant MAX_DURATION = 365 days;
    uint16 public constant MAX_PENALTY_BPS = 2_500;
    uint16 public constant MAX_CLOSE_FEE_BPS = 200;
    uint64 public constant RECLAIM_WINDOW = 1 days;
    uint256 public constant VERIFIER_GAS = 500_000;
    uint8 public constant MODE_MAINTENANCE = 0;
    uint8 public constant MODE_INITIAL = 1;
    uint8 public constant MODE_WITHDRAWAL = 3;
    uint8 public constant MODE_OPENING = 5;

    IOracleAdapter public immutable oracle;
    address public immutable verifier;
    address public immutable poseidon2;
    address public immutable poseidon3;
    address public immutable poseidon4;
    address public immutable poseidon5;

    address public publisher;
    uint64 public proofLifetime;
    uint64 public gracePeriod;
    uint16 public liquidationPenaltyBps;
    uint32 public riskEpoch;
    /// @dev set by a listing, cleared by a publication (proofs need an epoch covering every listing)
    bool private _listingsChanged;

    /// @dev listings and the minimum λ_MM (read by the libraries through this pointer)
    PortfolioRisk.Config private _cfg;
    IMarginPool[2] private _pools;

    mapping(uint32 epoch => RiskEpoch data) private _epochs;
    mapping(address who => Account state) private _accounts;
    /// @dev token units by asset id; each normalised balance < 2^96
    mapping(address who => uint256[2] amounts) private _balances;
    mapping(address who => mapping(uint64 nonce => bytes32 record)) private _liquidations;

    /// @dev The engine-wide outage clock: stale time counted so far, the start of the
    ///      current outage (0: none), the end of the last one.
    uint64 private _staleTotal;
    uint64 private _staleSince;
    uint64 private _staleClosed;

    /// @dev The prices of {pushPrices}: word c is {_priceWords}'s word c (three 64-bit
    ///      prices, PAD_PRICE for an unlisted slot) | key << CACHE_KEY_SHIFT, key = the
    ///      push's block number << 32 | its timestamp (32 bits each). Proofs at that block
    ///      and time read it instead of the adapter; {publishRisk} clears it.
    uint256[2] private _priceCache;
    uint256 private constant CACHE_KEY_SHIFT = 192;
    uint256 private constant PRICES_MASK = type(uint192).max; // below CACHE_KEY_SHIFT

    modifier onlyPublisher() {
        if (msg.sender != publisher) revert PortfolioEngine__NotPublisher(msg.sender);
        _;
    }

    /// @param initialOwner Admin (two-step transferable; the timelock in deployments).
    /// @param oracle_ Oracle adapter every feed must be registered in.
    /// @param verifier_ Generated PortfolioVerifier.
    /// @param poseidons circomlibjs Poseidon contracts for 2, 3, 4 and 5 inputs.
    constructor(
        address initialOwner,
        IOracleAdapter oracle_,
        address verifier_,
        address[4] memory poseidons,
        address publisher_,
        uint64 lifetime,
        uint64 grace,
        uint16 penaltyBps
    ) Ownable(initialOwner) {
        if (block.chainid >= 1 << 64) revert PortfolioEngine__ChainIdTooLarge(block.chainid);
        oracle = oracle_;
        verifier = verifier_;
        (poseidon2, poseidon3, poseidon4, poseidon5) = (poseidons[0], poseidons[1], poseidons[2], poseidons[3]);
        publisher = publisher_;
        emit PublisherSet(publisher_);
        _setProofLifetime(lifetime);
        _setGracePeriod(grace);
        _setLiquidationPenalty(penaltyBps);
        _cfg.minLambdaMM = 1;
    }

    // ================================================================== admin

    /// @inheritdoc IPortfolioEngine
    function listMarket(address feed, uint16 closeFeeBps, uint16 minFloorBps, uint16 minDiagBps)
        external
        onlyOwner
        returns (uint8 id)
    {
        if (_cfg.marketCount == MAX_MARKETS) revert PortfolioEngine__TooManyListings();
        _requireFeed(feed);
        if (closeFeeBps > MAX_CLOSE_FEE_BPS) revert PortfolioEngine__InvalidBps(closeFeeBps);
        _checkMinimums(minFloorBps, minDiagBps);
        id = _cfg.marketCount++;
        _cfg.markets[id] = Market(feed, closeFeeBps, minFloorBps, minDiagBps);
        _listingsChanged = true;
        emit MarketListed(id, feed, closeFeeBps, minFloorBps, minDiagBps);
    }

    /// @inheritdoc IPortfolioEngine
    function setMarketMinimums(uint8 id, uint16 minFloorBps, uint16 minDiagBps) external onlyOwner {
        _requireMarket(id);
        _checkMinimums(minFloorBps, minDiagBps);
        (_cfg.markets[id].minFloorBps, _cfg.markets[id].minDiagBps) = (minFloorBps, minDiagBps);
        emit MarketMinimumsSet(id, minFloorBps, minDiagBps);
    }

    /// @inheritdoc IPortfolioEngine
    function listCollateral(address token, address feed, uint8 riskFactor, uint16 minHaircutBps)
        external
        onlyOwner
        returns (uint8 id)
    {
        if (_cfg.collateralCount == MAX_ASSETS) revert PortfolioEngine__TooManyListings();
        _requireFeed(feed);
        if (riskFactor != 0) _requireMarket(riskFactor - 1);
        if (minHaircutBps > BPS) revert PortfolioEngine__InvalidBps(minHaircutBps);
        if (token == address(0) || token.code.length == 0) revert PortfolioEngine__InvalidToken(token);
        uint8 decimals = IERC20Metadata(token).decimals();
        if (decimals > 18) revert PortfolioEngine__InvalidToken(token);
        id = _cfg.collateralCount++;
        _cfg.collateral[id] = Collateral(token, feed, decimals, riskFactor, minHaircutBps);
        _listingsChanged = true;
        emit CollateralListed(id, token, feed, decimals, riskFactor, minHaircutBps);
    }

    /// @inheritdoc IPortfolioEngine
    function setMinHaircut(uint8 id, uint16 minHaircutBps) external onlyOwner {
        _requireAsset(id);
        if (minHaircutBps > BPS) revert PortfolioEngine__InvalidBps(minHaircutBps);
        _cfg.collateral[id].minHaircutBps = minHaircutBps;
        emit MinHaircutSet(id, minHaircutBps);
    }

    /// @inheritdoc IPortfolioEngine
    function listSeries(uint8 underlying, uint64 strike, uint40 expiry, uint8 kind)
        external
        onlyOwner
        returns (uint8 id)
    {
        if (_cfg.seriesCount == MAX_SERIES) revert PortfolioEngine__TooManyListings();
        _requireMarket(underlying);
        // forge-lint: disable-next-line(block-timestamp)
        if (strike == 0 || expiry <= block.timestamp || (kind != 1 && kind != 2)) {
            revert PortfolioEngine__InvalidSeries();
        }
        id = _cfg.seriesCount++;
        _cfg.series[id] = Series(underlying, kind, strike, expiry, false, 0);
        _listingsChanged = true;
        emit SeriesListed(id, underlying, strike, expiry, kind);
    }

    /// @inheritdoc IPortfolioEngine
    function setPublisher(address publisher_) external onlyOwner {
        publisher = publisher_;
        emit PublisherSet(publisher_);
    }

    /// @inheritdoc IPortfolioEngine
    function setMinLambdaMM(uint16 minLambdaMMBps) external onlyOwner {
        if (minLambdaMMBps == 0) revert PortfolioEngine__InvalidBps(0);
        _cfg.minLambdaMM = minLambdaMMBps;
        emit MinLambdaSet(minLambdaMMBps);
    }

    /// @inheritdoc IPortfolioEngine
    function setProofLifetime(uint64 lifetime) external onlyOwner {
        _setProofLifetime(lifetime);
    }

    /// @inheritdoc IPortfolioEngine
    function setGracePeriod(uint64 grace) external onlyOwner {
        _setGracePeriod(grace);
    }

    /// @inheritdoc IPortfolioEngine
    function setLiquidationPenalty(uint16 penaltyBps) external onlyOwner {
        _setLiquidationPenalty(penaltyBps);
    }

    /// @inheritdoc IPortfolioEngine
    function setCloseFee(uint8 id, uint16 feeBps) external onlyOwner {
        _requireMarket(id);
        if (feeBps > MAX_CLOSE_FEE_BPS) revert PortfolioEngine__InvalidBps(feeBps);
        _cfg.markets[id].closeFeeBps = feeBps;
        emit CloseFeeSet(id, feeBps);
    }

    /// @inheritdoc IPortfolioEngine
    function setPool(uint8 asset, IMarginPool vault) external onlyOwner {
        _requireAsset(asset);
        if (address(_pools[asset]) != address(0)) revert PortfolioEngine__PoolAlreadySet(asset);
        address token = _cfg.collateral[asset].token;
        if (address(vault).code.length == 0 || vault.asset() != token || vault.engine() != address(this)) {
            revert PortfolioEngine__InvalidPool(address(vault));
        }
        _pools[asset] = vault;
        IERC20(token).forceApprove(address(vault), type(uint256).max);
        emit PoolSet(asset, address(vault));
    }

    /// @notice Renouncing ownership is disabled: it would freeze listings and parameters.
    function renounceOwnership() public view override onlyOwner {
        revert PortfolioEngine__RenounceDisabled();
    }

    function _checkMinimums(uint16 minFloorBps, uint16 minDiagBps) private pure {
        if (minFloorBps > BPS) revert PortfolioEngine__InvalidBps(minFloorBps);
        if (minDiagBps == 0 || minDiagBps > BPS) revert PortfolioEngine__InvalidBps(minDiagBps);
    }

    function _setProofLifetime(uint64 lifetime) private {
        if (lifetime == 0 || lifetime > MAX_DURATION) revert PortfolioEngine__InvalidDuration(lifetime);
        proofLifetime = lifetime;
        emit ProofLifetimeSet(lifetime);
    }

    function _setGracePeriod(uint64 grace) private {
        if (grace == 0 || grace > MAX_DURATION) revert PortfolioEngine__InvalidDuration(grace);
        gracePeriod = grace;
        emit GracePeriodSet(grace);
    }

    function _setLiquidationPenalty(uint16 penaltyBps) private {
        if (penaltyBps > MAX_PENALTY_BPS) revert PortfolioEngine__InvalidBps(penaltyBps);
        liquidationPenaltyBps = penaltyBps;
        emit LiquidationPenaltySet(penaltyBps);
    }

    function _requireFeed(address feed) private view {
        if (!oracle.isRegistered(feed)) revert PortfolioEngine__FeedNotRegistered(feed);
    }

    function _requireMarket(uint8 id) private view {
        if (id >= _cfg.marketCount) revert PortfolioEngine__UnknownMarket(id);
    }

    function _requireAsset(uint8 id) private view {
        if (id >= _cfg.collateralCount) revert PortfolioEngine__UnknownAsset(id);
    }

    // ================================================================== publisher

    /// @inheritdoc IPortfolioEngine
    function publishRisk(
        uint256 riskParams,
        uint256 riskCholesky,
        uint256[8] calldata optionValues,
        uint256[8] calldata optionParams,
        uint256[8] calldata optionKeys
    ) external onlyPublisher returns (uint32 epoch) {
        epoch = ++riskEpoch;
        uint256 commitment = PortfolioRisk.publish(
            _cfg,
            oracle,
            [poseidon2, poseidon3, poseidon4, poseidon5],
            _epochs[epoch],
            riskParams,
            riskCholesky,
            optionValues,
            optionParams,
            optionKeys
        );
        _listingsChanged = false;
        // a push before a listing has no price for the new slot (listing stops proofs until
        // this publication, which drops the cache: proofs read the adapter until a new push)
        delete _priceCache;
        emit RiskPublished(epoch, commitment, riskParams, riskCholesky, optionValues, optionParams, optionKeys);
    }

    // ================================================================== anyone

    /// @inheritdoc IPortfolioEngine
    function settleSeries(uint8 id, uint80 roundId) external nonReentrant {
        if (id >= _cfg.seriesCount) revert PortfolioEngine__UnknownSeries(id);
        Series storage s = _cfg.series[id];
        if (s.settled) revert PortfolioEngine__SeriesSettled(id);
        // forge-lint: disable-next-line(block-timestamp)
        if (block.timestamp < s.expiry) revert PortfolioEngine__SeriesNotExpired(id, s.expiry);
        uint64 p = PortfolioRisk.settlementPrice(_cfg.markets[s.underlying].feed, s.expiry, roundId);
        s.settled = true;
        s.settlementPrice = p;
        emit SeriesSettled(id, roundId, p);
    }

    /// @inheritdoc IPortfolioEngine
    function flag(address who) external nonReentrant {
        Account storage a = _requireAccount(who);
        if (a.shockAt != 0) revert PortfolioEngine__ShockPending(who);
        (bool out, uint8 reason) = _outside(a);
        if (!out) revert PortfolioEngine__InsideProvenSet(who);
        a.shockAt = _freshClock(); // the prices were just read: every feed is fresh
        emit Flagged(who, msg.sender, reason, uint64(block.timestamp));
    }

    /// @inheritdoc IPortfolioEngine
    function pokeStale() external nonReentrant {
        _syncClock();
    }

    /// @inheritdoc IPortfolioEngine
    /// @dev Reads every listed feed through the adapter (all its checks; reverts if one
    ///      fails) and stores the price words with this block's number and time. Nothing
    ///      but a proof's inputs reads them: flag, close, liquidate and the clock read the
    ///      adapter. A later push in the same block overwrites the words.
    function pushPrices() external {
        (uint256 w0, uint256 w1) = _priceWords();
        uint256 key = _cacheKey() << CACHE_KEY_SHIFT;
        (_priceCache[0], _priceCache[1]) = (w0 | key, w1 | key);
    }

    /// @inheritdoc IPortfolioEngine
    /// @dev reward_c = ⌊bal_c·penalty/10⁴⌋, the rest to the vault (receivePenalty): no unit is
    ///      created or lost. Reads the current prices (reverts while a feed is stale) and
    ///      refuses while a listed series is expired and unsettled (settle it first).
    function liquidate(address who) external nonReentrant {
        Account storage a = _requireAccount(who);
        uint64 live = _syncClock();
        if (!_liquidatable(a, live)) revert PortfolioEngine__NotLiquidatable(who);
        (uint256[2] memory reward, uint256[2] memory toPool) = _penaltySplit(_balances[who]);
        delete _balances[who];
        _record(who, a, toPool);
        _reset(a);
        emit Liquidated(who, msg.sender, reward, toPool);
        for (uint8 c = 0; c < MAX_ASSETS; ++c) {
            if (toPool[c] != 0) _poolOf(c).receivePenalty(toPool[c]);
            if (reward[c] != 0) IERC20(_cfg.collateral[c].token).safeTransfer(msg.sender, reward[c]);
        }
    }

    /// @dev The liquidation reward of balances `bal`: ⌊bal_c·penalty/10⁴⌋ of each asset;
    ///      `rest` is what is left of each (the escrow).
    function _penaltySplit(uint256[2] memory bal)
        private
        view
        returns (uint256[2] memory reward, uint256[2] memory rest)
    {
        uint256 penalty = liquidationPenaltyBps;
        for (uint256 c = 0; c < MAX_ASSETS; ++c) {
            reward[c] = (bal[c] * penalty) / BPS;
            rest[c] = bal[c] - reward[c];
        }
    }

    function _record(address who, Account storage a, uint256[2] memory escrowed) private {
        (uint256 w0, uint256 w1) = _priceWords();
        uint256[9] memory r = PortfolioSettlement.record(_cfg, _epochs[riskEpoch], a.commitment, escrowed, w0, w1);
        _liquidations[who][a.nonce] = keccak256(abi.encode(r));
        emit LiquidationRecorded(who, a.nonce, r);
    }

    // ================================================================== trader

    /// @inheritdoc IPortfolioEngine
    function deposit(uint8 asset, uint256 amount) external nonReentrant {
        _requireAsset(asset);
        if (amount == 0) revert PortfolioEngine__ZeroAmount();
        uint256 b = _balances[msg.sender][asset] + amount;
        uint256 normalised = b * 10 ** (18 - uint256(_cfg.collateral[asset].decimals));
        if (normalised >= BALANCE_LIMIT) revert PortfolioEngine__BalanceTooLarge(normalised);
        _balances[msg.sender][asset] = b;
        emit Deposited(msg.sender, asset, amount);
        IERC20(_cfg.collateral[asset].token).safeTransferFrom(msg.sender, address(this), amount);
    }

    /// @inheritdoc IPortfolioEngine
    function open(uint256 commitment, Proof calldata proof) external nonReentrant {
        Account storage a = _accounts[msg.sender];
        if (a.commitment != 0) revert PortfolioEngine__AccountExists(msg.sender);
        if (commitment == 0 || commitment >= SNARK_SCALAR_FIELD) revert PortfolioEngine__InvalidCommitment(commitment);
        uint64 live = _requireFresh();
        uint256[8] memory inputs = _inputs(msg.sender, commitment, MODE_OPENING, a.nonce, _balances[msg.sender]);
        _verify(proof, inputs);
        a.commitment = commitment;
        _accept(a, inputs, MODE_OPENING, live);
        emit AccountOpened(msg.sender, commitment, riskEpoch, a.nonce - 1);
    }

    /// @inheritdoc IPortfolioEngine
    function proveMargin(Proof calldata proof) external nonReentrant {
        Account storage a = _requireAccount(msg.sender);
        uint64 live = _freshClock();
        uint256[8] memory inputs =
            _inputs(msg.sender, a.commitment, MODE_MAINTENANCE, a.nonce, _balances[msg.sender]);
        _verify(proof, inputs);
        _accept(a, inputs, MODE_MAINTENANCE, live);
        emit MarginProven(msg.sender, riskEpoch, a.nonce - 1);
    }

    /// @inheritdoc IPortfolioEngine
    function withdraw(uint8 asset, uint256 amount, Proof calldata proof) external nonReentrant {
        Account storage a = _requireAccount(msg.sender);
        uint64 live = _requireFresh();
        uint256[2] memory bal = _debited(msg.sender, asset, amount);
        uint256[8] memory inputs = _inputs(msg.sender, a.commitment, MODE_WITHDRAWAL, a.nonce, bal);
        _verify(proof, inputs);
        _balances[msg.sender] = bal;
        _accept(a, inputs, MODE_WITHDRAWAL, live);
        emit Withdrawn(msg.sender, asset, amount, a.nonce - 1);
        IERC20(_cfg.collateral[asset].token).safeTransfer(msg.sender, amount);
    }

    /// @inheritdoc IPortfolioEngine
    function withdrawIdle(uint8 asset, uint256 amount) external nonReentrant {
        if (_accounts[msg.sender].commitment != 0) revert PortfolioEngine__AccountExists(msg.sender);
        _balances[msg.sender] = _debited(msg.sender, asset, amount);
        emit Withdrawn(msg.sender, asset, amount, _accounts[msg.sender].nonce);
        IERC20(_cfg.collateral[asset].token).safeTransfer(msg.sender, amount);
    }

    /// @inheritdoc IPortfolioEngine
    /// @dev A liquidatable account (by {liquidate}'s clock and rule) first pays its owner the
    ///      reward {liquidate} would ({CloseRewarded}); the rest (the escrow) then settles:
    ///      the trader gets what liquidating oneself and reclaiming pays, at the pool's cost
    ///      of a liquidation.
    function close(Position[8] calldata positions, uint256 salt) external nonReentrant {
        Account storage a = _requireAccount(msg.sender);
        uint64 live = _syncClock();
        _requireOpens(msg.sender, positions, salt, a.commitment);
        uint256[2] memory reward;
        uint256[2] memory bal = _balances[msg.sender];
        if (_liquidatable(a, live)) {
            (reward, bal) = _penaltySplit(bal);
            emit CloseRewarded(msg.sender, reward);
        }
        (uint256 w0, uint256 w1) = _priceWords();
        PortfolioSettlement.Legs memory st =
            PortfolioSettlement.settle(positions, _cfg, _epochs[riskEpoch], [w0, w1], bal);
        delete _balances[msg.sender];
        _reset(a);
        emit AccountClosed(msg.sender, st.pnl, st.fee, st.badDebt, st.toPool, st.fromPool, st.refund);
        for (uint8 c = 0; c < MAX_ASSETS; ++c) {
            if (st.toPool[c] != 0) _poolOf(c).receiveLoss(st.toPool[c]);
            if (st.fromPool[c] != 0) _poolOf(c).payProfit(msg.sender, st.fromPool[c]);
            uint256 back = st.refund[c] + reward[c]; // one transfer per asset
            if (back != 0) IERC20(_cfg.collateral[c].token).safeTransfer(msg.sender, back);
        }
        if (st.badDebtTokens != 0) _poolOf(0).recordBadDebt(st.badDebtTokens);
    }

    /// @inheritdoc IPortfolioEngine
    /// @dev The escrow is already in the vaults (receivePenalty at liquidation): each vault
    ///      pays back the escrow left after the loss and fee plus the profit leg (an IOU if
    ///      short); uncovered loss is bad debt in asset 0's vault. The record's |δ|, option
    ///      values and prices are those at liquidation.
    function reclaim(uint64 nonce, uint256[9] calldata r, Position[8] calldata positions, uint256 salt)
        external
        nonReentrant
    {
        bytes32 key = _liquidations[msg.sender][nonce];
        if (key == 0 || key != keccak256(abi.encode(r))) revert PortfolioEngine__NoLiquidation(msg.sender, nonce);
        // casting to 'uint64' is safe: written from a timestamp
        // forge-lint: disable-next-line(unsafe-typecast)
        uint64 deadline = uint64(r[1]);
        // forge-lint: disable-next-line(block-timestamp)
        if (block.timestamp > deadline) revert PortfolioEngine__ReclaimExpired(deadline);
        _requireOpens(msg.sender, positions, salt, r[0]);
        delete _liquidations[msg.sender][nonce];
        PortfolioSettlement.Legs memory st = PortfolioSettlement.settleRecord(positions, r, _cfg);
        uint256[2] memory paid = [st.refund[0] + st.fromPool[0], st.refund[1] + st.fromPool[1]];
        emit Reclaimed(msg.sender, nonce, st.pnl, st.fee, st.badDebt, paid);
        for (uint8 c = 0; c < MAX_ASSETS; ++c) {
            if (paid[c] != 0) _poolOf(c).payProfit(msg.sender, paid[c]);
        }
        if (st.badDebtTokens != 0) _poolOf(0).recordBadDebt(st.badDebtTokens);
    }

    // ================================================================== internals

    function _requireAccount(address who) private view returns (Account storage a) {
        a = _accounts[who];
        if (a.commitment == 0) revert PortfolioEngine__NoAccount(who);
    }

    function _requireOpens(address who, Position[8] calldata positions, uint256 salt, uint256 commitment)
        private
        view
    {
        // (PortfolioSettlement.commitmentOf is pure; the immutables make this view)
        if (PortfolioSettlement.commitmentOf(poseidon2, poseidon4, who, positions, salt) != commitment) {
            revert PortfolioEngine__CommitmentMismatch();
        }
    }

    function _debited(address who, uint8 asset, uint256 amount) private view returns (uint256[2] memory bal) {
        _requireAsset(asset);
        if (amount == 0) revert PortfolioEngine__ZeroAmount();
        bal = _balances[who];
        if (bal[asset] < amount) revert PortfolioEngine__InsufficientBalance(asset, bal[asset], amount);
        bal[asset] -= amount;
    }

    function _poolOf(uint8 asset) private view returns (IMarginPool p) {
        p = _pools[asset];
        if (address(p) == address(0)) revert PortfolioEngine__PoolNotSet(asset);
    }

    /// @dev Stores an accepted proof: nonce + 1, the epoch, clocks and the proven prices.
    function _accept(Account storage a, uint256[8] memory inputs, uint8 mode, uint64 live) private {
        RiskEpoch storage e = _epochs[riskEpoch];
        a.nonce += 1;
        a.epoch = riskEpoch;
        a.mode = mode;
        a.provenAt = live;
        a.shockAt = 0;
        a.lifetime = proofLifetime;
        a.grace = gracePeriod;
        uint256 cap = uint256(e.firstExpiry) + gracePeriod;
        // casting to 'uint64' is safe: capped
        // forge-lint: disable-next-line(unsafe-typecast)
        a.expiryCap = cap > type(uint64).max ? type(uint64).max : uint64(cap);
        a.provenPriceWords = [inputs[1], inputs[2]];
    }

    function _reset(Account storage a) private {
        a.commitment = 0;
        a.epoch = 0;
        a.mode = 0;
        a.provenAt = 0;
        a.shockAt = 0;
        a.lifetime = 0;
        a.grace = 0;
        a.expiryCap = 0;
        delete a.provenPriceWords;
    }

    /// @dev The public inputs for `who` (layout: {IPortfolioEngine} header). Reads the current
    ///      prices (the adapter reverts on a stale feed) and refuses an outdated epoch.
    function _inputs(address who, uint256 commitment, uint8 mode, uint64 nonce, uint256[2] memory bal)
        private
        view
        returns (uint256[8] memory in_)
    {
        uint32 epoch = riskEpoch;
        if (epoch == 0) revert PortfolioEngine__NoRiskEpoch();
        if (_listingsChanged) revert PortfolioEngine__ListingsChanged();
        // forge-lint: disable-next-line(block-timestamp)
        if (_epochs[epoch].firstExpiry <= block.timestamp) revert PortfolioEngine__EpochExpired(epoch);
        in_[0] = commitment;
        (in_[1], in_[2]) = _provingWords();
        for (uint256 c = 0; c < _cfg.collateralCount; ++c) {
            in_[3] |= (bal[c] * 10 ** (18 - uint256(_cfg.collateral[c].decimals))) << (96 * c);
        }
        in_[4] = _epochs[epoch].commitment;
        in_[5] = mode;
        in_[6] = uint256(uint160(who)) | (uint256(nonce) << 160);
        if (block.chainid >= 1 << 64) revert PortfolioEngine__ChainIdTooLarge(block.chainid);
        in_[7] = uint256(uint160(address(this))) | (block.chainid << 160);
    }

    /// @dev Price words of the current oracle prices: listed markets and assets by id,
    ///      PAD_PRICE for an unlisted slot.
    function _priceWords() private view returns (uint256 w0, uint256 w1) {
        uint256[6] memory p;
        for (uint256 i = 0; i < 6; ++i) {
            bool isMarket = i < MAX_MARKETS;
            uint256 id = isMarket ? i : i - MAX_MARKETS;
            bool listed = isMarket ? id < _cfg.marketCount : id < _cfg.collateralCount;
            if (listed) (p[i],,) = oracle.getPrice(isMarket ? _cfg.markets[id].feed : _cfg.collateral[id].feed);
            else p[i] = PAD_PRICE;
        }
        w0 = p[0] | (p[1] << 64) | (p[2] << 128);
        w1 = p[3] | (p[4] << 64) | (p[5] << 128);
    }

    /// @dev The price words of a proof's inputs: the cache when {pushPrices} ran at this
    ///      block and time (both words are written together), else {_priceWords}.
    function _provingWords() private view returns (uint256, uint256) {
        uint256 c0 = _priceCache[0];
        if (c0 >> CACHE_KEY_SHIFT == _cacheKey()) return (c0 & PRICES_MASK, _priceCache[1] & PRICES_MASK);
        return _priceWords();
    }

    /// @dev The cache key of now: block number << 32 | timestamp, 32 bits each.
    function _cacheKey() private view returns (uint256) {
        return ((block.number & type(uint32).max) << 32) | (block.timestamp & type(uint32).max);
    }

    function _verify(Proof calldata proof, uint256[8] memory inputs) private view {
        // the verifier gets exactly VERIFIER_GAS: a starved valid proof would read as invalid
        uint256 needed = (VERIFIER_GAS * 64) / 63 + 5_000;
        if (gasleft() < needed) revert PortfolioEngine__InsufficientGas(gasleft(), needed);
        bool ok = IPortfolioVerifier(verifier).verifyProof{gas: VERIFIER_GAS}(proof.a, proof.b, proof.c, inputs);
        if (!ok) revert PortfolioEngine__InvalidProof();
    }

    function _outside(Account storage a) private view returns (bool, uint8) {
        RiskEpoch storage e = _epochs[a.epoch];
        (uint256 w0, uint256 w1) = _priceWords();
        return PortfolioRisk.outside(
            a.provenPriceWords,
            [w0, w1],
            e.riskParams,
            e.riskCholesky,
            e.marketCount,
            e.collateralCount,
            liquidationPenaltyBps
        );
    }

    function _liquidatable(Account storage a, uint64 live) private view returns (bool) {
        // forge-lint: disable-next-line(block-timestamp)
        if (block.timestamp > a.expiryCap) return true;
        if (live - a.provenAt > a.lifetime) return true;
        return a.shockAt != 0 && live - a.shockAt > a.grace;
    }

    // ------------------------------------------------------------------ clock

    /// @dev {_syncedClock}, stored; returns the live time now.
    function _syncClock() private returns (uint64 live) {
        (uint64 total, uint64 since, uint64 closed, bool changed) = _syncedClock();
        if (changed) {
            (_staleTotal, _staleSince, _staleClosed) = (total, since, closed);
            emit StaleClock(since, total);
        }
        return _live(total, since);
    }

    /// @dev {_freshClock}, and refuses while an outage is counted.
    function _requireFresh() private returns (uint64 live) {
        live = _freshClock();
        if (_staleSince != 0) revert PortfolioEngine__FeedsStale();
    }

    /// @dev The live time on a path that reads every listed feed's price (a proof's inputs,
    ///      a flag): the adapter refuses a stale feed, and a push stores only prices the
    ///      adapter gave at this block and time, so every feed is fresh whenever the call
    ///      succeeds. With no outage counted the stored clock is then current (a scan could
    ///      only start an outage, and the price read would revert the call with it), so no
    ///      feed is read for the clock; during an outage {_syncClock} scans and ends it.
    function _freshClock() private returns (uint64) {
        if (_staleSince == 0) return _live(_staleTotal, 0);
        return _syncClock();
    }

    function _live(uint64 total, uint64 since) private view returns (uint64) {
        // casting to 'uint64' is safe until year 2^64 s
        // forge-lint: disable-next-line(unsafe-typecast)
        uint64 nowT = uint64(block.timestamp);
        return since != 0 ? since - total : nowT - total;
    }

    /// @dev The outage clock brought up to date from every listed feed's last update (as the
    ///      rate-based engine's): an outage starts when a feed's heartbeat ran out (not when
    ///      someone noticed) and ends at the latest update once every feed is fresh.
    function _syncedClock() private view returns (uint64 total, uint64 since, uint64 closed, bool changed) {
        return PortfolioRisk.staleScan(_cfg, oracle, _staleTotal, _staleSince, _staleClosed);
    }

    // ================================================================== views

    /// @inheritdoc IPortfolioEngine
    function account(address who) external view returns (Account memory) {
        return _accounts[who];
    }

    /// @inheritdoc IPortfolioEngine
    function balanceOf(address who, uint8 asset) external view returns (uint256) {
        return _balances[who][asset];
    }

    /// @inheritdoc IPortfolioEngine
    function pool(uint8 asset) external view returns (IMarginPool) {
        return _pools[asset];
    }

    /// @inheritdoc IPortfolioEngine
    function market(uint8 id) external view returns (Market memory) {
        return _cfg.markets[id];
    }

    /// @inheritdoc IPortfolioEngine
    function collateral(uint8 id) external view returns (Collateral memory) {
        return _cfg.collateral[id];
    }

    /// @inheritdoc IPortfolioEngine
    function series(uint8 id) external view returns (Series memory) {
        return _cfg.series[id];
    }

    /// @inheritdoc IPortfolioEngine
    function marketCount() external view returns (uint8) {
        return _cfg.marketCount;
    }

    /// @inheritdoc IPortfolioEngine
    function collateralCount() external view returns (uint8) {
        return _cfg.collateralCount;
    }

    /// @inheritdoc IPortfolioEngine
    function seriesCount() external view returns (uint8) {
        return _cfg.seriesCount;
    }

    /// @notice The smallest λ_MM (bps) a publication may carry.
    function minLambdaMM() external view returns (uint16) {
        return _cfg.minLambdaMM;
    }

    /// @inheritdoc IPortfolioEngine
    function riskEpochOf(uint32 epoch) external view returns (RiskEpoch memory) {
        return _epochs[epoch];
    }

    /// @inheritdoc IPortfolioEngine
    function liquidationOf(address who, uint64 nonce) external view returns (bytes32) {
        return _liquidations[who][nonce];
    }

    /// @inheritdoc IPortfolioEngine
    function liveTime() external view returns (uint64) {
        (uint64 total, uint64 since,,) = _syncedClock();
        return _live(total, since);
    }

    /// @inheritdoc IPortfolioEngine
    function liquidatable(address who) external view returns (bool) {
        Account storage a = _accounts[who];
        if (a.commitment == 0) return false;
        (uint64 total, uint64 since,,) = _syncedClock();
        return _liquidatable(a, _live(total, since));
    }

    /// @inheritdoc IPortfolioEngine
    function flaggable(address who) external view returns (bool out) {
        Account storage a = _accounts[who];
        if (a.commitment == 0 || a.shockAt != 0) return false;
        (out,) = _outside(a);
    }

    /// @inheritdoc IPortfolioEngine
    function publicInputs(address who, uint8 mode, uint8 asset, uint256 amount)
        external
        view
        returns (uint256[8] memory)
    {
        Account storage a = _requireAccount(who);
        uint256[2] memory bal = _balances[who];
        if (mode == MODE_WITHDRAWAL) {
            if (amount != 0) {
                _requireAsset(asset);
                if (bal[asset] < amount) revert PortfolioEngine__InsufficientBalance(asset, bal[asset], amount);
                bal[asset] -= amount;
            }
        } else if (mode != MODE_MAINTENANCE && mode != MODE_INITIAL) {
            revert PortfolioEngine__InvalidMode(mode);
        }
        return _inputs(who, a.commitment, mode, a.nonce, bal);
    }

    /// @inheritdoc IPortfolioEngine
    function openingInputs(address who, uint256 commitment) external view returns (uint256[8] memory) {
        return _inputs(who, commitment, MODE_OPENING, _accounts[who].nonce, _balances[who]);
    }
}
