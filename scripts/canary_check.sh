#!/usr/bin/env bash
# The local canary simulation (issue 17; runbooks/canary_rollback.md), about a minute:
#   scripts/canary_check.sh
# Starts `node dist/server.js` in a temp data folder on a free port, trains a stable model and
# two candidates with `aegis train --record` on test/data/sample (the built-in trainer), promotes
# the stable, then each candidate as a canary (50 %, one 3 s window) under deterministic
# synthetic traffic with label feedback: the healthy candidate must be promoted, the regressed
# one (trained on the sample with its labels shuffled) rolled back on quality. The server runs
# with a copy of policies/ whose offline metric tolerance is 1: the default one stops the
# regressed model at the gate already (its holdout AUC is 0.5), and this is the judge's check. Ends with
# `aegis audit-verify` and prints the timeline. Exit 0 when all of that held; 1 on any
# deviation. Needs dist/ (node scripts/build.mjs), curl and jq.
set -euo pipefail
SCRIPT_NAME=canary-check
# shellcheck source=scripts/lib/local-canary.sh
. "$(dirname "$0")/lib/local-canary.sh"
MODEL=churn
CANARY=(--canary-percent 50 --canary-steps 1 --canary-window 3 --min-requests 60 --min-labelled 50 --max-inconclusive 2)

simulation_policies
start_server
INVOKER=$(aegis --json tokens create --principal canary-traffic --role invoker | jq -r .token)

sim shuffle-labels "$SAMPLE" "$WORK/shuffled" 17
STABLE=$(train stable 7 sample "$SAMPLE")
step "trained and registered the stable model       $STABLE"
HEALTHY=$(train healthy 8 sample "$SAMPLE")
step "trained and registered the healthy candidate  $HEALTHY"
REGRESSED=$(train regressed 7 shuffled "$WORK/shuffled")
step "trained and registered the regressed candidate $REGRESSED (labels shuffled, seed 17)"

P=$(promote "$STABLE" canary --canary-steps 0)
expect "$(settle "$P")" succeeded "the stable's promotion"
step "the stable serves $MODEL in canary (promotion $P)"

# run_canary ARTIFACT TAG: promotes ARTIFACT as a canary, drives traffic until it settles
run_canary() {
  local p out
  p=$(promote "$1" canary "${CANARY[@]}")
  step "canary of $1 started (promotion $p): 50 %, one 3 s window, min 60 requests and 50 labels per arm"
  out=$(AEGIS_INVOKER_TOKEN=$INVOKER sim traffic --model "$MODEL" --env canary --promotion "$p" --tag "$2" --data "$SAMPLE/train.csv") ||
    die "traffic for $2 failed"
  step "traffic: $(jq -c '{requests, labels}' <<<"$out")"
  PROMOTION=$(aegis --json promotions --id "$p")
  TRAFFIC=$out
}

run_canary "$HEALTHY" healthy
expect "$(jq -r .status <<<"$PROMOTION")" succeeded "the healthy canary's promotion"
expect "$(jq -r '[.verdicts[] | .verdict] | last' <<<"$PROMOTION")" pass "the healthy canary's last verdict"
expect "$(jq -r '.artifacts.canary | join(",")' <<<"$TRAFFIC")" "$HEALTHY" "the artifact answering as canary"
step "PROMOTED: $(jq -r '.verdicts | last | "\(.verdict) (\(.reason)) at \(.percent)%: \(.requests.stable) stable / \(.requests.canary) canary requests"' <<<"$PROMOTION")"

run_canary "$REGRESSED" regressed
expect "$(jq -r .status <<<"$PROMOTION")" rolled_back "the regressed canary's promotion"
VERDICT=$(jq -c '[.verdicts[] | select(.verdict == "fail")] | last' <<<"$PROMOTION")
[ "$VERDICT" != null ] || die "the regressed canary was rolled back without a failed verdict: $(jq -c .verdicts <<<"$PROMOTION")"
expect "$(jq -r .reason <<<"$VERDICT")" quality "the metric the failed verdict names"
step "ROLLED BACK on $(jq -r .reason <<<"$VERDICT"): $(jq -r .detail <<<"$VERDICT")"
EVENTS=$(aegis --json audit list --subject "promotion:$(jq -r .promotionId <<<"$PROMOTION")" | jq -r '[.items[].type] | join(" ")')
[[ " $EVENTS " == *" promotion.rolled_back "* ]] || die "no promotion.rolled_back in the audit chain: $EVENTS"
step "audit: $EVENTS"

head -2 "$SAMPLE/train.csv" | cut -d, -f1-5 >"$WORK/rows.csv"
SERVING=$(AEGIS_TOKEN=$INVOKER aegis --json predict --model "$MODEL" --env canary --input "$WORK/rows.csv") ||
  die "aegis predict failed: $SERVING"
expect "$(jq -r .artifactId <<<"$SERVING")" "$HEALTHY" "the artifact serving after the rollback"
step "the healthy model serves again: $(jq -r '"\(.variant) \(.artifactId)"' <<<"$SERVING")"
aegis canary status --model "$MODEL" --env canary --window 10 | sed 's/^/    /'

aegis audit-verify >"$WORK/audit.txt" || die "audit-verify failed: $(cat "$WORK/audit.txt")"
step "audit-verify: $(head -1 "$WORK/audit.txt")"
echo "CANARY CHECK PASSED"
