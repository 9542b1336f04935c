#!/usr/bin/env bash
# Builds kube-apiserver and etcd from their Go module sources, because setup-envtest's
# prebuilt downloads cannot be reached from here. The binaries are cached per version in the
# user cache directory, so a fresh clone on the same machine reuses them in seconds, and are
# linked into bin/k8s/<version>. Prints that directory, ready for KUBEBUILDER_ASSETS.
#
#   hack/envtest-binaries.sh            build if needed, print the assets directory
#
# Environment: ALBTRUST_CACHE_DIR overrides the cache (default: ${XDG_CACHE_HOME:-~/.cache}/albtrust).
set -euo pipefail

K8S_VERSION=${K8S_VERSION:-v1.37.2}
STAGING_VERSION=${STAGING_VERSION:-v0.37.2}
ETCD_VERSION=${ETCD_VERSION:-v3.7.3}

root=$(cd "$(dirname "$0")/.." && pwd)
cache=${ALBTRUST_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/albtrust}
key="k8s-${K8S_VERSION}-etcd-${ETCD_VERSION}-$(go env GOOS)-$(go env GOARCH)"
out="$cache/envtest/$key"
assets="$root/bin/k8s/$key"

log() { echo "envtest-binaries: $*" >&2; }

# prepare_module copies a module out of the module cache into a writable tree with its local
# replace directives pinned to released versions, so it builds on its own.
prepare_module() {
  local mod=$1 ver=$2 dest=$3 pin_prefix=$4 pin_version=$5
  local dir
  dir=$(GOFLAGS=-mod=mod go mod download -json "$mod@$ver" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
  [ -n "$dir" ] || { log "could not download $mod@$ver"; exit 1; }
  rm -rf "$dest"
  cp -r "$dir" "$dest"
  chmod -R u+w "$dest"
  rm -rf "$dest/vendor" "$dest/go.work" "$dest/go.work.sum"
  # Rewrite `M => ./x` and `M => ../x` replaces (single-line and block forms) to `M => M <version>`.
  find "$dest" -name go.mod -not -path '*/testdata/*' | while read -r gomod; do
    awk -v prefix="$pin_prefix" -v pv="$pin_version" '
      function pin(line,    parts, m) {
        # line looks like: [replace ]M [v] => ./path
        n = split(line, parts, /[ \t]+/)
        m = ""
        for (i = 1; i <= n; i++) { if (parts[i] != "" && parts[i] != "replace") { m = parts[i]; break } }
        return m
      }
      /^replace[ \t].*=>[ \t]*\.\.?\// { m = pin($0); print "replace " m " => " m " " pv; next }
      /^replace[ \t]*\(/ { inblock = 1; print; next }
      inblock && /^\)/ { inblock = 0; print; next }
      inblock && /=>[ \t]*\.\.?\// { m = pin($0); print "\t" m " => " m " " pv; next }
      { print }
    ' "$gomod" >"$gomod.tmp" && mv "$gomod.tmp" "$gomod"
  done
  : "$pin_prefix"
}

build() {
  local work
  work=$(mktemp -d)
  trap 'rm -rf "$work"' RETURN
  mkdir -p "$out.partial"

  log "building kube-apiserver $K8S_VERSION from module sources (several minutes the first time)"
  prepare_module k8s.io/kubernetes "$K8S_VERSION" "$work/kubernetes" k8s.io "$STAGING_VERSION"
  (cd "$work/kubernetes" && GOFLAGS=-mod=mod CGO_ENABLED=0 go build -o "$out.partial/kube-apiserver" ./cmd/kube-apiserver)

  log "building etcd $ETCD_VERSION from module sources"
  prepare_module go.etcd.io/etcd/server/v3 "$ETCD_VERSION" "$work/etcd" go.etcd.io "$ETCD_VERSION"
  (cd "$work/etcd" && GOFLAGS=-mod=mod CGO_ENABLED=0 go build -o "$out.partial/etcd" .)

  rm -rf "$out"
  mv "$out.partial" "$out"
}

if [ ! -x "$out/kube-apiserver" ] || [ ! -x "$out/etcd" ]; then
  mkdir -p "$cache/envtest"
  # One build at a time per cache, even when several make targets start together.
  exec 9>"$cache/envtest/.lock"
  flock 9
  if [ ! -x "$out/kube-apiserver" ] || [ ! -x "$out/etcd" ]; then
    build
  fi
fi

mkdir -p "$assets"
for b in kube-apiserver etcd; do
  ln -sf "$out/$b" "$assets/$b"
done
echo "$assets"
