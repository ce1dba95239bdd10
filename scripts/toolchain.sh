#!/usr/bin/env bash
# Puts a Pulumi CLI and Python language host of the pinned version on PATH.
# Source it: `. scripts/toolchain.sh`. Uses `pulumi` from PATH when it already
# has the pinned version; otherwise builds both binaries from the Go module
# proxy through the wrapper module in tools/pulumi, once, into .cache/pulumi.
FLEET_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PULUMI_VERSION="$(sed -n 's/^pulumi==//p' "$FLEET_ROOT/requirements.in")"
PULUMI_HOME_BIN="$FLEET_ROOT/.cache/pulumi/bin"

_fleet_pulumi_on_path_matches() {
  command -v pulumi >/dev/null 2>&1 && command -v pulumi-language-python >/dev/null 2>&1 &&
    [ "$(pulumi version 2>/dev/null)" = "v$PULUMI_VERSION" ]
}

_fleet_build_pulumi() {
  local stamp="$PULUMI_HOME_BIN/.built-v$PULUMI_VERSION"
  [ -f "$stamp" ] && return 0
  echo "fleet: building Pulumi v$PULUMI_VERSION from the Go module proxy (first run only; a few minutes)" >&2
  mkdir -p "$PULUMI_HOME_BIN"
  local x="-X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=v$PULUMI_VERSION"
  x="$x -X github.com/pulumi/pulumi/pkg/v3/version.Version=v$PULUMI_VERSION"
  # -checklinkname=0: pulumi 3.79's dependency github.com/pgavlin/text links
  # to internal/bytealg, which Go >= 1.23 refuses by default.
  (set -e; cd "$FLEET_ROOT/tools/pulumi" &&
    CGO_ENABLED=0 GOFLAGS=-mod=mod go build -o "$PULUMI_HOME_BIN/" \
      -ldflags "-checklinkname=0 $x" \
      github.com/pulumi/pulumi/pkg/v3/cmd/pulumi \
      github.com/pulumi/pulumi/sdk/v3/python/cmd/pulumi-language-python) || return 1
  # The shims ship in the sdk module; module zips drop their exec bit.
  local sdk
  sdk="$(cd "$FLEET_ROOT/tools/pulumi" && go list -m -f '{{.Dir}}' github.com/pulumi/pulumi/sdk/v3)" || return 1
  install -m 0755 "$sdk/python/cmd/pulumi-language-python-exec" "$PULUMI_HOME_BIN/" || return 1
  install -m 0755 "$sdk/python/dist/pulumi-resource-pulumi-python" "$PULUMI_HOME_BIN/" || return 1
  touch "$stamp"
}

if ! _fleet_pulumi_on_path_matches; then
  _fleet_build_pulumi || return 1
  export PATH="$PULUMI_HOME_BIN:$PATH"
fi
export PULUMI_SKIP_UPDATE_CHECK=1
export PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=1
