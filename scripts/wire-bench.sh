#!/usr/bin/env bash
# Wire-server throughput: a fresh `argon serve` per workload, driven by
# argon-loadgen over loopback, with the server's and the load generator's
# CPU time read from /proc/<pid>/stat around the run.
#
#   scripts/wire-bench.sh [workload ...]     (default: insert find mixed)
#
# Workloads (argon-loadgen --workload): insert, find (by _id), mixed (50/50
# find and update by _id), update (by _id, $inc), find-indexed (by an
# indexed field: the full query path), find-range (ten documents by a
# range on the indexed field), ping (no storage work: the transport's
# ceiling). All but insert and ping preload PRELOAD
# documents first, in a run of their own.
#
# Env: ARGON_BIN, LOADGEN_BIN (default: release builds under
# $CARGO_TARGET_DIR), CONNS (64), SECS (8), PRELOAD (10000), FSYNC (always),
# SERVE_ARGS and LOADGEN_ARGS (extra flags for either), UNIX=1 (drive the
# server through its Unix socket instead of loopback TCP).
set -euo pipefail
T="${CARGO_TARGET_DIR:-$HOME/.cache/argon-target}/release"
ARGON_BIN="${ARGON_BIN:-$T/argon}"
LOADGEN_BIN="${LOADGEN_BIN:-$T/argon-loadgen}"
CONNS="${CONNS:-64}" SECS="${SECS:-8}" PRELOAD="${PRELOAD:-10000}" FSYNC="${FSYNC:-always}"
PORT=27599
export RUST_BACKTRACE=0
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
hz=$(getconf CLK_TCK)
for workload in "${@:-insert find mixed}"; do
  dir=$(mktemp -d "${ARGON_BENCH_DIR:-/tmp}/wire-bench.XXXXXX")
  addr=127.0.0.1:$PORT unix_args=""
  if [ -n "${UNIX:-}" ]; then addr="$dir.sock" unix_args="--unix-socket $dir.sock"; fi
  "$ARGON_BIN" --data-dir "$dir" serve --port $PORT --fsync "$FSYNC" $unix_args ${SERVE_ARGS:-} >"$dir.log" 2>&1 &
  server=$!
  for _ in $(seq 100); do (echo >/dev/tcp/127.0.0.1/$PORT) 2>/dev/null && [ -z "${UNIX:-}" -o -S "$dir.sock" ] && break; sleep 0.1; done
  pre=0
  if [ "$workload" != insert ] && [ "$workload" != ping ]; then pre=$PRELOAD; fi
  # Preload first (in its own run of 0 s) so CPU is counted for the load only.
  if [ "$pre" -gt 0 ]; then
    "$LOADGEN_BIN" --addr "$addr" --workload "$workload" --connections 1 --seconds 0 --preload "$pre" --db b >/dev/null
  fi
  s0=$(ticks $server)
  "$LOADGEN_BIN" --addr "$addr" --workload "$workload" --connections "$CONNS" --seconds "$SECS" --preload "$pre" --preloaded --db b ${LOADGEN_ARGS:-} >"$dir.out" &
  lg=$!
  sleep 0.5; l0=$(ticks $lg)
  wait_start=$(date +%s.%N)
  sleep $((SECS - 1)); l1=$(ticks $lg); s1=$(ticks $server); wait_end=$(date +%s.%N)
  wait $lg || { kill $server; exit 1; }
  result=$(cat "$dir.out")
  ops=$(echo "$result" | sed -n 's/.* = \([0-9]*\) ops\/s.*/\1/p')
  awk -v s0="$s0" -v s1="$s1" -v l0="$l0" -v l1="$l1" -v hz="$hz" -v t0="$wait_start" -v t1="$wait_end" -v ops="$ops" -v r="$result" 'BEGIN {
    secs = t1 - t0; server = (s1 - s0) / hz / (secs + 0.5); lg = (l1 - l0) / hz / secs;
    printf "%s\n  server %.2f cores (%.1f us/op), loadgen %.2f cores (%.1f us/op)\n", r, server, server * 1e6 / ops, lg, lg * 1e6 / ops }'
  kill $server; wait $server 2>/dev/null || true
  rm -rf "$dir" "$dir.log" "$dir.out"
done
