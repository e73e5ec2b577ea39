#!/usr/bin/env bash
# Installs the system packages JoinedUp needs, when they are missing:
#   pdf       Pango and Cairo, which WeasyPrint and CairoSVG use for PDF reports and PNG charts;
#   browser   Debian's Chromium, driven by Playwright in the browser tests;
#   postgres  PostgreSQL server binaries (initdb, pg_ctl), for the throwaway test cluster.
# Usage: install-system-deps.sh [pdf] [browser] [postgres]   (none given: all three)
# Uses apt-get (as root, or through sudo). Does nothing when all are present.
set -euo pipefail

have_postgres() {
  command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1 && return 0
  compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null
}

have_pango() {
  # grep reads all of ldconfig's output (no -q): with pipefail, an early exit would fail it.
  local libraries
  libraries=$(ldconfig -p 2>/dev/null || true)
  grep 'libpangoft2-1.0.so.0' <<<"$libraries" >/dev/null && grep 'libcairo.so.2' <<<"$libraries" >/dev/null
}

wanted=("$@")
[ ${#wanted[@]} -eq 0 ] && wanted=(pdf browser postgres)

packages=()
for need in "${wanted[@]}"; do
  case "$need" in
    pdf) have_pango || packages+=(libpango-1.0-0 libpangoft2-1.0-0 libcairo2) ;;
    browser) [ -x /usr/bin/chromium ] || packages+=(chromium) ;;
    postgres) have_postgres || packages+=(postgresql) ;;
    *) echo "error: unknown need '$need' (pdf, browser, postgres)" >&2; exit 2 ;;
  esac
done
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
