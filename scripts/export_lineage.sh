#!/usr/bin/env bash
# Export an artifact's signed lineage bundle for auditors (the seed's tools/export_lineage.sh):
#   scripts/export_lineage.sh --artifact-id <id> --out <dir>
# Verify it offline, with no server:  npx aegis verify-bundle <dir> --trusted-keys keys.json
set -euo pipefail
exec node "$(dirname "$0")/../bin/aegis.js" export-lineage "$@"
