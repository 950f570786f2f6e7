#!/usr/bin/env bash
# Install what the app needs into .venv and start it on http://localhost:8501. Extra arguments go to streamlit.
# With an NVIDIA GPU (scripts/accelerator.sh) that is Keras on JAX with CUDA, else Keras on TensorFlow's CPU build.
# `run_app.sh --plan` prints what it would install and run on, and stops.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
accelerator=$(bash scripts/accelerator.sh)
if [ "$accelerator" = gpu ]; then
  requirements="requirements-gpu.txt"
  export KERAS_BACKEND="${KERAS_BACKEND:-jax}"  # the GPU install has JAX, not TensorFlow; a backend the user chose stays
else
  requirements="requirements.txt"
fi
if [ "${1:-}" = --plan ]; then
  echo "accelerator=$accelerator"
  echo "KERAS_BACKEND=${KERAS_BACKEND:-}"
  exec bash scripts/setup_venv.sh --plan "$requirements"
fi
bash scripts/setup_venv.sh "$requirements"
exec .venv/bin/python -m streamlit run streamlit_app.py --server.address localhost --server.headless true \
  --browser.gatherUsageStats false "$@"
