// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {Test} from "./utils/Test.sol";

/// @dev Checks the project's own test helpers (test/utils/Test.sol).
contract TestBaseTest is Test {
    function test_Bound_KeepsInRangeValues() public pure {
        assertEq(bound(uint256(5), 0, 10), 5);
        assertEq(bound(uint256(0), 0, 10), 0);
        assertEq(bound(uint256(10), 0, 10), 10);
        assertEq(bound(uint256(7), 7, 7), 7);
    }

    function test_Bound_MapsEdgesToEdges() public pure {
        assertEq(bound(uint256(type(uint256).max), 1, 100), 100);
        assertEq(bound(uint256(type(uint256).max - 1), 1, 100), 99);
        assertEq(bound(uint256(0), 1, 100), 1);
        assertEq(bound(uint256(1), 5, 100), 6);
    }

    function test_Bound_Signed() public pure {
        assertEq(bound(int256(-5), -10, 10), int256(-5));
        assertEq(bound(type(int256).max, -10, 10), int256(10));
        assertEq(bound(type(int256).min, -10, 10), int256(-10));
        assertEq(bound(int256(0), 1, 1), int256(1));
    }

    function testFuzz_Bound_StaysInRange(uint256 x, uint256 a, uint256 b) public pure {
        (uint256 lo, uint256 hi) = a <= b ? (a, b) : (b, a);
        uint256 r = bound(x, lo, hi);
        assertGe(r, lo);
        assertLe(r, hi);
        if (x >= lo && x <= hi) assertEq(r, x);
    }

    function testFuzz_Bound_SignedStaysInRange(int256 x, int256 a, int256 b) public pure {
        (int256 lo, int256 hi) = a <= b ? (a, b) : (b, a);
        int256 r = bound(x, lo, hi);
        assertGe(r, lo);
        assertLe(r, hi);
    }

    function test_MakeAddr_IsDeterministic() public {
        assertEq(makeAddr("alice"), makeAddr("alice"));
        assertNotEq(makeAddr("alice"), makeAddr("bob"));
    }

    function test_RevertIf_AssertionFails() public {
        // A failing assertion must revert (forge counts any revert as a test failure).
        vm.expectRevert(bytes("boom"));
        this.failWith("boom");
    }

    function failWith(string calldata reason) external pure {
        fail(reason);
    }
}
