// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {Test} from "./utils/Test.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";
import {PortfolioRisk} from "../src/portfolio/PortfolioRisk.sol";

/// @notice The move-set rule of {IPortfolioEngine-flag} ({PortfolioRisk-outside}): exact
///         boundaries (just inside refused, just outside flagged), a fuzz that it never fires
///         inside the shrunk ellipsoid, and one that whatever it flags is outside by an
///         exact rational computation.
contract PortfolioFlagTest is Test {
    uint256 internal constant PEN = 250;
    uint256 internal constant LAMBDA = 10_000;
    uint256 internal constant P_ETH = 2_000e8;
    uint256 internal constant P_BTC = 60_000e8;
    uint256 internal constant P_USDC = 1e8;
    uint256 internal constant P_WETH = 2_000e8;
    // the demo's L (bps): [[900], [640, 480]]
    int256 internal constant L00 = 900;
    int256 internal constant L10 = 640;
    int256 internal constant L11 = 480;

    /// @dev riskParams: floors 50/40, listed 2 markets, haircuts USDC 100, WETH 1000, WETH
    ///      factor ETH, λ_MM = λ_IM = `lambda`.
    function _params(uint256 lambda) internal pure returns (uint256 w) {
        return _params(lambda, 1);
    }

    /// @dev `wethFactor` 0: WETH without a risk factor (the fuzz moves markets only).
    function _params(uint256 lambda, uint256 wethFactor) internal pure returns (uint256 w) {
        uint256[14] memory f = [uint256(50), 40, 0, 0, 1, 1, 0, 0, 100, 1000, 0, wethFactor, lambda, lambda];
        for (uint256 i = 0; i < 14; ++i) {
            w |= f[i] << (16 * i);
        }
    }

    function _chol(int256 l00, int256 l10, int256 l11) internal pure returns (uint256 w) {
        int256[10] memory f = [l00, l10, l11, int256(0), 0, 0, 0, 0, 0, 0];
        for (uint256 i = 0; i < 10; ++i) {
            // forge-lint: disable-next-line(unsafe-typecast)
            w |= uint256(f[i] + 10_000) << (16 * i);
        }
    }

    function _words(uint256 eth, uint256 btc, uint256 usdc, uint256 weth) internal pure returns (uint256[2] memory) {
        return [eth | (btc << 64) | (uint256(1) << 128), uint256(1) | (usdc << 64) | (weth << 128)];
    }

    function _proven() internal pure returns (uint256[2] memory) {
        return _words(P_ETH, P_BTC, P_USDC, P_WETH);
    }

    function _outside(uint256[2] memory current, uint256 markets) internal pure returns (bool out, uint8 reason) {
        return PortfolioRisk.outside(_proven(), current, _params(LAMBDA), _chol(L00, L10, L11), markets, 2, PEN);
    }

    // ================================================================== boundaries

    /// @dev One market (ETH, L = 9%): the shrunk extent is 9% · 0.975 = 8.775%, so 2175.5 is
    ///      on the boundary (refused: strict) and one unit (1e-8) above it is flagged; with
    ///      n = 1 the error bound E is 1 and a unit moves δ̂ by 5.
    function test_boundaryOneMarket() public pure {
        (bool out,) = _outside(_words(2_175.5e8, P_BTC, P_USDC, P_WETH), 1);
        assertFalse(out, "on the boundary: inside");
        (out,) = _outside(_words(2_175.5e8 + 1, P_BTC, P_USDC, P_WETH), 1);
        assertTrue(out, "one unit outside: flagged");
        (out,) = _outside(_words(1_824.5e8, P_BTC, P_USDC, P_WETH), 1);
        assertFalse(out, "on the lower boundary: inside");
        (out,) = _outside(_words(1_824.5e8 - 1, P_BTC, P_USDC, P_WETH), 1);
        assertTrue(out, "one unit below: flagged");
    }

    /// @dev Two markets, u = (0, ρ): ETH still, BTC + 4.8% · 0.975 = +4.68% (62,808) is on the
    ///      boundary. The computed test under-estimates by at most E = ⌈√(2·‖adj ℓ‖²_F)⌉ = 1,703
    ///      units of w (D = 432,000): BTC must be 12 units (2e-12 relative) past the exact
    ///      boundary to be flagged; 11 is not. This is the stated bound of {PortfolioRisk-outside}.
    function test_boundaryTwoMarkets() public pure {
        (bool out,) = _outside(_words(P_ETH, 62_808e8, P_USDC, P_WETH), 2);
        assertFalse(out, "on the boundary: inside");
        (out,) = _outside(_words(P_ETH, 62_808e8 + 11, P_USDC, P_WETH), 2);
        assertFalse(out, "within the rounding bound: not flagged (never early)");
        (out,) = _outside(_words(P_ETH, 62_808e8 + 12, P_USDC, P_WETH), 2);
        assertTrue(out, "past the bound: flagged");
        // ETH alone +8.775% is inside on ETH's axis only if BTC follows: u0 = ρ forces
        // Δ_BTC = 0.064 · 0.975 = 6.24%; BTC flat is outside
        (out,) = _outside(_words(2_175.5e8, P_BTC, P_USDC, P_WETH), 2);
        assertTrue(out, "correlated market left behind: flagged");
        (out,) = _outside(_words(2_175.5e8, 63_744e8, P_USDC, P_WETH), 2);
        assertFalse(out, "both along u = (rho, 0): inside");
    }

    function test_collateralBoundaries() public pure {
        // USDC (no factor, haircut 1%): a fall of 0.975% is inside, one unit more is not
        (bool out, uint8 reason) = _outside(_words(P_ETH, P_BTC, 1e8 - 975_000, P_WETH), 2);
        assertFalse(out);
        (out, reason) = _outside(_words(P_ETH, P_BTC, 1e8 - 975_001, P_WETH), 2);
        assertTrue(out);
        assertEq(reason, 1);
        // WETH (factor ETH, haircut 10%): falling 9.75% against a flat ETH is inside
        (out,) = _outside(_words(P_ETH, P_BTC, P_USDC, 1_805e8), 2);
        assertFalse(out);
        (out, reason) = _outside(_words(P_ETH, P_BTC, P_USDC, 1_805e8 - 1), 2);
        assertTrue(out);
        assertEq(reason, 2);
        // WETH and ETH falling together 5% (with BTC along the correlation): no divergence
        (out,) = _outside(_words(1_900e8, 56_444.444e8, P_USDC, 1_900e8), 2);
        assertFalse(out);
        // a rise never leaves a collateral set
        (out,) = _outside(_words(P_ETH, P_BTC, 2e8, 2_100e8), 2);
        assertFalse(out);
    }

    function test_hugeMoveIsOutside() public pure {
        (bool out,) = _outside(_words(type(uint64).max, P_BTC, P_USDC, P_WETH), 2);
        assertTrue(out);
        (out,) = _outside(_words(1, P_BTC, P_USDC, P_WETH), 2);
        assertTrue(out);
    }

    // ================================================================== fuzz

    uint256 internal constant Q0 = 2_000_000_000; // proven ETH in the fuzz (scaled down so
    uint256 internal constant Q1 = 3_000_000_000; // the exact reference fits 256 bits)

    /// @dev Any point of the shrunk ellipsoid (any direction, radius up to ρ, any valid L),
    ///      rounded to integer prices and kept only if the exact rational test says it is
    ///      inside, is never flagged.
    function testFuzz_neverFlagsInside(int32 a, int32 b, uint32 radiusPpm, uint16 d0, int16 o, uint16 d1) public pure {
        vm.assume(a != 0 || b != 0);
        int256[3] memory l =
            [int256(bound(d0, 1, 10_000)), int256(bound(o, -10_000, 10_000)), int256(bound(d1, 1, 10_000))];
        (uint256 pe, uint256 pb) = _point(a, b, bound(radiusPpm, 0, 1_000_000), l);
        vm.assume(pe > 0 && pb > 0 && pe <= type(uint32).max && pb <= type(uint32).max);
        (uint256 lhs, uint256 rhs) = _exact(pe, pb, l[0], l[1], l[2]);
        vm.assume(lhs <= rhs); // inside (or on) the shrunk set by the exact test
        assertFalse(_flags(pe, pb, l), "flagged inside the shrunk set");
    }

    /// @dev Prices Q·(1 + L·u) for u of direction (a, b) and radius ρ·ppm/10⁶.
    function _point(int32 a, int32 b, uint256 ppm, int256[3] memory l) internal pure returns (uint256, uint256) {
        uint256 rho18 = (LAMBDA * (10_000 - PEN) * 1e10) * ppm / 1e6; // ρ·1e18
        uint256 norm = Math.sqrt(uint256(int256(a) * a + int256(b) * b) * 1e36);
        int256 u0 = int256(a) * int256(rho18) * 1e18 / int256(norm); // 1e18
        int256 u1 = int256(b) * int256(rho18) * 1e18 / int256(norm);
        return (_moved(Q0, l[0] * u0 / 1e4), _moved(Q1, (l[1] * u0 + l[2] * u1) / 1e4));
    }

    /// @dev The market rule alone (WETH without a risk factor here: with one, WETH left
    ///      behind by a moving ETH is a divergence, tested in test_collateralBoundaries).
    function _flags(uint256 pe, uint256 pb, int256[3] memory l) internal pure returns (bool out) {
        uint8 reason;
        (out, reason) = PortfolioRisk.outside(
            _words(Q0, Q1, P_USDC, P_WETH),
            _words(pe, pb, P_USDC, P_WETH),
            _params(LAMBDA, 0),
            _chol(l[0], l[1], l[2]),
            2,
            2,
            PEN
        );
        if (out) assertEq(reason, 0, "the market ellipsoid");
    }

    function _moved(uint256 p, int256 delta18) internal pure returns (uint256) {
        int256 q = int256(p) + int256(p) * delta18 / 1e18;
        return q <= 0 ? 0 : uint256(q);
    }

    /// @dev The exact test with Q the proven prices: u0·den = 1e4·a0·Q1·ℓ11,
    ///      u1·den = 1e4·(a1·Q0·ℓ00 − ℓ10·a0·Q1), den = Q0·Q1·ℓ00·ℓ11, and
    ///      ‖u‖ > ρ = λ(1e4 − pen)/1e8  ⟺  lhs = (X0² + X1²)·1e16 > rhs = (λ(1e4 − pen)·den)².
    function _exact(uint256 pe, uint256 pb, int256 l00, int256 l10, int256 l11)
        internal
        pure
        returns (uint256 lhs, uint256 rhs)
    {
        int256 a0 = int256(pe) - int256(Q0);
        int256 a1 = int256(pb) - int256(Q1);
        int256 x0 = 1e4 * a0 * int256(Q1) * l11;
        int256 x1 = 1e4 * (a1 * int256(Q0) * l00 - l10 * a0 * int256(Q1));
        lhs = (uint256(x0 * x0) + uint256(x1 * x1)) * 1e16;
        uint256 den = Q0 * Q1 * uint256(l00) * uint256(l11);
        rhs = (LAMBDA * (10_000 - PEN) * den) ** 2;
    }

    /// @dev Whatever is flagged is outside by the exact test; and with diagonals of at least
    ///      100 bps (the listings' minimum in the deployment) whatever is outside by more than
    ///      2·10⁻⁶ relative in ‖u‖ is flagged (the rounding bound is far below that there).
    function testFuzz_flagMatchesExactTest(uint32 eth, uint32 btc, uint16 d0, int16 o, uint16 d1) public pure {
        uint256 pe = bound(eth, 1, type(uint32).max);
        uint256 pb = bound(btc, 1, type(uint32).max);
        int256[3] memory l =
            [int256(bound(d0, 1, 10_000)), int256(bound(o, -10_000, 10_000)), int256(bound(d1, 1, 10_000))];
        bool out = _flags(pe, pb, l);
        (uint256 lhs, uint256 rhs) = _exact(pe, pb, l[0], l[1], l[2]);
        if (out) assertGt(lhs, rhs, "flagged but inside by the exact test");
        if (l[0] >= 100 && l[2] >= 100 && lhs / 1e6 > rhs / 1e6 + (rhs / 1e6) * 4 / 1e6 + 1) {
            assertTrue(out, "outside by a margin, not flagged");
        }
    }
}
