// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title Vm
/// @notice The subset of forge's cheatcodes that zkmargin's tests use, declared by hand so
///         the tests need no forge-std (none usable is installable offline; see contracts/README.md).
/// @dev Signatures are forge 1.x's (checked against forge 1.7.1). forge answers calls to
///      address(uint160(uint256(keccak256("hevm cheat code")))); add a declaration here
///      before using a cheatcode that is not listed.
interface Vm {
    /// @notice One log entry captured by `recordLogs`.
    struct Log {
        bytes32[] topics;
        bytes data;
        address emitter;
    }

    /// @notice Gas accounting of the last call made by the test (see `lastCallGas`).
    struct Gas {
        uint64 gasLimit;
        uint64 gasTotalUsed;
        uint64 gasMemoryUsed;
        int64 gasRefunded;
        uint64 gasRemaining;
    }

    // ---------------------------------------------------------------- environment

    /// @notice Sets block.timestamp.
    function warp(uint256 newTimestamp) external;
    /// @notice Sets block.number.
    function roll(uint256 newHeight) external;
    /// @notice Sets block.chainid.
    function chainId(uint256 newChainId) external;
    /// @notice Sets block.basefee.
    function fee(uint256 newBasefee) external;
    /// @notice Sets the ether balance of `account`.
    function deal(address account, uint256 newBalance) external;
    /// @notice Replaces the runtime code at `target`.
    function etch(address target, bytes calldata newRuntimeBytecode) external;
    /// @notice Reads a storage slot of `target`.
    function load(address target, bytes32 slot) external view returns (bytes32 data);
    /// @notice Writes a storage slot of `target`.
    function store(address target, bytes32 slot, bytes32 value) external;
    /// @notice Snapshots the whole EVM state.
    function snapshotState() external returns (uint256 snapshotId);
    /// @notice Restores a state taken by `snapshotState`.
    function revertToState(uint256 snapshotId) external returns (bool success);

    // ---------------------------------------------------------------- callers

    /// @notice Makes the next call come from `msgSender`.
    function prank(address msgSender) external;
    /// @notice Makes the next call come from `msgSender` with tx.origin `txOrigin`.
    function prank(address msgSender, address txOrigin) external;
    /// @notice Makes every following call come from `msgSender` until `stopPrank`.
    function startPrank(address msgSender) external;
    /// @notice As `startPrank(address)`, also setting tx.origin.
    function startPrank(address msgSender, address txOrigin) external;
    /// @notice Ends a `startPrank`.
    function stopPrank() external;

    // ---------------------------------------------------------------- expectations

    /// @notice The next call must revert (with any data).
    function expectRevert() external;
    /// @notice The next call must revert with exactly this 4-byte selector as its data.
    function expectRevert(bytes4 revertData) external;
    /// @notice The next call must revert with exactly `revertData`.
    function expectRevert(bytes calldata revertData) external;
    /// @notice The next call must revert with data that starts with `revertData`
    ///         (a custom error whose arguments are not checked).
    function expectPartialRevert(bytes4 revertData) external;
    /// @notice The next emitted event must match the one emitted right after this call
    ///         (all topics and data).
    function expectEmit() external;
    /// @notice As `expectEmit()`, also checking the emitter.
    function expectEmit(address emitter) external;
    /// @notice As `expectEmit()`, choosing which topics and whether data are compared.
    function expectEmit(bool checkTopic1, bool checkTopic2, bool checkTopic3, bool checkData) external;
    /// @notice As above, also checking the emitter.
    function expectEmit(bool checkTopic1, bool checkTopic2, bool checkTopic3, bool checkData, address emitter) external;
    /// @notice A call to `callee` with calldata `data` must happen before the test ends.
    function expectCall(address callee, bytes calldata data) external;
    /// @notice Gas used by the last call the test made (with `--isolate`: as its own
    ///         transaction, including the 21000 base cost and calldata).
    function lastCallGas() external view returns (Gas memory gas);
    /// @notice Starts capturing emitted logs.
    function recordLogs() external;
    /// @notice Returns (and clears) the logs captured since `recordLogs`.
    function getRecordedLogs() external returns (Log[] memory logs);
    /// @notice Calls to `callee` with calldata `data` return `returnData`.
    function mockCall(address callee, bytes calldata data, bytes calldata returnData) external;
    /// @notice Calls to `callee` with calldata `data` revert with `revertData`.
    function mockCallRevert(address callee, bytes calldata data, bytes calldata revertData) external;
    /// @notice Removes every `mockCall`.
    function clearMockedCalls() external;

    // ---------------------------------------------------------------- fuzzing

    /// @notice Discards the current fuzz input unless `condition` holds.
    function assume(bool condition) external pure;
    /// @notice Marks the current test as skipped when `skipTest` is true.
    function skip(bool skipTest) external;

    // ---------------------------------------------------------------- keys and labels

    /// @notice The address of private key `privateKey`.
    function addr(uint256 privateKey) external pure returns (address keyAddr);
    /// @notice Signs `digest` with `privateKey`.
    function sign(uint256 privateKey, bytes32 digest) external pure returns (uint8 v, bytes32 r, bytes32 s);
    /// @notice Names `account` in traces.
    function label(address account, string calldata newLabel) external;

    // ---------------------------------------------------------------- files and JSON

    /// @notice The project root (the directory holding foundry.toml).
    function projectRoot() external view returns (string memory path);
    /// @notice Reads a file; needs an `fs_permissions` entry in foundry.toml.
    function readFile(string calldata path) external view returns (string memory data);
    /// @notice True if `path` exists.
    function exists(string calldata path) external view returns (bool result);
    /// @notice True if `key` (a JSONPath such as ".a.b") exists in `json`.
    function keyExistsJson(string calldata json, string calldata key) external view returns (bool);
    /// @notice Reads a uint at `key` (JSON number or decimal/hex string).
    function parseJsonUint(string calldata json, string calldata key) external pure returns (uint256);
    /// @notice Reads a uint array at `key`.
    function parseJsonUintArray(string calldata json, string calldata key) external pure returns (uint256[] memory);
    /// @dev A JSON array of (signed) integers.
    function parseJsonIntArray(string calldata json, string calldata key) external pure returns (int256[] memory);
    /// @notice Reads a string at `key`.
    function parseJsonString(string calldata json, string calldata key) external pure returns (string memory);
    /// @notice Reads an address at `key`.
    function parseJsonAddress(string calldata json, string calldata key) external pure returns (address);
    /// @notice Reads bytes (hex string) at `key`.
    function parseJsonBytes(string calldata json, string calldata key) external pure returns (bytes memory);
    /// @notice Reads a bytes32 at `key`.
    function parseJsonBytes32(string calldata json, string calldata key) external pure returns (bytes32);

    // ---------------------------------------------------------------- strings

    /// @notice Decimal string of `value`.
    function toString(uint256 value) external pure returns (string memory stringifiedValue);
    /// @notice Checksummed hex string of `value`.
    function toString(address value) external pure returns (string memory stringifiedValue);

    // ---------------------------------------------------------------- assertions
    // Native assertion cheatcodes: they revert with a message that shows both values.

    function assertTrue(bool condition, string calldata err) external pure;
    function assertFalse(bool condition, string calldata err) external pure;
    function assertEq(bool left, bool right, string calldata err) external pure;
    function assertEq(uint256 left, uint256 right, string calldata err) external pure;
    function assertEq(int256 left, int256 right, string calldata err) external pure;
    function assertEq(address left, address right, string calldata err) external pure;
    function assertEq(bytes32 left, bytes32 right, string calldata err) external pure;
    function assertEq(string calldata left, string calldata right, string calldata err) external pure;
    function assertEq(bytes calldata left, bytes calldata right, string calldata err) external pure;
    function assertNotEq(uint256 left, uint256 right, string calldata err) external pure;
    function assertNotEq(address left, address right, string calldata err) external pure;
    function assertNotEq(bytes32 left, bytes32 right, string calldata err) external pure;
    function assertLt(uint256 left, uint256 right, string calldata err) external pure;
    function assertLe(uint256 left, uint256 right, string calldata err) external pure;
    function assertGt(uint256 left, uint256 right, string calldata err) external pure;
    function assertGe(uint256 left, uint256 right, string calldata err) external pure;
    function assertLt(int256 left, int256 right, string calldata err) external pure;
    function assertLe(int256 left, int256 right, string calldata err) external pure;
    function assertGt(int256 left, int256 right, string calldata err) external pure;
    function assertGe(int256 left, int256 right, string calldata err) external pure;
    function assertApproxEqAbs(uint256 left, uint256 right, uint256 maxDelta, string calldata err) external pure;
}
