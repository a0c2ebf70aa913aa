#!/usr/bin/env bash
# Starts, stops and reports on RabbitMQ and Redis as plain background processes bound to 127.0.0.1,
# with data and logs under .run/. Idempotent: `start` finds a running server and leaves it be.
#   scripts/stack.sh start|stop|status
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

RMQ_DIR=$FLEET_RUN_DIR/rabbitmq
REDIS_DIR=$FLEET_RUN_DIR/redis

rabbit_env() {
  # Debian's /usr/sbin wrappers switch to the rabbitmq user; the real scripts sit beside the wrapper.
  RMQ_BIN=$(dirname "$(readlink -f "$(command -v rabbitmq-server)")")
  export HOME=$RMQ_DIR/home   # the Erlang cookie lives here: the server and every CLI call share it
  mkdir -p "$HOME"            # before any CLI call: without it, even `status` fails to make a cookie
  export ERL_CRASH_DUMP=$RMQ_DIR/erl_crash.dump  # not in whatever folder the caller stands in
  export RABBITMQ_NODENAME=fleet$FLEET_AMQP_PORT@localhost  # per port, so two stacks can share epmd
  export RABBITMQ_NODE_IP_ADDRESS=127.0.0.1
  export RABBITMQ_NODE_PORT=$FLEET_AMQP_PORT
  export RABBITMQ_DIST_PORT=$((FLEET_AMQP_PORT + 20000))
  export ERL_EPMD_ADDRESS=127.0.0.1
  export RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}"
  export RABBITMQ_CONFIG_FILE=$RMQ_DIR/rabbitmq
  export RABBITMQ_MNESIA_BASE=$RMQ_DIR/mnesia
  export RABBITMQ_LOG_BASE=$RMQ_DIR/log
  export RABBITMQ_PID_FILE=$RMQ_DIR/rabbitmq.pid
  export RABBITMQ_ENABLED_PLUGINS_FILE=$RMQ_DIR/enabled_plugins
  export RABBITMQ_ENABLED_PLUGINS="rabbitmq_management"
}

rabbit_running() { rabbit_env; "$RMQ_BIN/rabbitmq-diagnostics" -q check_running >/dev/null 2>&1; }

start_rabbit() {
  rabbit_env
  mkdir -p "$HOME" "$RABBITMQ_MNESIA_BASE" "$RABBITMQ_LOG_BASE"
  if rabbit_running; then log "rabbitmq already running on 127.0.0.1:$FLEET_AMQP_PORT"; return; fi
  cat > "$RMQ_DIR/rabbitmq.conf" <<CONF
listeners.tcp.default = 127.0.0.1:$FLEET_AMQP_PORT
loopback_users = none
log.console = false
log.file.level = warning
management.tcp.ip = 127.0.0.1
management.tcp.port = $FLEET_RABBITMQ_MANAGEMENT_PORT
CONF
  # Started by hand first, or the first CLI call starts epmd listening on every interface.
  epmd -address 127.0.0.1 -daemon
  log "starting rabbitmq on 127.0.0.1:$FLEET_AMQP_PORT"
  nohup "$RMQ_BIN/rabbitmq-server" > "$RMQ_DIR/server.out" 2>&1 &
  for _ in $(seq 1 120); do
    if rabbit_running; then log "rabbitmq ready"; ensure_vhosts /; return; fi
    sleep 0.5
  done
  log "rabbitmq did not become ready; see $RMQ_DIR/server.out and $RABBITMQ_LOG_BASE"
  tail -20 "$RMQ_DIR/server.out" >&2 || true
  exit 1
}

stop_rabbit() {
  rabbit_env
  if rabbit_running; then
    log "stopping rabbitmq"
    "$RMQ_BIN/rabbitmqctl" -q stop "$RABBITMQ_PID_FILE" >/dev/null 2>&1 || true
  fi
}

redis_cli() { redis-cli -h 127.0.0.1 -p "$FLEET_REDIS_PORT" "$@"; }
redis_running() { redis_cli ping 2>/dev/null | grep -q PONG; }

# FLEET_REDIS_EXTRA_ARGS: more redis-server options (scripts/cluster.sh: a cluster node's).
start_redis() {
  mkdir -p "$REDIS_DIR"
  if redis_running; then log "redis already running on 127.0.0.1:$FLEET_REDIS_PORT"; return; fi
  log "starting redis on 127.0.0.1:$FLEET_REDIS_PORT"
  redis-server --bind 127.0.0.1 --port "$FLEET_REDIS_PORT" --daemonize yes --dir "$REDIS_DIR" \
    --pidfile "$REDIS_DIR/redis.pid" --logfile "$REDIS_DIR/redis.log" --save "" \
    --appendonly yes --appendfsync everysec ${FLEET_REDIS_EXTRA_ARGS:-}
  for _ in $(seq 1 100); do
    if redis_running; then log "redis ready"; return; fi
    sleep 0.1
  done
  log "redis did not become ready; see $REDIS_DIR/redis.log"; exit 1
}

stop_redis() {
  if redis_running; then log "stopping redis"; redis_cli shutdown >/dev/null 2>&1 || true; fi
}

# Vhosts of their own for the service tests, so a running dev stack never consumes their commands.
# One `import_definitions` call for all of them: each rabbitmqctl call boots an Erlang VM. Each
# vhost gets the dead-letter cap (DEAD_LETTER_POLICY, the same in compose/docker-compose.yml).
ensure_vhosts() {
  rabbit_env
  local defs=$RMQ_DIR/test-vhosts.json vhosts="" perms="" policies="" v
  for v in "$@"; do
    vhosts+="${vhosts:+,}{\"name\":\"$v\"}"
    perms+="${perms:+,}{\"user\":\"guest\",\"vhost\":\"$v\",\"configure\":\".*\",\"write\":\".*\",\"read\":\".*\"}"
    policies+="${policies:+,}{\"vhost\":\"$v\",\"name\":\"fleet-dead-cap\",\"pattern\":\"^fleet\\\\.dead$\",\"apply-to\":\"queues\",\"priority\":0,\"definition\":$DEAD_LETTER_POLICY}"
  done
  printf '{"vhosts":[%s],"permissions":[%s],"policies":[%s]}\n' "$vhosts" "$perms" "$policies" > "$defs"
  "$RMQ_BIN/rabbitmqctl" -q import_definitions "$defs" >/dev/null
  # Classic service queues kept from before they became quorum queues would refuse the services'
  # declares: deleted where that loses nothing (scripts/upgrade_queue_types.py).
  python3 "$FLEET_ROOT/scripts/upgrade_queue_types.py" "$FLEET_RABBITMQ_MANAGEMENT_URL" "$@"
}

# `fleet.dead` keeps at most the newest 100,000 dead letters: a flood of poison cannot fill the broker.
DEAD_LETTER_POLICY='{"max-length":100000,"overflow":"drop-head"}'

# The policy in force on a vhost's fleet.dead, and its definition (for the tests).
dead_letter_policy() {
  rabbit_env
  local name
  name=$("$RMQ_BIN/rabbitmqctl" -q list_queues -p "$1" --no-table-headers name policy | awk '$1 == "fleet.dead" {print $2}')
  echo "$name $("$RMQ_BIN/rabbitmqctl" -q list_policies -p "$1" --no-table-headers | awk -v n="$name" '$2 == n {print $5}')"
}

case "${1:-}" in
  start) start_redis; start_rabbit ;;
  ensure-vhosts) shift; ensure_vhosts "${@:?vhost names}" ;;
  dead-letter-policy) dead_letter_policy "${2:?vhost}" ;;
  check-alarms) rabbit_env; "$RMQ_BIN/rabbitmq-diagnostics" -q check_local_alarms ;;
  stop) stop_rabbit; stop_redis ;;
  start-rabbitmq) start_rabbit ;;
  stop-rabbitmq) stop_rabbit ;;
  start-redis) start_redis ;;
  stop-redis) stop_redis ;;
  status)
    if rabbit_running; then echo "rabbitmq: running on 127.0.0.1:$FLEET_AMQP_PORT"; else echo "rabbitmq: stopped"; fi
    if redis_running; then echo "redis: running on 127.0.0.1:$FLEET_REDIS_PORT"; else echo "redis: stopped"; fi ;;
  *) echo "usage: $0 start|stop|status|ensure-vhosts NAME...|dead-letter-policy VHOST|check-alarms|start-rabbitmq|stop-rabbitmq|start-redis|stop-redis" >&2; exit 2 ;;
esac
