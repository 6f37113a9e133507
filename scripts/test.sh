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
