"""End-to-end ``meltano run`` from tests: a temporary copy of the project, Meltano through its real CLI, and readers
for the truths store the run filled.

Each test gets its own project directory (``meltano.yml`` copied, its own ``.meltano/`` with system db, run files and
catalogs, its own truths store), so concurrent tests and a developer's own ``.meltano/`` never share a file. The
inherited environment is stripped of Meltano, tap and target variables so a developer's shell cannot change what a
test runs; everything a test sets is passed explicitly, as an operator would with environment variables.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: The workspace's console scripts (meltano, the taps, the target) sit next to the running interpreter.
BIN = Path(sys.executable).parent
TARGET = "target-xlr8-truths"
#: Variables that would reconfigure a run behind the test's back.
_FOREIGN_PREFIXES = ("MELTANO_", "TAP_", "TARGET_", "XLR8_CREDENTIALS", "LOGLEVEL")


@dataclass
class MeltanoProject:
    """One test's Meltano project under ``root``: everything a run writes lands below it."""

    root: Path
    environment: str = "sandbox"
    #: Applied to every command on top of the isolated base environment.
    env: dict[str, str] = field(default_factory=dict)

    @classmethod
    def copy_of(
        cls,
        meltano_yml: Path,
        root: Path,
        *,
        environment: str = "sandbox",
        env: Mapping[str, str] | None = None,
        edit: Callable[[dict[str, Any]], None] | None = None,
    ) -> MeltanoProject:
        """Copy ``meltano_yml`` into ``root/project``; ``edit`` may change the parsed YAML first."""
        project = cls(root, environment, dict(env or {}))
        project.project.mkdir(parents=True, exist_ok=True)
        if edit is None:
            (project.project / "meltano.yml").write_bytes(meltano_yml.read_bytes())
        else:
            import yaml

            data = yaml.safe_load(meltano_yml.read_text())
            edit(data)
            (project.project / "meltano.yml").write_text(yaml.safe_dump(data, sort_keys=False))
        return project

    @property
    def project(self) -> Path:
        return self.root / "project"

    @property
    def sys_dir(self) -> Path:
        """Meltano's ``.meltano/`` (system db, ``run/`` config files, catalogs) for this project only."""
        return self.project / ".meltano"

    @property
    def truths(self) -> Path:
        return self.root / "store" / "truths.duckdb"

    def base_env(self) -> dict[str, str]:
        """The inherited environment minus anything that reconfigures Meltano, a tap or the target, plus the
        project's own paths."""
        inherited = {k: v for k, v in os.environ.items() if not k.startswith(_FOREIGN_PREFIXES)}
        self.truths.parent.mkdir(parents=True, exist_ok=True)
        return {
            **inherited,
            "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
            "MELTANO_SEND_ANONYMOUS_USAGE_STATS": "false",
            "MELTANO_SYS_DIR_ROOT": str(self.sys_dir),
            "TARGET_XLR8_TRUTHS_DUCKDB_PATH": str(self.truths),
            "TARGET_XLR8_TRUTHS_UPLOAD_STAGING_PATH": str(self.truths.with_name("staging.duckdb")),
            "TARGET_XLR8_TRUTHS_PII_KEY_FILE": str(self.pii_key),
        }

    @property
    def pii_key(self) -> Path:
        """The engine key the sandbox environment's target creates (``pii_key_create``) for PII columns."""
        return self.root / "store" / "pii.key"

    def decrypt(self, value: str) -> str:
        """A landed ``ENC256:`` value in clear, with this project's key (what the engine does on display)."""
        from xlr8_kit.privacy import FieldCipher, load_key

        return FieldCipher(load_key(key_file=str(self.pii_key))).decrypt(value)

    def meltano(
        self, *args: str, env: Mapping[str, str] | None = None, timeout: float = 300
    ) -> subprocess.CompletedProcess[str]:
        """``meltano --environment=<env> <args>`` in the project copy; output captured, exit code not checked."""
        return subprocess.run(
            [str(BIN / "meltano"), f"--environment={self.environment}", *args],
            cwd=self.project,
            env={**self.base_env(), **self.env, **(env or {})},
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def run(
        self, tap: str, target: str = TARGET, *, env: Mapping[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        """``meltano run <tap> <target>``."""
        return self.meltano("run", tap, target, env=env)

    def rows(
        self, product: str, stream: str, columns: Sequence[str], order_by: str | Sequence[str]
    ) -> list[tuple[Any, ...]]:
        return truths_rows(self.truths, product, stream, columns, order_by)


def truths_table(conn: Any, product: str, stream: str) -> str:
    """The one table that holds ``product``'s ``stream`` (``{project8}_{product}_{stream}``, snake case)."""
    from target_xlr8_truths.naming import snake_case

    names = [row[0] for row in conn.execute("SELECT table_name FROM information_schema.tables").fetchall()]
    matches = [name for name in names if name.endswith(f"_{snake_case(product)}_{snake_case(stream)}")]
    assert len(matches) == 1, f"expected one table for {product}/{stream}, found {names}"
    return str(matches[0])


def truths_rows(
    store: Path, product: str, stream: str, columns: Sequence[str], order_by: str | Sequence[str]
) -> list[tuple[Any, ...]]:
    """``columns`` of one stream's truths table ordered by ``order_by``; names are given as the tap emits them
    (snake-cased here the way the target names columns)."""
    import duckdb

    from target_xlr8_truths.naming import snake_case

    order = [order_by] if isinstance(order_by, str) else list(order_by)
    selected = ", ".join(f'"{snake_case(c)}"' for c in columns)
    ordering = ", ".join(f'"{snake_case(c)}"' for c in order)
    with duckdb.connect(str(store), read_only=True) as conn:
        table = truths_table(conn, product, stream)
        # Identifiers only, each snake-cased to [a-z0-9_] and quoted: nothing a test passes can reach the SQL.
        return conn.execute(f'SELECT {selected} FROM "{table}" ORDER BY {ordering}').fetchall()  # noqa: S608
