# Shared by scripts/canary_check.sh and scripts/e2e_promotion_flow.sh (sourced, not run): a local
# server in a temp data folder, the CLI against it, a timeline, and checks that stop the run.
# Needs dist/ (node scripts/build.mjs), curl and jq.

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/aegis-${SCRIPT_NAME:-canary}.XXXXXX")
SERVER_PID=
START_NS=$(date +%s%N)
# the temp data folder is the whole stack: PGlite there, whatever the caller points at
unset MODEL_REGISTRY_DATABASE_URL AEGIS_URL AEGIS_TOKEN AEGIS_DATA_DIR
export CONTAINER_DIGEST=sha256:$(printf '0%.0s' {1..64})

cleanup() {
  local rc=$?
  if [ -n "$SERVER_PID" ]; then
    kill "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  if [ "$rc" -ne 0 ] && [ -f "$WORK/server.log" ]; then
    echo "--- server log (last 30 lines) ---" >&2
    tail -30 "$WORK/server.log" >&2
  fi
  rm -rf "$WORK"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# step "what happened": one timeline line, seconds since the start
step() {
  local t=$((($(date +%s%N) - START_NS) / 100000000))
  printf '[%4d.%ds] %s\n' $((t / 10)) $((t % 10)) "$*"
}
die() {
  printf 'DEVIATION: %s\n' "$*" >&2
  exit 1
}
# expect ACTUAL WANTED WHAT
expect() { [ "$1" = "$2" ] || die "$3: expected $2, got $1"; }

aegis() { node "$ROOT/bin/aegis.js" "$@"; }
sim() { node --import tsx "$ROOT/scripts/canary-sim.ts" "$@"; }

# simulation_policies [HIGH_RISK_MODEL]: a copy of policies/ in $WORK (AEGIS_POLICIES_DIR) whose
# offline metric tolerance is 1, so a candidate with a worse offline AUC reaches its canary: the
# default tolerance (0.01) denies a label-shuffled model at the gate (no-metric-regression),
# and these scripts check the judge that must catch what offline metrics do not. The model
# named is made high risk (prod promotions need 3-of-5 approvals; its first deployment to prod
# has nothing to mirror, so high-risk-prod-requires-shadow lets it through without a shadow).
simulation_policies() {
  mkdir -p "$WORK/policies"
  cp "$ROOT/policies/sentinelnet.cedar" "$WORK/policies/"
  cp "$ROOT/policies/drift.json" "$WORK/policies/"
  jq --arg m "${1:-}" '.metric.tolerance = 1 | if $m != "" then .riskTiers.models[$m] = "high" else . end' \
    "$ROOT/policies/sentinelnet.json" >"$WORK/policies/sentinelnet.json"
  export AEGIS_POLICIES_DIR="$WORK/policies"
}

# start_server [ENV=VALUE ...]: node dist/server.js on a free port, data in $WORK/data
start_server() {
  local port
  port=$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
  export AEGIS_DATA_DIR="$WORK/data" PORT="$port" AEGIS_URL="http://127.0.0.1:$port"
  env DEV_ALLOW_EPHEMERAL=true NODE_ENV=development AEGIS_SERVING_ROUTE_CACHE_SECONDS=1 "$@" \
    node "$ROOT/dist/server.js" >"$WORK/server.log" 2>&1 &
  SERVER_PID=$!
  for _ in $(seq 1 150); do
    if [ -s "$AEGIS_DATA_DIR/admin.token" ] && [ "$(curl -s -o /dev/null -w '%{http_code}' "$AEGIS_URL/metrics")" = 200 ]; then
      ADMIN_TOKEN=$(cat "$AEGIS_DATA_DIR/admin.token")
      export AEGIS_TOKEN="$ADMIN_TOKEN"
      step "server up on $AEGIS_URL (pid $SERVER_PID, data $AEGIS_DATA_DIR)"
      return 0
    fi
    kill -0 "$SERVER_PID" 2>/dev/null || die "the server exited: $(tail -5 "$WORK/server.log")"
    sleep 0.2
  done
  die "the server did not answer within 30 s"
}

# train RUN SEED DATASET_ID DATASET_DIR: aegis train --record --register (the built-in trainer, run in
# the checkout so the codeRef is its commit); prints the artifact id
train() {
  local out
  out=$(cd "$ROOT" && aegis --json train --record --model "$MODEL" --dataset "$3@v1=$4" --seed "$2" \
    --out "$WORK/runs/$1" --register --allow-dirty 2>"$WORK/train-$1.log") || die "aegis train $1 failed: $out"
  jq -r .registration.artifactId <<<"$out"
}

# promote ARTIFACT ENV [canary flags...]: prints the promotion id
promote() {
  local id=$1 env=$2 out
  shift 2
  out=$(aegis --json promote --artifact-id "$id" --env "$env" --reason "canary simulation" "$@") || die "aegis promote $id to $env failed: $out"
  jq -r .promotionId <<<"$out"
}

# settle PID [SECONDS]: waits for a promotion to leave rolling_out; prints its status
settle() {
  local s
  for _ in $(seq 1 $((${2:-60} * 5))); do
    s=$(aegis --json promotions --id "$1" | jq -r .status)
    case "$s" in requested | allowed | approved | rolling_out) sleep 0.2 ;; *)
      echo "$s"
      return 0
      ;;
    esac
  done
  echo "$s"
}

# sample rows: the sample's train.csv, the true labels the traffic sends back as feedback
SAMPLE="$ROOT/test/data/sample"
