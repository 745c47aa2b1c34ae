# A thin proxy: the real work is in CMake and scripts/. See README.md.
#   make deps    install Debian and npm packages (idempotent)
#   make         optimized build in build/release
#   make run     build and start the suite on 127.0.0.1 with state in ./var
#   make test    deps + sanitizer build + unit, integration and fuzz-smoke tests (ctest)
#   make bench   benchmarks (never part of make test)
#   make fuzz    libFuzzer targets with clang-16 in build/fuzz
#   make lint    man pages, shell scripts, clang-format check
#   make install install into PREFIX (default /usr/local) from build/release

JOBS ?= $(shell nproc)
PREFIX ?= /usr/local
SANITIZE ?= 1
RELEASE_DIR := build/release
export JOBS

.PHONY: all deps release run test bench fuzz lint install clean

all: release

deps:
	@scripts/deps.sh

release:
	@cmake -S . -B $(RELEASE_DIR) -DCMAKE_BUILD_TYPE=Release -DCOLLAB_TESTS=OFF -DCMAKE_INSTALL_PREFIX=$(PREFIX) >/dev/null
	@cmake --build $(RELEASE_DIR) -j $(JOBS)

run: deps release
	@COLLAB_BIN_DIR=$(RELEASE_DIR)/bin scripts/run.sh

test:
	@SANITIZE=$(SANITIZE) scripts/test.sh

bench: deps release
	@scripts/deps.sh bench
	@scripts/bench.sh

fuzz:
	@scripts/fuzz.sh build

lint:
	@scripts/lint.sh

install: release
	@cmake --install $(RELEASE_DIR)

clean:
	rm -rf build
