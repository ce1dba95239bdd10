#!/usr/bin/env bash
# The demo: a local AWS endpoint, the example fleet, `pulumi up`, drift found
# and corrected. Installs what it needs on first use; cleans up after itself.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/bootstrap.sh
exec python -m devtools.demo "$@"
