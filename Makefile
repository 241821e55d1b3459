# based: developer entry points. `make test` is the README's test command and what CI runs.
SHELL := /bin/bash
CARGO ?= cargo
FIXTURES ?= $(abspath ../shared/fixtures/blockchain-tests)

.PHONY: test lint fmt unit conformance fuzz bench tools contracts check-contracts devnet

## The full test command (README): lint, unit + property + integration tests, conformance fixtures.
test: lint unit conformance

lint: check-contracts
	$(CARGO) fmt --all --check
	$(CARGO) clippy --workspace --all-targets --all-features --locked -- -D warnings

fmt:
	$(CARGO) fmt --all

## Unit, property, integration and end-to-end tests. The e2e scenarios (tests/) start anvil from
## ./node_modules and spawn the `based` binary, so both are prepared first; the devnet page test
## drives Debian's chromium (scripts/install-browser.sh installs it when /usr/bin/chromium is missing).
unit: tools
	./scripts/install-browser.sh
	$(CARGO) build -p based --locked
	$(CARGO) test --workspace --all-features --locked

## Ethereum BlockchainTests (strict execution mode) over $(FIXTURES); see crates/conformance.
## Same package set, features and profile as `unit` (`--workspace`, not `-p`, so features resolve
## identically), so it reuses that build (deps are optimised in dev).
conformance:
	BASED_FIXTURES="$(FIXTURES)" $(CARGO) test --workspace --all-features --locked --test blockchain_tests

bench:
	$(CARGO) bench --workspace

## The main job: a local devnet (anvil L1 + Inbox + proposer + node). Ctrl-C stops everything.
## Flags after ARGS=..., e.g. `make devnet ARGS="--l1.block-time 12"`.
devnet: tools
	$(CARGO) run -p based --locked -- devnet $(ARGS)

## Pinned developer tools (anvil, solcjs) into ./node_modules (package-lock.json); prints the anvil path.
tools:
	./scripts/install-tools.sh

## Recompile contracts/src into the committed artifacts contracts/out/*.json.
contracts: tools
	node contracts/build.js

## Fail if the committed contract artifacts are stale (recompiles into a temp dir and diffs).
check-contracts: tools
	@tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && \
	node contracts/build.js --out "$$tmp" >/dev/null && \
	diff -r -q contracts/out "$$tmp" && echo "check-contracts: artifacts up to date"

## Stable fuzz harness of the blob codec decoders: FUZZ_SECONDS per target (5 targets).
FUZZ_SECONDS ?= 60
fuzz:
	$(CARGO) run --profile bench --locked -p based-blob --example fuzz -- $(FUZZ_SECONDS)
