#!/usr/bin/env bash
# PID 1 of wheel-test's namespaces (private mount, net and PID namespaces;
# unshare mounted the new PID namespace's /proc). Makes the cached root
# read-only (every run starts from the same debootstrap result: nothing a run
# writes survives it) with fresh tmpfs /tmp, /root, /run, /var/tmp and
# /dev/shm, a minimal /dev, the wheel, its downloaded deps and the test
# scripts read-only under /mnt/lumos-test; brings up loopback (the only
# interface here) and runs chroot.sh inside the root. Mounts made here exist
# only in this mount namespace: they go with it.
set -euo pipefail
ROOT=$1 WHEEL=$2 DEPS=$3 SCRIPTS=$4 DEMO=$5

mount --make-rprivate /
ip link set lo up

mount --bind "$ROOT" "$ROOT"
mount -o remount,bind,ro "$ROOT"
mount -t proc proc "$ROOT/proc"
for d in root run var/tmp; do
  mount -t tmpfs -o mode=0755,nosuid,nodev tmpfs "$ROOT/$d"
done
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
