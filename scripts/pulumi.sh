#!/usr/bin/env bash
# The pinned Pulumi CLI (preview, up, refresh), as CI and the tests run it, in
# the current directory's Pulumi project. Installs what it needs on first use.
# Before a run that takes the stack's lock (up, refresh, destroy), `fleet
# recover` clears what an interrupted run left behind (a stale lock, pending
# operations) once nothing of it is still running; it refuses, and so does
# this, while a run may still hold the stack.
set -euo pipefail
. "$(dirname "$0")/bootstrap.sh"
case "${1:-}" in
  up | update | refresh | destroy)
    stack="" previous=""
    for argument in "$@"; do
      case "$previous" in --stack | -s) stack="$argument" ;; esac
      case "$argument" in --stack=*) stack="${argument#--stack=}" ;; esac
      previous="$argument"
    done
    [ -n "$stack" ] || stack="$(pulumi stack --show-name 2>/dev/null || true)"
    if [ -n "$stack" ]; then
      python -m fleet recover --stack "$stack" >&2
    fi
    ;;
esac
exec pulumi "$@"
