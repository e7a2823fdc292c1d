#!/usr/bin/env bash
# Runs every test of mmsim on a fresh machine: checks the toolchain, then builds and tests.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v swift >/dev/null 2>&1; then
    if [ -x /opt/swift/usr/bin/swift ]; then export PATH=/opt/swift/usr/bin:$PATH; else
        echo "error: swift toolchain not found (expected Swift 6.x on PATH)" >&2; exit 1; fi
fi
swift build --build-tests
swift test --skip-build "$@"
