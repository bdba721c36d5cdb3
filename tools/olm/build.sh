#!/usr/bin/env bash
# Builds (or reuses) wso-olm, the tool that writes and validates the OLM bundle (see main.go).
# Cached and built by build_go_tool (tools/go-tool.sh); the last line on stdout is the binary.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=../go-tool.sh
. "$here/../go-tool.sh"
build_go_tool olm "$here" "k8s.io,sigs.k8s.io,github.com/operator-framework,github.com/blang"
