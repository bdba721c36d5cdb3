#!/usr/bin/env bash
# Builds (or reuses) wso-olm, the tool that writes and validates the OLM bundle (see main.go).
# The binary is cached under ${XDG_CACHE_HOME:-~/.cache}/watson-speech-operator/olm/<hash>/,
# where <hash> covers go.mod, go.sum and main.go; a present binary is reused. Go's module and build
# caches stay where Go keeps them. Progress goes to stderr; the last line printed on stdout is the
# absolute path of the binary.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
hash=$(cat "$here/go.mod" "$here/go.sum" "$here/main.go" | sha256sum | cut -c1-16)
cache="${XDG_CACHE_HOME:-$HOME/.cache}/watson-speech-operator/olm/${hash}"
bin="$cache/wso-olm"

export GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS=-mod=mod
# The committed go.sum pins every hash; when the checksum database is unreachable, skip it for
# the paths we pin ourselves.
export GONOSUMDB="${GONOSUMDB:-k8s.io,sigs.k8s.io,github.com/operator-framework,github.com/blang}"

if [ -x "$bin" ]; then
  echo "wso-olm ${hash}: cached" >&2
else
  echo "building wso-olm ${hash}..." >&2
  mkdir -p "$cache"
  tmp="$(mktemp "$cache/.wso-olm.XXXXXX")"
  trap 'rm -f "$tmp"' EXIT
  ( cd "$here" && go build -trimpath -ldflags "-s -w" -o "$tmp" . )
  mv -f "$tmp" "$bin"
  trap - EXIT
fi
echo "$bin"
