#!/usr/bin/env bash
# Install what the app needs into .venv and start it on http://localhost:8501
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup_venv.sh requirements.txt
exec .venv/bin/python -m streamlit run streamlit_app.py --server.address localhost --server.headless true \
  --browser.gatherUsageStats false "$@"
