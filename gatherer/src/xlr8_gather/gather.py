"""The live-data gatherer: answer a question with live rows from the products it is about, landed as truths.

Rule-based and deterministic (no model): ``analyse`` finds entities and products in the question through the
vocabulary and turns a few phrasings into universal filters ("active", "on leave", "terminated", "hired in
2024", "hired since 2023-06-01", "in department D001", "at location BOS"). ``gather`` reads each product with
the project's credentials through its connector (the tap's own streams, filters pushed down where the API can),
lands the rows through target-xlr8-truths, and returns ``Truth`` objects with provenance.
"""

from __future__ import annotations

import contextlib
import functools
import io
import json
import logging
import os
import re
import signal
import threading
import typing as t
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

from xlr8_gather import questions
from xlr8_gather.answer import Answer, nothing_read
from xlr8_gather.answer import compute as compute_answer
from xlr8_kit.connectors.base import ConnectorError
from xlr8_kit.connectors.tap import tap_connector
from xlr8_kit.http.errors import KitHTTPError
from xlr8_kit.query import Filter, QueryError, as_filter, format_filter
from xlr8_kit.redaction import Redactor
from xlr8_kit.vocabulary import (
    UnknownProductError,
    VocabularyError,
    find_entity,
    mapping_for_stream,
    products_for_entity,
    resolve_entity,
    resolve_product,
)

if t.TYPE_CHECKING:
    from target_xlr8_truths.ledger import Truth

#: Words that name an entity only in a narrower sense than everyday speech ("the company", "my account").
_GENERIC_WORDS = {"company", "org", "organization", "account", "hire", "po", "bp", "partner", "login", "emp"}
#: Product aliases too short or too common to count as a mention.
_NOT_PRODUCT_MENTIONS = {"common", "universal", "canonical", "sf", "s4", "sfdc"}

Progress = Callable[[str], None]
logger = logging.getLogger(__name__)
_P = t.ParamSpec("_P")
_R = t.TypeVar("_R")
#: Namespace of project names: a project given by name is ``uuid5(PROJECT_NAMESPACE, name.strip().lower())``, so
#: ``--project acme`` is the same project on every machine (the engine's own ids are UUIDs and pass through).
PROJECT_NAMESPACE = uuid.UUID("5d0c3c0e-8f4a-5b7e-9a61-7c1d2e3f4a5b")


_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class _Stop:
    """What SIGTERM and SIGINT do while a gather runs in this process (``xlr8 gather``, ``LiveDataGatherer``).

    The first stops the gather: the plugin under way handles it (the tap gives up its read and aborts the Bulk jobs
    it started; the target lands what it has), or, between plugins, the caller's own handler (the defaults: the
    gather raises ``SystemExit(128 + signal)``, 143 / 130, as a tap does). A plugin that lets it pass (a target
    ending its stream) still stops the gather before its next product or entity (``_honour_stop``). A later one,
    while the first's way out runs, is logged and ignored, so that way out completes (as in a tap's CLI run; its
    waits are bounded, SIGKILL stays the hard stop). The handlers found at the start are put back at the end: the
    plugins' stayed, and the last target's ignored every later signal of the caller's process (a service that had
    gathered no longer stopped)."""

    def __init__(self) -> None:
        self.signum: int | None = None
        self.found: dict[int, t.Any] = {sig: signal.getsignal(sig) for sig in _SIGNALS}
        #: The handlers of the plugin under way (installed as it was built), which the first signal goes to.
        self.owner: dict[int, t.Any] = {}

    def built(self) -> None:
        """A plugin was just built (the SDK installed its handlers): the first signal is its (``_built``)."""
        for sig in _SIGNALS:
            handler = signal.getsignal(sig)
            if handler != self.handle:  # a bound method: a new object at each access
                self.owner[sig] = handler
                signal.signal(sig, self.handle)

    def handle(self, signum: int, frame: t.Any) -> None:
        name = signal.Signals(signum).name
        if self.signum is not None:
            logger.warning(
                "%s during the gather's way out: ignored (it lands what it has and aborts the jobs it started; "
                "SIGKILL stops it at once)",
                name,
            )
            return
        handler = self.owner.get(signum)
        if handler is None:  # between plugins: the caller's own handling, as without a gather
            handler = self.found[signum]
            if handler == signal.SIG_IGN:
                return
            if callable(handler) and handler is not signal.default_int_handler:
                handler(signum, frame)
                return
        self.signum = signum
        logger.warning("%s: stopping the gather (a second signal is ignored while it stops)", name)
        if callable(handler) and handler is not signal.default_int_handler:
            handler(signum, frame)  # the plugin's (it may put the exit off: a target's open transaction)
            return
        raise SystemExit(128 + signum)


#: The gather under way on the main thread (``_stops_once``): the plugins it builds get the first signal.
_STOP: _Stop | None = None


def _stops_once(gathering: t.Callable[_P, _R]) -> t.Callable[_P, _R]:
    """``gathering`` under ``_Stop`` (on the main thread only: signals reach no other)."""

    @functools.wraps(gathering)
    def run(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        global _STOP
        if _STOP is not None or threading.current_thread() is not threading.main_thread():
            return gathering(*args, **kwargs)
        _STOP = stop = _Stop()
        for sig in _SIGNALS:
            signal.signal(sig, stop.handle)
        try:
            return gathering(*args, **kwargs)
        finally:
            _STOP = None
            for signum, handler in stop.found.items():
                if handler is not None:  # None: set outside Python (an embedding host), which Python cannot put back
                    signal.signal(signum, handler)

    return run


def _honour_stop() -> None:
    """Raises ``SystemExit(128 + signal)`` if this gather got a stop that the plugin under way did not carry out (a
    target ignores a signal while it ends its stream): otherwise the gather read on and ignored every later signal
    (review 22a). Main thread only: a worker's gather is not the one stopped."""
    stop = _STOP
    if stop is not None and stop.signum is not None and threading.current_thread() is threading.main_thread():
        raise SystemExit(128 + stop.signum)


@contextlib.contextmanager
def _built() -> Iterator[None]:
    """A plugin was just built: it has the first signal inside (``_Stop.built``), then the one before it again."""
    stop = _STOP
    if stop is None or threading.current_thread() is not threading.main_thread():
        # a worker thread's gather: ``_STOP`` is the main thread's, and putting back this gather's snapshot of its
        # owners took the first signal from the main gather's plugin (review 22a)
        yield
        return
    before = dict(stop.owner)
    stop.built()
    try:
        yield
    finally:
        stop.owner = before


def project_uuid(project: str) -> str:
    """The engine project id for a project UUID (any case, any UUID spelling) or a project name."""
    text = str(project).strip()
    if not text:
        raise ValueError("--project needs a project UUID or name")
    try:
        return str(uuid.UUID(text))
    except ValueError:
        return str(uuid.uuid5(PROJECT_NAMESPACE, text.lower()))


#: Target settings ``xlr8 gather`` passes to target-xlr8-truths besides project and DuckDB path.
CLI_TARGET_SETTINGS: dict[str, t.Any] = {}


@dataclass(frozen=True)
class Analysis:
    """What a question is about: entities (in order of mention), a universal filter per entity, products named."""

    question: str
    entities: tuple[str, ...]
    filters: dict[str, Filter | None]
    products: tuple[str, ...] = ()
    intent: t.Literal["count", "list", "sum", "average"] = "list"
    #: The numeric canonical field a sum or average is of.
    measure: str | None = None
    #: The canonical field the answer is grouped by ("by department").
    group_by: str | None = None

    @classmethod
    def from_mapping(cls, question: str, analysis: Mapping[str, t.Any]) -> Analysis:
        """The plan's dict analysis: ``entities`` (words or canonical names), ``filters`` (per entity: text, dict or
        parsed; or one filter for every entity), ``products`` (ids or aliases) and ``intent``. Missing keys are
        taken from ``analyse(question)``."""
        found = analyse(question)
        entities = tuple(dict.fromkeys(resolve_entity(str(e)).name for e in analysis.get("entities") or found.entities))
        raw = analysis.get("filters")
        filters: dict[str, Filter | None] = {}
        for name in entities:
            if raw is None:
                filters[name] = found.filters.get(name)
            elif isinstance(raw, Mapping) and any(k in entities or find_entity(str(k)) for k in raw):
                chosen = next(
                    (v for k, v in raw.items() if find_entity(str(k)) and resolve_entity(str(k)).name == name), None
                )
                filters[name] = as_filter(chosen)
            else:
                filters[name] = as_filter(raw)
        products = tuple(dict.fromkeys(resolve_product(str(p)).id for p in analysis.get("products") or found.products))
        intent = str(analysis.get("intent") or found.intent)
        if intent not in ("count", "list", "sum", "average"):
            raise QueryError(f"analysis intent {intent!r}: use count, list, sum or average")
        return replace(
            found,
            entities=entities,
            filters=filters,
            products=products,
            intent=intent,  # type: ignore[arg-type]
            measure=analysis.get("measure", found.measure),
            group_by=analysis.get("group_by", found.group_by),
        )

    def universal_query(self, entity: str) -> str:
        where = self.filters.get(entity)
        return entity + (f" where {format_filter(where)}" if where is not None else "")


def _grams(words: list[str]) -> Iterator[tuple[int, int, str]]:
    for size in (3, 2, 1):
        for start in range(len(words) - size + 1):
            yield start, size, "_".join(words[start : start + size])


def analyse(question: str, *, today: date | None = None) -> Analysis:
    """Entities, filters, measure, grouping and products a question is about; deterministic for the same text
    (and ``today``, which "last month" is relative to)."""
    text = " ".join(question.lower().split())
    today = today or date.today()
    # "in department D003" and "by department" qualify employees: they do not ask about departments
    scan = questions.strip_phrases(text)
    words = re.findall(r"[a-z0-9][a-z0-9_/-]*", scan)
    used: set[int] = set()
    entities: list[str] = []
    products: list[str] = []
    for start, size, gram in _grams(words):
        span = set(range(start, start + size))
        if span & used:
            continue
        if gram not in _NOT_PRODUCT_MENTIONS:
            try:
                product = resolve_product(gram)
            except UnknownProductError:
                product = None
            if product is not None and product.domain != "universal":
                used |= span
                if product.id not in products:
                    products.append(product.id)
                continue
        entity = find_entity(gram) if gram not in _GENERIC_WORDS else None
        if entity is not None:
            used |= span
            if entity.name not in entities:
                entities.append(entity.name)
    filters = {name: questions.filters_for(name, text, today, question) for name in entities}
    first = entities[0] if entities else None
    intent, measure = questions.measure(first, text) if first else ("list", None)
    group_by = questions.group_field(first, text) if first else None
    return Analysis(question, tuple(entities), filters, tuple(products), intent, measure, group_by)  # type: ignore[arg-type]


# --- connectors for gathering ------------------------------------------------------------------------------------


def project_sources(project: str, store: str | None) -> dict[str, dict[str, t.Any]]:
    """product id -> tap settings naming the project's credential for it (the tap reads the store), chosen as the
    orchestrator's jobs choose it (``chosen_credentials``: the newest active one)."""
    from xlr8_kit.credentials.resolve import chosen_credentials, open_manager

    manager = open_manager(store, create=False)
    try:
        rows = [row for key in dict.fromkeys((project, project_uuid(project))) for row in manager.describe(key)]
    finally:
        manager.close()
    chosen = {product: row for (_, product), row in chosen_credentials(rows, by_project=False).items()}
    sources: dict[str, dict[str, t.Any]] = {}
    for product, row in sorted(chosen.items()):
        try:
            resolve_product(product)
        except UnknownProductError:
            continue
        config: dict[str, t.Any] = {"credential_id": str(row["credential_id"])}
        if store:
            config["credential_store"] = store
        sources[product] = config
    return sources


# --- landing through target-xlr8-truths --------------------------------------------------------------------------


class _Lines:
    """A read-only text stream over generated Singer lines, so the target pulls rows as the tap yields them."""

    def __init__(self, lines: Iterable[str]) -> None:
        self._lines = iter(lines)

    def __iter__(self) -> Iterator[str]:
        return self._lines

    def readline(self) -> str:
        return next(self._lines, "")


#: Stands in for a Decimal inside json.dumps output until it is spliced back as a bare JSON number.
_NUMBER_MARK = f"xlr8-number-{uuid.uuid4().hex}:"
_NUMBER_TOKEN = re.compile(r'"' + re.escape(_NUMBER_MARK) + r'([-+0-9.eE]+)"')


def _json(value: t.Any) -> t.Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        if not value.is_finite():
            return None  # NaN/Infinity have no JSON number; the schema's null stands for "no value"
        return _NUMBER_MARK + str(value)
    return str(value)


def record_json(message: Mapping[str, t.Any]) -> str:
    """A Singer message as JSON with decimals as exact JSON numbers (``12.50``, not ``"12.50"`` nor a float)."""
    return _NUMBER_TOKEN.sub(r"\1", json.dumps(message, default=_json))


@dataclass(frozen=True)
class Landing:
    """The target's own counters for one stream: every row read is either landed or dead-lettered."""

    received: int = 0
    landed: int = 0
    dead_lettered: int = 0


def _without_replace_by(schema: dict[str, t.Any]) -> dict[str, t.Any]:
    """A gather reads what a question asks for (a filter, a date range), not whole sets: landed with the stream's
    ``replace_by``, every row of a set it read in part would be marked deleted in the pipeline's table."""
    from xlr8_kit.vocabulary.annotations import ANNOTATION_KEY

    note = schema.get(ANNOTATION_KEY)
    if not isinstance(note, dict) or "replace_by" not in note:
        return schema
    return {**schema, ANNOTATION_KEY: {k: v for k, v in note.items() if k != "replace_by"}}


def land(
    *,
    project: str,
    stream: str,
    schema: dict[str, t.Any],
    key_properties: list[str],
    rows: Iterable[dict[str, t.Any]],
    duckdb_path: str,
    instance: str | None = None,
    target_settings: Mapping[str, t.Any] | None = None,
) -> Landing:
    """Feed SCHEMA and RECORD messages to target-xlr8-truths in this process (one commit at the end); returns the
    target's counters for the stream (received, loaded, dead-lettered).

    ``target_settings`` adds target settings (another delivery, a DuckDB memory limit, ...)."""
    try:
        from target_xlr8_truths.target import TargetXlr8Truths
    except ImportError as exc:  # pragma: no cover - the workspace installs it
        raise ConnectorError("gathering needs target-xlr8-truths (pip install xlr8-target-truths)") from exc
    extracted = datetime.now(UTC).isoformat()
    schema = _without_replace_by(schema)

    def lines() -> Iterator[str]:
        yield (
            json.dumps({"type": "SCHEMA", "stream": stream, "schema": schema, "key_properties": key_properties}) + "\n"
        )
        for row in rows:
            message = {"type": "RECORD", "stream": stream, "record": row, "time_extracted": extracted}
            yield record_json(message) + "\n"

    config = {
        "project_id": project,
        "delivery": "duckdb",
        "duckdb_path": duckdb_path,
        "source_instance": instance,
        **(target_settings or {}),
    }
    target = TargetXlr8Truths(config={k: v for k, v in config.items() if v is not None}, parse_env_config=False)
    with contextlib.redirect_stdout(io.StringIO()), _built():
        try:
            target.listen(file_input=t.cast("t.IO[str]", _Lines(lines())))
        except SystemExit:
            # the target, the process's last plugin, handles SIGTERM and SIGINT as a pipeline's target does: it
            # lands what it has and exits 0. Here that cut the read short: the gather did not finish
            if target.stopped_by is not None:
                raise SystemExit(128 + target.stopped_by) from None
            raise
    return Landing(target.received[stream], target.loaded[stream], target.dead_lettered[stream])


@dataclass
class GatherReport:
    """What happened per product, including the ones skipped and why (for the CLI and for callers)."""

    truths: list[Truth] = field(default_factory=list)
    skipped: list[tuple[str, str, str]] = field(default_factory=list)  # (product, entity, reason)
    #: the (product, entity) pairs of ``skipped`` whose read failed (HTTP, auth): the gather did not do all it could
    failed: list[tuple[str, str]] = field(default_factory=list)
    #: the answer per (product, entity), computed from the landed rows
    answers: list[Answer] = field(default_factory=list)
    #: (product, entity, stream, rows read, the target's counters) per stream landed
    landings: list[tuple[str, str, str, int, Landing]] = field(default_factory=list)

    @property
    def dead_lettered(self) -> int:
        return sum(landing.dead_lettered for *_, landing in self.landings)

    @property
    def unaccounted(self) -> int:
        """Rows read that the target neither landed nor dead-lettered (must be 0)."""
        return sum(read - landing.landed - landing.dead_lettered for *_, read, landing in self.landings)


@_stops_once
def gather(
    question: str,
    analysis: Analysis | Mapping[str, t.Any] | None = None,
    *,
    project: str,
    sources: Mapping[str, Mapping[str, t.Any]] | None = None,
    store: str | None = None,
    duckdb_path: str = ".xlr8/truths.duckdb",
    products: Iterable[str] | None = None,
    progress: Progress | None = None,
    report: GatherReport | None = None,
    target_settings: Mapping[str, t.Any] | None = None,
) -> list[Truth]:
    """Truths answering ``question``: one per (product, entity) read, Reality or Configuration by stream.

    ``sources`` maps product ids to tap settings (tests, the sandbox); by default the project's credentials in
    ``store`` are used. Products named in the question win over ``products``, which win over every product
    with a credential. On the main thread a first SIGTERM/SIGINT stops it (``SystemExit`` 143/130) and a second one
    during that stop is ignored (``_Stop``).
    """
    from target_xlr8_truths.ledger import Truth, read_truths
    from target_xlr8_truths.naming import normalise_project

    say = progress or (lambda _message: None)
    report = report if report is not None else GatherReport()
    plan = Analysis.from_mapping(question, analysis) if isinstance(analysis, Mapping) else analysis or analyse(question)
    if not plan.entities:
        raise QueryError(f"no entity recognised in {question!r}; name one such as employees, jobs or invoices")
    project_id = normalise_project(project_uuid(project))
    target_settings = _with_pii_key(target_settings, duckdb_path, sandbox=sources is not None)
    available = {resolve_product(p).id: dict(c) for p, c in (sources or project_sources(project, store)).items()}
    wanted = list(plan.products) or [resolve_product(p).id for p in (products or [])] or sorted(available)
    redactor = Redactor.default()
    for entity in plan.entities:
        truth_type = resolve_entity(entity).truth_type
        carriers = set(products_for_entity(entity))
        for product in wanted:
            _honour_stop()
            if product not in carriers:
                report.skipped.append((product, entity, f"{product} has no {entity} data"))
                continue
            if product not in available:
                report.skipped.append((product, entity, f"the project has no credential for {product}"))
                continue
            query = plan.universal_query(entity)
            say(f"{product}: reading {entity} ({query})")
            try:
                connector = tap_connector(product, available[product])
                with connector, _built():  # its tap, built as it connects
                    stream, translation = connector.resolve_stream(entity, plan.filters.get(entity))
                    schema = connector.get_entity_schema(stream.name)
                    landed: list[dict[str, t.Any]] = []

                    def keep(rows: Iterable[dict[str, t.Any]], sink: list[dict[str, t.Any]] = landed) -> Iterator:
                        for row in rows:
                            sink.append(row)
                            yield row

                    landing = land(
                        project=project_id,
                        stream=stream.name,
                        schema=schema,
                        key_properties=list(stream.primary_keys or []),
                        rows=keep(connector.read(stream, translation)),
                        duckdb_path=duckdb_path,
                        instance=str(available[product].get("credential_id") or "sandbox"),
                        target_settings=target_settings,
                    )
            except (ConnectorError, VocabularyError, QueryError) as exc:
                report.skipped.append((product, entity, redactor.redact(str(exc))))
                say(f"{product}: skipped: {redactor.redact(str(exc))}")
                continue
            except KitHTTPError as exc:  # one product's tenant refusing or failing: the others are still read
                reason = f"read failed: {redactor.redact(str(exc))}"
                report.skipped.append((product, entity, reason))
                report.failed.append((product, entity))
                say(f"{product}: skipped: {reason}")
                continue
            stored = [
                tr
                for tr in read_truths(project_id, duckdb_path=duckdb_path, product=product, max_rows=0)
                if tr.metadata.get("stream") == stream.name
            ]
            location = stored[0].location if stored else f"duckdb:{duckdb_path}"
            annotation = schema.get("x-xlr8", {})
            truth = Truth(
                source_type=str(annotation.get("truth_type") or truth_type),
                source_name=stored[0].source_name if stored else f"{product}:{stream.name}",
                content=landed,
                confidence=1.0,
                location=location,
                metadata={
                    "product": product,
                    "entity": entity,
                    "stream": stream.name,
                    "credential_id": available[product].get("credential_id"),
                    "universal_query": query,
                    "query": translation.query if translation is not None else None,
                    "params": dict(translation.params) if translation is not None else {},
                    "pushed_down": format_filter(translation.pushed) if translation and translation.pushed else None,
                    "post_fetch": format_filter(translation.residual) if translation and translation.residual else None,
                    "rows": len(landed),
                    "landed": landing.landed,
                    "dead_lettered": landing.dead_lettered,
                    "canonical_fields": annotation.get("canonical_fields", {}),
                    "table": stored[0].metadata.get("table_name") if stored else None,
                    "run_id": stored[0].metadata.get("run_id") if stored else None,
                    "question": question,
                    "gather_id": str(uuid.uuid4()),
                },
            )
            first = entity == plan.entities[0]
            kind, measure, group_by = (plan.intent, plan.measure, plan.group_by) if first else ("count", None, None)
            mapping = mapping_for_stream(product, stream.name)
            aggregated = (
                f"{product} stream {stream.name!r} is aggregated ({mapping.aggregated})"
                if mapping is not None and mapping.aggregated
                else None
            )
            if truth.metadata["table"] and landed:
                found = compute_answer(
                    duckdb_path=duckdb_path,
                    table=str(truth.metadata["table"]),
                    product=product,
                    entity=entity,
                    kind=kind,
                    measure=measure,
                    group_by=group_by,
                    canonical_fields=truth.metadata["canonical_fields"],
                    key_properties=list(stream.primary_keys or []),
                    rows=landed,
                    aggregated=aggregated,
                )
            else:
                found = nothing_read(product, entity, kind, measure, group_by)
            truth.metadata["answer"] = found
            report.answers.append(found)
            report.truths.append(truth)
            report.landings.append((product, entity, stream.name, len(landed), landing))
            say(
                f"{product}: {entity}: {len(landed)} row(s) read, {landing.landed} landed, "
                f"{landing.dead_lettered} dead-lettered at {location}"
            )
    _honour_stop()
    return report.truths


def _with_pii_key(settings: Mapping[str, t.Any] | None, duckdb_path: str, *, sandbox: bool) -> dict[str, t.Any]:
    """The engine key for PII columns: ``$XLR8_PII_KEY_FILE``; sandbox sources get their own key beside the store."""
    out = dict(settings or {})
    # count every bad row rather than stop at the target's default ceiling: the report says how many
    out.setdefault("dead_letter_ceiling", 1_000_000_000)
    if out.get("pii_key_file") or out.get("pii_key_credential_id"):
        return out
    if os.environ.get("XLR8_PII_KEY_FILE"):
        out["pii_key_file"] = os.environ["XLR8_PII_KEY_FILE"]
    elif sandbox:
        out["pii_key_file"] = str(Path(duckdb_path).expanduser().parent / "pii.key")
        out["pii_key_create"] = True
    return out


def truth_json(truth: Truth) -> dict[str, t.Any]:
    answer = truth.metadata.get("answer")
    metadata = {**truth.metadata, "answer": answer.text() if isinstance(answer, Answer) else answer}
    return {
        "source_type": truth.source_type,
        "source_name": truth.source_name,
        "confidence": truth.confidence,
        "location": truth.location,
        "metadata": metadata,
        "content": truth.content,
    }


def render(report: GatherReport) -> str:
    """The answer first, then the provenance table (one row per product and entity read)."""
    answer = ["answer:", *("  " + a.text().replace("\n", "\n  ") for a in report.answers)] if report.answers else []
    return "\n".join([*answer, *([""] if answer else []), _provenance(report)])


def _provenance(report: GatherReport) -> str:
    header = ("product", "entity", "type", "rows", "landed", "dead-lettered", "query as sent", "location")
    rows = [
        (
            str(tr.metadata["product"]),
            str(tr.metadata["entity"]),
            tr.source_type,
            str(tr.metadata["rows"]),
            str(tr.metadata["landed"]),
            str(tr.metadata["dead_lettered"]),
            str(tr.metadata.get("query") or tr.metadata["stream"]),
            tr.location,
        )
        for tr in report.truths
    ]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip() for row in [header, *rows]]
    lines.insert(1, "  ".join("-" * w for w in widths))
    for product, entity, reason in report.skipped:
        lines.append(f"skipped {product} {entity}: {reason}")
    return "\n".join(lines)


def sandbox_sources(meltano_yml: str = "meltano.yml") -> dict[str, dict[str, t.Any]]:
    """Tap settings of meltano.yml's ``sandbox`` environment, by product (the running ``xlr8-sandbox``)."""
    import yaml  # meltano's own dependency, present wherever meltano.yml is used

    with open(meltano_yml, encoding="utf-8") as handle:
        project = yaml.safe_load(handle)
    env = next((e for e in project.get("environments", []) if e.get("name") == "sandbox"), None)
    if env is None:
        raise ConnectorError(f"{meltano_yml} has no 'sandbox' environment")
    sources: dict[str, dict[str, t.Any]] = {}
    for extractor in env.get("config", {}).get("plugins", {}).get("extractors", []):
        try:
            product = resolve_product(extractor["name"]).id
        except (UnknownProductError, KeyError):
            continue
        config = dict(extractor.get("config") or {})
        for sibling in [product, *_sibling_products(product)]:
            sources.setdefault(sibling, config)
    return sources


def _sibling_products(product: str) -> list[str]:
    """Other products served by the same tap (Workday HCM and Financials): their connectors share a module."""
    from xlr8_kit.connectors.factory import ConnectorFactory

    installed = ConnectorFactory.installed()
    module = installed.get(product, "").partition(":")[0]
    return [other for other, target in installed.items() if other != product and target.partition(":")[0] == module]
