#!/usr/bin/env bash
# `make chaos`: the long, on-demand checks that do not fit `make test`'s time. Today: schemathesis
# with 100 examples per operation (every phase and check) against the whole stack, built in release.
# Installs what is missing and starts RabbitMQ and Redis like `make test`.
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
cd "$FLEET_ROOT"
"$FLEET_ROOT/scripts/install-deps.sh"
swift build -c release
FLEET_FUZZ_PHASES=examples,coverage,fuzzing,stateful FLEET_BIN_DIR=$(swift build -c release --show-bin-path) "$FLEET_ROOT/scripts/api-fuzz.sh" "${FLEET_CHAOS_EXAMPLES:-100}"
