#!/usr/bin/env bash
# `make run`: installs what is missing, starts RabbitMQ and Redis on 127.0.0.1, builds every service
# (release), starts them in the background with logs under .run/services/, loads a few hundred
# example hosts and prints a first admin token.   scripts/run-stack.sh stop   stops the services.
#
# The simulated fleet runs as an agent, not as a service: registering its hosts is an operator's
# act (`--register-only`, with the services' credentials, as an inventory import would be); then
# `fleet-gateway enroll-agent --simulated-fleet sim` gives it a broker user of its own, which may
# only serve `fleet.agent.sim-*` and publish agent traffic for hosts sim-<n>, and writes its URL
# to .run/secrets/agent-sim.url (0600). The agent reads it from there (FLEET_AMQP_URL_FILE) and
# never sees the services' credentials.
# A real host's agent is enrolled the same way, on a machine that has the gateway's settings:
#   fleet-gateway enroll-agent HOST_ID --url-file amqp-url      (or POST /api/v1/fleet/hosts/HOST_ID/enroll)
# then copy the file to the host (mode 0600) and start  FLEET_AMQP_URL_FILE=amqp-url fleet-agent --host-id HOST_ID
# `fleet-gateway revoke-agent HOST_ID` disconnects it.
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
cd "$FLEET_ROOT"
SERVICES_DIR=$FLEET_RUN_DIR/services
FLEET_GATEWAY_PORT=${FLEET_GATEWAY_PORT:-8080}
export FLEET_GATEWAY_PORT
services=(fleet-selector fleet-groups fleet-bulk-dispatcher fleet-rollout-controller fleet-scheduler fleet-gateway)
# A simulated fleet of 200 hosts (sim-0 .. sim-199, every 50th failing), so operations have agents.
fleet_args=(--simulate 200 --prefix sim --fail-every 50)
# Relative to the run directory, where the enrollment and the agent both run: compose runs the
# same commands in a working directory with a secrets volume.
agent_url_file=secrets/agent-sim.url
register_command=(fleet-agent "${fleet_args[@]}" --register-only)
enroll_command=(fleet-gateway enroll-agent --simulated-fleet sim --url-file "$agent_url_file")
agent_command=(fleet-agent "${fleet_args[@]}" --no-register)

stop_services() {
  for s in "${services[@]}" fleet-agent; do
    if [ -f "$SERVICES_DIR/$s.pid" ] && kill -0 "$(cat "$SERVICES_DIR/$s.pid")" 2>/dev/null; then
      log "stopping $s"; kill -TERM "$(cat "$SERVICES_DIR/$s.pid")"
    fi
    rm -f "$SERVICES_DIR/$s.pid"
  done
}

# The command line of each service, one per line: compose/docker-compose.yml runs the same ones
# (scripts/check_compose.py, run by `make test`, compares them).
if [ "${1:-}" = commands ]; then
  printf '%s\n' "${services[@]}"
  echo "${register_command[*]}"; echo "${enroll_command[*]}"; echo "${agent_command[*]}"
  exit 0
fi

if [ "${1:-}" = stop ]; then stop_services; exit 0; fi

"$FLEET_ROOT/scripts/install-deps.sh"
"$FLEET_ROOT/scripts/stack.sh" start
swift build -c release
bin=$(swift build -c release --show-bin-path)
# fleetctl's man page and shell completions, where man, bash-completion, zsh and fish look.
"$FLEET_ROOT/scripts/cli-docs.sh" "${FLEET_PREFIX:-$HOME/.local}/share" "$bin" || log "fleetctl's man page and completions were not installed"
mkdir -p "$SERVICES_DIR"
stop_services
# Only the gateway gets the management API's credentials (it enrolls agents).
for s in "${services[@]}"; do
  hide=(-u FLEET_RABBITMQ_MANAGEMENT_URL)
  [ "$s" = fleet-gateway ] && hide=()
  nohup env "${hide[@]}" "$bin/$s" > "$SERVICES_DIR/$s.log" 2>&1 &
  echo $! > "$SERVICES_DIR/$s.pid"
done
base=http://127.0.0.1:$FLEET_GATEWAY_PORT
for _ in $(seq 1 100); do
  python3 -c "import urllib.request,sys; urllib.request.urlopen('$base/ready', timeout=2)" 2>/dev/null && break
  sleep 0.2
done
env -u FLEET_RABBITMQ_MANAGEMENT_URL "$bin/${register_command[0]}" "${register_command[@]:1}" > "$SERVICES_DIR/fleet-agent-register.log" 2>&1
(cd "$FLEET_RUN_DIR" && umask 077 && mkdir -p secrets && "$bin/${enroll_command[0]}" "${enroll_command[@]:1}")
(
  cd "$FLEET_RUN_DIR"
  nohup env -u FLEET_AMQP_URL -u FLEET_REDIS_URL -u FLEET_RABBITMQ_MANAGEMENT_URL FLEET_AMQP_URL_FILE="$agent_url_file" \
    "$bin/${agent_command[0]}" "${agent_command[@]:1}" > "$SERVICES_DIR/fleet-agent.log" 2>&1 &
  echo $! > "$SERVICES_DIR/fleet-agent.pid"
)
# Ready once its queue exists: a command sent before that would find no queue (undeliverable).
python3 - "$FLEET_RABBITMQ_MANAGEMENT_URL" <<'PY'
import base64, sys, time, urllib.parse, urllib.request
u = urllib.parse.urlsplit(sys.argv[1])
req = urllib.request.Request(f"{u.scheme}://{u.hostname}:{u.port}/api/queues/%2F/" + urllib.parse.quote("fleet.agent.sim-*", safe=""))
req.add_header("Authorization", "Basic " + base64.b64encode(f"{u.username}:{u.password}".encode()).decode())
for _ in range(100):
    try:
        urllib.request.urlopen(req, timeout=2); break
    except Exception:
        time.sleep(0.2)
PY
token=$("$bin/fleet-gateway" create-token --scope admin --name "make-run")
python3 "$FLEET_ROOT/scripts/example_hosts.py" 300 | python3 -c "
import sys, urllib.request
req = urllib.request.Request('$base/api/v1/fleet/hosts', data=sys.stdin.buffer.read(), method='POST',
                             headers={'Content-Type': 'application/json', 'Authorization': 'Bearer $token'})
print(urllib.request.urlopen(req).read().decode())" >/dev/null
log "stack is up: gateway $base (logs in $SERVICES_DIR), 300 example hosts and 200 simulated ones (tag sim, broker user agents.sim)"
log "admin token (shown once): $token"
echo "try: curl -s -H 'Authorization: Bearer $token' -d '{\"platforms\":[\"linux\"],\"tags\":[\"db\"]}' $base/api/v1/fleet/select"
echo "     curl -s -H 'Authorization: Bearer $token' -d '{\"operation_type\":\"reboot\",\"selector\":{\"tags\":[\"sim\"]}}' $base/api/v1/fleet/bulk"
