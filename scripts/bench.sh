#!/usr/bin/env bash
# `make bench`: every figure beside a baseline measured in the same run. FleetBus and FleetStore
# beside Python pika and redis-benchmark (median of BENCH_RUNS runs, default 3); FleetCore's
# resolve and regex beside a full scan and NSRegularExpression; then the whole stack (release
# builds): five selectors through the gateway, on the bus and in-process beside PostgreSQL 15 with
# indexes, bulk operations over 10,000 and 50,000 simulated hosts beside the raw ceiling, small
# creates with two dispatcher replicas, the rollout gap, the scheduler's fire lag, progress reads
# with wrk beside redis-benchmark, each service's peak RSS; last the dispatcher's memory for a
# large deploy_file. scripts/bench_report.py writes .run/bench-results.json and prints the table.
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
cd "$FLEET_ROOT"
bench_started=$SECONDS
# wrk (progress reads) and PostgreSQL (the selector baseline) are the bench's alone.
FLEET_EXTRA_PACKAGES="wrk postgresql" "$FLEET_ROOT/scripts/install-deps.sh"
"$FLEET_ROOT/scripts/stack.sh" start

runs=${BENCH_RUNS:-3}
messages=${BENCH_MESSAGES:-20000}
venv=$FLEET_RUN_DIR/bench-venv
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/python" -c "import pika, psycopg" 2>/dev/null || "$venv/bin/pip" install -q pika "psycopg[binary]"
facts=$FLEET_RUN_DIR/bench-facts.jsonl
: > "$facts"

for product in fleet-bench fleet-core-bench; do swift build -c release --product "$product"; done
out=$FLEET_RUN_DIR/bench-results.txt
: > "$out"
for i in $(seq 1 "$runs"); do
  log "run $i of $runs"
  BENCH_MESSAGES=$messages .build/release/fleet-bench >> "$out"
  "$venv/bin/python" Tests/Benchmarks/baseline_pika.py "$FLEET_AMQP_URL" "$messages" >> "$out"
  redis-benchmark -h 127.0.0.1 -p "$FLEET_REDIS_PORT" -c 1 -n "$messages" -t set -q --csv \
    | awk -F'"' '/SET/ {printf "redis-benchmark.set_c1 %.0f msg/s\n", $4}' >> "$out"
  redis-benchmark -h 127.0.0.1 -p "$FLEET_REDIS_PORT" -c 1 -P 100 -n $((messages * 10)) -t set -q --csv \
    | awk -F'"' '/SET/ {printf "redis-benchmark.set_c1_p100 %.0f msg/s\n", $4}' >> "$out"
done
echo
BENCH_FACTS=$facts .build/release/fleet-core-bench
log "PostgreSQL baseline"
"$FLEET_ROOT/scripts/bench-postgres.sh" "$facts"

# The whole stack: release services in their own vhost and Redis database (6), so a running dev
# stack is neither used nor touched. Two dispatcher replicas (the second without a metrics port).
bin=$(swift build -c release --show-bin-path)
for product in fleet-selector fleet-groups fleet-bulk-dispatcher fleet-rollout-controller fleet-scheduler fleet-agent fleet-gateway fleet-gateway-bench; do
  swift build -c release --product "$product"   # one --product per call: SwiftPM keeps only the last
done
"$FLEET_ROOT/scripts/stack.sh" ensure-vhosts fleet-bench
export FLEET_AMQP_URL=${FLEET_AMQP_URL%/*}/fleet-bench FLEET_REDIS_URL=${FLEET_REDIS_URL%/*}/6 FLEET_GATEWAY_PORT=18080
# A create over 50,000 hosts answers once its commands are out: well past the default 10 s.
export FLEET_REQUEST_TIMEOUT_MS=120000
redis-cli -p "$FLEET_REDIS_PORT" -n 6 flushdb >/dev/null
pids=()
declare -A service_pid
start_service() { # name log [env...]
  local name=$1 logfile=$2; shift 2
  env "$@" "$bin/$name" > "$FLEET_RUN_DIR/$logfile" 2>&1 & pids+=($!)
  service_pid[$logfile]=$!
}
for s in fleet-selector fleet-groups fleet-bulk-dispatcher fleet-rollout-controller fleet-scheduler fleet-gateway; do
  start_service "$s" "bench-$s.log"
done
start_service fleet-bulk-dispatcher bench-fleet-bulk-dispatcher-2.log FLEET_METRICS_PORT=0
# Simulated zero-latency fleets: 10,000 hosts (bulk_10k, the rollout) and 50,000 (bulk_50k).
"$bin/fleet-agent" --simulate 10000 --prefix benchsim > "$FLEET_RUN_DIR/bench-fleet-agent.log" 2>&1 & pids+=($!)
"$bin/fleet-agent" --simulate 50000 --prefix benchbig > "$FLEET_RUN_DIR/bench-fleet-agent-big.log" 2>&1 & pids+=($!)
trap 'kill -TERM "${pids[@]}" 2>/dev/null; wait' EXIT
for _ in $(seq 1 100); do
  python3 -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:18080/ready', timeout=2)" 2>/dev/null && break
  sleep 0.2
done
echo
token=$("$bin/fleet-gateway" create-token --scope admin --name bench)
BENCH_FACTS=$facts BENCH_TOKEN=$token BENCH_GATEWAY_URL=http://127.0.0.1:18080 stdbuf -oL "$bin/fleet-gateway-bench"

# Progress reads of the finished 10,000-host operation with wrk, beside redis-benchmark's HGETALL
# of the hash that answers them, both with 32 connections on 2 cores.
op=$(python3 -c 'import json,sys; print([json.loads(l)["unit"][3:] for l in open(sys.argv[1]) if json.loads(l)["name"] == "progress.operation"][-1])' "$facts")
echo; log "progress reads: wrk, then redis-benchmark"
wrk -t2 -c32 -d10s --latency -H "Authorization: Bearer $token" "http://127.0.0.1:18080/api/v1/fleet/bulk/$op/progress" | tee "$FLEET_RUN_DIR/bench-wrk.txt"
awk '
  function millis(v) { if (v ~ /us$/) return v / 1000; if (v ~ /ms$/) return v + 0; if (v ~ /s$/) return v * 1000; return v }
  /^Requests\/sec:/ { printf "{\"name\": \"progress.rps\", \"value\": %s, \"unit\": \"req/s\"}\n", $2 }
  $1 == "99%" { printf "{\"name\": \"progress.p99\", \"value\": %s, \"unit\": \"ms\"}\n", millis($2) }
  / Non-2xx/ { printf "{\"name\": \"progress.non2xx\", \"value\": %s, \"unit\": \"responses\"}\n", $NF }
' "$FLEET_RUN_DIR/bench-wrk.txt" >> "$facts"
redis-benchmark -h 127.0.0.1 -p "$FLEET_REDIS_PORT" --dbnum 6 -c 32 -n 300000 -q --csv HGETALL "fleet:bulk:{$op}:progress" \
  | awk -F'"' 'NR > 1 || /HGETALL/ { if ($4 + 0 > 0) printf "{\"name\": \"progress.redis_hgetall\", \"value\": %s, \"unit\": \"req/s\"}\n", $4 }' >> "$facts"

# Peak RSS (VmHWM) of every service, with 100,000 inventory hosts plus 60,000 simulated ones, and
# 10,000 schedules created and deleted.
for logfile in "${!service_pid[@]}"; do
  name=${logfile#bench-fleet-}; name=${name%.log}
  kb=$(awk '/VmHWM/ {print $2}' "/proc/${service_pid[$logfile]}/status" 2>/dev/null || echo 0)
  printf '{"name": "rss.%s", "value": %s, "unit": "MiB"}\n' "$name" "$(awk -v k="$kb" 'BEGIN {printf "%.1f", k / 1024}')" >> "$facts"
done
kill -TERM "${pids[@]}" 2>/dev/null; wait 2>/dev/null || true
trap - EXIT

echo; log "the 10,000-host bulk on the local clusters, one and two dispatchers"
"$FLEET_ROOT/scripts/bench-cluster.sh" "$facts"

echo; "$FLEET_ROOT/scripts/bench-dispatch-memory.sh"
printf '{"name": "bench.seconds", "value": %s, "unit": "s"}\n' "$((SECONDS - bench_started))" >> "$facts"
python3 "$FLEET_ROOT/scripts/bench_report.py" "$out" "$facts" "$FLEET_RUN_DIR/bench-results.json"
