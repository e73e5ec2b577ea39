#!/usr/bin/env bash
# Installs the system packages the tests need, when they are missing:
#   - Debian's Chromium, driven by Playwright in the browser tests;
#   - PostgreSQL server binaries (initdb, pg_ctl), for the throwaway test cluster.
# Uses apt-get (as root, or through sudo). Does nothing when both are present.
set -euo pipefail

have_postgres() {
  command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1 && return 0
  compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null
}

packages=()
[ -x /usr/bin/chromium ] || packages+=(chromium)
have_postgres || packages+=(postgresql)
[ ${#packages[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -eq 0 ]; then
  apt=(apt-get)
elif command -v sudo >/dev/null 2>&1; then
  apt=(sudo apt-get)
else
  echo "error: need ${packages[*]} but cannot run apt-get (not root, no sudo); install them and rerun" >&2
  exit 1
fi
echo "Installing ${packages[*]} with apt-get" >&2
export DEBIAN_FRONTEND=noninteractive
"${apt[@]}" update -qq
"${apt[@]}" install -y -qq --no-install-recommends "${packages[@]}" >/dev/null
