#!/usr/bin/env bash
# Measures the advisor against an expert's index set on a workload benchmark set, with the shared runner
# (../shared/bench/run-bench.sh): a throwaway PostgreSQL 15 with hypopg, the set loaded once,
# the workload timed before and after each advisor's DDL.
# usage: scripts/bench-advice.sh [BUILD_DIR] [SET_DIR]
#   BUILD_DIR  where the optischema binary is (default: build)
#   SET_DIR    the set (default: ../shared/bench/clinic); also bench/sets/helpdesk, bench/sets/market.
#              The runner is SET_DIR/../run-bench.sh when there is one, else ../shared/bench/run-bench.sh.
# e.g. scripts/bench-advice.sh build bench/sets/helpdesk
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:-$root/build}" && pwd)
set_dir=$(cd "${2:-$root/../shared/bench/clinic}" && pwd)
bench=$(dirname "$set_dir")/run-bench.sh
[[ -x $bench ]] || bench=$root/../shared/bench/run-bench.sh
[[ -x $bench ]] || { echo "bench-advice: no benchmark runner beside $set_dir nor at $bench" >&2; exit 1; }
[[ -x $build/optischema ]] || { echo "bench-advice: no optischema binary in $build" >&2; exit 1; }
dir=$(mktemp -d /tmp/optischema-bench-XXXXXX); rmdir "$dir"
"$root/scripts/harness.sh" up "$dir" --no-nats --owner $$ >/dev/null
trap '"$root/scripts/harness.sh" down "$dir" >/dev/null 2>&1' EXIT
set -a; . "$dir/env"; set +a
psql -X -q -c "CREATE DATABASE bench" postgres
"$bench" "$set_dir" "host=127.0.0.1 port=$PGPORT user=postgres dbname=bench" \
  expert "optischema=$build/optischema"
