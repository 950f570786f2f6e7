#!/usr/bin/env bash
# Print what the app should train on: `gpu` when `nvidia-smi -L` lists at least one NVIDIA GPU,
# else `cpu`. CNNKIT_ACCELERATOR=cpu|gpu forces either; auto (the default) detects.
set -euo pipefail
case "${CNNKIT_ACCELERATOR:-auto}" in
  cpu | gpu) echo "$CNNKIT_ACCELERATOR" ;;
  auto)
    # No nvidia-smi, or one that fails (no driver) or lists no "GPU n: ..." line, means no GPU to use.
    # The listing is read whole before grep looks at it: with pipefail, `nvidia-smi | grep -q`
    # could fail on SIGPIPE once grep stops reading.
    listing=$(nvidia-smi -L 2>/dev/null) || listing=""
    if grep -q '^GPU [0-9]' <<<"$listing"; then echo gpu; else echo cpu; fi
    ;;
  *)
    echo "CNNKIT_ACCELERATOR must be cpu, gpu or auto, not '$CNNKIT_ACCELERATOR'" >&2
    exit 2
    ;;
esac
