#!/usr/bin/env bash
# Installs the pinned developer tools (package.json / package-lock.json) into <repo>/node_modules:
#   - anvil  (@foundry-rs/anvil-linux-amd64): the L1 devnet node used by tests and the devnet
#   - cast   (@foundry-rs/cast-linux-amd64): runs the Kurtosis package's shell steps in a test
#   - solcjs (solc): the Solidity compiler used by contracts/build.js
#   - ethers, viem: the client libraries of the compatibility suite (tests/js/compat.mjs)
#   - playwright-core: drives Debian's chromium in the devnet page test (tests/js/devnet_page.mjs;
#     no browser download: scripts/install-browser.sh installs /usr/bin/chromium)
# Idempotent: does nothing when node_modules already matches package-lock.json.
# Prints the anvil path on stdout (last line). Tests find anvil via $BASED_ANVIL or this path.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
anvil="$repo/node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil"
cast="$repo/node_modules/@foundry-rs/cast-linux-amd64/bin/cast"
stamp="$repo/node_modules/.based-tools.lock"

if ! command -v npm >/dev/null 2>&1; then
  echo "install-tools: npm not found (install Node.js >= 20)" >&2
  exit 1
fi

if [[ -f "$stamp" ]] && cmp -s "$stamp" "$repo/package-lock.json" && [[ -x "$anvil" ]] && [[ -x "$cast" ]] \
  && [[ -f "$repo/node_modules/solc/package.json" ]] && [[ -f "$repo/node_modules/ethers/package.json" ]] \
  && [[ -f "$repo/node_modules/viem/package.json" ]] \
  && [[ -f "$repo/node_modules/playwright-core/package.json" ]]; then
  echo "install-tools: up to date" >&2
else
  echo "install-tools: npm ci into $repo/node_modules" >&2
  npm ci --prefix "$repo" --no-audit --no-fund --loglevel=error >&2
  cp "$repo/package-lock.json" "$stamp"
fi

if [[ -x "$anvil" ]]; then
  "$anvil" --version | head -n1 >&2
  echo "$anvil"
else
  echo "install-tools: anvil package not available on this platform; set BASED_ANVIL to an anvil binary" >&2
fi
