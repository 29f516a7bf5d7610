#!/usr/bin/env bash
# The whole test suite: lint, types, then every package's tests against the emulators on 127.0.0.1.
set -euo pipefail
cd "$(dirname "$0")/.."
XLR8_NEED_POSTGRES=1 bash scripts/bootstrap.sh
export PATH="$HOME/.local/bin:$PATH"
echo "== ruff"; uv run --frozen ruff check .
echo "== ruff format"; uv run --frozen ruff format --check . >/dev/null
echo "== mypy"; uv run --frozen mypy shared/src sandbox/src target-xlr8-truths/src target-common/src gatherer/src orchestration/src taps/*/src
echo "== pytest"
exec uv run --frozen pytest -n "${XLR8_TEST_WORKERS:-2}" "$@"
