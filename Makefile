# aigw — build, run, test, bench. `make help` lists the targets.
GO      ?= go
BIN     ?= bin/aigw
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT  ?= $(shell git rev-parse --short HEAD 2>/dev/null)
LDFLAGS := -s -w -X main.version=$(VERSION) -X main.commit=$(COMMIT)
# `make run` starts the gateway with the loopback demo provider; `make run RUN_ARGS=` without it.
RUN_ARGS ?= --demo
# Benchmarks: a pattern and the time per benchmark.
BENCH     ?= .
BENCHTIME ?= 1s
# bench-baseline / bench-compare: runs of each benchmark, and the benchstat
# that compares them (fetched from the module proxy on first use).
BENCHCOUNT    ?= 3
BENCHBASE     ?= bench/baseline.txt
BENCHSTAT     ?= $(GO) run golang.org/x/perf/cmd/benchstat@v0.0.0-20260908200009-22c9c6c9d4da

# Soak: how long the mixed load runs, from how many clients (plus a quarter
# as many slow ones); SOAK_TIMEOUT stops a soak that hangs.
SOAK_TIME    ?= 60s
SOAK_WORKERS ?= 16
SOAK_TIMEOUT ?= 30m

# `make install` copies the binary here: $GOBIN when set, else ~/.local/bin.
PREFIX_BIN ?= $(or $(shell $(GO) env GOBIN),$(HOME)/.local/bin)

.PHONY: help build install run test fmt-check vet bench bench-baseline bench-compare bench-scale fuzz soak clean

help:
	@echo "make build   build $(BIN)"
	@echo "make install build and copy aigw to $(PREFIX_BIN) (on your PATH for the CLI and 'aigw tui')"
	@echo "make run     build and run 'aigw serve $(RUN_ARGS)'"
	@echo "make test    gofmt check, go vet, go test -race ./..."
	@echo "make bench   Go benchmarks with -benchmem (BENCH=regexp BENCHTIME=1s)"
	@echo "make bench-compare  the benchmarks $(BENCHCOUNT) times, compared by benchstat with $(BENCHBASE)"
	@echo "make bench-baseline the benchmarks $(BENCHCOUNT) times into $(BENCHBASE) (commit it with a change that moves them)"
	@echo "make bench-scale  fill temporary databases and time what grows with them: traces (SCALE_TRACES=0,1000000)"
	@echo "             and gateway keys (SCALE_KEYS=1,1000,10000); SCALE_ONLY=traces|keys; prints markdown tables;"
	@echo "             not part of 'make test'"
	@echo "make fuzz    run each fuzz target briefly (FUZZTIME=10s)"
	@echo "make soak    build aigw and run it under mixed and hostile load (SOAK_TIME=60s SOAK_WORKERS=16);"
	@echo "             prints requests sent/answered/traced, RSS, goroutines and open fds; not part of 'make test'"

build:
	$(GO) build -trimpath -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/aigw

install: build
	@mkdir -p "$(PREFIX_BIN)"
	install -m 0755 $(BIN) "$(PREFIX_BIN)/aigw"
	@case ":$$PATH:" in *":$(PREFIX_BIN):"*) ;; *) echo "note: $(PREFIX_BIN) is not on your PATH; add it, or run $(BIN) instead";; esac

run: build
	./$(BIN) serve $(RUN_ARGS)

test: fmt-check vet
	$(GO) test -race -count=1 ./...

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...

bench:
	$(GO) test -run '^$$' -bench '$(BENCH)' -benchmem -benchtime $(BENCHTIME) ./...

bench-baseline:
	@mkdir -p $(dir $(BENCHBASE))
	$(GO) test -run '^$$' -bench '$(BENCH)' -benchmem -benchtime $(BENCHTIME) -count $(BENCHCOUNT) ./... | grep -E '^(goos|goarch|pkg|cpu|Benchmark)' > $(BENCHBASE).tmp
	mv $(BENCHBASE).tmp $(BENCHBASE)

bench-compare:
	$(GO) test -run '^$$' -bench '$(BENCH)' -benchmem -benchtime $(BENCHTIME) -count $(BENCHCOUNT) ./... | grep -E '^(goos|goarch|pkg|cpu|Benchmark)' > bench/new.txt
	$(BENCHSTAT) $(BENCHBASE) bench/new.txt

# bench-scale: the section(s) to run (all, traces, …) and the timed calls per
# query; SCALE_TRACES (trace counts, comma-separated) is read by the program.
SCALE_ONLY  ?= all
SCALE_CALLS ?= 20
bench-scale: build
	$(GO) run ./bench/scale -only $(SCALE_ONLY) -calls $(SCALE_CALLS) -aigw $(BIN)

FUZZTIME ?= 10s
fuzz:
	@for pkg in $$($(GO) list ./...); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
	    echo "== $$pkg $$f"; $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
	  done; \
	done

# The e2e package builds the binary it runs (TestMain); the soak test is
# behind the "soak" build tag so that `make test` never runs it.
soak:
	SOAK_TIME=$(SOAK_TIME) SOAK_WORKERS=$(SOAK_WORKERS) $(GO) test -tags soak -run '^TestSoak$$' -count=1 -v -timeout $(SOAK_TIMEOUT) ./e2e

clean:
	rm -rf bin
