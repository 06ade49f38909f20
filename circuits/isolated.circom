pragma circom 2.1.9;

// Entry point: isolated margin, one position slot, one market, one collateral asset.

include "./margin.circom";

component main {public [commitment, priceWords, balanceWords, paramsWord, accountNonce, engineChain]} = MarginProof(1, 1, 1);
