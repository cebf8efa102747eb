#!/usr/bin/env bash
# The drift drill (issue 21; runbooks/drift_drill.md), a minute or two:
#   scripts/drift_drill.sh
# Starts `node dist/server.js` in a temp data folder on a free port, runs `aegis drift sample`
# against it (train and promote the sample model, serve a baseline-like then a drifted stream,
# a drift run over each window: only the drifted one may raise a suggestion), verifies the audit
# chain, stops the server (which archives the audit log), rebuilds a fresh database from the
# archive with `aegis rebuild-index` (the object store, audit archive, keys and drift store
# copied; the database not), checks parity with the original, and reads the suggestion back from
# the rebuilt registry: same id, status and signature. Exit 0 when all of that held; 1 on any
# deviation. Needs dist/ (node scripts/build.mjs), curl and jq.
set -euo pipefail
SCRIPT_NAME=drift-drill
# shellcheck source=scripts/lib/local-canary.sh
. "$(dirname "$0")/lib/local-canary.sh"
MODEL=drift-sample

# stop_server: SIGTERM, so the server closes cleanly and archives what the archive lacks
stop_server() {
  kill "$SERVER_PID" 2>/dev/null || die "the server (pid $SERVER_PID) was not running"
  wait "$SERVER_PID" 2>/dev/null || true
  SERVER_PID=
}

# serving writes its input segments within a second (default 10 s), so the sample waits 2 s instead of 12
start_server AEGIS_SERVING_SEGMENT_SECONDS=1
(cd "$ROOT" && aegis --json drift sample --model "$MODEL" --env staging --flush-wait 2) >"$WORK/sample.json" 2>"$WORK/sample.log" ||
  die "aegis drift sample failed: $(jq -r '.problems // [] | join("; ")' "$WORK/sample.json" 2>/dev/null) $(tail -20 "$WORK/sample.log")"
sed -n 's/^aegis: \([1-6]\/6\|registered\|promotion\|served\|baseline-like run\|drifted run\)/    \1/p' "$WORK/sample.log"
SUGGESTION=$(jq -c '.suggestion | {suggestionId, status, signature}' "$WORK/sample.json")
SID=$(jq -r .suggestionId <<<"$SUGGESTION")
for w in 0 1; do
  step "$(jq -r ".windows[$w] | \"\(.name) window: report \(.report.reportId) \(.report.verdict), \(.report.summary.rows) rows, suggestion \(.report.suggestionId)\"" "$WORK/sample.json")"
done
step "drift sample PASSED: suggestion $SID $(jq -r .status <<<"$SUGGESTION"), signed by $(jq -r .signature.signerId <<<"$SUGGESTION"); reasons $(jq -c '[.suggestion.reasons[] | "\(.detector)\(if .feature then " " + .feature else "" end) \(.metric)"]' "$WORK/sample.json")"

aegis audit-verify >"$WORK/audit.txt" || die "audit-verify failed: $(cat "$WORK/audit.txt")"
step "audit-verify: $(head -1 "$WORK/audit.txt")"

stop_server
step "server stopped (the audit log archived on close)"
# the original folder becomes the source; a fresh one gets what survives the database: objects, archive, keys, drift store
mv "$WORK/data" "$WORK/source"
mkdir -p "$WORK/data"
for part in objects audit-archive keys drift; do
  if [ -d "$WORK/source/$part" ]; then cp -a "$WORK/source/$part" "$WORK/data/$part"; fi
done
export AEGIS_DATA_DIR="$WORK/data"
(DEV_ALLOW_EPHEMERAL=true NODE_ENV=development aegis rebuild-index --verify-bytes) >"$WORK/rebuild.txt" 2>"$WORK/rebuild.log" ||
  die "rebuild-index failed: $(tail -20 "$WORK/rebuild.txt") $(tail -5 "$WORK/rebuild.log")"
step "rebuild-index into a fresh database: $(grep -m1 -i 'restored\|rebuilt' "$WORK/rebuild.txt" || head -1 "$WORK/rebuild.txt")"
(DEV_ALLOW_EPHEMERAL=true NODE_ENV=development aegis parity --against-data-dir "$WORK/source") >"$WORK/parity.txt" 2>&1 ||
  die "parity with the original registry: $(head -30 "$WORK/parity.txt")"
step "parity: $(head -1 "$WORK/parity.txt")"

start_server
REBUILT=$(curl -sf -H "authorization: Bearer $ADMIN_TOKEN" "$AEGIS_URL/v1/drift/suggestions/$SID") ||
  die "GET /v1/drift/suggestions/$SID on the rebuilt registry failed: $(curl -s -H "authorization: Bearer $ADMIN_TOKEN" "$AEGIS_URL/v1/drift/suggestions/$SID")"
expect "$(jq -c '.suggestion | {suggestionId, status, signature}' <<<"$REBUILT")" "$SUGGESTION" "the rebuilt suggestion (id, status, signature)"
step "the rebuilt registry holds suggestion $SID: same status and signature"
aegis audit-verify >"$WORK/audit-rebuilt.txt" || die "audit-verify on the rebuilt registry failed: $(cat "$WORK/audit-rebuilt.txt")"
step "audit-verify on the rebuilt registry: $(head -1 "$WORK/audit-rebuilt.txt")"
echo "DRIFT DRILL PASSED"
