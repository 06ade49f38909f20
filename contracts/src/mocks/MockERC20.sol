// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";

/// @title MockERC20
/// @notice An ERC-20 with chosen decimals and open minting, for tests and local chains.
/// @dev LOCAL CHAINS ONLY: anyone can mint and burn anyone's tokens.
contract MockERC20 is ERC20 {
    uint8 private immutable _decimals;

    /// @param name_ Token name.
    /// @param symbol_ Token symbol.
    /// @param decimals_ Decimals reported by `decimals()` (e.g. 6 for USDC, 18 for WETH).
    constructor(string memory name_, string memory symbol_, uint8 decimals_) ERC20(name_, symbol_) {
        _decimals = decimals_;
    }

    /// @inheritdoc ERC20
    function decimals() public view override returns (uint8) {
        return _decimals;
    }

    /// @notice Creates `amount` base units for `to`.
    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }

    /// @notice Destroys `amount` base units of `from`.
    function burn(address from, uint256 amount) external {
        _burn(from, amount);
    }
}
