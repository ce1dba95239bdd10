#!/usr/bin/env bash
# Runs every test: unit, local-endpoint and engine-level (real Pulumi CLI).
# Installs what it needs on first use; extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/bootstrap.sh
exec python -m pytest "$@"
