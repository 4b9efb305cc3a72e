#!/usr/bin/env bash
# Alternated wire benchmarks: runs scripts/wire-bench.sh with each server
# binary in turn, ROUNDS times, so that the binaries meet the same minutes
# of a noisy machine; then prints each one's mean per workload.
#
#   scripts/wire-ab.sh LABEL=BINARY[,VAR=VALUE...] ...
#
#   e.g. ROUNDS=4 WORKLOADS="mixed update" scripts/wire-ab.sh \
#          before=/tmp/argon-before after=target/release/argon
#        scripts/wire-ab.sh off=target/release/argon on=target/release/argon,SERVE_ARGS=--fsync-threads\ 1
#
# Env: ROUNDS (3), WORKLOADS ("mixed insert"), SECS (4), and whatever
# scripts/wire-bench.sh reads (CONNS, PRELOAD, FSYNC, LOADGEN_BIN, ...).
# Each line printed: label, workload, ops/s, the server's and the load
# generator's CPU per operation (µs).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
[ $# -ge 1 ] || { sed -n '2,15p' "$0"; exit 2; }
results=$(mktemp)
for _ in $(seq "${ROUNDS:-3}"); do
  for spec in "$@"; do
    label=${spec%%=*}
    rest=${spec#*=}
    IFS=, read -r -a parts <<<"$rest"
    bin=${parts[0]}
    out=$(env "${parts[@]:1}" ARGON_BIN="$bin" SECS="${SECS:-4}" "$here/wire-bench.sh" ${WORKLOADS:-mixed insert} 2>&1)
    echo "$out" | awk -v l="$label" '
      /ops\/s/ { w = $1; for (i = 1; i <= NF; i++) if ($i == "=") r = $(i + 1) }
      /server/ { s = $4; g = $9; gsub(/[(]/, "", s); gsub(/[(]/, "", g); printf "%s %s %s %s %s\n", l, w, r, s, g }' | tee -a "$results"
  done
done
echo "means:"
awk '{ k = $1 " " $2; ops[k] += $3; srv[k] += $4; lg[k] += $5; n[k]++; runs[k] = runs[k] " " $3 }
  END { for (k in n) printf "%-24s %8.0f ops/s  server %5.1f us/op  loadgen %5.1f us/op  (%s )\n", k, ops[k] / n[k], srv[k] / n[k], lg[k] / n[k], runs[k] }' "$results" | sort
rm -f "$results"
