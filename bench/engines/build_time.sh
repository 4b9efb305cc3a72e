#!/usr/bin/env bash
# Clean release build time of each engine crate alone: a tiny crate that
# depends only on that engine, built in its own fresh target dir, timed.
# Usage: bench/engines/build_time.sh [heed redb fjall rocksdb]
# (rocksdb is not in the default list: its clean build compiles RocksDB's
# C++ sources and takes about 510 s on a 2-core machine.)
set -euo pipefail

declare -A DEP=(
  [heed]='heed = "0.22"'
  [redb]='redb = "4.4"'
  [fjall]='fjall = "3.1"'
  [rocksdb]='rocksdb = "0.24"'
)
engines=("$@")
[ ${#engines[@]} -eq 0 ] && engines=(heed redb fjall)
work=$(mktemp -d "${TMPDIR:-/tmp}/argon-engine-build-XXXXXX")
trap 'rm -rf "$work"' EXIT

for e in "${engines[@]}"; do
  dir="$work/$e"
  mkdir -p "$dir/src"
  cat > "$dir/Cargo.toml" <<TOML
[package]
name = "build-$e"
version = "0.0.0"
edition = "2021"
publish = false

[workspace]

[dependencies]
${DEP[$e]}
TOML
  echo 'fn main() {}' > "$dir/src/main.rs"
  # Resolve and download first so only compilation is timed.
  (cd "$dir" && cargo fetch -q)
  # Wall time, and CPU time (user + sys of cargo and every compiler it ran),
  # which depends less on what else the machine is doing.
  TIMEFORMAT='%R %U %S'
  t=$( { time (cd "$dir" && CARGO_TARGET_DIR="$dir/target" cargo build --release -q) ; } 2>&1 | tail -1)
  read -r real user sys <<<"$t"
  printf '%-8s clean release build: %6.1f s wall, %6.1f s CPU (user+sys) (load average %s)\n' \
    "$e" "$real" "$(echo "$user + $sys" | bc)" "$(cut -d' ' -f1 /proc/loadavg)"
done
