#!/usr/bin/env bash
# Builds (or reuses) wso-health, the tool that judges a live object's health the way GitOps tools
# do (kstatus as in Flux/kpt, and optionally an Argo CD Lua health check); see main.go.
# Cached and built by build_go_tool (tools/go-tool.sh); the last line on stdout is the binary.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=../go-tool.sh
. "$here/../go-tool.sh"
build_go_tool health "$here" "k8s.io,sigs.k8s.io,github.com/yuin"
