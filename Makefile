GO ?= go
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
# The same build command the Dockerfile runs.
BUILD = CGO_ENABLED=0 $(GO) build -trimpath -ldflags "-s -w -X main.version=$(VERSION)"

.PHONY: test deps lint build demo bench bench-scale manifests faults

## test: install what the tests need, then gofmt, go vet, go test -race and the fault matrix
test: deps lint
	$(GO) test -race -count=1 ./...
	cd tools/helmrender && $(GO) test -count=1 ./...
	$(MAKE) --no-print-directory faults

## faults: the fault matrix (internal/faults, build tag faults) on a real
## Prometheus, Alertmanager and kube-apiserver; prints one row per fault and
## the closing "faults: N tried, ..." line; fails unless every fault held.
## The test binary runs directly so the table prints and the closing line
## is the last line.
faults: deps
	$(GO) test -c -race -tags faults -o bin/faults.test ./internal/faults
	cd internal/faults && ../../bin/faults.test -test.timeout 15m

deps:
	@./scripts/install-test-deps.sh
	@./scripts/build-kube-test-binaries.sh >/dev/null
	@./scripts/build-victoria-metrics.sh >/dev/null

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) vet -tags faults ./internal/faults/
	cd tools/helmrender && $(GO) vet ./...

build:
	$(BUILD) -o bin/miner-detector ./cmd/miner-detector

demo:
	$(GO) run ./cmd/miner-detector demo

## bench: run the benchmarks and print them as a table
bench:
	@$(GO) test -run '^$$' -bench . -benchmem ./... | ./scripts/benchtable.sh

## bench-scale: one detector cycle against the floor (every sample read once) on
## simulated 1k and 10k GPU fleets served by Debian's Prometheus (issue 13);
## BENCH_SCALE_FLAGS=-gpus=1000 for the small fleet only. Not part of `make test`.
BENCH_SCALE_FLAGS ?=
bench-scale:
	@./scripts/install-test-deps.sh
	$(GO) run ./internal/benchscale/cmd $(BENCH_SCALE_FLAGS)

## manifests: re-render deploy/manifests/miner-detector.yaml from the Helm chart
## (and cmd/miner-detector/testdata/chart-stop-owners.yaml, its render with
## stopOwners on, which the RBAC tests apply)
manifests:
	cd tools/helmrender && $(GO) test -count=1 -run 'TestPlainManifestsMatchChart|TestStopOwnersManifestsMatchChart' -update ./...
