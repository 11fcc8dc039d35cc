#!/usr/bin/env bash
# Create ./.venv (if absent) and install islp-ch10 with its test extras and the pinned torch pair.
# The pins matter: a bare `torch` pulls a CUDA build of several GB.  x86_64 takes
# torch 2.14.1 / torchvision 0.29.1, aarch64 torch 2.9.1 / torchvision 0.24.1 (a CPU build).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv
fi
case "$(uname -m)" in
    aarch64|arm64) TORCH="torch==2.9.1 torchvision==0.24.1" ;;
    *)             TORCH="torch==2.14.1 torchvision==0.29.1" ;;
esac
.venv/bin/python -m pip install --quiet --upgrade pip
# shellcheck disable=SC2086
.venv/bin/python -m pip install --quiet $TORCH -e ".[test,pretrained]"
.venv/bin/python -c "import torch, pytorch_lightning, ISLP; print(f'islp-ch10 ready: torch {torch.__version__}, lightning {pytorch_lightning.__version__}, ISLP {ISLP.__version__}')"
