# Shared settings for the local stack scripts. Sourced, not run.
# Everything lives under .run/ in the repository (ignored by git); ports come from the environment.
set -euo pipefail
FLEET_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
FLEET_RUN_DIR=${FLEET_RUN_DIR:-$FLEET_ROOT/.run}
FLEET_AMQP_PORT=${FLEET_AMQP_PORT:-5672}
FLEET_REDIS_PORT=${FLEET_REDIS_PORT:-6379}
# RabbitMQ's management HTTP API, on loopback: only the gateway (enrollment) and these scripts use it.
FLEET_RABBITMQ_MANAGEMENT_PORT=${FLEET_RABBITMQ_MANAGEMENT_PORT:-$((FLEET_AMQP_PORT + 10000))}
FLEET_RABBITMQ_MANAGEMENT_URL=${FLEET_RABBITMQ_MANAGEMENT_URL:-http://guest:guest@127.0.0.1:$FLEET_RABBITMQ_MANAGEMENT_PORT}
FLEET_AMQP_URL=${FLEET_AMQP_URL:-amqp://guest:guest@127.0.0.1:$FLEET_AMQP_PORT/%2f}
FLEET_REDIS_URL=${FLEET_REDIS_URL:-redis://127.0.0.1:$FLEET_REDIS_PORT/0}
export FLEET_ROOT FLEET_RUN_DIR FLEET_AMQP_PORT FLEET_REDIS_PORT FLEET_AMQP_URL FLEET_REDIS_URL
export FLEET_RABBITMQ_MANAGEMENT_PORT FLEET_RABBITMQ_MANAGEMENT_URL

log() { printf '[fleet] %s\n' "$*" >&2; }
