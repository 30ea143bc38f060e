# The README's commands. Every target installs what it needs first: Debian
# packages with apt-get, everything Python into the project venv .venv (made
# here from $(SYSTEM_PYTHON)), so the system Python is left as it was.
SYSTEM_PYTHON ?= python3
# Resolved before PATH below puts the venv first.
SYSTEM_PYTHON_BIN := $(or $(shell command -v $(SYSTEM_PYTHON)),$(SYSTEM_PYTHON))
VENV := .venv
PYTHON := $(CURDIR)/$(VENV)/bin/python
INSTALL_DEPS ?= scripts/install_deps.sh
# The venv's commands (lumos, pytest, ninja) first for the targets and the
# processes they start; workers run the driver's sys.executable (the venv's).
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)
export VIRTUAL_ENV := $(CURDIR)/$(VENV)
BUILD_DIR := build/py
PIP_FLAGS := --no-build-isolation -q -C build-dir=$(BUILD_DIR) \
  -C cmake.define.LUMOS_BUILD_TESTS=ON -C cmake.define.LUMOS_BUILD_BENCHMARKS=ON \
  -C cmake.build-type=RelWithDebInfo -C build.tool-args=-j2

.PHONY: deps build demo test typecheck test-cpp test-python bench fuzz wheel wheel-root wheel-test clean distclean

deps:
	@VENV=$(VENV) SYSTEM_PYTHON=$(SYSTEM_PYTHON_BIN) PYTHON=$(PYTHON) $(INSTALL_DEPS)

# Editable install: Python changes apply at once; C++/Cython changes rebuild
# incrementally in $(BUILD_DIR) on the next `make build`.
build: deps
	$(PYTHON) -m pip install $(PIP_FLAGS) -e .
	@$(SYSTEM_PYTHON_BIN) -m pip show -q lumos >/dev/null 2>&1 && echo "make build: note:" \
	  "$(SYSTEM_PYTHON_BIN) also has a lumos install that make no longer updates;" \
	  "run lumos with $(PYTHON)" || true

demo: build
	$(PYTHON) examples/demo.py

test: build typecheck test-cpp test-python

# mypy (mypy.ini: strict on the public API and tests/typing/examples) with
# lumos.mypy_plugin; tests/python/test_typing.py checks it reports errors.
typecheck: deps
	$(PYTHON) -m mypy --config-file mypy.ini

test-cpp:
	ctest --test-dir $(BUILD_DIR) --output-on-failure -j2 --timeout 120

test-python:
	$(PYTHON) -m pytest tests/python -q -p no:cacheprovider

# The scale envelope (tests marked `scale`, ~1 h: 1M tasks, 1,000 actors,
# a LUMOS_SOAK_S soak): figures printed and in the pytest basetemp's
# scale_figures.{json,md}. docs/ARCHITECTURE.md "Scale envelope".
LUMOS_SOAK_S ?= 1800
.PHONY: scale
scale: build
	LUMOS_SOAK_S=$(LUMOS_SOAK_S) nice -n 5 $(PYTHON) -m pytest tests/python -m scale -s -q -p no:cacheprovider

bench: build
	@for b in $(BUILD_DIR)/benchmarks/*_benchmark; do echo "== $$b"; $$b --benchmark_min_time=0.5; done
	$(VENV)/bin/lumos microbenchmark

# libFuzzer (clang, ASan+UBSan, build/fuzz) and atheris harnesses of fuzz/,
# FUZZ_SECONDS each (FUZZERS=... picks some; FUZZ_MERGE=1 grows fuzz/corpus).
# `make test` replays their corpus. docs/ARCHITECTURE.md "Fuzzing".
FUZZ_SECONDS ?= 60
fuzz: deps
	FUZZ_SECONDS=$(FUZZ_SECONDS) PYTHON=$(PYTHON) fuzz/run.sh

# A self-contained binary wheel in dist/ (Release in build/wheel, then
# auditwheel: Debian's gRPC/protobuf/absl/ssl vendored into lumos.libs/,
# tagged manylinux_2_35). docs/ARCHITECTURE.md "Wheel".
wheel: deps
	PYTHON=$(PYTHON) scripts/build_wheel.sh

# Installs a wheel (default: dist/lumos-*.whl; WHEEL=path for another, e.g.
# build/wheel-unrepaired/*.whl, which must fail) in a bare Debian 12 root with
# no network and runs the demo and a cluster there (needs root).
wheel-test: deps
	PYTHON=$(PYTHON) scripts/wheel_test/run.sh $(WHEEL)

# Only the cached Debian root of wheel-test (tests/python/test_wheel.py skips without it).
wheel-root:
	scripts/wheel_root.sh $${LUMOS_WHEEL_ROOT:-/var/cache/lumos-wheel-test/root}

clean:
	rm -rf build

# Also the project venv (the next target makes it again).
distclean: clean
	rm -rf $(VENV) dist
