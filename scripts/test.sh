#!/usr/bin/env bash
# Runs every test: unit, local-endpoint and engine-level (real Pulumi CLI), on
# the current Pulumi toolchain; then the engine tests marked `oldest` again on
# Pulumi 3.79.0, the oldest release fleet supports. Installs what it needs on
# first use. With arguments, runs only pytest with them, on the toolchain
# FLEET_PULUMI names (current by default).
set -uo pipefail
cd "$(dirname "$0")/.."
if [ $# -gt 0 ]; then
  . scripts/bootstrap.sh || exit 1
  exec python -m pytest "$@"
fi
( . scripts/bootstrap.sh ) || exit 1
# The oldest toolchain installs while the current one's tests run (they spend
# most of their time waiting on the local endpoint's pacing): a cold machine
# saves the few minutes its build takes.
mkdir -p .cache
( export FLEET_PULUMI=oldest && . scripts/bootstrap.sh ) > .cache/bootstrap-oldest.log 2>&1 &
oldest_setup=$!
( . scripts/bootstrap.sh && exec python -m pytest ); current=$?
echo "fleet: the oldest supported Pulumi (3.79.0): the tests marked 'oldest'" >&2
if wait "$oldest_setup"; then
  ( export FLEET_PULUMI=oldest && . scripts/bootstrap.sh && exec python -m pytest -m oldest ); oldest=$?
else
  cat .cache/bootstrap-oldest.log >&2
  oldest=1
fi
[ "$current" -eq 0 ] && [ "$oldest" -eq 0 ]
