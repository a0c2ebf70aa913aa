#!/usr/bin/env bash
# `make run`: installs what is missing, starts RabbitMQ and Redis on 127.0.0.1, builds every service
# (release), starts them in the background with logs under .run/services/, loads a few hundred
# example hosts and prints a first admin token.   scripts/run-stack.sh stop   stops the services.
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
cd "$FLEET_ROOT"
SERVICES_DIR=$FLEET_RUN_DIR/services
FLEET_GATEWAY_PORT=${FLEET_GATEWAY_PORT:-8080}
export FLEET_GATEWAY_PORT
services=(fleet-selector fleet-groups fleet-bulk-dispatcher fleet-rollout-controller fleet-scheduler fleet-gateway fleet-agent)
# A simulated fleet of 200 hosts (sim-0 .. sim-199, every 50th failing), so operations have agents.
agent_args=(--simulate 200 --prefix sim --fail-every 50)

stop_services() {
  for s in "${services[@]}"; do
    if [ -f "$SERVICES_DIR/$s.pid" ] && kill -0 "$(cat "$SERVICES_DIR/$s.pid")" 2>/dev/null; then
      log "stopping $s"; kill -TERM "$(cat "$SERVICES_DIR/$s.pid")"
    fi
    rm -f "$SERVICES_DIR/$s.pid"
  done
}

# The command line of each service, one per line: compose/docker-compose.yml runs the same ones
# (scripts/check_compose.py, run by `make test`, compares them).
service_command() {
  if [ "$1" = fleet-agent ]; then echo "$1 ${agent_args[*]}"; else echo "$1"; fi
}
if [ "${1:-}" = commands ]; then for s in "${services[@]}"; do service_command "$s"; done; exit 0; fi

if [ "${1:-}" = stop ]; then stop_services; exit 0; fi

"$FLEET_ROOT/scripts/install-deps.sh"
"$FLEET_ROOT/scripts/stack.sh" start
swift build -c release
bin=$(swift build -c release --show-bin-path)
mkdir -p "$SERVICES_DIR"
stop_services
for s in "${services[@]}"; do
  args=()
  [ "$s" = fleet-agent ] && args=("${agent_args[@]}")
  nohup "$bin/$s" "${args[@]}" > "$SERVICES_DIR/$s.log" 2>&1 &
  echo $! > "$SERVICES_DIR/$s.pid"
done
base=http://127.0.0.1:$FLEET_GATEWAY_PORT
for _ in $(seq 1 100); do
  python3 -c "import urllib.request,sys; urllib.request.urlopen('$base/ready', timeout=2)" 2>/dev/null && break
  sleep 0.2
done
token=$("$bin/fleet-gateway" create-token --scope admin --name "make-run")
python3 "$FLEET_ROOT/scripts/example_hosts.py" 300 | python3 -c "
import sys, urllib.request
req = urllib.request.Request('$base/api/v1/fleet/hosts', data=sys.stdin.buffer.read(), method='POST',
                             headers={'Content-Type': 'application/json', 'Authorization': 'Bearer $token'})
print(urllib.request.urlopen(req).read().decode())" >/dev/null
log "stack is up: gateway $base (logs in $SERVICES_DIR), 300 example hosts and 200 simulated ones (tag sim)"
log "admin token (shown once): $token"
echo "try: curl -s -H 'Authorization: Bearer $token' -d '{\"platforms\":[\"linux\"],\"tags\":[\"db\"]}' $base/api/v1/fleet/select"
echo "     curl -s -H 'Authorization: Bearer $token' -d '{\"operation_type\":\"reboot\",\"selector\":{\"tags\":[\"sim\"]}}' $base/api/v1/fleet/bulk"
