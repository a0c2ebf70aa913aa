#!/usr/bin/env bash
# `make test` while stress-ng keeps both cores busy: the check that no test depends on an idle
# machine (a timing bound without margin, or a blocking call that starves the cooperative pool).
#   scripts/test-under-load.sh [workers]     (default: 2, one per core of the CI machine)
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
cd "$FLEET_ROOT"

workers=${1:-2}
if ! command -v stress-ng >/dev/null; then
  log "installing stress-ng"
  sudo_cmd=()
  [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends stress-ng >/dev/null \
    || { "${sudo_cmd[@]}" apt-get update -qq && DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends stress-ng >/dev/null; }
fi
# Bounded by its own timeout too, so a killed script never leaves the load running for long.
stress-ng --cpu "$workers" --timeout 45m --quiet &
stress=$!
trap 'kill "$stress" 2>/dev/null; wait "$stress" 2>/dev/null' EXIT
log "stress-ng --cpu $workers running (pid $stress)"
started=$(date +%s)
status=0
make test || status=$?
log "make test under load: exit $status after $(( $(date +%s) - started )) s"
exit $status
