#!/usr/bin/env bash
# Builds the Versity Gateway S3 server from its Go module source (the module proxy is the only
# place it can come from here), caches the binary per version in the user cache directory and
# links it into bin/versitygw. Prints the binary path. Safe to run concurrently (flock) and
# cheap when the binary is already cached.
#
#   hack/versitygw.sh        build if needed, print the path of the versitygw binary
#
# Environment: ALBTRUST_CACHE_DIR overrides the cache (default: ${XDG_CACHE_HOME:-~/.cache}/albtrust);
# VERSITYGW_VERSION overrides the pinned version (default v1.8.0).
# versitygw is deliberately not a dependency in our go.mod: it is built in a throwaway module.
set -euo pipefail

VERSION=${VERSITYGW_VERSION:-v1.8.0}
root=$(cd "$(dirname "$0")/.." && pwd)
cache=${ALBTRUST_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/albtrust}
dir="$cache/versitygw-$VERSION"
bin="$dir/versitygw"

log() { echo "versitygw: $*" >&2; }

mkdir -p "$dir"
exec 9>"$dir/.lock"
flock 9

if [ ! -x "$bin" ]; then
  log "building github.com/versity/versitygw/cmd/versitygw@$VERSION (first run only)"
  work=$(mktemp -d)
  trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT
  # `go install pkg@version` builds the module exactly as released, outside any main module,
  # so neither our go.mod nor go.sum is touched.
  (cd "$work" && GOFLAGS=-mod=mod GOBIN="$work/bin" CGO_ENABLED=0 GOWORK=off \
    go install "github.com/versity/versitygw/cmd/versitygw@$VERSION") >&2
  mv "$work/bin/versitygw" "$bin.partial"
  mv "$bin.partial" "$bin"
fi

mkdir -p "$root/bin"
ln -sfn "$bin" "$root/bin/versitygw"
echo "$bin"
