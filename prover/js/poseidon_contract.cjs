// Prints circomlibjs' Poseidon contract (bytecode + ABI) for N inputs as JSON.
// Usage: node poseidon_contract.cjs N   (run with the project's node_modules on NODE_PATH)
"use strict";
const { poseidonContract } = require("circomlibjs");

const n = Number(process.argv[2]);
if (!Number.isInteger(n) || n < 1 || n > 5) {
  process.stderr.write("usage: poseidon_contract.cjs N (1 <= N <= 5)\n");
  process.exit(2);
}
process.stdout.write(
  JSON.stringify({ inputs: n, bytecode: poseidonContract.createCode(n), abi: poseidonContract.generateABI(n) }),
);
