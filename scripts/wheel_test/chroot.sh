#!/usr/bin/env bash
# Inside wheel-test's bare Debian root: a fresh venv, the wheel installed from
# /mnt/lumos-test with --no-index, then the demo, `lumos start --head`, the
# maps check and `lumos stop`. Prints the install and import times.
set -euo pipefail
trap 'echo "wheel-test: FAILED at line $LINENO of chroot.sh: $BASH_COMMAND" >&2' ERR
T=/mnt/lumos-test
cd /tmp   # nowhere near a source tree
python3 -m venv /tmp/venv
V=/tmp/venv/bin
now() { date +%s.%N; }
secs() { awk "BEGIN { printf \"%.1f\", $2 - $1 }"; }

t0=$(now)
$V/pip install -q --no-index --find-links $T/deps -r $T/deps/requirements.txt
t1=$(now)
$V/pip install -q --no-index --find-links $T/deps $T/wheel/*.whl
t2=$(now)
echo "wheel-test: pip install: requirements $(secs $t0 $t1) s, the lumos wheel $(secs $t1 $t2) s"
echo "wheel-test: installed $(du -sh /tmp/venv/lib/python3*/site-packages/lumos /tmp/venv/lib/python3*/site-packages/lumos.libs 2>/dev/null | awk '{print $2 ": " $1}' | tr '\n' ' ')"
for i in 1 2 3; do
  $V/python -c 'import time; t = time.perf_counter(); import lumos; print("wheel-test: import lumos %.3f s" % (time.perf_counter() - t))'
done

echo "wheel-test: examples/demo.py"
timeout 600 $V/python $T/scripts/demo.py

echo "wheel-test: lumos start --head"
trap 'timeout 60 $V/lumos stop || true' EXIT
timeout 120 $V/lumos start --head --num-cpus 2
timeout 300 $V/python $T/scripts/check_maps.py
timeout 60 $V/lumos stop
trap - EXIT
echo "wheel-test: PASSED"
