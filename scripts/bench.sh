#!/usr/bin/env bash
# `make bench`: FleetBus and FleetStore throughput beside baselines measured in the same run
# (Python pika for RabbitMQ, redis-benchmark for Redis; median of BENCH_RUNS runs, default 3),
# then FleetCore: selector resolve vs a full scan, regex vs NSRegularExpression (median of 7), the
# whole stack through the gateway, and last the dispatcher's memory for a large deploy_file.
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
cd "$FLEET_ROOT"
"$FLEET_ROOT/scripts/install-deps.sh"
"$FLEET_ROOT/scripts/stack.sh" start

runs=${BENCH_RUNS:-3}
messages=${BENCH_MESSAGES:-20000}
venv=$FLEET_RUN_DIR/bench-venv
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/python" -c "import pika" 2>/dev/null || "$venv/bin/pip" install -q pika

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
python3 "$FLEET_ROOT/scripts/bench_report.py" "$out"
echo
.build/release/fleet-core-bench

# Select latency through the gateway at 100,000 hosts: release services in their own vhost and
# Redis database (6), so a running dev stack is neither used nor touched.
bin=$(swift build -c release --show-bin-path)
for product in fleet-selector fleet-groups fleet-bulk-dispatcher fleet-rollout-controller fleet-scheduler fleet-agent fleet-gateway fleet-gateway-bench; do
  swift build -c release --product "$product"   # one --product per call: SwiftPM keeps only the last
done
"$FLEET_ROOT/scripts/stack.sh" ensure-vhosts fleet-bench
export FLEET_AMQP_URL=${FLEET_AMQP_URL%/*}/fleet-bench FLEET_REDIS_URL=${FLEET_REDIS_URL%/*}/6 FLEET_GATEWAY_PORT=18080
redis-cli -p "$FLEET_REDIS_PORT" -n 6 flushdb >/dev/null
pids=()
for s in fleet-selector fleet-groups fleet-bulk-dispatcher fleet-rollout-controller fleet-scheduler fleet-gateway; do
  "$bin/$s" > "$FLEET_RUN_DIR/bench-$s.log" 2>&1 & pids+=($!)
done
# 10,000 simulated zero-latency hosts for the bulk figure.
"$bin/fleet-agent" --simulate 10000 --prefix benchsim > "$FLEET_RUN_DIR/bench-fleet-agent.log" 2>&1 & pids+=($!)
trap 'kill -TERM "${pids[@]}" 2>/dev/null; wait' EXIT
for _ in $(seq 1 100); do
  python3 -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:18080/ready', timeout=2)" 2>/dev/null && break
  sleep 0.2
done
echo
BENCH_TOKEN=$("$bin/fleet-gateway" create-token --scope admin --name bench) BENCH_GATEWAY_URL=http://127.0.0.1:18080 \
  "$bin/fleet-gateway-bench"
echo; "$FLEET_ROOT/scripts/bench-dispatch-memory.sh"
