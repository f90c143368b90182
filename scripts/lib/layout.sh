# shellcheck shell=bash disable=SC2034
# Paths and helpers shared by scripts/install.sh and scripts/uninstall.sh (sourced, not run).
# Every path is under $EA_ROOT ("" on a real install, a staging directory with --root).

EA_USER=edge-agent
EA_PREFIX_DEFAULT=/opt/edge-agent/venv

ea_layout() {  # ea_layout ROOT PREFIX: set the EA_* paths
  EA_ROOT=${1%/}
  EA_PREFIX=${2%/}
  EA_VENV="$EA_ROOT$EA_PREFIX"
  EA_MANIFEST="$EA_VENV/edge-agent-install.txt"
  EA_UNIT="$EA_ROOT/etc/systemd/system/edge-agent.service"
  EA_WANTS="$EA_ROOT/etc/systemd/system/multi-user.target.wants/edge-agent.service"
  EA_SYSUSERS="$EA_ROOT/etc/sysusers.d/edge-agent.conf"
  EA_ETC="$EA_ROOT/etc/edge-agent"
  EA_CONFIG="$EA_ETC/config.toml"
  EA_CONFIG_EXAMPLE="$EA_ETC/config.example.toml"
  EA_KEY="$EA_ETC/openai_api_key"
  EA_STATE="$EA_ROOT/var/lib/edge-agent"
  EA_MODELS="$EA_STATE/models"
  EA_CACHE="$EA_ROOT/var/cache/edge-agent"
  EA_LINK="$EA_ROOT/usr/local/bin/edge-agent"
  # The home relay (install.sh --relay): its own unit, config file and state directory.
  EA_RELAY_UNIT="$EA_ROOT/etc/systemd/system/edge-agent-relay.service"
  EA_RELAY_WANTS="$EA_ROOT/etc/systemd/system/multi-user.target.wants/edge-agent-relay.service"
  EA_RELAY_CONFIG="$EA_ETC/relay.toml"
  EA_RELAY_CONFIG_EXAMPLE="$EA_ETC/relay.example.toml"
  EA_RELAY_STATE="$EA_ROOT/var/lib/edge-agent-relay"
}

ea_say() { printf '%s: %s\n' "${EA_SCRIPT:-edge-agent}" "$*"; }
ea_die() { printf '%s: error: %s\n' "${EA_SCRIPT:-edge-agent}" "$*" >&2; exit "${EA_RC:-1}"; }

ea_is_staged() { [ -n "$EA_ROOT" ]; }

ea_systemd_running() { ! ea_is_staged && [ -d /run/systemd/system ] && command -v systemctl >/dev/null; }

ea_prune_dirs() {  # ea_prune_dirs DIR...: remove each DIR if empty; when staged, its empty parents too
  local d
  for d in "$@"; do
    while [ -d "$d" ] && [ "$d" != "$EA_ROOT" ] && [ "$d" != "/" ] && [ -n "$d" ]; do
      rmdir "$d" 2>/dev/null || break
      ea_is_staged || break  # on a real system never touch /opt, /etc/systemd ... themselves
      d=$(dirname "$d")
    done
  done
}
