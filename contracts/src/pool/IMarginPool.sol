// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IERC4626} from "@openzeppelin/contracts/interfaces/IERC4626.sol";

/// @title IMarginPool
/// @notice The counterparty and insurance fund of a zkmargin engine for one asset: an
///         ERC-4626 vault that liquidity providers (LPs) enter at once and leave through a
///         delayed redemption request, and that the engine pays trader profits from and
///         sends trader losses, liquidation penalties and bad-debt records to.
/// @dev Deviations from plain ERC-4626 (see docs/pool.md):
///      - `withdraw`/`redeem` only execute a matured redemption request of `owner`
///        (`requestRedeem`, then `withdrawDelay` seconds, then at most `executionWindow`
///        seconds); `maxWithdraw`/`maxRedeem` report 0 outside that window and the requested
///        amount inside it. The assets paid are priced when the request executes.
///      - `deposit`/`mint` are refused (and `maxDeposit`/`maxMint` report 0) while the pool
///        owes more in IOUs than it holds.
///      - `totalAssets()` is the accounted balance minus IOUs owed to traders, not
///        `asset.balanceOf(pool)`: tokens sent to the pool without a function call are not
///        counted (they cannot move the share price).
///
///      Accounting identity (checked by test/PoolInvariant.t.sol):
///        held == deposited - withdrawn + funded + lossesReceived + penaltiesReceived
///                - profitsPaid - iouClaimed
///        owed == iouIssued - iouClaimed == sum of iouOf(trader)
///        totalAssets() == held > owed ? held - owed : 0
///      where `deposited`/`withdrawn` are LP asset flows and every engine flow is counted once.
interface IMarginPool is IERC4626 {
    // ------------------------------------------------------------------ types

    /// @notice The running account of every flow through the pool, in asset units.
    /// @param held Tokens the pool accounts for (excludes tokens sent without a call).
    /// @param owed IOUs outstanding to traders (profit the pool could not pay at once).
    /// @param deposited Assets LPs paid in (`deposit`/`mint`).
    /// @param withdrawn Assets LPs took out (`withdraw`/`redeem`).
    /// @param funded Assets added without shares (`fund`).
    /// @param lossesReceived Trader losses the engine paid in (`receiveLoss`).
    /// @param penaltiesReceived Liquidation proceeds the engine paid in (`receivePenalty`).
    /// @param profitsPaid Trader profit paid out at once by `payProfit` (not IOUs).
    /// @param iouIssued Trader profit the pool could not pay at once.
    /// @param iouClaimed IOUs paid out later (`claim`).
    /// @param badDebt Losses the engine reported it could not collect (no tokens move).
    struct Accounts {
        uint256 held;
        uint256 owed;
        uint256 deposited;
        uint256 withdrawn;
        uint256 funded;
        uint256 lossesReceived;
        uint256 penaltiesReceived;
        uint256 profitsPaid;
        uint256 iouIssued;
        uint256 iouClaimed;
        uint256 badDebt;
    }

    /// @notice One LP's pending redemption: shares held in escrow by the pool (one slot).
    /// @param shares Escrowed shares still to redeem (< 2^128: 3.4e26 tokens of 6 decimals
    ///        at the initial share price; a larger request reverts with SafeCast's error).
    /// @param maturesAt First second at which the request can execute.
    /// @param expiresAt Last second at which it can execute (then: cancel or request again).
    struct Request {
        uint128 shares;
        uint64 maturesAt;
        uint64 expiresAt;
    }

    // ------------------------------------------------------------------ events

    /// @notice The owner set the engine (once).
    event EngineSet(address indexed engine);
    /// @notice The delay and execution window for requests made from now on.
    event WithdrawDelaySet(uint64 delay, uint64 window);
    /// @notice `owner` put `shares` (in total now `pending`) into escrow, executable in
    ///         [maturesAt, expiresAt]. A second request adds to the first and restarts its clock.
    event RedeemRequested(address indexed owner, uint256 shares, uint256 pending, uint64 maturesAt, uint64 expiresAt);
    /// @notice `owner` took `shares` back out of escrow.
    event RedeemCancelled(address indexed owner, uint256 shares);
    /// @notice Assets added without shares (insurance top-up).
    event Funded(address indexed from, uint256 amount);
    /// @notice The engine asked to pay `amount` to `to`: `paid` was transferred, `owed` became an IOU.
    event ProfitPaid(address indexed to, uint256 amount, uint256 paid, uint256 owed);
    /// @notice The engine paid in a trader's loss.
    event LossReceived(uint256 amount);
    /// @notice The engine paid in liquidation proceeds (the pool's share of seized collateral).
    event PenaltyReceived(uint256 amount);
    /// @notice The engine reports a loss it could not collect (no tokens move).
    event BadDebtRecorded(uint256 amount);
    /// @notice `trader` was paid `amount` of its IOU, sent to `receiver`; `remaining` still owed.
    event IouClaimed(address indexed trader, address indexed receiver, uint256 amount, uint256 remaining);

    // ------------------------------------------------------------------ errors

    /// @notice Only the engine may call this.
    error MarginPool__NotEngine(address caller);
    /// @notice The engine is set once and cannot change.
    error MarginPool__EngineAlreadySet(address engine);
    /// @notice An address argument is zero.
    error MarginPool__ZeroAddress();
    /// @notice `delay` or `window` is outside [MIN_DELAY, MAX_DELAY] / [MIN_WINDOW, MAX_WINDOW].
    error MarginPool__DelayOutOfRange(uint64 delay, uint64 window);
    /// @notice A deposit/mint/request of zero, or a deposit too small to mint one share.
    error MarginPool__ZeroShares();
    /// @notice A withdraw/redeem/fund of zero assets, or a redemption worth less than one unit.
    error MarginPool__ZeroAssets();
    /// @notice Deposits are refused while IOUs exceed the tokens held.
    error MarginPool__InDeficit(uint256 held, uint256 owed);
    /// @notice `owner` has not enough free shares to request.
    error MarginPool__InsufficientShares(address owner, uint256 balance, uint256 shares);
    /// @notice `owner` has no pending request.
    error MarginPool__NoRequest(address owner);
    /// @notice The request of `owner` matures only at `maturesAt`.
    error MarginPool__RequestNotMatured(address owner, uint64 maturesAt);
    /// @notice The request of `owner` could execute only until `expiresAt`.
    error MarginPool__RequestExpired(address owner, uint64 expiresAt);
    /// @notice A withdraw/redeem of `shares` exceeds the `pending` escrowed shares of `owner`.
    error MarginPool__ExceedsRequest(address owner, uint256 pending, uint256 shares);
    /// @notice `trader` has no IOU, or the pool holds nothing to pay it with.
    error MarginPool__NothingToClaim(address trader);
    /// @notice Disabled: an ownerless pool could never get its engine or delay set.
    error MarginPool__RenounceDisabled();

    // ------------------------------------------------------------------ owner

    /// @notice Sets the engine, once. Emits {EngineSet}.
    function setEngine(address engine_) external;

    /// @notice Sets the delay and window for requests made from now on (pending requests
    ///         keep theirs). Emits {WithdrawDelaySet}.
    function setWithdrawDelay(uint64 delay, uint64 window) external;

    // ------------------------------------------------------------------ LPs

    /// @notice Moves `shares` of the caller into escrow; they keep bearing profit and loss
    ///         and can be redeemed in [now + withdrawDelay, + executionWindow]. Adding to a
    ///         pending request restarts its clock. Emits {RedeemRequested}.
    function requestRedeem(uint256 shares) external returns (uint64 maturesAt);

    /// @notice Returns every escrowed share of the caller. Emits {RedeemCancelled}.
    function cancelRedeem() external returns (uint256 shares);

    /// @notice The pending request of `owner` (zero if none).
    function pendingRedeem(address owner) external view returns (Request memory);

    // ------------------------------------------------------------------ anyone

    /// @notice Adds `amount` to the pool without minting shares (insurance top-up; raises
    ///         the share price). Emits {Funded}.
    function fund(uint256 amount) external;

    /// @notice Pays the caller's IOU to `receiver`, as far as the pool holds tokens.
    ///         Emits {IouClaimed}.
    function claim(address receiver) external returns (uint256 paid);

    // ------------------------------------------------------------------ engine

    /// @notice Pays a trader's profit: transfers min(amount, free) where free =
    ///         totalAssets() (existing IOUs come first), and records the rest as an IOU of
    ///         `to`. Never reverts for lack of funds, nor if the transfer to `to` fails (then
    ///         the whole amount becomes an IOU). `amount == 0` is a no-op. Emits {ProfitPaid}.
    function payProfit(address to, uint256 amount) external returns (uint256 paid, uint256 owed);

    /// @notice Pulls `amount` from the engine (which must have approved the pool) as a
    ///         trader's loss. Emits {LossReceived}.
    function receiveLoss(uint256 amount) external;

    /// @notice Pulls `amount` from the engine as liquidation proceeds. Emits {PenaltyReceived}.
    function receivePenalty(uint256 amount) external;

    /// @notice Records a loss the engine could not collect; moves no tokens and does not
    ///         change totalAssets(). Emits {BadDebtRecorded}.
    function recordBadDebt(uint256 amount) external;

    // ------------------------------------------------------------------ views

    /// @notice The engine (zero until set).
    function engine() external view returns (address);
    /// @notice Delay applied to new requests, seconds.
    function withdrawDelay() external view returns (uint64);
    /// @notice Execution window applied to new requests, seconds.
    function executionWindow() external view returns (uint64);
    /// @notice The IOU owed to `trader`.
    function iouOf(address trader) external view returns (uint256);
    /// @notice Escrowed shares over all pending requests.
    function totalPendingShares() external view returns (uint256);
    /// @notice Every counter of the running account.
    function accounts() external view returns (Accounts memory);
}
