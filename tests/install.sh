#!/usr/bin/env bash
# Installs everything the test suite needs on a fresh Debian machine, then returns.
# Debian packages: redis-server (store tests), chromium (browser tests), nodejs/npm (axe-core).
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
if [ "$(id -u)" != "0" ] && command -v sudo >/dev/null 2>&1; then SUDO="sudo"; fi

missing=()
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
[ -x /usr/bin/chromium ] || missing+=(chromium)
command -v npm >/dev/null 2>&1 || missing+=(npm)
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing Debian packages: ${missing[*]}"
  $SUDO apt-get update -q
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}"
fi

python -m pip install -q --disable-pip-version-check -e ".[dev]"

# Browser-side test assets from the npm registry, kept out of the package: axe-core, and the
# official ALTCHA widget twice, side by side: 2.x as `altcha` (its v1 protocol, ALTCHA-V1) and
# 3.x under the alias `altcha3` (PoW v2, the default). Installed only when one is missing.
if [ ! -f tests/node_modules/axe-core/axe.min.js ] \
  || [ ! -f tests/node_modules/altcha/dist/altcha.js ] \
  || [ ! -f tests/node_modules/altcha3/dist/main/altcha.js ]; then
  (cd tests && npm install --no-audit --no-fund --silent --prefix . \
    axe-core@4 altcha@2 altcha3@npm:altcha@3.2.2 >/dev/null)
fi
echo "test dependencies installed"
