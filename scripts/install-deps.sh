#!/usr/bin/env bash
# Installs, with apt-get, whatever the build, the tests and the local stack need and the machine lacks.
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

# docker-compose (Debian's) only validates compose/docker-compose.yml: no Docker engine is needed.
# chromium (headless) loads the gateway's dashboard in a test; curl reads its event stream in another.
# python3-venv: scripts/api-fuzz.sh keeps schemathesis (PyPI) in a virtualenv of its own.
# FLEET_EXTRA_PACKAGES: what one script needs beyond these (make bench: wrk and postgresql).
packages=(pkg-config binutils librabbitmq-dev libhiredis-dev rabbitmq-server redis-server redis-tools docker-compose chromium curl python3-venv systemd)
read -r -a extra <<< "${FLEET_EXTRA_PACKAGES:-}"
packages+=("${extra[@]}")
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# The OpenAPI check's Python libraries (PyPI), when the machine lacks them.
if ! python3 -c "import yaml, openapi_schema_validator, openapi_spec_validator, referencing" 2>/dev/null; then
  log "installing the OpenAPI check's Python packages"
  python3 -m pip install -q pyyaml openapi-schema-validator openapi-spec-validator referencing
fi
if [ ${#missing[@]} -eq 0 ]; then exit 0; fi

log "installing: ${missing[*]}"
sudo_cmd=()
[ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -qq
# policy-rc.d keeps apt from trying to start the system services: the stack starts its own.
"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
command -v swift >/dev/null || { log "swift is not on PATH: install Swift 6 (https://swift.org/install)"; exit 1; }
