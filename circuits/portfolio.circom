pragma circom 2.1.9;

// Entry point: portfolio margin, eight position slots, four markets, two collateral
// assets, eight option series (docs/portfolio.md). Listed in circuits/circuits.json: its
// 13,232 constraints make the shared ceremony Powers of Tau 2^14.

include "./lib/portfolio_margin.circom";

component main {public [commitment, priceWords, balanceWords, riskCommitment, modeWord, accountNonce, engineChain]} = PortfolioMargin(8, 4, 2, 8);
