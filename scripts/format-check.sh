#!/usr/bin/env bash
# Checks clang-format on the lines changed since the merge base with origin/main (or, without it,
# since the previous commit). Old code never blocks a change (VAST's style-check habit).
set -euo pipefail
cd "$(dirname "$0")/.."
command -v clang-format >/dev/null || { echo "format-check: clang-format not installed; skipped"; exit 0; }
base=$(git merge-base HEAD origin/main 2>/dev/null || git rev-parse HEAD~1 2>/dev/null || true)
[[ -n $base ]] || { echo "format-check: no base commit; skipped"; exit 0; }
diff_tool=$(ls /usr/share/clang/clang-format-*/clang-format-diff.py 2>/dev/null | tail -1 || true)
[[ -n $diff_tool ]] || diff_tool=$(command -v clang-format-diff || true)
[[ -n $diff_tool ]] || { echo "format-check: clang-format-diff not found; skipped"; exit 0; }
out=$(git diff -U0 --no-color "$base" -- '*.cpp' '*.hpp' | python3 "$diff_tool" -p1 || true)
if [[ -n $out ]]; then
  echo "$out"
  echo "format-check: changed lines are not clang-formatted; run 'make format'" >&2
  exit 1
fi
echo "format-check: changed lines are formatted"
