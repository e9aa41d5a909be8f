#!/usr/bin/env bash
# `make demo` stops with the harness's error and starts no engine (it used to go on with an empty
# DSN and print "watching the demo database ()").
#   demo_error_test.sh SOURCE_DIR BUILD_DIR
# Runs the demo target of a copy of the Makefile and scripts (so a demo of the source tree is never
# touched), with the engine already built in BUILD_DIR and a PostgreSQL that cannot start.
set -euo pipefail
src=$1 build=$2
fail() { printf 'FAIL: %s\n' "$*" >&2; exit 1; }
work=$(mktemp -d)
cleanup() {
  [[ -f $work/.demo/engine.pid ]] && kill "$(cat "$work/.demo/engine.pid")" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
cp -r "$src/Makefile" "$src/scripts" "$src/demo" "$work/"
mkdir -p "$work/web/static"

rc=0
out=$(cd "$work" && PGBIN=$work/no-postgresql make -o build -o dashboard demo BUILD_DIR="$build" \
  LISTEN=127.0.0.1:0 2>&1) || rc=$?
printf '%s\n' "$out"
((rc != 0)) || fail "make demo succeeded without a PostgreSQL"
grep -q 'harness: error: PostgreSQL 15 binaries not found' <<<"$out" || fail "the harness's error is not shown"
! grep -q 'starting the engine' <<<"$out" || fail "make demo started the engine"
! grep -q 'watching the demo database' <<<"$out" || fail "make demo announced a demo that does not run"
[[ ! -s $work/.demo/engine.pid ]] || fail "make demo left an engine pid file"
echo "ok: make demo stopped with the harness's error"
