#!/usr/bin/env bash
# `make test`: installs what is missing, starts RabbitMQ and Redis if they are not running, runs
# every test, and stops what it started, whatever the outcome.
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
cd "$FLEET_ROOT"

"$FLEET_ROOT/scripts/install-deps.sh"

# Captured first: `status | grep -q` under pipefail fails whenever grep stops reading early.
before=$("$FLEET_ROOT/scripts/stack.sh" status)
started_redis=0 started_rabbit=0
[[ $before == *"redis: running"* ]] || started_redis=1
[[ $before == *"rabbitmq: running"* ]] || started_rabbit=1
cleanup() {
  [ "$started_rabbit" = 1 ] && "$FLEET_ROOT/scripts/stack.sh" stop-rabbitmq || true
  [ "$started_redis" = 1 ] && "$FLEET_ROOT/scripts/stack.sh" stop-redis || true
  "$FLEET_ROOT/scripts/cluster.sh" stop-redis-cluster || true
}
trap cleanup EXIT
"$FLEET_ROOT/scripts/stack.sh" start
# A Redis Cluster of six nodes (127.0.0.1:7101-7106), new each run, for FleetStore's cluster tests
# (RedisClusterTests moves a slot and kills a primary); seconds to make.
"$FLEET_ROOT/scripts/cluster.sh" reset-redis-cluster
# The service tests' vhost, and the five of IsolatedStack's slots (Tests/FleetTestSupport).
"$FLEET_ROOT/scripts/stack.sh" ensure-vhosts fleet-test fleet-test-iso1 fleet-test-iso2 fleet-test-iso3 fleet-test-iso4 fleet-test-iso5 fleet-test-iso6

swift build --build-tests
# What the services and the in-process gateway wait for another service (default 10 s): more, so
# the burst of requests at the start of a run on a loaded 2-core debug build is slow, not a 504.
export FLEET_REQUEST_TIMEOUT_MS=${FLEET_REQUEST_TIMEOUT_MS:-30000}
export FLEET_BIN_DIR=$(swift build --show-bin-path)

# Four phases, each parallel inside. The pure tests first (domain and contracts): they are CPU-bound (100,000-host
# fixtures) and would hold both cooperative threads of a 2-core machine while timing tests wait.
# Then everything that talks to the servers. Then, alone, the suites that stop and start the servers;
# last, alone too, the suites whose figures would be skewed by anything running beside them.
pure_suites='FleetCoreTests|FleetContractsTests'
restart_suites='BrokerRestartTests|RedisRestartTests'
# Timing figures of its own: run with nothing beside it.
alone_suites='HostileSelectorTests|AgentOutputMemoryTests'
status=0
# Each phase is bounded: a test that hangs fails the run (listing the tests still running) instead
# of holding CI until its own limit.
phase() {
  local limit=$1; shift
  local out=$FLEET_RUN_DIR/test-phase.log
  timeout -k 30 "$limit" swift test --skip-build "$@" 2>&1 | tee "$out"
  local rc=${PIPESTATUS[0]}
  if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
    log "swift test $* did not finish within $limit; still running:"
    python3 - "$out" <<'PY' >&2
import re, sys
started, done = set(), set()
for line in open(sys.argv[1], errors="replace"):
    m = re.search(r"◇ Test (\S+?)\(", line)
    if m and "Test case" not in line: started.add(m.group(1))
    m = re.search(r"[✔✘] Test (\S+?)\(", line)
    if m: done.add(m.group(1))
print("  " + "\n  ".join(sorted(started - done)))
PY
    # `timeout` stops swift-test, not the test process it runs: without this, that process and
    # the services it started (their watchdogs see it alive) stay up and serve the next phase's
    # vhost and database as stray replicas.
    pkill -TERM -f "$FLEET_BIN_DIR/FleetEnginePackageTests.xctest" || true
    sleep 2
    pkill -KILL -f "$FLEET_BIN_DIR/FleetEnginePackageTests.xctest" || true
  fi
  return "$rc"
}
phase 10m --filter "$pure_suites" || status=1
# The gateway tests record every response; scripts/check_openapi.py then checks them against the spec.
export FLEET_RECORD_RESPONSES=$FLEET_RUN_DIR/gateway-responses.jsonl
rm -f "$FLEET_RECORD_RESPONSES"
phase 20m --skip "$pure_suites|$restart_suites|$alone_suites" || status=1
python3 "$FLEET_ROOT/scripts/check_openapi.py" docs/openapi.yaml "$FLEET_RECORD_RESPONSES" || status=1
# schemathesis against a stack of its own: 10 examples per operation, fuzzing and stateful phases (`make chaos` runs more).
"$FLEET_ROOT/scripts/api-fuzz.sh" 10 || status=1
# fleet.dead (declared by the services just tested) is capped, as on every vhost the scripts make.
dead=$("$FLEET_ROOT/scripts/stack.sh" dead-letter-policy fleet-test)
[[ $dead == 'fleet-dead-cap {"max-length":100000,"overflow":"drop-head"}' ]] || { log "fleet.dead is not capped: '$dead'"; status=1; }
python3 "$FLEET_ROOT/scripts/check_compose.py" "$FLEET_ROOT" || status=1
# The CLI talks HTTP only: its binary must not drag in the C clients of the bus and the store.
if ldd "$FLEET_BIN_DIR/fleetctl" | grep -E 'libhiredis|librabbitmq'; then log "fleetctl links a C client it does not need"; status=1; fi
# An agent speaks the bus only: no Redis client, no HTTP server, no metrics registry in its binary.
if ldd "$FLEET_BIN_DIR/fleet-agent" | grep -E 'libhiredis'; then log "fleet-agent links hiredis"; status=1; fi
if nm "$FLEET_BIN_DIR/fleet-agent" | grep -E 'Hummingbird|Prometheus' >/dev/null; then log "fleet-agent links Hummingbird or Prometheus"; status=1; fi
# fleetctl's man page and completion scripts generate, and say what they should.
docs=$FLEET_RUN_DIR/cli-docs
if "$FLEET_ROOT/scripts/cli-docs.sh" "$docs" "$FLEET_BIN_DIR"; then
  grep -q '^.Dt FLEETCTL 1' "$docs/man/man1/fleetctl.1" && grep -q 'token-file' "$docs/man/man1/fleetctl.1" \
    && grep -q '64 a usage error' "$docs/man/man1/fleetctl.1" || { log "the man page lacks its header, options or exit statuses"; status=1; }
  bash -n "$docs/bash-completion/completions/fleetctl" && grep -q 'run_script' "$docs/bash-completion/completions/fleetctl" \
    || { log "the bash completion does not parse or lacks the operation types"; status=1; }
  grep -q '#compdef fleetctl' "$docs/zsh/site-functions/_fleetctl" || { log "the zsh completion is not one"; status=1; }
  grep -q "complete -c 'fleetctl'" "$docs/fish/vendor_completions.d/fleetctl.fish" || { log "the fish completion is not one"; status=1; }
else
  log "fleetctl's man page and completions did not generate"; status=1
fi
# The agent's systemd unit: systemd-analyze verify, and any warning it prints fails too.
unit_check=$(systemd-analyze verify "$FLEET_ROOT/Services/Agent/fleet-agent.service" 2>&1) && [ -z "$unit_check" ] \
  || { log "Services/Agent/fleet-agent.service: $unit_check"; status=1; }
phase 10m --filter "$restart_suites" || status=1
phase 5m --filter "$alone_suites" || status=1
# The service processes' watchdogs end them when the test process exits; wait for that.
for _ in $(seq 1 20); do pgrep -f "$FLEET_BIN_DIR/fleet-" >/dev/null || break; sleep 0.25; done
exit $status
