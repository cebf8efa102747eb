#!/usr/bin/env bash
# Disaster-recovery drill (runbooks/dr_drill.md): back up a local registry, rebuild it from
# the object-store snapshot alone, and compare with the database backup.
#   scripts/dr_drill.sh [--artifacts N] [--data-dir DIR] [--keep]
# Exit 0 when the rebuilt registry verifies and equals the backup; 1 otherwise.
set -euo pipefail
cd "$(dirname "$0")/.."
exec npx tsx scripts/dr-drill.ts "$@"
