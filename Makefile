# watson-speech-operator: the two commands are `make demo` and `make test`.
# See docs/development.md for what each target does.
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
CARGO ?= cargo
K8S_BINS_SCRIPT := tools/k8s-bins/build.sh

.PHONY: help k8s-bins k8s-bins-dir build crds check-crds fmt lint test test-unit demo clean

help: ## List the targets
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-14s %s\n", $$1, $$2}'

k8s-bins: ## Build (or reuse) kube-apiserver, kube-controller-manager, kube-scheduler, kubectl and helm
	@$(K8S_BINS_SCRIPT) >/dev/null

k8s-bins-dir: ## Print the directory holding the control-plane binaries (last line)
	@$(K8S_BINS_SCRIPT) 2>/dev/null | tail -n1

build: ## Build the operator (debug)
	$(CARGO) build --all-targets

crds: ## Regenerate crds/ from the Rust types
	$(CARGO) run --quiet -- crd > crds/speech.watson.dev.yaml

fmt: ## Format the code
	$(CARGO) fmt --all

lint: ## rustfmt check and clippy with warnings denied
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --all-targets -- -D warnings

test: k8s-bins lint ## Run every test; control-plane tests are required to run
	WSO_K8S_BINS="$$($(K8S_BINS_SCRIPT) 2>/dev/null | tail -n1)" \
	WSO_REQUIRE_CONTROL_PLANE=1 WSO_REQUIRE_SDK=1 \
	mkdir -p target; $(CARGO) test --all-targets -- --test-threads=4 2>&1 | tee target/test-output.log
	@echo "== test binaries and counts =="; grep -E '^(     Running|test result)' target/test-output.log

test-unit: ## Only the tests that need no control plane
	$(CARGO) test --lib

clean: ## Remove build output (keeps the control-plane binary cache)
	$(CARGO) clean
