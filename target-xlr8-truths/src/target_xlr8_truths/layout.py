"""The engine's metadata tables, written exactly as the engine creates them, plus this target's own ledger and
dead-letter tables. A store written by the target and one written by the engine are interchangeable.
"""

from __future__ import annotations

ENGINE_TABLES = ("_schema_metadata", "_column_profiles", "_column_mappings")
LEDGER_TABLE = "_truths_ledger"
DEAD_LETTER_TABLE = "_dead_letters"
#: Per table column: the canonical field it carries and the PII action applied (erasure and audits read it).
FIELDS_TABLE = "_truths_fields"
#: Per project: the check value of the PII key its protected columns were written with (``Store.pii_key_check``).
KEYS_TABLE = "_truths_keys"
#: Per project: one-off migrations done (``retention.LETTER_KEYS_HASHED``), so a target start checks one row instead of
#: scanning every dead letter again at every run (review27c M2).
MARKS_TABLE = "_truths_marks"
UPLOADED_BY = "target-xlr8-truths"


class LayoutError(RuntimeError):
    """The store holds metadata tables whose columns this target does not know."""


def _schema_metadata(json_type: str) -> str:
    return f"""
CREATE TABLE IF NOT EXISTS _schema_metadata (
    id INTEGER PRIMARY KEY,
    project VARCHAR NOT NULL,
    project_id VARCHAR,
    file_name VARCHAR NOT NULL,
    sheet_name VARCHAR NOT NULL,
    table_name VARCHAR NOT NULL,
    display_name VARCHAR,
    entity_type VARCHAR,
    category VARCHAR,
    columns {json_type} NOT NULL,
    column_count INTEGER,
    row_count INTEGER,
    likely_keys {json_type},
    encrypted_columns {json_type},
    truth_type VARCHAR,
    uploaded_by VARCHAR,
    version INTEGER DEFAULT 1,
    is_current BOOLEAN DEFAULT TRUE,
    created_at TIMESTAMP DEFAULT now(),
    domain VARCHAR
)"""


def _column_profiles(json_type: str, double: str) -> str:
    return f"""
CREATE TABLE IF NOT EXISTS _column_profiles (
    id INTEGER,
    project VARCHAR,
    project_id VARCHAR,
    table_name VARCHAR,
    column_name VARCHAR,
    inferred_type VARCHAR,
    original_dtype VARCHAR,
    total_count INTEGER,
    null_count INTEGER,
    distinct_count INTEGER,
    min_value {double},
    max_value {double},
    mean_value {double},
    distinct_values {json_type},
    value_distribution {json_type},
    min_date VARCHAR,
    max_date VARCHAR,
    sample_values {json_type},
    is_likely_key BOOLEAN,
    is_categorical BOOLEAN,
    filter_category VARCHAR,
    filter_priority INTEGER,
    created_at TIMESTAMP,
    UNIQUE (project, table_name, column_name)
)"""


_COLUMN_MAPPINGS = """
CREATE TABLE IF NOT EXISTS _column_mappings (
    id INTEGER,
    project VARCHAR,
    file_name VARCHAR,
    table_name VARCHAR,
    original_column VARCHAR,
    semantic_type VARCHAR NOT NULL,
    confidence FLOAT,
    is_override BOOLEAN,
    needs_review BOOLEAN,
    is_hub BOOLEAN,
    hub_table VARCHAR,
    hub_column VARCHAR,
    hub_cardinality INTEGER,
    spoke_cardinality INTEGER,
    coverage_pct FLOAT,
    is_subset BOOLEAN,
    created_at TIMESTAMP,
    updated_at TIMESTAMP,
    is_discovered BOOLEAN,
    join_priority INTEGER DEFAULT 50
)"""


def _ledger(ts: str) -> str:
    return f"""
CREATE TABLE IF NOT EXISTS {LEDGER_TABLE} (
    project VARCHAR NOT NULL,
    run_id VARCHAR NOT NULL,
    product VARCHAR,
    instance VARCHAR,
    stream VARCHAR NOT NULL,
    table_name VARCHAR NOT NULL,
    entity_type VARCHAR,
    truth_type VARCHAR,
    rows_received BIGINT,
    rows_loaded BIGINT,
    rows_dead_lettered BIGINT,
    window_start {ts},
    window_end {ts},
    started_at {ts},
    updated_at {ts},
    PRIMARY KEY (project, run_id, stream)
)"""


def _dead_letters(json_type: str, ts: str) -> str:
    return f"""
CREATE TABLE IF NOT EXISTS {DEAD_LETTER_TABLE} (
    project VARCHAR NOT NULL,
    run_id VARCHAR NOT NULL,
    stream VARCHAR NOT NULL,
    table_name VARCHAR,
    record_key {json_type},
    error VARCHAR NOT NULL,
    error_path VARCHAR,
    payload {json_type},
    created_at {ts}
)"""


def _fields(ts: str) -> str:
    return f"""
CREATE TABLE IF NOT EXISTS {FIELDS_TABLE} (
    project VARCHAR NOT NULL,
    table_name VARCHAR NOT NULL,
    column_name VARCHAR NOT NULL,
    canonical_field VARCHAR,
    pii_action VARCHAR,
    updated_at {ts},
    PRIMARY KEY (project, table_name, column_name)
)"""


def _keys(ts: str) -> str:
    return f"""
CREATE TABLE IF NOT EXISTS {KEYS_TABLE} (
    project VARCHAR NOT NULL,
    key_check VARCHAR NOT NULL,
    created_at {ts},
    PRIMARY KEY (project)
)"""


def _marks(ts: str) -> str:
    return f"""
CREATE TABLE IF NOT EXISTS {MARKS_TABLE} (
    project VARCHAR NOT NULL,
    mark VARCHAR NOT NULL,
    created_at {ts},
    PRIMARY KEY (project, mark)
)"""


def ddl(dialect: str) -> list[str]:
    json_type = "JSONB" if dialect == "postgres" else "JSON"
    double = "DOUBLE PRECISION" if dialect == "postgres" else "DOUBLE"
    ts = "TIMESTAMPTZ"
    return [
        "CREATE SEQUENCE IF NOT EXISTS schema_metadata_seq",
        _schema_metadata(json_type),
        _column_profiles(json_type, double),
        _COLUMN_MAPPINGS,
        _ledger(ts),
        _dead_letters(json_type, ts),
        _fields(ts),
        _keys(ts),
        _marks(ts),
    ]


def required_columns() -> dict[str, list[str]]:
    """Columns every known layout has, by table (parsed from the DDL so the two never drift)."""
    out: dict[str, list[str]] = {}
    for statement in ddl("duckdb")[1:]:
        header, _, body = statement.partition("(")
        table = header.split()[-1]
        names = []
        for line in body.splitlines():
            word = line.strip().split(" ")[0]
            if word and word not in {"UNIQUE", "PRIMARY", ")"} and line.strip()[0].isalpha():
                names.append(word)
        out[table] = names
    return out
