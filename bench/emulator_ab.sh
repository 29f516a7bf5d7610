#!/bin/bash
# A/B of two sandbox builds with bench/emulator_rate.py, alternating A B A B (one fresh sandbox per run).
#
#   git worktree add /tmp/base 32b74e8
#   bash bench/emulator_ab.sh /tmp/base OUT PAIRS SCALE "salesforce accounts rest" "workday raas" ...
#
# The base build runs with PYTHONPATH pointing at its sandbox/ and shared/ sources (this checkout's .venv, so
# both builds share every other package); "new" is this checkout. Each run appends its cold and warm lines to
# OUT, prefixed with the build and the Salesforce API. NEW_BUILD=/path/to/another/checkout measures that checkout
# as "new" (through PYTHONPATH like the base), e.g. a detached worktree of a commit while this one changes.
set -euo pipefail
base=$1; out=$2; pairs=$3; scale=$4; shift 4
here=$(cd "$(dirname "$0")/.." && pwd)
python="$here/.venv/bin/python"
for spec in "$@"; do
  read -r product stream api <<<"$spec"
  api=${api:-rest}
  for _ in $(seq "$pairs"); do
    for build in base new; do
      if [ "$build" = base ]; then dir=$base; pp=(PYTHONPATH="$base/sandbox/src:$base/shared/src")
      elif [ -n "${NEW_BUILD:-}" ]; then dir=$NEW_BUILD; pp=(PYTHONPATH="$NEW_BUILD/sandbox/src:$NEW_BUILD/shared/src")
      else dir=$here; pp=(); fi
      (cd "$dir" && env "${pp[@]}" XLR8_BENCH_SALESFORCE_API="$api" "$python" bench/emulator_rate.py \
        --product "$product" --stream "$stream" --scale "$scale" --repeat 1 | grep -E " (cold|warm) " \
        | sed "s/^/$build $api /") >> "$out"
    done
  done
done
