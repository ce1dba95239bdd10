#!/usr/bin/env bash
# The pinned Pulumi CLI (preview, up, refresh), as CI and the tests run it, in
# the current directory's Pulumi project. Installs what it needs on first use.
set -euo pipefail
. "$(dirname "$0")/bootstrap.sh"
exec pulumi "$@"
