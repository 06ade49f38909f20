// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {Ownable2Step} from "@openzeppelin/contracts/access/Ownable2Step.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {ERC4626} from "@openzeppelin/contracts/token/ERC20/extensions/ERC4626.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {IERC4626} from "@openzeppelin/contracts/interfaces/IERC4626.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";

import {IMarginPool} from "./IMarginPool.sol";

/// @title MarginPool
/// @notice Counterparty and insurance fund of a zkmargin engine for one asset (e.g. USDC):
///         an ERC-4626 vault whose LPs leave through a delayed request, and which pays
///         trader profits (IOUs when short), and receives losses and liquidation proceeds.
/// @dev Design (docs/pool.md):
///      - Share price = totalAssets() / totalSupply() with OpenZeppelin's virtual shares and
///        assets (`_decimalsOffset() = DECIMALS_OFFSET`): the first-depositor inflation
///        attack costs the attacker about 10^6 times what it can take.
///      - totalAssets() comes from the pool's own account (`held - owed`), never from
///        `asset.balanceOf(this)`: a plain token transfer to the pool changes nothing.
///      - Exits: `requestRedeem` escrows shares (they keep bearing profit and loss);
///        `redeem`/`withdraw` execute them between `maturesAt` and `expiresAt` at the share
///        price of that moment. An LP who sees a loss coming cannot leave before it settles
///        if `withdrawDelay` exceeds the engine's settlement horizon.
///      - IOUs are senior to LPs: totalAssets() subtracts them, so LP exits never take the
///        tokens that back them, and `payProfit` pays only out of totalAssets().
///      - Rounding goes against whoever receives: shares minted and assets redeemed round
///        down, shares burnt and assets paid in round up (OpenZeppelin's ERC-4626 rules);
///        zero-share deposits and zero-asset redemptions revert instead of rounding away.
///      - Every state-changing function is `nonReentrant` (transient storage: Cancun).
///      - Tokens: plain ERC-20s (no fee on transfer, no rebasing); the pool counts the
///        amounts it asked to move.
contract MarginPool is ERC4626, Ownable2Step, ReentrancyGuardTransient, IMarginPool {
    using SafeERC20 for IERC20;

    /// @notice Virtual-share offset: shares have the asset's decimals + 6.
    uint8 public constant DECIMALS_OFFSET = 6;
    /// @notice Bounds of `withdrawDelay`.
    uint64 public constant MIN_DELAY = 1 hours;
    uint64 public constant MAX_DELAY = 30 days;
    /// @notice Bounds of `executionWindow`.
    uint64 public constant MIN_WINDOW = 1 hours;
    uint64 public constant MAX_WINDOW = 7 days;

    /// @inheritdoc IMarginPool
    address public engine;
    /// @inheritdoc IMarginPool
    uint64 public withdrawDelay;
    /// @inheritdoc IMarginPool
    uint64 public executionWindow;
    /// @inheritdoc IMarginPool
    uint256 public totalPendingShares;

    Accounts private _acc;
    mapping(address owner => Request) private _requests;
    mapping(address trader => uint256) private _iou;

    modifier onlyEngine() {
        if (msg.sender != engine) revert MarginPool__NotEngine(msg.sender);
        _;
    }

    /// @param asset_ The pool's asset (the engine's collateral asset it serves).
    /// @param name_ Share token name, e.g. "zkmargin USDC pool".
    /// @param symbol_ Share token symbol, e.g. "zmpUSDC".
    /// @param owner_ Sets the engine (once) and the delay; should be a timelock.
    /// @param delay Seconds between a request and its first possible execution.
    /// @param window Seconds a matured request stays executable.
    constructor(IERC20 asset_, string memory name_, string memory symbol_, address owner_, uint64 delay, uint64 window)
        ERC20(name_, symbol_)
        ERC4626(asset_)
        Ownable(owner_)
    {
        if (address(asset_) == address(0)) revert MarginPool__ZeroAddress();
        _setWithdrawDelay(delay, window);
    }

    // ================================================================== owner

    /// @inheritdoc IMarginPool
    function setEngine(address engine_) external onlyOwner {
        if (engine != address(0)) revert MarginPool__EngineAlreadySet(engine);
        if (engine_ == address(0)) revert MarginPool__ZeroAddress();
        engine = engine_;
        emit EngineSet(engine_);
    }

    /// @inheritdoc IMarginPool
    function setWithdrawDelay(uint64 delay, uint64 window) external onlyOwner {
        _setWithdrawDelay(delay, window);
    }

    /// @notice Disabled: an ownerless pool could never get its engine or delay set.
    function renounceOwnership() public view override onlyOwner {
        revert MarginPool__RenounceDisabled();
    }

    function _setWithdrawDelay(uint64 delay, uint64 window) private {
        if (delay < MIN_DELAY || delay > MAX_DELAY || window < MIN_WINDOW || window > MAX_WINDOW) {
            revert MarginPool__DelayOutOfRange(delay, window);
        }
        withdrawDelay = delay;
        executionWindow = window;
        emit WithdrawDelaySet(delay, window);
    }

    // ================================================================== ERC-4626 views

    /// @notice Tokens held for LPs: accounted tokens minus IOUs owed to traders (0 in deficit).
    function totalAssets() public view override(ERC4626, IERC4626) returns (uint256) {
        uint256 held = _acc.held;
        uint256 owed = _acc.owed;
        return held > owed ? held - owed : 0;
    }

    /// @notice Unlimited, except 0 while IOUs exceed the tokens held.
    function maxDeposit(address) public view override(ERC4626, IERC4626) returns (uint256) {
        return _acc.owed > _acc.held ? 0 : type(uint256).max;
    }

    /// @notice Unlimited, except 0 while IOUs exceed the tokens held.
    function maxMint(address) public view override(ERC4626, IERC4626) returns (uint256) {
        return _acc.owed > _acc.held ? 0 : type(uint256).max;
    }

    /// @notice The assets the executable part of `owner`'s request is worth (rounded down);
    ///         0 unless the request is matured and not expired.
    function maxWithdraw(address owner) public view override(ERC4626, IERC4626) returns (uint256) {
        return _convertToAssets(maxRedeem(owner), Math.Rounding.Floor);
    }

    /// @notice The escrowed shares of `owner` if its request is matured and not expired, else 0.
    function maxRedeem(address owner) public view override(ERC4626, IERC4626) returns (uint256) {
        Request storage r = _requests[owner];
        uint256 t = block.timestamp;
        return (t >= r.maturesAt && t <= r.expiresAt) ? r.shares : 0;
    }

    // ================================================================== LPs

    /// @notice Deposits `assets` for shares rounded down; reverts if that is 0 shares or the
    ///         pool is in deficit.
    function deposit(uint256 assets, address receiver)
        public
        override(ERC4626, IERC4626)
        nonReentrant
        returns (uint256 shares)
    {
        _requireNoDeficit();
        shares = previewDeposit(assets);
        if (shares == 0) revert MarginPool__ZeroShares();
        _deposit(msg.sender, receiver, assets, shares);
    }

    /// @notice Mints `shares` for assets rounded up; reverts if 0 shares or in deficit.
    function mint(uint256 shares, address receiver)
        public
        override(ERC4626, IERC4626)
        nonReentrant
        returns (uint256 assets)
    {
        _requireNoDeficit();
        if (shares == 0) revert MarginPool__ZeroShares();
        assets = previewMint(shares); // >= 1: rounded up from shares * (totalAssets + 1) / ...
        _deposit(msg.sender, receiver, assets, shares);
    }

    /// @notice Executes `owner`'s matured request for `assets`, burning the escrowed shares
    ///         that cost, rounded up. The caller is `owner` or has its share allowance.
    function withdraw(uint256 assets, address receiver, address owner)
        public
        override(ERC4626, IERC4626)
        nonReentrant
        returns (uint256 shares)
    {
        if (assets == 0) revert MarginPool__ZeroAssets();
        shares = previewWithdraw(assets);
        _useRequest(owner, shares);
        _withdraw(msg.sender, receiver, owner, assets, shares);
    }

    /// @notice Executes `shares` of `owner`'s matured request for assets rounded down;
    ///         reverts if they are worth 0. The caller is `owner` or has its share allowance.
    function redeem(uint256 shares, address receiver, address owner)
        public
        override(ERC4626, IERC4626)
        nonReentrant
        returns (uint256 assets)
    {
        if (shares == 0) revert MarginPool__ZeroShares();
        _useRequest(owner, shares);
        assets = previewRedeem(shares);
        if (assets == 0) revert MarginPool__ZeroAssets();
        _withdraw(msg.sender, receiver, owner, assets, shares);
    }

    /// @inheritdoc IMarginPool
    function requestRedeem(uint256 shares) external nonReentrant returns (uint64 maturesAt) {
        if (shares == 0) revert MarginPool__ZeroShares();
        uint256 balance = balanceOf(msg.sender);
        if (balance < shares) revert MarginPool__InsufficientShares(msg.sender, balance, shares);
        uint256 pending = _requests[msg.sender].shares + shares;
        maturesAt = uint64(block.timestamp) + withdrawDelay;
        uint64 expiresAt = maturesAt + executionWindow;
        _requests[msg.sender] = Request(SafeCast.toUint128(pending), maturesAt, expiresAt);
        totalPendingShares += shares;
        _transfer(msg.sender, address(this), shares);
        emit RedeemRequested(msg.sender, shares, pending, maturesAt, expiresAt);
    }

    /// @inheritdoc IMarginPool
    function cancelRedeem() external nonReentrant returns (uint256 shares) {
        shares = _requests[msg.sender].shares;
        if (shares == 0) revert MarginPool__NoRequest(msg.sender);
        delete _requests[msg.sender];
        totalPendingShares -= shares;
        _transfer(address(this), msg.sender, shares);
        emit RedeemCancelled(msg.sender, shares);
    }

    // ================================================================== anyone

    /// @inheritdoc IMarginPool
    function fund(uint256 amount) external nonReentrant {
        if (amount == 0) revert MarginPool__ZeroAssets();
        IERC20(asset()).safeTransferFrom(msg.sender, address(this), amount);
        _acc.held += amount;
        _acc.funded += amount;
        emit Funded(msg.sender, amount);
    }

    /// @inheritdoc IMarginPool
    function claim(address receiver) external nonReentrant returns (uint256 paid) {
        if (receiver == address(0)) revert MarginPool__ZeroAddress();
        uint256 due = _iou[msg.sender];
        uint256 held = _acc.held;
        paid = due < held ? due : held;
        if (paid == 0) revert MarginPool__NothingToClaim(msg.sender);
        uint256 remaining = due - paid;
        _iou[msg.sender] = remaining;
        _acc.owed -= paid;
        _acc.held = held - paid;
        _acc.iouClaimed += paid;
        IERC20(asset()).safeTransfer(receiver, paid);
        emit IouClaimed(msg.sender, receiver, paid, remaining);
    }

    // ================================================================== engine

    /// @inheritdoc IMarginPool
    function payProfit(address to, uint256 amount)
        external
        onlyEngine
        nonReentrant
        returns (uint256 paid, uint256 owed)
    {
        if (to == address(0)) revert MarginPool__ZeroAddress();
        if (amount == 0) return (0, 0);
        uint256 free = totalAssets(); // IOUs already owed come first
        paid = amount < free ? amount : free;
        if (paid != 0) {
            _acc.held -= paid; // paid <= held - owed
            // A failing transfer (e.g. a blocklisted receiver) must not revert the engine's
            // close: the whole amount becomes an IOU, claimable to another address.
            if (IERC20(asset()).trySafeTransfer(to, paid)) {
                _acc.profitsPaid += paid;
            } else {
                _acc.held += paid;
                paid = 0;
            }
        }
        owed = amount - paid;
        if (owed != 0) {
            _iou[to] += owed;
            _acc.owed += owed;
            _acc.iouIssued += owed;
        }
        emit ProfitPaid(to, amount, paid, owed);
    }

    /// @inheritdoc IMarginPool
    function receiveLoss(uint256 amount) external onlyEngine nonReentrant {
        if (amount == 0) return;
        IERC20(asset()).safeTransferFrom(msg.sender, address(this), amount);
        _acc.held += amount;
        _acc.lossesReceived += amount;
        emit LossReceived(amount);
    }

    /// @inheritdoc IMarginPool
    function receivePenalty(uint256 amount) external onlyEngine nonReentrant {
        if (amount == 0) return;
        IERC20(asset()).safeTransferFrom(msg.sender, address(this), amount);
        _acc.held += amount;
        _acc.penaltiesReceived += amount;
        emit PenaltyReceived(amount);
    }

    /// @inheritdoc IMarginPool
    function recordBadDebt(uint256 amount) external onlyEngine nonReentrant {
        if (amount == 0) return;
        _acc.badDebt += amount;
        emit BadDebtRecorded(amount);
    }

    // ================================================================== views

    /// @inheritdoc IMarginPool
    function pendingRedeem(address owner) external view returns (Request memory) {
        return _requests[owner];
    }

    /// @inheritdoc IMarginPool
    function iouOf(address trader) external view returns (uint256) {
        return _iou[trader];
    }

    /// @inheritdoc IMarginPool
    function accounts() external view returns (Accounts memory) {
        return _acc;
    }

    // ================================================================== internal

    function _decimalsOffset() internal pure override returns (uint8) {
        return DECIMALS_OFFSET;
    }

    function _requireNoDeficit() private view {
        uint256 held = _acc.held;
        uint256 owed = _acc.owed;
        if (owed > held) revert MarginPool__InDeficit(held, owed);
    }

    /// @dev Takes `shares` out of `owner`'s request; reverts unless it is executable now.
    function _useRequest(address owner, uint256 shares) private {
        Request storage r = _requests[owner];
        uint256 pending = r.shares;
        if (pending == 0) revert MarginPool__NoRequest(owner);
        // The delay is hours to days: a validator's few seconds of timestamp drift do not matter.
        // forge-lint: disable-next-line(block-timestamp)
        if (block.timestamp < r.maturesAt) revert MarginPool__RequestNotMatured(owner, r.maturesAt);
        // forge-lint: disable-next-line(block-timestamp)
        if (block.timestamp > r.expiresAt) revert MarginPool__RequestExpired(owner, r.expiresAt);
        if (shares > pending) revert MarginPool__ExceedsRequest(owner, pending, shares);
        if (shares == pending) delete _requests[owner];
        // pending - shares < pending, which was stored as a uint128
        // forge-lint: disable-next-line(unsafe-typecast)
        else r.shares = uint128(pending - shares);
        totalPendingShares -= shares;
    }

    /// @dev Pulls the assets, then accounts and mints (OpenZeppelin's order).
    function _deposit(address caller, address receiver, uint256 assets, uint256 shares) internal override {
        IERC20(asset()).safeTransferFrom(caller, address(this), assets);
        _acc.held += assets;
        _acc.deposited += assets;
        _mint(receiver, shares);
        emit Deposit(caller, receiver, assets, shares);
    }

    /// @dev Burns escrowed shares (held by the pool), accounts, then pays `receiver`.
    function _withdraw(address caller, address receiver, address owner, uint256 assets, uint256 shares)
        internal
        override
    {
        if (caller != owner) _spendAllowance(owner, caller, shares);
        _burn(address(this), shares);
        _acc.held -= assets; // assets <= totalAssets() <= held - owed (see docs/pool.md)
        _acc.withdrawn += assets;
        IERC20(asset()).safeTransfer(receiver, assets);
        emit Withdraw(caller, receiver, owner, assets, shares);
    }
}
