// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Vm} from "./Vm.sol";

/// @title Test
/// @notice Small base for zkmargin's forge tests: the cheatcode handle, assertions that
///         revert on failure, `bound`, named addresses, and invariant-target registration.
/// @dev forge 1.x treats any revert in a test as a failure (`assertions_revert = true`,
///      `legacy_assertions = false`), so assertions here simply forward to forge's native
///      assertion cheatcodes, which revert with a message showing both values.
abstract contract Test {
    /// @notice The cheatcode contract: address(uint160(uint256(keccak256("hevm cheat code")))).
    Vm internal constant vm = Vm(0x7109709ECfa91a80626fF3989D68f67F5b1DD12D);

    /// @notice Marker some tools look for on test contracts.
    bool public constant IS_TEST = true;

    /// @notice A contract and the selectors of it that an invariant run may call.
    struct FuzzSelector {
        address addr;
        bytes4[] selectors;
    }

    address[] private _targetContracts;
    address[] private _excludeContracts;
    address[] private _targetSenders;
    address[] private _excludeSenders;
    FuzzSelector[] private _targetSelectors;
    FuzzSelector[] private _excludeSelectors;

    // ------------------------------------------------------------------ assertions

    /// @notice Fails the test with `reason`.
    function fail(string memory reason) internal pure {
        vm.assertTrue(false, reason);
    }

    function assertTrue(bool condition) internal pure {
        vm.assertTrue(condition, "");
    }

    function assertTrue(bool condition, string memory err) internal pure {
        vm.assertTrue(condition, err);
    }

    function assertFalse(bool condition) internal pure {
        vm.assertFalse(condition, "");
    }

    function assertFalse(bool condition, string memory err) internal pure {
        vm.assertFalse(condition, err);
    }

    function assertEq(bool left, bool right) internal pure {
        vm.assertEq(left, right, "");
    }

    function assertEq(bool left, bool right, string memory err) internal pure {
        vm.assertEq(left, right, err);
    }

    function assertEq(uint256 left, uint256 right) internal pure {
        vm.assertEq(left, right, "");
    }

    function assertEq(uint256 left, uint256 right, string memory err) internal pure {
        vm.assertEq(left, right, err);
    }

    function assertEq(int256 left, int256 right) internal pure {
        vm.assertEq(left, right, "");
    }

    function assertEq(int256 left, int256 right, string memory err) internal pure {
        vm.assertEq(left, right, err);
    }

    function assertEq(address left, address right) internal pure {
        vm.assertEq(left, right, "");
    }

    function assertEq(address left, address right, string memory err) internal pure {
        vm.assertEq(left, right, err);
    }

    function assertEq(bytes32 left, bytes32 right) internal pure {
        vm.assertEq(left, right, "");
    }

    function assertEq(bytes32 left, bytes32 right, string memory err) internal pure {
        vm.assertEq(left, right, err);
    }

    function assertEq(string memory left, string memory right) internal pure {
        vm.assertEq(left, right, "");
    }

    function assertEq(string memory left, string memory right, string memory err) internal pure {
        vm.assertEq(left, right, err);
    }

    function assertEq(bytes memory left, bytes memory right) internal pure {
        vm.assertEq(left, right, "");
    }

    function assertEq(bytes memory left, bytes memory right, string memory err) internal pure {
        vm.assertEq(left, right, err);
    }

    function assertNotEq(uint256 left, uint256 right) internal pure {
        vm.assertNotEq(left, right, "");
    }

    function assertNotEq(uint256 left, uint256 right, string memory err) internal pure {
        vm.assertNotEq(left, right, err);
    }

    function assertNotEq(address left, address right) internal pure {
        vm.assertNotEq(left, right, "");
    }

    function assertNotEq(address left, address right, string memory err) internal pure {
        vm.assertNotEq(left, right, err);
    }

    function assertNotEq(bytes32 left, bytes32 right) internal pure {
        vm.assertNotEq(left, right, "");
    }

    function assertNotEq(bytes32 left, bytes32 right, string memory err) internal pure {
        vm.assertNotEq(left, right, err);
    }

    function assertLt(uint256 left, uint256 right) internal pure {
        vm.assertLt(left, right, "");
    }

    function assertLt(uint256 left, uint256 right, string memory err) internal pure {
        vm.assertLt(left, right, err);
    }

    function assertLe(uint256 left, uint256 right) internal pure {
        vm.assertLe(left, right, "");
    }

    function assertLe(uint256 left, uint256 right, string memory err) internal pure {
        vm.assertLe(left, right, err);
    }

    function assertGt(uint256 left, uint256 right) internal pure {
        vm.assertGt(left, right, "");
    }

    function assertGt(uint256 left, uint256 right, string memory err) internal pure {
        vm.assertGt(left, right, err);
    }

    function assertGe(uint256 left, uint256 right) internal pure {
        vm.assertGe(left, right, "");
    }

    function assertGe(uint256 left, uint256 right, string memory err) internal pure {
        vm.assertGe(left, right, err);
    }

    function assertLt(int256 left, int256 right) internal pure {
        vm.assertLt(left, right, "");
    }

    function assertLe(int256 left, int256 right) internal pure {
        vm.assertLe(left, right, "");
    }

    function assertLe(int256 left, int256 right, string memory err) internal pure {
        vm.assertLe(left, right, err);
    }

    function assertGt(int256 left, int256 right) internal pure {
        vm.assertGt(left, right, "");
    }

    function assertGe(int256 left, int256 right) internal pure {
        vm.assertGe(left, right, "");
    }

    function assertGe(int256 left, int256 right, string memory err) internal pure {
        vm.assertGe(left, right, err);
    }

    function assertApproxEqAbs(uint256 left, uint256 right, uint256 maxDelta) internal pure {
        vm.assertApproxEqAbs(left, right, maxDelta, "");
    }

    function assertApproxEqAbs(uint256 left, uint256 right, uint256 maxDelta, string memory err) internal pure {
        vm.assertApproxEqAbs(left, right, maxDelta, err);
    }

    // ------------------------------------------------------------------ fuzz helpers

    /// @notice Maps any `x` into [min, max] without rejecting fuzz inputs.
    /// @dev Values already in range are returned unchanged. Values above the range are
    ///      counted down from `max` (so type(uint256).max maps to `max`, keeping the
    ///      fuzzer's edge values at the edges); other values wrap from `min`.
    function bound(uint256 x, uint256 min, uint256 max) internal pure returns (uint256) {
        require(min <= max, "Test.bound: min > max");
        if (x >= min && x <= max) return x;
        uint256 span = max - min; // number of values in range, minus one
        if (span == type(uint256).max) return x; // whole domain (unreachable: x in range)
        if (x > max) {
            uint256 above = type(uint256).max - x; // 0 for the largest input
            return max - (above % (span + 1));
        }
        return min + (x % (span + 1)); // here x < min
    }

    /// @notice Signed `bound`: maps any `x` into [min, max].
    /// @dev Shifts to unsigned order (x + 2^255) so that the unsigned rules apply.
    function bound(int256 x, int256 min, int256 max) internal pure returns (int256) {
        require(min <= max, "Test.bound: min > max");
        uint256 ux = _toOrdered(x);
        uint256 r = bound(ux, _toOrdered(min), _toOrdered(max));
        return _fromOrdered(r);
    }

    function _toOrdered(int256 x) private pure returns (uint256) {
        unchecked {
            // reinterpreting the two's-complement bits is the point (flip the sign bit)
            // forge-lint: disable-next-line(unsafe-typecast)
            return uint256(x) ^ (uint256(1) << 255);
        }
    }

    function _fromOrdered(uint256 x) private pure returns (int256) {
        unchecked {
            // inverse of _toOrdered: flip the sign bit back, reinterpret as two's complement
            // forge-lint: disable-next-line(unsafe-typecast)
            return int256(x ^ (uint256(1) << 255));
        }
    }

    /// @notice A deterministic address for `name`, labelled in traces.
    function makeAddr(string memory name) internal returns (address account) {
        account = vm.addr(uint256(keccak256(bytes(name))));
        vm.label(account, name);
    }

    // ------------------------------------------------------------------ invariant targets
    // forge calls the public getters below on the test contract before an invariant run.

    /// @notice Restricts invariant calls to `target` (call in setUp; may repeat).
    function targetContract(address target) internal {
        _targetContracts.push(target);
    }

    /// @notice Never calls `target` during invariant runs.
    function excludeContract(address target) internal {
        _excludeContracts.push(target);
    }

    /// @notice Invariant calls come from `sender` (call in setUp; may repeat).
    function targetSender(address sender) internal {
        _targetSenders.push(sender);
    }

    /// @notice Invariant calls never come from `sender`.
    function excludeSender(address sender) internal {
        _excludeSenders.push(sender);
    }

    /// @notice Only these selectors of `target` are called during invariant runs.
    function targetSelector(address target, bytes4[] memory selectors) internal {
        _targetSelectors.push(FuzzSelector({addr: target, selectors: selectors}));
    }

    /// @notice These selectors of `target` are never called during invariant runs.
    function excludeSelector(address target, bytes4[] memory selectors) internal {
        _excludeSelectors.push(FuzzSelector({addr: target, selectors: selectors}));
    }

    function targetContracts() public view returns (address[] memory) {
        return _targetContracts;
    }

    function excludeContracts() public view returns (address[] memory) {
        return _excludeContracts;
    }

    function targetSenders() public view returns (address[] memory) {
        return _targetSenders;
    }

    function excludeSenders() public view returns (address[] memory) {
        return _excludeSenders;
    }

    function targetSelectors() public view returns (FuzzSelector[] memory) {
        return _targetSelectors;
    }

    function excludeSelectors() public view returns (FuzzSelector[] memory) {
        return _excludeSelectors;
    }
}
