#!/usr/bin/env bash
# Remove what scripts/install.sh installed. Keeps /etc/edge-agent (config, API key), the data in
# /var/lib/edge-agent (memories) and the edge-agent user unless --purge.
set -euo pipefail

usage() {
  cat <<'EOF'
Usage: sudo ./scripts/uninstall.sh [--purge] [--prefix DIR] [--root DIR]

Stops and disables edge-agent.service and edge-agent-relay.service (the home relay) and removes
the units, the venv, the wake-word models, the cache and /usr/local/bin/edge-agent.

Options:
  --purge        also remove /etc/edge-agent (config, relay.toml and API key), /var/lib/edge-agent
                 (memories), /var/lib/edge-agent-relay (satellite tokens, usage), the sysusers.d
                 file and the edge-agent user and group
  --prefix DIR   the venv given to install.sh (default /opt/edge-agent/venv)
  --root DIR     uninstall from a staging root made by install.sh --root (no systemctl/userdel)
  -h, --help     show this help
EOF
}

EA_SCRIPT=uninstall.sh
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
. "$HERE/scripts/lib/layout.sh"

root="" prefix=$EA_PREFIX_DEFAULT purge=0
while [ $# -gt 0 ]; do
  case $1 in
    --purge) purge=1 ;;
    --prefix) prefix=${2:?--prefix needs a DIR}; shift ;;
    --root) root=${2:?--root needs a DIR}; shift ;;
    --non-interactive) ;;  # never asks anything; accepted for symmetry with install.sh
    -h | --help) usage; exit 0 ;;
    *) echo "uninstall.sh: unknown option $1 (see --help)" >&2; exit 64 ;;
  esac
  shift
done
if [ -n "$root" ]; then
  [ -d "$root" ] || EA_RC=64 ea_die "--root $root: no such directory"
  root=$(cd "$root" && pwd)
  [ "$root" = / ] && root=""
fi
ea_layout "$root" "$prefix"
if ! ea_is_staged && [ "$(id -u)" -ne 0 ]; then
  EA_RC=64 ea_die "run me as root (sudo $0 ...)"
fi

if ea_systemd_running; then
  systemctl disable --now --quiet edge-agent.service 2>/dev/null || true
  systemctl disable --now --quiet edge-agent-relay.service 2>/dev/null || true
fi
rm -f "$EA_UNIT" "$EA_WANTS" "$EA_RELAY_UNIT" "$EA_RELAY_WANTS"
ea_systemd_running && systemctl daemon-reload

# The venv: only a directory that install.sh made (it holds our manifest) is deleted wholesale.
if [ -e "$EA_MANIFEST" ]; then
  rm -rf "$EA_VENV"
elif [ -e "$EA_VENV" ]; then
  ea_say "warning: $EA_VENV has no edge-agent-install.txt: not deleting it (wrong --prefix?)"
fi
if [ -L "$EA_LINK" ] && [ "$(readlink "$EA_LINK")" = "$EA_PREFIX/bin/edge-agent" ]; then
  rm -f "$EA_LINK"
fi
rm -rf "$EA_MODELS" "$EA_CACHE"
rm -f "$EA_CONFIG_EXAMPLE" "$EA_RELAY_CONFIG_EXAMPLE" "$EA_KEY.new"

if [ "$purge" = 1 ]; then
  rm -rf "$EA_ETC" "$EA_STATE" "$EA_RELAY_STATE"
  rm -f "$EA_SYSUSERS"
  if ! ea_is_staged && getent passwd "$EA_USER" >/dev/null; then
    userdel "$EA_USER" 2>/dev/null || ea_say "warning: could not remove the user $EA_USER"
    if getent group "$EA_USER" >/dev/null; then groupdel "$EA_USER" 2>/dev/null || true; fi
  fi
  ea_say "removed edge-agent, its configuration, API key, data and user"
else
  ea_say "removed edge-agent; kept ${EA_ETC#"$EA_ROOT"} (config, API key), ${EA_STATE#"$EA_ROOT"} (data) and the $EA_USER user: --purge removes them"
fi

# Directories install.sh may have created; gone only when empty (parents too in a staging root).
ea_prune_dirs "$(dirname "$EA_WANTS")" "$(dirname "$EA_SYSUSERS")" "$(dirname "$EA_VENV")" \
  "$(dirname "$EA_LINK")" "$(dirname "$EA_CACHE")" "$(dirname "$EA_STATE")"
