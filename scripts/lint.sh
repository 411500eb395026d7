#!/usr/bin/env bash
# Lint and type-check with the settings in pyproject.toml ([tool.ruff], [tool.mypy]).
# Needs the dev extra: pip install -e ".[dev]"
set -euo pipefail
cd "$(dirname "$0")/.."
python -m ruff check src tests benchmarks scripts
python -m mypy
