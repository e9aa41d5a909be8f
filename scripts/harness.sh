#!/usr/bin/env bash
# Throwaway PostgreSQL 15 (+ pg_stat_statements, hypopg, pg_qualstats when installed) and NATS (JetStream) on free loopback ports.
# Used by the C++ tests (through popen), scripts/demo.sh and the benchmarks.
#
#   harness.sh up DIR [--no-nats] [--no-preload] [--owner PID]
#       DIR must not exist or be empty. Prints KEY=VALUE lines (also written to DIR/env):
#       PGHOST PGPORT PGUSER PGDATABASE OPTISCHEMA_HARNESS_DIR OPTISCHEMA_NATS_URL PGBIN OPTISCHEMA_PG_DATA
#       --owner PID: a detached watchdog runs `harness.sh down DIR` once PID has exited.
#   harness.sh down DIR          stop everything (PostgreSQL: immediate) and delete DIR (idempotent)
#   harness.sh pg-stop DIR       stop PostgreSQL (fast shutdown; keeps data, port, DIR and pg_stat_statements)
#   harness.sh pg-start DIR      start it again on the same port
#   harness.sh nats-stop DIR     stop nats-server
#   harness.sh nats-start DIR    start it again on the same port (JetStream store kept)
#   harness.sh psql DIR [ARGS]   psql -X -v ON_ERROR_STOP=1 against the cluster (database postgres unless ARGS say)
#   harness.sh env DIR           print DIR/env
#   harness.sh status DIR        print what is running (exit 1 if PostgreSQL does not answer)
#
# Works as root (PostgreSQL runs as user postgres through runuser) and as an ordinary user. When user
# postgres cannot enter DIR (a checkout under /root, any `mktemp -d`), PostgreSQL's data and socket go to
# a private /tmp/osh-pg.XXXXXX owned by postgres instead (OPTISCHEMA_PG_DATA in DIR/env), which `down` -
# by hand or by the watchdog - removes with DIR. Progress and errors go to stderr; only the env lines go
# to stdout.
# Env: PGBIN (default /usr/lib/postgresql/15/bin), NATS_SERVER (default: nats-server on PATH or /usr/sbin).
set -euo pipefail

PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
SELF=$(readlink -f "${BASH_SOURCE[0]}")
MARKER=.optischema-harness       # a file in DIR; `down` deletes only directories that carry it
PG_START_TIMEOUT=30
PG_HOME_FILE=pg-home             # a file in DIR naming PostgreSQL's directory when it is not DIR itself
PG_HOME_PATTERN='^/tmp/osh-pg\.[A-Za-z0-9]+$'   # the only such directories `down` deletes

log() { printf 'harness: %s\n' "$*" >&2; }
die() { printf 'harness: error: %s\n' "$*" >&2; exit 1; }
usage() { sed -n '2,/^set -euo/p' "$SELF" | grep '^#' | sed 's/^# \{0,1\}//' >&2; exit 2; }

is_root() { [[ $(id -u) -eq 0 ]]; }

# Runs a command as the user that owns the cluster (postgres when we are root), from a directory it can read.
as_pg() {
  if is_root; then (cd / && runuser -u postgres -- "$@"); else (cd / && "$@"); fi
}

abs_dir() {  # absolute path of $1 without requiring it to exist
  local d=$1
  [[ $d == /* ]] || d=$PWD/$d
  readlink -m -- "$d"
}

check_dir_name() {  # the env file is KEY=VALUE without quoting: keep DIR free of characters a shell would split on
  [[ $1 =~ ^[A-Za-z0-9_./+@:,=-]+$ ]] \
    || die "DIR '$1' contains spaces or shell-special characters; use a plain path"
}

# Is PID running (not a zombie: PID 1 may be slow to reap orphans)?
alive() {
  local st
  [[ $1 =~ ^[0-9]+$ ]] || return 1
  st=$(sed -n 's/.*) \(.\) .*/\1/p' "/proc/$1/stat" 2>/dev/null) || return 1
  [[ -n $st && $st != Z && $st != X ]]
}

# Is PID alive and its command name (/proc/PID/comm) one of the given names?
pid_is() {
  local pid=$1 comm; shift
  alive "$pid" || return 1
  comm=$(cat "/proc/$pid/comm" 2>/dev/null) || return 1
  local n
  for n in "$@"; do [[ $comm == "$n" ]] && return 0; done
  return 1
}

wait_gone() {  # wait_gone PID SECONDS -> 0 when the process is gone
  local pid=$1 tenths=$(($2 * 10)) i
  for ((i = 0; i < tenths; i++)); do
    alive "$pid" || return 0
    sleep 0.1
  done
  ! alive "$pid"
}

# ---------------------------------------------------------------- ports
port_range() {  # below the kernel's ephemeral range, so outgoing connections never hold our port
  local lo=15000 hi=32767 eph
  if read -r eph _ </proc/sys/net/ipv4/ip_local_port_range 2>/dev/null && ((eph > lo + 2000)); then hi=$((eph - 1)); fi
  echo "$lo $hi"
}

ports_in_use() {  # every local TCP port in any state (IPv4 and IPv6), one per line
  local f sl local_addr _rest
  for f in /proc/net/tcp /proc/net/tcp6; do
    [[ -r $f ]] || continue
    while read -r sl local_addr _rest; do
      [[ $sl == sl ]] && continue
      echo $((16#${local_addr##*:}))
    done <"$f"
  done
}

free_port() {
  local lo hi used p i
  read -r lo hi < <(port_range)
  used=" $(ports_in_use | sort -un | tr '\n' ' ') "
  for ((i = 0; i < 200; i++)); do
    p=$((lo + (${SRANDOM:-$((RANDOM * 32768 + RANDOM))} % (hi - lo + 1))))
    [[ $used == *" $p "* ]] && continue
    echo "$p"; return 0
  done
  die "could not find a free TCP port in $lo-$hi"
}

# ---------------------------------------------------------------- PostgreSQL
# Where PostgreSQL keeps the data of DIR: DIR/pg, or /tmp/osh-pg.XXXXXX/pg when postgres cannot enter DIR.
pg_home() {
  local home
  if [[ -f $1/$PG_HOME_FILE ]]; then
    home=$(head -n 1 "$1/$PG_HOME_FILE")
    [[ $home =~ $PG_HOME_PATTERN ]] && { echo "$home"; return; }
  fi
  echo "$1"
}
pg_data() { echo "$(pg_home "$1")/pg"; }

# Can user postgres reach (traverse into) directory $1, or the nearest of its parents that exists?
postgres_can_enter() {
  local d=$1
  while [[ ! -e $d && $d != / ]]; do d=$(dirname "$d"); done
  as_pg test -x "$d" 2>/dev/null
}

pg_pid() {  # PID of the running postmaster of DIR, or nothing
  local pidfile pid
  pidfile=$(pg_data "$1")/postmaster.pid
  [[ -f $pidfile ]] || return 0
  pid=$(head -n 1 "$pidfile" 2>/dev/null) || return 0
  if pid_is "$pid" postgres postmaster; then echo "$pid"; fi
}

conf_port() { sed -n 's/^port = \([0-9]*\).*/\1/p' "$(pg_data "$1")/postgresql.conf" | tail -1; }

pg_log_tail() {
  local logf
  logf=$(pg_data "$1")/server.log
  if [[ -s $logf ]]; then
    log "last lines of $logf:"
    tail -n 25 "$logf" | sed 's/^/    /' >&2
  fi
}

# Starts the postmaster of an initialised DIR/pg. Returns 2 when the port was taken (caller may retry).
pg_start_once() {
  local dir=$1 data out rc=0
  data=$(pg_data "$dir")
  out=$(as_pg "$PGBIN/pg_ctl" -D "$data" -l "$data/server.log" -w -t "$PG_START_TIMEOUT" -s start 2>&1) || rc=$?
  ((rc == 0)) && return 0
  if grep -qE 'could not bind IPv4 address|Address already in use|could not create any TCP/IP sockets' "$data/server.log" 2>/dev/null \
    && [[ -z $(pg_pid "$dir") ]]; then
    return 2
  fi
  [[ -n $out ]] && printf '%s\n' "$out" | sed 's/^/    /' >&2
  return 1
}

pg_stop() {  # pg_stop DIR MODE  (MODE: fast|immediate); never fails
  local dir=$1 mode=$2 pid
  pid=$(pg_pid "$dir")
  [[ -n $pid ]] || return 0
  as_pg "$PGBIN/pg_ctl" -D "$(pg_data "$dir")" -m "$mode" -w -t 15 -s stop >/dev/null 2>&1 || true
  if ! wait_gone "$pid" 2; then
    log "postmaster $pid still running; sending SIGQUIT"
    kill -QUIT "$pid" 2>/dev/null || true
    if ! wait_gone "$pid" 10; then
      log "postmaster $pid ignores SIGQUIT; sending SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
      wait_gone "$pid" 5 || log "postmaster $pid did not exit"
    fi
  fi
}

sock_dir_for() {  # unix sockets: DIR itself, or a short directory when DIR is too long for sun_path (~107 bytes)
  local dir=$1
  if (( ${#dir} + 20 <= 100 )); then echo "$dir"; return; fi   # 20 = length of "/.s.PGSQL.65535.lock"
  mktemp -d /tmp/osh-sock.XXXXXX
}

# ---------------------------------------------------------------- NATS
nats_bin() {
  if [[ -n ${NATS_SERVER:-} ]]; then echo "$NATS_SERVER"; return; fi
  command -v nats-server 2>/dev/null || { [[ -x /usr/sbin/nats-server ]] && echo /usr/sbin/nats-server; } || true
}

nats_pid() {
  local pid
  [[ -f $1/nats/nats.pid ]] || return 0
  pid=$(head -n 1 "$1/nats/nats.pid" 2>/dev/null) || return 0
  if pid_is "$pid" nats-server; then echo "$pid"; fi
}

# nats_launch DIR PORTARG -> starts nats-server in the background (own session, no inherited stdio)
nats_launch() {
  local dir=$1 portarg=$2 bin
  bin=$(nats_bin)
  [[ -n $bin ]] || die "nats-server not found (install the nats-server package, or pass --no-nats)"
  mkdir -p "$dir/nats/js"
  rm -f "$dir/nats"/nats-server_*.ports "$dir/nats/nats.pid"
  setsid "$bin" -a 127.0.0.1 -p "$portarg" --ports_file_dir "$dir/nats" -js -sd "$dir/nats/js" \
    -l "$dir/nats/nats.log" -P "$dir/nats/nats.pid" </dev/null >>"$dir/nats/stdout.log" 2>&1 &
  echo $! >"$dir/nats/launch.pid"
}

# nats_wait DIR -> prints the URL once nats-server has written its ports file
nats_wait() {
  local dir=$1 i f url lpid
  lpid=$(head -n 1 "$dir/nats/launch.pid")
  for ((i = 0; i < 100; i++)); do
    for f in "$dir/nats"/nats-server_*.ports; do
      [[ -s $f ]] || continue
      url=$(grep -o 'nats://[0-9.]*:[0-9]*' "$f" | head -1)
      if [[ -n $url ]]; then
        [[ -s $dir/nats/nats.pid ]] || { f=${f##*_}; echo "${f%.ports}" >"$dir/nats/nats.pid"; }
        echo "$url"; return 0
      fi
    done
    alive "$lpid" || break
    sleep 0.05
  done
  log "nats-server did not start"
  [[ -s $dir/nats/nats.log ]] && tail -n 15 "$dir/nats/nats.log" | sed 's/^/    /' >&2
  [[ -s $dir/nats/stdout.log ]] && tail -n 15 "$dir/nats/stdout.log" | sed 's/^/    /' >&2
  return 1
}

nats_stop() {  # never fails
  local dir=$1 pid
  pid=$(nats_pid "$dir")
  [[ -n $pid ]] || return 0
  kill -TERM "$pid" 2>/dev/null || true
  if ! wait_gone "$pid" 5; then kill -KILL "$pid" 2>/dev/null || true; wait_gone "$pid" 3 || true; fi
}

# ---------------------------------------------------------------- watchdog
watchdog_stop() {
  local dir=$1 pid
  [[ -f $dir/watchdog.pid ]] || return 0
  pid=$(head -n 1 "$dir/watchdog.pid" 2>/dev/null) || return 0
  [[ $pid =~ ^[0-9]+$ ]] || return 0
  [[ $pid == "$$" ]] && return 0                       # we are the watchdog running `down`
  if tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q -- "__watchdog $dir "; then
    kill -TERM "$pid" 2>/dev/null || true
    wait_gone "$pid" 2 || true
  fi
}

cmd_watchdog() {  # internal: __watchdog DIR PID
  local dir=$1 owner=$2
  echo $$ >"$dir/watchdog.pid"
  trap 'exit 0' TERM
  while alive "$owner" && [[ -f $dir/$MARKER ]]; do sleep 1 & wait $! || true; done
  [[ -f $dir/$MARKER ]] || exit 0
  exec "$SELF" down "$dir"
}

# ---------------------------------------------------------------- env
write_env() {
  local dir=$1 port=$2 nats_url=$3
  cat >"$dir/env" <<EOF
PGHOST=127.0.0.1
PGPORT=$port
PGUSER=postgres
PGDATABASE=postgres
OPTISCHEMA_HARNESS_DIR=$dir
OPTISCHEMA_NATS_URL=$nats_url
PGBIN=$PGBIN
OPTISCHEMA_PG_DATA=$(pg_data "$dir")
EOF
}

env_get() {  # env_get DIR KEY
  sed -n "s/^$2=//p" "$1/env" 2>/dev/null | tail -1
}

require_harness() {
  [[ -f $1/$MARKER && -f $1/env ]] || die "$1 is not a running harness directory (no $MARKER/env; run 'harness.sh up $1')"
}

# ---------------------------------------------------------------- commands
# EXIT trap of a failing `up`: stop what was started, delete what was made, show the server log
up_failed() {
  local rc=$?
  trap - EXIT
  ((rc)) || rc=1
  log "up failed; cleaning up"
  pg_log_tail "$UP_DIR"
  nats_stop "$UP_DIR"
  pg_stop "$UP_DIR" immediate
  [[ -n $UP_SOCKDIR && $UP_SOCKDIR != "$UP_DIR" && $UP_SOCKDIR != "$UP_PGHOME" ]] && rm -rf "$UP_SOCKDIR"
  [[ -n $UP_PGHOME && $UP_PGHOME != "$UP_DIR" ]] && rm -rf "$UP_PGHOME"
  if ((UP_CREATED)); then rm -rf "$UP_DIR"; else find "$UP_DIR" -mindepth 1 -delete 2>/dev/null || true; fi
  exit "$rc"
}

cmd_up() {
  local dir="" nats=1 preload=1 owner=""
  while (($#)); do
    case $1 in
      --no-nats) nats=0 ;;
      --no-preload) preload=0 ;;
      --owner) [[ $# -ge 2 ]] || die "--owner needs a PID"; owner=$2; shift ;;
      --owner=*) owner=${1#--owner=} ;;
      -*) die "unknown option $1" ;;
      *) [[ -z $dir ]] || die "more than one DIR given"; dir=$1 ;;
    esac
    shift
  done
  [[ -n $dir ]] || usage
  if [[ -n $owner ]]; then
    [[ $owner =~ ^[0-9]+$ ]] || die "--owner needs a numeric PID, got '$owner'"
    alive "$owner" || die "--owner $owner: no such process"
  fi
  dir=$(abs_dir "$dir"); check_dir_name "$dir"
  [[ -x $PGBIN/initdb && -x $PGBIN/pg_ctl ]] || die "PostgreSQL 15 binaries not found in $PGBIN (install postgresql-15, or set PGBIN)"
  if is_root; then id postgres >/dev/null 2>&1 || die "running as root needs the OS user 'postgres' (package postgresql-15)"; fi
  [[ ! -e $dir || -d $dir ]] || die "$dir exists and is not a directory"
  [[ ! -d $dir || -z $(ls -A "$dir") ]] || die "$dir is not empty (a running harness? use 'harness.sh down $dir' first)"
  # PostgreSQL runs as user postgres when we are root: its data must be where that user can reach. A
  # checkout under /root or in a `mktemp -d` is not, so the cluster lives in a private /tmp directory.
  local pghome=$dir
  if is_root && ! postgres_can_enter "$dir"; then
    postgres_can_enter /tmp \
      || die "user postgres can enter neither $dir nor /tmp: make the parents of $dir traversable (chmod o+x) or use another DIR"
    pghome=$(mktemp -d /tmp/osh-pg.XXXXXX) || die "cannot create a directory in /tmp for PostgreSQL's data"
    chown postgres: "$pghome"
    log "user postgres cannot enter $dir: PostgreSQL's data goes to $pghome ('harness.sh down $dir' removes it)"
  fi

  UP_DIR=$dir UP_CREATED=0 UP_SOCKDIR="" UP_PGHOME=$pghome
  if [[ ! -e $dir ]]; then
    mkdir -p "$dir"; UP_CREATED=1
  fi
  : >"$dir/$MARKER"
  [[ $pghome == "$dir" ]] || echo "$pghome" >"$dir/$PG_HOME_FILE"
  trap up_failed EXIT
  trap 'exit 130' INT TERM HUP

  local t0=$EPOCHREALTIME sockdir port nats_url=""
  if is_root && [[ $pghome == "$dir" ]]; then
    chown postgres: "$dir"
    chmod 755 "$dir"
    as_pg test -w "$dir" || { log "user postgres cannot write $dir"; false; }
  fi

  # NATS first, in the background: it is ready long before PostgreSQL
  if ((nats)); then nats_launch "$dir" -1; fi

  local data; data=$(pg_data "$dir")
  as_pg "$PGBIN/initdb" -D "$data" -A trust -U postgres -E UTF8 --locale=C --no-sync >"$dir/initdb.log" 2>&1 \
    || { log "initdb failed:"; sed 's/^/    /' "$dir/initdb.log" >&2; false; }

  sockdir=$(sock_dir_for "$pghome"); UP_SOCKDIR=$sockdir
  if [[ $sockdir != "$pghome" ]]; then
    echo "$sockdir" >"$dir/sockdir"
    is_root && chown postgres: "$sockdir"
  fi
  local preload_line="#shared_preload_libraries = ''   # --no-preload"
  ((preload)) && preload_line="shared_preload_libraries = 'pg_stat_statements'"
  # pg_qualstats (the constants each predicate is run with) when installed; every
  # execution sampled, so what the advisor reads does not depend on chance.
  if ((preload)) && [[ -f $("$PGBIN/pg_config" --pkglibdir 2>/dev/null || echo /usr/lib/postgresql/15/lib)/pg_qualstats.so ]]; then
    preload_line="shared_preload_libraries = 'pg_stat_statements, pg_qualstats'
pg_qualstats.sample_rate = 1"
  fi
  port=${OPTISCHEMA_HARNESS_TRY_PORT:-$(free_port)}   # the variable is for testing the retry path
  as_pg tee -a "$data/postgresql.conf" >/dev/null <<EOF

# ---- optischema harness ----
listen_addresses = '127.0.0.1'
unix_socket_directories = '$sockdir'
$preload_line
pg_stat_statements.max = 10000
pg_stat_statements.track = all
compute_query_id = on
track_io_timing = on
fsync = off
synchronous_commit = off
full_page_writes = off
max_connections = 100
shared_buffers = 128MB
logging_collector = off
port = $port
EOF

  local attempt rc
  for attempt in 1 2 3 4 5 6; do
    rc=0; pg_start_once "$dir" || rc=$?
    ((rc == 0)) && break
    if ((rc == 2 && attempt < 6)); then
      port=$(free_port)
      log "port taken, retrying on $port"
      as_pg sed -i "s/^port = [0-9]*$/port = $port/" "$data/postgresql.conf"
      as_pg truncate -s 0 "$data/server.log"
      continue
    fi
    log "PostgreSQL did not start"; false
  done

  local exts="CREATE EXTENSION IF NOT EXISTS hypopg;"
  ((preload)) && exts="CREATE EXTENSION IF NOT EXISTS pg_stat_statements; $exts"
  "$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$port" -U postgres -d postgres -c "$exts" >/dev/null

  if ((nats)); then nats_url=$(nats_wait "$dir"); fi
  [[ -z $nats_url ]] || echo "${nats_url##*:}" >"$dir/nats/port"

  write_env "$dir" "$port" "$nats_url"
  trap - EXIT INT TERM HUP

  if [[ -n $owner ]]; then
    setsid nohup "$SELF" __watchdog "$dir" "$owner" </dev/null >/dev/null 2>&1 &
    echo $! >"$dir/watchdog.pid"
  fi
  log "up in $(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN{printf "%.2f", b - a}') s: postgres 127.0.0.1:$port${nats_url:+, nats $nats_url}${owner:+, watchdog for pid $owner} ($dir)"
  cat "$dir/env"
}

cmd_down() {
  local dir
  [[ $# -eq 1 ]] || usage
  dir=$(abs_dir "$1")
  [[ -e $dir ]] || return 0
  if [[ ! -f $dir/$MARKER ]]; then
    # an empty dir (e.g. a failed up into a caller's mktemp dir) is fine to remove; anything else is not ours
    if [[ -d $dir && -z $(ls -A "$dir") ]]; then rmdir "$dir" 2>/dev/null || true; return 0; fi
    die "refusing to delete $dir: it has no $MARKER (not made by harness.sh up)"
  fi
  watchdog_stop "$dir"
  nats_stop "$dir"
  pg_stop "$dir" immediate
  if [[ -f $dir/sockdir ]]; then
    local s; s=$(head -n 1 "$dir/sockdir")
    [[ $s == /tmp/osh-sock.* ]] && rm -rf "$s"
  fi
  local home; home=$(pg_home "$dir")
  [[ $home == "$dir" ]] || rm -rf "$home"
  rm -rf "$dir" 2>/dev/null || { sleep 0.5; rm -rf "$dir" 2>/dev/null || true; }   # a concurrent `down` may race us
  [[ ! -e $dir ]] || die "could not delete $dir"
  log "down: $dir removed"
}

cmd_pg_stop() {
  [[ $# -eq 1 ]] || usage
  local dir; dir=$(abs_dir "$1"); require_harness "$dir"
  pg_stop "$dir" fast
  log "postgres stopped ($dir)"
}

cmd_pg_start() {
  [[ $# -eq 1 ]] || usage
  local dir port rc=0; dir=$(abs_dir "$1"); require_harness "$dir"
  if [[ -n $(pg_pid "$dir") ]]; then log "postgres already running"; return 0; fi
  port=$(conf_port "$dir")
  pg_start_once "$dir" || rc=$?
  if ((rc == 2)); then pg_log_tail "$dir"; die "port $port is now used by another process; cannot restart on the same port"; fi
  if ((rc != 0)); then pg_log_tail "$dir"; die "postgres did not start"; fi
  log "postgres started on 127.0.0.1:$port"
}

cmd_nats_stop() {
  [[ $# -eq 1 ]] || usage
  local dir; dir=$(abs_dir "$1"); require_harness "$dir"
  nats_stop "$dir"
  log "nats stopped ($dir)"
}

cmd_nats_start() {
  [[ $# -eq 1 ]] || usage
  local dir port url; dir=$(abs_dir "$1"); require_harness "$dir"
  [[ -f $dir/nats/port ]] || die "$dir was started with --no-nats"
  if [[ -n $(nats_pid "$dir") ]]; then log "nats already running"; return 0; fi
  port=$(head -n 1 "$dir/nats/port")
  nats_launch "$dir" "$port"
  url=$(nats_wait "$dir") || die "nats-server did not start on port $port (taken by another process?)"
  log "nats started on $url"
}

cmd_psql() {
  [[ $# -ge 1 ]] || usage
  local dir; dir=$(abs_dir "$1"); shift; require_harness "$dir"
  PGHOST=127.0.0.1 PGPORT=$(env_get "$dir" PGPORT) PGUSER=postgres PGDATABASE=postgres \
    exec "$PGBIN/psql" -X -v ON_ERROR_STOP=1 "$@"
}

cmd_status() {
  [[ $# -eq 1 ]] || usage
  local dir pgp np port; dir=$(abs_dir "$1"); require_harness "$dir"
  pgp=$(pg_pid "$dir"); np=$(nats_pid "$dir"); port=$(env_get "$dir" PGPORT)
  echo "postgres: ${pgp:+pid $pgp, }port $port, $("$PGBIN/pg_isready" -q -h 127.0.0.1 -p "$port" && echo accepting || echo 'not answering')"
  echo "nats: $(env_get "$dir" OPTISCHEMA_NATS_URL) $([[ -n $np ]] && echo "(pid $np)" || echo "(not running)")"
  "$PGBIN/pg_isready" -q -h 127.0.0.1 -p "$port"
}

main() {
  [[ $# -ge 1 ]] || usage
  local cmd=$1; shift
  case $cmd in
    up) cmd_up "$@" ;;
    down) cmd_down "$@" ;;
    pg-stop) cmd_pg_stop "$@" ;;
    pg-start) cmd_pg_start "$@" ;;
    nats-stop) cmd_nats_stop "$@" ;;
    nats-start) cmd_nats_start "$@" ;;
    psql) cmd_psql "$@" ;;
    env) [[ $# -eq 1 ]] || usage; require_harness "$(abs_dir "$1")"; cat "$(abs_dir "$1")/env" ;;
    status) cmd_status "$@" ;;
    __watchdog) cmd_watchdog "$@" ;;
    -h | --help | help) usage ;;
    *) log "unknown command '$cmd'"; usage ;;
  esac
}

main "$@"
