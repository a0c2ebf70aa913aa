#!/usr/bin/env bash
# fleetctl's man page (swift-argument-parser's generate-manual, the tool behind its GenerateManual
# plugin, run on the built binary: the plugin itself rebuilds the whole package in release first)
# and its completion scripts for bash, zsh and fish, written under OUT:
#   OUT/man/man1/fleetctl.1   OUT/bash-completion/completions/fleetctl
#   OUT/zsh/site-functions/_fleetctl   OUT/fish/vendor_completions.d/fleetctl.fish
# Usage: scripts/cli-docs.sh OUT [BIN_DIR]   (BIN_DIR: where fleetctl is; default the debug build)
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
cd "$FLEET_ROOT"
out=${1:?usage: cli-docs.sh OUT [BIN_DIR]}
bin=${2:-$(swift build --show-bin-path)}
swift build --product generate-manual >/dev/null 2>&1 || swift build --product generate-manual
tool="$(swift build --show-bin-path)/generate-manual"
mkdir -p "$out/man/man1" "$out/bash-completion/completions" "$out/zsh/site-functions" "$out/fish/vendor_completions.d"
"$tool" "$bin/fleetctl" --output-directory "$out/man/man1" >/dev/null
"$bin/fleetctl" --generate-completion-script bash >"$out/bash-completion/completions/fleetctl"
"$bin/fleetctl" --generate-completion-script zsh >"$out/zsh/site-functions/_fleetctl"
"$bin/fleetctl" --generate-completion-script fish >"$out/fish/vendor_completions.d/fleetctl.fish"
log "fleetctl: man page and completions in $out"
