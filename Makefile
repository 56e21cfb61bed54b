# The verbs a newcomer needs. Each installs what it uses: the Rust dependencies through cargo,
# the emulator (moto) into .venv through pip.
SHELL := /usr/bin/env bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

VENV    := .venv
PYTHON  ?= python3
CARGO   ?= cargo

.PHONY: help dev test bootstrap user-token venv toolchain bench fuzz fuzz-api package fmt clean

help: ## list the verbs
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

dev: venv toolchain ## run the whole service locally on 127.0.0.1:3000 (IAM_LOCAL_PORT overrides); Ctrl-C stops it
	$(CARGO) build --quiet -p local-stack --bins
	./target/debug/local-stack

test: venv toolchain ## every check CI runs: fmt, clippy, unit and emulator-backed integration tests
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets --quiet -- -D warnings
	$(VENV)/bin/cfn-lint infra/template.yaml
	scripts/check-layers
	@mkdir -p .local
	@# Every test binary runs even when one fails; the exit status is still cargo's, and the
	@# summary line comes last either way.
	scripts/with-emulator $(CARGO) test --workspace --no-fail-fast 2>&1 | tee .local/test.log || status=$$?; \
	  awk '/^test result:/ {p += $$4; f += $$6} END {printf "total: %d passed, %d failed\n", p, f}' .local/test.log; \
	  exit $${status:-0}

bootstrap: ## create another org on the running stack: make bootstrap NAME=acme
	@test -n "$(NAME)" || { echo "usage: make bootstrap NAME=<org name>" >&2; exit 2; }
	@test -f .local/stack.json || { echo "no running stack: start it with make dev" >&2; exit 2; }
	@$(CARGO) build --quiet -p local-stack --bin iam-admin
	@./target/debug/iam-admin bootstrap --name "$(NAME)"

user-token: ## print a member token of the local identity provider: make user-token ORG=<orgId> SUBJECT=<sub>
	@test -n "$(ORG)" -a -n "$(SUBJECT)" || { echo "usage: make user-token ORG=<orgId> SUBJECT=<sub>" >&2; exit 2; }
	@test -f .local/stack.json || { echo "no running stack: start it with make dev" >&2; exit 2; }
	@$(CARGO) build --quiet -p local-stack --bin iam-admin
	@./target/debug/iam-admin user-token --org "$(ORG)" --subject "$(SUBJECT)"

bench: venv toolchain ## the benchmarks of docs/benchmarks.md (CPU, latency, cold start, timing, sweep, sizes); output in .local/bench.txt
	@mkdir -p .local && : > .local/bench.txt
	$(CARGO) bench -p shared --bench auth 2>&1 | tee -a .local/bench.txt
	$(CARGO) bench -p shared --bench exchange 2>&1 | tee -a .local/bench.txt
	$(CARGO) bench -p shared --bench timing 2>&1 | tee -a .local/bench.txt
	$(CARGO) bench -p local-stack --bench exchange_latency 2>&1 | tee -a .local/bench.txt
	$(CARGO) bench -p local-stack --bench sweep_throughput 2>&1 | tee -a .local/bench.txt
	$(CARGO) build --release $(foreach f,$(FUNCTIONS),-p $(f))
	$(CARGO) build --release -p local-stack --example hello_lambda
	$(CARGO) bench -p local-stack --bench cold_start 2>&1 | tee -a .local/bench.txt
	scripts/with-emulator $(CARGO) test --quiet -p iam-tests --test api sweep::the_sweep_reads_what_has_expired_not_the_table \
	  -- --nocapture 2>&1 | grep '^expiry sweep:' | tee -a .local/bench.txt
	@echo "binary sizes (x86_64 release, stripped; make package builds the arm64 ones for Lambda):" | tee -a .local/bench.txt
	@cd target/release && ls -l $(FUNCTIONS) | awk '{printf "  %-22s %5.2f MB\n", $$9, $$5 / 1048576}' | tee -a ../../.local/bench.txt

CARGO_FUZZ_VERSION := 0.13.2
FUZZ_SECONDS ?= 60
FUZZ_TARGETS := api_key jwt bodies

fuzz: toolchain ## run each cargo-fuzz target for FUZZ_SECONDS (60) from its seeds; summary in .local/fuzz/summary.txt
	@rustup toolchain list | grep -q '^nightly' || rustup toolchain install nightly --profile minimal
	@test -x $(TOOLS)/bin/cargo-fuzz || $(CARGO) install cargo-fuzz --locked --version $(CARGO_FUZZ_VERSION) --root $(TOOLS)
	cd fuzz && PATH="$(CURDIR)/$(TOOLS)/bin:$$PATH" cargo +nightly fuzz build
	@mkdir -p .local/fuzz && : > .local/fuzz/summary.txt
	@for t in $(FUZZ_TARGETS); do \
	  mkdir -p .local/fuzz/corpus/$$t .local/fuzz/artifacts/$$t; \
	  echo "fuzzing $$t for $(FUZZ_SECONDS) s"; \
	  (cd fuzz && PATH="$(CURDIR)/$(TOOLS)/bin:$$PATH" cargo +nightly fuzz run $$t ../.local/fuzz/corpus/$$t seeds/$$t -- \
	    -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 -artifact_prefix=../.local/fuzz/artifacts/$$t/) \
	    > .local/fuzz/$$t.log 2>&1 || { tail -40 .local/fuzz/$$t.log; echo "fuzz target $$t failed: see .local/fuzz/$$t.log" >&2; exit 1; }; \
	  awk -v t=$$t '/^stat::number_of_executed_units/ {n=$$2} /^Done [0-9]+ runs in/ {s=$$5} / cov: / {c=$$4} \
	    END {printf "%-8s %10d executions in %s s, coverage %s edges, 0 crashes\n", t, n, s, c}' .local/fuzz/$$t.log \
	    | tee -a .local/fuzz/summary.txt; \
	done

fuzz-api: venv toolchain $(VENV)/.fuzz-api-installed ## Schemathesis, every check, against a fresh local stack; summary in .local/fuzz-api/summary.txt
	$(CARGO) build --quiet -p local-stack --bin local-stack
	scripts/fuzz-api

$(VENV)/.fuzz-api-installed: requirements-fuzz-api.txt $(VENV)/.installed
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements-fuzz-api.txt
	touch $@

CARGO_LAMBDA_VERSION := 1.9.2
TOOLS := .tools

package: venv ## build every function for Lambda (arm64, release) with cargo-lambda and list the zip sizes
	@test -x $(TOOLS)/bin/cargo-lambda || $(CARGO) install cargo-lambda --locked --version $(CARGO_LAMBDA_VERSION) --root $(TOOLS)
	@$(VENV)/bin/python -c 'import ziglang' 2>/dev/null || $(VENV)/bin/pip install --quiet -r requirements-package.txt
	@rustup target list --installed | grep -q aarch64-unknown-linux-gnu || rustup target add aarch64-unknown-linux-gnu
	PATH="$(CURDIR)/$(TOOLS)/bin:$(CURDIR)/$(VENV)/bin:$$PATH" cargo lambda build --release --arm64 --output-format zip \
	  $(foreach f,$(FUNCTIONS),--bin $(f))
	@scripts/package-sizes $(FUNCTIONS)

FUNCTIONS := $(notdir $(wildcard functions/*))

fmt: ## format the code
	$(CARGO) fmt --all

venv: $(VENV)/.installed ## the Python tools (pinned in requirements.txt)

$(VENV)/.installed: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $@

toolchain: ## check cargo, rustfmt and clippy are present (rustup cannot download here)
	@command -v $(CARGO) >/dev/null || { echo "cargo is required (https://rustup.rs)" >&2; exit 2; }
	@$(CARGO) fmt --version >/dev/null 2>&1 || rustup component add rustfmt
	@$(CARGO) clippy --version >/dev/null 2>&1 || rustup component add clippy

clean: ## remove build output, the venv and local state
	rm -rf target $(VENV) .local $(TOOLS)
