#!/usr/bin/env bash
# The newcomer path on any layout: the test harness works from a checkout under a directory the
# postgres user cannot enter (root's home, any `mktemp -d`), and `down` - by hand or by the
# watchdog - leaves nothing behind.
#   harness_layout_test.sh SOURCE_DIR
set -euo pipefail
HARNESS=$1/scripts/harness.sh
fail() { printf 'FAIL: %s\n' "$*" >&2; exit 1; }
[[ $(id -u) -eq 0 ]] || { echo "skipped: only root runs PostgreSQL as another user"; exit 77; }

private=$(mktemp -d)                      # mode 700, owned by root: postgres cannot traverse it
dir=$private/checkout/build/harness
cleanup() { "$HARNESS" down "$dir" >/dev/null 2>&1 || true; rm -rf "$private"; }
trap cleanup EXIT
runuser -u postgres -- test -x "$private" && fail "postgres can enter $private: the test proves nothing"

env_of() { sed -n "s/^$1=//p" "$dir/env"; }

# -- up, use, restart, down
"$HARNESS" up "$dir" --no-nats >/dev/null
data=$(env_of OPTISCHEMA_PG_DATA)
[[ -n $data && -d $data ]] || fail "DIR/env names no PostgreSQL data directory (OPTISCHEMA_PG_DATA)"
[[ $data != "$private"/* ]] || fail "the data directory $data is under the private directory"
[[ $("$HARNESS" psql "$dir" -Atc 'SELECT 1') == 1 ]] || fail "psql did not answer"
"$HARNESS" pg-stop "$dir" 2>/dev/null
"$HARNESS" pg-start "$dir" 2>/dev/null
[[ $("$HARNESS" psql "$dir" -Atc 'SELECT 2') == 2 ]] || fail "psql did not answer after a restart"
"$HARNESS" down "$dir" 2>/dev/null
[[ ! -e $dir ]] || fail "down left $dir"
[[ ! -e $data ]] || fail "down left the data directory $data"

# -- the watchdog removes it too when its owner exits
sleep 300 &
owner=$!
"$HARNESS" up "$dir" --no-nats --owner "$owner" >/dev/null
data=$(env_of OPTISCHEMA_PG_DATA)
kill "$owner"; wait "$owner" 2>/dev/null || true
for _ in $(seq 1 300); do [[ -e $dir || -e $data ]] || break; sleep 0.1; done
[[ ! -e $dir ]] || fail "the watchdog left $dir"
[[ ! -e $data ]] || fail "the watchdog left the data directory $data"
echo "ok: the harness runs from $private and leaves nothing behind"
