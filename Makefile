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

.PHONY: tools test test-dates bench run build synth deploy lint clean

# npm tools (DynamoDB Local, CDK CLI, Redocly's OpenAPI linter) from the committed lock file; Go modules.
tools: .tools/node_modules/.installed
.tools/node_modules/.installed: .tools/package.json .tools/package-lock.json
	cd .tools && npm ci --no-audit --no-fund
	touch $@
	$(GO) mod download
	cd infra && $(GO) mod download

# The instants the date-sensitive suites also run at (clock.Now reads
# PSABRIDGE_TEST_NOW in test binaries): New York's last evening of a month
# (already the next month in UTC), just after midnight on the first of a
# month, Feb 29, the spring-forward and fall-back days (the repeated 01:30),
# and New York's Dec 31 when UTC is already in the new year.
TEST_INSTANTS := 2027-04-30T22:30:00-04:00 2027-03-01T00:30:00-05:00 2028-02-29T12:00:00-05:00 \
                 2027-03-14T03:30:00-04:00 2027-11-07T01:30:00-05:00 2027-12-31T23:30:00-05:00
# The suites that run on the process clock (the others pin their own).
DATE_PKGS := ./shared/clock/ ./shared/samples/ ./shared/billing/ ./shared/alerting/ ./functions/... \
             ./shared/devstack/ ./shared/lambdaruntime/
DATE_LOOP := for at in $(TEST_INSTANTS); do echo "== date-sensitive suites at $$at"; \
             PSABRIDGE_TEST_NOW=$$at $(GO) test -count=1 -timeout 30m $(TESTFLAGS) $(DATE_PKGS) || rc=1; done

## test: every test of both modules, with DynamoDB Local and moto started for the run,
## then the date-sensitive suites at each of TEST_INSTANTS.
test: tools
	$(WITHAWS) bash -c 'rc=0; $(GO) test -count=1 -timeout 30m $(TESTFLAGS) ./... || rc=1; (cd infra && $(GO) test -count=1 -timeout 30m $(TESTFLAGS) ./...) || rc=1; \
	  $(DATE_LOOP); exit $$rc'

## test-dates: only the date-sensitive suites at each of TEST_INSTANTS.
test-dates: tools
	$(WITHAWS) bash -c 'rc=0; $(DATE_LOOP); exit $$rc'

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
