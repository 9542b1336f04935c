#!/usr/bin/env bash
# make demo: builds what the demo needs (cached) and runs the walkthrough on a local stack.
# DEMO_ONCE=1 exits after the proof (0 when it held), for CI.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "==> Building kube-apiserver and etcd from module sources (cached after the first run)"
assets=$(hack/envtest-binaries.sh)
echo "==> Building the S3 server versitygw (cached after the first run)"
versitygw=$(hack/versitygw.sh)
echo "==> Building bin/manager, bin/albsim and bin/demo"
mkdir -p bin
CGO_ENABLED=0 go build -o bin/manager ./cmd
CGO_ENABLED=0 go build -o bin/albsim ./cmd/albsim
go build -o bin/demo ./hack/demo

export KUBEBUILDER_ASSETS="$assets" VERSITYGW="$versitygw"
args=()
if [ -n "${DEMO_ONCE:-}" ] && [ "${DEMO_ONCE}" != "0" ]; then
  args+=(--once)
fi
exec bin/demo "${args[@]}" "$@"
