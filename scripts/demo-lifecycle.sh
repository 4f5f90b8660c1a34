#!/usr/bin/env bash
# The promotion lifecycle with curl against a running `make run` (default http://localhost:8000):
# two versions of the sample strategy, a backtest of each, a refused gate, staging and production
# with different users, deploy v1, deploy v2, roll back, then the audit history.
set -euo pipefail
API=${TRADAI_URL:-http://localhost:8000}/api/v1
T() { .venv/bin/tradai token --sub "$1" --role "$2"; }
ALICE=$(T alice researcher); DANA=$(T dana approver); ERIN=$(T erin approver); OLGA=$(T olga operator)
call() { local who=$1; shift; curl -sf -H "Authorization: Bearer $who" -H 'Content-Type: application/json' "$@"; }
field() { python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }

BODIES=$(mktemp -d); trap 'rm -rf "$BODIES"' EXIT
python3 - "$BODIES" <<'PY'
import json, pathlib, sys
code = pathlib.Path("app/samples/SampleEmaCross.py").read_text().replace("SampleEmaCross", "Demo")
folder = pathlib.Path(sys.argv[1])
(folder / "v1.json").write_text(json.dumps({"code": code, "description": "sample crossover"}))
v2 = code.replace('minimal_roi = {"0": 0.04', 'minimal_roi = {"0": 0.05')
(folder / "v2.json").write_text(json.dumps({"code": v2, "description": "wider first ROI step"}))
PY
call "$ALICE" -X POST "$API/strategies/Demo/versions" --data @"$BODIES/v1.json" > /dev/null
call "$ALICE" -X POST "$API/strategies/Demo/versions" --data @"$BODIES/v2.json" > /dev/null

backtest() {
  local id; id=$(call "$ALICE" -X POST "$API/backtests" -d "{\"strategy\": \"Demo\", \"strategy_version\": $1,
    \"pairs\": [\"BTC/USDT\", \"ETH/USDT\"], \"timeframe\": \"5m\", \"timerange\": \"20240101-20240401\"}" | field "['id']")
  until [ "$(call "$ALICE" "$API/backtests/$id" | field "['status']")" = completed ]; do sleep 0.2; done
  echo "$id"
}
JOB1=$(backtest 1); JOB2=$(backtest 2)
promote() { call "$1" -X POST "$API/strategies/Demo/versions/$2/promotions" -d "{\"target_stage\": \"$3\", \"backtest_id\": \"$4\"}"; }
approve() { call "$1" -X POST "$API/promotions/$2/approve" > /dev/null; }

echo "gate refused (v2 cites v1's backtest):"
curl -s -H "Authorization: Bearer $ALICE" -H 'Content-Type: application/json' -X POST \
  "$API/strategies/Demo/versions/2/promotions" -d "{\"target_stage\": \"staging\", \"backtest_id\": \"$JOB1\"}" | field "['detail']"
approve "$DANA" "$(promote "$ALICE" 1 staging "$JOB1" | field "['id']")"
approve "$ERIN" "$(promote "$ALICE" 1 production "$JOB1" | field "['id']")"
call "$OLGA" -X POST "$API/strategies/Demo/deployments" -d '{"version": 1, "environment": "production"}' > /dev/null
approve "$DANA" "$(promote "$ALICE" 2 staging "$JOB2" | field "['id']")"
approve "$ERIN" "$(promote "$ALICE" 2 production "$JOB2" | field "['id']")"
call "$OLGA" -X POST "$API/strategies/Demo/deployments" -d '{"version": 2, "environment": "production"}' > /dev/null
call "$OLGA" -X POST "$API/strategies/Demo/rollback" -d '{"environment": "production"}' > /dev/null

echo "history:"
call "$ALICE" "$API/strategies/Demo/history" | python3 -c "$(cat <<'PY'
import json, sys
for e in json.load(sys.stdin)["entries"]:
    d = e["details"]
    extra = {k: v for k, v in d.items() if k != "gates"}
    gates = ""
    if "gates" in d:
        gates = " gates: " + ", ".join(f"{g['name']}={g['actual']!r}" for g in d["gates"])
    version = e["version"] or "-"
    print(f"{e['at'][:23]}  {e['actor']:<6} {e['action']:<20} v{version}  {extra}{gates}")
PY
)"
echo "deployments:"
call "$ALICE" "$API/strategies/Demo/deployments" | field "['environments']['production']"
