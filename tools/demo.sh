#!/usr/bin/env bash
# `make demo`: a local control plane (etcd + kube-apiserver), the operator with its embedded IBM
# API simulator, and the examples of deploy/examples/ watched until every model is Available.
#
#   1. finds etcd (the `etcd-bin-vendored` crate's binary, via `cargo metadata`) and
#      kube-apiserver/kubectl (tools/k8s-bins/build.sh: built once, then cached);
#   2. makes throwaway certificates with openssl (a CA, a serving certificate for 127.0.0.1, an
#      admin client certificate in system:masters, a service-account key) and a kubeconfig;
#   3. starts etcd and kube-apiserver on free loopback ports, installs crds/;
#   4. builds the operator (debug) and runs it with `--simulator 127.0.0.1:18089` (the embedded
#      IBM API simulator, time scale 0.01) and training expectations scaled to match;
#   5. applies deploy/examples/ in the namespace watson-demo and shows
#      `kubectl get sps,clm,cam,cvm` until every clm/cam/cvm is Available (or the timeout);
#   6. stops everything it started (its own process groups only) on any exit, even SIGKILL
#      (a watchdog notices the script is gone).
#
# Exit status 0 when every model reached Available; otherwise non-zero, with the operator log
# tail, the models' conditions and the directory keeping all logs.
#
# Environment:
#   WSO_DEMO_TIMEOUT   seconds to wait for Available (default 300)
#   WSO_DEMO_KEEP=1    on success keep everything running until Ctrl-C (prints the KUBECONFIG)
#   WSO_K8S_BINS       directory with kube-apiserver and kubectl (default: tools/k8s-bins/build.sh)
#   WSO_ETCD           the etcd binary (default: from the etcd-bin-vendored crate, else PATH)
#   CARGO, CARGO_TARGET_DIR  as for cargo
#   RUST_LOG           the operator's log filter (default info)
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
CARGO="${CARGO:-cargo}"
NAMESPACE=watson-demo
SIM_ADDR=127.0.0.1:18089 # deploy/examples/speech-services.yaml points here
# The IBM service the simulator plays: ibm-cloud (today's service, default) or legacy (also shows
# the acoustic example of deploy/examples/legacy/).
PROFILE="${WSO_DEMO_PROFILE:-ibm-cloud}"
case "$PROFILE" in ibm-cloud|legacy) ;; *) echo "demo: WSO_DEMO_PROFILE must be ibm-cloud or legacy" >&2; exit 2 ;; esac
TIMEOUT="${WSO_DEMO_TIMEOUT:-300}"
START=$SECONDS

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
die() { printf '\033[1;31mdemo: %s\033[0m\n' "$*" >&2; exit 1; }

for tool in openssl python3 setsid; do
  command -v "$tool" >/dev/null || die "$tool is required (openssl makes the throwaway certificates)"
done

WORK="$(mktemp -d "${TMPDIR:-/tmp}/wso-demo.XXXXXX")"
PGIDS=()      # process groups started by this script (each child runs under setsid)
PGNAMES=()    # their names, for messages
WATCHDOG=""
SUCCESS=0
LOG_SHOWN=0

stop_all() { # newest first: the operator, then kube-apiserver, then etcd
  local i pg name
  for ((i = ${#PGIDS[@]} - 1; i >= 0; i--)); do
    pg="${PGIDS[$i]}" name="${PGNAMES[$i]}"
    kill -TERM -- "-$pg" 2>/dev/null || continue
    for _ in $(seq 1 50); do
      kill -0 -- "-$pg" 2>/dev/null || continue 2
      sleep 0.2
    done
    echo "demo: $name did not stop within 10 s of SIGTERM; killing it" >&2
    kill -KILL -- "-$pg" 2>/dev/null || true
  done
  PGIDS=()
  PGNAMES=()
}

on_exit() {
  local rc=$?
  trap - EXIT INT TERM
  stop_all
  [ -n "$WATCHDOG" ] && kill -TERM -- "-$WATCHDOG" 2>/dev/null
  if [ "$rc" != 0 ] && [ "$rc" != 130 ] && [ "$rc" != 143 ] && [ "$LOG_SHOWN" = 0 ] \
    && [ -s "$WORK/operator.log" ]; then
    echo "----- operator log (last 40 lines) -----" >&2
    tail -n 40 "$WORK/operator.log" | sed 's/\x1b\[[0-9;]*m//g' >&2
  fi
  if [ "$SUCCESS" = 1 ]; then
    rm -rf "$WORK"
  else
    echo "demo: logs kept in $WORK" >&2
  fi
  exit "$rc"
}
trap on_exit EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Starts "$@" in its own session (so its process group can be killed as a whole), output to $LOG.
start() { # start LOG COMMAND...
  local log="$1"
  shift
  setsid "$@" >"$log" 2>&1 </dev/null &
  local pid=$!
  disown "$pid" # no job-control chatter; stop_all and the watchdog handle it
  PGIDS+=("$pid")
  PGNAMES+=("$(basename "$log" .log)")
  # The watchdog kills every group when this script disappears, however it exits.
  if [ -n "$WATCHDOG" ]; then kill -TERM -- "-$WATCHDOG" 2>/dev/null || true; fi
  setsid bash -c 'while kill -0 "$1" 2>/dev/null; do sleep 1; done; shift; for g in "$@"; do kill -KILL -- "-$g" 2>/dev/null; done' \
    watchdog "$$" "${PGIDS[@]}" >/dev/null 2>&1 </dev/null &
  WATCHDOG=$!
  disown "$WATCHDOG"
  echo "$pid"
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

port_in_use() { # something accepts connections there (a bind test would trip on TIME_WAIT)
  python3 -c "import socket; socket.create_connection(('${1%:*}', ${1#*:}), 1)" 2>/dev/null
}

wait_for() { # wait_for SECONDS DESCRIPTION COMMAND...; fails early when a started process died
  local limit="$1" what="$2" pg
  shift 2
  local deadline=$((SECONDS + limit))
  until "$@" >/dev/null 2>&1; do
    [ "$SECONDS" -lt "$deadline" ] || return 1
    for pg in "${PGIDS[@]}"; do
      kill -0 "$pg" 2>/dev/null || { echo "   a started process ($pg) exited" >&2; return 1; }
    done
    sleep 0.5
  done
  echo "   $what ready after $((SECONDS - START)) s" >&2
}

port_in_use "$SIM_ADDR" && die "$SIM_ADDR is in use: the simulator needs it (deploy/examples/speech-services.yaml points there)"

# ---------------------------------------------------------------------------------------------
say "locating the binaries"
METADATA="$WORK/cargo-metadata.json"
(cd "$ROOT" && "$CARGO" metadata --format-version 1 --locked >"$METADATA") \
  || die "cargo metadata failed (network needed on the first run to fetch crates)"
read_metadata() {
  python3 - "$METADATA" "$1" <<'EOF'
import json, os, sys
meta = json.load(open(sys.argv[1]))
if sys.argv[2] == "target":
    print(meta["target_directory"])
else:
    # etcd-bin-vendored has one crate per platform, each shipping its binary in bin/etcd.
    system, machine = os.uname().sysname.lower(), os.uname().machine
    arch = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64",
            "ppc64le": "ppc64le", "s390x": "s390x"}.get(machine, machine)
    want = f"etcd-bin-vendored-{system}-{arch}"
    for p in meta["packages"]:
        if p["name"] == want:
            path = os.path.join(os.path.dirname(p["manifest_path"]), "bin", "etcd")
            if os.access(path, os.X_OK):
                print(path)
                break
EOF
}
ETCD="${WSO_ETCD:-$(read_metadata etcd)}"
if [ -z "$ETCD" ]; then
  # The crate is downloaded on first use (cargo test); fetch it, then look again.
  (cd "$ROOT" && "$CARGO" fetch --locked >/dev/null 2>&1) || true
  ETCD="$(read_metadata etcd)"
fi
[ -n "$ETCD" ] || ETCD="$(command -v etcd || true)"
[ -n "$ETCD" ] && "$ETCD" --version >/dev/null 2>&1 \
  || die "no working etcd binary: run 'cargo fetch' (the etcd-bin-vendored dev-dependency ships one) or set WSO_ETCD"
TARGET_DIR="${CARGO_TARGET_DIR:-$(read_metadata target)}"

if [ -n "${WSO_K8S_BINS:-}" ]; then
  BINS="$WSO_K8S_BINS"
else
  BINS="$("$ROOT/tools/k8s-bins/build.sh" | tail -n1)" || die "building the control-plane binaries failed"
fi
for b in kube-apiserver kubectl; do
  [ -x "$BINS/$b" ] || die "$BINS/$b is missing: run 'make k8s-bins'"
done
KUBECTL="$BINS/kubectl"
echo "   etcd:           $ETCD" >&2
echo "   kube-apiserver: $BINS/kube-apiserver" >&2

# ---------------------------------------------------------------------------------------------
say "building the operator (debug)"
(cd "$ROOT" && "$CARGO" build --bin watson-speech-operator) || die "cargo build failed"
OPERATOR="$TARGET_DIR/debug/watson-speech-operator"
[ -x "$OPERATOR" ] || die "$OPERATOR not found after the build"

# ---------------------------------------------------------------------------------------------
say "making throwaway certificates in $WORK/pki"
PKI="$WORK/pki"
mkdir -p "$PKI"
(
  cd "$PKI"
  ossl() { openssl "$@" 2>>openssl.log; }
  ossl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=wso-demo-ca" \
    -keyout ca.key -out ca.crt
  ossl req -newkey rsa:2048 -nodes -subj "/CN=kube-apiserver" -keyout apiserver.key -out apiserver.csr
  printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n' >apiserver.ext
  ossl x509 -req -in apiserver.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 \
    -extfile apiserver.ext -out apiserver.crt
  ossl req -newkey rsa:2048 -nodes -subj "/O=system:masters/CN=wso-demo-admin" \
    -keyout admin.key -out admin.csr
  printf 'extendedKeyUsage=clientAuth\n' >admin.ext
  ossl x509 -req -in admin.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 \
    -extfile admin.ext -out admin.crt
  ossl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out sa.key
  ossl pkey -in sa.key -pubout -out sa.pub
) || die "openssl failed: $(tail -n5 "$PKI/openssl.log" 2>/dev/null)"

# ---------------------------------------------------------------------------------------------
say "starting etcd and kube-apiserver"
ETCD_PORT=$(free_port)
PEER_PORT=$(free_port)
API_PORT=$(free_port)
start "$WORK/etcd.log" "$ETCD" \
  --data-dir="$WORK/etcd" \
  --listen-client-urls="http://127.0.0.1:$ETCD_PORT" \
  --advertise-client-urls="http://127.0.0.1:$ETCD_PORT" \
  --listen-peer-urls="http://127.0.0.1:$PEER_PORT" \
  --initial-advertise-peer-urls="http://127.0.0.1:$PEER_PORT" \
  --initial-cluster="default=http://127.0.0.1:$PEER_PORT" \
  --unsafe-no-fsync=true --log-level=warn >/dev/null
etcd_up() { python3 -c "import socket; socket.create_connection(('127.0.0.1', $ETCD_PORT), 1)"; }
wait_for 30 "etcd" etcd_up || { tail -n 20 "$WORK/etcd.log" >&2; die "etcd did not start (log above)"; }
start "$WORK/kube-apiserver.log" "$BINS/kube-apiserver" \
  --etcd-servers="http://127.0.0.1:$ETCD_PORT" \
  --bind-address=127.0.0.1 --advertise-address=127.0.0.1 --secure-port="$API_PORT" \
  --cert-dir="$WORK/apiserver-certs" \
  --tls-cert-file="$PKI/apiserver.crt" --tls-private-key-file="$PKI/apiserver.key" \
  --client-ca-file="$PKI/ca.crt" \
  --authorization-mode=RBAC \
  --service-cluster-ip-range=10.0.0.0/24 \
  --service-account-issuer=https://kubernetes.default.svc \
  --service-account-key-file="$PKI/sa.pub" --service-account-signing-key-file="$PKI/sa.key" \
  --enable-priority-and-fairness=false --endpoint-reconciler-type=none --v=1 >/dev/null

export KUBECONFIG="$WORK/kubeconfig"
cat >"$KUBECONFIG" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: wso-demo
  cluster:
    server: https://127.0.0.1:$API_PORT
    certificate-authority: $PKI/ca.crt
users:
- name: wso-demo-admin
  user:
    client-certificate: $PKI/admin.crt
    client-key: $PKI/admin.key
contexts:
- name: wso-demo
  context:
    cluster: wso-demo
    user: wso-demo-admin
    namespace: $NAMESPACE
current-context: wso-demo
EOF
k() { "$KUBECTL" "$@"; }

wait_for 90 "kube-apiserver" k get --raw /readyz || {
  tail -n 15 "$WORK/kube-apiserver.log" >&2
  die "kube-apiserver did not become ready in 90 s (log above)"
}

say "installing the CRDs"
k apply --server-side -f "$ROOT/crds/" >/dev/null
k wait --for condition=Established --timeout=60s crd --all >/dev/null
wait_for 30 "CRDs served" k get sps,clm,cam,cvm -A

# ---------------------------------------------------------------------------------------------
# The embedded simulator runs at its default time scale 0.01 (a 10-minute training takes 6 s);
# the operator's expectations of training time (default 600 s, checks up to 300 s apart) are
# scaled to match, or it would look at a finished training only minutes later.
say "starting the operator with its embedded IBM API simulator on $SIM_ADDR"
OPERATOR_LOG="$WORK/operator.log"
METRICS_ADDR="127.0.0.1:$(free_port)" # loopback only, and no clash with anything on :8080
start "$OPERATOR_LOG" env RUST_LOG="${RUST_LOG:-info}" KUBECONFIG="$KUBECONFIG" \
  WSO_METRICS_ADDRESS="$METRICS_ADDR" \
  "$OPERATOR" run --simulator "$SIM_ADDR" --simulator-profile "$PROFILE" --drift-interval-seconds 60 \
  --expected-training-seconds 6 --max-poll-seconds 5 >/dev/null
operator_log_tail() {
  LOG_SHOWN=1
  echo "----- operator log (last ${1:-60} lines of $OPERATOR_LOG) -----" >&2
  tail -n "${1:-60}" "$OPERATOR_LOG" | sed 's/\x1b\[[0-9;]*m//g' >&2
  echo "-----" >&2
}
sim_up() { python3 -c "import socket,sys; socket.create_connection(('${SIM_ADDR%:*}', ${SIM_ADDR#*:}), 1)"; }
wait_for 30 "simulator" sim_up || { operator_log_tail; die "the operator did not start its simulator"; }

# ---------------------------------------------------------------------------------------------
say "applying deploy/examples/ in namespace $NAMESPACE"
k create namespace "$NAMESPACE" >/dev/null
k apply -f "$ROOT/deploy/examples/"
if [ "$PROFILE" = legacy ]; then
  # Acoustic customization exists only on the legacy service (previous-generation models).
  say "legacy profile: also applying deploy/examples/legacy/ (acoustic model)"
  k apply -f "$ROOT/deploy/examples/legacy/"
fi
APPLIED=$SECONDS

say "waiting up to $TIMEOUT s for every model to be Available"
# One line per model: kind/name phase.
phases() {
  k get clm,cam,cvm -n "$NAMESPACE" \
    -o jsonpath='{range .items[*]}{.kind}/{.metadata.name} {.status.phase}{"\n"}{end}'
}
deadline=$((SECONDS + TIMEOUT))
last=""
while :; do
  table="$(k get sps,clm,cam,cvm -n "$NAMESPACE" 2>&1 || true)"
  if [ "$table" != "$last" ]; then
    printf '\n[%3d s]\n%s\n' "$((SECONDS - START))" "$table"
    last="$table"
  fi
  p="$(phases 2>/dev/null || true)"
  if [ -n "$p" ] && ! grep -qv ' Available$' <<<"$p"; then
    break
  fi
  if [ "$SECONDS" -ge "$deadline" ]; then
    echo >&2
    echo "demo: not every model is Available after $TIMEOUT s:" >&2
    grep -v ' Available$' <<<"$p" | sed 's/^/  /' >&2
    echo "----- conditions -----" >&2
    k get clm,cam,cvm,sps -n "$NAMESPACE" -o jsonpath='{range .items[*]}{.kind}/{.metadata.name}{"\n"}{range .status.conditions[*]}{"  "}{.type}={.status} {.reason}: {.message}{"\n"}{end}{end}' >&2 || true
    echo "----- status of the models not Available -----" >&2
    grep -v ' Available$' <<<"$p" | while read -r obj _; do
      k get -n "$NAMESPACE" "${obj%%/*}.speech.watson.dev/${obj#*/}" -o json \
        | python3 -c 'import json,sys; s=json.load(sys.stdin).get("status",{}); s.pop("conditions",None); print(json.dumps(s,indent=1))' >&2 || true
    done
    echo "----- events -----" >&2
    k get events -n "$NAMESPACE" --sort-by=.lastTimestamp 2>&1 | tail -n 25 >&2 || true
    operator_log_tail 80
    exit 1
  fi
  sleep 3
done

echo
say "every model is Available: $((SECONDS - APPLIED)) s after apply, $((SECONDS - START)) s in all"

# Issue 28: a test set the simulator recognises (written by the operator's `test-set` command from
# lines a caller might say), and the help desk model measured on it under an evaluation gate: the
# WER column fills in, and the condition Promoted says the model in service passed.
say "measuring model helpdesk on a test set (watson-speech-operator test-set; policy Gate)"
cat >"$WORK/testset.txt" <<'LINES'
My fiber router keeps dropping the connection every evening.
Please restart the optical network terminal and wait for the green light.
The VoIP line has an echo when I call international numbers.
Can you send a technician to check the splitter in the basement?
LINES
"$OPERATOR" test-set --from "$WORK/testset.txt" --out "$WORK/testset" --name helpdesk-tests \
  --namespace "$NAMESPACE" >/dev/null || die "test-set failed"
k apply --server-side -f "$WORK/testset/test-set.yaml" >/dev/null # too large for the last-applied annotation
k patch clm helpdesk --type merge -p '{"spec":{"evaluation":{"policy":"Gate","testSet":{
  "manifest":{"configMapKeyRef":{"name":"helpdesk-tests-manifest","key":"manifest.csv"}},
  "audio":{"configMapName":"helpdesk-tests-audio"}}}}}' >/dev/null
measured() { [ -n "$(k get clm helpdesk -n "$NAMESPACE" -o jsonpath='{.status.evaluation.wer}')" ]; }
wait_for 120 "WER of helpdesk" measured || { operator_log_tail; die "model helpdesk was not measured in 120 s"; }
k get sps,clm,cam,cvm -n "$NAMESPACE" -o wide
k get clm helpdesk -n "$NAMESPACE" \
  -o jsonpath='{range .status.conditions[?(@.type=="Promoted")]}Promoted={.status} {.reason}: {.message}{"\n"}{end}'
SUCCESS=1

if [ "${WSO_DEMO_KEEP:-0}" = 1 ]; then
  SUCCESS=0 # keep the logs
  echo
  echo "Everything keeps running; press Ctrl-C to stop. Try:"
  echo "  export KUBECONFIG=$KUBECONFIG"
  echo "  $KUBECTL describe clm helpdesk"
  echo "  tail -f $OPERATOR_LOG"
  echo "  curl -s http://$METRICS_ADDR/metrics"
  while :; do sleep 1; done
fi
