// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IMarginPool} from "../pool/IMarginPool.sol";

/// @title IPortfolioEngine
/// @notice zkmargin's portfolio-margin engine (docs/portfolio.md): perpetuals on up to 4
///         markets and up to 8 listed option series, collateral in up to 2 assets, one
///         account per address, margined by a Groth16 proof of `PortfolioMargin(8, 4, 2, 8)`
///         whose public inputs the engine builds itself. A sibling of the rate-based
///         {IMarginEngine}: same oracle adapter, its own {IMarginPool} vault per asset.
/// @dev Public inputs (`uint256[8]`, all < r), in order:
///
///      | index | name           | value                                                   |
///      |-------|----------------|---------------------------------------------------------|
///      | 0     | commitment     | the account's commitment (for {open}: the new one)      |
///      | 1     | priceWords[0]  | P_m0 | P_m1 << 64 | P_m2 << 128 (market prices, 1e-8)    |
///      | 2     | priceWords[1]  | P_m3 | P_c0 << 64 | P_c1 << 128 (collateral prices)      |
///      | 3     | balanceWords   | bal_c0 | bal_c1 << 96 (1e-18 token, each < 2^96)         |
///      | 4     | riskCommitment | the current risk epoch's commitment (computed on-chain) |
///      | 5     | modeWord       | initial | withdrawal << 1 | opening << 2                |
///      | 6     | accountNonce   | account | nonce << 160                                  |
///      | 7     | engineChain    | address(this) | block.chainid << 160                    |
///
///      Market slot k is market id k, collateral slot c asset id c; an unlisted slot has
///      price 1 (PAD_PRICE; not listed in the risk words, so no position can use it) and
///      balance 0. Balances are token amounts times 10^(18 − decimals).
///      Modes: {open} = initial | opening (5: λ_IM, every entry at its current mark);
///      {proveMargin} = maintenance (0: λ_MM); {withdraw} = initial | withdrawal (3: λ_IM,
///      no unrealized gain, balances after the withdrawal).
///
///      Account commitment = Poseidon4(PORTFOLIO_TAG, account, digest, salt), digest =
///      Poseidon2(Poseidon4(slot_0..slot_3), Poseidon4(slot_4..slot_7)), slot_i =
///      instrument | side << 8 | size << 9 | entry << 73 (empty slot 0; instrument k < 4 the
///      perpetual on market k, 4 + j option series j; side 1 long; size, entry 1e-8).
///      PORTFOLIO_TAG = "zkmargin/portfolio/v1" as a big-endian integer.
///
///      Risk commitment (computed by {publishRisk} with on-chain Poseidon) =
///      Poseidon5(RISK_TAG, SHAPE_WORD, riskParams, riskCholesky, optionsDigest),
///      optionsDigest = Poseidon2(Poseidon4(leaf_0..leaf_3), Poseidon4(leaf_4..leaf_7)),
///      leaf_j = Poseidon3(optionValues[j], optionParams[j], optionKeys[j]);
///      RISK_TAG = "zkmargin/risk/v1", SHAPE_WORD = 4 | 2 << 8 | 8 << 16. Words (16-bit
///      fields, least significant first):
///        riskParams   = floor_0..3 | listed_0..3 | haircut_0..1 | factor_0..1 | λ_MM | λ_IM
///                       (factor 0: none, k + 1: market k)
///        riskCholesky = L_km + 10,000 for k = 0..3, m = 0..k (row-major; unlisted rows
///                       10,000, i.e. L = 0)
///        optionValues[j] = mark | gammaCharge << 64 | vegaCharge << 128 (1e-8 quote)
///        optionParams[j] = |δ| | (δ < 0) << 16 | underlying << 32 | listed << 48 (δ bps)
///        optionKeys[j]   = strike | expiry << 64 | kind << 104 (kind 1 call, 2 put)
///
///      Move set and flags: a proof at prices P under epoch e certifies every market move
///      Δ = L·u with ‖u‖ ≤ λ_MM (L, λ_MM of epoch e, real units), every collateral without
///      a risk factor falling at most its haircut h_c, and every collateral with a risk
///      factor k falling at most h_c relative to market k. {flag} accepts exactly when the
///      current prices P' leave that set shrunk by the liquidation penalty: with
///      Δ_k = (P'_k − P_k)/P_k on the listed markets, ‖L⁻¹Δ‖ > λ_MM·(1 − pen), or a
///      collateral c with (P_c − P'_c)/P_c > h_c·(1 − pen) (no factor), or
///      P'_k/P_k − P'_c/P_c > h_c·(1 − pen) (factor k). Rounding can only make the computed
///      ‖L⁻¹Δ‖ smaller than the exact one (see {flag}); the collateral tests are exact.
///
///      Clocks: one engine-wide "live" clock = now − the time any listed feed has been stale
///      so far ({pokeStale}); an account's lapse and grace run on it. While a feed is stale
///      {open}, {proveMargin}, {withdraw} and {flag} revert (the adapter's
///      `OracleAdapter__StalePrice`; {PortfolioEngine__FeedsStale} while an outage is counted). Lapse: the proof lifetime in force at acceptance, and
///      at the latest `firstExpiry + grace` (wall clock), firstExpiry the earliest expiry of
///      an unsettled series listed when the proof was accepted.
///
///      Replay: every accepted proof binds the account's nonce, which then increments and
///      never resets. Proof bytes are never a key.
///
///      Option settlement ({close}, {liquidate}'s record, {reclaim}): a unit of unsettled
///      series j on market k, at the current price P of k, with the epoch's mark V_j, signed
///      δ_j (a call's ≥ 0, a put's ≤ 0), gamma charge g_j and the price P⁰_k the engine read
///      at publication (ΔP = P − P⁰_k), is worth to a long holder
///        long_j  = min(cap, max(intrinsic(P), ⌊V_j + δ_j·ΔP⌋))
///      and owes a short writer
///        short_j = min(cap, max(intrinsic(P), ⌈V_j + δ_j·ΔP⌉ + g_j))
///      (1e-8 quote, δ in bps: V_j + δ_j·ΔP/10⁴; cap = P for a call, the strike for a
///      put, the no-arbitrage ceiling that keeps each value below 2^64). The tangent lies
///      below the convex option value (a long is never paid more than the option is worth)
///      and g_j bounds the second-order term over the λ_IM move set (a short pays at least
///      the value after any move inside it). A settled series is worth its intrinsic value
///      at the settlement price to both sides. docs/portfolio.md, "On-chain", derives it.
interface IPortfolioEngine {
    // ------------------------------------------------------------------ types

    /// @notice A Groth16 proof in the EVM's coordinate order (snarkjs `generatecall`: each
    ///         G2 coordinate as [c1, c0]).
    struct Proof {
        uint256[2] a;
        uint256[2][2] b;
        uint256[2] c;
    }

    /// @notice A revealed position slot, for {close} and {reclaim}: exactly 8 are revealed
    ///         (an empty slot is all zero: instrument 0, short, size 0, entry 0).
    struct Position {
        uint8 instrument; // k < 4: perpetual on market k; 4 + j: option series j
        bool long;
        uint64 size; // 1e-8 units of the underlying
        uint64 entry; // 1e-8 quote: the price (perp) or premium (option) at opening
    }

    /// @notice A listed market (id k = risk-factor slot k).
    struct Market {
        address feed; // oracle feed (registered in the oracle adapter)
        uint16 closeFeeBps; // fee on the notional at close (oracle-latency guard)
        uint16 minFloorBps; // a publication's floor_k must be >= this
        uint16 minDiagBps; // a publication's L_kk must be >= this (>= 1)
    }

    /// @notice A listed collateral asset (id c = collateral slot c).
    struct Collateral {
        address token; // ERC-20
        address feed; // oracle feed of the token's price in quote
        uint8 decimals; // token decimals (<= 18)
        uint8 riskFactor; // 0 none, k + 1: the token moves with market k (e.g. WETH, ETH-USD)
        uint16 minHaircutBps; // a publication's haircut_c must be >= this
    }

    /// @notice A listed option series (id j = option slot j; slots are never reused).
    struct Series {
        uint8 underlying; // market id
        uint8 kind; // 1 call, 2 put
        uint64 strike; // 1e-8 quote
        uint40 expiry; // unix seconds
        bool settled;
        uint64 settlementPrice; // the underlying's price at expiry (1e-8), once settled
    }

    /// @notice A published risk epoch (what proofs under it, flags and close need).
    struct RiskEpoch {
        uint256 commitment; // the risk commitment (public input 4)
        uint256 riskParams; // G1 as published
        uint256 riskCholesky; // G2 as published
        uint64[8] marks; // option marks V_j (1e-8 quote), 0 for an empty slot
        uint16[8] deltaBps; // |δ_j| (bps), for the option close fee and settlement
        uint64[8] gammaCharges; // g_j (1e-8 quote per unit), for a short's settlement
        uint64[4] prices; // P⁰_k: market k's oracle price at publication (0 unlisted)
        uint40 publishedAt;
        uint40 firstExpiry; // earliest expiry of an unsettled listed series (max if none)
        uint8 marketCount; // listings when published (the words agree with them)
        uint8 collateralCount;
        uint8 seriesCount;
    }

    /// @notice An account as the engine keeps it (positions stay private).
    struct Account {
        uint256 commitment; // 0 when no account is open
        uint64 nonce; // the next proof must bind this value; never resets
        uint32 epoch; // risk epoch of the last accepted proof
        uint8 mode; // modeWord of the last accepted proof (5 open, 0 maintain, 3 withdraw)
        uint64 provenAt; // live-clock time of the last accepted proof
        uint64 shockAt; // live-clock time a flag was raised, 0 if none pending
        uint64 lifetime; // proof lifetime in force at the last accepted proof (live seconds)
        uint64 grace; // grace period in force at the last accepted proof (live seconds)
        uint64 expiryCap; // wall-clock lapse: firstExpiry + grace of the proof's epoch
        uint256[2] provenPriceWords; // price words of the last accepted proof
    }

    // ------------------------------------------------------------------ events

    event MarketListed(uint8 indexed id, address feed, uint16 closeFeeBps, uint16 minFloorBps, uint16 minDiagBps);
    event MarketMinimumsSet(uint8 indexed id, uint16 minFloorBps, uint16 minDiagBps);
    event CollateralListed(
        uint8 indexed id, address token, address feed, uint8 decimals, uint8 riskFactor, uint16 minHaircutBps
    );
    event MinHaircutSet(uint8 indexed id, uint16 minHaircutBps);
    event SeriesListed(uint8 indexed id, uint8 underlying, uint64 strike, uint40 expiry, uint8 kind);
    /// @notice Series `id` settled at `price` (1e-8), from round `roundId` of its feed.
    event SeriesSettled(uint8 indexed id, uint80 roundId, uint64 price);
    event PublisherSet(address indexed publisher);
    event MinLambdaSet(uint16 minLambdaMMBps);
    event ProofLifetimeSet(uint64 lifetime);
    event GracePeriodSet(uint64 grace);
    event LiquidationPenaltySet(uint16 penaltyBps);
    event CloseFeeSet(uint8 indexed id, uint16 feeBps);
    event PoolSet(uint8 indexed asset, address pool);
    /// @notice A new risk epoch: proofs from now on must bind `commitment`.
    event RiskPublished(
        uint32 indexed epoch,
        uint256 commitment,
        uint256 riskParams,
        uint256 riskCholesky,
        uint256[8] optionValues,
        uint256[8] optionParams,
        uint256[8] optionKeys
    );
    event Deposited(address indexed account, uint8 indexed asset, uint256 amount);
    event Withdrawn(address indexed account, uint8 indexed asset, uint256 amount, uint64 nonce);
    event AccountOpened(address indexed account, uint256 commitment, uint32 epoch, uint64 nonce);
    event MarginProven(address indexed account, uint32 epoch, uint64 nonce);
    /// @notice The engine-wide outage clock changed (`staleSince` 0: every feed is fresh).
    event StaleClock(uint64 staleSince, uint64 staleTotal);
    /// @notice A flag was raised: the current prices left the account's shrunk move set.
    ///         `reason`: 0 the market ellipsoid, 1 + c collateral c.
    event Flagged(address indexed account, address indexed by, uint8 reason, uint64 at);
    /// @notice `pnl`, `fee`, `badDebt` in 1e-16 quote; legs per asset in tokens (as
    ///         {IMarginEngine-AccountClosed}).
    event AccountClosed(
        address indexed account,
        int256 pnl,
        uint256 fee,
        uint256 badDebt,
        uint256[2] toPool,
        uint256[2] fromPool,
        uint256[2] refund
    );
    /// @notice The account was liquidatable when its owner closed it: the owner got `reward`
    ///         (tokens per asset, as {Liquidated}'s) before the rest settled ({AccountClosed}).
    event CloseRewarded(address indexed account, uint256[2] reward);
    event Liquidated(address indexed account, address indexed liquidator, uint256[2] reward, uint256[2] toPool);
    /// @notice What {reclaim} needs for the liquidation of `account` at nonce `nonce`,
    ///         nine words: [0] the commitment; [1] deadline (the last second {reclaim} is
    ///         accepted) | closeFee_k << (64 + 16k) for k = 0..3 | |δ_j| << (128 + 16j) for
    ///         j = 0..7 (bps); [2] escrowed balances, asset 0 | asset 1 << 128 (tokens);
    ///         [3], [4] the price words at liquidation (layout of public inputs 1, 2);
    ///         [5], [6] the value of a long unit of series j at bits 64·(j mod 4) of word
    ///         5 + j / 4, [7], [8] what a short unit owes, at word 7 + j / 4 (the header's
    ///         settlement rule at the liquidation prices; 1e-8 quote).
    event LiquidationRecorded(address indexed account, uint64 indexed nonce, uint256[9] record);
    event Reclaimed(
        address indexed account, uint64 indexed nonce, int256 pnl, uint256 fee, uint256 badDebt, uint256[2] paid
    );

    // ------------------------------------------------------------------ errors

    /// @dev A bps value is out of range (penalty > 2,500, fee > 200, minimum > 10,000, ...).
    error PortfolioEngine__InvalidBps(uint256 value);
    /// @dev A duration (proof lifetime, grace period) is zero or longer than 365 days.
    error PortfolioEngine__InvalidDuration(uint256 value);
    /// @dev All slots of that kind are taken (4 markets, 2 assets, 8 series).
    error PortfolioEngine__TooManyListings();
    error PortfolioEngine__UnknownMarket(uint8 id);
    error PortfolioEngine__UnknownAsset(uint8 id);
    error PortfolioEngine__UnknownSeries(uint8 id);
    /// @dev The feed is not registered in the oracle adapter.
    error PortfolioEngine__FeedNotRegistered(address feed);
    /// @dev A token address is zero, has no code, or has more than 18 decimals.
    error PortfolioEngine__InvalidToken(address token);
    /// @dev A series listing is malformed: strike 0 or >= 2^64, expiry not in the future,
    ///      kind not 1 or 2.
    error PortfolioEngine__InvalidSeries();
    /// @dev The caller is not the publisher.
    error PortfolioEngine__NotPublisher(address caller);
    /// @dev No risk epoch has been published yet.
    error PortfolioEngine__NoRiskEpoch();
    /// @dev A published word has a field out of its range or bits above its fields.
    ///      `word`: 0 riskParams, 1 riskCholesky, 2 + j optionValues[j], 10 + j
    ///      optionParams[j], 18 + j optionKeys[j].
    error PortfolioEngine__RiskWordInvalid(uint256 word);
    /// @dev A published listed flag, risk factor or option slot disagrees with the
    ///      engine's listings. `slot`: k market k, 4 + c collateral c, 8 + j series j.
    error PortfolioEngine__RiskListingMismatch(uint256 slot);
    /// @dev A published parameter is below the listed minimum. `field`: 0 floor, 1 haircut,
    ///      2 λ_MM, 3 λ_IM (< λ_MM), 4 diagonal L_kk; `slot` the market, asset or 0.
    error PortfolioEngine__RiskBelowMinimum(uint256 field, uint256 slot, uint256 value, uint256 minimum);
    /// @dev An expired series is published without its settlement, or a settled series
    ///      with a mark other than its intrinsic value or a nonzero δ, gamma or vega.
    error PortfolioEngine__SeriesNotSettled(uint8 id);
    error PortfolioEngine__SettlementMismatch(uint8 id);
    /// @dev The series is already settled.
    error PortfolioEngine__SeriesSettled(uint8 id);
    /// @dev The series has not expired yet.
    error PortfolioEngine__SeriesNotExpired(uint8 id, uint40 expiry);
    /// @dev The round is not the underlying feed's first round at or after expiry.
    error PortfolioEngine__InvalidSettlementRound(uint80 roundId);
    /// @dev The current risk epoch carries a series that has expired: a new epoch (with the
    ///      settlement) must be published before proofs are accepted.
    error PortfolioEngine__EpochExpired(uint32 epoch);
    /// @dev A market, asset or series was listed after the current epoch was published: a
    ///      new epoch that covers it must be published before proofs are accepted.
    error PortfolioEngine__ListingsChanged();
    /// @dev A listed feed is stale: {open} and {withdraw} are refused.
    error PortfolioEngine__FeedsStale();
    error PortfolioEngine__ZeroAmount();
    /// @dev The normalised balance would reach 2^96 (the circuit's bound).
    error PortfolioEngine__BalanceTooLarge(uint256 normalised);
    error PortfolioEngine__NoAccount(address account);
    error PortfolioEngine__AccountExists(address account);
    /// @dev The commitment is 0 or not below r.
    error PortfolioEngine__InvalidCommitment(uint256 commitment);
    /// @dev `mode` is not 0 (maintenance), 1 (initial) or 3 (withdrawal).
    error PortfolioEngine__InvalidMode(uint8 mode);
    /// @dev Too little gas left to give the verifier its full allowance.
    error PortfolioEngine__InsufficientGas(uint256 left, uint256 needed);
    /// @dev The verifier rejected the proof (it had its full gas allowance).
    error PortfolioEngine__InvalidProof();
    error PortfolioEngine__InsufficientBalance(uint8 asset, uint256 balance, uint256 amount);
    error PortfolioEngine__PoolNotSet(uint8 asset);
    error PortfolioEngine__PoolAlreadySet(uint8 asset);
    /// @dev The vault's asset is not the listed token, or its engine is not this engine.
    error PortfolioEngine__InvalidPool(address pool);
    error PortfolioEngine__NoLiquidation(address account, uint64 nonce);
    error PortfolioEngine__ReclaimExpired(uint64 deadline);
    /// @dev The revealed positions and salt do not open the stored commitment.
    error PortfolioEngine__CommitmentMismatch();
    /// @dev Revealed position `index` is malformed (instrument >= 12, or the salt >= r:
    ///      index 8).
    error PortfolioEngine__InvalidPosition(uint256 index);
    error PortfolioEngine__NotLiquidatable(address account);
    /// @dev The current prices are inside the account's shrunk proven move set.
    error PortfolioEngine__InsideProvenSet(address account);
    error PortfolioEngine__ShockPending(address account);
    error PortfolioEngine__RenounceDisabled();
    error PortfolioEngine__ChainIdTooLarge(uint256 chainId);

    // ------------------------------------------------------------------ admin (owner)

    /// @notice Lists market id `marketCount()` (ids 0..3 in order). Emits {MarketListed}.
    function listMarket(address feed, uint16 closeFeeBps, uint16 minFloorBps, uint16 minDiagBps)
        external
        returns (uint8 id);
    /// @notice Changes a market's publication minimums (for the next publication).
    function setMarketMinimums(uint8 id, uint16 minFloorBps, uint16 minDiagBps) external;
    /// @notice Lists asset id `collateralCount()` (ids 0..1 in order). `riskFactor` 0 or k + 1
    ///         for a listed market k. Emits {CollateralListed}.
    function listCollateral(address token, address feed, uint8 riskFactor, uint16 minHaircutBps)
        external
        returns (uint8 id);
    function setMinHaircut(uint8 id, uint16 minHaircutBps) external;
    /// @notice Lists series id `seriesCount()` (ids 0..7 in order, never reused): `kind` 1 call,
    ///         2 put (zkmargin/riskfile.py's optionKeys). Emits {SeriesListed}.
    function listSeries(uint8 underlying, uint64 strike, uint40 expiry, uint8 kind) external returns (uint8 id);
    function setPublisher(address publisher_) external;
    /// @notice The smallest λ_MM (bps, >= 1) a publication may carry.
    function setMinLambdaMM(uint16 minLambdaMMBps) external;
    function setProofLifetime(uint64 lifetime) external;
    function setGracePeriod(uint64 grace) external;
    /// @notice Share of the balances paid to a liquidator, at most 2,500 bps.
    function setLiquidationPenalty(uint16 penaltyBps) external;
    /// @notice Market `id`'s close fee, at most 200 bps.
    function setCloseFee(uint8 id, uint16 feeBps) external;
    /// @notice Sets the vault of a listed asset, once (its asset the token, its engine this).
    function setPool(uint8 asset, IMarginPool pool) external;

    // ------------------------------------------------------------------ publisher

    /// @notice Publishes a new risk epoch. The engine checks every word against its listings
    ///         and minimums (listed flags = listed markets; factors = listed risk factors;
    ///         haircut_c >= minHaircut_c; floor_k >= minFloor_k; L_kk >= minDiag_k; unlisted
    ///         markets: floor 0, L row 0; λ_MM >= minLambdaMM; λ_IM >= λ_MM; option slot j
    ///         empty (all words 0) when series j is not listed, else the listed series with
    ///         its key, underlying and listed flag, and if expired it must be settled with
    ///         mark = intrinsic value at the settlement price and δ = gamma = vega = 0),
    ///         computes the commitment with on-chain Poseidon and stores the epoch with
    ///         every listed market's oracle price (the adapter's checks: reverts while a
    ///         market feed is stale), from which options settle (see the header).
    ///         Emits {RiskPublished}.
    function publishRisk(
        uint256 riskParams,
        uint256 riskCholesky,
        uint256[8] calldata optionValues,
        uint256[8] calldata optionParams,
        uint256[8] calldata optionKeys
    ) external returns (uint32 epoch);

    // ------------------------------------------------------------------ anyone

    /// @notice Settles series `id` after its expiry at the underlying feed's round `roundId`:
    ///         the first round with updatedAt >= expiry (the previous round, if any, is
    ///         before expiry), its answer normalised to 8 decimals like the adapter
    ///         (truncated). Emits {SeriesSettled}.
    function settleSeries(uint8 id, uint80 roundId) external;
    /// @notice Raises a flag on `account` when the current prices left its shrunk move set
    ///         (see the header); it then has its grace period to prove again. Reverts with
    ///         {PortfolioEngine__InsideProvenSet} otherwise. Emits {Flagged}.
    function flag(address account) external;
    /// @notice Brings the engine-wide outage clock up to date from the feeds' update times.
    function pokeStale() external;
    /// @notice Reads every listed feed through the adapter (reverts if one fails a check)
    ///         and caches the prices for this block and time: an {open}, {proveMargin} or
    ///         {withdraw} in the same block then builds its price inputs from the cache
    ///         instead of the adapter and every feed (a keeper pushes once for all the
    ///         block's proofs). Nothing else reads the cache, and no call at a later block or
    ///         time does; {publishRisk} clears it.
    function pushPrices() external;
    /// @notice Seizes a liquidatable account's balances: the penalty share to the caller, the
    ///         rest to each asset's vault, and records the prices and option values at this moment
    ///         for {reclaim}. Emits {Liquidated} and {LiquidationRecorded}.
    function liquidate(address account) external;

    // ------------------------------------------------------------------ trader

    function deposit(uint8 asset, uint256 amount) external;
    /// @notice Opens an account with an opening proof (mode 5) under the current epoch.
    function open(uint256 commitment, Proof calldata proof) external;
    /// @notice Proves maintenance (mode 0) at the current prices and epoch.
    function proveMargin(Proof calldata proof) external;
    /// @notice Withdraws with a withdrawal proof (mode 3) on the balances after it.
    function withdraw(uint8 asset, uint256 amount, Proof calldata proof) external;
    /// @notice Withdraws collateral of an address with no open account (no proof needed).
    function withdrawIdle(uint8 asset, uint256 amount) external;
    /// @notice Reveals the 8 slots and the salt and settles: perpetuals at the oracle price,
    ///         options by the header's settlement rule (the intrinsic value once settled;
    ///         an expired unsettled series is refused with {PortfolioEngine__SeriesNotSettled}),
    ///         less the close fee, through the vaults (the payout rule of {IMarginEngine}:
    ///         legs pro rata to each asset's value; profit rounded down, loss up). Close
    ///         fee (1e-16 quote, rounded up, market k's fee f_k): a perpetual pays
    ///         size·max(P_k, entry)·f_k / 10^4, an option on market k pays
    ///         size·P_k·|δ_j|·f_k / 10^8 (its underlying exposure). Emits {AccountClosed}.
    ///         A liquidatable account first pays its owner the liquidation reward (emits
    ///         {CloseRewarded}) and settles the rest: never less than liquidating oneself.
    function close(Position[8] calldata positions, uint256 salt) external;
    /// @notice Within 1 day of a liquidation at nonce `nonce`, reveals its positions and
    ///         settles the escrow at the recorded prices and option values. Emits {Reclaimed}.
    function reclaim(uint64 nonce, uint256[9] calldata record, Position[8] calldata positions, uint256 salt)
        external;

    // ------------------------------------------------------------------ views

    function account(address who) external view returns (Account memory);
    function balanceOf(address who, uint8 asset) external view returns (uint256);
    function pool(uint8 asset) external view returns (IMarginPool);
    function market(uint8 id) external view returns (Market memory);
    function collateral(uint8 id) external view returns (Collateral memory);
    function series(uint8 id) external view returns (Series memory);
    function marketCount() external view returns (uint8);
    function collateralCount() external view returns (uint8);
    function seriesCount() external view returns (uint8);
    function publisher() external view returns (address);
    /// @notice The current risk epoch (0: none published yet).
    function riskEpoch() external view returns (uint32);
    function riskEpochOf(uint32 epoch) external view returns (RiskEpoch memory);
    /// @notice keccak256(abi.encode(record)) of an unreclaimed liquidation, 0 if none.
    function liquidationOf(address account, uint64 nonce) external view returns (bytes32);
    /// @notice The live clock now (wall clock minus stale time, counting an unpoked outage).
    function liveTime() external view returns (uint64);
    /// @notice Whether `account` may be liquidated now.
    function liquidatable(address account) external view returns (bool);
    /// @notice Whether {flag} would accept `account` now.
    function flaggable(address account) external view returns (bool);
    /// @notice The public inputs the engine would verify now for `who`'s open account.
    /// @param mode 0 maintenance ({proveMargin}), 3 withdrawal ({withdraw}: balances after
    ///        withdrawing `amount` of `asset`); 1 (initial, no withdrawal) is also accepted.
    function publicInputs(address who, uint8 mode, uint8 asset, uint256 amount)
        external
        view
        returns (uint256[8] memory);
    /// @notice The public inputs of {open} for `who` with `commitment` (mode 5).
    function openingInputs(address who, uint256 commitment) external view returns (uint256[8] memory);
}
