#!/usr/bin/env bash
# Install the NHS.UK frontend (styles, scripts, icons, favicons) for JoinedUp's web pages.
#
# nhsuk-frontend comes from the npm registry at the version pinned in package.json and
# package-lock.json (it must match nhsuk-frontend-jinja: see docs/web.md). Only the built
# files the pages use are copied into src/joinedup/web/static/nhsuk/, which is git-ignored.
# Safe to run again: the target folder is rebuilt from scratch each time.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
target="$root/src/joinedup/web/static/nhsuk"
dist="$root/node_modules/nhsuk-frontend/dist/nhsuk"

fail() {
    echo "install-frontend: $*" >&2
    exit 1
}

command -v npm >/dev/null 2>&1 || fail "npm is not installed (Debian: apt-get install -y npm)"

cd "$root"
if ! npm ci --no-audit --no-fund; then
    fail "npm ci failed: could not install nhsuk-frontend from the npm registry (see the messages above)"
fi

version="$(node -p "require('./node_modules/nhsuk-frontend/package.json').version")"
for file in nhsuk-frontend.min.css nhsuk-frontend.min.css.map nhsuk-frontend.min.js nhsuk-frontend.min.js.map; do
    [[ -f "$dist/$file" ]] || fail "nhsuk-frontend $version has no dist/nhsuk/$file: is package.json pinned to the version docs/web.md names?"
done
[[ -d "$dist/assets" ]] || fail "nhsuk-frontend $version has no dist/nhsuk/assets folder"

# Build beside the target and swap it in, so a failed copy never leaves half a folder.
mkdir -p "$(dirname "$target")"
staging="$(mktemp -d "$(dirname "$target")/.nhsuk.XXXXXX")"
trap 'rm -rf "$staging"' EXIT
cp "$dist"/nhsuk-frontend.min.css "$dist"/nhsuk-frontend.min.css.map "$staging/"
cp "$dist"/nhsuk-frontend.min.js "$dist"/nhsuk-frontend.min.js.map "$staging/"
# Icons, logos, favicons and the web manifest; the stylesheet refers to them under /assets.
cp -R "$dist/assets" "$staging/assets"
echo "$version" >"$staging/VERSION"

rm -rf "$target"
mv "$staging" "$target"
chmod 755 "$target"
trap - EXIT
echo "install-frontend: nhsuk-frontend $version installed in ${target#"$root"/}"
