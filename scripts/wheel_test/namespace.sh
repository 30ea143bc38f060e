#!/usr/bin/env bash
# PID 1 of wheel-test's namespaces (private mount, net and PID namespaces;
# /proc of the new PID namespace already mounted at ROOT/proc by unshare).
# Gives the root a minimal /dev, a fresh /tmp and /dev/shm, the wheel, its
# downloaded deps and the test scripts read-only under /mnt/lumos-test, brings
# up loopback (the only interface here), and runs chroot.sh inside the root.
# Mounts made here exist only in this mount namespace: they go with it.
set -euo pipefail
ROOT=$1 WHEEL=$2 DEPS=$3 SCRIPTS=$4 DEMO=$5

mount --make-rprivate /
ip link set lo up

mount -t tmpfs -o mode=0755,nosuid tmpfs "$ROOT/dev"
for d in null zero full random urandom tty; do
  touch "$ROOT/dev/$d"
  mount --bind "/dev/$d" "$ROOT/dev/$d"
done
ln -s /proc/self/fd "$ROOT/dev/fd"
mkdir "$ROOT/dev/shm"
mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs "$ROOT/dev/shm"   # the object store's shared memory
mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs "$ROOT/tmp"       # the venv and session dirs

T=$ROOT/mnt/lumos-test
mount -t tmpfs -o mode=0755 tmpfs "$ROOT/mnt"
mkdir -p "$T/wheel" "$T/deps" "$T/scripts"
cp "$WHEEL" "$T/wheel/"
mount --bind -o ro "$DEPS" "$T/deps"
cp "$SCRIPTS/chroot.sh" "$SCRIPTS/check_maps.py" "$DEMO" "$T/scripts/"
mount -o remount,ro,bind "$ROOT/mnt"

chroot "$ROOT" /usr/bin/env -i PATH=/usr/local/bin:/usr/bin:/bin HOME=/root LANG=C.UTF-8 \
  /bin/bash /mnt/lumos-test/scripts/chroot.sh
