#!/usr/bin/env bash
# Install Debian's chromium and a CJK font for the dashboard browser tests
# (tests/integration/test_dashboard_browser.py). Safe to run again: a package is installed
# only when its check fails.
#
# Playwright drives this chromium through executable_path, because Playwright's own browser
# download needs hosts outside the package registries. The Noto CJK font lets screenshots
# show Korean, Japanese and Chinese nicknames instead of empty boxes.
set -euo pipefail

missing=()
if ! command -v chromium >/dev/null 2>&1; then
    missing+=(chromium)
fi
if ! fc-list :lang=ko 2>/dev/null | grep -q .; then
    missing+=(fonts-noto-cjk)
fi

if [ ${#missing[@]} -eq 0 ]; then
    echo "chromium and a Korean font are already installed: $(command -v chromium)"
    exit 0
fi

if [ "$(id -u)" -eq 0 ]; then
    as_root=()
elif command -v sudo >/dev/null 2>&1; then
    as_root=(sudo)
else
    echo "error: installing ${missing[*]} needs root, and sudo is missing; run this script as root" >&2
    exit 1
fi

echo "Installing ${missing[*]} with apt-get"
"${as_root[@]}" apt-get update
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
echo "Installed ${missing[*]}; chromium is $(command -v chromium)"
