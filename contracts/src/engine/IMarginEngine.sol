// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IMarginPool} from "../pool/IMarginPool.sol";

/// @title IMarginEngine
/// @notice zkmargin's engine: holds collateral, verifies Groth16 margin proofs whose public
///         inputs it builds itself, and liquidates accounts that stop proving solvency.
/// @dev Public inputs of `MarginProof(N, K, M)` (circuits/margin.circom), in order:
///
///      | index | name         | value (all < r)                                          |
///      |-------|--------------|----------------------------------------------------------|
///      | 0     | commitment   | the account's stored commitment                          |
///      | 1..   | priceWords   | K market prices then M collateral prices (8 decimals),   |
///      |       |              | 64 bits each, 3 per word, first price in the low bits    |
///      | ..    | balanceWords | M balances normalised to 18 decimals, 96 bits, 2 per word |
///      | ..    | paramsWord   | K rates, M haircuts (bps, 14 bits each), opening flag,   |
///      |       |              | withdrawal flag (14 bits each, 0 or 1)                   |
///      | ..    | accountNonce | account | nonce << 160                                    |
///      | last  | engineChain  | address(this) | block.chainid << 160                    |
///
///      Isolated accounts use (N, K, M) = (1, 1, 1): slot 0 is the account's market and
///      collateral asset. Cross accounts use (4, 4, 2): market slot k is market id k,
///      collateral slot c is asset id c; unlisted slots carry price 1, rate 0, haircut 0,
///      balance 0. Rates are IMR with the opening flag set for `open*`, IMR with the
///      withdrawal flag set for `withdraw` (on the balances after the withdrawal; the
///      circuit then counts no unrealized profit), MMR with both flags 0 for `proveMargin`.
///
///      Move set (docs/protocol.md, "Engine rules"): a proof at prices P certifies every
///      joint move with |Δ_k| ≤ mmr_k on the account's markets and collateral drops up to
///      its haircut h_c. Anyone may flag the account as soon as a current price leaves that
///      set shrunk by the liquidation penalty: |P'_k − P_k|·10⁴·10⁴ > mmr_k·(10⁴ − pen)·P_k
///      for a market, (P_c − P'_c)·10⁴·10⁴ > h_c·(10⁴ − pen)·P_c for collateral; inside
///      it the account's equity is at least pen × (requirement + haircut deduction).
///
///      Clocks: the lapse and grace clocks of an account stop while a feed it depends on
///      (isolated: its market's and asset's; cross: every listed one) is stale. Time runs
///      on a per-dependency-set "live" clock, live = now − stale time so far.
///
///      commitment = Poseidon(TAG, account, digest, salt), digest = slot_0 (isolated) or
///      Poseidon(slot_0..slot_3) (cross), slot = market | long << 8 | size << 9 | entry << 73.
///
///      Replay: every accepted proof binds the account's nonce, which then increments and
///      never resets (not even when the account closes). Proof bytes are never a key.
interface IMarginEngine {
    // ------------------------------------------------------------------ types

    /// @notice Which circuit an account proves with.
    enum Kind {
        None,
        Isolated,
        Cross
    }

    /// @notice A Groth16 proof in the EVM's coordinate order (snarkjs `generatecall`:
    ///         each G2 coordinate as [c1, c0]).
    struct Proof {
        uint256[2] a;
        uint256[2][2] b;
        uint256[2] c;
    }

    /// @notice A listed perpetual market.
    struct Market {
        address feed; // oracle feed (registered in the oracle adapter)
        uint16 mmrBps; // maintenance margin rate
        uint16 imrBps; // initial margin rate, >= mmrBps
        uint16 closeFeeBps; // fee on the notional at close (oracle-latency guard, SECURITY.md)
    }

    /// @notice A listed collateral asset.
    struct Collateral {
        address token; // ERC-20
        address feed; // oracle feed of the token's price in quote
        uint16 haircutBps; // value discount applied in margin
        uint8 decimals; // token decimals (<= 18)
    }

    /// @notice An account as the engine keeps it (positions stay private). Stored packed
    ///         (commitment; tag, nonce, live times, policy epoch and prices 0-1; prices
    ///         2-5), returned unpacked.
    struct Account {
        uint256 commitment; // 0 when no account is open
        Kind kind;
        uint8 market; // isolated: the market id of slot 0
        uint8 asset; // isolated: the asset id of slot 0
        uint64 nonce; // next proof must bind this value; never resets
        /// timestamp of the last accepted proof, shifted later by the time the account's
        /// feeds have been stale since (equal to the proof's block time without an outage)
        uint64 lastProofAt;
        /// timestamp a price shock was flagged, shifted as `lastProofAt`; 0 if none pending
        uint64 shockAt;
        /// the price words of the last accepted proof; a slot unlisted then reads 0 here
        uint256[2] provenPriceWords;
        uint64 lifetime; // proof lifetime in force when the last proof was accepted
        uint64 grace; // grace period in force when the last proof was accepted
    }

    /// @notice A revealed position slot, for `close`.
    struct Position {
        uint8 market; // slot index (0 for isolated)
        bool long;
        uint64 size; // 1e-8 base units
        uint64 entry; // 1e-8 quote
    }

    // ------------------------------------------------------------------ events

    event MarketListed(uint8 indexed id, address feed, uint16 mmrBps, uint16 imrBps);
    event MarketRiskSet(uint8 indexed id, uint16 mmrBps, uint16 imrBps);
    event CollateralListed(uint8 indexed id, address token, address feed, uint16 haircutBps, uint8 decimals);
    event HaircutSet(uint8 indexed id, uint16 haircutBps);
    event ProofLifetimeSet(uint64 lifetime);
    event GracePeriodSet(uint64 grace);
    event LiquidationPenaltySet(uint16 penaltyBps);
    /// @notice The vault of asset `asset` (set once): counterparty and insurance fund.
    event PoolSet(uint8 indexed asset, address pool);
    /// @notice Market `id`'s close fee (bps of the notional at the close prices).
    event CloseFeeSet(uint8 indexed id, uint16 feeBps);
    event Deposited(address indexed account, uint8 indexed asset, uint256 amount);
    event Withdrawn(address indexed account, uint8 indexed asset, uint256 amount, uint64 nonce);
    event AccountOpened(
        address indexed account, Kind kind, uint256 commitment, uint8 market, uint8 asset, uint64 nonce
    );
    event MarginProven(address indexed account, uint64 nonce, uint256 priceWord0);
    /// @notice A current price left the account's shrunk proven move set: slot `slot`
    ///         (K markets then M assets) moved from `proven` to `price`.
    event ShockFlagged(address indexed account, address indexed by, uint64 at);
    event MoveSetLeft(address indexed account, uint8 slot, uint64 proven, uint64 price);
    /// @notice An outage clock changed: `staleSince` 0 means its feeds are all fresh;
    ///         `staleTotal` is the stale time it has counted so far (seconds).
    event StaleClock(uint8 indexed clock, uint64 staleSince, uint64 staleTotal);
    /// @notice Risk parameters and clocks now in force for new proofs (policy epoch).
    event PolicySnapshot(uint16 indexed epoch, uint64 lifetime, uint64 grace);
    /// @notice `pnl` and `fee` in 1e-16 quote at the close prices; `badDebt` is what the
    ///         balances could not cover of the loss plus the fee (1e-16 quote). The legs per
    ///         asset (tokens): `toPool` paid to the vault (loss and fee), `fromPool` the
    ///         profit the vault was asked to pay (paid at once or as an IOU, see the vault's
    ///         {IMarginPool-ProfitPaid}), `refund` the balance returned to the trader.
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
    /// @notice The keeper got `reward`; `toPool` went to each asset's vault as liquidation
    ///         proceeds, of which the trader may reclaim its equity above the penalty.
    event Liquidated(address indexed account, address indexed liquidator, uint256[2] reward, uint256[2] toPool);
    /// @notice What {reclaim} needs, for the account's liquidation at nonce `nonce`: six words,
    ///         [0] the commitment; [1] kind | market << 2 | asset << 4 | deadline << 8 (the
    ///         last second {reclaim} is accepted); [2] the escrowed balances (what the keeper
    ///         left), asset 0 | asset 1 << 128; [3], [4] the account's slot prices at
    ///         liquidation, 64 bits each, 3 per word (markets, then assets; the isolated
    ///         layout: market, asset); [5] the close fee (bps) of market slot k at bits 16k.
    event LiquidationRecorded(address indexed account, uint64 indexed nonce, uint256[6] record);
    /// @notice The trader revealed the liquidated positions: at the liquidation prices,
    ///         `pnl` and `fee` (1e-16 quote) settled against the escrowed balances; `paid`
    ///         per asset is what the vault paid back (or owes as an IOU); `badDebt` is what
    ///         the escrowed balances did not cover (1e-16 quote).
    event Reclaimed(
        address indexed account, uint64 indexed nonce, int256 pnl, uint256 fee, uint256 badDebt, uint256[2] paid
    );

    // ------------------------------------------------------------------ errors

    /// @dev A rate, haircut, penalty or threshold is outside 0..10000 bps, or imr < mmr.
    error MarginEngine__InvalidBps(uint256 value);
    /// @dev A duration (proof lifetime, grace period) is zero or too long.
    error MarginEngine__InvalidDuration(uint256 value);
    /// @dev All market or collateral slots are taken (4 markets, 2 assets).
    error MarginEngine__TooManyListings();
    /// @dev The id names no listed market.
    error MarginEngine__UnknownMarket(uint8 id);
    /// @dev The id names no listed collateral asset.
    error MarginEngine__UnknownAsset(uint8 id);
    /// @dev The feed is not registered in the oracle adapter.
    error MarginEngine__FeedNotRegistered(address feed);
    /// @dev A token address is zero, has no code, or has more than 18 decimals.
    error MarginEngine__InvalidToken(address token);
    /// @dev A zero amount was given.
    error MarginEngine__ZeroAmount();
    /// @dev The normalised balance would reach 2^96 (the circuit's bound).
    error MarginEngine__BalanceTooLarge(uint256 normalised);
    /// @dev The account has no open position account.
    error MarginEngine__NoAccount(address account);
    /// @dev The account already has an open position account.
    error MarginEngine__AccountExists(address account);
    /// @dev An isolated account may only hold its own asset.
    error MarginEngine__WrongAsset(uint8 asset);
    /// @dev The commitment is 0 or not below the field modulus r.
    error MarginEngine__InvalidCommitment(uint256 commitment);
    /// @dev A public input is not below r. No longer raised: every input the engine builds
    ///      is below r by construction, and the verifier checks each one again (answering
    ///      false, so {MarginEngine__InvalidProof}). Kept so the ABI does not change.
    error MarginEngine__InputNotInField(uint256 index, uint256 value);
    /// @dev Too little gas left to give the verifier its full allowance (VERIFIER_GAS):
    ///      raise the transaction's gas limit. Without this check a valid proof starved of
    ///      gas would be reported as invalid.
    error MarginEngine__InsufficientGas(uint256 left, uint256 needed);
    /// @dev The verifier rejected the proof (it had its full gas allowance).
    error MarginEngine__InvalidProof();
    /// @dev Not enough balance to withdraw.
    error MarginEngine__InsufficientBalance(uint8 asset, uint256 balance, uint256 amount);
    /// @dev No vault is set for the asset yet (close and liquidation need it).
    error MarginEngine__PoolNotSet(uint8 asset);
    /// @dev The asset's vault is already set (once per asset).
    error MarginEngine__PoolAlreadySet(uint8 asset);
    /// @dev The vault's asset is not the listed token, or its engine is not this engine.
    error MarginEngine__InvalidPool(address pool);
    /// @dev No liquidation of `account` at `nonce` matches the record passed (none, already
    ///      reclaimed, or a record that differs from the one emitted).
    error MarginEngine__NoLiquidation(address account, uint64 nonce);
    /// @dev The reclaim window of the liquidation closed at `deadline`.
    error MarginEngine__ReclaimExpired(uint64 deadline);
    /// @dev The revealed positions do not open the stored commitment.
    error MarginEngine__CommitmentMismatch();
    /// @dev A revealed position is malformed (wrong slot count or market index).
    error MarginEngine__InvalidPosition(uint256 index);
    /// @dev The account is not liquidatable now.
    error MarginEngine__NotLiquidatable(address account);
    /// @dev Every current price of the account's slots is inside its last proof's move
    ///      set shrunk by the liquidation penalty: it cannot be flagged.
    error MarginEngine__InsideProvenSet(address account);
    /// @dev A shock is already flagged on the account (its grace clock runs).
    error MarginEngine__ShockPending(address account);
    /// @dev The admin changed parameters 32,767 times: no policy epoch is left.
    error MarginEngine__TooManyPolicies();
    /// @dev Renouncing ownership is disabled: it would freeze listings and parameters.
    error MarginEngine__RenounceDisabled();
    /// @dev The chain id does not fit the 64 bits the circuit gives it (checked at deployment
    ///      and whenever public inputs are built).
    error MarginEngine__ChainIdTooLarge(uint256 chainId);

    // ------------------------------------------------------------------ admin (owner)

    /// @notice Lists a market; ids are given in order 0..3. Emits {MarketListed}.
    function listMarket(address feed, uint16 mmrBps, uint16 imrBps) external returns (uint8 id);
    /// @notice Changes a market's rates; accounts must prove again under them. Emits {MarketRiskSet}.
    function setMarketRisk(uint8 id, uint16 mmrBps, uint16 imrBps) external;
    /// @notice Lists a collateral asset; ids are given in order 0..1. Emits {CollateralListed}.
    function listCollateral(address token, address feed, uint16 haircutBps) external returns (uint8 id);
    /// @notice Changes an asset's haircut. Emits {HaircutSet}.
    function setHaircut(uint8 id, uint16 haircutBps) external;
    /// @notice How long an accepted proof keeps an account safe. Emits {ProofLifetimeSet}.
    function setProofLifetime(uint64 lifetime) external;
    /// @notice Time to prove again after a shock is flagged. Emits {GracePeriodSet}.
    function setGracePeriod(uint64 grace) external;
    /// @notice Share of seized collateral paid to the liquidator, at most 2,500 bps.
    ///         Emits {LiquidationPenaltySet}.
    function setLiquidationPenalty(uint16 penaltyBps) external;

    /// @notice Sets the vault of a listed asset, once: its `asset()` must be the token and its
    ///         `engine()` this engine. The engine approves it for the token (it pulls only
    ///         the loss and penalty amounts the engine passes). Emits {PoolSet}.
    function setPool(uint8 asset, IMarginPool pool) external;
    /// @notice Sets market `id`'s close fee, at most MAX_CLOSE_FEE_BPS: charged at close on
    ///         every position's notional at the close price, paid to the vaults. Sized at
    ///         least to the market feed's deviation threshold, it removes the expected
    ///         profit of a round trip against a known next oracle round (SECURITY.md).
    ///         Emits {CloseFeeSet}.
    function setCloseFee(uint8 id, uint16 feeBps) external;

    // ------------------------------------------------------------------ anyone
    /// @notice Flags a price shock on `account`: some current price of its slots left the
    ///         move set its last proof certified, shrunk so the liquidation penalty stays
    ///         covered (see the contract's header). The account then has the grace period
    ///         (in force at its last proof) to prove again. Emits {MoveSetLeft} and
    ///         {ShockFlagged}; reverts with {MarginEngine__InsideProvenSet} otherwise.
    function flagShock(address account) external;
    /// @notice Brings `account`'s outage clock up to date from its feeds' update times:
    ///         starts counting stale time (from the moment a feed went stale, not from this
    ///         call) or stops it once every feed is fresh again. Anyone may call it; a
    ///         trader calls it during an outage so the outage does not count against the
    ///         proof's lifetime or grace. Emits {StaleClock} if the clock changed.
    function pokeStale(address account) external;
    /// @notice Caches the current price of every listed slot, read through the oracle
    ///         adapter with all its checks, for the proofs of this block: an open, a
    ///         margin proof or a withdrawal in the same block reads one or two engine
    ///         words instead of the adapter and each feed. Proofs in later blocks, and
    ///         flagShock, close and liquidate in any block, ignore the cache. Anyone may
    ///         call it (the keeper does, in blocks with proofs); reverts with the adapter's
    ///         error if any listed feed fails a check (proofs then read the adapter).
    function pushPrices() external;
    /// @notice Seizes a liquidatable account's collateral: the penalty share to the caller,
    ///         the rest to the asset's vault ({IMarginPool-receivePenalty}), and records the
    ///         prices and fees at this moment for {reclaim}. Reads the account's prices
    ///         (reverts while a feed is stale). Emits {Liquidated} and {LiquidationRecorded}.
    function liquidate(address account) external;

    // ------------------------------------------------------------------ trader

    /// @notice Deposits collateral (before or after opening). Emits {Deposited}.
    function deposit(uint8 asset, uint256 amount) external;
    /// @notice Opens an isolated account on (market, asset) with an opening proof (IMR,
    ///         entries at the oracle price). Emits {AccountOpened}.
    function openIsolated(uint256 commitment, uint8 market, uint8 asset, Proof calldata proof) external;
    /// @notice Opens a cross-margin account with an opening proof. Emits {AccountOpened}.
    function openCross(uint256 commitment, Proof calldata proof) external;
    /// @notice Proves maintenance margin at the current prices. Emits {MarginProven}.
    function proveMargin(Proof calldata proof) external;
    /// @notice Withdraws with a proof that the remaining balances meet initial margin.
    function withdraw(uint8 asset, uint256 amount, Proof calldata proof) external;
    /// @notice Withdraws collateral of an address with no open account (no proof needed).
    function withdrawIdle(uint8 asset, uint256 amount) external;
    /// @notice Closes the account by opening its commitment; PnL, less the close fee,
    ///         settles against the vaults (profit paid by them, an IOU if one is short: a
    ///         close never reverts for lack of pool funds; loss and fee paid to them) and
    ///         every remaining balance returns to the trader. Emits {AccountClosed}. A
    ///         liquidatable account first pays its owner the liquidation reward (emits
    ///         {CloseRewarded}) and settles the rest: never less than liquidating oneself.
    function close(Position[] calldata positions, uint256 salt) external;
    /// @notice After a liquidation (at the account's nonce `nonce`), reveals its positions
    ///         and salt, until the record's deadline: the escrowed balances (what the keeper
    ///         left) settle as a close would, at the liquidation prices and fees, and the
    ///         vault pays the rest back to the trader (an IOU if short). Unclaimed by the
    ///         deadline, the vault keeps it. Emits {Reclaimed}.
    function reclaim(uint64 nonce, uint256[6] calldata record, Position[] calldata positions, uint256 salt) external;

    // ------------------------------------------------------------------ views

    function account(address who) external view returns (Account memory);
    function balanceOf(address who, uint8 asset) external view returns (uint256);
    /// @notice The vault of `asset` (address(0) until set).
    function pool(uint8 asset) external view returns (IMarginPool);
    /// @notice keccak256(abi.encode(record)) of `account`'s unreclaimed liquidation at
    ///         `nonce`, 0 if none.
    function liquidationOf(address account, uint64 nonce) external view returns (bytes32);
    function market(uint8 id) external view returns (Market memory);
    function collateral(uint8 id) external view returns (Collateral memory);
    function marketCount() external view returns (uint8);
    function collateralCount() external view returns (uint8);
    /// @notice Whether `account` may be liquidated now, and the earliest time it may be.
    ///         Counts an outage that nobody poked yet, as {liquidate} would.
    /// @return now_ True if liquidatable at this block.
    /// @return at The first timestamp at which it is (type(uint64).max if never, e.g. no
    ///         account, or not known yet because a feed it depends on is stale now).
    function liquidatable(address account) external view returns (bool now_, uint64 at);
    /// @notice Whether {flagShock} would accept `account` now (false if a shock is pending).
    function flaggable(address account) external view returns (bool);
    /// @notice The public inputs the engine would verify now for an open account.
    /// @param initial IMR (true) or MMR (false).
    /// @param withdrawAsset The asset of a withdrawal to preview (ignored if the amount is 0).
    /// @param withdrawAmount Balances are taken after this withdrawal (0: none).
    function publicInputs(address account, bool initial, uint8 withdrawAsset, uint256 withdrawAmount)
        external
        view
        returns (uint256[] memory);
    /// @notice The public inputs of an opening proof (IMR, opening flag) for a new account.
    function openingInputs(address account, uint256 commitment, Kind kind, uint8 market, uint8 asset)
        external
        view
        returns (uint256[] memory);
}
