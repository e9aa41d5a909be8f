#!/usr/bin/env bash
# Every test (unit, actor protocol, integration against PostgreSQL 15 and NATS) built with
# AddressSanitizer and UndefinedBehaviorSanitizer, in build-asan/ (make test-asan).
#
#   scripts/test-asan.sh                 configure, build, run every ctest but the dashboard's and the fuzzers'
#   scripts/test-asan.sh -R 'unit: '     the same, passing ctest arguments on (a subset)
#
# The dashboard's npm tests run no C++ of ours but the engine they start, and the fuzz
# targets have their own sanitizer build (scripts/fuzz.sh): both are left out here.
# Any sanitizer report stops the process that hit it (halt_on_error, and the build
# passes -fno-sanitize-recover), so the test that ran it fails, and the engine's reports
# land in the integration tests' engine logs. ASAN_BUILD_DIR overrides build-asan/.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${ASAN_BUILD_DIR:-$root/build-asan}
jobs=${JOBS:-2}
supp=$root/scripts/sanitizers

if [[ ! -f $build/build.ninja ]]; then
  # -O1 -g without NDEBUG: readable stacks, asserts on (as in the fuzz build).
  cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_C_FLAGS_RELWITHDEBINFO="-O1 -g" -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g" \
    -DOPTISCHEMA_SANITIZE=address,undefined -DOPTISCHEMA_ENABLE_BENCH=OFF >/dev/null
fi
cmake --build "$build" -j "$jobs" --target optischema optischema-unit-test \
  optischema-actor-test optischema-integration-test

# Inherited by the engine the integration tests start, so its reports count too.
export ASAN_OPTIONS=${ASAN_OPTIONS:-halt_on_error=1:abort_on_error=1:detect_leaks=1:detect_stack_use_after_return=0:strict_string_checks=1:check_initialization_order=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1:suppressions=$supp/ubsan.supp}
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$supp/lsan.supp:print_suppressions=0}

cd "$build"
ctest --output-on-failure -j "$jobs" -E '^(dashboard|fuzz): ' "$@"
