#!/usr/bin/env bash
# Install edge-agent into a Debian arm64 root under qemu-user emulation and check that it runs:
# debootstrap --arch=arm64, then inside the chroot: scripts/install.sh (apt, venv, pip with the
# source builds, models, user, config, unit), `edge-agent --version`, `edge-agent config check`.
# Not part of CI: it needs the network (Debian mirror, PyPI) and takes an hour or more
# (emulation is ~100x slower than native; PyAudio and systemd-python compile from source).
set -euo pipefail

usage() {
  cat <<'EOF'
Usage: sudo ./scripts/qemu-arm64-check.sh [--dir DIR] [--suite bookworm|trixie] [--mirror URL]

  --dir DIR      work directory; the arm64 root is DIR/root and is reused when it is complete
                 (default /var/tmp/edge-agent-arm64)
  --suite NAME   Debian suite to debootstrap (default bookworm)
  --mirror URL   Debian mirror (default http://deb.debian.org/debian)
Prints PASS or FAIL with the step that failed; exit 0 on PASS.
EOF
}

dir=/var/tmp/edge-agent-arm64 suite=bookworm mirror=http://deb.debian.org/debian
while [ $# -gt 0 ]; do
  case $1 in
    --dir) dir=${2:?}; shift ;;
    --suite) suite=${2:?}; shift ;;
    --mirror) mirror=${2:?}; shift ;;
    -h | --help) usage; exit 0 ;;
    *) echo "qemu-arm64-check.sh: unknown option $1" >&2; exit 64 ;;
  esac
  shift
done
[ "$(id -u)" -eq 0 ] || { echo "qemu-arm64-check.sh: run me as root" >&2; exit 64; }
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
root="$dir/root"
step() { printf '\n== [%s] %s\n' "$(date -u +%H:%M:%S)" "$*"; current="$*"; }
current=start
on_exit() {
  local rc=$?
  [ "$rc" -ne 0 ] && echo "FAIL at: $current (exit $rc)"
  umount_all
}
trap on_exit EXIT

mounted=()
umount_all() {
  local i
  for ((i = ${#mounted[@]} - 1; i >= 0; i--)); do umount -l "${mounted[$i]}" 2>/dev/null || true; done
  mounted=()
}
bind() { mkdir -p "$root$1" && mount --bind "$1" "$root$1" && mounted+=("$root$1"); }

step "host packages: debootstrap qemu-user-static binfmt-support"
missing=""
for p in debootstrap qemu-user-static binfmt-support; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
  # shellcheck disable=SC2086 # word splitting wanted
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null
fi

step "binfmt_misc handler for aarch64"
if [ ! -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ]; then
  [ -e /proc/sys/fs/binfmt_misc/register ] || mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc
  update-binfmts --enable qemu-aarch64
fi

if [ ! -e "$dir/.debootstrap-$suite-ok" ]; then
  step "debootstrap --arch=arm64 $suite into $root (10-30 minutes)"
  rm -rf "$root" && mkdir -p "$dir"
  debootstrap --arch=arm64 --variant=minbase --include=ca-certificates "$suite" "$root" "$mirror"
  touch "$dir/.debootstrap-$suite-ok"
fi

step "chroot runs arm64 code"
[ "$(chroot "$root" uname -m)" = aarch64 ]

step "copy this checkout to /root/edge-agent"
rm -rf "$root/root/edge-agent" && mkdir -p "$root/root/edge-agent"
tar -C "$HERE" --exclude=./.git --exclude=./.venv --exclude=./.cache --exclude=./build \
  --exclude='*.egg-info' --exclude=__pycache__ -cf - . | tar -C "$root/root/edge-agent" -xf -
cp -L /etc/resolv.conf "$root/etc/resolv.conf"
# Trust what the host trusts (a proxy's CA, say), or pip cannot reach PyPI from the chroot.
if compgen -G "/usr/local/share/ca-certificates/*.crt" >/dev/null; then
  mkdir -p "$root/usr/local/share/ca-certificates"
  cp /usr/local/share/ca-certificates/*.crt "$root/usr/local/share/ca-certificates/"
  chroot "$root" update-ca-certificates >/dev/null
fi
printf 'sk-qemu-check-not-a-real-key\n' >"$root/root/key"
bind /proc
bind /sys
bind /dev
bind /dev/pts

step "install.sh inside the arm64 chroot (apt, venv, pip source builds: the slow part)"
chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 \
  /root/edge-agent/scripts/install.sh --non-interactive --no-start --api-key-file /root/key

step "edge-agent --version"
chroot "$root" /usr/local/bin/edge-agent --version

step "edge-agent config check"
chroot "$root" /usr/bin/env -i PATH=/usr/bin:/bin CREDENTIALS_DIRECTORY=/etc/edge-agent \
  /usr/local/bin/edge-agent config check --config /etc/edge-agent/config.toml

step "onnxruntime runs the wake models on arm64"
# qemu-user shows the host's x86 /proc/cpuinfo, on which onnxruntime's cpuinfo library crashes
# (SIGSEGV at import); a Pi 4-like cpuinfo stands in for the real one.
cpuinfo="$dir/cpuinfo"
: >"$cpuinfo"
for i in 0 1 2 3; do
  printf 'processor\t: %d\nBogoMIPS\t: 108.00\nFeatures\t: fp asimd evtstrm crc32 cpuid\nCPU implementer\t: 0x41\nCPU architecture: 8\nCPU variant\t: 0x0\nCPU part\t: 0xd08\nCPU revision\t: 3\n\n' "$i" >>"$cpuinfo"
done
printf 'Revision\t: c03111\nModel\t\t: Raspberry Pi 4 Model B Rev 1.1\n' >>"$cpuinfo"
mount --bind "$cpuinfo" "$root/proc/cpuinfo" && mounted+=("$root/proc/cpuinfo")
QEMU_CPU=cortex-a72 chroot "$root" /opt/edge-agent/venv/bin/python -c '
import glob, numpy as np, onnxruntime as ort
for path in sorted(glob.glob("/var/lib/edge-agent/models/*.onnx")):
    ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    print("loaded", path)
mel = ort.InferenceSession("/var/lib/edge-agent/models/melspectrogram.onnx", providers=["CPUExecutionProvider"])
print("melspectrogram", mel.run(None, {mel.get_inputs()[0].name: np.zeros((1, 1280), np.float32)})[0].shape)
'
chroot "$root" /opt/edge-agent/venv/bin/python -c 'import pyaudio, soxr, gpiozero, lgpio, systemd.journal; print("pyaudio soxr gpiozero lgpio systemd: ok")'

step "the service user and the installed unit"
chroot "$root" id edge-agent
grep -q '^ExecStart=/opt/edge-agent/venv/bin/edge-agent run$' "$root/etc/systemd/system/edge-agent.service"
[ -L "$root/etc/systemd/system/multi-user.target.wants/edge-agent.service" ]

current=finished
echo "PASS: edge-agent installs and runs in a Debian $suite arm64 root under qemu"
