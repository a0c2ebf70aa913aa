#!/usr/bin/env bash
# `make redis-footprint`: measures what Redis holds per host and per host of an operation, to size
# `maxmemory` (README, "Sizing Redis"). Starts RabbitMQ and Redis if needed, then a selector, a
# dispatcher and a simulated fleet of N hosts (FOOTPRINT_HOSTS, default 2000) in a vhost and a
# Redis database of their own (database 13), runs one run_script operation over them, and reads
# MEMORY USAGE of every key. Prints bytes per host record and per host of a finished operation.
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
cd "$FLEET_ROOT"
hosts=${FOOTPRINT_HOSTS:-2000}
"$FLEET_ROOT/scripts/stack.sh" start
"$FLEET_ROOT/scripts/stack.sh" ensure-vhosts fleet-footprint >/dev/null
# Debug binaries are enough: what Redis stores does not depend on how the services were built.
swift build >/dev/null
bin=$(swift build --show-bin-path)
export FLEET_AMQP_URL="amqp://guest:guest@127.0.0.1:$FLEET_AMQP_PORT/fleet-footprint" FLEET_REDIS_URL="redis://127.0.0.1:$FLEET_REDIS_PORT/13"
export FLEET_METRICS_PORT=0 FLEET_GATEWAY_PORT=${FOOTPRINT_GATEWAY_PORT:-18081}
rc() { redis-cli -h 127.0.0.1 -p "$FLEET_REDIS_PORT" -n 13 "$@"; }
rc FLUSHDB >/dev/null
logs=$FLEET_RUN_DIR/footprint; mkdir -p "$logs"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rc FLUSHDB >/dev/null || true; }
trap cleanup EXIT
for s in fleet-selector fleet-bulk-dispatcher fleet-gateway; do "$bin/$s" >"$logs/$s.log" 2>&1 & pids+=($!); done
"$bin/fleet-agent" --simulate "$hosts" --prefix fp >"$logs/agent.log" 2>&1 & pids+=($!)
token=$("$bin/fleet-gateway" create-token --scope operate --name footprint)
api="http://127.0.0.1:$FLEET_GATEWAY_PORT/api/v1/fleet"
for _ in $(seq 1 120); do
  n=$(curl -s -H "Authorization: Bearer $token" -X POST "$api/select" -d '{"tags":["fp"]}' | python3 -c 'import json,sys; print(json.load(sys.stdin).get("count",0))' 2>/dev/null || echo 0)
  [ "$n" = "$hosts" ] && break; sleep 1
done
host_bytes=$(rc MEMORY USAGE "fleet:{hosts}:records" SAMPLES 0)
op=$(curl -s -H "Authorization: Bearer $token" -X POST "$api/bulk" \
  -d '{"operation_type":"run_script","selector":{"tags":["fp"]},"parameters":{"content":"uptime"}}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
for _ in $(seq 1 300); do
  status=$(rc HGET "fleet:bulk:{$op}:progress" status)
  case $status in succeeded|partial|failed) break;; esac; sleep 1
done
op_bytes=0
for k in $(rc --scan --pattern "fleet:bulk:{$op}:*"); do op_bytes=$((op_bytes + $(rc MEMORY USAGE "$k" SAMPLES 0))); done
echo "hosts: $hosts; inventory: $host_bytes bytes ($((host_bytes / hosts)) per host); one finished run_script operation: $op_bytes bytes ($((op_bytes / hosts)) per host)"
