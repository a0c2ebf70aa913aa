#!/usr/bin/env bash
# `make bench`: FleetBus and FleetStore throughput beside baselines measured in the same run
# (Python pika for RabbitMQ, redis-benchmark for Redis; median of BENCH_RUNS runs, default 3),
# then FleetCore: selector resolve vs a full scan, regex vs NSRegularExpression (median of 7).
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
cd "$FLEET_ROOT"
"$FLEET_ROOT/scripts/install-deps.sh"
"$FLEET_ROOT/scripts/stack.sh" start

runs=${BENCH_RUNS:-3}
messages=${BENCH_MESSAGES:-20000}
venv=$FLEET_RUN_DIR/bench-venv
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/python" -c "import pika" 2>/dev/null || "$venv/bin/pip" install -q pika

swift build -c release --product fleet-bench
swift build -c release --product fleet-core-bench
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
