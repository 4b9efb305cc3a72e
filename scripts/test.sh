#!/usr/bin/env bash
# Installs what the tests need and runs every test: Rust unit, integration
# and doc tests, then the driver tests (pymongo, the Node driver, mongoose,
# mongosh) against a real `argon serve`.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/argon-target}"
export CARGO_TERM_COLOR=never

echo "== installing test dependencies"
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
.venv/bin/pip install --quiet --disable-pip-version-check -r tests/python/requirements.txt
(cd tests/node && npm install --no-audit --no-fund --loglevel=error)

echo "== building"
cargo build --quiet --bin argon
export ARGON_BIN="$CARGO_TARGET_DIR/debug/argon"

echo "== Rust tests"
cargo test --quiet --workspace --no-fail-fast 2>&1 | tee "$ROOT/target-test.log" | grep -E "^(test result|running|error|failures:|---- )|FAILED|panicked" || true
if grep -qE "FAILED|error(\[|:)" "$ROOT/target-test.log"; then
  echo "Rust tests failed; see above"
  rust_failed=1
else
  rust_failed=0
fi
rm -f "$ROOT/target-test.log"

echo "== Python driver tests (pymongo)"
py_failed=0
.venv/bin/python -m pytest -q tests/python || py_failed=1

echo "== Node driver tests (mongodb, mongoose, mongosh)"
node_failed=0
(cd tests/node && node --test --test-concurrency=1 ./*.test.mjs) || node_failed=1

if [ "$rust_failed$py_failed$node_failed" != "000" ]; then
  echo "FAILED: rust=$rust_failed python=$py_failed node=$node_failed"
  exit 1
fi
echo "all test suites passed"
