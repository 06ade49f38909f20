#!/usr/bin/env bash
# Build and test zkmargin's contracts with the project's own, offline toolchain:
# forge from node_modules/.bin and solc-js behind contracts/tools/solc (see foundry.toml).
#
# Usage (from anywhere, e.g. the repo root / Makefile):
#   bash contracts/tools/forge-test.sh [extra `forge test` args...]
#   FOUNDRY_PROFILE=ci bash contracts/tools/forge-test.sh      # more fuzz/invariant runs
# Examples: --match-contract OracleAdapterTest, -vvv, --gas-report
set -euo pipefail

script_dir="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)"
contracts_dir="$(cd -- "${script_dir}/.." && pwd)"
repo_root="$(cd -- "${contracts_dir}/.." && pwd)"
forge="${repo_root}/node_modules/.bin/forge"

if [[ ! -x "${forge}" ]]; then
    echo "forge-test.sh: ${forge} not found; run 'npm ci' in ${repo_root} first" >&2
    exit 1
fi
if [[ ! -f "${repo_root}/node_modules/solc/soljson.js" ]]; then
    echo "forge-test.sh: solc-js missing (node_modules/solc); run 'npm ci' in ${repo_root} first" >&2
    exit 1
fi
if ! command -v node >/dev/null 2>&1; then
    echo "forge-test.sh: node is required by the solc adapter (contracts/tools/solc)" >&2
    exit 1
fi

cd "${contracts_dir}"
# foundry.toml already sets offline = true and a local solc; the flags make it explicit.
"${forge}" build --offline
"${forge}" test --offline "$@"
