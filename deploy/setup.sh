#!/usr/bin/env bash
# Install user-insights into ./.venv and start the local Kafka broker.
# Safe to run again: existing installs and a running broker are reused.
set -euo pipefail

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$REPO_ROOT"

PYTHON=${USER_INSIGHTS_PYTHON:-python3}
if ! "$PYTHON" -c 'import sys; sys.exit(0 if (3, 11) <= sys.version_info[:2] < (3, 13) else 1)'; then
    echo "error: $PYTHON is $("$PYTHON" --version 2>&1); user-insights needs Python 3.11 or 3.12 (set USER_INSIGHTS_PYTHON)" >&2
    exit 1
fi

if [ ! -x .venv/bin/python ]; then
    echo "Creating .venv with $("$PYTHON" --version)"
    "$PYTHON" -m venv .venv
fi

echo "Installing user-insights and its test dependencies into .venv"
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e ".[test]"

if [ "${USER_INSIGHTS_SKIP_BROWSER:-0}" != "1" ]; then
    # Debian's chromium drives the dashboard's browser tests; the page itself needs nothing.
    bash deploy/install-browser.sh
fi

if [ "${USER_INSIGHTS_SKIP_BROKER:-0}" != "1" ]; then
    bash deploy/kafka-local.sh start
fi
