#!/usr/bin/env bash
# Source this: makes .cache/venv from requirements.txt (again when it changes),
# installs fleet into it, and puts the pinned Pulumi toolchain on PATH.
FLEET_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
FLEET_VENV="$FLEET_ROOT/.cache/venv"

_fleet_bootstrap_venv() {
  local want stamp="$FLEET_VENV/.requirements.sha256"
  want="$(cat "$FLEET_ROOT/requirements.txt" "$FLEET_ROOT/pyproject.toml" | sha256sum | cut -d' ' -f1)"
  if [ -x "$FLEET_VENV/bin/python" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
    return 0
  fi
  echo "fleet: installing Python dependencies into .cache/venv" >&2
  python3 -m venv "$FLEET_VENV" &&
    "$FLEET_VENV/bin/pip" install --quiet -r "$FLEET_ROOT/requirements.txt" &&
    "$FLEET_VENV/bin/pip" install --quiet --no-deps -e "$FLEET_ROOT" &&
    echo "$want" > "$stamp"
}

_fleet_bootstrap_venv || { echo "fleet: could not install the Python dependencies" >&2; return 1; }
export PATH="$FLEET_VENV/bin:$PATH"
. "$FLEET_ROOT/scripts/toolchain.sh" || { echo "fleet: could not get the Pulumi toolchain" >&2; return 1; }
