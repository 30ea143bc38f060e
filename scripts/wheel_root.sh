#!/usr/bin/env bash
# Makes (once) the bare Debian root that `make wheel-test` installs the wheel
# into: debootstrap minbase + python3 + python3-venv, nothing else (no -dev
# packages, no compiler, no gRPC). Reused when present; built in a temp dir
# beside it and renamed at the end, so an interrupted run leaves no half root.
# Usage: scripts/wheel_root.sh ROOT_DIR
set -euo pipefail
ROOT=${1:?usage: wheel_root.sh ROOT_DIR}
MIRROR=${LUMOS_DEBIAN_MIRROR:-http://deb.debian.org/debian}

if [ -x "$ROOT/usr/bin/python3" ] && [ -f "$ROOT/.lumos-root-ok" ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "wheel_root: debootstrap and chroot need root (run as root or with sudo)" >&2
  exit 1
fi
if ! command -v debootstrap >/dev/null; then
  echo "wheel_root: apt-get install debootstrap"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap
fi
mkdir -p "$(dirname "$ROOT")"
TMP=$(mktemp -d "$ROOT.tmp.XXXXXX")
trap 'rm -rf --one-file-system "$TMP"' EXIT
start=$(date +%s)
debootstrap --variant=minbase --include=python3,python3-venv bookworm "$TMP" "$MIRROR" \
  > "$TMP.log" 2>&1 || { tail -20 "$TMP.log" >&2; rm -f "$TMP.log"; exit 1; }
rm -f "$TMP.log"
touch "$TMP/.lumos-root-ok"
rm -rf --one-file-system "$ROOT"
mv "$TMP" "$ROOT"
trap - EXIT
echo "wheel_root: made $ROOT in $(( $(date +%s) - start )) s ($(du -sh "$ROOT" | cut -f1))"
