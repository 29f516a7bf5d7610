"""The exit codes people and orchestrators read in the READMEs are ``xlr8_kit.exits.EXIT_CODES``, and the codes the
plugins really end with are the ones documented there (regenerate the tables with
``uv run python scripts/gen_plugin_docs.py``)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

from xlr8_kit.exits import (
    EXIT_CODES,
    EXIT_FAILED,
    EXIT_PARTIAL_RUN,
    EXIT_USAGE,
    PartialRunError,
    exit_code,
    markdown_table,
)

ROOT = Path(__file__).resolve().parents[2]


def table_rows(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith("|")]


def test_root_readme_lists_every_exit_code() -> None:
    readme = (ROOT / "README.md").read_text()
    block = re.search(r"<!-- BEGIN GENERATED: exit-codes .*?-->\n(.*?)<!-- END GENERATED: exit-codes -->", readme, re.S)
    assert block is not None, "README.md lost its exit-codes block"
    assert table_rows(block.group(1)) == table_rows(markdown_table())
    assert [int(row.split("|")[1]) for row in table_rows(block.group(1))[2:]] == sorted(EXIT_CODES)


def test_every_plugin_on_the_kit_documents_its_exit_codes(pkg: Any) -> None:
    """Every tap's command ends through the kit (the mapper and target-common are plain SDK plugins and say
    nothing); a tap's table has the partial-run row exactly when it has the ``allow_partial_run`` setting."""
    documented = []
    for plugin in pkg.gen().discover_plugins():
        readme = plugin.readme.read_text()
        if not plugin.handles_exits():
            assert "## Exit codes" not in readme, plugin.name
            continue
        documented.append(plugin.name)
        section = readme.split("\n## Exit codes\n", 1)[1].split("\n## ", 1)[0]
        partial = "allow_partial_run" in pkg.about_json(plugin.name)["settings"]["properties"]
        assert partial == plugin.name.startswith("tap-"), plugin.name
        assert table_rows(section) == table_rows(markdown_table(partial_runs=partial)), plugin.name
    taps = sorted(p.parent.name for p in ROOT.glob("taps/tap-*/pyproject.toml"))
    assert sorted(documented) == sorted([*taps, "target-xlr8-truths"])


def test_the_documented_codes_are_the_ones_the_kit_ends_with() -> None:
    assert exit_code(PartialRunError("quota")) == EXIT_PARTIAL_RUN
    assert exit_code(ValueError("bad setting")) == EXIT_FAILED
    usage = subprocess.run(
        [str(Path(sys.executable).parent / "tap-common"), "--no-such-option"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert usage.returncode == EXIT_USAGE, usage.stderr
    assert "no-such-option" in usage.stderr
