#!/usr/bin/env bash
# Runs every test of mmsim on a fresh machine: checks the toolchain, then builds and tests
# (XCTest, then the browser tests of `mmsim serve` in headless Chromium).
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v swift >/dev/null 2>&1; then
    if [ -x /opt/swift/usr/bin/swift ]; then export PATH=/opt/swift/usr/bin:$PATH; else
        echo "error: swift toolchain not found (expected Swift 6.x on PATH)" >&2; exit 1; fi
fi
# What the browser tests need: Debian's Chromium and its driver, and selenium from PyPI.
SUDO=""; [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1 && SUDO=sudo
if ! command -v chromium >/dev/null 2>&1 || ! command -v chromedriver >/dev/null 2>&1; then
    $SUDO apt-get update -qq
    $SUDO apt-get install -y --no-install-recommends chromium chromium-driver fonts-dejavu-core >/dev/null
fi
if ! python3 -c 'import selenium' >/dev/null 2>&1; then
    python3 -m pip install -q selenium
fi
swift build --build-tests
swift test --skip-build "$@"
if [ "$#" -eq 0 ]; then
    python3 Tests/Browser/test_web.py "$(swift build --show-bin-path)/mmsim" .build/screenshots
fi
