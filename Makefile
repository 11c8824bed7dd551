# Gannet: the two commands are `make run` (the HTTP server) and `make test`.
BUILD_DIR ?= build
JOBS ?= $(shell nproc)
DATA ?= ./gannet-data
LISTEN ?= 127.0.0.1:8080
CMAKE_FLAGS ?=

.PHONY: all deps test-deps configure build run shell test unit-test sanitize-test bench bench-ann bench-server bench-store bench-fts sim clean format

all: build

deps:
	@./scripts/install-deps.sh

test-deps: deps
	@./scripts/install-test-deps.sh

configure:
	@if [ ! -f $(BUILD_DIR)/build.ninja ]; then \
	  cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=Release $(CMAKE_FLAGS); fi

# Only builds; the binary lands at build/gannet.
build: configure
	@cmake --build $(BUILD_DIR) -j $(JOBS)

# Installs dependencies, builds, and starts the HTTP server (`gannet serve`) on
# ./gannet-data at 127.0.0.1:8080 (override with DATA=... LISTEN=...). Ctrl-C stops it.
run: deps build
	@mkdir -p $(DATA)
	@echo "Gannet server: http://$(LISTEN)  (data: $(DATA); Ctrl-C to stop)"
	@echo "try: curl -s -X POST http://$(LISTEN)/v2/namespaces/docs -d '{\"upsert_rows\": [{\"id\": 1, \"vector\": [0.1, 0.9]}], \"distance_metric\": \"cosine_distance\"}'"
	@echo "     curl -s -X POST http://$(LISTEN)/v2/namespaces/docs/query -d '{\"rank_by\": [\"vector\", \"ANN\", [0.1, 0.8]], \"top_k\": 5}'"
	@exec $(BUILD_DIR)/gannet serve --data $(DATA) --listen $(LISTEN)

# Installs dependencies, builds, and opens the interactive shell on ./gannet-data.
shell: deps build
	@mkdir -p $(DATA)
	@echo "Gannet shell on $(DATA) (type 'help'; Ctrl-D to quit)"
	@$(BUILD_DIR)/gannet --data $(DATA) shell

# Installs what the tests need, builds, and runs every test.
test: test-deps build
	@./scripts/run-tests.sh $(BUILD_DIR)

unit-test: build
	@cd $(BUILD_DIR) && ctest --output-on-failure -j $(JOBS)

# Unit tests under AddressSanitizer + UndefinedBehaviorSanitizer.
sanitize-test: deps
	@if [ ! -f build-sanitize/build.ninja ]; then cmake --preset sanitize >/dev/null; fi
	@cmake --build build-sanitize -j $(JOBS)
	@cd build-sanitize && ctest --output-on-failure -j $(JOBS)

# Deterministic simulation without end, 100 random seeds at a time; a failing seed is
# printed with the command that replays it.
sim: build
	@while true; do \
	  seed=$$(od -An -N4 -tu4 /dev/urandom | tr -d ' '); \
	  GANNET_SIM_FIRST_SEED=$$seed GANNET_SIM_SEEDS=100 \
	    $(BUILD_DIR)/db_test --gtest_brief=1 --gtest_filter='SimulationTest.*' || exit 1; \
	done

# ANN comparison (Gannet's vector index vs hnswlib, faiss IVF/HNSW, usearch, LanceDB,
# Chroma) on generated clustered data; not part of `make test`. ANN_SIZE=1000000x128 for
# the issue's size, ANN_SIZE=gcide for GCIDE embedded with all-MiniLM-L6-v2;
# ANN_ROUNDS=3 runs every library three times (order rotated) and reports median QPS.
ANN_SIZE ?= 200000x128
ANN_ROUNDS ?= 1
bench-ann: deps configure
	@cmake --build $(BUILD_DIR) --target ann_bench -j $(JOBS)
	@./bench/ann/run.sh $(BUILD_DIR) --size $(ANN_SIZE) --rounds $(ANN_ROUNDS)

bench: deps build
	@./bench/run.sh $(BUILD_DIR)

# Object-store costs: local directory, Ceph RGW, Ceph RGW + 50 ms (bench/store/run.sh).
bench-store: deps build
	@./bench/store/run.sh $(BUILD_DIR)

# Full-text search on GCIDE against tantivy, Xapian, SQLite FTS5 and PostgreSQL
# (bench/fts/README.md).
bench-fts: deps build test-deps
	@./bench/fts/run.sh $(BUILD_DIR)

# Load benchmark of `gannet serve` with wrk on loopback (see bench/README.md);
# `make bench-server SOAK=600` adds the 10-minute mixed soak.
bench-server: deps build
	@./bench/server_load.sh --build-dir $(BUILD_DIR) $(if $(SOAK),--soak $(SOAK))

format:
	@clang-format -i $$(git ls-files '*.h' '*.cpp')

clean:
	rm -rf build build-sanitize
