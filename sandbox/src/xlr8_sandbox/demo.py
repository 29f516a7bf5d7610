"""``xlr8-demo``: the README's main command. Start the vendor sandbox on its fixed ports, ``meltano run`` every
extractor of meltano.yml whose product has an emulator into target-xlr8-truths (``sandbox`` environment), then
print what landed, read back from the truths store itself (``_schema_metadata`` and the data tables).

Which emulator an extractor needs is read from its sandbox config (a URL on one of ``DEFAULT_PORTS``), else from
the product vocabulary (``tap-sap-successfactors`` -> ``successfactors``). The store path and project id are the
target's settings in meltano.yml, never hard-coded here.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from xlr8_sandbox.platform.faults import PROFILES
from xlr8_sandbox.platform.server import DEFAULT_PORTS, run_sandbox

TARGET = "target-xlr8-truths"
TARGET_DEFAULT_STORE = ".xlr8/truths.duckdb"
LEDGER_TABLE = "_truths_ledger"
_METRIC = re.compile(r'"metric":\s*"record_count",\s*"value":\s*(\d+),\s*"tags":\s*\{[^}]*?"stream":\s*"([^"]+)"')
_STREAM_START = re.compile(r"Beginning (?:\w+ )?sync of '([^']+)'")
_LOOPBACK_PORT = re.compile(r"//(?:127\.0\.0\.1|localhost):(\d+)")


class DemoError(Exception):
    """Something the user must fix before the demo can run (the message says what)."""


@dataclass(frozen=True)
class Extractor:
    name: str
    product: str


@dataclass(frozen=True)
class DemoPlan:
    root: Path
    environment: str
    extractors: list[Extractor]
    skipped: list[tuple[str, str]]
    store_path: Path
    project_id: str


@dataclass
class TapRun:
    extractor: Extractor
    ok: bool = False
    seconds: float = 0.0
    records: dict[str, int] = field(default_factory=dict)
    log_path: Path | None = None
    tail: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class LandedStream:
    product: str
    stream: str
    table: str
    entity: str
    truth_type: str
    rows: int
    seconds: float | None
    #: rows marked deleted (``_sdc_deleted_at``): history, not counted in ``rows``
    deleted: int = 0


# --- meltano.yml --------------------------------------------------------------------------------------------------
def find_project_root(start: Path) -> Path:
    for directory in (start, *start.parents):
        if (directory / "meltano.yml").is_file():
            return directory
    raise DemoError(f"no meltano.yml in {start} or any parent directory; run the demo from the project")


def load_meltano(root: Path) -> dict[str, Any]:
    import yaml

    data = yaml.safe_load((root / "meltano.yml").read_text(encoding="utf-8")) or {}
    if not isinstance(data, dict):
        raise DemoError("meltano.yml is not a mapping")
    return data


def _plugins(data: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [p for p in (data.get("plugins", {}) or {}).get(kind, []) or [] if isinstance(p, dict)]


def plugin_config(data: dict[str, Any], kind: str, name: str, environment: str, root: Path) -> dict[str, Any]:
    """The plugin's config: its base block overlaid with the environment's, ``$MELTANO_PROJECT_ROOT`` expanded."""
    merged: dict[str, Any] = {}
    for plugin in _plugins(data, kind):
        if plugin.get("name") == name:
            merged.update(plugin.get("config") or {})
    for env in data.get("environments", []) or []:
        if isinstance(env, dict) and env.get("name") == environment:
            for plugin in ((env.get("config") or {}).get("plugins") or {}).get(kind, []) or []:
                if isinstance(plugin, dict) and plugin.get("name") == name:
                    merged.update(plugin.get("config") or {})
    variables = {**os.environ, "MELTANO_PROJECT_ROOT": str(root)}
    return {k: _expand(v, variables) for k, v in merged.items()}


def _expand(value: Any, variables: dict[str, str]) -> Any:
    if isinstance(value, str):
        return re.sub(r"\$\{(\w+)\}|\$(\w+)", lambda m: variables.get(m[1] or m[2], m[0]), value)
    if isinstance(value, dict):
        return {k: _expand(v, variables) for k, v in value.items()}
    if isinstance(value, list):
        return [_expand(v, variables) for v in value]
    return value


def product_for(name: str, config: dict[str, Any], registered: Iterable[str]) -> str | None:
    """The emulator an extractor talks to in the sandbox: by the port its URL uses, else by its name."""
    registered = set(registered)
    by_port = {port: product for product, port in DEFAULT_PORTS.items()}
    for match in _LOOPBACK_PORT.finditer(repr(config)):
        product = by_port.get(int(match[1]))
        if product in registered:
            return product
    from xlr8_kit.vocabulary import resolve_product
    from xlr8_kit.vocabulary.model import VocabularyError

    try:
        resolved = resolve_product(name).id
    except VocabularyError:
        resolved = None  # not a known tap name: fall back to matching the name's tail
    if resolved in registered:
        return resolved
    candidates = [p for p in registered if name.endswith(p.replace("_", "-"))]
    return max(candidates, key=len) if candidates else None


def make_plan(root: Path, environment: str, only: list[str] | None = None) -> DemoPlan:
    from xlr8_sandbox.products import EMULATORS

    data = load_meltano(root)
    if not any(p.get("name") == TARGET for p in _plugins(data, "loaders")):
        raise DemoError(f"meltano.yml has no loader named {TARGET}")
    environments = [e.get("name") for e in data.get("environments", []) or [] if isinstance(e, dict)]
    if environment not in environments:
        raise DemoError(f"meltano.yml has no environment {environment!r} (has: {', '.join(map(str, environments))})")
    target = plugin_config(data, "loaders", TARGET, environment, root)
    project_id = str(target.get("project_id") or "")
    if not project_id:
        raise DemoError(f"setting 'project_id' of {TARGET} is not set for environment {environment!r} in meltano.yml")
    if target.get("delivery", "duckdb") != "duckdb":
        raise DemoError(f"the demo reads a DuckDB store; {TARGET} 'delivery' is {target.get('delivery')!r}")
    store = Path(str(target.get("duckdb_path") or TARGET_DEFAULT_STORE))
    extractors: list[Extractor] = []
    skipped: list[tuple[str, str]] = []
    for plugin in _plugins(data, "extractors"):
        name = str(plugin.get("name"))
        if plugin.get("inherit_from"):  # a variant of a tap the demo runs anyway, configured for a job
            skipped.append((name, f"a variant of {plugin['inherit_from']} for a job, not run into {TARGET}"))
            continue
        product = product_for(name, plugin_config(data, "extractors", name, environment, root), EMULATORS)
        if product is None:
            skipped.append((name, "no sandbox emulator for its product yet"))
        elif only and product not in only and name not in only:
            skipped.append((name, "not selected"))
        else:
            extractors.append(Extractor(name, product))
    return DemoPlan(root, environment, extractors, skipped, store if store.is_absolute() else root / store, project_id)


# --- running ------------------------------------------------------------------------------------------------------
def meltano_command() -> list[str]:
    """The workspace's meltano (next to this interpreter), so the demo needs nothing else on PATH."""
    found = shutil.which("meltano", path=str(Path(sys.executable).parent)) or shutil.which("meltano")
    if not found:
        raise DemoError("meltano is not installed in this environment; run: bash scripts/bootstrap.sh")
    return [found]


def run_tap(plan: DemoPlan, extractor: Extractor, *, full_refresh: bool, out: TextIO) -> TapRun:
    run = TapRun(extractor)
    logs = plan.root / ".xlr8" / "demo-logs"
    logs.mkdir(parents=True, exist_ok=True)
    run.log_path = logs / f"{extractor.name}.log"
    command = [*meltano_command(), f"--environment={plan.environment}", "run", extractor.name, TARGET]
    if full_refresh:
        command.append("--full-refresh")
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    env.setdefault("NO_COLOR", "1")
    records: dict[str, int] = defaultdict(int)
    started_streams: list[str] = []
    tail: list[str] = []
    started = time.perf_counter()
    interactive = out.isatty()
    with run.log_path.open("w", encoding="utf-8") as log:
        proc = subprocess.Popen(
            command,
            cwd=plan.root,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
        )
        assert proc.stdout is not None
        ticker = _Ticker(out, extractor, records, started_streams, started, interactive)
        ticker.start()
        try:
            for line in proc.stdout:
                log.write(line)
                tail = [*tail[-29:], line.rstrip()]
                for stream, value in record_counts(line, extractor.name):
                    records[stream] += value
                if extractor.name in line:
                    started_streams.extend(s for s in _STREAM_START.findall(line) if s not in started_streams)
            code = proc.wait()
        finally:
            ticker.stop()
    run.seconds = time.perf_counter() - started
    run.records = dict(records)
    run.ok = code == 0
    run.tail = tail
    total = sum(records.values())
    mark = "ok " if run.ok else "FAILED"
    clear = "\r\033[K" if interactive else ""
    print(
        f"{clear}  [{mark}] {extractor.name} -> {TARGET}: {len(records)} streams, {total:,} records, "
        f"{run.seconds:.1f}s",
        file=out,
        flush=True,
    )
    if not run.ok:
        print(f"         exit code {code}; last lines of {run.log_path}:", file=out)
        for line in tail[-12:]:
            print(f"           {line}", file=out)
    return run


def record_counts(line: str, tap_name: str) -> list[tuple[str, int]]:
    """(stream, records) from a tap's SDK ``record_count`` metric in meltano's log (the target's are skipped)."""
    if not re.search(rf"(?<![\w-]){re.escape(tap_name)}\s+METRIC", line) and f"name={tap_name}" not in line:
        return []
    return [(stream, int(value)) for value, stream in _METRIC.findall(line.replace('\\"', '"'))]


class _Ticker:
    """Progress while a tap runs: a live line on a terminal, a line every 10 s otherwise."""

    def __init__(
        self,
        out: TextIO,
        extractor: Extractor,
        records: dict[str, int],
        streams: list[str],
        started: float,
        interactive: bool,
    ) -> None:
        self.out, self.extractor, self.records, self.streams = out, extractor, records, streams
        self.started, self.interactive = started, interactive
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        period = 0.5 if self.interactive else 10.0
        spinner = "|/-\\"
        n = 0
        while not self._stop.wait(period):
            n += 1
            elapsed = time.perf_counter() - self.started
            counts = dict(self.records)
            streams = list(self.streams)
            current = f", syncing {streams[-1]}" if streams else ", starting"
            line = (
                f"  [{spinner[n % 4] if self.interactive else '..'}] {self.extractor.name}: {elapsed:5.0f}s, "
                f"{len(streams)} streams begun, {sum(counts.values()):,} records so far{current}"
            )
            if self.interactive:
                print(f"\r\033[K{line}", end="", file=self.out, flush=True)
            else:
                print(line, file=self.out, flush=True)


# --- reading the store --------------------------------------------------------------------------------------------
def read_landed(plan: DemoPlan, products: Iterable[str]) -> list[LandedStream]:
    """What the truths store holds for the project: the engine's registry, the ledger, the data tables."""
    import duckdb

    if not plan.store_path.exists():
        return []
    project = normalise_project(plan.project_id)
    aliases = {p: p for p in products} | product_aliases(plan)
    conn = duckdb.connect(str(plan.store_path), read_only=True)
    try:
        tables = {row[0] for row in conn.execute("SELECT table_name FROM information_schema.tables").fetchall()}
        if "_schema_metadata" not in tables:
            return []
        registry = conn.execute(
            "SELECT table_name, entity_type, truth_type FROM _schema_metadata "
            "WHERE is_current = TRUE AND LOWER(project) = ? ORDER BY table_name",
            [project],
        ).fetchall()
        ledger: dict[str, tuple[str, str, float | None]] = {}
        if LEDGER_TABLE in tables:
            for table, product, stream, seconds in conn.execute(
                "SELECT table_name, product, stream, EXTRACT(EPOCH FROM (MAX(updated_at) - MIN(started_at))) "  # noqa: S608 - constant table names
                f"FROM {LEDGER_TABLE} l WHERE LOWER(project) = ? AND run_id = (SELECT run_id FROM {LEDGER_TABLE} x "
                "WHERE x.table_name = l.table_name AND LOWER(x.project) = LOWER(l.project) "
                "ORDER BY updated_at DESC LIMIT 1) GROUP BY table_name, product, stream",
                [project],
            ).fetchall():
                ledger[table] = (product, stream, None if seconds is None else float(seconds))
        landed = []
        prefix = project.replace("-", "")[:8]
        for table, entity, truth_type in registry:
            if table not in tables:
                continue
            columns = {
                row[0]
                for row in conn.execute(
                    "SELECT column_name FROM information_schema.columns WHERE table_name = ?", [table]
                ).fetchall()
            }
            marked = "COUNT(_sdc_deleted_at)" if "_sdc_deleted_at" in columns else "0"
            quoted = '"' + table.replace('"', '""') + '"'
            stored, deleted = conn.execute(f"SELECT COUNT(*), {marked} FROM {quoted}").fetchone()  # type: ignore[misc]  # noqa: S608
            rows = int(stored) - int(deleted)
            product, stream, seconds = ledger.get(table) or (*_split_table(table, prefix, aliases), None)
            product = aliases.get(product, product)
            landed.append(
                LandedStream(product, stream, table, entity or "", truth_type or "", rows, seconds, int(deleted))
            )
        return landed
    finally:
        conn.close()


def product_aliases(plan: DemoPlan) -> dict[str, str]:
    """Product ids a tap may record (its vocabulary id, e.g. ``workday_hcm``) -> the emulator id the demo ran."""
    from xlr8_kit.vocabulary import resolve_product
    from xlr8_kit.vocabulary.model import VocabularyError

    aliases = {}
    for extractor in plan.extractors:
        aliases[extractor.product] = extractor.product
        try:
            aliases[resolve_product(extractor.name).id] = extractor.product
        except VocabularyError:
            continue  # the tap records its emulator id, already mapped
    return aliases


def normalise_project(project_id: str) -> str:
    import uuid

    try:
        return str(uuid.UUID(project_id.strip()))
    except ValueError as exc:
        raise DemoError(f"setting 'project_id' of {TARGET} is not a UUID: {project_id!r}") from exc


def _split_table(table: str, prefix: str, products: Iterable[str]) -> tuple[str, str]:
    rest = table.removeprefix(f"{prefix}_")
    for product in sorted(products, key=len, reverse=True):
        if rest.startswith(f"{product}_"):
            return product, rest[len(product) + 1 :]
    return "?", rest


def render_summary(plan: DemoPlan, runs: list[TapRun], landed: list[LandedStream], out: TextIO) -> None:
    rows = landed  # every current table of the project: what the engine will see
    print("\nWhat landed in the truths store", file=out)
    if not rows:
        print("  nothing yet", file=out)
    else:
        headers = ("product", "stream", "truth type", "entity", "rows", "deleted", "time", "table")
        body = [
            (
                s.product,
                s.stream,
                s.truth_type,
                s.entity,
                f"{s.rows:,}",
                f"{s.deleted:,}",
                "-" if s.seconds is None else f"{s.seconds:.1f}s",
                s.table,
            )
            for s in sorted(rows, key=lambda s: (s.product, s.stream))
        ]
        widths = [max(len(h), *(len(r[i]) for r in body)) for i, h in enumerate(headers)]
        numeric = {4, 5, 6}

        def fmt(cells: tuple[str, ...]) -> str:
            return "  ".join(
                c.rjust(w) if i in numeric else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths, strict=True))
            )

        print("  " + fmt(headers), file=out)
        print("  " + "  ".join("-" * w for w in widths), file=out)
        for row in body:
            print("  " + fmt(row), file=out)
        by_product: dict[str, int] = defaultdict(int)
        deleted: dict[str, int] = defaultdict(int)
        for s in rows:
            by_product[s.product] += s.rows
            deleted[s.product] += s.deleted
        totals = ", ".join(
            f"{p}: {n:,} rows" + (f" ({deleted[p]:,} marked deleted apart)" if deleted[p] else "")
            for p, n in sorted(by_product.items())
        )
        print(f"\n  totals: {totals}", file=out)
    for run in runs:
        if not run.ok:
            print(f"  {run.extractor.name} FAILED after {run.seconds:.1f}s (log: {run.log_path})", file=out)
    print(f"\nTruths store: {plan.store_path} (DuckDB, project {normalise_project(plan.project_id)})", file=out)
    print(read_only_hint(plan.store_path), file=out, flush=True)


def read_only_hint(store_path: Path | str) -> str:
    """How to look inside the store with what is installed here (the duckdb module; no duckdb CLI is installed)."""
    query = f"import duckdb; duckdb.connect({str(store_path)!r}, read_only=True).sql('SHOW ALL TABLES').show()"
    return f'Open it read-only with: {sys.executable} -c "{query}"'


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="xlr8-demo",
        description="Start the vendor sandbox, meltano-run every tap that has an emulator into target-xlr8-truths, "
        "and print what landed.",
    )
    parser.add_argument("--project-dir", type=Path, default=None, help="Meltano project (default: nearest meltano.yml)")
    parser.add_argument("--environment", default="sandbox", help="Meltano environment (default: sandbox)")
    parser.add_argument("--only", nargs="+", metavar="PRODUCT_OR_TAP", help="run only these products or extractors")
    parser.add_argument("--seed", type=int, default=42, help="fictional company seed")
    parser.add_argument("--scale", type=int, default=1000, help="employees in the fictional company (default 1000)")
    parser.add_argument("--latency-ms", type=float, default=0.0, help="latency added to every sandbox request")
    parser.add_argument("--faults", choices=sorted(PROFILES), default=None, help="sandbox fault profile to rehearse")
    parser.add_argument(
        "--wait-for-ports", type=float, default=0.0, help="seconds to wait while another sandbox holds the ports"
    )
    parser.add_argument("--incremental", action="store_true", help="resume from saved state instead of a full refresh")
    return parser


def main(argv: list[str] | None = None, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    args = build_parser().parse_args(argv)
    if args.scale < 1 or args.latency_ms < 0:
        print("xlr8-demo: --scale must be >= 1 and --latency-ms >= 0", file=sys.stderr)
        return 2
    try:
        root = find_project_root((args.project_dir or Path.cwd()).resolve())
        plan = make_plan(root, args.environment, args.only)
        normalise_project(plan.project_id)
    except DemoError as exc:
        print(f"xlr8-demo: {exc}", file=sys.stderr)
        return 2
    for name, reason in plan.skipped:
        print(f"  skipping {name}: {reason}", file=out)
    if not plan.extractors:
        print("xlr8-demo: no extractor in meltano.yml has a sandbox emulator yet; nothing to run", file=sys.stderr)
        return 1
    products = sorted({e.product for e in plan.extractors})
    extras = f", {args.latency_ms:g} ms latency" if args.latency_ms else ""
    extras += f", fault profile {args.faults}" if args.faults else ""
    print(
        f"Starting the vendor sandbox ({', '.join(products)}; seed {args.seed}, {args.scale:,} employees{extras})",
        file=out,
        flush=True,
    )
    from xlr8_kit.testing.meltano_e2e import link_workspace_venvs

    sys_dir = os.environ.get("MELTANO_SYS_DIR_ROOT")
    link_workspace_venvs(root, Path(sys_dir) if sys_dir else None)  # the plugins run from this environment
    runs: list[TapRun] = []
    try:
        with run_sandbox(
            products,
            seed=args.seed,
            scale=args.scale,
            fixed_ports=True,
            latency_ms=args.latency_ms,
            faults=args.faults,
            port_wait=args.wait_for_ports,
        ) as sandbox:
            for product in products:
                print(f"  {product}: {sandbox.url(product)}", file=out)
            print(f"Running {len(plan.extractors)} tap(s) into {TARGET} (environment {plan.environment})", file=out)
            for extractor in plan.extractors:
                runs.append(run_tap(plan, extractor, full_refresh=not args.incremental, out=out))
    except OSError as exc:
        print(f"xlr8-demo: {exc}", file=sys.stderr)
        return 1
    except DemoError as exc:
        print(f"xlr8-demo: {exc}", file=sys.stderr)
        return 2
    try:
        landed = read_landed(plan, [e.product for e in plan.extractors])
    except Exception as exc:  # noqa: BLE001 - the store is another package's file: report, do not crash
        print(f"xlr8-demo: could not read the truths store {plan.store_path}: {exc}", file=sys.stderr)
        return 1
    render_summary(plan, runs, landed, out)
    failed = [r.extractor.name for r in runs if not r.ok]
    if failed:
        print(f"xlr8-demo: {len(failed)} tap(s) failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
