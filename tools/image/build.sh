#!/usr/bin/env bash
# Builds (or reuses) wso-image, the tool that builds the operator's OCI image archive without a
# Docker daemon (go-containerregistry; see main.go).
# Cached and built by build_go_tool (tools/go-tool.sh); the last line on stdout is the binary.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=../go-tool.sh
. "$here/../go-tool.sh"
build_go_tool image "$here" "github.com/google"
