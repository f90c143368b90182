#!/usr/bin/env bash
# Run edge-agent's real pipeline on a recorded question with no Pi, mic or API key:
# a virtual real-time sound card, the local Realtime emulator and device emulators, all on this
# machine. Arguments go to `edge-agent simulate` (e.g. --json, --input WAV, --scenario FILE).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/setup.sh
ea_setup_all demo
echo "== edge-agent config check (example config)"
.venv/bin/edge-agent config check --no-api-key --config edge_agent/config.example.toml
echo "== edge-agent simulate (the real pipeline on a virtual sound card, local emulators)"
exec .venv/bin/edge-agent simulate "$@"
