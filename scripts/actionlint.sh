#!/usr/bin/env bash
# Lints GitHub Actions workflows with actionlint at the version pinned in
# tools/actionlint/go.mod (built from the Go module proxy, once, into
# .cache/tools/bin). Arguments go to actionlint; with none it lints this
# repository's .github/workflows. Runs in the caller's directory, so relative
# paths work. actionlint also runs shellcheck on `run:` scripts when shellcheck
# is on PATH.
set -euo pipefail
FLEET_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
MODULE="$FLEET_ROOT/tools/actionlint"
BIN="$FLEET_ROOT/.cache/tools/bin"
VERSION="$(sed -n 's|^[[:space:]]*github.com/rhysd/actionlint \(v[^[:space:]]*\).*|\1|p' "$MODULE/go.mod")"
[ -n "$VERSION" ] || { echo "actionlint.sh: no github.com/rhysd/actionlint version in $MODULE/go.mod" >&2; exit 1; }
STAMP="$BIN/.actionlint-$VERSION"

if [ ! -f "$STAMP" ] || [ ! -x "$BIN/actionlint" ]; then
  echo "fleet: building actionlint $VERSION from the Go module proxy (first run only)" >&2
  mkdir -p "$BIN"
  rm -f "$BIN"/.actionlint-*
  # -mod=readonly: build exactly what go.mod and go.sum pin, never update them.
  # Build to a temporary name and rename, so a concurrent run never execs a partial binary.
  (cd "$MODULE" &&
    CGO_ENABLED=0 go build -mod=readonly -trimpath -o "$BIN/actionlint.tmp.$$" \
      -ldflags "-X github.com/rhysd/actionlint.version=$VERSION" \
      github.com/rhysd/actionlint/cmd/actionlint)
  mv -f "$BIN/actionlint.tmp.$$" "$BIN/actionlint"
  touch "$STAMP"
fi
exec "$BIN/actionlint" "$@"
