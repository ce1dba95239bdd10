#!/usr/bin/env bash
# Source this: makes the virtualenv of the chosen Pulumi toolchain from its
# lock file (again when it changes), installs fleet into it, puts it first on
# PATH (the Python language host runs `python` from PATH), and puts the
# Pulumi CLI on PATH (scripts/toolchain.sh). FLEET_PULUMI=current (default):
# .cache/venv from requirements.txt; FLEET_PULUMI=oldest: .cache/venv-oldest
# from requirements-oldest.txt.
FLEET_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
case "${FLEET_PULUMI:-current}" in
  oldest) FLEET_VENV="$FLEET_ROOT/.cache/venv-oldest"; _fleet_lock="$FLEET_ROOT/requirements-oldest.txt" ;;
  *) FLEET_VENV="$FLEET_ROOT/.cache/venv"; _fleet_lock="$FLEET_ROOT/requirements.txt" ;;
esac

_fleet_bootstrap_venv() {
  local want stamp="$FLEET_VENV/.requirements.sha256"
  want="$(cat "$_fleet_lock" "$FLEET_ROOT/pyproject.toml" | sha256sum | cut -d' ' -f1)"
  if [ -x "$FLEET_VENV/bin/python" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
    return 0
  fi
  echo "fleet: installing Python dependencies into ${FLEET_VENV#"$FLEET_ROOT"/}" >&2
  # Made anew, never updated in place: a venv's scripts hold its own path, and a
  # half-installed one must not linger.
  rm -rf "$FLEET_VENV" &&
    python3 -m venv "$FLEET_VENV" &&
    "$FLEET_VENV/bin/pip" install --quiet --disable-pip-version-check -r "$_fleet_lock" &&
    "$FLEET_VENV/bin/pip" install --quiet --disable-pip-version-check --no-deps -e "$FLEET_ROOT" &&
    echo "$want" > "$stamp"
}

_fleet_bootstrap_venv || { echo "fleet: could not install the Python dependencies" >&2; return 1; }
export FLEET_VENV
export PATH="$FLEET_VENV/bin:$PATH"
. "$FLEET_ROOT/scripts/toolchain.sh" || { echo "fleet: could not get the Pulumi toolchain" >&2; return 1; }
