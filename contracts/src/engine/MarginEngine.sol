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
import {IMarginEngine} from "./IMarginEngine.sol";
import {IPoseidon4, Settlement} from "./Settlement.sol";

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
///
///      Gas (benchmarks/gas.py, from mined receipts): a proof costs the verifier (the
///      Groth16 floor) plus what this contract adds, kept to what the statement needs:
///      - prices: in a block where {pushPrices} ran (the keeper's push), one or two cold
///        reads of the price cache; otherwise the adapter, ~20k per distinct feed (its
///        config read, the feed's decimals() and latestRoundData(), every staleness
///        check), each distinct feed once, all in one call ({IOracleAdapter-getPrices});
///      - rates, haircuts and decimals: no read of their own; the account's outage clock
///        word, read anyway, carries a copy of the current policy (see SINCE_SHIFT);
///      - cold reads (2,100 each): commitment, `meta`, balances, the clock word; one
///        write of `meta` [and of `prices` for cross];
///      - the verifier's account, cold (2,600); the event.
///      Layout:
///      - An account is three slots: the commitment; `meta` (kind/market/asset tag, nonce,
///        live proof time, live shock time, policy epoch and the first two proven prices);
///        `prices` (the other four proven prices, cross accounts only).
///      - Per-proof snapshots: every parameter change stores the parameters then in force
///        (lifetime, grace, MMRs, haircuts; also IMRs, decimals and the collateral count,
///        from which the current epoch's word builds a proof's risk inputs) as a new
///        policy epoch; an account keeps the
///        epoch of its last proof (15 bits of `meta`), so admin changes never act on an
///        accepted proof. The current epoch and the current policy's proof fields sit in
///        each outage clock's word, which a proof reads anyway: one cold read (2,100).
///      - Outage clocks: one word per dependency set (cross: every listed feed; isolated:
///        one per market/asset pair), holding the stale time counted so far and the start
///        of the current outage (0 if none); the end of the last one is in `_closedAt`
///        (read only when an outage starts). An account's times
///        are stored on its clock's live scale (live = now − stale time), so stale time
///        counts toward neither its lapse nor its grace.
///      - Both balances of an address share one slot (128 bits each; a balance is below
///        2^96 even normalised to 18 decimals, enforced on deposit).
///      - A listing's oracle feed and risk parameters share one slot; the token address,
///        needed only to move tokens, has its own.
///      - Price cache: two words, each three 64-bit prices and the key (block number and
///        timestamp) of the push (see CACHE_BLOCK_SHIFT).
///      - The reentrancy guard is transient (EIP-1153): same protection, no storage write.
///      - The verifier is called with hand-built calldata (selector, proof, inputs) and its
///        revert data, if any, is bubbled up as a high-level call would.
contract MarginEngine is IMarginEngine, Ownable2Step, ReentrancyGuardTransient {
    using SafeERC20 for IERC20;

    /// @notice BN254 scalar field modulus r: every public input must be below it.
    uint256 public constant SNARK_SCALAR_FIELD = Settlement.SNARK_SCALAR_FIELD;
    /// @notice Domain tag of account commitments: "zkmargin/account/v1" as an integer.
    uint256 public constant COMMITMENT_DOMAIN_TAG = Settlement.COMMITMENT_DOMAIN_TAG;
    uint256 public constant BPS = 10_000;
    uint8 public constant MAX_MARKETS = 4;
    uint8 public constant MAX_ASSETS = 2;
    /// @notice Normalised (18-decimal) balances must stay below 2^96, the circuit's bound.
    uint256 public constant BALANCE_LIMIT = 1 << 96;
    /// @notice Price carried by unused slots in a proof's inputs (prices must be non-zero
    ///         in the circuit). The engine stores an unlisted slot's proven price as 0, so a
    ///         listed slot priced 1e-8 (PAD_PRICE) is still a real price.
    uint64 public constant PAD_PRICE = 1;
    uint64 public constant MAX_DURATION = 365 days;
    /// @notice Largest liquidation penalty (bps of the seized collateral paid to the
    ///         liquidator): bounds what an owner colluding with a keeper could take.
    uint16 public constant MAX_PENALTY_BPS = 2_500;
    /// @notice Largest close fee of a market (bps of the notional at close).
    uint16 public constant MAX_CLOSE_FEE_BPS = 200;
    /// @notice How long a liquidated trader may {reclaim} its equity above the penalty.
    ///      Shorter than the vaults' withdrawal delay (docs/pool.md), so an LP who asks to
    ///      leave after a liquidation exits after the reclaim is paid or forfeited.
    uint64 public constant RECLAIM_WINDOW = 1 days;
    /// @notice Gas forwarded to a verifier: a valid proof needs ~230k (4 pairings and
    ///         k scalar multiplications); a bad point makes a precompile fail and burn all
    ///         the gas it was given, so the forwarded gas is capped.
    uint256 public constant VERIFIER_GAS = 500_000;

    uint256 private constant PRICE_BITS = 64;
    uint256 private constant BALANCE_BITS = 96;
    uint256 private constant BPS_BITS = 14;
    uint256 private constant ADDRESS_BITS = 160;
    uint256 private constant PRICE_MASK = type(uint64).max; // PRICE_BITS ones
    uint256 private constant CROSS_SLOTS = 4;

    /// @dev `Stored.meta`, from the low bits: tag (5: kind 2 | market 2 << 2 | asset 1 << 4),
    ///      nonce (40), provenLive (34), shockLive (34), policy epoch (15), proven prices 0
    ///      and 1 (64 each). 40-bit nonce: 10^12 proofs per account, unreachable; the
    ///      increment is checked, so it could never wrap (it would revert). Live times are
    ///      timestamps minus stale time (below the timestamp): 34 bits last until year 2514.
    uint256 private constant TAG_MASK = 0x1f;
    uint256 private constant NONCE_SHIFT = 5;
    uint256 private constant PROVEN_AT_SHIFT = 45;
    uint256 private constant SHOCK_SHIFT = 79;
    uint256 private constant EPOCH_SHIFT = 113;
    uint256 private constant PRICES_SHIFT = 128;
    uint256 private constant MASK40 = (1 << 40) - 1;
    uint256 private constant MASK34 = (1 << 34) - 1;
    uint256 private constant MASK15 = (1 << 15) - 1;
    /// @dev Outage clock word: staleTotal (40) | staleSince << 40 | the current policy
    ///      word's bits 80..231 in place (MMRs, haircuts, IMRs, decimals, collateral
    ///      count: what a proof's risk inputs need) | current policy epoch << 232. Clock 0:
    ///      cross accounts; 1 + 2·market + asset: isolated accounts on (market, asset).
    ///      A proof reads its clock word anyway (live time, epoch), so its risk inputs
    ///      cost no other read. The end of the clock's last outage, needed only when the
    ///      next one starts, is in `_closedAt`.
    uint256 private constant SINCE_SHIFT = 40;
    uint256 private constant CLOCK_EPOCH_SHIFT = 232;
    /// @dev The clock word's copy of the current policy: bits 80..231.
    uint256 private constant CLOCK_POLICY_MASK = ((uint256(1) << 232) - 1) & ~((uint256(1) << 80) - 1);
    uint256 private constant CLOCKS = 1 + 2 * 4; // 1 + MAX_ASSETS * MAX_MARKETS
    /// @dev Policy word: lifetime (40) | grace << 40 | mmr of market k << 80 + 14k |
    ///      haircut of asset c << 136 + 14c | imr of market k << 164 + 14k |
    ///      (18 − decimals of asset c) << 220 + 5c | collateral count << 230. Everything a
    ///      proof's risk inputs need, so a proof reads this one word (the current epoch's)
    ///      instead of every listing's config word; 0 fields for an unlisted slot.
    uint256 private constant POLICY_GRACE_SHIFT = 40;
    uint256 private constant POLICY_MMR_SHIFT = 80;
    uint256 private constant POLICY_HAIRCUT_SHIFT = 136;
    uint256 private constant POLICY_IMR_SHIFT = 164;
    uint256 private constant POLICY_SCALE_SHIFT = 220;
    uint256 private constant POLICY_ASSETS_SHIFT = 230;
    /// @dev Price cache word c (c < 2): price of market 2c | market 2c + 1 << 64 | asset c
    ///      << 128 | key << 192, 64-bit prices, 0 for a slot unlisted at the push; key =
    ///      block number (low 32 bits) << 32 | timestamp (low 32 bits) of the push. A proof
    ///      uses the cache only under the same key: the same block, at the same time (so
    ///      every heartbeat check the push passed still holds).
    uint256 private constant CACHE_BLOCK_SHIFT = 192;
    uint256 private constant MASK14 = (1 << 14) - 1;
    uint256 private constant MASK128 = type(uint128).max;
    /// @dev Config word of a listing: feed | rate-or-haircut << 160 | imr-or-decimals << 176
    ///      | close fee << 192 (markets only).
    uint256 private constant CFG_LOW_SHIFT = 160; // market: mmrBps; asset: haircutBps
    uint256 private constant CFG_HIGH_SHIFT = 176; // market: imrBps; asset: token decimals
    uint256 private constant CFG_FEE_SHIFT = 192; // market: closeFeeBps
    uint256 private constant U16 = type(uint16).max;

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
        bool withdrawal;
    }

    /// @dev An account in storage (the {IMarginEngine-Account} view unpacks it).
    struct Stored {
        uint256 commitment; // 0 when no account is open
        uint256 meta; // see NONCE_SHIFT..PRICES_SHIFT
        uint256 prices; // proven prices 2..5 (64 bits each); cross accounts only
    }

    IOracleAdapter public immutable oracle;
    address public immutable isolatedVerifier;
    address public immutable crossVerifier;
    address public immutable poseidon4;

    uint64 public proofLifetime;
    uint64 public gracePeriod;
    uint16 public liquidationPenaltyBps;
    /// @notice The policy epoch new proofs are accepted under (see {policyOf}).
    uint16 public policyEpoch;

    uint8 private _marketCount;
    uint8 private _collateralCount;
    /// @dev market id -> feed | mmrBps << 160 | imrBps << 176 (0: unlisted)
    uint256[4] private _marketCfg;
    /// @dev asset id -> feed | haircutBps << 160 | decimals << 176 (0: unlisted)
    uint256[2] private _assetCfg;
    address[2] private _tokens;
    /// @dev asset id -> its vault (counterparty and insurance fund; docs/pool.md)
    IMarginPool[2] private _pools;
    mapping(address who => Stored state) private _accounts;
    /// @dev who -> balance of asset 0 | balance of asset 1 << 128, in token units. Each is
    ///      below 2^96 (deposit refuses a normalised balance >= 2^96 and a token amount is
    ///      at most its normalised amount), so it fits its 128 bits.
    mapping(address who => uint256 packed) private _balances;
    /// @dev who -> nonce at liquidation -> keccak256(abi.encode(record)) until reclaimed
    ///      (one word per liquidation; the record itself is in {LiquidationRecorded}).
    mapping(address who => mapping(uint64 nonce => bytes32 record)) private _liquidations;
    /// @dev Outage clocks (see SINCE_SHIFT).
    uint256[CLOCKS] private _clocks;
    /// @dev Outage clock id -> end of its last outage (0 if none yet); read when an
    ///      outage starts (it never starts before the last one ended).
    uint64[CLOCKS] private _closedAt;
    /// @dev epoch -> policy word (see POLICY_GRACE_SHIFT).
    mapping(uint256 epoch => uint256 word) private _policy;
    /// @dev The prices of {pushPrices} (see CACHE_BLOCK_SHIFT); used by proofs in the
    ///      block of the push only.
    uint256[2] private _priceCache;

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
        uint16 penaltyBps
    ) Ownable(initialOwner) {
        if (block.chainid >= 1 << 64) revert MarginEngine__ChainIdTooLarge(block.chainid);
        oracle = oracle_;
        isolatedVerifier = isolatedVerifier_;
        crossVerifier = crossVerifier_;
        poseidon4 = poseidon4_;
        _setProofLifetime(lifetime);
        _setGracePeriod(grace);
        _setLiquidationPenalty(penaltyBps);
        _snapshot();
    }

    // ================================================================== admin

    /// @inheritdoc IMarginEngine
    function listMarket(address feed, uint16 mmrBps, uint16 imrBps) external onlyOwner returns (uint8 id) {
        if (_marketCount == MAX_MARKETS) revert MarginEngine__TooManyListings();
        if (!oracle.isRegistered(feed)) revert MarginEngine__FeedNotRegistered(feed);
        _checkRates(mmrBps, imrBps);
        id = _marketCount++;
        // a registered feed is never address(0) (the adapter refuses it), so a listed
        // market's config word is never 0
        _marketCfg[id] =
            uint256(uint160(feed)) | (uint256(mmrBps) << CFG_LOW_SHIFT) | (uint256(imrBps) << CFG_HIGH_SHIFT);
        emit MarketListed(id, feed, mmrBps, imrBps);
        delete _priceCache; // a push before this listing has no price for it
        _snapshot();
    }

    /// @inheritdoc IMarginEngine
    function setMarketRisk(uint8 id, uint16 mmrBps, uint16 imrBps) external onlyOwner {
        _requireMarket(id);
        _checkRates(mmrBps, imrBps);
        _marketCfg[id] = (_marketCfg[id] & ~((U16 << CFG_LOW_SHIFT) | (U16 << CFG_HIGH_SHIFT)))
            | (uint256(mmrBps) << CFG_LOW_SHIFT) | (uint256(imrBps) << CFG_HIGH_SHIFT);
        emit MarketRiskSet(id, mmrBps, imrBps);
        _snapshot();
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
        _tokens[id] = token;
        _assetCfg[id] =
            uint256(uint160(feed)) | (uint256(haircutBps) << CFG_LOW_SHIFT) | (uint256(decimals) << CFG_HIGH_SHIFT);
        emit CollateralListed(id, token, feed, haircutBps, decimals);
        delete _priceCache;
        _snapshot();
    }

    /// @inheritdoc IMarginEngine
    function setHaircut(uint8 id, uint16 haircutBps) external onlyOwner {
        _requireAsset(id);
        if (haircutBps > BPS) revert MarginEngine__InvalidBps(haircutBps);
        uint256 cfg = _assetCfg[id];
        _assetCfg[id] = (cfg & ~(U16 << CFG_LOW_SHIFT)) | (uint256(haircutBps) << CFG_LOW_SHIFT);
        emit HaircutSet(id, haircutBps);
        _snapshot();
    }

    /// @inheritdoc IMarginEngine
    /// @dev Acts on proofs accepted from now on; an accepted proof keeps its own.
    function setProofLifetime(uint64 lifetime) external onlyOwner {
        _setProofLifetime(lifetime);
        _snapshot();
    }

    /// @inheritdoc IMarginEngine
    /// @dev Acts on proofs accepted from now on; an accepted proof keeps its own.
    function setGracePeriod(uint64 grace) external onlyOwner {
        _setGracePeriod(grace);
        _snapshot();
    }

    /// @inheritdoc IMarginEngine
    function setLiquidationPenalty(uint16 penaltyBps) external onlyOwner {
        _setLiquidationPenalty(penaltyBps);
    }

    /// @inheritdoc IMarginEngine
    function setPool(uint8 asset, IMarginPool vault) external onlyOwner {
        _requireAsset(asset);
        if (address(_pools[asset]) != address(0)) revert MarginEngine__PoolAlreadySet(asset);
        address token = _tokens[asset];
        if (vault.asset() != token || vault.engine() != address(this)) {
            revert MarginEngine__InvalidPool(address(vault));
        }
        _pools[asset] = vault;
        emit PoolSet(asset, address(vault));
        // the vault pulls only in receiveLoss/receivePenalty, only from its engine, only
        // the amount the engine passes
        IERC20(token).forceApprove(address(vault), type(uint256).max);
    }

    /// @inheritdoc IMarginEngine
    function setCloseFee(uint8 id, uint16 feeBps) external onlyOwner {
        _requireMarket(id);
        if (feeBps > MAX_CLOSE_FEE_BPS) revert MarginEngine__InvalidBps(feeBps);
        _marketCfg[id] = (_marketCfg[id] & ~(U16 << CFG_FEE_SHIFT)) | (uint256(feeBps) << CFG_FEE_SHIFT);
        emit CloseFeeSet(id, feeBps);
    }

    /// @notice Disabled: an ownerless engine could never list or fix a market again.
    function renounceOwnership() public view override onlyOwner {
        revert MarginEngine__RenounceDisabled();
    }

    // ================================================================== anyone

    /// @inheritdoc IMarginEngine
    /// @dev The shrunk move set. A proof at prices P with rates r (MMR for a maintenance
    ///      proof; IMR ≥ MMR otherwise, so MMR is the smaller, certified box) shows
    ///      Σ_c b_c·Q_c·(1 − h_c) + PnL(P) ≥ R := Σ_i s_i·P_i·r_i. At prices P' with
    ///      |P'_k − P_k| ≤ (1 − pen)·r_k·P_k on every market and Q'_c ≥ Q_c·(1 − (1 − pen)·h_c)
    ///      on every asset, the true equity E' = Σ b_c·Q'_c + PnL(P') satisfies
    ///      E' ≥ Σ b_c·(Q'_c − Q_c·(1 − h_c)) + R − (1 − pen)·R ≥ pen·(R + Σ_c b_c·Q_c·h_c):
    ///      the account still holds the penalty share of the margin it proved. The test
    ///      is exact integer arithmetic (no rounding), rates and haircuts are those of the
    ///      account's policy epoch, the penalty the current one; a slot unlisted when the
    ///      account proved (stored price 0) is ignored, a listed slot priced 1e-8 is not.
    function flagShock(address who) external nonReentrant {
        Stored storage s = _accounts[who];
        uint256 meta = s.meta;
        Kind kind = _openKind(who, meta);
        if ((meta >> SHOCK_SHIFT) & MASK34 != 0) revert MarginEngine__ShockPending(who);
        (bool outside, uint256 slot, uint256 proven, uint256 price) = _leftMoveSet(s, meta, kind);
        if (!outside) revert MarginEngine__InsideProvenSet(who);
        // the prices were just read: the account's feeds are fresh
        uint256 clock = _freshClock(meta, _clocks[_clockOf(meta)]);
        s.meta = meta | (_live(clock) << SHOCK_SHIFT); // shockLive was 0 (checked above)
        // casting to 'uint8'/'uint64' is safe: slot < 6, prices < 2^64
        // forge-lint: disable-next-line(unsafe-typecast)
        emit MoveSetLeft(who, uint8(slot), uint64(proven), uint64(price));
        emit ShockFlagged(who, msg.sender, uint64(block.timestamp));
    }

    /// @inheritdoc IMarginEngine
    /// @dev Reads every listed slot through the adapter (every check of
    ///      {IOracleAdapter-getPrice}; reverts if any feed fails one) and stores the prices
    ///      with the block number and time. Proofs of this block then read one or two words instead
    ///      of the adapter and the feeds; flagShock, close and liquidate always read the
    ///      adapter. A later push in the same block overwrites the words.
    function pushPrices() external {
        (uint256[6] memory cfg, uint256 n,) = _slotConfigOf(false, 0, 0);
        (uint256 w0, uint256 w1) = _priceWords(cfg, n, 0); // m0 m1 m2 | m3 a0 a1, unlisted 0
        uint256 b = _cacheKey() << CACHE_BLOCK_SHIFT;
        // word 0: m0 | m1 << 64 | a0 << 128; word 1: m2 | m3 << 64 | a1 << 128
        _priceCache[0] = (w0 & MASK128) | (((w1 >> PRICE_BITS) & PRICE_MASK) << (2 * PRICE_BITS)) | b;
        _priceCache[1] = (w0 >> (2 * PRICE_BITS)) | ((w1 & PRICE_MASK) << PRICE_BITS) | (w1 & ~MASK128) | b;
    }

    /// @inheritdoc IMarginEngine
    function pokeStale(address who) external nonReentrant {
        uint256 meta = _accounts[who].meta;
        _openKind(who, meta);
        uint256 id = _clockOf(meta);
        (uint256 word, bool changed, uint256 closed) = _syncedClock(id);
        if (changed) _storeClock(id, word, closed);
    }

    /// @inheritdoc IMarginEngine
    /// @dev The reward is `balance * penalty / 10000` rounded down per asset; the asset's
    ///      vault gets the rest (receivePenalty), so no unit is lost or created.
    ///      The account's outage clock is brought up to date first (as {pokeStale}), so an
    ///      outage nobody poked still stops the clocks.
    function liquidate(address who) external nonReentrant {
        Stored storage s = _accounts[who];
        uint256 meta = s.meta;
        Kind kind = _openKind(who, meta);
        {
            uint256 id = _clockOf(meta);
            (uint256 clock, bool changed, uint256 closed) = _syncedClock(id);
            if (changed) _storeClock(id, clock, closed);
            (bool now_,) = _liquidatable(meta, clock);
            if (!now_) revert MarginEngine__NotLiquidatable(who);
        }
        uint256 bal = _balances[who];
        (uint256[2] memory reward, uint256[2] memory toPool) = _penaltySplit(bal);
        if (bal != 0) _balances[who] = 0;
        _record(who, s.commitment, meta, kind, toPool);
        _reset(s, meta, kind);
        emit Liquidated(who, msg.sender, reward, toPool);
        for (uint256 c = 0; c < MAX_ASSETS; ++c) {
            // casting to 'uint8' is safe: c < MAX_ASSETS
            // forge-lint: disable-next-line(unsafe-typecast)
            if (toPool[c] != 0) _poolOf(uint8(c)).receivePenalty(toPool[c]);
            if (reward[c] != 0) IERC20(_tokens[c]).safeTransfer(msg.sender, reward[c]);
        }
    }

    /// @dev The liquidation reward of the balances word `bal`: `penalty` bps of each asset's
    ///      balance, rounded down; `rest` is what is left of each (the escrow).
    function _penaltySplit(uint256 bal) private view returns (uint256[2] memory reward, uint256[2] memory rest) {
        uint256 penalty = liquidationPenaltyBps;
        for (uint256 c = 0; c < MAX_ASSETS; ++c) {
            uint256 b = (bal >> (128 * c)) & MASK128;
            if (b == 0) continue; // nothing to split (an isolated account's other asset)
            reward[c] = (b * penalty) / BPS;
            rest[c] = b - reward[c];
        }
    }

    /// @dev Stores the hash of what {reclaim} needs (layout: {LiquidationRecorded}): the
    ///      commitment, the escrowed balances, and the account's prices (read now: reverts
    ///      while a feed is stale) and close fees at this moment.
    function _record(address who, uint256 commitment, uint256 meta, Kind kind, uint256[2] memory escrowed) private {
        (uint256[6] memory cfg, uint256 n, uint256 k) = _slotConfig(kind, meta);
        uint256[6] memory r;
        r[0] = commitment;
        // forge-lint: disable-next-line(block-timestamp)
        r[1] = (meta & TAG_MASK) | ((block.timestamp + RECLAIM_WINDOW) << 8);
        r[2] = escrowed[0] | (escrowed[1] << 128);
        (r[3], r[4]) = _priceWords(cfg, n, PAD_PRICE);
        for (uint256 i = 0; i < k; ++i) {
            r[5] |= ((cfg[i] >> CFG_FEE_SHIFT) & U16) << (16 * i);
        }
        uint64 nonce = _nonceOf(meta);
        _liquidations[who][nonce] = keccak256(abi.encode(r));
        emit LiquidationRecorded(who, nonce, r);
    }

    /// @inheritdoc IMarginEngine
    /// @dev The keeper keeps its reward; self-liquidation from a second address therefore
    ///      pays reward + (escrowed + PnL − fee) = the balances + PnL − fee: what closing at
    ///      the liquidation prices pays, never more (test/MarginEngineReclaim.t.sol).
    function reclaim(uint64 nonce, uint256[6] calldata r, Position[] calldata positions, uint256 salt)
        external
        nonReentrant
    {
        bool isolated = _openRecord(nonce, r, positions, salt);
        Settlement.Legs memory st = _recordSettlement(positions, r);
        _payBack(st, nonce, isolated ? _assetOf(r[1]) : 0);
    }

    /// @dev {reclaim}'s checks, in order: the record is the caller's at `nonce`, in its
    ///      window, and the positions and salt open its commitment; then it is consumed.
    ///      Returns whether the account was isolated.
    function _openRecord(uint64 nonce, uint256[6] calldata r, Position[] calldata positions, uint256 salt)
        private
        returns (bool isolated)
    {
        bytes32 key = _liquidations[msg.sender][nonce];
        if (key == 0 || key != keccak256(abi.encode(r))) revert MarginEngine__NoLiquidation(msg.sender, nonce);
        uint64 deadline = uint64(r[1] >> 8); // written from a timestamp: fits
        // forge-lint: disable-next-line(block-timestamp)
        if (block.timestamp > deadline) revert MarginEngine__ReclaimExpired(deadline);
        isolated = _kind(r[1]) == Kind.Isolated;
        _requireOpens(positions, salt, isolated ? 1 : CROSS_SLOTS, r[0]);
        delete _liquidations[msg.sender][nonce];
    }

    /// @dev The settlement of a liquidation record, by the {Settlement} library.
    function _recordSettlement(Position[] calldata positions, uint256[6] calldata r)
        private
        view
        returns (Settlement.Legs memory)
    {
        return Settlement.settleRecord(positions, r, _decimals(), _collateralCount);
    }

    /// @dev {reclaim}'s payments: the loss and fee legs are already in the vaults (they
    ///      received the escrow), so each vault pays back the escrow left plus the profit
    ///      leg (an IOU if short); uncovered loss is bad debt in the vault of `first`.
    function _payBack(Settlement.Legs memory st, uint64 nonce, uint8 first) private {
        uint256[2] memory paid = [st.refund[0] + st.fromPool[0], st.refund[1] + st.fromPool[1]];
        emit Reclaimed(msg.sender, nonce, st.pnl, st.fee, st.badDebt, paid);
        // every leg from the vaults: the escrow is there
        st.toPool = [uint256(0), 0];
        st.fromPool = paid;
        st.refund = [uint256(0), 0];
        Settlement.payOut(st, first, _pools, _tokens);
    }

    // ================================================================== trader

    /// @inheritdoc IMarginEngine
    function deposit(uint8 asset, uint256 amount) external nonReentrant {
        _requireAsset(asset);
        uint256 meta = _accounts[msg.sender].meta;
        if (_kind(meta) == Kind.Isolated && asset != _assetOf(meta)) revert MarginEngine__WrongAsset(asset);
        uint256 received = _pull(asset, amount);
        uint256 bal = _balances[msg.sender];
        uint256 shift = 128 * uint256(asset);
        uint256 updated = ((bal >> shift) & MASK128) + received;
        uint256 normalised = _normalise(_assetCfg[asset], updated);
        if (normalised >= BALANCE_LIMIT) revert MarginEngine__BalanceTooLarge(normalised);
        // updated <= normalised < 2^96: fits its 128 bits
        _balances[msg.sender] = (bal & ~(MASK128 << shift)) | (updated << shift);
        emit Deposited(msg.sender, asset, received);
    }

    /// @inheritdoc IMarginEngine
    function openIsolated(uint256 commitment, uint8 mkt, uint8 asset, Proof calldata proof) external nonReentrant {
        _requireMarket(mkt);
        _requireAsset(asset);
        uint8 other = asset == 0 ? 1 : 0;
        if ((_balances[msg.sender] >> (128 * uint256(other))) & MASK128 != 0) revert MarginEngine__WrongAsset(other);
        _open(commitment, Kind.Isolated, mkt, asset, proof);
    }

    /// @inheritdoc IMarginEngine
    function openCross(uint256 commitment, Proof calldata proof) external nonReentrant {
        _open(commitment, Kind.Cross, 0, 0, proof);
    }

    /// @inheritdoc IMarginEngine
    function proveMargin(Proof calldata proof) external nonReentrant {
        Stored storage s = _accounts[msg.sender];
        uint256 meta = s.meta;
        _openKind(msg.sender, meta);
        Statement memory st = _statement(msg.sender, s, meta, false, false);
        uint256 prices = _prove(s, meta, st, _balances[msg.sender], _clocks[_clockOf(meta)], proof);
        emit MarginProven(msg.sender, st.nonce, prices);
    }

    /// @inheritdoc IMarginEngine
    function withdraw(uint8 asset, uint256 amount, Proof calldata proof) external nonReentrant {
        Stored storage s = _accounts[msg.sender];
        uint256 meta = s.meta;
        uint256 clock = _clocks[_clockOf(meta)];
        _requireOwnAsset(_openKind(msg.sender, meta), meta, asset, clock);
        uint256 remaining = _debited(msg.sender, asset, amount);
        _prove(s, meta, _statement(msg.sender, s, meta, true, true), remaining, clock, proof);
        _balances[msg.sender] = remaining;
        emit Withdrawn(msg.sender, asset, amount, _nonceOf(meta));
        IERC20(_tokens[asset]).safeTransfer(msg.sender, amount);
    }

    /// @inheritdoc IMarginEngine
    function withdrawIdle(uint8 asset, uint256 amount) external nonReentrant {
        uint256 meta = _accounts[msg.sender].meta;
        if (_kind(meta) != Kind.None) revert MarginEngine__AccountExists(msg.sender);
        _requireAsset(asset);
        _balances[msg.sender] = _debited(msg.sender, asset, amount);
        emit Withdrawn(msg.sender, asset, amount, _nonceOf(meta));
        IERC20(_tokens[asset]).safeTransfer(msg.sender, amount);
    }

    /// @inheritdoc IMarginEngine
    /// @dev PnL = sum of ±size * (price - entry) and the fee sum of size * price * closeFee,
    ///      in 1e-16 quote at the current oracle prices; PnL - fee settles in legs per asset
    ///      ({Settlement-settleClose}) against the vaults. Haircuts do not apply at close.
    ///      A liquidatable account first pays its owner the reward {liquidate} would pay
    ///      ({CloseRewarded}); the rest (the escrow) then settles as above: the trader gets
    ///      what liquidating oneself and reclaiming pays, at the pool's cost of a liquidation.
    function close(Position[] calldata positions, uint256 salt) external nonReentrant {
        Stored storage s = _accounts[msg.sender];
        uint256 meta = s.meta;
        Kind kind = _openKind(msg.sender, meta);
        bool isolated = kind == Kind.Isolated;
        _requireOpens(positions, salt, isolated ? 1 : CROSS_SLOTS, s.commitment);

        uint256[2] memory reward = _closeReward(meta);
        Settlement.Legs memory st = _closeOut(positions, meta, kind, reward);
        _reset(s, meta, kind);
        emit AccountClosed(msg.sender, st.pnl, st.fee, st.badDebt, st.toPool, st.fromPool, st.refund);
        st.refund = [st.refund[0] + reward[0], st.refund[1] + reward[1]]; // one transfer per asset
        _payOut(st, isolated ? _assetOf(meta) : 0);
    }

    /// @dev The reward {liquidate} would pay for the caller's account now (0 unless it is
    ///      liquidatable), emitted in {CloseRewarded}. The prices {_closeOut} reads are
    ///      fresh, so the clock is {liquidate}'s: the stored one, any outage it counts closed.
    function _closeReward(uint256 meta) private returns (uint256[2] memory reward) {
        (bool lapsed,) = _liquidatable(meta, _freshClock(meta, _clocks[_clockOf(meta)]));
        if (!lapsed) return reward;
        (reward,) = _penaltySplit(_balances[msg.sender]);
        emit CloseRewarded(msg.sender, reward);
    }

    /// @dev Moves a settlement's tokens (after every storage write: checks-effects-
    ///      interactions): loss and fee to each asset's vault, profit from it (the vault
    ///      pays the trader directly, or records an IOU: never a revert for lack of funds),
    ///      the rest of the balances back; the uncovered loss is recorded as bad debt in
    ///      the vault of `first` (the account's first asset), in its tokens rounded up.
    function _payOut(Settlement.Legs memory st, uint8 first) private {
        Settlement.payOut(st, first, _pools, _tokens);
    }

    /// @dev The vault of `asset`; reverts if none is set.
    function _poolOf(uint8 asset) private view returns (IMarginPool p) {
        p = _pools[asset];
        if (address(p) == address(0)) revert MarginEngine__PoolNotSet(asset);
    }

    /// @dev {close}'s settlement at the current prices and fees of the caller's balances
    ///      less `reward` (by the {Settlement} library); the balances are cleared (paid out
    ///      by {_payOut}).
    function _closeOut(Position[] calldata positions, uint256 meta, Kind kind, uint256[2] memory reward)
        private
        returns (Settlement.Legs memory st)
    {
        (uint256[6] memory cfg, uint256 n, uint256 k) = _slotConfig(kind, meta);
        uint256 bal = _balances[msg.sender];
        st = Settlement.settleClose(
            positions,
            _pricesOf(cfg, n, PAD_PRICE),
            _feesOf(cfg, k),
            _shapeOf(meta, kind),
            [(bal & MASK128) - reward[0], (bal >> 128) - reward[1]],
            _decimals()
        );
        if (bal != 0) _balances[msg.sender] = 0;
    }

    /// @dev The account's tag and its collateral slots << 8: 1 isolated (no storage read),
    ///      the listed count cross.
    function _shapeOf(uint256 meta, Kind kind) private view returns (uint256) {
        return (meta & TAG_MASK) | ((kind == Kind.Isolated ? 1 : uint256(_collateralCount)) << 8);
    }

    /// @dev Token decimals by asset id (0 for an unlisted asset).
    function _decimals() private view returns (uint8[2] memory d) {
        // casting truncates on purpose: the decimals field of the config words
        // forge-lint: disable-next-line(unsafe-typecast)
        d = [uint8(_assetCfg[0] >> CFG_HIGH_SHIFT), uint8(_assetCfg[1] >> CFG_HIGH_SHIFT)];
    }

    /// @dev The close fee of each market slot of `cfg` (the first `k` slots).
    function _feesOf(uint256[6] memory cfg, uint256 k) private pure returns (uint16[4] memory fees) {
        for (uint256 i = 0; i < k; ++i) {
            // casting truncates on purpose: the fee field of the config word
            // forge-lint: disable-next-line(unsafe-typecast)
            fees[i] = uint16(cfg[i] >> CFG_FEE_SHIFT);
        }
    }

    // ================================================================== views

    /// @inheritdoc IMarginEngine
    function account(address who) external view returns (Account memory) {
        Account memory a;
        Stored storage s = _accounts[who];
        uint256 meta = s.meta;
        a.commitment = s.commitment;
        a.kind = _kind(meta);
        a.market = _marketOf(meta);
        a.asset = _assetOf(meta);
        a.nonce = _nonceOf(meta);
        if (a.kind == Kind.None) return a;
        (uint256 clock,,) = _syncedClock(_clockOf(meta));
        uint256 stale = _staleTime(clock);
        uint256 provenLive = (meta >> PROVEN_AT_SHIFT) & MASK34;
        uint256 shockLive = (meta >> SHOCK_SHIFT) & MASK34;
        // casting to 'uint64' is safe: 34-bit live times plus stale time below 2^40
        // forge-lint: disable-next-line(unsafe-typecast)
        a.lastProofAt = uint64(provenLive + stale);
        // forge-lint: disable-next-line(unsafe-typecast)
        a.shockAt = shockLive == 0 ? 0 : uint64(shockLive + stale);
        (a.provenPriceWords[0], a.provenPriceWords[1]) = _provenWords(s, meta, a.kind);
        uint256 policy = _policy[_epochOf(meta)];
        // forge-lint: disable-next-line(unsafe-typecast)
        a.lifetime = uint64(policy & MASK40);
        // forge-lint: disable-next-line(unsafe-typecast)
        a.grace = uint64((policy >> POLICY_GRACE_SHIFT) & MASK40);
        return a;
    }

    /// @inheritdoc IMarginEngine
    function balanceOf(address who, uint8 asset) external view returns (uint256) {
        // an id >= MAX_ASSETS panics (0x32) as the unpacked uint256[2] did
        uint256[MAX_ASSETS] memory bal = [_balances[who] & MASK128, _balances[who] >> 128];
        return bal[asset];
    }

    /// @inheritdoc IMarginEngine
    function pool(uint8 asset) external view returns (IMarginPool) {
        return _pools[asset];
    }

    /// @inheritdoc IMarginEngine
    function liquidationOf(address who, uint64 nonce) external view returns (bytes32) {
        return _liquidations[who][nonce];
    }

    /// @inheritdoc IMarginEngine
    function market(uint8 id) external view returns (Market memory) {
        _requireMarket(id);
        uint256 cfg = _marketCfg[id];
        // casting truncates on purpose: the config word's fields, low bits first
        // forge-lint: disable-next-line(unsafe-typecast)
        uint16 mmrBps = uint16(cfg >> CFG_LOW_SHIFT);
        // forge-lint: disable-next-line(unsafe-typecast)
        uint16 imrBps = uint16(cfg >> CFG_HIGH_SHIFT);
        // forge-lint: disable-next-line(unsafe-typecast)
        address feed = address(uint160(cfg));
        // forge-lint: disable-next-line(unsafe-typecast)
        uint16 feeBps = uint16(cfg >> CFG_FEE_SHIFT);
        return Market({feed: feed, mmrBps: mmrBps, imrBps: imrBps, closeFeeBps: feeBps});
    }

    /// @inheritdoc IMarginEngine
    function collateral(uint8 id) external view returns (Collateral memory) {
        _requireAsset(id);
        uint256 cfg = _assetCfg[id];
        // casting truncates on purpose: the config word's fields, low bits first
        // forge-lint: disable-next-line(unsafe-typecast)
        uint16 haircutBps = uint16(cfg >> CFG_LOW_SHIFT);
        // forge-lint: disable-next-line(unsafe-typecast)
        uint8 decimals = uint8(cfg >> CFG_HIGH_SHIFT);
        // forge-lint: disable-next-line(unsafe-typecast)
        address feed = address(uint160(cfg));
        return Collateral({token: _tokens[id], feed: feed, haircutBps: haircutBps, decimals: decimals});
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
        uint256 meta = _accounts[who].meta;
        if (_kind(meta) == Kind.None) return (false, type(uint64).max);
        (uint256 clock,,) = _syncedClock(_clockOf(meta));
        return _liquidatable(meta, clock);
    }

    /// @inheritdoc IMarginEngine
    function flaggable(address who) external view returns (bool outside) {
        Stored storage s = _accounts[who];
        uint256 meta = s.meta;
        Kind kind = _kind(meta);
        if (kind == Kind.None || (meta >> SHOCK_SHIFT) & MASK34 != 0) return false;
        (outside,,,) = _leftMoveSet(s, meta, kind);
    }

    /// @notice The policy of epoch `epoch`: proof lifetime, grace period, the MMR of each
    ///         market slot and the haircut of each asset slot then in force.
    function policyOf(uint16 epoch)
        external
        view
        returns (uint64 lifetime, uint64 grace, uint16[4] memory mmrBps, uint16[2] memory haircutBps)
    {
        uint256 w = _policy[epoch];
        // casting to 'uint64'/'uint16' is safe: masked to 40 and 14 bits
        // forge-lint: disable-next-line(unsafe-typecast)
        lifetime = uint64(w & MASK40);
        // forge-lint: disable-next-line(unsafe-typecast)
        grace = uint64((w >> POLICY_GRACE_SHIFT) & MASK40);
        for (uint256 k = 0; k < MAX_MARKETS; ++k) {
            // forge-lint: disable-next-line(unsafe-typecast)
            mmrBps[k] = uint16((w >> (POLICY_MMR_SHIFT + BPS_BITS * k)) & MASK14);
        }
        for (uint256 c = 0; c < MAX_ASSETS; ++c) {
            // forge-lint: disable-next-line(unsafe-typecast)
            haircutBps[c] = uint16((w >> (POLICY_HAIRCUT_SHIFT + BPS_BITS * c)) & MASK14);
        }
    }

    /// @notice An outage clock (0: cross accounts; 1 + 2·market + asset: isolated ones) as
    ///         {pokeStale} would leave it now: stale time counted, start of the current
    ///         outage (0 if none).
    function staleClock(uint8 id) external view returns (uint64 staleTotal, uint64 staleSince) {
        (uint256 w,,) = _syncedClock(id);
        // casting to 'uint64' is safe: masked to 40 bits
        // forge-lint: disable-next-line(unsafe-typecast)
        return (uint64(w & MASK40), uint64((w >> SINCE_SHIFT) & MASK40));
    }

    /// @inheritdoc IMarginEngine
    function publicInputs(address who, bool initial, uint8 withdrawAsset, uint256 withdrawAmount)
        external
        view
        returns (uint256[] memory inputs)
    {
        Stored storage s = _accounts[who];
        uint256 meta = s.meta;
        Kind kind = _openKind(who, meta);
        uint256 bal = _balances[who];
        if (withdrawAmount != 0) {
            // the same checks as {withdraw}, so a preview never panics or shows a refused withdrawal
            _requireOwnAsset(kind, meta, withdrawAsset, _clocks[_clockOf(meta)]);
            bal = _debited(who, withdrawAsset, withdrawAmount);
        }
        Statement memory st = _statement(who, s, meta, initial, withdrawAmount != 0);
        (inputs,,) = _inputs(st, bal, _clocks[_clockOf(meta)]);
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
        uint64 nonce = _nonceOf(_accounts[who].meta);
        Statement memory st = Statement(who, commitment, kind, mkt, asset, nonce, true, true, false);
        (inputs,,) = _inputs(st, _balances[who], _clocks[_clockId(kind == Kind.Isolated, mkt, asset)]);
    }

    // ================================================================== internal: proofs

    function _open(uint256 commitment, Kind kind, uint8 mkt, uint8 asset, Proof calldata proof) private {
        Stored storage s = _accounts[msg.sender];
        uint256 meta = s.meta;
        if (_kind(meta) != Kind.None) revert MarginEngine__AccountExists(msg.sender);
        if (commitment == 0 || commitment >= SNARK_SCALAR_FIELD) revert MarginEngine__InvalidCommitment(commitment);
        Statement memory st = Statement(msg.sender, commitment, kind, mkt, asset, _nonceOf(meta), true, true, false);
        // a closed account keeps only its nonce in `meta`: set the new tag on it
        meta |= uint256(kind) | (uint256(mkt) << 2) | (uint256(asset) << 4);
        _prove(s, meta, st, _balances[msg.sender], _clocks[_clockOf(meta)], proof);
        s.commitment = commitment;
        emit AccountOpened(msg.sender, kind, commitment, mkt, asset, st.nonce);
    }

    /// @dev A proof of statement `st` with balances `bal` (packed token units) for the
    ///      account in `s`: builds its inputs ({_inputs}; `clock` is the word of the
    ///      account's outage clock, read by the caller), verifies, and records it
    ///      ({_accept}; `meta` with the account's tag). Returns the first price input.
    function _prove(
        Stored storage s,
        uint256 meta,
        Statement memory st,
        uint256 bal,
        uint256 clock,
        Proof calldata proof
    ) private returns (uint256) {
        (uint256[] memory inputs, uint256 w0, uint256 w1) = _inputs(st, bal, clock);
        _verify(st.kind, inputs, proof);
        _accept(s, meta, st.kind, w0, w1, clock);
        return inputs[1];
    }

    /// @dev Builds the public inputs of the statement's circuit (layout in {IMarginEngine})
    ///      and returns the proven price words to store: the input words with 0 for a
    ///      cross slot unlisted now (its input carries the pad price), so that a listed
    ///      slot priced 1e-8 stays distinguishable (and is checked by flagShock).
    ///      Prices: the cache when {pushPrices} ran in this block, else the adapter.
    ///      Rates, haircuts and decimals: the current policy's copy in `clock`, the word of
    ///      the statement's outage clock (see SINCE_SHIFT), which {_accept} uses next.
    function _inputs(Statement memory st, uint256 bal, uint256 clock)
        private
        view
        returns (uint256[] memory inputs, uint256 w0, uint256 w1)
    {
        bool isolated = st.kind == Kind.Isolated;
        (w0, w1) = _provingPrices(isolated, st.market, st.asset, clock);
        // checked again here, not only at deployment: a chain id changed by a fork and
        // >= 2^96 would be truncated by the shift below (a replay across chains)
        if (block.chainid >= 1 << 64) revert MarginEngine__ChainIdTooLarge(block.chainid);
        inputs = new uint256[](isolated ? 6 : 7);
        inputs[0] = st.commitment;
        inputs[1] = _padded(w0, isolated ? 2 : 3);
        uint256 at = 2;
        if (!isolated) inputs[at++] = _padded(w1, 3);
        (inputs[at], inputs[at + 1]) = _risk(clock, st, bal);
        at += 2;
        inputs[at++] = uint256(uint160(st.who)) | (uint256(st.nonce) << ADDRESS_BITS);
        inputs[at] = uint256(uint160(address(this))) | (block.chainid << ADDRESS_BITS);
    }

    /// @dev The price words of slots `cfg[0..n)`: 3 prices of 64 bits per word, first slot
    ///      in the low bits (an isolated account's words are p0 | p1 << 64 and 0).
    function _priceWords(uint256[6] memory cfg, uint256 n, uint256 pad) private view returns (uint256 w0, uint256 w1) {
        uint64[6] memory p = _pricesOf(cfg, n, pad); // entries from n on are 0
        // p[i] occupies word i of the array (a uint64 in memory: upper bits clean)
        assembly ("memory-safe") {
            w0 := or(mload(p), or(shl(64, mload(add(p, 0x20))), shl(128, mload(add(p, 0x40)))))
            w1 := or(mload(add(p, 0x60)), or(shl(64, mload(add(p, 0x80))), shl(128, mload(add(p, 0xa0)))))
        }
    }

    /// @dev The stored-form price words of a statement: from the cache when pushed in
    ///      this block, else from the adapter (0 for a cross slot unlisted now). A cross
    ///      statement's listed slots come from `clock`'s copy of the current policy (a
    ///      market is listed iff its MMR is non-zero, an asset iff below the collateral
    ///      count: every listing takes a new snapshot), not from the counts' slot.
    function _provingPrices(bool isolated, uint256 mkt, uint256 asset, uint256 clock)
        private
        view
        returns (uint256 w0, uint256 w1)
    {
        bool hit;
        (w0, w1, hit) = _cachedWords(isolated, mkt, asset);
        if (hit) return (w0, w1);
        if (isolated) {
            // casting to 'uint8' is safe: ids below MAX_MARKETS / MAX_ASSETS
            // forge-lint: disable-next-line(unsafe-typecast)
            (uint256[6] memory cfg,,) = _slotConfigOf(true, uint8(mkt), uint8(asset));
            return _priceWords(cfg, 2, 0);
        }
        return _priceWords(_listedConfig(clock), MAX_MARKETS + MAX_ASSETS, 0);
    }

    /// @dev The config words of the cross slots listed in `clock`'s copy of the current
    ///      policy (0 for an unlisted slot).
    function _listedConfig(uint256 clock) private view returns (uint256[6] memory cfg) {
        unchecked {
            // markets are listed in id order, each with a non-zero MMR
            for (uint256 k = 0; k < MAX_MARKETS; ++k) {
                if ((clock >> (POLICY_MMR_SHIFT + BPS_BITS * k)) & MASK14 == 0) break;
                cfg[k] = _marketCfg[k];
            }
            uint256 assets = (clock >> POLICY_ASSETS_SHIFT) & 3;
            for (uint256 c = 0; c < assets; ++c) {
                cfg[MAX_MARKETS + c] = _assetCfg[c];
            }
        }
    }

    /// @dev The balance word and the params word (rates, haircuts, the opening and
    ///      withdrawal flags) of a statement, from `policy`: the statement's clock word, whose bits 80..231 are
    ///      the current policy word's (same positions). Rounding: none (normalising to 18
    ///      decimals is exact).
    function _risk(uint256 policy, Statement memory st, uint256 bal)
        private
        pure
        returns (uint256 balanceWord, uint256 params)
    {
        uint256 rateShift = st.initial ? POLICY_IMR_SHIFT : POLICY_MMR_SHIFT;
        uint256 n; // slots: the flags follow the n rates and haircuts
        if (st.kind == Kind.Isolated) {
            uint256 asset = st.asset;
            params = ((policy >> (rateShift + BPS_BITS * st.market)) & MASK14)
                | (((policy >> (POLICY_HAIRCUT_SHIFT + BPS_BITS * asset)) & MASK14) << BPS_BITS);
            balanceWord = _normalised(policy, asset, bal);
            n = 2;
        } else {
            // the 4 rates and the 2 haircuts lie in the policy word in the params word's order
            params = ((policy >> rateShift) & type(uint56).max) // 4 rates of 14 bits
                | (((policy >> POLICY_HAIRCUT_SHIFT) & 0xfffffff) << (BPS_BITS * MAX_MARKETS)); // 2 haircuts
            balanceWord = _normalised(policy, 0, bal) | (_normalised(policy, 1, bal) << BALANCE_BITS);
            n = MAX_MARKETS + MAX_ASSETS;
        }
        if (st.opening) params |= uint256(1) << (BPS_BITS * n);
        if (st.withdrawal) params |= uint256(1) << (BPS_BITS * (n + 1));
    }

    /// @dev Asset `c`'s balance in `bal` (packed token units) on 18 decimals, by the
    ///      decimals in `policy`; reverts at or above the circuit's bound. An unlisted
    ///      asset has no balance (deposit refuses it): 0.
    function _normalised(uint256 policy, uint256 c, uint256 bal) private pure returns (uint256 normalised) {
        unchecked {
            // < 2^128 · 10^18 < 2^188: no overflow (the scale is at most 18)
            normalised = ((bal >> (128 * c)) & MASK128) * 10 ** ((policy >> (POLICY_SCALE_SHIFT + 5 * c)) & 0x1f);
        }
        if (normalised >= BALANCE_LIMIT) revert MarginEngine__BalanceTooLarge(normalised);
    }

    /// @dev A stored price word (`slots` prices of 64 bits) as a proof input: the pad
    ///      price in place of each 0 (a slot unlisted now).
    ///      Branchless: PAD_PRICE is 1, so a lane's pad is iszero(lane).
    function _padded(uint256 w, uint256 slots) private pure returns (uint256) {
        assembly ("memory-safe") {
            for { let s := 0 } lt(s, shl(6, slots)) { s := add(s, 64) } {
                w := or(w, shl(s, iszero(and(shr(s, w), 0xffffffffffffffff))))
            }
        }
        return w;
    }

    /// @dev The cache key of now (see CACHE_BLOCK_SHIFT): below 2^64.
    function _cacheKey() private view returns (uint256) {
        return ((block.number & type(uint32).max) << 32) | (block.timestamp & type(uint32).max);
    }

    /// @dev The account's price words from the cache, in the stored form (0 for a slot
    ///      unlisted at the push; listing clears the cache, so also unlisted now), and
    ///      whether every word needed was pushed in this block and holds the listed prices.
    ///      Isolated (market m, asset a): words m / 2 and a, giving p(m) | p(a) << 64.
    function _cachedWords(bool isolated, uint256 mkt, uint256 asset)
        private
        view
        returns (uint256 w0, uint256 w1, bool hit)
    {
        uint256 key = _cacheKey();
        uint256 c0 = _priceCache[isolated ? mkt >> 1 : 0];
        if (c0 >> CACHE_BLOCK_SHIFT != key) return (0, 0, false); // one read on a miss
        uint256 c1 = _priceCache[isolated ? asset : 1];
        if (c1 >> CACHE_BLOCK_SHIFT != key) return (0, 0, false);
        if (isolated) {
            uint256 pm = (c0 >> (PRICE_BITS * (mkt & 1))) & PRICE_MASK;
            uint256 pa = (c1 >> (2 * PRICE_BITS)) & PRICE_MASK;
            return (pm | (pa << PRICE_BITS), 0, pm != 0 && pa != 0);
        }
        // w0 = m0 | m1 << 64 | m2 << 128, w1 = m3 | a0 << 64 | a1 << 128
        w0 = (c0 & MASK128) | ((c1 & PRICE_MASK) << (2 * PRICE_BITS));
        w1 = ((c1 >> PRICE_BITS) & PRICE_MASK) | (((c0 >> (2 * PRICE_BITS)) & PRICE_MASK) << PRICE_BITS)
            | (((c1 >> (2 * PRICE_BITS)) & PRICE_MASK) << (2 * PRICE_BITS));
        hit = true;
    }

    /// @dev Reverts unless the verifier of `kind` accepts `proof` for `inputs`. The snarkjs
    ///      verifier returns false (it does not revert) on a bad proof, including when it
    ///      runs out of gas in the pairing precompile; this turns both into a revert.
    ///      No field check here: every input is below r by construction (the commitment is
    ///      checked at open, the other words are below 2^224), and the verifier checks each
    ///      input < r again and answers false otherwise (so a corrupted input still fails,
    ///      with {MarginEngine__InvalidProof}).
    function _verify(Kind kind, uint256[] memory inputs, Proof calldata proof) private view {
        // The snarkjs verifier answers false (instead of reverting) when the pairing
        // precompile runs out of gas, which would report a valid proof starved of gas as
        // invalid: refuse to start unless the verifier can get its whole allowance
        // (63/64 of what is left is forwarded to a call).
        uint256 needed = (VERIFIER_GAS * 64) / 63 + 5_000;
        if (gasleft() < needed) revert MarginEngine__InsufficientGas(gasleft(), needed);
        (address verifier, bytes4 selector) = kind == Kind.Isolated
            ? (isolatedVerifier, IIsolatedVerifier.verifyProof.selector)
            : (crossVerifier, ICrossVerifier.verifyProof.selector);
        bool ok;
        // verifyProof(uint256[2], uint256[2][2], uint256[2], uint256[k]): all static, so the
        // calldata is the selector, the proof's 8 words as they came in, then the k inputs.
        assembly ("memory-safe") {
            let ptr := mload(0x40)
            let size := shl(5, mload(inputs))
            mstore(ptr, selector)
            calldatacopy(add(ptr, 4), proof, 256)
            mcopy(add(ptr, 260), add(inputs, 32), size)
            if iszero(staticcall(VERIFIER_GAS, verifier, ptr, add(260, size), 0, 32)) {
                // what a high-level call does: bubble the verifier's revert data up
                returndatacopy(ptr, 0, returndatasize())
                revert(ptr, returndatasize())
            }
            ok := and(eq(returndatasize(), 32), eq(mload(0), 1))
        }
        if (!ok) revert MarginEngine__InvalidProof();
    }

    /// @dev The statement an open account proves: MMR (or IMR), no opening flag, the
    ///      withdrawal flag for a withdrawal.
    function _statement(address who, Stored storage s, uint256 meta, bool initial, bool withdrawal)
        private
        view
        returns (Statement memory)
    {
        return Statement(
            who, s.commitment, _kind(meta), _marketOf(meta), _assetOf(meta), _nonceOf(meta), initial, false, withdrawal
        );
    }

    /// @dev Records an accepted proof: nonce + 1, proof time now (on the account's live
    ///      clock), no shock, the policy epoch in force, the proven prices `w0`, `w1` (the
    ///      stored form of {_inputs}). One SSTORE of `meta` (plus one of `prices` for cross
    ///      accounts); the clock word is read (warm: {_inputs} read it) and written only
    ///      right after an outage.
    function _accept(Stored storage s, uint256 meta, Kind kind, uint256 w0, uint256 w1, uint256 clock) private {
        // the prices were just read (from the adapter, or from the cache pushed in this
        // block, at this same timestamp): the account's feeds are fresh
        clock = _freshClock(meta, clock);
        // checked uint40 arithmetic: at 2^40 - 1 this reverts instead of wrapping (replay)
        uint40 next = uint40(_nonceOf(meta)) + 1;
        s.meta = (meta & TAG_MASK) | (uint256(next) << NONCE_SHIFT) | (_live(clock) << PROVEN_AT_SHIFT)
            | (((clock >> CLOCK_EPOCH_SHIFT) & MASK15) << EPOCH_SHIFT) | ((w0 & MASK128) << PRICES_SHIFT);
        // w0 < 2^192 and w1 < 2^192: prices 2..5 are w0's top 64 bits then all of w1
        if (kind != Kind.Isolated) s.prices = (w0 >> (2 * PRICE_BITS)) | (w1 << PRICE_BITS);
    }

    /// @dev The proven price words, as {IMarginEngine-Account} reports them.
    function _provenWords(Stored storage s, uint256 meta, Kind kind) private view returns (uint256 w0, uint256 w1) {
        w0 = meta >> PRICES_SHIFT;
        if (kind == Kind.Cross) {
            uint256 rest = s.prices;
            w0 |= (rest & PRICE_MASK) << (2 * PRICE_BITS);
            w1 = rest >> PRICE_BITS;
        }
    }

    /// @dev Whether a current price of the account's slots is outside its last proof's move
    ///      set shrunk by the liquidation penalty (see {flagShock}); the first such slot,
    ///      its proven and current price ({Settlement-leftMoveSet}). Reads the current
    ///      prices from the adapter, never the cache (reverts if stale).
    function _leftMoveSet(Stored storage s, uint256 meta, Kind kind)
        private
        view
        returns (bool, uint256, uint256, uint256)
    {
        uint256[2] memory w;
        (w[0], w[1]) = _provenWords(s, meta, kind);
        uint256 policy = _policy[_epochOf(meta)];
        (uint256[6] memory cfg, uint256 n, uint256 k) = _slotConfig(kind, meta);
        uint256 shape = (meta & TAG_MASK) | (n << 8) | (k << 16) | ((BPS - liquidationPenaltyBps) << 24);
        return Settlement.leftMoveSet(_pricesOf(cfg, n, PAD_PRICE), w, policy, shape);
    }

    /// @dev Liquidatable when the account's live clock passed its proof's lifetime, or a
    ///      flagged shock's grace period (both from the account's policy epoch). `at` is
    ///      the real time it happens: unknown (max) while a feed is stale and it has not.
    function _liquidatable(uint256 meta, uint256 clock) private view returns (bool now_, uint64 at) {
        uint256 policy = _policy[_epochOf(meta)];
        uint256 stale = _staleTime(clock);
        uint256 deadline = ((meta >> PROVEN_AT_SHIFT) & MASK34) + (policy & MASK40) + 1;
        uint256 shockLive = (meta >> SHOCK_SHIFT) & MASK34;
        if (shockLive != 0) {
            uint256 graceEnd = shockLive + ((policy >> POLICY_GRACE_SHIFT) & MASK40) + 1;
            if (graceEnd < deadline) deadline = graceEnd;
        }
        // proof lifetimes and grace periods are hours to days; validator skew is seconds
        // forge-lint: disable-next-line(block-timestamp)
        now_ = block.timestamp - stale >= deadline;
        uint256 realAt;
        if ((clock >> SINCE_SHIFT) & MASK40 == 0) realAt = deadline + stale;
        else realAt = now_ ? deadline + (clock & MASK40) : type(uint64).max;
        // casting to 'uint64' is safe: 40-bit values summed, or the max itself
        // forge-lint: disable-next-line(unsafe-typecast)
        at = uint64(realAt);
    }

    // ================================================================== internal: outage clocks

    /// @dev The outage clock of an account: 0 for cross, 1 + 2·market + asset for isolated.
    function _clockOf(uint256 meta) private pure returns (uint256) {
        // the tag's fields read in place (kind: bits 0-1, market: 2-3, asset: 4)
        if (meta & 3 != uint256(Kind.Isolated)) return 0;
        return 1 + (((meta >> 1) & 6) | ((meta >> 4) & 1)); // 1 + 2·market + asset
    }

    function _clockId(bool isolated, uint256 mkt, uint256 asset) private pure returns (uint256) {
        return isolated ? 1 + 2 * mkt + asset : 0;
    }

    /// @dev Stale time counted by `clock`, the current outage included.
    function _staleTime(uint256 clock) private view returns (uint256 stale) {
        stale = clock & MASK40;
        uint256 since = (clock >> SINCE_SHIFT) & MASK40;
        // forge-lint: disable-next-line(block-timestamp)
        if (since != 0 && block.timestamp > since) stale += block.timestamp - since;
    }

    /// @dev Now on `clock`'s live scale (timestamp minus stale time), 34 bits.
    function _live(uint256 clock) private view returns (uint256) {
        return (block.timestamp - _staleTime(clock)) & MASK34;
    }

    /// @dev The clock of the account with `meta` after a proof path read its feeds' prices
    ///      (so they are fresh): the stored word `word` (as the caller read it), closed
    ///      first if it still counted an outage.
    function _freshClock(uint256 meta, uint256 word) private returns (uint256) {
        if ((word >> SINCE_SHIFT) & MASK40 != 0) {
            uint256 id = _clockOf(meta);
            (uint256 synced, bool changed, uint256 closed) = _syncedClock(id);
            if (changed) _storeClock(id, synced, closed);
            return synced;
        }
        return word;
    }

    /// @dev Clock `id` brought up to date from its feeds (the adapter's {IOracleAdapter-lastUpdate}):
    ///      - some feed stale now and no outage counted: the outage starts when the first of
    ///        them went stale (updatedAt + heartbeat + 1), not before the last one ended;
    ///      - every feed fresh and an outage counted: it ends at the latest update of the
    ///        set's feeds (at or after the moment the last stale feed resumed: the estimate
    ///        never shortens an outage), capped at now.
    ///      `closed`: the end of the outage when this ends one (stored in `_closedAt`), else 0.
    function _syncedClock(uint256 id) private view returns (uint256 word, bool changed, uint256 closed) {
        word = _clocks[id];
        (uint256 staleFrom, uint256 latest) = _feedTimes(id);
        uint256 since = (word >> SINCE_SHIFT) & MASK40;
        if (staleFrom != type(uint256).max) {
            if (since != 0) return (word, false, 0);
            uint256 last = _closedAt[id];
            since = staleFrom > last ? staleFrom : last;
            return (word | (since << SINCE_SHIFT), true, 0);
        }
        if (since == 0) return (word, false, 0);
        // forge-lint: disable-next-line(block-timestamp)
        uint256 end = latest < block.timestamp ? latest : block.timestamp;
        if (end < since) end = since;
        uint256 total = (word & MASK40) + (end - since);
        word = (word & ~((MASK40 << SINCE_SHIFT) | MASK40)) | total;
        return (word, true, end); // end >= since > 0
    }

    /// @dev For clock `id`'s feeds: when the first stale one went stale (max if none is
    ///      stale now) and the latest update of any.
    function _feedTimes(uint256 id) private view returns (uint256 staleFrom, uint256 latest) {
        (uint256[6] memory cfg, uint256 n,) =
            id == 0 ? _slotConfigOf(false, 0, 0) : _slotConfigOf(true, uint8((id - 1) >> 1), uint8((id - 1) & 1));
        staleFrom = type(uint256).max;
        for (uint256 i = 0; i < n; ++i) {
            if (cfg[i] == 0) continue;
            // casting to 'address' takes the feed, the config word's low 160 bits
            // forge-lint: disable-next-line(unsafe-typecast)
            (uint256 updatedAt, uint256 heartbeat) = oracle.lastUpdate(address(uint160(cfg[i])));
            // forge-lint: disable-next-line(block-timestamp)
            if (updatedAt <= block.timestamp && block.timestamp - updatedAt > heartbeat) {
                if (updatedAt + heartbeat + 1 < staleFrom) staleFrom = updatedAt + heartbeat + 1;
            }
            if (updatedAt > latest) latest = updatedAt;
        }
    }

    /// @dev Stores clock `id`'s word and, when an outage just ended (`closed` != 0), its end.
    function _storeClock(uint256 id, uint256 word, uint256 closed) private {
        _clocks[id] = word;
        // casting to 'uint64' is safe: a timestamp
        // forge-lint: disable-next-line(unsafe-typecast)
        if (closed != 0) _closedAt[id] = uint64(closed);
        // casting is safe: id < 9, fields masked to 40 bits
        // forge-lint: disable-next-line(unsafe-typecast)
        emit StaleClock(uint8(id), uint64((word >> SINCE_SHIFT) & MASK40), uint64(word & MASK40));
    }

    /// @dev Stores the parameters in force as a new policy epoch, for proofs accepted from
    ///      now on (an accepted proof keeps its epoch's lifetime, grace, MMRs, haircuts).
    function _snapshot() private {
        uint256 e = uint256(policyEpoch) + 1;
        if (e > MASK15) revert MarginEngine__TooManyPolicies();
        // the layout of POLICY_GRACE_SHIFT, built by the library (room in the engine)
        uint256 w = Settlement.policyWord(_marketCfg, _assetCfg, _collateralCount, proofLifetime, gracePeriod);
        _policy[e] = w;
        // casting to 'uint16' is safe: e <= MASK15
        // forge-lint: disable-next-line(unsafe-typecast)
        policyEpoch = uint16(e);
        // every clock word carries the epoch and its proof fields (see SINCE_SHIFT)
        uint256 current = (w & CLOCK_POLICY_MASK) | (e << CLOCK_EPOCH_SHIFT);
        for (uint256 i = 0; i < CLOCKS; ++i) {
            _clocks[i] = (_clocks[i] & ((MASK40 << SINCE_SHIFT) | MASK40)) | current;
        }
        // forge-lint: disable-next-line(unsafe-typecast)
        emit PolicySnapshot(uint16(e), proofLifetime, gracePeriod);
    }

    // ================================================================== internal: prices

    /// @dev Config words of an account's slots (K markets then M assets, 0 if unlisted),
    ///      the slot count n = K + M and K.
    function _slotConfig(Kind kind, uint256 meta) private view returns (uint256[6] memory, uint256, uint256) {
        return _slotConfigOf(kind == Kind.Isolated, _marketOf(meta), _assetOf(meta));
    }

    function _slotConfigOf(bool isolated, uint8 mkt, uint8 asset)
        private
        view
        returns (uint256[6] memory cfg, uint256 n, uint256 k)
    {
        if (isolated) {
            // the ids were checked against the counts when the account opened (or by the
            // caller, for a new one) and listings are never removed: no count to read
            cfg[0] = _marketCfg[mkt];
            cfg[1] = _assetCfg[asset];
            return (cfg, 2, 1);
        }
        // cross: the listings in clock 0's copy of the current policy (warm where the
        // caller reads that clock anyway)
        return (_listedConfig(_clocks[0]), MAX_MARKETS + MAX_ASSETS, MAX_MARKETS);
    }

    /// @dev Current prices of the first `n` slots of `cfg`; `pad` for an unlisted slot
    ///      (PAD_PRICE, or 0 for the stored form). Each distinct feed is read once (WETH collateral and the ETH market share
    ///      one), all in a single call to the adapter, which runs every check of
    ///      {IOracleAdapter-getPrice} on each.
    function _pricesOf(uint256[6] memory cfg, uint256 n, uint256 pad) private view returns (uint64[6] memory prices) {
        address adapter = address(oracle);
        bytes4 selector = IOracleAdapter.getPrices.selector;
        // Hand-built call of getPrices(address[]) (the ABI coder's loops cost more than
        // the call itself). Scratch memory past the free pointer, never allocated:
        //   buf:            selector | 0x20 | count | feed 0 .. feed count-1  (the calldata)
        //   buf + 0x104:    which[s] for s < 6: 1 + index of slot s's feed, 0 if unlisted
        //   buf + 0x1c4:    the return data: 0x20 | count | price 0 .. price count-1
        assembly ("memory-safe") {
            let buf := mload(0x40)
            mstore(buf, selector)
            mstore(add(buf, 0x04), 0x20)
            let feeds := add(buf, 0x44)
            let which := add(buf, 0x104)
            let out := add(buf, 0x1c4)
            let count := 0
            for { let s := 0 } lt(s, n) { s := add(s, 1) } {
                let feed := and(mload(add(cfg, shl(5, s))), 0xffffffffffffffffffffffffffffffffffffffff)
                let w := 0
                if feed {
                    let j := 0
                    for {} and(lt(j, count), iszero(eq(mload(add(feeds, shl(5, j))), feed))) { j := add(j, 1) } {}
                    if eq(j, count) {
                        mstore(add(feeds, shl(5, j)), feed)
                        count := add(count, 1)
                    }
                    w := add(j, 1)
                }
                mstore(add(which, shl(5, s)), w)
            }
            mstore(add(buf, 0x24), count)
            if count {
                let outSize := add(0x40, shl(5, count))
                if iszero(staticcall(gas(), adapter, buf, add(0x44, shl(5, count)), out, outSize)) {
                    // the adapter's own error (stale price, unregistered feed, ...), as a
                    // high-level call would bubble it
                    returndatacopy(buf, 0, returndatasize())
                    revert(buf, returndatasize())
                }
                // what the ABI decoder would refuse: another shape, or a value >= 2^64
                if iszero(
                    and(eq(returndatasize(), outSize), and(eq(mload(out), 0x20), eq(mload(add(out, 0x20)), count)))
                ) {
                    revert(0, 0)
                }
            }
            for { let s := 0 } lt(s, n) { s := add(s, 1) } {
                let w := mload(add(which, shl(5, s)))
                let price := pad
                if w {
                    price := mload(add(out, shl(5, add(w, 1))))
                    if shr(64, price) { revert(0, 0) }
                }
                mstore(add(prices, shl(5, s)), price)
            }
        }
    }

    // ================================================================== internal: money

    function _pull(uint8 asset, uint256 amount) private returns (uint256 received) {
        if (amount == 0) revert MarginEngine__ZeroAmount();
        IERC20 token = IERC20(_tokens[asset]);
        uint256 before = token.balanceOf(address(this));
        token.safeTransferFrom(msg.sender, address(this), amount);
        received = token.balanceOf(address(this)) - before;
        if (received == 0) revert MarginEngine__ZeroAmount();
    }

    /// @dev `who`'s packed balances after taking `amount` of `asset`.
    function _debited(address who, uint8 asset, uint256 amount) private view returns (uint256) {
        if (amount == 0) revert MarginEngine__ZeroAmount();
        uint256 bal = _balances[who];
        uint256 shift = 128 * uint256(asset);
        uint256 current = (bal >> shift) & MASK128;
        if (current < amount) revert MarginEngine__InsufficientBalance(asset, current, amount);
        return bal - (amount << shift); // amount <= current: no borrow from the other field
    }

    /// @dev Balance in token units -> 18-decimal units (exact: decimals <= 18), given the
    ///      asset's config word.
    function _normalise(uint256 cfg, uint256 amount) private pure returns (uint256) {
        return amount * 10 ** (18 - ((cfg >> CFG_HIGH_SHIFT) & 0xff));
    }

    // ================================================================== internal: commitments

    /// @dev Reverts unless `positions` (`slots` of them) and `salt` open `commitment` for
    ///      the caller ({Settlement-commitmentOf}).
    function _requireOpens(Position[] calldata positions, uint256 salt, uint256 slots, uint256 commitment)
        private
        view
    {
        if (Settlement.commitmentOf(poseidon4, msg.sender, positions, salt, slots) != commitment) {
            revert MarginEngine__CommitmentMismatch();
        }
    }

    // ================================================================== internal: account fields

    function _kind(uint256 meta) private pure returns (Kind) {
        return Kind(meta & 3);
    }

    function _marketOf(uint256 meta) private pure returns (uint8) {
        return uint8((meta >> 2) & 3);
    }

    function _assetOf(uint256 meta) private pure returns (uint8) {
        return uint8((meta >> 4) & 1);
    }

    function _epochOf(uint256 meta) private pure returns (uint256) {
        return (meta >> EPOCH_SHIFT) & MASK15;
    }

    function _nonceOf(uint256 meta) private pure returns (uint64) {
        // casting to 'uint64' is safe because the value is masked to 40 bits
        // forge-lint: disable-next-line(unsafe-typecast)
        return uint64((meta >> NONCE_SHIFT) & MASK40);
    }

    // ================================================================== internal: checks

    /// @dev The kind of `who`'s open account; reverts if none is open.
    function _openKind(address who, uint256 meta) private pure returns (Kind kind) {
        kind = _kind(meta);
        if (kind == Kind.None) revert MarginEngine__NoAccount(who);
    }

    /// @dev {withdraw}'s asset checks, with the errors of: listed asset, then (isolated)
    ///      the account's own asset. The own asset of an isolated account is listed.
    /// @param clock The account's clock word (cross: clock 0, with the current collateral
    ///        count; see SINCE_SHIFT).
    function _requireOwnAsset(Kind kind, uint256 meta, uint8 asset, uint256 clock) private view {
        if (kind == Kind.Isolated) {
            if (asset == _assetOf(meta)) return;
            _requireAsset(asset);
            revert MarginEngine__WrongAsset(asset);
        }
        // cross: listed iff below the current collateral count, in the clock word the
        // proof reads anyway; the asset's config word is not needed
        if (asset >= (clock >> POLICY_ASSETS_SHIFT) & 3) revert MarginEngine__UnknownAsset(asset);
    }

    /// @dev Closes the account: everything but the nonce (which never resets) is cleared.
    function _reset(Stored storage s, uint256 meta, Kind kind) private {
        s.commitment = 0;
        s.meta = meta & (MASK40 << NONCE_SHIFT);
        if (kind == Kind.Cross) s.prices = 0;
    }

    /// @dev Listed iff its config word is non-zero (a listed feed is never address(0): the
    ///      adapter refuses to register it, and listings are never removed), which is
    ///      id < marketCount. Reading the word instead of the count: the callers that go on
    ///      to use the listing read that word anyway (warm), and the count's slot stays cold.
    function _requireMarket(uint8 id) private view {
        if (id >= MAX_MARKETS || _marketCfg[id] == 0) revert MarginEngine__UnknownMarket(id);
    }

    /// @dev As {_requireMarket}: listed iff the config word is non-zero (id < collateralCount).
    function _requireAsset(uint8 id) private view {
        if (id >= MAX_ASSETS || _assetCfg[id] == 0) revert MarginEngine__UnknownAsset(id);
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

    function _setLiquidationPenalty(uint16 penaltyBps) private {
        if (penaltyBps > MAX_PENALTY_BPS) revert MarginEngine__InvalidBps(penaltyBps);
        liquidationPenaltyBps = penaltyBps;
        emit LiquidationPenaltySet(penaltyBps);
    }
}
