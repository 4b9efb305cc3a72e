#!/usr/bin/env bash
# Installs what the tests need and runs every test: Rust unit, integration
# and doc tests, then the driver tests (pymongo with mongoengine, Beanie and
# Django's ORM; the Node driver, mongoose, mongosh) against a real `argon serve`.
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
# The whole output goes to a log; the summary lines and any failure are shown.
rust_failed=0
# A hung test must fail the run, not stall it: 40 minutes at most.
timeout 2400 cargo test --workspace --no-fail-fast >"$ROOT/.rust-test.log" 2>&1 || rust_failed=1
grep -E "^(test result|     Running|   Doc-tests)|FAILED|panicked|^error" "$ROOT/.rust-test.log" || true
if [ "$rust_failed" = 1 ]; then
  echo "Rust tests failed; the failing tests' output:"
  sed -n '/^failures:$/,/^test result/p' "$ROOT/.rust-test.log" | head -300
fi
rm -f "$ROOT/.rust-test.log"

echo "== Python driver tests (pymongo, mongoengine, Beanie, Django)"
py_failed=0
.venv/bin/python -m pytest -q --timeout=120 tests/python || py_failed=1

echo "== Node driver tests (mongodb, mongoose, mongosh)"
node_failed=0
(cd tests/node && node --test --test-concurrency=1 --test-timeout=120000 ./*.test.mjs) || node_failed=1

if [ "$rust_failed$py_failed$node_failed" != "000" ]; then
  echo "FAILED: rust=$rust_failed python=$py_failed node=$node_failed"
  exit 1
fi
echo "all test suites passed"
