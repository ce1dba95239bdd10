#!/usr/bin/env bash
# Puts a Pulumi CLI (engine) and Python language host on PATH. Source it:
# `. scripts/toolchain.sh`. FLEET_PULUMI picks the toolchain:
#   current (default): the engine of the SDK pinned in requirements.txt
#     (tools/pulumi), with the Python host built from sdk/v3 v3.79.0
#     (tools/pulumi-language-python: later hosts live in a Go module the module
#     proxy here refuses). The engine is built at the SDK's version where the
#     proxy serves it, else at the nearest later release it serves (SDK
#     3.272.0, engine 3.274.0): the engine's version is tools/pulumi's, the
#     SDK's is the lock's, and they may differ;
#   oldest: everything at 3.79.0, the oldest release fleet supports
#     (tools/pulumi-3.79, requirements-oldest.txt).
# Uses `pulumi` from PATH when it already has the SDK's or the engine module's
# version; otherwise builds the binaries from the Go module proxy, once, into
# .cache/pulumi/VERSION. Exports PULUMI_VERSION (the engine in use) and
# PULUMI_SDK_VERSION (the lock's).
FLEET_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
FLEET_PULUMI="${FLEET_PULUMI:-current}"
case "$FLEET_PULUMI" in
  current) _fleet_engine_module="$FLEET_ROOT/tools/pulumi"; _fleet_lock="$FLEET_ROOT/requirements.txt" ;;
  oldest) _fleet_engine_module="$FLEET_ROOT/tools/pulumi-3.79"; _fleet_lock="$FLEET_ROOT/requirements-oldest.txt" ;;
  *) echo "fleet: FLEET_PULUMI must be current or oldest, not '$FLEET_PULUMI'" >&2; return 1 ;;
esac
_fleet_host_module="$FLEET_ROOT/tools/pulumi-language-python"
_fleet_module_version() {  # the version of module $2 that go.mod $1 requires
  sed -n "s|^[[:space:]]*$2 \(v[^[:space:]]*\).*|\1|p" "$1/go.mod" | head -n 1
}
PULUMI_VERSION="$(_fleet_module_version "$_fleet_engine_module" github.com/pulumi/pulumi/pkg/v3)"
PULUMI_VERSION="${PULUMI_VERSION#v}"
PULUMI_SDK_VERSION="$(sed -n 's/^pulumi==\([^[:space:]]*\).*/\1/p' "$_fleet_lock" | head -n 1)"
PULUMI_HOME_BIN="$FLEET_ROOT/.cache/pulumi/$PULUMI_VERSION/bin"

_fleet_pulumi_on_path_matches() {  # a CLI on PATH at the SDK's version (as CI installs it) or the engine module's
  local found
  command -v pulumi >/dev/null 2>&1 && command -v pulumi-language-python >/dev/null 2>&1 || return 1
  found="$(pulumi version 2>/dev/null)"
  case "$found" in
    "v$PULUMI_SDK_VERSION" | "v$PULUMI_VERSION") PULUMI_VERSION="${found#v}" ;;
    *) return 1 ;;
  esac
}

# go build of package $2 in module $1 into $PULUMI_HOME_BIN, at version $3.
_fleet_go_build() {
  local x="-X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=v$3"
  # 3.79 also reads pkg/v3's own version variable; -checklinkname=0: its
  # dependency github.com/pgavlin/text links to internal/bytealg, which
  # Go >= 1.23 refuses by default.
  case "$3" in 3.79.*) x="-checklinkname=0 $x -X github.com/pulumi/pulumi/pkg/v3/version.Version=v$3" ;; esac
  # -mod=readonly: build exactly what go.mod and go.sum pin, never update them.
  (cd "$1" && CGO_ENABLED=0 go build -mod=readonly -trimpath -o "$PULUMI_HOME_BIN/" -ldflags "$x" "$2")
}

_fleet_sdk_dir() {  # where the Go module cache holds sdk/v3 as module $1 requires it
  (cd "$1" && go list -mod=readonly -m -f '{{.Dir}}' github.com/pulumi/pulumi/sdk/v3)
}

# The Python host (both toolchains use the same one): built once into
# .cache/pulumi/host-VERSION, under a lock, since CI builds both toolchains at once.
_fleet_build_host() {
  local dir="$FLEET_ROOT/.cache/pulumi/host-$1"
  mkdir -p "$dir"
  (
    flock 9
    [ -f "$dir/.built" ] && exit 0
    PULUMI_HOME_BIN="$dir" _fleet_go_build "$_fleet_host_module" \
      github.com/pulumi/pulumi/sdk/v3/python/cmd/pulumi-language-python "$1" && touch "$dir/.built"
  ) 9>"$dir/.lock"
}

_fleet_build_pulumi() {
  local stamp="$PULUMI_HOME_BIN/.built" host_version engine_sdk host_sdk
  [ -f "$stamp" ] && return 0
  echo "fleet: building Pulumi v$PULUMI_VERSION from the Go module proxy (first run only; minutes)" >&2
  mkdir -p "$PULUMI_HOME_BIN"
  host_version="$(_fleet_module_version "$_fleet_host_module" github.com/pulumi/pulumi/sdk/v3)"
  _fleet_go_build "$_fleet_engine_module" github.com/pulumi/pulumi/pkg/v3/cmd/pulumi "$PULUMI_VERSION" || return 1
  _fleet_build_host "${host_version#v}" || return 1
  install -m 0755 "$FLEET_ROOT/.cache/pulumi/host-${host_version#v}/pulumi-language-python" "$PULUMI_HOME_BIN/" || return 1
  # The shims ship in the sdk module (module zips drop their exec bit): the
  # exec shim belongs to the host; the dynamic-provider shim to the engine's SDK.
  engine_sdk="$(_fleet_sdk_dir "$_fleet_engine_module")" || return 1
  host_sdk="$(_fleet_sdk_dir "$_fleet_host_module")" || return 1
  install -m 0755 "$host_sdk/python/cmd/pulumi-language-python-exec" "$PULUMI_HOME_BIN/" || return 1
  install -m 0755 "$engine_sdk/python/dist/pulumi-resource-pulumi-python" "$PULUMI_HOME_BIN/" || return 1
  touch "$stamp"
}

if ! _fleet_pulumi_on_path_matches; then
  _fleet_build_pulumi || return 1
  export PATH="$PULUMI_HOME_BIN:$PATH"
fi
export FLEET_PULUMI PULUMI_VERSION PULUMI_SDK_VERSION
export PULUMI_SKIP_UPDATE_CHECK=1
export PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=1
