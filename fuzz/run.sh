#!/usr/bin/env bash
# `make fuzz`: builds the libFuzzer harnesses of fuzz/ with clang
# (-fsanitize=fuzzer,address,undefined) in build/fuzz, separate from the
# normal build in build/py, then runs each harness for FUZZ_SECONDS (default
# 60) and the Python (atheris) harness as long. See docs/ARCHITECTURE.md
# "Fuzzing".
#
# Environment:
#   FUZZ_SECONDS  seconds per harness (default 60)
#   FUZZERS       which harnesses (default: all; names as in fuzz/CMakeLists.txt,
#                 plus "deserialize" for the Python one)
#   FUZZ_MERGE=1  afterwards, merge the inputs that add coverage back into
#                 fuzz/corpus/<harness>/ (libFuzzer -merge=1)
#   PYTHON        the project venv's python (for atheris)
# Inputs found are kept in build/fuzz/work/<harness>/; a crash leaves its input
# in build/fuzz/artifacts/ and fails the target. Copy it to
# fuzz/regressions/<harness>/ once fixed: `make test` replays it from then on.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
SECONDS_EACH=${FUZZ_SECONDS:-60}
BUILD=$ROOT/build/fuzz
PYTHON=${PYTHON:-$ROOT/.venv/bin/python}
ALL="frame_decoder_fuzzer store_handlers_fuzzer raylet_handlers_fuzzer gcs_requests_fuzzer deserialize"
FUZZERS=${FUZZERS:-$ALL}

if ! command -v clang++ >/dev/null || ! ls /usr/lib/llvm-*/lib/clang/*/lib/linux/libclang_rt.fuzzer-x86_64.a >/dev/null 2>&1; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  echo "fuzz: apt-get install clang (libFuzzer comes with its runtime)"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq clang
fi

cxx_fuzzers=()
for f in $FUZZERS; do [ "$f" != deserialize ] && cxx_fuzzers+=("$f"); done
if [ ${#cxx_fuzzers[@]} -gt 0 ]; then
  # A build like any other: under the shared build lock (see README).
  # ASIO_DISABLE_STD_ALIGNED_ALLOC: asio picks aligned_alloc or operator new
  # per translation unit (by whether a libstdc++ header came first), so a
  # handler allocated in one file may be freed in another with the other
  # function: harmless with glibc, but ASan reports every such pair.
  # fuzz/coverage_ignorelist.txt: generated and library code gets no coverage
  # counters (libFuzzer scans them all after every input).
  flock /tmp/lumos-build.lock bash -c '
    set -e
    cmake -S "$0" -B "$1" -G Ninja -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_COMPILER=clang++ \
      "-DCMAKE_CXX_FLAGS=-O1 -fno-omit-frame-pointer -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined -fsanitize-coverage-ignorelist=$0/fuzz/coverage_ignorelist.txt -DASIO_DISABLE_STD_ALIGNED_ALLOC" \
      -DLUMOS_FUZZ=ON -DLUMOS_BUILD_TESTS=OFF -DLUMOS_BUILD_BENCHMARKS=OFF -DLUMOS_BUILD_PYTHON=OFF >"$1/configure.log" 2>&1 ||
      { cat "$1/configure.log"; exit 1; }
    cmake --build "$1" -j2 --target "${@:2}"' "$ROOT" "$BUILD" "${cxx_fuzzers[@]}"
fi

mkdir -p "$BUILD/artifacts"
status=0
for f in $FUZZERS; do
  work=$BUILD/work/$f
  mkdir -p "$work" "fuzz/corpus/$f"
  echo "== $f: ${SECONDS_EACH}s"
  if [ "$f" = deserialize ]; then
    "$PYTHON" -c "import atheris" 2>/dev/null || "$PYTHON" -m pip install -q atheris
    run=("$PYTHON" fuzz/python/deserialize_fuzzer.py)
  else
    # -close_fd_mask=2: the daemons' own logging would slow the run; libFuzzer
    # and the sanitizers still report on their own descriptor.
    run=("$BUILD/fuzz/$f" -rss_limit_mb=4096 -close_fd_mask=2)
    # One raylet serves every input, so many inputs end with more allocations
    # than frees; libFuzzer then runs LeakSanitizer over the whole heap after
    # the input (measured: half the run time, 195 -> 500 inputs/s without it).
    # LeakSanitizer still checks the whole run at exit.
    if [ "$f" = raylet_handlers_fuzzer ]; then run+=(-detect_leaks=0); fi
  fi
  "${run[@]}" -max_total_time="$SECONDS_EACH" -timeout=30 -artifact_prefix="$BUILD/artifacts/$f-" \
    "$work" "fuzz/corpus/$f" || status=1
  if [ "${FUZZ_MERGE:-0}" = 1 ]; then
    # The smallest set of inputs (old corpus and new finds) covering the same
    # edges (-use_counters=0: hit counts aside, which keeps it to a few
    # hundred files) replaces fuzz/corpus/<harness>/.
    merged=$BUILD/merged/$f
    rm -rf "$merged" && mkdir -p "$merged"
    "${run[@]}" -merge=1 -use_counters=0 "$merged" "fuzz/corpus/$f" "$work" >"$BUILD/merge-$f.log" 2>&1 &&
      find "fuzz/corpus/$f" -type f -delete && cp "$merged"/* "fuzz/corpus/$f/"
  fi
done
[ $status = 0 ] || echo "fuzz: a harness failed; its input is in $BUILD/artifacts/"
exit $status
