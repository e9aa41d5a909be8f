#!/usr/bin/env bash
# Measures the advisor against an expert's index set on the shared workload benchmark
# (../shared/bench/run-bench.sh): a throwaway PostgreSQL 15 with hypopg, the set loaded once,
# the workload timed before and after each advisor's DDL.
# usage: scripts/bench-advice.sh [BUILD_DIR] [SET_DIR]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build}
set_dir=${2:-$root/../shared/bench/clinic}
bench=$(cd "$set_dir/.." && pwd)/run-bench.sh
[[ -x $bench ]] || { echo "bench-advice: no benchmark at $bench" >&2; exit 1; }
dir=$(mktemp -d /tmp/optischema-bench-XXXXXX); rmdir "$dir"
"$root/scripts/harness.sh" up "$dir" --no-nats --owner $$ >/dev/null
trap '"$root/scripts/harness.sh" down "$dir" >/dev/null 2>&1' EXIT
set -a; . "$dir/env"; set +a
psql -X -q -c "CREATE DATABASE bench" postgres
"$bench" "$set_dir" "host=127.0.0.1 port=$PGPORT user=postgres dbname=bench" \
  expert "optischema=$build/optischema"
