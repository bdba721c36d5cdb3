#!/usr/bin/env bash
# Builds (or reuses) wso-image, the tool that builds the operator's OCI image archive without a
# Docker daemon (go-containerregistry; see main.go).
# The binary is cached under ${XDG_CACHE_HOME:-~/.cache}/watson-speech-operator/image/<hash>/,
# where <hash> covers go.mod, go.sum and main.go; a present binary is reused. Go's module and build
# caches stay where Go keeps them. Progress goes to stderr; the last line printed on stdout is the
# absolute path of the binary.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
hash=$(cat "$here/go.mod" "$here/go.sum" "$here/main.go" | sha256sum | cut -c1-16)
cache="${XDG_CACHE_HOME:-$HOME/.cache}/watson-speech-operator/image/${hash}"
bin="$cache/wso-image"

export GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS=-mod=mod
# The committed go.sum pins every hash; when the checksum database is unreachable, skip it for
# the paths we pin ourselves.
export GONOSUMDB="${GONOSUMDB:-github.com/google}"

if [ -x "$bin" ]; then
  echo "wso-image ${hash}: cached" >&2
else
  echo "building wso-image ${hash}..." >&2
  mkdir -p "$cache"
  tmp="$(mktemp "$cache/.wso-image.XXXXXX")"
  trap 'rm -f "$tmp"' EXIT
  ( cd "$here" && go build -trimpath -ldflags "-s -w" -o "$tmp" . )
  mv -f "$tmp" "$bin"
  trap - EXIT
fi
echo "$bin"
