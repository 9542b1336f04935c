#!/usr/bin/env bash
# Regenerates CRDs, RBAC and deepcopy and fails if anything changed: the committed generated
# files must be exactly what `make manifests generate` produces from the sources.
set -euo pipefail
cd "$(dirname "$0")/.."
files() { find config/crd/bases config/rbac api -type f \( -name '*.yaml' -o -name 'zz_generated*.go' \) | sort; }
before=$(files | xargs sha256sum)
make --no-print-directory -s manifests generate >/dev/null
after=$(files | xargs sha256sum)
if [ "$before" != "$after" ]; then
  echo "Generated files were out of date and have been regenerated; review and commit them:" >&2
  diff <(echo "$before") <(echo "$after") >&2 || true
  exit 1
fi
echo "generated files are up to date"
