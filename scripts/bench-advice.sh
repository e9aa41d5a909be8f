#!/usr/bin/env bash
# Measures the advisor against an expert's index set on a workload benchmark set, with the runner
# bench/run-bench.sh (../shared/bench/run-bench.sh, medians of repeated passes): a throwaway PostgreSQL 15 with hypopg, the set loaded once,
# the workload timed before and after each advisor's DDL.
# usage: scripts/bench-advice.sh [BUILD_DIR] [SET_DIR]
#   BUILD_DIR  where the optischema binary is (default: build)
#   SET_DIR    the set (default: ../shared/bench/clinic); also bench/sets/helpdesk, bench/sets/market.
#              The runner is bench/run-bench.sh: the shared runner's copy that times each statement
#              REPEAT (default 3) times after an advisor's DDL and counts the median.
# Env: QUALSTATS=0 leaves pg_qualstats out of the bench database (it is created there when installed).
# e.g. scripts/bench-advice.sh build bench/sets/helpdesk
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:-$root/build}" && pwd)
set_dir=$(cd "${2:-$root/../shared/bench/clinic}" && pwd)
bench=$root/bench/run-bench.sh
[[ -x $bench ]] || bench=$root/../shared/bench/run-bench.sh
[[ -x $bench ]] || { echo "bench-advice: no benchmark runner beside $set_dir nor at $bench" >&2; exit 1; }
[[ -x $build/optischema ]] || { echo "bench-advice: no optischema binary in $build" >&2; exit 1; }
dir=$(mktemp -d /tmp/optischema-bench-XXXXXX); rmdir "$dir"
"$root/scripts/harness.sh" up "$dir" --no-nats --owner $$ >/dev/null
trap '"$root/scripts/harness.sh" down "$dir" >/dev/null 2>&1' EXIT
set -a; . "$dir/env"; set +a
psql -X -q -c "CREATE DATABASE bench" postgres
# pg_qualstats, where installed, lets the advisor see the constants the workload uses (as a DBA who
# runs it would); QUALSTATS=0 measures without it.
if [[ ${QUALSTATS:-1} == 1 ]] && [[ -n $(psql -X -At -c "SELECT 1 FROM pg_available_extensions WHERE name = 'pg_qualstats'" postgres) ]]; then
  psql -X -q -c "CREATE EXTENSION pg_qualstats" bench
fi
"$bench" "$set_dir" "host=127.0.0.1 port=$PGPORT user=postgres dbname=bench" \
  expert "optischema=$build/optischema"
