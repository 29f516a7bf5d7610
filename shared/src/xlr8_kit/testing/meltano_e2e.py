"""End-to-end ``meltano run`` from tests: a temporary copy of the project, Meltano through its real CLI, and readers
for the truths store the run filled.

Each test gets its own project directory (``meltano.yml`` copied, its own ``.meltano/`` with system db, run files and
catalogs, its own truths store), so concurrent tests and a developer's own ``.meltano/`` never share a file. The
inherited environment is stripped of Meltano, tap and target variables so a developer's shell cannot change what a
test runs; everything a test sets is passed explicitly, as an operator would with environment variables.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Collection, Mapping, Sequence
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
        """Copy ``meltano_yml`` and its plugins' lock files into ``root/project``; ``edit`` may change the parsed
        YAML first."""
        project = cls(root, environment, dict(env or {}))
        project.project.mkdir(parents=True, exist_ok=True)
        if edit is None:
            (project.project / "meltano.yml").write_bytes(meltano_yml.read_bytes())
        else:
            import yaml

            data = yaml.safe_load(meltano_yml.read_text())
            edit(data)
            (project.project / "meltano.yml").write_text(yaml.safe_dump(data, sort_keys=False))
        copy_plugin_locks(meltano_yml.parent, project.project)
        link_workspace_venvs(project.project, project.sys_dir)
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


def copy_plugin_locks(source_root: Path, project_dir: Path) -> list[Path]:
    """Copy the plugins' Meltano lock files (``plugins/<type>/<name>--<variant>.lock``: the definitions meltano.yml
    declares by variant) from ``source_root`` into a project copy whose meltano.yml is already written; without
    them Meltano would ask the Hub. A plugin the copy declares without ``pip_url`` (a test running the workspace's
    executables from PATH) loses the lock's ``pip_url`` too: Meltano installs a plugin when its lock has one. Returns
    the files written."""
    import yaml

    project = yaml.safe_load((project_dir / "meltano.yml").read_text()) or {}
    declared = {(kind, p.get("name")): p for kind, ps in (project.get("plugins") or {}).items() for p in ps or []}
    written = []
    for lock in sorted(source_root.glob("plugins/*/*.lock")):
        target = project_dir / lock.relative_to(source_root)
        target.parent.mkdir(parents=True, exist_ok=True)
        definition = json.loads(lock.read_text())
        entry = declared.get((definition.get("plugin_type"), definition.get("name")))
        if entry is not None and not entry.get("pip_url") and "pip_url" in definition:
            del definition["pip_url"]
            target.write_text(json.dumps(definition, indent=2) + "\n")
        else:
            target.write_bytes(lock.read_bytes())
        written.append(target)
    return written


def declared_plugin(project_dir: Path, plugin_type: str, name: str) -> dict[str, Any]:
    """A plugin as Meltano sees it in ``project_dir``: its lock file's definition (settings, capabilities,
    executable, when meltano.yml declares it by ``variant``) overlaid with its meltano.yml entry."""
    import yaml

    project = yaml.safe_load((project_dir / "meltano.yml").read_text()) or {}
    found = [p for p in (project.get("plugins") or {}).get(plugin_type) or [] if p.get("name") == name]
    assert len(found) == 1, f"meltano.yml declares {name} {len(found)} times under plugins.{plugin_type}"
    entry = dict(found[0])
    lock = project_dir / "plugins" / plugin_type / f"{name}--{entry.get('variant')}.lock"
    return {**(json.loads(lock.read_text()) if entry.get("variant") else {}), **entry}


#: Marks a plugin venv that is only a link to the workspace venv (safe to refresh; a real one is never touched).
WORKSPACE_LINK_MARK = ".xlr8-workspace-venv"


def link_workspace_venvs(project_dir: Path, sys_dir: Path | None = None, *, venv: Path | None = None) -> list[str]:
    """The workspace fast path: every plugin of ``project_dir/meltano.yml`` that has a ``pip_url`` gets a Meltano
    plugin venv whose ``bin`` is the workspace venv's, with the install fingerprint Meltano expects, so ``meltano
    run`` finds it installed and neither builds a venv nor auto-installs one. ``meltano install`` still builds real
    venvs: the link carries the workspace's ``pyvenv.cfg``, so uv and virtualenv clear it (the link, never what it
    points at) and create a real one; a real venv is never replaced here. Returns the plugins linked."""
    import shlex

    import yaml
    from meltano.core.venv_service import fingerprint

    bin_dir = (venv / "bin") if venv is not None else BIN
    project = yaml.safe_load((project_dir / "meltano.yml").read_text()) or {}
    root = sys_dir or project_dir / ".meltano"
    linked = []
    for plugin_type, plugins in (project.get("plugins") or {}).items():
        for plugin in plugins or []:
            pip_url = plugin.get("pip_url")
            if not pip_url or plugin.get("inherit_from"):
                continue
            venv_root = root / plugin_type / plugin["name"] / "venv"
            if venv_root.exists() and not (venv_root / WORKSPACE_LINK_MARK).exists():
                continue  # installed by `meltano install`: leave it
            venv_root.mkdir(parents=True, exist_ok=True)
            link = venv_root / "bin"
            if link.is_symlink() or link.exists():
                link.unlink()
            link.symlink_to(bin_dir, target_is_directory=True)
            (venv_root / WORKSPACE_LINK_MARK).write_text(str(bin_dir) + "\n")
            cfg = bin_dir.parent / "pyvenv.cfg"  # marks the directory as a venv that `meltano install` may clear
            (venv_root / "pyvenv.cfg").write_text(cfg.read_text() if cfg.exists() else "")
            (venv_root / ".meltano_plugin_fingerprint").write_text(fingerprint(shlex.split(pip_url)))
            linked.append(plugin["name"])
    return linked


def honour_default_environment(project_dir: Path) -> str | None:
    """Meltano ignores ``default_environment`` for ``config``, ``select``, ``state``, ``job`` and ``schedule``, but
    takes ``MELTANO_ENVIRONMENT`` from the project's ``.env`` as chosen: written there (once), every command uses
    the default environment unless ``--environment`` says otherwise. Returns the environment, None if none is set."""
    import yaml

    default = (yaml.safe_load((project_dir / "meltano.yml").read_text()) or {}).get("default_environment")
    dotenv = project_dir / ".env"
    lines = dotenv.read_text().splitlines() if dotenv.exists() else []
    if default and not any(line.startswith("MELTANO_ENVIRONMENT=") for line in lines):
        dotenv.write_text("\n".join([*lines, f"MELTANO_ENVIRONMENT={default}"]) + "\n")
    return str(default) if default else None


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


def landed_tables(
    store: Path, *, left_out: Collection[str] = (), as_set: Collection[str] = ()
) -> list[tuple[str, list[str], list[tuple[Any, ...]]]]:
    """Every current table of a truths store: its name, its columns less ``left_out`` and its rows sorted (``ORDER
    BY ALL``). PII columns (ciphertext under a fresh nonce each run) and ``as_set`` columns come as whether they are
    set."""
    import duckdb

    found = []
    with duckdb.connect(str(store), read_only=True) as conn:
        tables = conn.execute(
            "SELECT table_name, encrypted_columns FROM _schema_metadata WHERE is_current ORDER BY table_name"
        ).fetchall()
        for table, encrypted_json in tables:
            marked = {*(json.loads(encrypted_json) if encrypted_json else []), *as_set}
            columns = [
                name
                for (name,) in conn.execute(
                    "SELECT column_name FROM information_schema.columns WHERE table_name = ? ORDER BY ordinal_position",
                    [table],
                ).fetchall()
                if name not in left_out
            ]
            # Names read from the store's own catalog, each quoted: no test input reaches the SQL.
            select = ", ".join(f'("{c}" IS NOT NULL)' if c in marked else f'"{c}"' for c in columns)
            rows = conn.execute(f'SELECT {select} FROM "{table}" ORDER BY ALL').fetchall()  # noqa: S608
            found.append((str(table), columns, rows))
    return found
