#!/usr/bin/env bash
# Run edge-agent's real pipeline on a recorded question with no Pi, mic or API key:
# fake ALSA devices, the local Realtime emulator and device emulators, all on this machine.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/setup.sh
ea_setup_all demo
echo "== edge-agent config check (example config)"
.venv/bin/edge-agent config check --no-api-key --config edge_agent/config.example.toml
echo "demo: the end-to-end pipeline (edge-agent simulate) has not landed yet; see the README's status"
