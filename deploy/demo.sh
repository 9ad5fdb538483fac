#!/usr/bin/env bash
# Fresh machine to a running demo: install, start Kafka, run `user-insights demo`.
# The demo starts a worker with embedded ClickHouse under ./data, streams a realistic
# event mix through the broker, waits until it is stored and prints a few users' insights.
set -euo pipefail

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$REPO_ROOT"

USER_INSIGHTS_SKIP_BROWSER=1 bash deploy/setup.sh
exec .venv/bin/user-insights demo "$@"
