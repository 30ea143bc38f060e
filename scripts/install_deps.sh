#!/usr/bin/env bash
# Installs the system (Debian) and Python packages lumos needs to build, run and
# test. Idempotent: does nothing when everything is present. With VENV set it
# first makes that venv from SYSTEM_PYTHON (default python3) and PYTHON is its
# interpreter: the pip packages go there, only the Debian ones system-wide.
set -euo pipefail

DEB_PKGS=(libgrpc++-dev libprotobuf-dev protobuf-compiler protobuf-compiler-grpc
          libasio-dev libgtest-dev libgmock-dev libbenchmark-dev libsqlite3-dev
          chromium)  # chromium: the dashboard's browser tests (driven by playwright)
PY_PKGS=("grpcio>=1.85" "grpcio-tools>=1.85" "protobuf>=7.35" "cloudpickle>=3.0"
         numpy psutil pytest pytest-timeout "scikit-build-core>=0.10" "cython>=3.0"
         "pybind11>=2.12" ninja "mypy>=1.11" playwright pyyaml)

missing=()
for p in "${DEB_PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  echo "install_deps: apt-get install ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

if [ -n "${VENV:-}" ] && [ ! -x "$VENV/bin/python" ]; then
  SYS=${SYSTEM_PYTHON:-python3}
  echo "install_deps: $SYS -m venv $VENV"
  if ! $SYS -m venv "$VENV" 2>/dev/null; then
    # Debian's python3 makes venvs only with python3-venv (ensurepip) installed.
    rm -rf "$VENV"
    SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    echo "install_deps: apt-get install python3-venv"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends python3-venv
    $SYS -m venv "$VENV"
  fi
fi

PY=${PYTHON:-python3}
if ! $PY - <<'PYEOF' 2>/dev/null
import importlib.metadata as m, sys
need = {"grpcio": (1, 85), "grpcio-tools": (1, 85), "protobuf": (7, 35), "cloudpickle": (3, 0)}
for name, ver in need.items():
    v = tuple(int(x) for x in m.version(name).split(".")[:2])
    if v < ver:
        sys.exit(1)
for name in ["numpy", "psutil", "pytest", "pytest-timeout", "scikit-build-core", "cython", "pybind11", "ninja", "mypy",
             "playwright", "pyyaml"]:
    m.version(name)
PYEOF
then
  echo "install_deps: pip install ${PY_PKGS[*]}"
  $PY -m pip install -q "${PY_PKGS[@]}"
fi
