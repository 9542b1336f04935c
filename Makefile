# albtrust Makefile. Everything it needs is built into bin/ (git ignores it) by the scripts
# under hack/, from the Go module proxy; nothing has to be installed by hand but Go.

SHELL := /usr/bin/env bash
.SHELLFLAGS := -eu -o pipefail -c

BIN ?= $(CURDIR)/bin
IMG ?= albtrust/manager:dev
CONTROLLER_TOOLS_VERSION ?= v0.23.0
CONTROLLER_GEN ?= $(BIN)/controller-gen
GOTEST_FLAGS ?= -count=1 -timeout 60m
KUBECTL ?= kubectl

##@ General

.PHONY: help
help: ## Show the targets.
	@awk 'BEGIN {FS = ":.*##"; printf "Usage: make <target>\n"} /^[a-zA-Z_0-9-]+:.*?##/ { printf "  %-16s %s\n", $$1, $$2 } /^##@/ { printf "\n%s\n", substr($$0, 5) }' $(MAKEFILE_LIST)

##@ Development

.PHONY: manifests
manifests: controller-gen ## Generate CRDs and RBAC from the API markers.
	$(CONTROLLER_GEN) rbac:roleName=manager-role crd paths="./api/...;./controllers/..." output:crd:artifacts:config=config/crd/bases

.PHONY: generate
generate: controller-gen ## Generate deepcopy functions.
	$(CONTROLLER_GEN) object:headerFile="hack/boilerplate.go.txt" paths="./api/..."

.PHONY: verify-generated
verify-generated: controller-gen ## Fail if generated files differ from what the sources generate.
	hack/verify-generated.sh

.PHONY: fmt
fmt: ## go fmt.
	go fmt ./...

.PHONY: vet
vet: ## go vet.
	go vet ./...

.PHONY: envtest
envtest: ## Build kube-apiserver and etcd from module sources (cached) for envtest.
	@hack/envtest-binaries.sh >/dev/null

.PHONY: versitygw
versitygw: ## Build the Versity S3 gateway (cached) for tests and the demo.
	@hack/versitygw.sh >/dev/null

.PHONY: test
test: verify-generated vet envtest versitygw ## Every test: unit, fuzz seeds, envtest and end-to-end suites.
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { echo "gofmt needed:"; gofmt -l $$(git ls-files '*.go'); exit 1; }
	KUBEBUILDER_ASSETS="$$(hack/envtest-binaries.sh)" VERSITYGW="$$(hack/versitygw.sh)" \
		go test $(GOTEST_FLAGS) ./...

.PHONY: demo
demo: ## Start a local stack (apiserver, S3, albsim, operator), apply the samples and prove mTLS. DEMO_ONCE=1 exits after the proof.
	DEMO_ONCE=$(DEMO_ONCE) hack/demo.sh

##@ Build

.PHONY: build
build: ## Build the manager and albsim into bin/.
	CGO_ENABLED=0 go build -o $(BIN)/manager ./cmd
	CGO_ENABLED=0 go build -o $(BIN)/albsim ./cmd/albsim

.PHONY: run
run: ## Run the manager against the current kubeconfig.
	go run ./cmd

.PHONY: docker-build
docker-build: ## Build the manager image (needs a Docker engine).
	docker build -t $(IMG) .

##@ Deployment

.PHONY: install
install: manifests ## Install the CRDs into the current cluster.
	$(KUBECTL) kustomize config/crd | $(KUBECTL) apply --server-side -f -

.PHONY: uninstall
uninstall: ## Remove the CRDs from the current cluster.
	$(KUBECTL) kustomize config/crd | $(KUBECTL) delete --ignore-not-found -f -

.PHONY: deploy
deploy: manifests ## Deploy the manager with config/default (set IMG).
	cd config/manager && $(KUBECTL) kustomize . >/dev/null
	$(KUBECTL) kustomize config/default | sed "s|image: controller:latest|image: $(IMG)|" | $(KUBECTL) apply --server-side -f -

.PHONY: undeploy
undeploy: ## Remove the manager deployed by deploy.
	$(KUBECTL) kustomize config/default | $(KUBECTL) delete --ignore-not-found -f -

##@ Tools

.PHONY: controller-gen
controller-gen: $(CONTROLLER_GEN)
$(CONTROLLER_GEN):
	GOBIN=$(BIN) go install sigs.k8s.io/controller-tools/cmd/controller-gen@$(CONTROLLER_TOOLS_VERSION)
