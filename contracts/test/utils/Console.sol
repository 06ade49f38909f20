// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title console
/// @notice Minimal print-debugging for forge tests (`forge test -vv` shows the output).
/// @dev forge decodes static calls to the console address 0x...636F6e736F6c652e6c6f67
///      ("console.log" in ASCII) whose calldata matches a hardhat-style `log(...)` signature.
library console {
    address private constant CONSOLE = 0x000000000000000000636F6e736F6c652e6c6f67;

    function _send(bytes memory payload) private view {
        // The call's result is irrelevant: forge intercepts it; on a real chain it is a no-op.
        (bool ok,) = CONSOLE.staticcall(payload);
        ok;
    }

    function log(string memory message) internal view {
        _send(abi.encodeWithSignature("log(string)", message));
    }

    function log(string memory message, uint256 value) internal view {
        _send(abi.encodeWithSignature("log(string,uint256)", message, value));
    }

    function log(string memory message, int256 value) internal view {
        _send(abi.encodeWithSignature("log(string,int256)", message, value));
    }

    function log(string memory message, address value) internal view {
        _send(abi.encodeWithSignature("log(string,address)", message, value));
    }

    function log(string memory message, bytes32 value) internal view {
        _send(abi.encodeWithSignature("log(string,bytes32)", message, value));
    }
}
