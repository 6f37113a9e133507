#!/usr/bin/env bash
# Runs every test: the Swift package's (swift test) and the Python
# package's (pytest, against swiftprop installed into .venv from this tree).
# Installs what it needs itself; exits non-zero on any failure.
#
# PYTHON                the interpreter of a new venv (default python3)
# VENV                  the venv (default .venv)
# SWIFTPROP_WHEEL       install this wheel instead of building the tree
#                       (CI tests the wheel it publishes)
# SWIFTPROP_SKIP_SWIFT=1  skip swift test (a second interpreter's run)
# SWIFTPROP_SKIP_TORCH=1  do not install PyTorch (its tests then skip)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

python=${PYTHON:-python3}
venv=${VENV:-.venv}
if [ ! -x "$venv/bin/python" ]; then
    "$python" -m venv "$venv"
fi
venv=$(cd "$venv" && pwd)
"$venv/bin/python" -m pip install --quiet --upgrade pip
if [ -n "${SWIFTPROP_WHEEL:-}" ]; then
    wheel=$(realpath "$SWIFTPROP_WHEEL")
    "$venv/bin/python" -m pip install --quiet "swiftprop[test] @ file://$wheel"
    # The same version may be installed from a source build: replace it.
    "$venv/bin/python" -m pip install --quiet --force-reinstall --no-deps "$wheel"
else
    "$venv/bin/python" -m pip install --quiet ".[test]"
fi
# PyTorch, for the export tests (they skip, saying so, without it). PyPI's
# Linux wheel brings about 5 GB of CUDA libraries (2.5 minutes to install
# here); a CPU-only build is under 1 GB and a minute. Take the newest
# CPU-only build that pip finds among its configured sources (this
# project's machines offer one), else PyPI's. SWIFTPROP_SKIP_TORCH=1 skips.
if [ "${SWIFTPROP_SKIP_TORCH:-0}" != 1 ] \
        && ! "$venv/bin/python" -c "import torch" 2>/dev/null; then
    cpu_torch=$("$venv/bin/python" -m pip index versions torch 2>/dev/null \
        | sed -n 's/^Available versions: //p' | tr ',' '\n' | tr -d ' ' \
        | grep '+cpu$' | head -n 1 || true)
    "$venv/bin/python" -m pip install --quiet "torch${cpu_torch:+==$cpu_torch}"
fi

if [ "${SWIFTPROP_SKIP_SWIFT:-0}" != 1 ]; then
    # Three builds of the Swift tests, each in a folder of its own:
    # - debug, with Swift's runtime checks (bounds, overflow, exclusivity),
    #   for every suite but the two that multiply at sizes a debug build
    #   takes minutes over (unspecialised generic code: about 250 and
    #   210 s); they run in the two optimised builds;
    # - the matrix kernel's variants that setup.py builds for other CPU
    #   levels, optimised as the wheel ships them (-enable-testing lets the
    #   tests reach the core's internal names), running every test: the
    #   8-row tile (avx512) and products without fused multiply-adds
    #   (baseline).
    # The default kernel (6-row tile, FMA: the avx2 level) is tested by
    # pytest, which runs every level this CPU has against the NumPy
    # reference. An optimised build compiles each module whole, on about
    # one core, so the three build side by side.
    wide=(-c release -Xswiftc -enable-testing --scratch-path .build-test-wide-tile
          -Xswiftc -DSWIFTPROP_WIDE_TILE)
    no_fma=(-c release -Xswiftc -enable-testing --scratch-path .build-test-no-fma
            -Xswiftc -DSWIFTPROP_NO_FMA)
    echo "== swift build --build-tests: debug, 8-row tile, no FMA (at ${SECONDS} s)"
    logs=$(mktemp -d)
    # Each in a session of its own: a failure anywhere stops the builds
    # still running, compiler processes included.
    setsid --wait swift build --build-tests >"$logs/debug.log" 2>&1 & debug_build=$!
    setsid --wait swift build --build-tests "${wide[@]}" >"$logs/wide.log" 2>&1 & wide_build=$!
    setsid --wait swift build --build-tests "${no_fma[@]}" >"$logs/no-fma.log" 2>&1 &
    no_fma_build=$!
    trap 'for pid in "$debug_build" "$wide_build" "$no_fma_build"; do
              kill -- -"$pid" 2>/dev/null || true; done' EXIT
    built() {  # name pid: waits for that build; prints its log if it failed
        if wait "$2"; then
            echo "--- swift build --build-tests ($1): $(tail -n 1 "$logs/$1.log")"
        else
            echo "--- swift build --build-tests ($1) failed:"
            cat "$logs/$1.log"
            return 1
        fi
    }

    # Each build's tests run as soon as it is ready, beside the others.
    built debug "$debug_build"
    echo "== swift test, debug (at ${SECONDS} s)"
    swift test --skip-build --skip 'MultiplyTests|FusedUpdateTests'
    built wide "$wide_build"
    echo "== swift test -c release, 8-row kernel tile (at ${SECONDS} s)"
    swift test --skip-build "${wide[@]}"
    built no-fma "$no_fma_build"
    echo "== swift test -c release, no fused multiply-add (at ${SECONDS} s)"
    swift test --skip-build "${no_fma[@]}"
    trap - EXIT
    rm -rf "$logs"
fi

echo "== pytest (at ${SECONDS} s)"
# From outside the tree, so the installed package is what is tested;
# SWIFTPROP_SOURCE lets the wheel test build a wheel from this tree.
cd /tmp
SWIFTPROP_SOURCE="$root" "$venv/bin/python" -m pytest "$root/python/tests" \
    -p no:cacheprovider -rs "$@"
