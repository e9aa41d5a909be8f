#!/usr/bin/env bash
# Runs the engine against DSN, rebuilding and restarting it when a source file changes.
# usage: scripts/dev.sh BUILD_DIR DSN LISTEN
set -euo pipefail
build=$1; dsn=$2; listen=$3
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
pid=""
stop() { [[ -n $pid ]] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null; pid=""; }
trap 'stop; exit 0' INT TERM
stamp() { find analysis actors app broker messages pg store util web -name '*.cpp' -o -name '*.hpp' -o -name '*.json' | xargs stat -c %Y | sort -n | tail -1; }
last=""
while true; do
  now=$(stamp)
  if [[ $now != "$last" ]]; then
    last=$now
    stop
    if cmake --build "$build" -j 2 --target optischema; then
      "$build/optischema" serve --dsn "$dsn" --listen "$listen" --data-dir .dev-data \
        --poll-interval 10s --log-level debug &
      pid=$!
      echo "dev: engine restarted (pid $pid); watching for changes" >&2
    else
      echo "dev: build failed; waiting for the next change" >&2
    fi
  fi
  sleep 1
done
