// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {Ownable2Step} from "@openzeppelin/contracts/access/Ownable2Step.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IERC20Metadata} from "@openzeppelin/contracts/token/ERC20/extensions/IERC20Metadata.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ReentrancyGuard} from "@openzeppelin/contracts/utils/ReentrancyGuard.sol";

import {IOracleAdapter} from "../oracle/IOracleAdapter.sol";
import {IMarginEngine} from "./IMarginEngine.sol";

/// @notice The snarkjs verifier of the isolated circuit (6 public inputs).
interface IIsolatedVerifier {
    function verifyProof(
        uint256[2] calldata a,
        uint256[2][2] calldata b,
        uint256[2] calldata c,
        uint256[6] calldata pubSignals
    ) external view returns (bool);
}

/// @notice The snarkjs verifier of the cross circuit (7 public inputs).
interface ICrossVerifier {
    function verifyProof(
        uint256[2] calldata a,
        uint256[2][2] calldata b,
        uint256[2] calldata c,
        uint256[7] calldata pubSignals
    ) external view returns (bool);
}

/// @notice circomlibjs' Poseidon contract for 4 inputs (same function as circomlib's circuit).
interface IPoseidon4 {
    function poseidon(uint256[4] calldata inputs) external pure returns (uint256);
}

/// @title MarginEngine
/// @notice Holds collateral, verifies zkmargin margin proofs and liquidates accounts that
///         stop proving solvency. See {IMarginEngine} for the public-input layout.
/// @dev Every public input is built here from storage and the oracle; callers pass only
///      proofs. Margin math in the circuit is exact (no rounding); the rounding done here
///      (close settlement, liquidation split) is stated at each place and goes against the
///      account being settled. Every state-changing entry point is `nonReentrant`, the
///      proof-only ones too: a listed token with a transfer hook could otherwise open an
///      account from inside `close` (between the payouts of asset 0 and asset 1) with a
///      proof over balances that are paid out right after (test/MarginEngineReentrancy.t.sol).
contract MarginEngine is IMarginEngine, Ownable2Step, ReentrancyGuard {
    using SafeERC20 for IERC20;

    /// @notice BN254 scalar field modulus r: every public input must be below it.
    uint256 public constant SNARK_SCALAR_FIELD =
        21888242871839275222246405745257275088548364400416034343698204186575808495617;
    /// @notice Domain tag of account commitments: "zkmargin/account/v1" as an integer.
    uint256 public constant COMMITMENT_DOMAIN_TAG = 2730049149122563626207744532284377912228935217;
    uint256 public constant BPS = 10_000;
    uint8 public constant MAX_MARKETS = 4;
    uint8 public constant MAX_ASSETS = 2;
    /// @notice Normalised (18-decimal) balances must stay below 2^96, the circuit's bound.
    uint256 public constant BALANCE_LIMIT = 1 << 96;
    /// @notice Price carried by unused slots (prices must be non-zero in the circuit).
    uint64 public constant PAD_PRICE = 1;
    uint64 public constant MAX_DURATION = 365 days;
    /// @notice Largest liquidation penalty (bps of the seized collateral paid to the
    ///         liquidator): bounds what an owner colluding with a keeper could take.
    uint16 public constant MAX_PENALTY_BPS = 2_500;
    /// @notice Gas forwarded to a verifier: a valid proof needs ~230k (4 pairings and
    ///         k scalar multiplications); a bad point makes a precompile fail and burn all
    ///         the gas it was given, so the forwarded gas is capped.
    uint256 public constant VERIFIER_GAS = 500_000;

    uint256 private constant PRICE_BITS = 64;
    uint256 private constant BALANCE_BITS = 96;
    uint256 private constant BPS_BITS = 14;
    uint256 private constant ADDRESS_BITS = 160;
    uint256 private constant PRICE_MASK = type(uint64).max; // PRICE_BITS ones
    /// @dev Slot layout of a commitment: market | long << 8 | size << 9 | entry << 73.
    uint256 private constant SIDE_SHIFT = 8;
    uint256 private constant SIZE_SHIFT = 9;
    uint256 private constant ENTRY_SHIFT = 73;
    uint256 private constant CROSS_SLOTS = 4;
    /// @dev PnL is computed in 1e-16 quote (size 1e-8 * price 1e-8).
    uint256 private constant PRICE_SCALE = 1e8;

    /// @dev What a statement is about: the inputs of {_inputs} that do not come from storage.
    struct Statement {
        address who;
        uint256 commitment;
        Kind kind;
        uint8 market;
        uint8 asset;
        uint64 nonce;
        bool initial; // IMR (true) or MMR
        bool opening;
    }

    IOracleAdapter public immutable oracle;
    address public immutable isolatedVerifier;
    address public immutable crossVerifier;
    address public immutable poseidon4;

    uint64 public proofLifetime;
    uint64 public gracePeriod;
    uint16 public shockThresholdBps;
    uint16 public liquidationPenaltyBps;

    uint8 private _marketCount;
    uint8 private _collateralCount;
    Market[4] private _markets;
    Collateral[2] private _collaterals;
    uint256[2] private _pool;
    mapping(address who => Account state) private _accounts;
    mapping(address who => uint256[2] amounts) private _balances;

    /// @param initialOwner Admin (two-step transferable).
    /// @param oracle_ Oracle adapter every feed must be registered in.
    /// @param isolatedVerifier_ Generated verifier of circuits/isolated.circom.
    /// @param crossVerifier_ Generated verifier of circuits/cross.circom.
    /// @param poseidon4_ circomlibjs Poseidon contract for 4 inputs.
    constructor(
        address initialOwner,
        IOracleAdapter oracle_,
        address isolatedVerifier_,
        address crossVerifier_,
        address poseidon4_,
        uint64 lifetime,
        uint64 grace,
        uint16 thresholdBps,
        uint16 penaltyBps
    ) Ownable(initialOwner) {
        if (block.chainid >= 1 << 64) revert MarginEngine__ChainIdTooLarge(block.chainid);
        oracle = oracle_;
        isolatedVerifier = isolatedVerifier_;
        crossVerifier = crossVerifier_;
        poseidon4 = poseidon4_;
        _setProofLifetime(lifetime);
        _setGracePeriod(grace);
        _setShockThreshold(thresholdBps);
        _setLiquidationPenalty(penaltyBps);
    }

    // ================================================================== admin

    /// @inheritdoc IMarginEngine
    function listMarket(address feed, uint16 mmrBps, uint16 imrBps) external onlyOwner returns (uint8 id) {
        if (_marketCount == MAX_MARKETS) revert MarginEngine__TooManyListings();
        if (!oracle.isRegistered(feed)) revert MarginEngine__FeedNotRegistered(feed);
        _checkRates(mmrBps, imrBps);
        id = _marketCount++;
        _markets[id] = Market({feed: feed, mmrBps: mmrBps, imrBps: imrBps});
        emit MarketListed(id, feed, mmrBps, imrBps);
    }

    /// @inheritdoc IMarginEngine
    function setMarketRisk(uint8 id, uint16 mmrBps, uint16 imrBps) external onlyOwner {
        _requireMarket(id);
        _checkRates(mmrBps, imrBps);
        _markets[id].mmrBps = mmrBps;
        _markets[id].imrBps = imrBps;
        emit MarketRiskSet(id, mmrBps, imrBps);
    }

    /// @inheritdoc IMarginEngine
    function listCollateral(address token, address feed, uint16 haircutBps) external onlyOwner returns (uint8 id) {
        if (_collateralCount == MAX_ASSETS) revert MarginEngine__TooManyListings();
        if (token.code.length == 0) revert MarginEngine__InvalidToken(token);
        if (!oracle.isRegistered(feed)) revert MarginEngine__FeedNotRegistered(feed);
        if (haircutBps > BPS) revert MarginEngine__InvalidBps(haircutBps);
        uint8 decimals = IERC20Metadata(token).decimals();
        if (decimals > 18) revert MarginEngine__InvalidToken(token);
        id = _collateralCount++;
        _collaterals[id] = Collateral({token: token, feed: feed, haircutBps: haircutBps, decimals: decimals});
        emit CollateralListed(id, token, feed, haircutBps, decimals);
    }

    /// @inheritdoc IMarginEngine
    function setHaircut(uint8 id, uint16 haircutBps) external onlyOwner {
        _requireAsset(id);
        if (haircutBps > BPS) revert MarginEngine__InvalidBps(haircutBps);
        _collaterals[id].haircutBps = haircutBps;
        emit HaircutSet(id, haircutBps);
    }

    /// @inheritdoc IMarginEngine
    function setProofLifetime(uint64 lifetime) external onlyOwner {
        _setProofLifetime(lifetime);
    }

    /// @inheritdoc IMarginEngine
    function setShockThreshold(uint16 thresholdBps) external onlyOwner {
        _setShockThreshold(thresholdBps);
    }

    /// @inheritdoc IMarginEngine
    function setGracePeriod(uint64 grace) external onlyOwner {
        _setGracePeriod(grace);
    }

    /// @inheritdoc IMarginEngine
    function setLiquidationPenalty(uint16 penaltyBps) external onlyOwner {
        _setLiquidationPenalty(penaltyBps);
    }

    /// @notice Disabled: an ownerless engine could never list or fix a market again.
    function renounceOwnership() public view override onlyOwner {
        revert MarginEngine__RenounceDisabled();
    }

    // ================================================================== anyone

    /// @inheritdoc IMarginEngine
    function fundPool(uint8 asset, uint256 amount) external nonReentrant {
        _requireAsset(asset);
        uint256 received = _pull(asset, amount);
        _pool[asset] += received;
        emit PoolFunded(asset, msg.sender, received);
    }

    /// @inheritdoc IMarginEngine
    function flagShock(address who) external nonReentrant {
        Account storage a = _openAccount(who);
        if (a.shockAt != 0) revert MarginEngine__NoShock(who);
        (uint256[] memory words, uint256 count) = _priceWords(a.kind, a.market, a.asset);
        bool moved;
        for (uint256 i = 0; i < count && !moved; ++i) {
            uint256 proven = (a.provenPriceWords[i / 3] >> (PRICE_BITS * (i % 3))) & PRICE_MASK;
            uint256 current = (words[i / 3] >> (PRICE_BITS * (i % 3))) & PRICE_MASK;
            // A slot proven at the pad price was unlisted then: listing it is no shock.
            if (proven == PAD_PRICE) continue;
            uint256 delta = current > proven ? current - proven : proven - current;
            moved = delta * BPS > uint256(shockThresholdBps) * proven;
        }
        if (!moved) revert MarginEngine__NoShock(who);
        a.shockAt = uint64(block.timestamp);
        emit ShockFlagged(who, msg.sender, uint64(block.timestamp));
    }

    /// @inheritdoc IMarginEngine
    /// @dev The reward is `balance * penalty / 10000` rounded down per asset; the pool gets
    ///      the rest, so no unit is lost or created.
    function liquidate(address who) external nonReentrant {
        Account storage a = _openAccount(who);
        (bool now_,) = _liquidatable(a);
        if (!now_) revert MarginEngine__NotLiquidatable(who);
        uint256[2] memory reward;
        uint256[2] memory toPool;
        uint256[2] storage bal = _balances[who];
        for (uint8 c = 0; c < _collateralCount; ++c) {
            reward[c] = (bal[c] * liquidationPenaltyBps) / BPS;
            toPool[c] = bal[c] - reward[c];
            _pool[c] += toPool[c];
            bal[c] = 0;
        }
        _reset(a);
        emit Liquidated(who, msg.sender, reward, toPool);
        for (uint8 c = 0; c < _collateralCount; ++c) {
            if (reward[c] != 0) IERC20(_collaterals[c].token).safeTransfer(msg.sender, reward[c]);
        }
    }

    // ================================================================== trader

    /// @inheritdoc IMarginEngine
    function deposit(uint8 asset, uint256 amount) external nonReentrant {
        _requireAsset(asset);
        Account storage a = _accounts[msg.sender];
        if (a.kind == Kind.Isolated && asset != a.asset) revert MarginEngine__WrongAsset(asset);
        uint256 received = _pull(asset, amount);
        uint256 updated = _balances[msg.sender][asset] + received;
        uint256 normalised = _normalise(asset, updated);
        if (normalised >= BALANCE_LIMIT) revert MarginEngine__BalanceTooLarge(normalised);
        _balances[msg.sender][asset] = updated;
        emit Deposited(msg.sender, asset, received);
    }

    /// @inheritdoc IMarginEngine
    function openIsolated(uint256 commitment, uint8 mkt, uint8 asset, Proof calldata proof) external nonReentrant {
        _requireMarket(mkt);
        _requireAsset(asset);
        uint8 other = asset == 0 ? 1 : 0;
        if (_balances[msg.sender][other] != 0) revert MarginEngine__WrongAsset(other);
        _open(commitment, Kind.Isolated, mkt, asset, proof);
    }

    /// @inheritdoc IMarginEngine
    function openCross(uint256 commitment, Proof calldata proof) external nonReentrant {
        _open(commitment, Kind.Cross, 0, 0, proof);
    }

    /// @inheritdoc IMarginEngine
    function proveMargin(Proof calldata proof) external nonReentrant {
        Account storage a = _openAccount(msg.sender);
        (uint256[] memory inputs, uint256[2] memory words) =
            _inputs(_statement(msg.sender, a, false), _balances[msg.sender]);
        _verify(a.kind, inputs, proof);
        _accept(a, words);
        emit MarginProven(msg.sender, a.nonce - 1, words[0]);
    }

    /// @inheritdoc IMarginEngine
    function withdraw(uint8 asset, uint256 amount, Proof calldata proof) external nonReentrant {
        Account storage a = _openAccount(msg.sender);
        _requireAsset(asset);
        if (a.kind == Kind.Isolated && asset != a.asset) revert MarginEngine__WrongAsset(asset);
        uint256[2] memory remaining = _debited(msg.sender, asset, amount);
        (uint256[] memory inputs, uint256[2] memory words) = _inputs(_statement(msg.sender, a, true), remaining);
        _verify(a.kind, inputs, proof);
        _accept(a, words);
        _balances[msg.sender][asset] = remaining[asset];
        emit Withdrawn(msg.sender, asset, amount, a.nonce - 1);
        IERC20(_collaterals[asset].token).safeTransfer(msg.sender, amount);
    }

    /// @inheritdoc IMarginEngine
    function withdrawIdle(uint8 asset, uint256 amount) external nonReentrant {
        if (_accounts[msg.sender].kind != Kind.None) revert MarginEngine__AccountExists(msg.sender);
        _requireAsset(asset);
        uint256[2] memory remaining = _debited(msg.sender, asset, amount);
        _balances[msg.sender][asset] = remaining[asset];
        emit Withdrawn(msg.sender, asset, amount, _accounts[msg.sender].nonce);
        IERC20(_collaterals[asset].token).safeTransfer(msg.sender, amount);
    }

    /// @inheritdoc IMarginEngine
    /// @dev PnL = sum of ±size * (price - entry) in 1e-16 quote at the current oracle prices.
    ///      A profit is paid from the pool in the first slot asset, rounded down; a loss is
    ///      taken from the balances in slot order, rounded up, and what they cannot cover is
    ///      reported as bad debt (borne by the pool). Haircuts do not apply at close.
    function close(Position[] calldata positions, uint256 salt) external nonReentrant {
        Account storage a = _openAccount(msg.sender);
        (bool lapsed,) = _liquidatable(a);
        if (lapsed) revert MarginEngine__Liquidatable(msg.sender);
        uint256 slots = a.kind == Kind.Isolated ? 1 : CROSS_SLOTS;
        if (positions.length != slots || salt >= SNARK_SCALAR_FIELD) revert MarginEngine__InvalidPosition(slots);
        if (_commit(msg.sender, positions, salt) != a.commitment) revert MarginEngine__CommitmentMismatch();

        (uint64[] memory prices,) = _prices(a.kind, a.market, a.asset);
        int256 pnl;
        for (uint256 i = 0; i < slots; ++i) {
            Position calldata p = positions[i];
            if (p.size == 0) continue;
            int256 move = int256(uint256(prices[p.market])) - int256(uint256(p.entry));
            pnl += (p.long ? move : -move) * int256(uint256(p.size));
        }
        uint8[2] memory order = a.kind == Kind.Isolated ? [a.asset, a.asset] : [0, 1];
        uint256 assets = a.kind == Kind.Isolated ? 1 : _collateralCount;
        uint256 marketSlots = a.kind == Kind.Isolated ? 1 : MAX_MARKETS;
        uint256 badDebt = _settle(msg.sender, pnl, order, assets, prices, marketSlots);

        _reset(a);
        emit AccountClosed(msg.sender, pnl, badDebt);
        uint256[2] storage bal = _balances[msg.sender];
        for (uint8 c = 0; c < _collateralCount; ++c) {
            uint256 amount = bal[c];
            if (amount == 0) continue;
            bal[c] = 0;
            IERC20(_collaterals[c].token).safeTransfer(msg.sender, amount);
        }
    }

    // ================================================================== views

    /// @inheritdoc IMarginEngine
    function account(address who) external view returns (Account memory) {
        return _accounts[who];
    }

    /// @inheritdoc IMarginEngine
    function balanceOf(address who, uint8 asset) external view returns (uint256) {
        return _balances[who][asset];
    }

    /// @inheritdoc IMarginEngine
    function pool(uint8 asset) external view returns (uint256) {
        return _pool[asset];
    }

    /// @inheritdoc IMarginEngine
    function market(uint8 id) external view returns (Market memory) {
        _requireMarket(id);
        return _markets[id];
    }

    /// @inheritdoc IMarginEngine
    function collateral(uint8 id) external view returns (Collateral memory) {
        _requireAsset(id);
        return _collaterals[id];
    }

    /// @inheritdoc IMarginEngine
    function marketCount() external view returns (uint8) {
        return _marketCount;
    }

    /// @inheritdoc IMarginEngine
    function collateralCount() external view returns (uint8) {
        return _collateralCount;
    }

    /// @inheritdoc IMarginEngine
    function liquidatable(address who) external view returns (bool now_, uint64 at) {
        Account storage a = _accounts[who];
        if (a.kind == Kind.None) return (false, type(uint64).max);
        return _liquidatable(a);
    }

    /// @inheritdoc IMarginEngine
    function publicInputs(address who, bool initial, uint8 withdrawAsset, uint256 withdrawAmount)
        external
        view
        returns (uint256[] memory inputs)
    {
        Account storage a = _openAccount(who);
        uint256[2] memory bal = _balances[who];
        if (withdrawAmount != 0) {
            // the same checks as {withdraw}, so a preview never panics or shows a refused withdrawal
            _requireAsset(withdrawAsset);
            if (a.kind == Kind.Isolated && withdrawAsset != a.asset) revert MarginEngine__WrongAsset(withdrawAsset);
            bal = _debited(who, withdrawAsset, withdrawAmount);
        }
        (inputs,) = _inputs(_statement(who, a, initial), bal);
    }

    /// @inheritdoc IMarginEngine
    function openingInputs(address who, uint256 commitment, Kind kind, uint8 mkt, uint8 asset)
        external
        view
        returns (uint256[] memory inputs)
    {
        if (kind == Kind.Isolated) {
            _requireMarket(mkt);
            _requireAsset(asset);
        } else {
            (mkt, asset) = (0, 0);
        }
        Statement memory st = Statement(who, commitment, kind, mkt, asset, _accounts[who].nonce, true, true);
        (inputs,) = _inputs(st, _balances[who]);
    }

    // ================================================================== internal: proofs

    function _open(uint256 commitment, Kind kind, uint8 mkt, uint8 asset, Proof calldata proof) private {
        Account storage a = _accounts[msg.sender];
        if (a.kind != Kind.None) revert MarginEngine__AccountExists(msg.sender);
        if (commitment == 0 || commitment >= SNARK_SCALAR_FIELD) revert MarginEngine__InvalidCommitment(commitment);
        (uint256[] memory inputs, uint256[2] memory words) =
            _inputs(Statement(msg.sender, commitment, kind, mkt, asset, a.nonce, true, true), _balances[msg.sender]);
        _verify(kind, inputs, proof);
        a.commitment = commitment;
        a.kind = kind;
        a.market = mkt;
        a.asset = asset;
        _accept(a, words);
        emit AccountOpened(msg.sender, kind, commitment, mkt, asset, a.nonce - 1);
    }

    /// @dev Builds the public inputs of the statement's circuit (layout in {IMarginEngine}).
    function _inputs(Statement memory st, uint256[2] memory balances)
        private
        view
        returns (uint256[] memory inputs, uint256[2] memory priceWords)
    {
        bool isolated = st.kind == Kind.Isolated;
        uint256 k = isolated ? 1 : MAX_MARKETS;
        uint256 m = isolated ? 1 : MAX_ASSETS;
        (uint256[] memory words,) = _priceWords(st.kind, st.market, st.asset);
        inputs = new uint256[](isolated ? 6 : 7);
        inputs[0] = st.commitment;
        uint256 at = 1;
        for (uint256 w = 0; w < words.length; ++w) {
            inputs[at++] = words[w];
            priceWords[w] = words[w];
        }
        uint256 params;
        for (uint256 s = 0; s < k; ++s) {
            uint256 id = isolated ? st.market : s;
            if (id < _marketCount) {
                Market storage mk = _markets[id];
                params |= uint256(st.initial ? mk.imrBps : mk.mmrBps) << (BPS_BITS * s);
            }
        }
        uint256 balanceWord;
        for (uint256 s = 0; s < m; ++s) {
            // casting to 'uint8' is safe because s < m <= MAX_ASSETS
            // forge-lint: disable-next-line(unsafe-typecast)
            uint8 id = isolated ? st.asset : uint8(s);
            if (id < _collateralCount) {
                uint256 normalised = _normalise(id, balances[id]);
                if (normalised >= BALANCE_LIMIT) revert MarginEngine__BalanceTooLarge(normalised);
                balanceWord |= normalised << (BALANCE_BITS * s);
                params |= uint256(_collaterals[id].haircutBps) << (BPS_BITS * (k + s));
            }
        }
        if (st.opening) params |= uint256(1) << (BPS_BITS * (k + m));
        // checked again here, not only at deployment: a chain id changed by a fork and
        // >= 2^96 would be truncated by the shift below (a replay across chains)
        if (block.chainid >= 1 << 64) revert MarginEngine__ChainIdTooLarge(block.chainid);
        inputs[at++] = balanceWord;
        inputs[at++] = params;
        inputs[at++] = uint256(uint160(st.who)) | (uint256(st.nonce) << ADDRESS_BITS);
        inputs[at] = uint256(uint160(address(this))) | (block.chainid << ADDRESS_BITS);
    }

    /// @dev Reverts unless the verifier of `kind` accepts `proof` for `inputs`. The snarkjs
    ///      verifier returns false (it does not revert) on a bad proof, including when it
    ///      runs out of gas in the pairing precompile; this turns both into a revert.
    function _verify(Kind kind, uint256[] memory inputs, Proof calldata proof) private view {
        for (uint256 i = 0; i < inputs.length; ++i) {
            if (inputs[i] >= SNARK_SCALAR_FIELD) revert MarginEngine__InputNotInField(i, inputs[i]);
        }
        // The snarkjs verifier answers false (instead of reverting) when the pairing
        // precompile runs out of gas, which would report a valid proof starved of gas as
        // invalid: refuse to start unless the verifier can get its whole allowance
        // (63/64 of what is left is forwarded to a call).
        uint256 needed = (VERIFIER_GAS * 64) / 63 + 5_000;
        if (gasleft() < needed) revert MarginEngine__InsufficientGas(gasleft(), needed);
        bool ok;
        if (kind == Kind.Isolated) {
            uint256[6] memory pub;
            for (uint256 i = 0; i < 6; ++i) {
                pub[i] = inputs[i];
            }
            ok = IIsolatedVerifier(isolatedVerifier).verifyProof{gas: VERIFIER_GAS}(proof.a, proof.b, proof.c, pub);
        } else {
            uint256[7] memory pub;
            for (uint256 i = 0; i < 7; ++i) {
                pub[i] = inputs[i];
            }
            ok = ICrossVerifier(crossVerifier).verifyProof{gas: VERIFIER_GAS}(proof.a, proof.b, proof.c, pub);
        }
        if (!ok) revert MarginEngine__InvalidProof();
    }

    /// @dev The statement an open account proves: MMR (or IMR), no opening flag.
    function _statement(address who, Account storage a, bool initial) private view returns (Statement memory) {
        return Statement(who, a.commitment, a.kind, a.market, a.asset, a.nonce, initial, false);
    }

    function _accept(Account storage a, uint256[2] memory words) private {
        a.nonce += 1;
        a.lastProofAt = uint64(block.timestamp);
        a.shockAt = 0;
        a.provenPriceWords = words;
    }

    function _liquidatable(Account storage a) private view returns (bool now_, uint64 at) {
        at = a.lastProofAt + proofLifetime + 1;
        if (a.shockAt != 0 && a.shockAt + gracePeriod + 1 < at) at = a.shockAt + gracePeriod + 1;
        // proof lifetimes and grace periods are hours to days; validator skew is seconds
        // forge-lint: disable-next-line(block-timestamp)
        now_ = block.timestamp >= at;
    }

    // ================================================================== internal: prices

    /// @dev Current prices of `kind`'s slots: K markets then M assets; pad price if unlisted.
    function _prices(Kind kind, uint8 mkt, uint8 asset) private view returns (uint64[] memory prices, uint256 k) {
        bool isolated = kind == Kind.Isolated;
        k = isolated ? 1 : MAX_MARKETS;
        uint256 m = isolated ? 1 : MAX_ASSETS;
        prices = new uint64[](k + m);
        for (uint256 s = 0; s < k; ++s) {
            uint256 id = isolated ? mkt : s;
            prices[s] = id < _marketCount ? _price(_markets[id].feed) : PAD_PRICE;
        }
        for (uint256 s = 0; s < m; ++s) {
            uint256 id = isolated ? asset : s;
            prices[k + s] = id < _collateralCount ? _price(_collaterals[id].feed) : PAD_PRICE;
        }
    }

    function _priceWords(Kind kind, uint8 mkt, uint8 asset)
        private
        view
        returns (uint256[] memory words, uint256 count)
    {
        (uint64[] memory prices,) = _prices(kind, mkt, asset);
        count = prices.length;
        words = new uint256[]((count + 2) / 3);
        for (uint256 i = 0; i < count; ++i) {
            words[i / 3] |= uint256(prices[i]) << (PRICE_BITS * (i % 3));
        }
    }

    function _price(address feed) private view returns (uint64 price) {
        (price,,) = oracle.getPrice(feed);
    }

    // ================================================================== internal: money

    function _pull(uint8 asset, uint256 amount) private returns (uint256 received) {
        if (amount == 0) revert MarginEngine__ZeroAmount();
        IERC20 token = IERC20(_collaterals[asset].token);
        uint256 before = token.balanceOf(address(this));
        token.safeTransferFrom(msg.sender, address(this), amount);
        received = token.balanceOf(address(this)) - before;
        if (received == 0) revert MarginEngine__ZeroAmount();
    }

    function _debited(address who, uint8 asset, uint256 amount) private view returns (uint256[2] memory bal) {
        if (amount == 0) revert MarginEngine__ZeroAmount();
        bal = _balances[who];
        if (bal[asset] < amount) revert MarginEngine__InsufficientBalance(asset, bal[asset], amount);
        bal[asset] -= amount;
    }

    /// @dev Balance in token units -> 18-decimal units (exact: decimals <= 18).
    function _normalise(uint256 asset, uint256 amount) private view returns (uint256) {
        return amount * 10 ** (18 - _collaterals[asset].decimals);
    }

    /// @dev Settles `pnl` (1e-16 quote) against the pool; returns the uncovered loss.
    function _settle(
        address who,
        int256 pnl,
        uint8[2] memory order,
        uint256 assets,
        uint64[] memory prices,
        uint256 marketSlots
    ) private returns (uint256 badDebt) {
        uint256[2] storage bal = _balances[who];
        if (pnl > 0) {
            uint8 c = order[0];
            // casting to 'uint256' is safe because pnl > 0
            // forge-lint: disable-next-line(unsafe-typecast)
            uint256 profit = uint256(pnl);
            // profit in tokens, rounded down: pnl / (price * 1e8) * 10^decimals
            uint256 amount = (profit * 10 ** _collaterals[c].decimals) / (uint256(prices[marketSlots]) * PRICE_SCALE);
            if (_pool[c] < amount) revert MarginEngine__PoolInsufficient(c, _pool[c], amount);
            _pool[c] -= amount;
            bal[c] += amount;
            return 0;
        }
        // casting to 'uint256' is safe because pnl <= 0 and |pnl| < 2^131 (no int256.min)
        // forge-lint: disable-next-line(unsafe-typecast)
        uint256 loss = uint256(-pnl);
        for (uint256 i = 0; i < assets && loss != 0; ++i) {
            uint8 c = order[i];
            uint256 unit = uint256(prices[marketSlots + i]) * PRICE_SCALE; // 1e-16 quote per token
            uint256 scale = 10 ** _collaterals[c].decimals;
            // tokens needed, rounded up
            uint256 take = (loss * scale + unit - 1) / unit;
            if (take <= bal[c]) {
                loss = 0;
            } else {
                take = bal[c];
                loss -= (take * unit) / scale; // value covered, rounded down
            }
            bal[c] -= take;
            _pool[c] += take;
        }
        return loss;
    }

    // ================================================================== internal: commitments

    function _commit(address who, Position[] calldata positions, uint256 salt) private view returns (uint256) {
        uint256 slots = positions.length;
        uint256[4] memory slot;
        for (uint256 i = 0; i < slots; ++i) {
            Position calldata p = positions[i];
            if (p.market >= (slots == 1 ? 1 : MAX_MARKETS)) revert MarginEngine__InvalidPosition(i);
            slot[i] = uint256(p.market) | (uint256(p.long ? 1 : 0) << SIDE_SHIFT) | (uint256(p.size) << SIZE_SHIFT)
                | (uint256(p.entry) << ENTRY_SHIFT);
        }
        uint256 digest = slots == 1 ? slot[0] : IPoseidon4(poseidon4).poseidon(slot);
        return IPoseidon4(poseidon4).poseidon([COMMITMENT_DOMAIN_TAG, uint256(uint160(who)), digest, salt]);
    }

    // ================================================================== internal: checks

    function _openAccount(address who) private view returns (Account storage a) {
        a = _accounts[who];
        if (a.kind == Kind.None) revert MarginEngine__NoAccount(who);
    }

    function _reset(Account storage a) private {
        a.commitment = 0;
        a.kind = Kind.None;
        a.market = 0;
        a.asset = 0;
        a.lastProofAt = 0;
        a.shockAt = 0;
        delete a.provenPriceWords;
    }

    function _requireMarket(uint8 id) private view {
        if (id >= _marketCount) revert MarginEngine__UnknownMarket(id);
    }

    function _requireAsset(uint8 id) private view {
        if (id >= _collateralCount) revert MarginEngine__UnknownAsset(id);
    }

    function _checkRates(uint16 mmrBps, uint16 imrBps) private pure {
        // a listed market needs a non-zero rate: the circuit reads rate 0 as "unused slot"
        if (mmrBps == 0 || mmrBps > imrBps) revert MarginEngine__InvalidBps(mmrBps);
        if (imrBps > BPS) revert MarginEngine__InvalidBps(imrBps);
    }

    function _setProofLifetime(uint64 lifetime) private {
        if (lifetime == 0 || lifetime > MAX_DURATION) revert MarginEngine__InvalidDuration(lifetime);
        proofLifetime = lifetime;
        emit ProofLifetimeSet(lifetime);
    }

    function _setGracePeriod(uint64 grace) private {
        if (grace == 0 || grace > MAX_DURATION) revert MarginEngine__InvalidDuration(grace);
        gracePeriod = grace;
        emit GracePeriodSet(grace);
    }

    function _setShockThreshold(uint16 thresholdBps) private {
        if (thresholdBps == 0 || thresholdBps > BPS) revert MarginEngine__InvalidBps(thresholdBps);
        shockThresholdBps = thresholdBps;
        emit ShockThresholdSet(thresholdBps);
    }

    function _setLiquidationPenalty(uint16 penaltyBps) private {
        if (penaltyBps > MAX_PENALTY_BPS) revert MarginEngine__InvalidBps(penaltyBps);
        liquidationPenaltyBps = penaltyBps;
        emit LiquidationPenaltySet(penaltyBps);
    }
}
