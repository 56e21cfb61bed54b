# The verbs a newcomer needs. Each installs what it uses: the Rust dependencies through cargo,
# the emulator (moto) into .venv through pip.
SHELL := /usr/bin/env bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

VENV    := .venv
PYTHON  ?= python3
CARGO   ?= cargo

.PHONY: help dev test soak console console-deps chromium bootstrap leak-report user-token workload-token venv toolchain bench fuzz fuzz-api package console-deploy fmt clean

help: ## list the verbs
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

dev: venv toolchain console ## run the whole service and the console locally on 127.0.0.1:3000 (IAM_LOCAL_PORT overrides); Ctrl-C stops it
	$(CARGO) build --quiet -p local-stack --bins
	./target/debug/local-stack

test: venv toolchain console-deps chromium ## every check CI runs: fmt, clippy, unit, emulator-backed integration and browser tests
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets --quiet -- -D warnings
	$(VENV)/bin/cfn-lint infra/template.yaml
	scripts/check-layers
	scripts/check-release-features
	@mkdir -p .local
	@# Every test binary runs even when one fails; the exit status is still cargo's, and the
	@# summary line comes last either way.
	scripts/with-emulator $(CARGO) test --workspace --no-fail-fast 2>&1 | tee .local/test.log || status=$$?; \
	  awk '/^test result:/ {p += $$4; f += $$6} END {printf "total: %d passed, %d failed\n", p, f}' .local/test.log; \
	  exit $${status:-0}
	@# The console: its type check against shared/openapi.yaml, its build, then the browser tests.
	scripts/browser-tests

soak: venv toolchain ## the model-based test over 10,000 random sequences from fresh seeds (SOAK_SEQUENCES, SOAK_SHARDS, MODEL_SEED); summary in .local/soak/summary.txt
	scripts/soak

console-deps: ## install the console's pinned npm toolchain (package-lock.json)
	@test -d console/node_modules/.bin || (cd console && npm ci --no-audit --no-fund)
	@# A lockfile newer than the install: install again.
	@test console/node_modules/.package-lock.json -nt console/package-lock.json || (cd console && npm ci --no-audit --no-fund)

console: console-deps ## build the console into console/dist (type-checked against shared/openapi.yaml)
	cd console && npm run --silent build

chromium: ## install Debian's chromium for the browser tests when it is missing
	@command -v chromium >/dev/null || { \
	  echo "installing Debian's chromium (the npm browser downloads cannot reach their hosts here)"; \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; \
	  else sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; fi; }

bootstrap: ## create another org on the running stack: make bootstrap NAME=acme
	@test -n "$(NAME)" || { echo "usage: make bootstrap NAME=<org name>" >&2; exit 2; }
	@test -f .local/stack.json || { echo "no running stack: start it with make dev" >&2; exit 2; }
	@$(CARGO) build --quiet -p local-stack --bin iam-admin
	@./target/debug/iam-admin bootstrap --name "$(NAME)"

leak-report: ## send a leak report of one key, signed by the local stack's development scanner: make leak-report TOKEN=ik_...
	@test -n "$(TOKEN)" || { echo "usage: make leak-report TOKEN=<the string found> [URL=<where>]" >&2; exit 2; }
	@$(VENV)/bin/python scripts/leak-report "$(TOKEN)" $(URL)

user-token: ## print a member token of the local identity provider: make user-token ORG=<orgId> SUBJECT=<sub>
	@test -n "$(ORG)" -a -n "$(SUBJECT)" || { echo "usage: make user-token ORG=<orgId> SUBJECT=<sub>" >&2; exit 2; }
	@test -f .local/stack.json || { echo "no running stack: start it with make dev" >&2; exit 2; }
	@$(CARGO) build --quiet -p local-stack --bin iam-admin
	@./target/debug/iam-admin user-token --org "$(ORG)" --subject "$(SUBJECT)"

workload-token: ## print a workload token of the local workload issuer (GitHub Actions' shape): make workload-token AUD=<audience> [SUB=<sub>] [CLAIMS='<json>'] [TTL=<seconds>] [KIND=kubernetes]
	@test -n "$(AUD)" || { echo "usage: make workload-token AUD=<audience> [SUB=<sub>] [CLAIMS='<json object>'] [TTL=<seconds>] [KIND=github|kubernetes]" >&2; exit 2; }
	@test -f .local/stack.json || { echo "no running stack: start it with make dev" >&2; exit 2; }
	@$(CARGO) build --quiet -p local-stack --bin iam-admin
	@./target/debug/iam-admin workload-token --aud "$(AUD)" $(if $(SUB),--sub "$(SUB)") $(if $(CLAIMS),--claims '$(CLAIMS)') $(if $(TTL),--ttl "$(TTL)") $(if $(KIND),--kind "$(KIND)")

bench: venv toolchain console chromium ## the benchmarks of docs/benchmarks.md (CPU, latency, cold start, timing, sweep, sizes); output in .local/bench.txt
	@mkdir -p .local && : > .local/bench.txt
	$(CARGO) bench -p shared --bench auth 2>&1 | tee -a .local/bench.txt
	$(CARGO) bench -p shared --bench exchange 2>&1 | tee -a .local/bench.txt
	$(CARGO) bench -p shared --bench timing 2>&1 | tee -a .local/bench.txt
	$(CARGO) bench -p shared --features test-util --bench flood 2>&1 | tee -a .local/bench.txt
	$(CARGO) bench -p local-stack --bench exchange_latency 2>&1 | tee -a .local/bench.txt
	$(CARGO) bench -p local-stack --bench sweep_throughput 2>&1 | tee -a .local/bench.txt
	$(CARGO) build --release $(foreach f,$(FUNCTIONS),-p $(f))
	$(CARGO) build --release -p local-stack --example hello_lambda --example secret_read_lambda
	$(CARGO) bench -p local-stack --bench cold_start 2>&1 | tee -a .local/bench.txt
	scripts/with-emulator $(CARGO) test --quiet -p iam-tests --test api sweep::the_sweep_reads_what_has_expired_not_the_table \
	  -- --nocapture 2>&1 | grep '^expiry sweep:' | tee -a .local/bench.txt
	scripts/with-emulator $(CARGO) test --quiet -p iam-tests --test api hot_keys::hot_key_calls_per_second \
	  -- --ignored --nocapture 2>&1 | grep '^hot key:' | tee -a .local/bench.txt
	scripts/with-emulator $(CARGO) test --quiet -p iam-tests --test api leaks::leak_report_timings \
	  -- --ignored --nocapture 2>&1 | grep '^leak report:' | tee -a .local/bench.txt
	@echo "binary sizes (x86_64 release, stripped; make package builds the arm64 ones for Lambda):" | tee -a .local/bench.txt
	@cd target/release && ls -l $(FUNCTIONS) | awk '{printf "  %-22s %5.2f MB\n", $$9, $$5 / 1048576}' | tee -a ../../.local/bench.txt
	scripts/console-size | tee -a .local/bench.txt
	scripts/browser-tests --grep @bench 2>&1 | grep 'console first load' | tee -a .local/bench.txt

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

# Needs the aws CLI and credentials for the stack's account and region (AWS_PROFILE, AWS_REGION). Hashed assets go
# first, so the new index.html never names a file that is not there yet; old assets stay for pages still open.
console-deploy: ## upload console/dist to a deployed stack: make console-deploy STACK=<stack> [API_TOKEN=id for Cognito]
	@test -n "$(STACK)" || { echo "usage: make console-deploy STACK=<stack name>" >&2; exit 2; }
	@command -v aws >/dev/null || { echo "console-deploy needs the aws CLI, with credentials for the stack" >&2; exit 2; }
	@test -f console/dist/index.html || { echo "no console/dist/index.html: build the console first (make console)" >&2; exit 2; }
	@stack() { aws cloudformation describe-stacks --stack-name "$(STACK)" --output text --query "Stacks[0].$$1"; }; \
	  url=$$(stack "Outputs[?OutputKey=='ConsoleUrl'].OutputValue"); \
	  bucket=$$(stack "Outputs[?OutputKey=='ConsoleBucketName'].OutputValue"); \
	  distribution=$$(stack "Outputs[?OutputKey=='DistributionId'].OutputValue"); \
	  client=$$(stack "Outputs[?OutputKey=='ConsoleOidcClientId'].OutputValue"); \
	  issuer=$$(stack "Parameters[?ParameterKey=='OidcIssuer'].ParameterValue"); \
	  for v in "$$url" "$$bucket" "$$distribution" "$$client" "$$issuer"; do \
	    case "$$v" in ""|None) echo "stack $(STACK) has no console outputs: deploy infra/template.yaml first" >&2; exit 2;; esac; \
	  done; \
	  $(PYTHON) -c 'import json, sys; i, c, u, t = sys.argv[1:]; json.dump({"issuer": i, "clientId": c, "apiBaseUrl": "", \
	    "redirectUri": u + "callback", "apiToken": t}, open("console/dist/config.json", "w"), indent=2)' \
	    "$$issuer" "$$client" "$$url" "$(or $(API_TOKEN),access)"; \
	  aws s3 sync console/dist/assets "s3://$$bucket/console/assets" --only-show-errors \
	    --cache-control "public, max-age=31536000, immutable"; \
	  aws s3 sync console/dist "s3://$$bucket/console" --only-show-errors --exclude "assets/*" --cache-control "no-cache"; \
	  aws cloudfront create-invalidation --distribution-id "$$distribution" \
	    --paths /console/index.html /console/config.json --query Invalidation.Id --output text >/dev/null; \
	  echo "console deployed: $$url"

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
