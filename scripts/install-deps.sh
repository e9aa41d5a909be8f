#!/usr/bin/env bash
# Installs every system package that building, testing and the demo need.
# Idempotent: when everything is present it only checks and returns.
# Usage: scripts/install-deps.sh
set -euo pipefail

packages=(
  # toolchain
  g++ cmake ninja-build pkg-config make python3 curl ca-certificates
  # the fuzz targets (libFuzzer, sanitizers, symbolized reports; fuzz/README.md)
  clang-14 libclang-rt-14-dev llvm-14
  # engine libraries
  libcaf-dev libnats-dev libpqxx-dev libpq-dev rapidjson-dev libcpprest-dev librocksdb-dev
  libspdlog-dev libfmt-dev catch2 libboost-dev libboost-system-dev libpg-query-dev libcli11-dev
  libssl-dev
  # external systems the tests and the demo start on loopback
  nats-server postgresql-15 postgresql-client-15 postgresql-15-hypopg postgresql-15-pg-qualstats
  # the dashboard's end-to-end tests drive Debian's Chromium
  chromium
  # the deployment files' checks: style, and the rendered manifests read by Debian's python3
  yamllint python3-yaml
)
optional=(ccache clang-format)

want=("${packages[@]}")
# The dashboard builds with Node.js >= 18.18 and npm. A Node.js installed
# another way (NodeSource, nvm) is kept: Debian's npm would conflict with it.
node_ok() {
  command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1 \
    && node -e 'const [a,b]=process.versions.node.split(".").map(Number); process.exit(a>18||(a==18&&b>=18)?0:1)'
}
if ! node_ok; then want+=(nodejs npm); fi
# `kubectl kustomize` renders the Kubernetes overlays; a kubectl from elsewhere (Google Cloud
# SDK, upstream) is kept, Debian's client is installed only when there is none.
if ! command -v kubectl >/dev/null 2>&1; then want+=(kubernetes-client); fi

if ! command -v apt-get >/dev/null 2>&1 || ! command -v dpkg-query >/dev/null 2>&1; then
  echo "install-deps: this script knows Debian/Ubuntu (apt). Install these packages by other means:" >&2
  printf '  %s\n' "${want[@]}" >&2
  exit 1
fi

missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
opt_missing=()
for p in "${optional[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || opt_missing+=("$p")
done
if [[ ${#missing[@]} -eq 0 && ${#opt_missing[@]} -eq 0 ]]; then
  echo "install-deps: all packages present"
  exit 0
fi

sudo=()
if [[ $(id -u) -ne 0 ]]; then
  command -v sudo >/dev/null 2>&1 || { echo "install-deps: run as root or install sudo" >&2; exit 1; }
  sudo=(sudo)
fi
export DEBIAN_FRONTEND=noninteractive
echo "install-deps: installing ${missing[*]} ${opt_missing[*]}"
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
if [[ ${#opt_missing[@]} -gt 0 ]]; then
  "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${opt_missing[@]}" >/dev/null \
    || echo "install-deps: optional packages not installed: ${opt_missing[*]}"
fi
# Debian's postgresql package creates and starts a default cluster on 5432; we never use it, and a
# second server would only cost memory. Leave existing clusters alone.
node_ok || { echo "install-deps: Node.js >= 18.18 with npm is needed for the dashboard; found $(node --version 2>/dev/null || echo none)" >&2; exit 1; }
echo "install-deps: done"
