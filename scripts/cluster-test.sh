#!/usr/bin/env bash
# `make cluster-test`: two replicas of every service on the local clusters (scripts/cluster.sh:
# 3 RabbitMQ nodes, a 6-node Redis Cluster), 5,000 simulated hosts, a SIGKILL of a RabbitMQ node
# and then of a Redis primary under real work, and the invariants checked (scripts/cluster_test.py).
# Installs what is missing, builds the services (debug; FLEET_CLUSTER_CONFIG=release for release),
# starts the clusters and stops them at the end, whatever the outcome.
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
cd "$FLEET_ROOT"
"$FLEET_ROOT/scripts/install-deps.sh"
config=${FLEET_CLUSTER_CONFIG:-debug}
swift build -c "$config"
export FLEET_BIN_DIR=$(swift build -c "$config" --show-bin-path)
trap '"$FLEET_ROOT/scripts/cluster.sh" stop' EXIT
"$FLEET_ROOT/scripts/cluster.sh" start
python3 "$FLEET_ROOT/scripts/cluster_test.py"
