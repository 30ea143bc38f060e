#!/usr/bin/env bash
# `make wheel-test [WHEEL=path]`: installs a lumos wheel into a fresh venv in a
# bare Debian 12 root (python3 + python3-venv, no -dev packages, no compiler,
# no gRPC) and runs it there with no network but loopback: the seeds' demo,
# `lumos start --head`, a driver that checks /proc/PID/maps of every process
# for libraries from outside the wheel, its Python deps and the base system,
# then `lumos stop`. Exit status 0 only when all of that passed.
#   root:  $LUMOS_WHEEL_ROOT (default /var/cache/lumos-wheel-test/root), made
#          once by scripts/wheel_root.sh and reused;
#   deps:  the wheel's Requires-Dist, `pip download`ed here (outside the
#          namespace, which has no network) for the root's Python, cached
#          beside the root by requirement list.
# Needs root (chroot, unshare, mounts). Everything mounted lives in a private
# mount namespace whose last process is PID 1 of a private PID namespace: when
# it exits, the kernel kills every process left in it and drops every mount.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
PY=${PYTHON:-python3}
ROOT=${LUMOS_WHEEL_ROOT:-/var/cache/lumos-wheel-test/root}
CACHE=$(dirname "$ROOT")

WHEEL=${1:-}
if [ -z "$WHEEL" ]; then
  WHEEL=$(ls "$REPO"/dist/lumos-*.whl 2>/dev/null | head -1 || true)
  [ -n "$WHEEL" ] || { echo "wheel-test: no wheel in dist/; run 'make wheel' first (or pass WHEEL=path)" >&2; exit 2; }
fi
[ -f "$WHEEL" ] || { echo "wheel-test: $WHEEL: no such file" >&2; exit 2; }
WHEEL=$(cd "$(dirname "$WHEEL")" && pwd)/$(basename "$WHEEL")
if [ "$(id -u)" -ne 0 ]; then
  echo "wheel-test: needs root (debootstrap, unshare, chroot, mounts)" >&2; exit 2
fi

"$REPO/scripts/wheel_root.sh" "$ROOT"
PYTAG=$(chroot "$ROOT" /usr/bin/python3 -c 'import sys; print("%d%d" % sys.version_info[:2])')
case "$(basename "$WHEEL")" in
  *-cp$PYTAG-*) ;;
  *) echo "wheel-test: $(basename "$WHEEL") is not for the root's Python (cp$PYTAG, Debian 12);" \
          "build the wheel with a Python 3.${PYTAG#3} (PYTHON=python3.${PYTAG#3} make wheel)" >&2; exit 2 ;;
esac

# The wheel's run-time requirements, downloaded once per requirement list.
REQS=$($PY - "$WHEEL" <<'PYEOF'
import sys, zipfile
z = zipfile.ZipFile(sys.argv[1])
meta = next(n for n in z.namelist() if n.endswith(".dist-info/METADATA"))
for line in z.read(meta).decode().splitlines():
    if line.startswith("Requires-Dist:") and "extra ==" not in line:
        print(line.split(":", 1)[1].strip())
PYEOF
)
KEY=$(printf '%s\n' "$REQS" | sha256sum | cut -c1-12)
DEPS=$CACHE/pydeps-cp$PYTAG-$KEY
if [ ! -f "$DEPS/.complete" ]; then
  echo "wheel-test: pip download the wheel's requirements for cp$PYTAG into $DEPS"
  rm -rf "$DEPS" && mkdir -p "$DEPS"
  printf '%s\n' "$REQS" > "$DEPS/requirements.txt"
  $PY -m pip download -q --only-binary=:all: --python-version "$PYTAG" -d "$DEPS" -r "$DEPS/requirements.txt"
  touch "$DEPS/.complete"
fi

echo "wheel-test: $(basename "$WHEEL") in $ROOT (fresh venv, no network)"
unshare --mount --net --pid --fork --mount-proc \
  bash "$HERE/namespace.sh" "$ROOT" "$WHEEL" "$DEPS" "$HERE" "$REPO/examples/demo.py"
