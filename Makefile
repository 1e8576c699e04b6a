# mljob: `make demo` runs the wine_data sweep on this machine; `make test`
# runs every test. Each installs what it needs first: the demo only Python's
# ML packages, the tests also sshd, Slurm, Chromium and tmux.

GO      ?= go
PYTHON  := /usr/bin/python3
BIN     := bin/mljob
DEMO_DB := .demo/mljob.db
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)

# Go lives in /usr/local/go on a fresh Debian machine of ours, not always on PATH.
export PATH := $(PATH):/usr/local/go/bin

.PHONY: all deps deps-demo build test test-go test-python test-fast demo clean

all: build

deps:
	@./scripts/install-deps.sh test

deps-demo:
	@./scripts/install-deps.sh demo

build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "-s -w -X main.version=$(VERSION) -X main.commit=$$(git rev-parse HEAD 2>/dev/null) -X main.date=$$(date -u +%Y-%m-%dT%H:%M:%SZ)" -o $(BIN) ./cmd/mljob

test: deps test-go test-python

test-go:
	$(GO) vet ./...
	@test -z "$$(gofmt -l .)" || { gofmt -l .; echo "gofmt: files above need formatting"; exit 1; }
	$(GO) test -race -count=1 -timeout 30m ./...

# test-fast is the loop while working: go test -short skips every test that
# starts sshd, Slurm, Chromium or tmux, the soak, the tests that import
# torch and sshworker's slowest subtests (16 runs at once, the agent's pid
# wait); about a minute on 2 cores. It installs nothing.
test-fast:
	$(GO) test -short -count=1 ./...

test-python:
	$(PYTHON) -m pytest -q python-scripts/tests

# The demo ranks runs by a penalty-free held-out error, lower is better: the
# cross-validated jobs (nn.py and the RidgeCV baseline) by cvMse, the mean of
# their folds' MSE; the train/test split job by testMse. The two are scored
# on different rows, so they are two objectives, listed as two groups and
# never ranked against each other.
DEMO_SPLIT_JOBS := examples/wine_data/job-split-early-stopping.json
DEMO_CV_JOBS    := $(filter-out $(DEMO_SPLIT_JOBS),$(wildcard examples/wine_data/*.json))

demo: deps-demo build
	rm -rf .demo
	MLJOB_DB=$(DEMO_DB) $(BIN) submit --objective cvMse:min $(DEMO_CV_JOBS)
	MLJOB_DB=$(DEMO_DB) $(BIN) submit --objective testMse:min $(DEMO_SPLIT_JOBS)
	MLJOB_DB=$(DEMO_DB) $(BIN) dispatch --python $(PYTHON) --slots 2
	MLJOB_DB=$(DEMO_DB) $(BIN) outcomes --project wine_data

clean:
	rm -rf bin .demo

# bench compares mljob with GNU parallel and an x/crypto/ssh floor on loopback
# sshd hosts and rewrites BENCHMARKS.md's generated section (~10 minutes).
# Not part of test: its figures are ratios, not pass/fail timings.
.PHONY: bench
bench:
	@command -v parallel >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq parallel; }
	$(GO) test -tags bench -run TestCompare -count=1 -timeout 60m -v ./bench/

# bench-progress measures the progress-line path on the same loopback hosts
# (400 jobs printing 100 progress lines or none, one run printing a million
# lines beside short jobs, the latency from a printed line to its row) and
# rewrites BENCHMARKS.md's progress section (a few minutes).
.PHONY: bench-progress
bench-progress:
	$(GO) test -tags bench -run TestProgress -count=1 -timeout 30m -v ./bench/

# bench-jump times 400 trivial jobs on 4 loopback hosts dispatched directly
# and through one ProxyJump gateway, in alternation, and prints the ratio
# (BENCHMARKS.md's ProxyJump section; a few minutes).
.PHONY: bench-jump
bench-jump:
	$(GO) test -tags bench -run 'TestProxyJump$$' -count=1 -timeout 30m -v ./bench/

# bench-leases times 400 trivial jobs on one loopback host × 8 slots with
# leases on and with leases: false, in alternation, and reports the ratio.
.PHONY: bench-leases
bench-leases:
	$(GO) test -tags bench -run 'TestLeaseOverhead$$' -count=1 -timeout 30m -v ./bench/

# bench-search measures pruning: the learning-curve benchmark (81
# seeded curves × 81 steps as a plain sweep, with asha, and through Optuna's
# own pruner, side by side on the same hosts), nn.py's 27-configuration
# wine sweep with and without asha, the TPE benchmark (TestSearchTPE:
# Branin, Hartmann-6 and a mixed space, 100 seeds × 100 trials, mljob
# against Optuna 3.1 and random, plus proposal latency), the curves as a
# method: tpe sweep with asha (TestSearchTPECurves) and the example tpe
# sweep of nn.py against the example sweep and the baselines
# (TestSearchWineTPE); rewrites BENCHMARKS.md's search and TPE sections
# (about an hour and a half on 2 cores). TestReplicateDemo (make
# bench-replicate) replicates the demo's three best jobs.
.PHONY: bench-search
bench-search:
	$(GO) test -tags bench -run TestSearch -count=1 -timeout 180m -v ./bench/

.PHONY: bench-replicate
bench-replicate:
	$(GO) test -tags bench -run TestReplicateDemo -count=1 -timeout 30m -v ./bench/

# bench-tpe-sweep dispatches a 10,000-trial tpe sweep on the in-process
# fake engine (the dispatcher, the database and the sampler are real) and
# rewrites BENCHMARKS.md's tpe sweep section: ms per trial, a proposal's
# sync and sampler time, peak RSS (a few minutes on 2 cores).
.PHONY: bench-tpe-sweep
bench-tpe-sweep:
	$(GO) test -tags bench -run 'TestTPESweep10k$$' -count=1 -timeout 60m -v ./bench/

# release-check runs goreleaser check, then builds the linux/darwin ×
# amd64/arm64 binaries (goreleaser build) and archives (a snapshot release,
# never published) in a temporary clone of HEAD, so dist/ never lands here:
# commit first. Installs goreleaser if missing. About 3-4 minutes on 2 cores
# (plus ~3 for the first install); not part of test.
GORELEASER_VERSION ?= v2.15.1
.PHONY: release-check
release-check:
	@set -e; \
	gr=$$(command -v goreleaser || true); \
	if [ -z "$$gr" ]; then \
		gobin=$${TMPDIR:-/tmp}/gobin; gr=$$gobin/goreleaser; \
		[ -x "$$gr" ] || GOBIN=$$gobin $(GO) install github.com/goreleaser/goreleaser/v2@$(GORELEASER_VERSION); \
	fi; \
	tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
	git clone -q . "$$tmp/mljob"; cd "$$tmp/mljob"; \
	"$$gr" check; \
	"$$gr" build --snapshot --clean; \
	"$$gr" release --snapshot --clean; \
	ls dist/*.tar.gz
