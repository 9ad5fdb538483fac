#!/usr/bin/env bash
# Fresh machine to a test run: install, start Kafka, run the whole pytest suite.
# Extra arguments go to pytest, e.g. `bash deploy/test.sh -k dedup`.
set -euo pipefail

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$REPO_ROOT"

bash deploy/setup.sh
exec .venv/bin/python -m pytest "$@"
