#!/usr/bin/env bash
# Runs every test: the Swift package's (swift test) and the Python
# package's (pytest, against swiftprop installed into .venv from this tree).
# Installs what it needs itself; exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

python=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    "$python" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet ".[test]"
# PyTorch, for the export tests (they skip, saying so, without it). PyPI's
# Linux wheel brings about 5 GB of CUDA libraries (2.5 minutes to install
# here); a CPU-only build is under 1 GB and a minute. Take the newest
# CPU-only build that pip finds among its configured sources (this
# project's machines offer one), else PyPI's. SWIFTPROP_SKIP_TORCH=1 skips.
if [ "${SWIFTPROP_SKIP_TORCH:-0}" != 1 ] \
        && ! .venv/bin/python -c "import torch" 2>/dev/null; then
    cpu_torch=$(.venv/bin/python -m pip index versions torch 2>/dev/null \
        | sed -n 's/^Available versions: //p' | tr ',' '\n' | tr -d ' ' \
        | grep '+cpu$' | head -n 1 || true)
    .venv/bin/python -m pip install --quiet "torch${cpu_torch:+==$cpu_torch}"
fi

echo "== swift test"
swift test

# The matrix kernel has a second tile height, for CPUs with AVX-512
# (setup.py picks it): its tests again, built with it, in a build folder
# of their own.
echo "== swift test (8-row kernel tile)"
swift test --scratch-path .build-wide-tile -Xswiftc -DSWIFTPROP_WIDE_TILE \
    --filter 'MultiplyTests|GradientTests|PassTests|TrainingTests'

echo "== pytest"
# From outside the tree, so the installed package is what is tested;
# SWIFTPROP_SOURCE lets the wheel test build a wheel from this tree.
cd /tmp
SWIFTPROP_SOURCE="$root" "$root/.venv/bin/python" -m pytest "$root/python/tests" \
    -p no:cacheprovider -rs "$@"
