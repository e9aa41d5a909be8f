#!/usr/bin/env bash
# Measures index advice on a workload: runs it with pgbench before and after each advisor's changes.
# OptiSchema's copy of ../shared/bench/run-bench.sh (same interface, same output) with one change:
# after an advisor's DDL each statement is timed REPEAT times (default 3) and its median latency
# counts. One pass per phase let the machine's drift decide: in one run, the same index set timed
# 20-100% apart per statement in two phases. The baseline is still timed once (both ratios share it).
#
# usage: run-bench.sh SET_DIR CONNINFO ADVISOR...
#   SET_DIR   a folder with schema.sql, baseline-indexes.sql, expert.sql and workload/ (calls.tsv + one pgbench script per query),
#             and optionally reset.sql (run before the baseline indexes are restored)
#   CONNINFO  libpq connection string of a database on a server with pg_stat_statements preloaded and hypopg installed
#   ADVISOR   expert                  the folder's expert.sql
#             optischema=BINARY       runs `BINARY advise --dsn CONNINFO --pg-stat-statements --format json` and applies actions[].ddl
#             NAME:cmd=SHELL          any command that prints one DDL statement per line (CONNINFO is in $CONNINFO)
# Env: RELOAD=1 reloads schema.sql even when the schema exists; REPEAT=n passes after each advisor's DDL.
# Prints per advisor: total workload time, speedup over the baseline, and the DDL it applied; the last line is a summary.
set -euo pipefail
set_dir=$(cd "$1" && pwd); export CONNINFO=$2; shift 2
schema=$(sed -n 's/^CREATE SCHEMA \([a-z_]*\);$/\1/p' "$set_dir/schema.sql" | head -1)
sql() { psql -X -q -v ON_ERROR_STOP=1 "$CONNINFO" "$@"; }
log() { printf '%s\n' "$*" >&2; }

if [[ ${RELOAD:-0} == 1 ]] || [[ $(sql -At -c "select count(*) from pg_namespace where nspname = '$schema'") == 0 ]]; then
  log "loading $set_dir/schema.sql ..."; sql -f "$set_dir/schema.sql" >/dev/null
fi
sql -c "create extension if not exists pg_stat_statements; create extension if not exists hypopg" >/dev/null

reset_indexes() {  # back to the baseline secondary indexes (and the set's own reset.sql, where it has one)
  [[ -f $set_dir/reset.sql ]] && sql -f "$set_dir/reset.sql" >/dev/null 2>&1
  sql -At -c "select format('DROP INDEX %s;', i.indexrelid::regclass) from pg_index i join pg_class c on c.oid = i.indrelid
              join pg_namespace n on n.oid = c.relnamespace
              where n.nspname = '$schema' and not i.indisprimary and not i.indisunique" | sql -f - >/dev/null
  sql -f "$set_dir/baseline-indexes.sql" >/dev/null
  settle
}
settle() {  # statistics fresh, and the writes of index builds flushed before anything is timed
  sql -c "vacuum analyze" >/dev/null 2>&1; sql -c "checkpoint" >/dev/null 2>&1 || true
}
workload() {  # runs every query its number of calls (the median of $1 passes, default 1); prints the total in ms
  local total=0 q calls lat passes=${1:-1} i one all
  while IFS=$'\t' read -r q calls _; do
    [[ -z $q || $q == \#* ]] && continue
    all=()
    for ((i = 0; i < passes; i++)); do
      one=$(pgbench -n -M prepared -c 1 -t "$calls" -f "$set_dir/workload/$q.sql" "$CONNINFO" 2>&1 | sed -n 's/^latency average = \([0-9.]*\) ms$/\1/p')
      [[ -n $one ]] || { log "pgbench failed on $q"; exit 1; }
      all+=("$one")
    done
    lat=$(printf '%s\n' "${all[@]}" | sort -g | awk '{v[NR]=$1} END{print v[int((NR+1)/2)]}')
    log "  $(printf '%-36s calls=%-5s avg_ms=%s' "$q" "$calls" "$lat")$( ((passes > 1)) && echo "  (passes: ${all[*]})")"
    total=$(awk -v t="$total" -v l="$lat" -v c="$calls" 'BEGIN{printf "%.1f", t + l * c}')
  done < "$set_dir/workload/calls.tsv"
  echo "$total"
}
fresh_stats() { sql -c "select pg_stat_statements_reset()" >/dev/null; sql -c "select pg_stat_reset()" >/dev/null; }

reset_indexes; fresh_stats
log "baseline:"; base=$(workload)
echo "baseline total_ms=$base"
summary="baseline=${base}ms"
first=1
for adv in "$@"; do
  if [[ $first == 0 ]]; then reset_indexes; fresh_stats; log "baseline again (fills the statistics the advisor reads):"; workload >/dev/null; fi
  first=0
  ddl=$(mktemp)
  case $adv in
    expert) grep -v '^--' "$set_dir/expert.sql" > "$ddl" ;;
    optischema=*) "${adv#optischema=}" advise --dsn "$CONNINFO" --pg-stat-statements --format json \
                    | python3 -c 'import json,sys; [print(a["ddl"].rstrip(";") + ";") for a in json.load(sys.stdin)["actions"]]' > "$ddl" ;;
    *:cmd=*) bash -c "${adv#*:cmd=}" > "$ddl" ;;
    *) log "unknown advisor $adv"; exit 2 ;;
  esac
  name=${adv%%=*}; name=${name%%:*}
  log "$name applies:"; sed 's/^/    /' "$ddl" >&2
  # one by one (CONCURRENTLY cannot run in a transaction block); a statement that fails is reported and counted
  failed=0
  while IFS= read -r stmt; do
    [[ -n ${stmt// } ]] || continue
    sql -c "$stmt" >/dev/null 2>&1 || { log "    failed: $stmt"; failed=$((failed + 1)); }
  done < "$ddl"
  settle; fresh_stats
  log "$name:"; t=$(workload "${REPEAT:-3}")
  s=$(awk -v a="$base" -v b="$t" 'BEGIN{printf "%.2f", a / b}')
  echo "$name total_ms=$t speedup=$s ddl=$(grep -c '[^[:space:]]' "$ddl" || true) failed=$failed"
  summary="$summary $name=${s}x"
done
reset_indexes
echo "$summary"
