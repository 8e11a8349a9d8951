# Sluice: Kafka → Delta Lake ingestion.
#
#   make demo    build and run `sluice demo` (built-in broker, local table, a query)
#   make test    vet, format check and every test (what CI runs)
#   make bench   benchmarks (figures go to BENCHMARKS.md)
#   make bench-e2e  the end-to-end harness: broker in its own process, the real binary
#   make sim     the exactly-once simulation over more seeds (SEEDS=10000)

GO       ?= go
BIN      ?= bin/sluice
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS  := -X github.com/sluicelake/sluice/connector.Version=$(VERSION)
# Cold cgo builds (librdkafka, DuckDB) take minutes on 2 cores; keep test timeouts generous.
# make test runs with the race detector: the connector is concurrent by design.
TESTFLAGS ?= -count=1 -timeout 20m
# versitygw, the S3 server the storage tests start (table/storage/s3test), pinned in tools/go.mod.
VERSITYGW := .tools/bin/versitygw
# Helm, which the chart test (e2e/helm_test.go) runs, pinned in tools/helm/go.mod.
HELM      := .tools/bin/helm

.PHONY: all build test unit e2e bench bench-e2e demo lint fmt clean tools sim

all: build

build:
	$(GO) build -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/sluice

lint:
	$(GO) vet ./...
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$unformatted" ]; then echo "gofmt needed:"; echo "$$unformatted"; exit 1; fi

# The race detector slows the exactly-once simulation about fivefold: under it a few
# dozen seeds run; then a few hundred without it.
SIM_SEEDS_RACE ?= 40
SEEDS          ?= 200

test: lint tools
	SIM_SEEDS=$(SIM_SEEDS_RACE) $(GO) test -race $(TESTFLAGS) ./...
	SIM_SEEDS=$(SEEDS) SIM_FIRST=1000 $(GO) test $(TESTFLAGS) -run '^TestSimulation(Upsert)?$$' ./connector

# make bench-e2e: the end-to-end harness in full: throughput (e2e/benche2e_test.go: the
# broker in its own process, librdkafka's consume-and-discard limit, the real binary into
# local disk and versitygw, three repetitions), freshness at a steady rate
# (freshness_test.go), resume on a long log (resume_test.go), many writers on one table
# (writers_test.go) and peak RSS against memory_budget at 256 partitions over 4 tables
# (benchmemory_test.go); figures to bench-e2e.md.
bench-e2e: tools
	SLUICE_BENCH_E2E=full SLUICE_BENCH_E2E_OUT=$(CURDIR)/bench-e2e.md $(GO) test -count=1 -timeout 0 -run '^TestBench(E2E|Freshness|Resume|ManyWriters|Memory)$$' -v ./e2e

# make sim SEEDS=10000: the simulation over more seeds; a failing seed prints the
# command that replays it.
sim:
	SIM_SEEDS=$(SEEDS) $(GO) test -count=1 -timeout 0 -run '^TestSimulation(Upsert)?$$' -v ./connector

unit: tools
	$(GO) test $(TESTFLAGS) $$($(GO) list ./... | grep -v /e2e)

e2e:
	$(GO) test $(TESTFLAGS) -v ./e2e/...

bench:
	$(GO) test -run '^$$' -bench . -benchmem -count=1 -timeout 30m ./...

demo: build
	./$(BIN) demo

# Built here, before the tests, so its cold build (minutes on 2 cores) does not run
# inside a test binary next to other packages' builds; s3test builds it too when missing.
tools: $(VERSITYGW) $(HELM)

$(VERSITYGW): tools/go.mod tools/go.sum
	cd tools && $(GO) build -o ../$(VERSITYGW) github.com/versity/versitygw/cmd/versitygw

$(HELM): tools/helm/go.mod tools/helm/go.sum
	cd tools/helm && $(GO) build -o ../../$(HELM) helm.sh/helm/v3/cmd/helm

fmt:
	gofmt -w $$(git ls-files '*.go')

clean:
	rm -rf bin sluice-demo
