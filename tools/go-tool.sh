# Sourced by tools/{health,image,olm}/build.sh: builds (or reuses) one of the project's Go tools.
#
# build_go_tool NAME DIR NOSUMDB
#   Builds the Go main package in DIR as wso-NAME, cached under
#   ${XDG_CACHE_HOME:-~/.cache}/watson-speech-operator/NAME/<hash>/, where <hash> covers DIR's
#   go.mod, go.sum and main.go; a present binary is reused. Go's module and build caches stay where
#   Go keeps them. NOSUMDB (comma-separated module path prefixes) is GONOSUMDB unless the caller's
#   environment sets it: the committed go.sum pins every hash, so when the checksum database is
#   unreachable it is skipped for the paths we pin ourselves. Progress goes to stderr; the last
#   line printed on stdout is the absolute path of the binary.
build_go_tool() {
  local name="$1" dir="$2" nosumdb="$3"
  local hash cache bin tmp
  hash=$(cat "$dir/go.mod" "$dir/go.sum" "$dir/main.go" | sha256sum | cut -c1-16)
  cache="${XDG_CACHE_HOME:-$HOME/.cache}/watson-speech-operator/${name}/${hash}"
  bin="$cache/wso-${name}"
  export GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS=-mod=mod
  export GONOSUMDB="${GONOSUMDB:-$nosumdb}"
  if [ -x "$bin" ]; then
    echo "wso-${name} ${hash}: cached" >&2
  else
    echo "building wso-${name} ${hash}..." >&2
    mkdir -p "$cache"
    tmp="$(mktemp "$cache/.wso-${name}.XXXXXX")"
    trap 'rm -f "$tmp"' EXIT
    ( cd "$dir" && go build -trimpath -ldflags "-s -w" -o "$tmp" . )
    mv -f "$tmp" "$bin"
    trap - EXIT
  fi
  echo "$bin"
}
