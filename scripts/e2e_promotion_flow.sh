#!/usr/bin/env bash
# The end-to-end promotion flow on the local stack (issue 17), about a minute:
#   scripts/e2e_promotion_flow.sh
# train (aegis train --record) → register → verify the signed manifest → staging → a canary
# judged on served traffic with labels → prod with 3-of-5 multisig approvals (approver keys
# made and enrolled here, approvals signed locally) → an injected regression (a candidate
# trained on the sample with its labels shuffled) rolled back automatically on quality, the
# prod model still serving → the same regression as a shadow (a copy of each request, never
# returned) discarded on its disagreement with what serves → audit-verify. Exit 0 when every step did what it should; 1 on any
# deviation. Needs dist/ (node scripts/build.mjs), curl and jq. The server runs with a copy of
# policies/ where `churn` is high risk (multisig for prod) and the offline metric tolerance is 1,
# so the regression reaches its canary (see scripts/lib/local-canary.sh).
set -euo pipefail
SCRIPT_NAME=e2e-promotion
# shellcheck source=scripts/lib/local-canary.sh
. "$(dirname "$0")/lib/local-canary.sh"
MODEL=churn

simulation_policies "$MODEL"
start_server
INVOKER=$(aegis --json tokens create --principal e2e-traffic --role invoker | jq -r .token)

# train_register RUN SEED DATASET_ID DATASET_DIR: train --record, then register and verify; prints the artifact id
train_register() {
  local out id
  out=$(cd "$ROOT" && aegis --json train --record --model "$MODEL" --dataset "$3@v1=$4" --seed "$2" \
    --out "$WORK/runs/$1" --allow-dirty 2>"$WORK/train-$1.log") || die "aegis train $1 failed: $out"
  aegis --json datasets register --id "$3" --version v1 --path "$4" >/dev/null 2>&1 || die "aegis datasets register $3 failed"
  out=$(aegis --json register --model "$MODEL" --artifact "$WORK/runs/$1.tar.gz" --manifest "$WORK/runs/$1.manifest.json") ||
    die "aegis register $1 failed: $out"
  id=$(jq -r .artifactId <<<"$out")
  out=$(aegis --json verify-manifest --artifact-id "$id") || die "the manifest of $1 does not verify: $out"
  expect "$(jq -r .ok <<<"$out")" true "verify-manifest $1"
  echo "$id"
}

# canary ARTIFACT TAG [promote flags]: a canary in the canary environment, driven until it settles
canary() {
  local id=$1 tag=$2 p out
  shift 2
  p=$(promote "$id" canary --canary-percent 50 --canary-steps 1 --max-inconclusive 3 "$@")
  out=$(AEGIS_INVOKER_TOKEN=$INVOKER sim traffic --model "$MODEL" --env canary --promotion "$p" --tag "$tag" --data "$SAMPLE/train.csv") ||
    die "traffic for $tag failed"
  step "canary of $id (promotion $p) under traffic: $(jq -c '{requests, labels}' <<<"$out")"
  PROMOTION=$(aegis --json promotions --id "$p")
  step "  verdicts: $(jq -c '[.verdicts[] | {verdict, reason, requests, detail}]' <<<"$PROMOTION")"
}

sim shuffle-labels "$SAMPLE" "$WORK/shuffled" 17
BASE=$(train_register base 7 sample "$SAMPLE")
step "trained, registered and verified the base model $BASE"
CANDIDATE=$(train_register candidate 8 sample "$SAMPLE")
step "trained, registered and verified the candidate  $CANDIDATE"
REGRESSED=$(train_register regressed 7 shuffled "$WORK/shuffled")
step "trained, registered and verified the regressed  $REGRESSED (labels shuffled, seed 17)"

expect "$(settle "$(promote "$BASE" canary --canary-steps 0)")" succeeded "the base model's promotion to canary"
expect "$(settle "$(promote "$CANDIDATE" staging)")" succeeded "the candidate's promotion to staging"
step "the base model serves the canary environment; the candidate serves staging"

# prod needs a canary that passed with at least 200 requests per arm (policies/README.md)
canary "$CANDIDATE" candidate --canary-window 5 --min-requests 200
expect "$(jq -r .status <<<"$PROMOTION")" succeeded "the candidate's canary"
step "canary PASSED: $(jq -r '.verdicts | last | "\(.requests.stable) stable / \(.requests.canary) canary requests, \(.reason)"' <<<"$PROMOTION")"

for i in 1 2 3; do
  aegis keys generate --out "$WORK/approver-$i.pem" >/dev/null
  aegis keys add --role approver --kid "approver-$i" --owner "person-$i" --public-key "$WORK/approver-$i.pem.pub" >/dev/null ||
    die "enrolling approver-$i failed"
done
step "three approver keys made here and enrolled (private keys never sent)"
OUT=$(aegis --json promote --artifact-id "$CANDIDATE" --env prod --reason "go live" --canary-steps 0) || die "promote to prod: $OUT"
PROD=$(jq -r .promotionId <<<"$OUT")
expect "$(jq -r .status <<<"$OUT")" pending_multisig "the prod promotion of a high-risk model"
step "prod promotion $PROD waits for $(jq -r .threshold <<<"$OUT") approvals"
for i in 1 2 3; do
  aegis approve --promotion "$PROD" --key "$WORK/approver-$i.pem" --kid "approver-$i" >/dev/null 2>&1 ||
    die "approval $i failed"
done
expect "$(settle "$PROD")" succeeded "the prod promotion after 3 approvals"
step "prod promotion SUCCEEDED: $(aegis --json promotions --id "$PROD" | jq -r '[.approvals[].approverId] | join(", ")')"

head -2 "$SAMPLE/train.csv" | cut -d, -f1-5 >"$WORK/rows.csv"
OUT=$(AEGIS_TOKEN=$INVOKER aegis --json predict --model "$MODEL" --env prod --input "$WORK/rows.csv") || die "predict on prod: $OUT"
expect "$(jq -r .artifactId <<<"$OUT")" "$CANDIDATE" "the artifact serving prod"
step "prod answers with $(jq -r .artifactId <<<"$OUT") (manifest signature $(jq -r .manifestSignatureId <<<"$OUT"))"

canary "$REGRESSED" regressed --canary-window 3 --min-requests 60 --min-labelled 50
expect "$(jq -r .status <<<"$PROMOTION")" rolled_back "the regressed canary"
VERDICT=$(jq -c '[.verdicts[] | select(.verdict == "fail")] | last' <<<"$PROMOTION")
expect "$(jq -r .reason <<<"$VERDICT")" quality "the metric the failed verdict names"
step "regression ROLLED BACK automatically on quality: $(jq -r .detail <<<"$VERDICT")"
OUT=$(AEGIS_TOKEN=$INVOKER aegis --json predict --model "$MODEL" --env canary --input "$WORK/rows.csv") || die "predict on canary: $OUT"
expect "$(jq -r .artifactId <<<"$OUT")" "$CANDIDATE" "the artifact serving the canary environment after the rollback"
OUT=$(AEGIS_TOKEN=$INVOKER aegis --json predict --model "$MODEL" --env prod --input "$WORK/rows.csv") || die "predict on prod: $OUT"
expect "$(jq -r .artifactId <<<"$OUT")" "$CANDIDATE" "the artifact serving prod after the rollback"
step "the candidate still serves canary and prod"

# a shadow: the regression answers a copy of each request, compared with what serves; callers
# only ever get the stable answer, and the shadow is discarded with the reason
P=$(promote "$REGRESSED" canary --strategy shadow --shadow-percent 100 --then canary --canary-window 3 --min-requests 60 --max-inconclusive 3)
OUT=$(AEGIS_INVOKER_TOKEN=$INVOKER sim traffic --model "$MODEL" --env canary --promotion "$P" --tag shadow --data "$SAMPLE/train.csv") ||
  die "traffic for the shadow failed"
step "shadow of $REGRESSED (promotion $P) under traffic: $(jq -c '{requests, labels}' <<<"$OUT")"
expect "$(jq -r '.requests.canary' <<<"$OUT")" 0 "requests answered by the shadowed candidate"
expect "$(jq -r '.artifacts.stable | join(",")' <<<"$OUT")" "$CANDIDATE" "the artifact callers got during the shadow"
PROMOTION=$(aegis --json promotions --id "$P")
step "  verdicts: $(jq -c '[.verdicts[] | {phase, verdict, reason, agreement, requests}]' <<<"$PROMOTION")"
expect "$(jq -r .status <<<"$PROMOTION")" rolled_back "the regressed shadow"
VERDICT=$(jq -c '[.verdicts[] | select(.verdict == "fail")] | last' <<<"$PROMOTION")
expect "$(jq -r .phase <<<"$VERDICT")" shadow "the phase of the failed window"
step "shadow DISCARDED: $(jq -r .detail <<<"$VERDICT" | tail -1); $(jq -r .rollout.reason <<<"$PROMOTION")"

aegis audit-verify >"$WORK/audit.txt" || die "audit-verify failed: $(cat "$WORK/audit.txt")"
step "audit-verify: $(head -1 "$WORK/audit.txt")"
echo "E2E PROMOTION FLOW PASSED"
