#!/usr/bin/env bash
# Create .venv and install a requirements file into it; skipped when nothing changed.
# Usage: source scripts/setup_venv.sh requirements.txt
set -euo pipefail
requirements="${1:-requirements.txt}"
cd "$(dirname "${BASH_SOURCE[0]}")/.."
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
stamp=".venv/.installed-$(cat "$requirements" requirements.txt pyproject.toml | sha256sum | cut -c1-16)-$(basename "$requirements")"
if [ ! -f "$stamp" ]; then
  .venv/bin/python -m pip install --quiet --upgrade pip
  .venv/bin/python -m pip install --quiet -r "$requirements"
  .venv/bin/python -m pip install --quiet --no-deps --no-build-isolation -e .  # `python -m cnnkit` from anywhere
  touch "$stamp"
fi
