#!/usr/bin/env bash
# Runs the poll benchmark (bench/poll_bench.cpp) against a private throwaway cluster.
# usage: scripts/bench-poll.sh [BUILD_DIR] [STATEMENTS] [POLLS]
set -euo pipefail
build=${1:-build}
exec "$build/bench/optischema-poll-bench" "${2:-5000}" "${3:-50}"
