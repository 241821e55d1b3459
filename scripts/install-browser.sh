#!/usr/bin/env bash
# Installs Debian's chromium for the headless-browser test of the devnet page
# (tests/tests/devnet_page.rs drives it with playwright-core from ./node_modules).
# Does nothing when /usr/bin/chromium exists. Otherwise `apt-get update` and
# `apt-get install -y --no-install-recommends chromium`, as root, or through sudo when not root.
# `make test` (the `unit` target) runs it; `make devnet` does not need a browser.
set -euo pipefail

chromium=/usr/bin/chromium

if [[ -x "$chromium" ]]; then
  echo "install-browser: $chromium present" >&2
  exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
  echo "install-browser: $chromium is missing and apt-get is not available: install Debian's chromium package (the devnet page test needs $chromium)" >&2
  exit 1
fi

if [[ "$(id -u)" -eq 0 ]]; then
  as_root=()
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
  as_root=(sudo -n)
else
  echo "install-browser: $chromium is missing; installing it needs root: run as root, give this user passwordless sudo, or run \`sudo apt-get install -y --no-install-recommends chromium\` yourself" >&2
  exit 1
fi

echo "install-browser: installing chromium with apt-get" >&2
export DEBIAN_FRONTEND=noninteractive
if ! "${as_root[@]}" apt-get update >&2 \
  || ! "${as_root[@]}" apt-get install -y --no-install-recommends chromium >&2; then
  echo "install-browser: apt-get could not install chromium (no package source reachable?); the devnet page test needs $chromium" >&2
  exit 1
fi

if [[ ! -x "$chromium" ]]; then
  echo "install-browser: apt-get finished but $chromium does not exist" >&2
  exit 1
fi
"$chromium" --version >&2 || true
