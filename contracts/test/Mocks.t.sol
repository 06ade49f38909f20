// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IERC20Errors} from "@openzeppelin/contracts/interfaces/draft-IERC6093.sol";

import {MockAggregator} from "../src/mocks/MockAggregator.sol";
import {MockERC20} from "../src/mocks/MockERC20.sol";
import {Test} from "./utils/Test.sol";

contract MockAggregatorTest is Test {
    MockAggregator internal feed;

    function setUp() public {
        vm.warp(1_700_000_000);
        feed = new MockAggregator(8, 2_000e8, "ETH / USD");
    }

    function test_Constructor_WritesFirstRound() public view {
        assertEq(uint256(feed.decimals()), 8);
        assertEq(feed.description(), "ETH / USD");
        assertEq(feed.version(), 4);
        (uint80 roundId, int256 answer, uint256 startedAt, uint256 updatedAt, uint80 answeredInRound) =
            feed.latestRoundData();
        assertEq(uint256(roundId), 1);
        assertEq(answer, 2_000e8);
        assertEq(startedAt, 1_700_000_000);
        assertEq(updatedAt, 1_700_000_000);
        assertEq(uint256(answeredInRound), 1);
    }

    function test_UpdateAnswer_AppendsRoundAndKeepsHistory() public {
        vm.warp(1_700_000_100);
        vm.expectEmit(address(feed));
        emit MockAggregator.RoundSet(2, 1_900e8, 1_700_000_100);
        feed.updateAnswer(1_900e8);

        (uint80 roundId, int256 answer,, uint256 updatedAt,) = feed.latestRoundData();
        assertEq(uint256(roundId), 2);
        assertEq(answer, 1_900e8);
        assertEq(updatedAt, 1_700_000_100);
        (, int256 oldAnswer,, uint256 oldUpdatedAt,) = feed.getRoundData(1);
        assertEq(oldAnswer, 2_000e8);
        assertEq(oldUpdatedAt, 1_700_000_000);
    }

    function test_SetRoundData_WritesArbitraryRound() public {
        feed.setRoundData(42, -5, 1, 0, 41);
        (uint80 roundId, int256 answer, uint256 startedAt, uint256 updatedAt, uint80 answeredInRound) =
            feed.getRoundData(42);
        assertEq(uint256(roundId), 42);
        assertEq(answer, -5);
        assertEq(startedAt, 1);
        assertEq(updatedAt, 0);
        assertEq(uint256(answeredInRound), 41);
        assertEq(uint256(feed.latestRound()), 42);
    }

    function test_SetDecimals() public {
        feed.setDecimals(18);
        assertEq(uint256(feed.decimals()), 18);
    }

    function test_RevertIf_RoundHasNoData() public {
        vm.expectRevert(abi.encodeWithSelector(MockAggregator.MockAggregator__NoDataPresent.selector, uint80(2)));
        feed.getRoundData(2);
    }
}

contract MockERC20Test is Test {
    MockERC20 internal usdc;
    address internal alice;

    function setUp() public {
        usdc = new MockERC20("USD Coin", "USDC", 6);
        alice = makeAddr("alice");
    }

    function test_Metadata() public {
        assertEq(usdc.name(), "USD Coin");
        assertEq(usdc.symbol(), "USDC");
        assertEq(uint256(usdc.decimals()), 6);
        assertEq(uint256(new MockERC20("W", "W", 18).decimals()), 18);
    }

    function test_MintAndBurn() public {
        usdc.mint(alice, 1_000e6);
        assertEq(usdc.balanceOf(alice), 1_000e6);
        assertEq(usdc.totalSupply(), 1_000e6);
        usdc.burn(alice, 400e6);
        assertEq(usdc.balanceOf(alice), 600e6);
        assertEq(usdc.totalSupply(), 600e6);
    }

    function test_RevertIf_BurnExceedsBalance() public {
        usdc.mint(alice, 1);
        vm.expectRevert(abi.encodeWithSelector(IERC20Errors.ERC20InsufficientBalance.selector, alice, 1, 2));
        usdc.burn(alice, 2);
    }
}

/// @dev Drives MockERC20 with bounded mint/burn/transfer among three actors.
contract MockERC20Handler {
    MockERC20 public immutable token;
    address[3] public actors;
    uint256 public ghostMinted;
    uint256 public ghostBurned;

    constructor(MockERC20 token_) {
        token = token_;
        actors = [address(0xA11CE), address(0xB0B), address(0xCA401)];
    }

    function mint(uint256 who, uint256 amount) external {
        amount = amount % 1e30;
        token.mint(actors[who % 3], amount);
        ghostMinted += amount;
    }

    function burn(uint256 who, uint256 amount) external {
        address from = actors[who % 3];
        uint256 balance = token.balanceOf(from);
        amount = balance == 0 ? 0 : amount % (balance + 1);
        token.burn(from, amount);
        ghostBurned += amount;
    }

    function sumOfBalances() external view returns (uint256 total) {
        for (uint256 i = 0; i < 3; i++) {
            total += token.balanceOf(actors[i]);
        }
    }
}

/// @dev Shows that invariant runs work with the project's own Test base.
contract MockERC20InvariantTest is Test {
    MockERC20 internal token;
    MockERC20Handler internal handler;

    function setUp() public {
        token = new MockERC20("T", "T", 18);
        handler = new MockERC20Handler(token);
        targetContract(address(handler));
    }

    function invariant_SupplyEqualsMintedMinusBurned() public view {
        assertEq(token.totalSupply(), handler.ghostMinted() - handler.ghostBurned());
    }

    function invariant_SupplyEqualsSumOfBalances() public view {
        assertEq(token.totalSupply(), handler.sumOfBalances());
    }
}
