# Shared set-up for scripts/test.sh and scripts/demo.sh (sourced, not run).
# ea_setup_all MODE: MODE is "test" (test extras + test apt packages) or "demo".

EA_APT_RUNTIME="python3-venv python3-dev gcc pkg-config libportaudio2 portaudio19-dev libasound2-dev alsa-utils libsystemd-dev tzdata libspeexdsp1"
EA_APT_TEST="espeak-ng sox libsndfile1 pulseaudio pulseaudio-utils libasound2-plugins systemd libseccomp2 openssl mosquitto"
EA_OWW_VERSION="0.5.1"
# scripts/install.sh on a Pi: what the daemon needs at run time, and what only pip's source builds
# need (PyAudio, systemd-python; swig for lgpio on Python 3.13). See shared packaging notes.
EA_APT_INSTALL_RUNTIME="python3 python3-venv libportaudio2 alsa-utils ca-certificates tzdata libspeexdsp1"
EA_APT_INSTALL_BUILD="gcc python3-dev portaudio19-dev libsystemd-dev pkg-config"

ea_missing_apt() {
  local pkg missing=()
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
  echo "${missing[@]:-}"
}

ea_apt() {
  command -v dpkg-query >/dev/null || { echo "setup: not a Debian system; install the equivalents of: $*" >&2; return 0; }
  local missing; missing=$(ea_missing_apt "$@")
  [ -z "$missing" ] && return 0
  if [ "$(id -u)" -eq 0 ]; then
    echo "== apt-get install $missing"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    # shellcheck disable=SC2086
    apt-get install -y -qq --no-install-recommends $missing >/dev/null
  else
    echo "setup: these Debian packages are missing: $missing" >&2
    echo "setup: install them with: sudo apt-get install $missing   (or run this script as root)" >&2
    exit 1
  fi
}

ea_venv() {  # ea_venv EXTRAS
  local extras=$1 py=${PYTHON:-python3} stamp
  if [ ! -x .venv/bin/python ] || ! .venv/bin/python -c "import sys" 2>/dev/null; then
    echo "== creating .venv with $($py --version)"
    rm -rf .venv
    "$py" -m venv .venv
  fi
  stamp=".venv/.edge-agent-$extras-$( (cat pyproject.toml; echo "$EA_OWW_VERSION") | sha256sum | cut -c1-16)"
  if [ ! -e "$stamp" ]; then
    echo "== pip install -e .[$extras] (first run builds PyAudio and systemd-python: a minute or two)"
    .venv/bin/python -m pip install -q --upgrade pip
    .venv/bin/python -m pip install -q -e ".[$extras]"
    # openwakeword's metadata requires tflite-runtime (no wheels for new Pythons): no deps.
    .venv/bin/python -m pip install -q --no-deps "openwakeword==$EA_OWW_VERSION"
    rm -f .venv/.edge-agent-"$extras"-*
    touch "$stamp"
  fi
}

ea_wheelhouse() {  # ea_wheelhouse DIR [PYTHON]: wheels of every dependency, for offline installs
  local dir=$1 py=${2:-.venv/bin/python} stamp
  stamp="$dir/.stamp-$( (cat pyproject.toml; echo "$EA_OWW_VERSION"; "$py" -c 'import sys; print(sys.version_info[:2])') | sha256sum | cut -c1-16)"
  [ -e "$stamp" ] && return 0
  echo "== building a wheelhouse in $dir (used by tests/install to run install.sh offline)"
  rm -rf "$dir" && mkdir -p "$dir"
  "$py" -m pip wheel -q -w "$dir" pip "setuptools>=68" wheel ".[pi]"
  "$py" -m pip wheel -q --no-deps -w "$dir" "openwakeword==$EA_OWW_VERSION"
  rm -f "$dir"/edge_agent-*.whl
  touch "$stamp"
}

ea_setup_all() {
  local mode=$1
  if [ "$mode" = test ]; then
    ea_apt $EA_APT_RUNTIME $EA_APT_TEST
    ea_venv test
    ea_wheelhouse .cache/wheelhouse
  else
    # simulate: espeak-ng speaks the question; a private PulseAudio is the real-time sound card
    ea_apt $EA_APT_RUNTIME espeak-ng sox pulseaudio pulseaudio-utils libasound2-plugins
    ea_venv test
  fi
  export EDGE_AGENT_MODELS_DIR=${EDGE_AGENT_MODELS_DIR:-$PWD/.cache/models}
  # Verified copies of the wake-word models (from the openwakeword 0.5.1 wheel); idempotent.
  .venv/bin/python -m edge_agent models fetch --dir "$EDGE_AGENT_MODELS_DIR" >/dev/null
}
