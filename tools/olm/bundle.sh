#!/usr/bin/env bash
# Writes the OLM bundle into <out> (default bundle/) from the same sources as the chart: `helm
# template` of charts/watson-speech-operator (openshift=true: OpenShift's restricted-v2 assigns the
# UID), crds/, deploy/examples/ and tools/olm/csv-base.yaml, through wso-olm (tools/olm/main.go).
# `make bundle` runs it; tests/ecosystem/olm.rs runs it into a temporary directory and compares.
# Usage: tools/olm/bundle.sh [out] [image]; the version is the chart's appVersion.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"
out="${1:-bundle}"
version="$(sed -n 's/^appVersion: "\(.*\)"/\1/p' charts/watson-speech-operator/Chart.yaml)"
image="${2:-watson-speech-operator:${version}}"
repository="${image%:*}"
tag="${image##*:}"
bins="${WSO_K8S_BINS:-$(tools/k8s-bins/build.sh 2>/dev/null | tail -n1)}"
tool="$(tools/olm/build.sh | tail -n1)"
"$bins/helm" template watson-speech-operator charts/watson-speech-operator \
  --namespace watson-speech-operator --set openshift=true --set crds.enabled=false \
  --set "image.repository=${repository}" --set "image.tag=${tag}" |
  "$tool" generate -render - -crds crds/speech.watson.dev.yaml -examples deploy/examples \
    -base tools/olm/csv-base.yaml -icon tools/olm/icon.svg \
    -version "$version" -image "$image" -out "$out"
echo "$out"
