#!/usr/bin/env bash
# Create .venv and install a requirements file into it; skipped when nothing changed.
# Usage: bash scripts/setup_venv.sh [--plan] requirements.txt
#   --plan prints the requirements file, its stamp and whether it would install, and installs nothing.
set -euo pipefail
plan=false
if [ "${1:-}" = --plan ]; then plan=true; shift; fi
requirements="${1:-requirements.txt}"
cd "$(dirname "${BASH_SOURCE[0]}")/.."

# The file and every file it pulls in with `-r`, so that an edit to any of them reinstalls.
with_includes() {
  echo "$1"
  sed -n 's/^-r[[:space:]]*//p' "$1" | while read -r include; do with_includes "$include"; done
}

# One stamp per requirements file and content: switching between files (cpu/gpu, app/dev) installs the
# one not installed yet, and going back to one already installed skips (pip never removes packages).
mapfile -t files < <(with_includes "$requirements")
stamp=".venv/.installed-$(cat "${files[@]}" pyproject.toml | sha256sum | cut -c1-16)-$(basename "$requirements")"
if $plan; then
  echo "requirements=$requirements"
  echo "stamp=$stamp"
  if [ -f "$stamp" ]; then echo "install=no"; else echo "install=yes"; fi
  exit 0
fi
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
if [ ! -f "$stamp" ]; then
  # setuptools >= 70.1 builds the editable install below without the `wheel` package, which only
  # TensorFlow's dependencies bring in: the GPU install has no TensorFlow.
  .venv/bin/python -m pip install --quiet --upgrade pip "setuptools>=70.1"
  .venv/bin/python -m pip install --quiet -r "$requirements"
  .venv/bin/python -m pip install --quiet --no-deps --no-build-isolation -e .  # `python -m cnnkit` from anywhere
  touch "$stamp"
fi
