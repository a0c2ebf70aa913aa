#!/usr/bin/env bash
# A local cluster of each engine, from Debian's packages, on 127.0.0.1, data under .run/cluster/:
#   - RabbitMQ: 3 nodes (AMQP 5731-5733, management 15731-15733), one cluster;
#   - Redis Cluster: 6 nodes (7101-7106), 3 primaries and 3 replicas, node timeout 2 s.
#   scripts/cluster.sh start|stop|status|urls
#   scripts/cluster.sh start-redis-cluster|stop-redis-cluster|reset-redis-cluster   (the Redis part only: make test's FleetStore cluster tests)
#   scripts/cluster.sh kill-rabbitmq N|start-rabbitmq N|kill-redis-primary|start-redis-node PORT   (faults)
# `urls` prints the FLEET_AMQP_URL and FLEET_REDIS_URL that reach them.
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

CLUSTER_DIR=$FLEET_RUN_DIR/cluster
RABBIT_PORTS=(5731 5732 5733)
REDIS_PORTS=(7101 7102 7103 7104 7105 7106)
COOKIE=fleetclustercookie

# Each node is the single-node stack script's broker, with a run folder and ports of its own and
# one Erlang cookie for all (without it they cannot join).
rabbit_node() { # N ARGS...: scripts/stack.sh ARGS for node N
  local n=$1; shift
  local port=${RABBIT_PORTS[$((n - 1))]}
  mkdir -p "$CLUSTER_DIR/rabbit$n/rabbitmq/home"
  local cookie=$CLUSTER_DIR/rabbit$n/rabbitmq/home/.erlang.cookie
  if [ ! -f "$cookie" ]; then printf '%s' "$COOKIE" > "$cookie"; chmod 400 "$cookie"; fi
  FLEET_RUN_DIR=$CLUSTER_DIR/rabbit$n FLEET_AMQP_PORT=$port FLEET_RABBITMQ_MANAGEMENT_PORT=$((port + 10000)) \
    FLEET_RABBITMQ_MANAGEMENT_URL=http://guest:guest@127.0.0.1:$((port + 10000)) FLEET_AMQP_URL= \
    "$FLEET_ROOT/scripts/stack.sh" "$@"
}

rabbitmqctl_node() { # N ARGS...: rabbitmqctl against node N, with its environment
  local n=$1; shift
  local port=${RABBIT_PORTS[$((n - 1))]}
  (
    export HOME=$CLUSTER_DIR/rabbit$n/rabbitmq/home ERL_EPMD_ADDRESS=127.0.0.1
    export RABBITMQ_NODENAME=fleet$port@localhost
    bin=$(dirname "$(readlink -f "$(command -v rabbitmq-server)")")
    "$bin/rabbitmqctl" -q "$@"
  )
}

rabbit_members() { rabbitmqctl_node 1 cluster_status --formatter json 2>/dev/null | python3 -c 'import json,sys; print(" ".join(sorted(json.load(sys.stdin).get("running_nodes", []))))' 2>/dev/null || true; }

start_rabbit_cluster() {
  for n in 1 2 3; do rabbit_node "$n" start-rabbitmq; done
  for n in 2 3; do
    local first="fleet${RABBIT_PORTS[0]}@localhost"
    if [[ $(rabbit_members) == *"fleet${RABBIT_PORTS[$((n - 1))]}@localhost"* ]]; then continue; fi
    log "rabbitmq node $n joins $first"
    rabbitmqctl_node "$n" stop_app
    rabbitmqctl_node "$n" join_cluster "$first"
    rabbitmqctl_node "$n" start_app
  done
  log "rabbitmq cluster: $(rabbit_members)"
}

redis_cli_port() { local p=$1; shift; redis-cli -h 127.0.0.1 -p "$p" "$@"; }

# Each node is the single-node stack script's Redis, with a run folder and port of its own and the
# options of a cluster node (data in $CLUSTER_DIR/redisPORT/redis/).
start_redis_node() {
  local port=$1
  FLEET_RUN_DIR=$CLUSTER_DIR/redis$port FLEET_REDIS_PORT=$port \
    FLEET_REDIS_EXTRA_ARGS="--cluster-enabled yes --cluster-config-file $CLUSTER_DIR/redis$port/redis/nodes.conf --cluster-node-timeout 2000 --repl-diskless-sync-delay 0" \
    "$FLEET_ROOT/scripts/stack.sh" start-redis
}

redis_cluster_ok() { redis_cli_port "${REDIS_PORTS[0]}" cluster info 2>/dev/null | grep -q 'cluster_state:ok'; }

start_redis_cluster() {
  for p in "${REDIS_PORTS[@]}"; do start_redis_node "$p"; done
  if ! redis_cli_port "${REDIS_PORTS[0]}" cluster info | grep -q 'cluster_slots_assigned:16384'; then
    log "creating the redis cluster (3 primaries, 3 replicas)"
    redis-cli --cluster create $(printf '127.0.0.1:%s ' "${REDIS_PORTS[@]}") --cluster-replicas 1 --cluster-yes >/dev/null
  fi
  for _ in $(seq 1 100); do
    if redis_cluster_ok; then log "redis cluster ok"; return; fi
    sleep 0.2
  done
  log "the redis cluster did not become ok"; exit 1
}

stop_redis_cluster() {
  for p in "${REDIS_PORTS[@]}"; do redis_cli_port "$p" shutdown nosave >/dev/null 2>&1 || true; done
}

# A new cluster, whatever the last run left (a test moves slots and kills primaries).
reset_redis_cluster() {
  stop_redis_cluster
  for p in "${REDIS_PORTS[@]}"; do
    for _ in $(seq 1 50); do redis_cli_port "$p" ping >/dev/null 2>&1 || break; sleep 0.1; done
    rm -rf "$CLUSTER_DIR/redis$p"
  done
  start_redis_cluster
}

stop_all() {
  stop_redis_cluster
  for n in 3 2 1; do rabbit_node "$n" stop-rabbitmq || true; done
}

# A Redis primary, by port: the first of the ports that is a primary with slots.
redis_primary() {
  for p in "${REDIS_PORTS[@]}"; do
    if redis_cli_port "$p" role 2>/dev/null | head -1 | grep -q master \
      && [ "$(redis_cli_port "$p" cluster nodes | awk '$3 ~ /myself/ && NF > 8 {print "slots"}')" = slots ]; then
      echo "$p"; return
    fi
  done
}

urls() {
  local amqp="" redis="" p
  for p in "${RABBIT_PORTS[@]}"; do amqp+="${amqp:+,}amqp://guest:guest@127.0.0.1:$p/%2f"; done
  for p in "${REDIS_PORTS[@]}"; do redis+="${redis:+,}127.0.0.1:$p"; done
  echo "FLEET_AMQP_URL=$amqp"
  echo "FLEET_REDIS_URL=redis+cluster://$redis"
}

case "${1:-}" in
  start) "$FLEET_ROOT/scripts/install-deps.sh"; start_redis_cluster; start_rabbit_cluster ;;
  stop) stop_all ;;
  start-redis-cluster) "$FLEET_ROOT/scripts/install-deps.sh"; start_redis_cluster ;;
  stop-redis-cluster) stop_redis_cluster ;;
  reset-redis-cluster) "$FLEET_ROOT/scripts/install-deps.sh"; reset_redis_cluster ;;
  status)
    echo "rabbitmq: $(rabbit_members)"
    if redis_cluster_ok; then echo "redis cluster: ok"; else echo "redis cluster: down"; fi ;;
  urls) urls ;;
  kill-rabbitmq) # N: SIGKILL of RabbitMQ node N (its Erlang VM)
    kill -9 "$(cat "$CLUSTER_DIR/rabbit${2:?node}/rabbitmq/rabbitmq.pid")" ;;
  start-rabbitmq) rabbit_node "${2:?node}" start-rabbitmq ;;
  kill-redis-primary) # SIGKILL of a primary; prints its port
    p=$(redis_primary); [ -n "$p" ] || { log "no redis primary with slots found"; exit 1; }
    kill -9 "$(cat "$CLUSTER_DIR/redis$p/redis/redis.pid")"; echo "$p" ;;
  start-redis-node) start_redis_node "${2:?port}" ;;
  *) echo "usage: $0 start|stop|status|urls|start-redis-cluster|stop-redis-cluster|reset-redis-cluster|kill-rabbitmq N|start-rabbitmq N|kill-redis-primary|start-redis-node PORT" >&2; exit 2 ;;
esac
