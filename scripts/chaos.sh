#!/usr/bin/env bash
# `make chaos`: one fault at a time injected into real work over 2,000 simulated hosts, and the
# invariants of docs/crash-points.md checked after each (scripts/chaos.py has the scenarios).
# Installs what is missing, builds the services (debug; FLEET_CHAOS_CONFIG=release for release),
# and runs RabbitMQ and Redis of its own on 127.0.0.1 ports apart from the dev and test stacks
# (5702 and 6409), which it kills and restarts. Not part of `make test` (it takes ~15 minutes).
#   scripts/chaos.sh [SCENARIO...]      scripts/chaos.sh --list names them
export FLEET_AMQP_PORT=${FLEET_CHAOS_AMQP_PORT:-5702} FLEET_REDIS_PORT=${FLEET_CHAOS_REDIS_PORT:-6409}
export FLEET_AMQP_URL=amqp://guest:guest@127.0.0.1:$FLEET_AMQP_PORT/%2f FLEET_REDIS_URL=redis://127.0.0.1:$FLEET_REDIS_PORT/0
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
export FLEET_RUN_DIR=$FLEET_ROOT/.run/chaos
cd "$FLEET_ROOT"
"$FLEET_ROOT/scripts/install-deps.sh"
config=${FLEET_CHAOS_CONFIG:-debug}
swift build -c "$config"
export FLEET_BIN_DIR=$(swift build -c "$config" --show-bin-path)

# pika (AMQP, for the poison and duplicate scenarios) from PyPI, pinned, in a virtualenv of its own.
venv=$FLEET_ROOT/.run/venv-chaos
if ! "$venv/bin/python" -c 'import pika; assert pika.__version__ == "1.3.2"' 2>/dev/null; then
  log "installing pika 1.3.2 into $venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q pika==1.3.2
fi

"$FLEET_ROOT/scripts/stack.sh" start
trap '"$FLEET_ROOT/scripts/stack.sh" stop' EXIT
# shellcheck disable=SC2046
"$FLEET_ROOT/scripts/stack.sh" ensure-vhosts $("$venv/bin/python" scripts/chaos.py --list | sed 's/^/chaos-/')
"$venv/bin/python" scripts/chaos.py "$@"
