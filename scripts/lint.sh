#!/usr/bin/env bash
# clang-tidy (the checks of .clang-tidy) over the project's sources, using the compile database.
# usage: scripts/lint.sh BUILD_DIR [FILES...]   (default: files changed since the previous commit)
set -euo pipefail
build=$1; shift
cd "$(dirname "$0")/.."
command -v clang-tidy >/dev/null || { echo "lint: clang-tidy not installed"; exit 1; }
files=("$@")
if [[ ${#files[@]} -eq 0 ]]; then
  mapfile -t files < <(git diff --name-only HEAD~1 -- '*.cpp' 2>/dev/null | grep -v '^tests/' || true)
fi
[[ ${#files[@]} -gt 0 ]] || { echo "lint: nothing to check"; exit 0; }
clang-tidy -p "$build" --quiet "${files[@]}"
