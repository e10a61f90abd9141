#!/bin/sh
# The whole test suite from a fresh clone: system parts, npm dependencies, build, unit and e2e tests.
set -eu
cd "$(dirname "$0")/.."
scripts/install-test-deps.sh
npm ci --no-audit --no-fund
npm test
