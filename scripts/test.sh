#!/usr/bin/env bash
# Run the whole test suite on a fresh Debian 12/13 or Raspberry Pi OS machine.
# Installs what it needs: apt packages when run as root (else it lists them and stops),
# a venv in .venv/ with the project (editable) and its test extras, and the wake-word models.
# Usage: ./scripts/test.sh [PYTEST ARGS...]      e.g. ./scripts/test.sh -k config -x
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/setup.sh

ea_setup_all test

echo "== ruff"
.venv/bin/ruff check .
.venv/bin/ruff format --check .

echo "== pytest"
set +e
PYTHONASYNCIODEBUG=1 .venv/bin/python -m pytest "$@"
rc=$?
set -e
if [ "$rc" -eq 5 ]; then
  echo "test.sh: pytest collected no tests: that is a failure, not a pass" >&2
fi
exit "$rc"
