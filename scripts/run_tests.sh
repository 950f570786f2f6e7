#!/usr/bin/env bash
# Install what the tests need into .venv and run the whole suite. Extra arguments go to pytest.
# The tests run on the CPU on every machine, as in CI (requirements-dev.txt: TensorFlow's CPU build and
# CPU JAX); the GPU choice in scripts/accelerator.sh is tested with a stand-in nvidia-smi.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup_venv.sh requirements-dev.txt
# .venv is shared with run_app.sh, which on a GPU machine adds JAX's CUDA plugin: keep JAX on the CPU
# anyway, so results match CI's (GPU kernels round differently).
export JAX_PLATFORMS="${JAX_PLATFORMS:-cpu}"
# End-to-end tests drive Debian's Chromium through Playwright (Playwright cannot download its own browser here).
if ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then apt_get="apt-get"; else apt_get="sudo apt-get"; fi
  $apt_get update -qq
  DEBIAN_FRONTEND=noninteractive $apt_get install -y -qq chromium chromium-driver >/dev/null
fi
# Team-mode tests (tests/tracking/test_team_mode.py) run Debian's PostgreSQL server; its programs live in
# /usr/lib/postgresql/<version>/bin, which scripts/team_server.sh finds.
if ! command -v pg_ctl >/dev/null 2>&1 && ! ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then apt_get="apt-get"; else apt_get="sudo apt-get"; fi
  $apt_get update -qq
  DEBIAN_FRONTEND=noninteractive $apt_get install -y -qq postgresql >/dev/null
fi
# Two pytest workers (pytest-xdist), each taking whole files (module fixtures such as the e2e app
# server are made once): much of the suite waits on subprocesses, servers and the browser, so two
# workers finish in about half the time on CI's 2 cores, taking the heavy files first (tests/heavy_first.py,
# which --no-loadscope-reorder lets set the order). CNNKIT_TEST_WORKERS=0 runs in this process.
exec .venv/bin/python -m pytest -n "${CNNKIT_TEST_WORKERS:-2}" --dist loadfile --no-loadscope-reorder "$@"
