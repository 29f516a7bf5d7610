#!/usr/bin/env bash
# Installs everything the project needs on a fresh machine: uv, Python deps (one lockfile), system packages.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.local/bin:$PATH"
if ! command -v uv >/dev/null 2>&1; then
  python3 -m pip install --quiet --user "uv==0.13.9" 2>/dev/null || python3 -m pip install --quiet "uv==0.13.9"
fi
uv sync --frozen --quiet
# Where Python will not cache bytecode itself (PYTHONDONTWRITEBYTECODE set, as in CI and most containers), compile it
# now: the dependencies (uv does not by default) and the workspace's editable sources. Otherwise every process of a
# `meltano run` (Meltano, tap, target) compiles its imports from source each time: about 1.6 s of CPU a run where
# the standard library's bytecode exists (review22d; bench/README "`meltano run`'s fixed cost", session 22).
# Without the variable the first run writes what it imports, cheaper than compiling every file (~25 s of CPU).
# Not `[tool.uv] compile-bytecode`: that re-checks every file on each `uv run` (+0.5 s of CPU a command). Python
# still recompiles in memory any source changed since.
if [ -n "${PYTHONDONTWRITEBYTECODE:-}" ]; then
  uv sync --frozen --quiet --compile-bytecode
  uv run --frozen --quiet python -m compileall -q -j 0 shared/src sandbox/src target-xlr8-truths/src target-common/src \
    gatherer/src orchestration/src taps/*/src >/dev/null || echo "bootstrap: some sources did not byte-compile" >&2
fi
# The fast path: meltano.yml's plugins (pip_url for `meltano install`) run from this workspace venv, so
# `uv run meltano run ...` builds no plugin venv. `meltano install` still builds real ones.
# Every Meltano command uses meltano.yml's default_environment (MELTANO_ENVIRONMENT in the git-ignored .env).
uv run --frozen --quiet python -c "from pathlib import Path; from xlr8_kit.testing.meltano_e2e import link_workspace_venvs, honour_default_environment; link_workspace_venvs(Path.cwd()); honour_default_environment(Path.cwd())"
# PostgreSQL server binaries for the target's postgres delivery tests (the client alone is not enough).
if [ "${XLR8_NEED_POSTGRES:-0}" = "1" ] && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  if command -v apt-get >/dev/null 2>&1; then
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null) \
      || echo "bootstrap: could not install postgresql; postgres tests will fail" >&2
  fi
fi
