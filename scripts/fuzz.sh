#!/usr/bin/env bash
# The libFuzzer targets of fuzz/ (see fuzz/README.md).
#
#   scripts/fuzz.sh build                       configure build-fuzz/ with clang-14 and build every target
#   scripts/fuzz.sh run TARGET [SECONDS [MAX_LEN]]   replay fuzz/corpus/TARGET, then fuzz for SECONDS (default 10)
#   scripts/fuzz.sh all [SECONDS]               build, then run every target (default: its make-test time)
#   scripts/fuzz.sh repro TARGET FILE           run one input (a reproducer) and show what happens
#   scripts/fuzz.sh keep TARGET FILE            add a reproducer to the regression corpus (fuzz/corpus/TARGET/regress-*)
#
# FUZZ_BUILD_DIR overrides build-fuzz/. A crash fails `run` and leaves the input in
# build-fuzz/artifacts/TARGET/ with the command that reproduces it; new coverage lands in
# build-fuzz/corpus/TARGET (never in the repository's corpus), kept across runs only with
# FUZZ_KEEP_CORPUS=1 (the default of `all`).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${FUZZ_BUILD_DIR:-$root/build-fuzz}
cc=${FUZZ_CC:-clang-14}
cxx=${FUZZ_CXX:-clang++-14}

# Reports straight to stderr with symbols; UBSan stops at the first report
# (the build also passes -fno-sanitize-recover). Leak checks stay on: a leak
# per request is a slow crash.
export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1:symbolize=1:allocator_may_return_null=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1:symbolize=1:suppressions=$root/scripts/sanitizers/ubsan.supp}
export ASAN_SYMBOLIZER_PATH=${ASAN_SYMBOLIZER_PATH:-$(command -v llvm-symbolizer-14 || command -v llvm-symbolizer || true)}

# "name seconds max_len" per target, from the one list in fuzz/CMakeLists.txt.
target_table() {
  sed -n 's/^ *"\([a-z_]*\)|\([0-9]*\)|\([0-9]*\)".*/\1 \2 \3/p' "$root/fuzz/CMakeLists.txt"
}

targets() {
  target_table | cut -d' ' -f1
}

build() {
  command -v "$cxx" >/dev/null || {
    echo "fuzz: $cxx not found; install clang-14 and libclang-rt-14-dev (scripts/install-deps.sh does)" >&2
    exit 1
  }
  if [[ ! -f $build/build.ninja ]]; then
    # -O1 -g without NDEBUG: asserts stay on (RapidJSON's catch a GetString()
    # on a non-string), and stacks stay readable.
    CC=$cc CXX=$cxx cmake -S "$root" -B "$build" -G Ninja -DOPTISCHEMA_FUZZ=ON \
      -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_C_FLAGS_RELWITHDEBINFO="-O1 -g" \
      -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g" -DOPTISCHEMA_ENABLE_BENCH=OFF >/dev/null
  fi
  local names=()
  for t in $(targets); do names+=("fuzz-$t"); done
  cmake --build "$build" -j "${JOBS:-2}" --target "${names[@]}"
}

run() {
  local target=$1 seconds=${2:-10} max_len=${3:-16384}
  local bin=$build/fuzz/fuzz-$target
  [[ -x $bin ]] || { echo "fuzz: $bin is missing; run scripts/fuzz.sh build" >&2; exit 1; }
  local seeds=$root/fuzz/corpus/$target
  local grown=$build/corpus/$target
  local artifacts=$build/artifacts/$target/
  # What earlier runs found is replayed before fuzzing and counts against
  # the time: make test starts from the seeds each time, so its few seconds
  # fuzz rather than replay a corpus that grows with every run. make fuzz
  # (FUZZ_KEEP_CORPUS=1) keeps building on it.
  [[ ${FUZZ_KEEP_CORPUS:-0} == 1 ]] || rm -rf "$grown"
  mkdir -p "$grown" "$artifacts"
  local dict=()
  [[ -f $root/fuzz/dict/$target.dict ]] && dict=(-dict="$root/fuzz/dict/$target.dict")
  local log=$build/logs/$target.log
  mkdir -p "$(dirname "$log")"
  echo "fuzz: $target for ${seconds}s (seeds: $(ls "$seeds" | wc -l) in fuzz/corpus/$target, max_len $max_len)"
  # Inputs that broke a parser once, whole: as a corpus below they would be
  # cut to max_len, and a deep-nesting input cut short proves nothing.
  local regress=()
  for f in "$seeds"/regress-*; do [[ -e $f ]] && regress+=("$f"); done
  if [[ ${#regress[@]} -gt 0 ]]; then
    if ! "$bin" -timeout=30 -rss_limit_mb=2048 "${regress[@]}" >"$log.regress" 2>&1; then
      tail -n 60 "$log.regress"
      echo "fuzz: $target FAILED on a regression input of fuzz/corpus/$target (log: $log.regress)" >&2
      exit 1
    fi
    echo "fuzz:   ${#regress[@]} regression inputs replayed whole"
  fi
  set +e
  # The first corpus directory receives new inputs; the repository's is read
  # only. Every input in both is replayed before fuzzing starts, so each
  # input that crashed once (regress-*) is tried again on every run.
  # FUZZ_SEED: make test's short runs use a fixed seed (1), so a red run
  # is the code's doing, not the dice's; make fuzz draws one (0: random).
  "$bin" -seed="${FUZZ_SEED:-1}" -max_total_time="$seconds" -max_len="$max_len" -timeout=10 -rss_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix="$artifacts" "${dict[@]}" "$grown" "$seeds" >"$log" 2>&1
  local rc=$?
  set -e
  grep -E '^(stat::number_of_executed_units|stat::average_exec_per_sec|stat::new_units_added|stat::peak_rss_mb):' "$log" | sed 's/^/fuzz:   /' || true
  if [[ $rc -ne 0 ]]; then
    tail -n 80 "$log"
    local found
    found=$(ls -t "$artifacts" 2>/dev/null | head -1 || true)
    echo "fuzz: $target FAILED (exit $rc); full log: $log" >&2
    if [[ -n $found ]]; then
      echo "fuzz: reproduce with: scripts/fuzz.sh repro $target $artifacts$found" >&2
      echo "fuzz: after the fix, keep it with: scripts/fuzz.sh keep $target $artifacts$found" >&2
    fi
    exit 1
  fi
}

repro() {
  local target=$1 file=$2
  "$build/fuzz/fuzz-$target" -runs=1 "$file"
}

keep() {
  local target=$1 file=$2
  local name
  name=regress-$(sha1sum "$file" | cut -c1-12)
  cp "$file" "$root/fuzz/corpus/$target/$name"
  echo "fuzz: kept as fuzz/corpus/$target/$name (commit it with the fix)"
}

case ${1:-} in
  build) build ;;
  run) shift; run "$@" ;;
  all)
    export FUZZ_KEEP_CORPUS=${FUZZ_KEEP_CORPUS:-1}
    build
    target_table | while read -r t seconds max_len; do run "$t" "${2:-$seconds}" "$max_len"; done ;;
  repro) shift; repro "$@" ;;
  keep) shift; keep "$@" ;;
  *) sed -n '2,13s/^# \{0,1\}//p' "$0"; exit 2 ;;
esac
