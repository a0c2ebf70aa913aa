#!/usr/bin/env bash
# Runs schemathesis (every check: coverage, fuzzing and stateful phases) against docs/openapi.yaml and
# a gateway with every service behind it, in a vhost and Redis database of its own.
#   scripts/api-fuzz.sh [EXAMPLES [SCHEMATHESIS-ARGS...]]    EXAMPLES per operation (default 10, as `make test`
#   runs it; `make chaos` runs 100); more arguments go to `schemathesis run` (--include-path /api/v1/fleet/select).
# FLEET_FUZZ_PHASES picks the phases: `make test` runs fuzzing and stateful (about a minute); `make chaos`
# adds coverage, which walks every boundary of every schema and takes over ten minutes on 2 cores.
# It starts RabbitMQ and Redis if they are not running, expects built services in FLEET_BIN_DIR (default the
# debug build), and fails when schemathesis finds any failure. FLEET_FUZZ_VHOST, FLEET_FUZZ_REDIS_DB,
# FLEET_FUZZ_PORT and FLEET_FUZZ_WORK (logs) let two runs share a machine.
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
cd "$FLEET_ROOT"
examples=${1:-10}
shift || true
FLEET_BIN_DIR=${FLEET_BIN_DIR:-$(swift build --show-bin-path)}
vhost=${FLEET_FUZZ_VHOST:-fleet-fuzz}
port=${FLEET_FUZZ_PORT:-18093}
redis_db=${FLEET_FUZZ_REDIS_DB:-14}
work=${FLEET_FUZZ_WORK:-$FLEET_RUN_DIR/api-fuzz}
mkdir -p "$work"

# schemathesis from PyPI, pinned, in a virtualenv of its own (its dependencies stay off the system Python).
venv=$FLEET_RUN_DIR/venv-schemathesis
if ! "$venv/bin/schemathesis" --version 2>/dev/null | grep -q 4.32.5; then
  log "installing schemathesis 4.32.5 into $venv"
  python3 -m venv "$venv" || { log "python3 -m venv failed: install python3-venv"; exit 1; }
  "$venv/bin/pip" install -q schemathesis==4.32.5
fi

"$FLEET_ROOT/scripts/stack.sh" start
"$FLEET_ROOT/scripts/stack.sh" ensure-vhosts "$vhost"
redis-cli -p "$FLEET_REDIS_PORT" -n "$redis_db" flushdb >/dev/null

export FLEET_AMQP_URL=amqp://guest:guest@127.0.0.1:$FLEET_AMQP_PORT/$vhost
export FLEET_REDIS_URL=redis://127.0.0.1:$FLEET_REDIS_PORT/$redis_db
export FLEET_GATEWAY_PORT=$port FLEET_METRICS_PORT=0
# Rollout gates the fuzzer writes may only address this machine (the others answer 422): a
# fuzzed rollout never makes the controller reach out beyond 127.0.0.1.
export FLEET_GATE_HOSTS=127.0.0.1
pids=()
stop_services() { for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap stop_services EXIT
for s in fleet-selector fleet-groups fleet-bulk-dispatcher fleet-rollout-controller fleet-scheduler fleet-gateway; do
  "$FLEET_BIN_DIR/$s" >"$work/$s.log" 2>&1 &
  pids+=($!)
done
# A few simulated agents, so operations created by the fuzzer reach hosts and end.
"$FLEET_BIN_DIR/fleet-agent" --simulate 5 --prefix fuzz >"$work/fleet-agent.log" 2>&1 &
pids+=($!)
base=http://127.0.0.1:$port
for _ in $(seq 1 150); do
  python3 -c "import urllib.request; urllib.request.urlopen('$base/ready', timeout=2)" 2>/dev/null && break
  sleep 0.2
done
token=$("$FLEET_BIN_DIR/fleet-gateway" create-token --scope admin --name api-fuzz)

log "schemathesis: $examples examples per operation against $base"
status=0
# schemathesis_hooks.py: ST202 without the 422s the fleet's state decides (no_targets, unknown_group).
PYTHONPATH=$FLEET_ROOT/scripts SCHEMATHESIS_HOOKS=schemathesis_hooks "$venv/bin/schemathesis" run docs/openapi.yaml --url "$base" -H "Authorization: Bearer $token" \
  --checks all --exclude-checks positive_data_acceptance --max-examples "$examples" --workers 2 --seed "${FLEET_FUZZ_SEED:-1}" --generation-database none --phases "${FLEET_FUZZ_PHASES:-fuzzing,stateful}" "$@" \
  >"$work/schemathesis.log" 2>&1 || status=$?
tail -n 60 "$work/schemathesis.log"
[ "$status" = 0 ] || log "schemathesis found failures (whole output: $work/schemathesis.log)"
exit "$status"
