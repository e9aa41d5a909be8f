#!/usr/bin/env bash
# Builds and tests the Next.js dashboard (web/dashboard), a static export the
# engine serves with --static-dir web/dashboard/out.
#
#   dashboard.sh build   npm ci when node_modules is missing or package-lock.json changed, then next build -> out/
#   dashboard.sh unit    vitest run (schemas, formatting, hooks)
#   dashboard.sh e2e     node tests/e2e/run.mjs (PostgreSQL harness + engine + Chromium; screenshots in
#                        $E2E_SCREENSHOT_DIR, default build/e2e-screenshots)
#   dashboard.sh all     build, unit, e2e
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DASH=$ROOT/web/dashboard
export NEXT_TELEMETRY_DISABLED=1

die() { printf 'dashboard: %s\n' "$*" >&2; exit 1; }
need() { command -v "$1" >/dev/null 2>&1 || die "$1 is missing: run scripts/install-deps.sh"; }

deps() {
  need node
  need npm
  local major
  node -e 'const [a,b]=process.versions.node.split(".").map(Number); process.exit(a>18||(a==18&&b>=18)?0:1)' \
    || die "Node.js >= 18.18 is needed (found $(node --version)): run scripts/install-deps.sh"
  local stamp=$DASH/node_modules/.package-lock.sha
  local sum
  sum=$(sha256sum "$DASH/package-lock.json" | cut -d' ' -f1)
  if [[ ! -d $DASH/node_modules || ! -f $stamp || $(cat "$stamp") != "$sum" ]]; then
    echo "dashboard: npm ci" >&2
    (cd "$DASH" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
    echo "$sum" >"$stamp"
  fi
}

build() {
  deps
  echo "dashboard: next build" >&2
  (cd "$DASH" && npx --no-install next build >"$DASH/.next-build.log" 2>&1) || { cat "$DASH/.next-build.log" >&2; die "next build failed"; }
  [[ -f $DASH/out/index.html ]] || die "next build left no out/index.html"
  grep -A30 '^Route (app)' "$DASH/.next-build.log" | sed -n '1,20p' >&2 || true
}

unit() {
  deps
  (cd "$DASH" && npx --no-install vitest run)
}

e2e() {
  deps
  [[ -x /usr/bin/chromium || -n ${CHROMIUM:-} ]] || die "Chromium is missing (/usr/bin/chromium): run scripts/install-deps.sh"
  [[ -f $DASH/out/index.html ]] || build
  node "$ROOT/tests/e2e/run.mjs"
}

case ${1:-} in
  build) build ;;
  unit) unit ;;
  e2e) e2e ;;
  all) build && unit && e2e ;;
  *) sed -n '2,/^set -euo/p' "$0" | grep '^#' | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
esac
