# Encompass user lifecycle on AWS. `make demo` shows it working, `make test` proves it.
SHELL := /bin/bash
GOARCH ?= arm64
FUNCTIONS := provision deprovision poller webhook reconcile
STATICCHECK_VERSION := v0.8.2
# AWS's Lambda runtime interface emulator, the cross-check of the local runner
# (internal/rie pins the same version and refuses another build).
RIE_VERSION := v0.0.0-20261030222936-bef5c4ba774d
GO ?= go

.PHONY: all build test lint tidy tidy-check demo sim invoke reconcile synth deploy bench fmt clean tools webhook-subscription dashboard-png rie ops

all: build

## build: dist/<fn>/bootstrap for every function (linux/$(GOARCH); `make build GOARCH=amd64` for the host)
build:
	@for fn in $(FUNCTIONS); do \
		echo "build $$fn (linux/$(GOARCH))"; \
		CGO_ENABLED=0 GOOS=linux GOARCH=$(GOARCH) $(GO) build -trimpath -tags lambda.norpc -ldflags='-s -w' \
			-o dist/$$fn/bootstrap ./functions/$$fn || exit 1; \
	done

node_modules: package.json package-lock.json
	npm ci --no-audit --no-fund
	@touch node_modules

## test: every test of the product (Go packages, fuzz seed corpora, the CDK stack, end to end, the AWS emulator cross-check)
test: node_modules build rie
	$(GO) test -race -count=1 ./...
	cd infra && $(GO) test -count=1 ./...

## rie: install AWS's Lambda runtime interface emulator (aws-lambda-rie, pinned) into GOBIN from the Go module proxy
rie:
	$(GO) install github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie@$(RIE_VERSION)

## lint: go vet, gofmt, staticcheck, and both modules tidy (go mod tidy -diff)
lint: tidy-check
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || (gofmt -l $$(git ls-files '*.go'); echo "gofmt: files above need formatting"; exit 1)
	$(GO) vet ./...
	cd infra && $(GO) vet ./...
	$(GO) run honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION) ./...
	cd infra && $(GO) run honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION) ./...

## tidy-check: fail when go.mod/go.sum of the root module or of infra/ is not what `go mod tidy` writes (the diff says what to change)
tidy-check:
	@$(GO) mod tidy -diff || (echo "go.mod/go.sum are not tidy: run make tidy"; exit 1)
	@cd infra && $(GO) mod tidy -diff || (echo "infra/go.mod/go.sum are not tidy: run make tidy"; exit 1)

## tidy: go mod tidy on the root module and on infra/
tidy:
	$(GO) mod tidy
	cd infra && $(GO) mod tidy

## sim: the Encompass simulator on :8081, seeded from the built-in seed (SEED=file to change)
sim:
	$(GO) run ./cmd/encompass-sim -addr 127.0.0.1:8081 $(if $(SEED),-seed $(SEED))

## demo: build everything and play the product's story locally (KEEP=true keeps the local product running for `make ops`)
demo: node_modules
	$(GO) run ./cmd/demo $(if $(filter true,$(KEEP)),-keep)

## invoke: run one real bootstrap Docker-free against the local product (FN=provision EVENT=events/...; ENV_VARS=file for your own variables)
invoke: node_modules
	$(GO) run ./cmd/lambdarun -fn $(FN) -event $(EVENT) $(if $(ENV_VARS),-env-vars $(ENV_VARS))

## reconcile: run the real reconcile function against the local product (ROSTER=path.csv|.jsonl [APPLY=true] [SEED=file]); prints the summary, copies the reports to dist/reports/, and with APPLY delivers the events to provision and deprovision
reconcile: node_modules
	@test -n "$(ROSTER)" || (echo "usage: make reconcile ROSTER=events/roster-sample.csv [APPLY=true]"; exit 2)
	$(GO) run ./cmd/reconcile -roster $(ROSTER) $(if $(filter true,$(APPLY)),-apply) $(if $(SEED),-seed $(SEED))

## ops: the operator command (ARGS="employee E123" | ARGS=pending | ARGS="rejected EVENT_ID" | ARGS="redrive -queue provision [-apply]" | ARGS="redrive -status -queue provision"; docs/operations.md)
ops:
	@$(GO) run ./cmd/lifecyclectl $(ARGS)

## bench: run the benchmarks and print one table (binary sizes, cold starts, calls per user, events/s, poller, webhook)
bench: node_modules
	$(GO) run ./cmd/benchreport

## webhook-subscription: manage the Encompass webhook subscription with the functions' ENCOMPASS_* variables (ACTION=register URL=https://<api>/webhooks/encompass KEY_FILE=path | ACTION=list | ACTION=delete ID=... | ACTION=rotate ID=... KEY_FILE=path [APPLY=true]; docs/webhook.md)
webhook-subscription:
	$(GO) run ./cmd/webhookctl $(or $(ACTION),list) $(if $(URL),-url $(URL)) $(if $(KEY_FILE),-key-file $(KEY_FILE)) $(if $(filter true,$(PRINT_KEY)),-print-key) $(if $(ID),-id $(ID)) $(if $(filter true,$(APPLY)),-apply)

## synth: cdk.out/EncompassLifecycle.template.json (deployable) and the staged bootstraps; `make synth SAM_LOCAL=true` for `sam local invoke -t ... --env-vars events/env.json` (it also declares the local-only variables env.json sets)
synth: build
	cd infra && $(if $(filter true,$(SAM_LOCAL)),CDK_CONTEXT_JSON='{"samLocal":true}') $(GO) run .
	@$(if $(filter true,$(SAM_LOCAL)),echo "synth: template for sam local invoke (never deploy it)",echo "synth: deployable template; for sam local invoke --env-vars run make synth SAM_LOCAL=true")

## dashboard-png: docs/dashboard.png, the operations dashboard drawn from the synthesized DashboardBody with sample data (needs Debian's chromium; not part of make test or CI)
dashboard-png: synth
	cd infra && $(GO) run ./tools/dashboardpng -template ../cdk.out/EncompassLifecycle.template.json -out ../docs/dashboard.png

## deploy: synthesize the deployable template and deploy it with the CDK CLI (AWS credentials, a bootstrapped account; docs/deploy.md)
CDK_CLI_VERSION ?= 2.1148.1
deploy: build
	cd infra && $(GO) run .
	@! grep -q '"ENCOMPASS_CLIENT_SECRET"' cdk.out/EncompassLifecycle.template.json || (echo "deploy: the template declares local-only variables (samLocal); refusing to deploy it"; exit 1)
	npx --yes aws-cdk@$(CDK_CLI_VERSION) deploy --app cdk.out $(CDK_DEPLOY_FLAGS) EncompassLifecycle

fmt:
	gofmt -w $$(git ls-files '*.go')

clean:
	rm -rf dist cdk.out infra/cdk.out
