#!/usr/bin/env bash
# Runs the local stack: installs what is missing, starts RabbitMQ and Redis on 127.0.0.1, builds
# every product. Services join this script as they are built (see README.md).
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
cd "$FLEET_ROOT"
"$FLEET_ROOT/scripts/install-deps.sh"
"$FLEET_ROOT/scripts/stack.sh" start
swift build -c release
log "stack is up: AMQP $FLEET_AMQP_URL, Redis $FLEET_REDIS_URL (scripts/stack.sh stop to stop it)"
