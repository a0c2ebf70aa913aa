#!/usr/bin/env bash
# `make bench`'s figures on the local clusters (scripts/cluster.sh: 3 RabbitMQ nodes, a 6-node
# Redis Cluster): the 10,000-host bulk with one dispatcher replica, then with two, each on a fresh
# set of release services and a flushed cluster. Appends its facts to FACTS.
#   scripts/bench-cluster.sh FACTS
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
facts=${1:?facts file}
bin=$(swift build -c release --show-bin-path)
"$FLEET_ROOT/scripts/cluster.sh" start
eval "$("$FLEET_ROOT/scripts/cluster.sh" urls | sed 's/^/export /')"
export FLEET_GATEWAY_PORT=18082 FLEET_METRICS_PORT=0 FLEET_REQUEST_TIMEOUT_MS=120000
pids=()
trap 'kill -TERM "${pids[@]}" 2>/dev/null || true; wait || true; "$FLEET_ROOT/scripts/cluster.sh" stop' EXIT
for dispatchers in 1 2; do
  for p in 7101 7102 7103 7104 7105 7106; do redis-cli -p "$p" flushall >/dev/null 2>&1 || true; done
  pids=()
  for s in fleet-selector fleet-groups fleet-rollout-controller fleet-scheduler fleet-gateway; do
    "$bin/$s" > "$FLEET_RUN_DIR/bench-cluster-$s.log" 2>&1 & pids+=($!)
  done
  for d in $(seq 1 "$dispatchers"); do
    "$bin/fleet-bulk-dispatcher" > "$FLEET_RUN_DIR/bench-cluster-dispatcher-$d.log" 2>&1 & pids+=($!)
  done
  "$bin/fleet-agent" --simulate 10000 --prefix benchcl > "$FLEET_RUN_DIR/bench-cluster-agent.log" 2>&1 & pids+=($!)
  for _ in $(seq 1 150); do
    python3 -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:18082/ready', timeout=2)" 2>/dev/null && break
    sleep 0.2
  done
  token=$("$bin/fleet-gateway" create-token --scope admin --name bench-cluster)
  BENCH_TOKEN=$token BENCH_GATEWAY_URL=http://127.0.0.1:18082 python3 "$FLEET_ROOT/scripts/bench_cluster.py" \
    "cluster.bulk_10k.dispatchers_$dispatchers" benchcl 10000 >> "$facts"
  kill -TERM "${pids[@]}" 2>/dev/null; wait 2>/dev/null || true
done
