pragma circom 2.1.9;

// Entry point: portfolio margin, eight position slots, four markets, two collateral
// assets, eight option series (docs/portfolio.md). Not in circuits/circuits.json yet:
// adding it changes every machine's trusted setup.

include "./lib/portfolio_margin.circom";

component main {public [commitment, priceWords, balanceWords, riskCommitment, modeWord, accountNonce, engineChain]} = PortfolioMargin(8, 4, 2, 8);
