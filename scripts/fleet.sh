#!/usr/bin/env bash
# The fleet command line (validate, drift, review, pending, revoke-ca), as CI
# and the tests run it, from the project root. Installs what it needs on first use.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/bootstrap.sh
exec python -m fleet "$@"
