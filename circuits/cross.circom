pragma circom 2.1.9;

// Entry point: cross margin, four position slots over four markets, two collateral assets.

include "./margin.circom";

component main {public [commitment, priceWords, balanceWords, paramsWord, accountNonce, engineChain]} = MarginProof(4, 4, 2);
