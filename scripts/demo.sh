#!/usr/bin/env bash
# Set up, start the vendor emulators, run every landed tap into target-xlr8-truths, print what landed.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
export PATH="$HOME/.local/bin:$PATH"
exec uv run --frozen xlr8-demo "$@"
