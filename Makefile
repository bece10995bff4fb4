# The two commands: `make demo` and `make test`. Both install what is
# missing (scripts/install-deps.sh), configure and build with CMake.
BUILD ?= build
JOBS ?= $(shell nproc)

.PHONY: all deps bench-deps build demo test test-slow asan install bench clean

all: build

deps:
	@scripts/install-deps.sh

# The benchmark peers (PyTorch, OpenBLAS) and clang for the fuzz targets.
bench-deps:
	@scripts/install-deps.sh --with-peers

$(BUILD)/CMakeCache.txt:
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release

build: deps $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j $(JOBS)

demo: build
	$(BUILD)/frugal demo

test: build
	cd $(BUILD) && ctest -L fast --output-on-failure -j $(JOBS)
	$(MAKE) asan

# The sanitizer build of the test suite (ASan + UBSan). Of the experiments'
# tiny plans it runs the cheap ones: under ASan the training-heavy ones
# (essential-sparsity, isp, isp-resnet20, nanogpt) take minutes each; the normal
# build runs them all.
asan: deps
	cmake -S . -B $(BUILD)-asan -DCMAKE_BUILD_TYPE=Debug -DFRUGAL_SANITIZE=ON
	cmake --build $(BUILD)-asan -j $(JOBS)
	cd $(BUILD)-asan && ASAN_OPTIONS=detect_leaks=1 \
	    FRUGAL_TEST_EXPERIMENTS=fashion-cnn,deepsets,h2o \
	    ctest -L fast --output-on-failure -j $(JOBS)

test-slow: bench-deps build
	cd $(BUILD) && ctest -L slow --output-on-failure

# PREFIX (default /usr/local) is set at configure time too, so frugal.pc
# points at the installed headers and library.
PREFIX ?= /usr/local
install: build
	cmake -S . -B $(BUILD) -DCMAKE_INSTALL_PREFIX=$(PREFIX)
	cmake --build $(BUILD) -j $(JOBS)
	cmake --install $(BUILD)

bench: bench-deps build
	@echo "see BENCHMARKS.md for each benchmark's command"

clean:
	rm -rf $(BUILD) $(BUILD)-asan
