#!/usr/bin/env bash
# Part of `make bench`: the dispatcher's peak memory (VmHWM) for one deploy_file to N simulated
# hosts (BENCH_DISPATCH_HOSTS, default 5000), a 10 MiB file beside a 1 KiB baseline measured in
# the same run, each with a dispatcher of its own, and whether RabbitMQ raised an alarm. Release
# services in a vhost and Redis database (14) of their own. The simulated agents claim and report
# without fetching the stored file (a real agent fetches it in 1 MiB chunks).
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
cd "$FLEET_ROOT"
hosts=${BENCH_DISPATCH_HOSTS:-5000}
config=${BENCH_CONFIGURATION:-release}
for product in fleet-selector fleet-bulk-dispatcher fleet-agent fleet-gateway; do swift build -c "$config" --product "$product" >/dev/null; done
bin=$(swift build -c "$config" --show-bin-path)
"$FLEET_ROOT/scripts/stack.sh" start
"$FLEET_ROOT/scripts/stack.sh" ensure-vhosts fleet-bench-mem
export FLEET_AMQP_URL=${FLEET_AMQP_URL%/*}/fleet-bench-mem FLEET_REDIS_URL=${FLEET_REDIS_URL%/*}/14
export FLEET_GATEWAY_PORT=18082 FLEET_METRICS_PORT=0 FLEET_GATEWAY_BODY_LIMIT=$((16 << 20))
rc() { redis-cli -h 127.0.0.1 -p "$FLEET_REDIS_PORT" -n 14 "$@"; }
rc FLUSHDB >/dev/null
logs=$FLEET_RUN_DIR/bench-dispatch; mkdir -p "$logs"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rc FLUSHDB >/dev/null || true; }
trap cleanup EXIT
for s in fleet-selector fleet-gateway; do "$bin/$s" >"$logs/$s.log" 2>&1 & pids+=($!); done
"$bin/fleet-agent" --simulate "$hosts" --prefix mem >"$logs/agent.log" 2>&1 & pids+=($!)
token=$("$bin/fleet-gateway" create-token --scope operate --name bench-dispatch)
api="http://127.0.0.1:$FLEET_GATEWAY_PORT/api/v1/fleet"
for _ in $(seq 1 120); do
  n=$(curl -s -H "Authorization: Bearer $token" -X POST "$api/select" -d '{"tags":["mem"]}' | python3 -c 'import json,sys; print(json.load(sys.stdin).get("count",0))' 2>/dev/null || echo 0)
  [ "$n" = "$hosts" ] && break; sleep 1
done

# One operation with a dispatcher of its own; prints its peak RSS in MiB and the seconds it took.
measure() {
  local bytes=$1 body=$logs/body-$1.json
  python3 - "$bytes" "$body" <<'PY'
import base64, json, os, sys
n, path = int(sys.argv[1]), sys.argv[2]
json.dump({"operation_type": "deploy_file", "selector": {"tags": ["mem"]},
           "parameters": {"path": "/tmp/fleet-bench.bin", "encoding": "base64", "content": base64.b64encode(os.urandom(n)).decode()}},
          open(path, "w"))
PY
  "$bin/fleet-bulk-dispatcher" >"$logs/dispatcher-$bytes.log" 2>&1 & local d=$!
  for _ in $(seq 1 100); do grep -q serving "$logs/dispatcher-$bytes.log" 2>/dev/null && break; sleep 0.1; done
  local start=$SECONDS op status="" created
  op=$(curl -s -H "Authorization: Bearer $token" -H "Content-Type: application/json" -X POST "$api/bulk" --data-binary @"$body" \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
  created=$((SECONDS - start))
  for _ in $(seq 1 600); do
    status=$(rc HGET "fleet:bulk:{$op}:progress" status)
    case $status in succeeded|partial|failed) break;; esac; sleep 0.5
  done
  local finished=$SECONDS
  local hwm; hwm=$(awk '/VmHWM/ {print int($2 / 1024)}' "/proc/$d/status")
  kill "$d"; wait "$d" 2>/dev/null || true
  echo "$hwm $created $((finished - start)) $status"
}
read -r base_rss base_c base_s base_status < <(measure 1024)
read -r big_rss big_c big_s big_status < <(measure $((10 << 20)))
alarms=$("$FLEET_ROOT/scripts/stack.sh" check-alarms >/dev/null 2>&1 && echo none || echo RAISED)
printf 'dispatch memory, deploy_file to %d simulated hosts (dispatcher peak RSS):\n' "$hosts"
printf '  %-24s %8s %12s %10s  %s\n' "" "peak RSS" "create reply" "finished" "status"
printf '  %-24s %4s MiB %11ss %9ss  %s\n' "1 KiB file (baseline)" "$base_rss" "$base_c" "$base_s" "$base_status" \
  "10 MiB file" "$big_rss" "$big_c" "$big_s" "$big_status"
printf '  RabbitMQ memory alarm: %s\n' "$alarms"
