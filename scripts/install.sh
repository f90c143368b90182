#!/usr/bin/env bash
# Install edge-agent as a systemd service on Raspberry Pi OS / Debian (Bookworm, Trixie).
# Idempotent: rerunning upgrades the code and keeps the config, the API key and the data.
set -euo pipefail

usage() {
  cat <<'EOF'
Usage: sudo ./scripts/install.sh [OPTIONS]

Installs apt packages, a venv with edge-agent (default /opt/edge-agent/venv), the wake-word
models (/var/lib/edge-agent/models), the system user `edge-agent` (groups audio, gpio),
/etc/edge-agent/config.toml (from the example, only if absent: an edited config is never
overwritten), the API key, and the systemd unit; enables and starts it, runs `edge-agent doctor`.

Options:
  --api-key-file FILE  read the OpenAI API key from FILE ('-' = stdin); stored in
                       /etc/edge-agent/openai_api_key, mode 0640 root:edge-agent.
                       Without it: an existing key is kept; else the key is asked for on a
                       terminal, or read from stdin when stdin is not a terminal.
  --non-interactive    never read stdin; without a key the service is installed but not started
  --no-start           install and enable the unit, but do not (re)start it
  --prefix DIR         the venv (default /opt/edge-agent/venv); ExecStart=DIR/bin/edge-agent run
  --root DIR           install into the staging root DIR: no apt-get, no useradd, no systemctl;
                       what would be done to the host is written to PREFIX/edge-agent-install.txt
  --python PATH        interpreter for the venv (default /usr/bin/python3; needs 3.11 to 3.13)
  --wheelhouse DIR     install Python packages only from the wheels in DIR (offline installs)
  --no-apt             do not install apt packages (they are there, or this is not Debian)
  --allow-32bit        try anyway on 32-bit ARM (armv7l); see docs/install.md
  --relay              install the home relay (edge-agent-relay.service, /etc/edge-agent/relay.toml)
                       instead of the voice daemon: for the one box that holds the API key and
                       mints secrets for the satellites (docs/relay.md). No wake models, no
                       daemon unit; run install.sh again without --relay to have both.
  -h, --help           show this help

Exit status: 0 installed, 1 failure (or the service did not start), 64 bad usage,
69 unsupported system.
Uninstall: sudo ./scripts/uninstall.sh [--purge]
EOF
}

EA_SCRIPT=install.sh
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
. "$HERE/scripts/lib/setup.sh"
. "$HERE/scripts/lib/layout.sh"

root="" prefix=$EA_PREFIX_DEFAULT key_file="" interactive=1 start=1 use_apt=1 allow32=0
wheelhouse="" python="" relay=0
while [ $# -gt 0 ]; do
  case $1 in
    --api-key-file) key_file=${2:?--api-key-file needs a FILE}; shift ;;
    --non-interactive) interactive=0 ;;
    --no-start) start=0 ;;
    --prefix) prefix=${2:?--prefix needs a DIR}; shift ;;
    --root) root=${2:?--root needs a DIR}; shift ;;
    --python) python=${2:?--python needs a PATH}; shift ;;
    --wheelhouse) wheelhouse=$(cd "${2:?--wheelhouse needs a DIR}" && pwd); shift ;;
    --no-apt) use_apt=0 ;;
    --allow-32bit) allow32=1 ;;
    --relay) relay=1 ;;
    -h | --help) usage; exit 0 ;;
    *) echo "install.sh: unknown option $1 (see --help)" >&2; exit 64 ;;
  esac
  shift
done
case $prefix in /*) ;; *) echo "install.sh: --prefix must be an absolute path" >&2; exit 64 ;; esac
if [ -n "$key_file" ] && [ "$key_file" != - ] && [ ! -r "$key_file" ]; then
  echo "install.sh: --api-key-file $key_file: cannot read it" >&2
  exit 64
fi
if [ -n "$root" ]; then
  mkdir -p "$root"
  root=$(cd "$root" && pwd)
  [ "$root" = / ] && root=""
fi
ea_layout "$root" "$prefix"
manifest_lines=()
record() { manifest_lines+=("$*"); }

check_system() {
  if ! ea_is_staged && [ "$(id -u)" -ne 0 ]; then
    EA_RC=64 ea_die "run me as root (sudo $0 ...), or use --root DIR for a staging install"
  fi
  local arch; arch=$(uname -m)
  case $arch in
    x86_64 | aarch64) ;;
    armv7l | armv8l)
      echo "install.sh: 32-bit ARM ($arch): PyPI has no armv7l wheels of onnxruntime, numpy," \
        "scipy or scikit-learn, so the wake word cannot run. Install Raspberry Pi OS (64-bit)" \
        "on a Pi 3/4/5/Zero 2 W instead." >&2
      [ "$allow32" = 1 ] || EA_RC=69 ea_die "32-bit ARM is not supported (--allow-32bit tries anyway)"
      ;;
    armv6l) EA_RC=69 ea_die "armv6 (Pi 1, Pi Zero/Zero W) is not supported: no wheels, too slow" ;;
    *) ea_say "warning: untested architecture $arch" ;;
  esac
  python=${python:-$(command -v /usr/bin/python3 || command -v python3 || true)}
  if [ "$use_apt" = 1 ] && ! ea_is_staged; then
    local build_pkgs=$EA_APT_INSTALL_BUILD
    # lgpio has no cp313 wheels: on ARM pip builds it, with swig.
    case $arch in aarch64 | armv7l | armv8l) build_pkgs="$build_pkgs swig" ;; esac
    # shellcheck disable=SC2086
    ea_apt $EA_APT_INSTALL_RUNTIME $build_pkgs
    python=${python:-/usr/bin/python3}
  fi
  if [ -z "$python" ] || [ ! -x "$python" ]; then
    EA_RC=69 ea_die "no python3 found (apt-get install python3)"
  fi
  "$python" -c 'import sys; sys.exit(not ((3, 11) <= sys.version_info[:2] < (3, 14)))' ||
    EA_RC=69 ea_die "$python is Python $("$python" -c 'import platform; print(platform.python_version())'); edge-agent needs 3.11 to 3.13 (Bookworm or Trixie)"
  "$python" -c 'import venv, ensurepip' 2>/dev/null ||
    EA_RC=69 ea_die "$python has no venv/ensurepip module: apt-get install python3-venv"
}

own() {  # own USER:GROUP MODE PATH: set mode; owner on a real install, recorded when staged
  chmod "$2" "$3"
  if ea_is_staged; then
    record "owner ${3#"$EA_ROOT"} $1 $2"
  else
    chown "$1" "$3"
  fi
}

create_user() {
  mkdir -p "$(dirname "$EA_SYSUSERS")"
  install -m 0644 "$HERE/systemd/edge-agent.sysusers.conf" "$EA_SYSUSERS"
  if ea_is_staged; then
    record "user $EA_USER system, home /var/lib/edge-agent, shell nologin, groups audio gpio"
    return
  fi
  if command -v systemd-sysusers >/dev/null; then
    systemd-sysusers "${EA_SYSUSERS}"
  else  # a chroot or container without systemd
    getent group gpio >/dev/null || groupadd --system gpio
    getent group audio >/dev/null || groupadd --system audio
    getent passwd "$EA_USER" >/dev/null ||
      useradd --system --user-group --home-dir /var/lib/edge-agent --no-create-home \
        --shell /usr/sbin/nologin --comment "edge-agent voice assistant" "$EA_USER"
    usermod -a -G audio,gpio "$EA_USER"
  fi
}

pip_install() {  # pip_install ARGS...: pip in the venv, from --wheelhouse only when given
  local extra=()
  [ -n "$wheelhouse" ] && extra=(--no-index --find-links "$wheelhouse")
  "$EA_VENV/bin/python" -m pip install -q --disable-pip-version-check "${extra[@]}" "$@"
}

install_venv() {
  local want have build whl
  want=$("$python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
  have=$("$EA_VENV/bin/python" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null || true)
  if [ "$have" != "$want" ]; then
    ea_say "creating the venv $EA_PREFIX with Python $want"
    rm -rf "$EA_VENV"
    mkdir -p "$(dirname "$EA_VENV")"
    "$python" -m venv "$EA_VENV"
  fi
  # Debian's bundled pip 23.0 builds systemd-python with the legacy `setup.py install`.
  pip_install --upgrade pip
  # A fixed build path keeps the installed direct_url.json the same from one run to the next.
  build="$EA_VENV/.build"
  rm -rf "$build" && mkdir -p "$build"
  # Build from a copy: an in-tree build leaves build/ and *.egg-info in the checkout.
  tar -C "$HERE" --exclude=./.git --exclude=./.venv --exclude=./.cache --exclude=./build \
    --exclude='*.egg-info' --exclude=__pycache__ -cf - . | tar -C "$build" -xf -
  ea_say "installing edge-agent and its dependencies (PyAudio and systemd-python build from source: minutes on a Pi)"
  local extra=()
  [ -n "$wheelhouse" ] && extra=(--no-index --find-links "$wheelhouse")
  # A reproducible wheel (fixed zip timestamps), so a rerun installs byte-identical files.
  SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-315532800} \
    "$EA_VENV/bin/python" -m pip wheel -q --disable-pip-version-check --no-deps "${extra[@]}" \
    -w "$build/dist" "$build"
  whl=$(ls "$build"/dist/edge_agent-*.whl)
  # lgpio (gpiozero's pin factory on a Pi 5) only on ARM; PYPI=1 links it without liblgpio-dev.
  local pi=""
  case $(uname -m) in aarch64 | armv7l | armv8l) pi="[pi]" && export PYPI=1 ;; esac
  pip_install --no-deps --force-reinstall "$whl"  # this checkout's code, even at the same version
  pip_install "edge-agent$pi @ file://$whl"
  # openwakeword's metadata hard-requires tflite-runtime (no wheels for Python >= 3.12).
  pip_install --no-deps "openwakeword==$EA_OWW_VERSION"
  rm -rf "$build"
  record "venv $EA_PREFIX python $want"
}

install_files() {
  local grp=$EA_USER
  mkdir -p "$EA_ETC" "$EA_STATE" "$EA_CACHE"
  own "root:$grp" 0750 "$EA_ETC"
  own "$EA_USER:$grp" 0750 "$EA_STATE"
  own "$EA_USER:$grp" 0750 "$EA_CACHE"
  install -m 0644 "$HERE/edge_agent/config.example.toml" "$EA_CONFIG_EXAMPLE"
  if [ -e "$EA_CONFIG" ]; then
    ea_say "keeping the existing ${EA_CONFIG#"$EA_ROOT"}"
  else
    install -m 0640 "$HERE/edge_agent/config.example.toml" "$EA_CONFIG"
    ea_say "wrote ${EA_CONFIG#"$EA_ROOT"} from the example: edit it, then: sudo systemctl restart edge-agent"
  fi
  own "root:$grp" 0640 "$EA_CONFIG"
  install -D -m 0644 "$HERE/docs/install.md" "$EA_VENV/share/doc/edge-agent/install.md"
  mkdir -p "$(dirname "$EA_LINK")"
  ln -sfn "$EA_PREFIX/bin/edge-agent" "$EA_LINK"
}

install_key() {
  local key=""
  if [ -n "$key_file" ]; then
    if [ "$key_file" = - ]; then
      IFS= read -r key || true
    else
      key=$(head -n 1 -- "$key_file")
    fi
  elif [ -s "$EA_KEY" ]; then
    ea_say "keeping the existing API key in ${EA_KEY#"$EA_ROOT"}"
    own "root:$EA_USER" 0640 "$EA_KEY"
    return 0
  elif [ "$interactive" = 1 ]; then
    if [ -t 0 ]; then
      IFS= read -r -s -p "OpenAI API key (input hidden; empty to add it later): " key || true
      echo
    else
      IFS= read -r key || true
    fi
  fi
  key=$(printf '%s' "$key" | tr -d ' \t\r\n')
  if [ -z "$key" ]; then
    [ -e "$EA_KEY" ] && own "root:$EA_USER" 0640 "$EA_KEY"
    return 1
  fi
  (umask 077 && printf '%s\n' "$key" >"$EA_KEY.new")
  ea_is_staged || chown "root:$EA_USER" "$EA_KEY.new"
  mv -f "$EA_KEY.new" "$EA_KEY"
  own "root:$EA_USER" 0640 "$EA_KEY"
  ea_say "stored the API key in ${EA_KEY#"$EA_ROOT"} (0640 root:$EA_USER)"
}

install_models() {
  mkdir -p "$EA_MODELS"
  ea_say "fetching the wake-word models into ${EA_MODELS#"$EA_ROOT"}"
  "$EA_VENV/bin/edge-agent" models fetch --dir "$EA_ROOT/var/lib/edge-agent/models" ||
    ea_die "\`edge-agent models fetch\` failed: the wake-word models are not installed"
  if ! ea_is_staged; then chown -R "$EA_USER:$EA_USER" "$EA_MODELS"; fi
}

install_unit() {
  mkdir -p "$(dirname "$EA_UNIT")"
  sed "s|@PREFIX@|$EA_PREFIX|g" "$HERE/systemd/edge-agent.service" >"$EA_UNIT.new"
  chmod 0644 "$EA_UNIT.new"
  mv -f "$EA_UNIT.new" "$EA_UNIT"
  if ea_systemd_running; then
    systemctl daemon-reload
    systemctl enable --quiet edge-agent.service
  else  # what `systemctl enable` does, for a staging root or a chroot without systemd
    mkdir -p "$(dirname "$EA_WANTS")"
    ln -sfn /etc/systemd/system/edge-agent.service "$EA_WANTS"
  fi
}

start_unit() {  # start_unit HAVE_KEY
  if ea_is_staged; then
    record "service edge-agent.service: enable, $([ "$start" = 1 ] && echo "restart if the API key is set" || echo "no start (--no-start)")"
    return
  fi
  if [ "$start" = 0 ]; then
    ea_say "not starting the service (--no-start)"
  elif [ "$1" = 0 ]; then
    ea_say "not starting the service: no API key yet"
  elif ! ea_systemd_running; then
    ea_say "systemd is not running here (chroot/container): the service starts at the next boot"
  else
    if systemctl restart edge-agent.service; then
      ea_say "started edge-agent.service"
    else
      start_failed=1
      ea_say "edge-agent.service did not start: journalctl -u edge-agent -b shows why"
    fi
  fi
}

run_doctor() {
  ea_is_staged && return 0
  "$EA_VENV/bin/edge-agent" doctor --help >/dev/null 2>&1 || return 0
  local skip=()
  if systemctl is-active --quiet edge-agent 2>/dev/null; then
    # The running service holds the mic and the GPIO pins; doctor would only report them busy.
    skip=(--skip audio --skip gpio)
    ea_say "running edge-agent doctor as $EA_USER (mic and GPIO skipped: the service holds them)"
  else
    ea_say "running edge-agent doctor as $EA_USER"
  fi
  runuser -u "$EA_USER" -- env CREDENTIALS_DIRECTORY=/etc/edge-agent \
    EDGE_AGENT_CONFIG=/etc/edge-agent/config.toml EDGE_AGENT_MODELS_DIR=/var/lib/edge-agent/models \
    "$EA_VENV/bin/edge-agent" doctor "${skip[@]}" || ea_say "doctor found problems: see the hints above"
}

install_relay_files() {
  local grp=$EA_USER
  mkdir -p "$EA_ETC" "$EA_RELAY_STATE"
  own "root:$grp" 0750 "$EA_ETC"
  own "$EA_USER:$grp" 0700 "$EA_RELAY_STATE"
  install -m 0644 "$HERE/edge_agent/relay/relay.example.toml" "$EA_RELAY_CONFIG_EXAMPLE"
  if [ -e "$EA_RELAY_CONFIG" ]; then
    ea_say "keeping the existing ${EA_RELAY_CONFIG#"$EA_ROOT"}"
  else
    install -m 0640 "$HERE/edge_agent/relay/relay.example.toml" "$EA_RELAY_CONFIG"
    ea_say "wrote ${EA_RELAY_CONFIG#"$EA_ROOT"} from the example (loopback only): see docs/relay.md for TLS"
  fi
  own "root:$grp" 0640 "$EA_RELAY_CONFIG"
  install -D -m 0644 "$HERE/docs/relay.md" "$EA_VENV/share/doc/edge-agent/relay.md"
  mkdir -p "$(dirname "$EA_LINK")"
  ln -sfn "$EA_PREFIX/bin/edge-agent" "$EA_LINK"
}

install_relay_unit() {
  mkdir -p "$(dirname "$EA_RELAY_UNIT")"
  sed "s|@PREFIX@|$EA_PREFIX|g" "$HERE/systemd/edge-agent-relay.service" >"$EA_RELAY_UNIT.new"
  chmod 0644 "$EA_RELAY_UNIT.new"
  mv -f "$EA_RELAY_UNIT.new" "$EA_RELAY_UNIT"
  if ea_systemd_running; then
    systemctl daemon-reload
    systemctl enable --quiet edge-agent-relay.service
  else  # what `systemctl enable` does, for a staging root or a chroot without systemd
    mkdir -p "$(dirname "$EA_RELAY_WANTS")"
    ln -sfn /etc/systemd/system/edge-agent-relay.service "$EA_RELAY_WANTS"
  fi
}

start_relay() {  # start_relay HAVE_KEY
  if ea_is_staged; then
    record "service edge-agent-relay.service: enable, $([ "$start" = 1 ] && echo "restart if the API key is set" || echo "no start (--no-start)")"
    return
  fi
  runuser -u "$EA_USER" -- env CREDENTIALS_DIRECTORY=/etc/edge-agent \
    "$EA_VENV/bin/edge-agent" relay check --config /etc/edge-agent/relay.toml ||
    ea_say "relay.toml has problems (above); fix them, then: sudo systemctl restart edge-agent-relay"
  if [ "$start" = 0 ] || [ "$1" = 0 ] || ! ea_systemd_running; then
    ea_say "not starting edge-agent-relay.service now (no key, --no-start or no systemd)"
  elif systemctl restart edge-agent-relay.service; then
    ea_say "started edge-agent-relay.service"
  else
    start_failed=1
    ea_say "edge-agent-relay.service did not start: journalctl -u edge-agent-relay -b shows why"
  fi
}

relay_next_steps() {
  cat <<EOF

The edge-agent home relay is installed$(ea_is_staged && echo " into the staging root $EA_ROOT").
Next (docs/relay.md):
  1. For satellites on the LAN: a TLS certificate and listen = "0.0.0.0" in
     /etc/edge-agent/relay.toml (and the budgets), then: sudo edge-agent relay check
  2. $([ "$have_key" = 1 ] && echo "The API key is in /etc/edge-agent/openai_api_key." || echo "Add the API key: sudo ./scripts/install.sh --relay --api-key-file FILE")
  3. One token per satellite: sudo edge-agent relay add-satellite kitchen
  4. sudo systemctl restart edge-agent-relay && journalctl -u edge-agent-relay -f
EOF
}

write_manifest() {
  {
    echo "# written by scripts/install.sh; read by scripts/uninstall.sh"
    echo "prefix $EA_PREFIX"
    printf '%s\n' "${manifest_lines[@]}"
  } >"$EA_MANIFEST"
}

next_steps() {
  cat <<EOF

edge-agent is installed$(ea_is_staged && echo " into the staging root $EA_ROOT").
Next:
  1. Edit /etc/edge-agent/config.toml (audio devices, wake word, LEDs, devices), then
     sudo edge-agent config check --config /etc/edge-agent/config.toml
  2. $([ "$have_key" = 1 ] && echo "The API key is in /etc/edge-agent/openai_api_key." || echo "Add the API key: sudo ./scripts/install.sh --api-key-file FILE  (or - for stdin)")
  3. sudo systemctl restart edge-agent && journalctl -u edge-agent -f
  4. Check it: sudo -u edge-agent edge-agent doctor   (docs/install.md: troubleshooting)
EOF
}

start_failed=0
check_system
create_user
install_venv
if [ "$relay" = 1 ]; then
  install_relay_files
  have_key=1
  install_key || have_key=0
  [ "$have_key" = 1 ] || ea_say "no API key yet: the relay will not start without it"
  install_relay_unit
  start_relay "$have_key"
  record "relay /etc/edge-agent/relay.toml, state /var/lib/edge-agent-relay"
  write_manifest
  relay_next_steps
  exit "$start_failed"
fi
install_files
have_key=1
install_key || have_key=0
[ "$have_key" = 1 ] || ea_say "no API key yet: the service will not start without it"
install_models
install_unit
start_unit "$have_key"
write_manifest
run_doctor
next_steps
exit "$start_failed"  # installed, but a service that does not start is a failure to report
