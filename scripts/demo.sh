#!/usr/bin/env bash
# The OptiSchema demo: a throwaway PostgreSQL 15 (+ NATS) with a generated DVD-rental database and a
# background pgbench workload that has deliberate performance problems (see demo/README.md).
#
#   scripts/demo.sh up       start (or reuse) .demo/harness, load demo/schema.sql once, start the workload;
#                            the last stdout line is the demo database's connection string
#   scripts/demo.sh down     stop the workload and the servers, delete .demo (idempotent)
#   scripts/demo.sh dsn      print the connection string (host=127.0.0.1 port=... user=postgres dbname=demo)
#   scripts/demo.sh sandbox-dsn  print the sandbox server's connection string (a second throwaway cluster
#                            where the engine proves advice on a copy of the demo database)
#   scripts/demo.sh env      print the harness env lines (PGPORT=..., OPTISCHEMA_NATS_URL=..., ...)
#   scripts/demo.sh status   what is running, and the workload's top statements
#
# Env: DEMO_SCALE  data size (default 1: ~500k rentals + ~495k payments; 0.1 for tests)
#      DEMO_RATE   workload transactions per second (default 20)   DEMO_CLIENTS  pgbench clients (default 2)
#      DEMO_RELOAD=1  reload the data even if it is already loaded
#      DEMO_NO_WORKLOAD=1  load the data but do not start the workload
# Messages go to stderr; stdout carries only the connection string (and `env`/`status` output).
set -euo pipefail

ROOT=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)
SELF=$ROOT/scripts/demo.sh
HARNESS=$ROOT/scripts/harness.sh
STATE=$ROOT/.demo
HDIR=$STATE/harness
SDIR=$STATE/sandbox
WL_PID=$STATE/workload.pid
WL_LOG=$STATE/workload.log
SCALE=${DEMO_SCALE:-1}
RATE=${DEMO_RATE:-20}
CLIENTS=${DEMO_CLIENTS:-2}
DB=demo

log() { printf 'demo: %s\n' "$*" >&2; }
die() { printf 'demo: error: %s\n' "$*" >&2; exit 1; }

env_get() { sed -n "s/^$1=//p" "$HDIR/env" 2>/dev/null | tail -1; }
pgbin() { local b; b=$(env_get PGBIN); echo "${b:-/usr/lib/postgresql/15/bin}"; }
port() { env_get PGPORT; }
pg_data_dir() { local d; d=$(env_get OPTISCHEMA_PG_DATA); echo "${d:-$HDIR/pg}"; }   # DIR/pg, or in /tmp (harness.sh)
dsn() { echo "host=127.0.0.1 port=$(port) user=postgres dbname=$DB"; }
psql_db() {  # psql_db DB ARGS...
  local db=$1; shift
  PGOPTIONS="-c client_min_messages=warning" "$(pgbin)/psql" -X -v ON_ERROR_STOP=1 -q -h 127.0.0.1 -p "$(port)" -U postgres -d "$db" "$@"
}
pg_answers() { [[ -f $HDIR/env ]] && "$(pgbin)/pg_isready" -q -h 127.0.0.1 -p "$(port)" -t 3 2>/dev/null; }
secs_since() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN{printf "%.1f", b - a}'; }

workload_running() {  # the supervisor's PID, if it is alive
  local pid
  [[ -f $WL_PID ]] || return 1
  pid=$(head -n 1 "$WL_PID" 2>/dev/null) || return 1
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q -- "demo.sh __workload" || return 1
  echo "$pid"
}

# ---------------------------------------------------------------- servers
ensure_servers() {
  mkdir -p "$STATE"
  [[ $(id -u) -ne 0 ]] || chmod 755 "$STATE"       # lets user postgres keep the data in .demo when it can reach it
  if pg_answers; then
    log "reusing the running harness ($HDIR, port $(port))"
  elif [[ -f $HDIR/env && -d $(pg_data_dir) ]]; then
    log "harness in $HDIR is not answering; restarting it on port $(port)"
    if ! "$HARNESS" pg-start "$HDIR"; then
      log "restart failed; starting a fresh harness"
      "$HARNESS" down "$HDIR"
      "$HARNESS" up "$HDIR" >/dev/null
    fi
  else
    [[ ! -e $HDIR ]] || "$HARNESS" down "$HDIR"      # a half-made directory from an interrupted run
    "$HARNESS" up "$HDIR" >/dev/null
  fi
  # NATS is for the engine; bring it back if it went away (best effort)
  local url; url=$(env_get OPTISCHEMA_NATS_URL)
  if [[ -n $url && -f $HDIR/nats/nats.pid ]]; then
    local npid; npid=$(head -n 1 "$HDIR/nats/nats.pid" 2>/dev/null || true)
    if ! [[ -n $npid && -r /proc/$npid/comm && $(cat "/proc/$npid/comm" 2>/dev/null) == nats-server ]]; then
      "$HARNESS" nats-start "$HDIR" || log "warning: nats-server did not restart"
    fi
  fi
}

# The sandbox: a second cluster, so proving advice never loads the demo's server.
sandbox_port() { sed -n 's/^PGPORT=//p' "$SDIR/env" 2>/dev/null | tail -1; }
# The engine connects as an unprivileged role with CREATEDB: the functions and triggers it copies
# from the target run as that role there, never as a superuser (the engine refuses one).
SANDBOX_ROLE=optischema_sandbox
sandbox_dsn() { echo "host=127.0.0.1 port=$(sandbox_port) user=$SANDBOX_ROLE dbname=postgres"; }
sandbox_role() {
  "$HARNESS" psql "$SDIR" -q -c "DO \$\$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$SANDBOX_ROLE')
    THEN CREATE ROLE $SANDBOX_ROLE LOGIN CREATEDB; END IF; END \$\$" >/dev/null
}
ensure_sandbox() {
  if [[ -f $SDIR/env ]] && "$(pgbin)/pg_isready" -q -h 127.0.0.1 -p "$(sandbox_port)" -t 3 2>/dev/null; then
    log "reusing the sandbox cluster (port $(sandbox_port))"
    sandbox_role
    return 0
  fi
  [[ ! -e $SDIR ]] || "$HARNESS" down "$SDIR"
  "$HARNESS" up "$SDIR" --no-nats >/dev/null
  sandbox_role
  log "sandbox cluster on port $(sandbox_port), role $SANDBOX_ROLE (CREATEDB, no superuser)"
}

# ---------------------------------------------------------------- data
meta() { psql_db "$DB" -Atc "SELECT value FROM demo_meta WHERE key = '$1'" 2>/dev/null || true; }

loaded_scale() {  # prints the loaded scale, or nothing
  [[ $(psql_db "$DB" -Atc "SELECT to_regclass('public.demo_meta') IS NOT NULL" 2>/dev/null) == t ]] || return 0
  [[ $(meta loaded) == true ]] && meta scale
  return 0
}

ensure_data() {
  [[ $SCALE =~ ^[0-9]*\.?[0-9]+$ ]] || die "DEMO_SCALE must be a positive number, got '$SCALE'"
  if [[ $(psql_db postgres -Atc "SELECT 1 FROM pg_database WHERE datname = '$DB'") != 1 ]]; then
    psql_db postgres -c "CREATE DATABASE $DB"
  fi
  # serial plans: a parallel seq scan costs ~3x the CPU, and the demo shares the machine (and timings get steadier)
  psql_db "$DB" -c "ALTER DATABASE $DB SET timezone TO 'UTC'" -c "ALTER DATABASE $DB SET max_parallel_workers_per_gather = 0" \
    -c "CREATE EXTENSION IF NOT EXISTS pg_stat_statements" -c "CREATE EXTENSION IF NOT EXISTS hypopg"
  local have; have=$(loaded_scale)
  if [[ -n $have && ${DEMO_RELOAD:-0} != 1 ]]; then
    if [[ -n ${DEMO_SCALE:-} && $have != "$SCALE" ]]; then
      log "data already loaded at scale $have (DEMO_SCALE=$SCALE ignored; DEMO_RELOAD=1 or 'demo.sh down' to change)"
    else
      log "data already loaded (scale $have)"
    fi
    return 0
  fi
  if workload_running >/dev/null; then stop_workload; fi
  log "loading demo/schema.sql at scale $SCALE ..."
  local t0=$EPOCHREALTIME
  psql_db "$DB" -v scale="$SCALE" -f "$ROOT/demo/schema.sql" >&2
  # start the workload's statistics from zero: no load-time scans, no load statements in pg_stat_statements
  # (ANALYZE after pg_stat_reset() restores n_live_tup)
  psql_db "$DB" -c "SELECT pg_stat_reset()" -c "ANALYZE" -c "SELECT pg_stat_statements_reset()" >/dev/null
  log "loaded in $(secs_since "$t0") s"
}

# ---------------------------------------------------------------- workload
pgbench_args() {  # the pgbench command line (without -T), one argument per line
  local v name w
  printf '%s\n' "$(pgbin)/pgbench" -n -M prepared -c "$CLIENTS" -j 1 -R "$RATE" -P 60 \
    -h 127.0.0.1 -p "$(port)" -U postgres
  for v in n_film n_customer n_inventory n_store n_staff n_rental; do
    printf '%s\n' -D "$v=$(meta "$v")"
  done
  while read -r name w _; do
    [[ -z $name || $name == \#* ]] && continue
    [[ -f $ROOT/demo/workload/$name ]] || die "demo/workload/weights.txt names a missing file: $name"
    printf '%s\n' -f "$ROOT/demo/workload/$name@$w"
  done <"$ROOT/demo/workload/weights.txt"
  echo "$DB"
}

# internal: runs pgbench in a loop (it exits when the server restarts, or after -T), until killed
cmd_workload_loop() {
  local -a args
  local child=""
  mapfile -t args <"$STATE/workload.args"
  echo $$ >"$WL_PID"
  trap '[[ -n $child ]] && kill -TERM "$child" 2>/dev/null; exit 0' TERM INT HUP
  while [[ -f $WL_PID ]]; do
    echo "--- $(date -u '+%F %T') pgbench start" >>"$WL_LOG"
    "${args[0]}" -T 86400 "${args[@]:1}" >>"$WL_LOG" 2>&1 &
    child=$!
    wait "$child" || true
    echo "--- $(date -u '+%F %T') pgbench exited; restarting in 3 s" >>"$WL_LOG"
    sleep 3 & wait $! || true
  done
}

start_workload() {
  local pid
  if pid=$(workload_running); then log "workload already running (pid $pid)"; return 0; fi
  pgbench_args >"$STATE/workload.args"
  : >"$WL_LOG"
  echo "starting" >"$WL_PID"
  setsid nohup "$SELF" __workload </dev/null >/dev/null 2>&1 &   # it writes its own PID to $WL_PID
  # pgbench checks its scripts and connects at once; make sure it got going
  local i
  for ((i = 0; i < 10; i++)); do
    sleep 0.1
    grep -q 'pgbench exited' "$WL_LOG" 2>/dev/null && break
  done
  if grep -q 'pgbench exited' "$WL_LOG" || ! workload_running >/dev/null; then
    log "the workload failed to start:"; tail -n 20 "$WL_LOG" | sed 's/^/    /' >&2
    stop_workload; exit 1
  fi
  log "workload running: pgbench -c $CLIENTS -R $RATE tx/s, $(grep -c '^-f$' "$STATE/workload.args") scripts (log: ${WL_LOG#"$ROOT"/}, pid $(head -n 1 "$WL_PID"))"
}

group_alive() {  # does process group $1 still have a live (non-zombie) member?
  local p
  for p in $(pgrep -g "$1" 2>/dev/null); do
    [[ $(sed -n 's/.*) \(.\) .*/\1/p' "/proc/$p/stat" 2>/dev/null) =~ ^[^ZX]$ ]] && return 0
  done
  return 1
}

stop_workload() {  # kills the supervisor's process group (it is a session leader: pgid == pid)
  local pid i
  if pid=$(workload_running); then
    rm -f "$WL_PID"
    kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 50; i++)); do
      group_alive "$pid" || break
      sleep 0.1
    done
    kill -KILL -- "-$pid" 2>/dev/null || true
    log "workload stopped"
  fi
  rm -f "$WL_PID"
}

# ---------------------------------------------------------------- commands
cmd_up() {
  local t0=$EPOCHREALTIME
  ensure_servers
  ensure_sandbox
  ensure_data
  if [[ ${DEMO_NO_WORKLOAD:-0} == 1 ]]; then log "DEMO_NO_WORKLOAD=1: no workload started"; else start_workload; fi
  log "ready in $(secs_since "$t0") s; NATS: $(env_get OPTISCHEMA_NATS_URL); stop with scripts/demo.sh down"
  dsn
}

cmd_down() {
  stop_workload
  [[ -e $HDIR ]] && "$HARNESS" down "$HDIR"
  [[ -e $SDIR ]] && "$HARNESS" down "$SDIR"
  rm -f "$STATE/workload.args" "$WL_LOG"
  rmdir "$STATE" 2>/dev/null || true
  log "down"
}

cmd_status() {
  [[ -f $HDIR/env ]] || { echo "demo: not running"; return 1; }
  "$HARNESS" status "$HDIR" || true
  local pid
  if pid=$(workload_running); then echo "workload: running (pid $pid)"; else echo "workload: not running"; fi
  pg_answers || return 1
  echo "dsn: $(dsn)"
  psql_db "$DB" -P pager=off -c "SELECT calls, round(mean_exec_time::numeric, 2) AS mean_ms,
      round(total_exec_time::numeric) AS total_ms, left(regexp_replace(query, '\s+', ' ', 'g'), 90) AS query
    FROM pg_stat_statements JOIN pg_database d ON d.oid = dbid
    WHERE d.datname = '$DB' ORDER BY total_exec_time DESC LIMIT 15"
}

case ${1:-} in
  up) cmd_up ;;
  down) cmd_down ;;
  dsn) pg_answers || die "the demo is not running (scripts/demo.sh up)"; dsn ;;
  sandbox-dsn) [[ -f $SDIR/env ]] || die "the demo is not running (scripts/demo.sh up)"; sandbox_dsn ;;
  env) [[ -f $HDIR/env ]] || die "the demo is not running (scripts/demo.sh up)"; cat "$HDIR/env" ;;
  status) cmd_status ;;
  __workload) cmd_workload_loop ;;
  *) sed -n '2,/^set -euo/p' "$SELF" | grep '^#' | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
esac
