#!/usr/bin/env bash
# Lint and type-check with the settings in pyproject.toml ([tool.ruff], [tool.mypy]); exits non-zero
# when either reports an error (both run, so one CI log shows all of them).
# Needs the dev extra: pip install -e ".[dev]"
set -euo pipefail
cd "$(dirname "$0")/.."
status=0
python -m ruff check src tests benchmarks || status=1
python -m mypy src/genlab || status=1
exit "$status"
