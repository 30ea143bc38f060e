# The README's commands. Every target installs what it needs first.
PYTHON ?= python3
BUILD_DIR := build/py
PIP_FLAGS := --no-build-isolation -q -C build-dir=$(BUILD_DIR) \
  -C cmake.define.LUMOS_BUILD_TESTS=ON -C cmake.define.LUMOS_BUILD_BENCHMARKS=ON \
  -C cmake.build-type=RelWithDebInfo -C build.tool-args=-j2

.PHONY: deps build demo test typecheck test-cpp test-python bench wheel wheel-root wheel-test clean

deps:
	@PYTHON=$(PYTHON) scripts/install_deps.sh

# Editable install: Python changes apply at once; C++/Cython changes rebuild
# incrementally in $(BUILD_DIR) on the next `make build`.
build: deps
	$(PYTHON) -m pip install $(PIP_FLAGS) -e .

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

bench: build
	@for b in $(BUILD_DIR)/benchmarks/*_benchmark; do echo "== $$b"; $$b --benchmark_min_time=0.5; done
	lumos microbenchmark

# A self-contained binary wheel in dist/ (Release in build/wheel, then
# auditwheel: Debian's gRPC/protobuf/absl/ssl vendored into lumos.libs/,
# tagged manylinux_2_35). docs/ARCHITECTURE.md "Wheel".
wheel: deps
	PYTHON=$(PYTHON) scripts/build_wheel.sh

# Installs a wheel (default: dist/lumos-*.whl; WHEEL=path for another, e.g.
# build/wheel-unrepaired/*.whl, which must fail) in a bare Debian 12 root with
# no network and runs the demo and a cluster there (needs root).
wheel-test:
	PYTHON=$(PYTHON) scripts/wheel_test/run.sh $(WHEEL)

# Only the cached Debian root of wheel-test (tests/python/test_wheel.py skips without it).
wheel-root:
	scripts/wheel_root.sh $${LUMOS_WHEEL_ROOT:-/var/cache/lumos-wheel-test/root}

clean:
	rm -rf build
