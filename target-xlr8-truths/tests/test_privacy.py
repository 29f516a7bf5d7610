"""PII lands the way the engine expects: ENC256 values only the engine key opens, listed in encrypted_columns, and
no plaintext anywhere the target writes (store file, profiles, dead letters, ledger, logs, spool)."""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path
from typing import Any

import pytest
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from truths_testkit import PROJECT, annotation, query, record_msg, run_target, schema_msg, state_msg

CANARY_SSN = "987-65-4329"
CANARY_NID = "NID-CANARY-5521"
STREAM = "people"
PROPS: dict[str, Any] = {
    "EmployeeId": {"type": "string"},
    "SSN": {"type": ["null", "string"]},
    "NationalId": {"type": ["null", "string"]},
    "BirthDate": {"type": ["null", "string"], "format": "date"},
    "AnnualRate": {"type": ["null", "string"], "format": "x-singer.decimal"},
    "Headcount": {"type": ["null", "integer"]},
    "City": {"type": ["null", "string"]},
}


def note() -> dict[str, Any]:
    ann = annotation("ukg_pro", STREAM, "employee", keys=["EmployeeId"])
    # NationalId and AnnualRate match no engine pattern: only the vocabulary's canonical fields catch them.
    ann["canonical_fields"] = {"EmployeeId": "employee_id", "NationalId": "national_id", "AnnualRate": "pay_rate"}
    return ann


def people(n: int = 3, *, bad_last: bool = False) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = [schema_msg(STREAM, PROPS, ["EmployeeId"], note())]
    for i in range(n):
        messages.append(
            record_msg(
                STREAM,
                {
                    "EmployeeId": f"E{i:03d}",
                    "SSN": CANARY_SSN if i == 0 else f"111-22-{3000 + i}",
                    "NationalId": CANARY_NID if i == 0 else f"NID-{i}",
                    "BirthDate": "1980-02-29",
                    "AnnualRate": "81234.50",
                    "Headcount": i,
                    "City": "Springfield",
                },
            )
        )
    if bad_last:  # dead-lettered (Headcount is not an integer): its payload must not keep the SSN in clear
        messages.append(
            record_msg(STREAM, {"EmployeeId": "E999", "SSN": CANARY_SSN, "NationalId": CANARY_NID, "Headcount": 1.5})
        )
    return messages


def engine_decrypt(token: str, key: bytes) -> str:
    """The engine's format read with the primitive GCM mode, independent of the target's own cipher code."""
    assert token.startswith("ENC256:")
    blob = base64.b64decode(token[len("ENC256:") :])
    nonce, body, tag = blob[:12], blob[12:-16], blob[-16:]
    decryptor = Cipher(algorithms.AES(key), modes.GCM(nonce, tag)).decryptor()
    return (decryptor.update(body) + decryptor.finalize()).decode()


def key_of(config: dict[str, Any]) -> bytes:
    return base64.b64decode(Path(config["pii_key_file"]).read_text().strip())


def table_of(store: Path) -> str:
    rows = query(
        store, "SELECT table_name FROM _schema_metadata WHERE file_name = ? AND is_current", [f"ukg_pro:{STREAM}"]
    )
    return str(rows[0][0])


def rows_of(store: Path) -> dict[str, dict[str, Any]]:
    table = table_of(store)
    con_rows = query(store, f'SELECT * FROM "{table}"')
    names = [r[0] for r in query(store, f'DESCRIBE "{table}"')]
    return {row[names.index("employee_id")]: dict(zip(names, row, strict=True)) for row in con_rows}


def test_pii_columns_are_encrypted_in_the_engine_format_and_listed(config: dict[str, Any], store: Path,
                                                                    tmp_path: Path) -> None:  # fmt: skip
    run = run_target(config, people(), tmp_path)
    assert run.returncode == 0, run.stderr[-2000:]
    key = key_of(config)
    assert len(key) == 32
    assert os.stat(config["pii_key_file"]).st_mode & 0o777 == 0o600
    rows = rows_of(store)
    e0 = rows["E000"]
    for column, plain in (("ssn", CANARY_SSN), ("national_id", CANARY_NID), ("birth_date", "1980-02-29"),
                          ("annual_rate", "81234.50")):  # fmt: skip
        assert str(e0[column]).startswith("ENC256:"), column
        assert engine_decrypt(e0[column], key) == plain
    assert e0["headcount"] == 0
    assert e0["city"] == "Springfield"
    # Random nonce per value: the same plaintext never gives the same ciphertext.
    assert rows["E001"]["birth_date"] != rows["E002"]["birth_date"]
    with pytest.raises(InvalidTag):
        engine_decrypt(e0["ssn"], bytes(32))  # only the right key opens it
    listed = query(store, "SELECT encrypted_columns FROM _schema_metadata WHERE table_name = ? AND is_current",
                   [table_of(store)])  # fmt: skip
    assert sorted(json.loads(listed[0][0])) == ["annual_rate", "birth_date", "national_id", "ssn"]


def test_canary_ssn_appears_nowhere_in_plaintext(config: dict[str, Any], store: Path, tmp_path: Path) -> None:
    spool = tmp_path / "spool"
    spool.mkdir()
    config = {**config, "dead_letter_ceiling": 10}
    run = run_target(config, people(50, bad_last=True), tmp_path, env={"TMPDIR": str(spool), "LOGLEVEL": "DEBUG"})
    assert run.returncode == 0, run.stderr[-2000:]
    letters = query(store, "SELECT payload FROM _dead_letters")
    assert letters, "the bad record must be dead-lettered"
    profiles = query(
        store,
        "SELECT column_name, distinct_values, value_distribution, sample_values, min_value "
        "FROM _column_profiles WHERE column_name IN ('ssn', 'national_id', 'birth_date')",
    )
    assert len(profiles) == 3
    assert all(v is None for row in profiles for v in row[1:])
    haystacks = {"stderr": run.stderr.encode(), "stdout": run.stdout.encode()}
    for folder in (store.parent, spool, tmp_path):
        for path in folder.rglob("*"):
            if path.is_file() and path.suffix != ".json":  # the test's own input config files
                haystacks[str(path)] = path.read_bytes()
    assert any(str(p).endswith(".duckdb") for p in haystacks)
    for where, data in haystacks.items():
        for canary in (CANARY_SSN, CANARY_NID):
            assert canary.encode() not in data, f"{canary} in plaintext in {where}"


def test_no_key_stops_before_the_first_write_naming_columns_and_setting(store: Path, tmp_path: Path) -> None:
    config = {"project_id": PROJECT, "duckdb_path": str(store)}
    run = run_target(config, people(), tmp_path)
    assert run.returncode != 0
    assert "pii_key_file" in run.stderr
    assert "SSN" in run.stderr
    assert "NationalId" in run.stderr
    assert CANARY_SSN not in run.stderr
    if store.exists():
        tables = {r[0] for r in query(store, "SELECT table_name FROM information_schema.tables")}
        assert not any(t.endswith(STREAM) for t in tables)


def test_policy_actions_per_column(config: dict[str, Any], store: Path, tmp_path: Path) -> None:
    policy = {
        "default": "encrypt",
        "fields": {"national_id": "drop", "pay_rate": "keep"},
        "columns": {"(?i)ssn": "hash"},
    }
    run = run_target({**config, "pii_policy": policy}, people(), tmp_path)
    assert run.returncode == 0, run.stderr[-2000:]
    rows = rows_of(store)
    e0 = rows["E000"]
    assert "national_id" not in e0  # dropped
    assert e0["annual_rate"] is not None
    assert "ENC256" not in str(e0["annual_rate"])
    assert "lands in clear" in run.stderr
    assert "AnnualRate" in run.stderr
    assert str(e0["ssn"]).startswith("HMAC256:")
    assert str(e0["birth_date"]).startswith("ENC256:")  # the default for the rest
    listed = query(store, "SELECT encrypted_columns FROM _schema_metadata WHERE table_name = ? AND is_current",
                   [table_of(store)])  # fmt: skip
    assert json.loads(listed[0][0]) == ["birth_date"]
    # Hashes are stable across runs (same key): joins on a hashed column still work.
    second = tmp_path / "second.duckdb"
    run2 = run_target({**config, "duckdb_path": str(second), "pii_policy": policy}, people(), tmp_path)
    assert run2.returncode == 0
    assert rows_of(second)["E000"]["ssn"] == e0["ssn"]


@pytest.mark.parametrize("action", ["encrypt", "hash"])
def test_a_lone_surrogate_in_a_pii_column_is_dead_lettered(action: str, config: dict[str, Any], store: Path,
                                                           tmp_path: Path) -> None:  # fmt: skip
    """A tap writes a vendor's lone surrogate as the SDK does ("\\ud800"); UTF-8 cannot hold it, so neither the
    cipher nor the store can: the record is dead-lettered naming the field (as in a column kept in clear), its
    payload masked, the other records land and the run succeeds. Before, the cipher's UnicodeEncodeError ended the
    run (exit 1, nothing landed)."""
    messages = people()
    messages.append(record_msg(STREAM, {"EmployeeId": "E777", "SSN": "987-65-\ud800", "City": "Springfield"}))
    messages.append(state_msg({"bookmarks": {STREAM: {"replication_key_value": "E777"}}}))
    text = "".join(json.dumps(m) + "\n" for m in messages)
    assert '"SSN": "987-65-\\ud800"' in text  # what the SDK's writer (ensure_ascii) sends
    run = run_target({**config, "pii_policy": {"default": action}}, text, tmp_path)
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.summary["streams"][STREAM] == {"received": 4, "loaded": 3, "dead_lettered": 1}
    assert sorted(rows_of(store)) == ["E000", "E001", "E002"]
    letters = query(store, "SELECT error, error_path, payload FROM _dead_letters")
    assert len(letters) == 1
    error, path, payload = letters[0]
    assert (error, path) == ("invalid UTF-8 (lone surrogate)", "$.SSN")
    assert "987-65" not in payload
    assert run.states == [{"bookmarks": {STREAM: {"replication_key_value": "E777"}}}]


def test_pii_key_column_is_hashed_so_upserts_stay_stable(config: dict[str, Any], store: Path, tmp_path: Path) -> None:
    props = {"SSN": {"type": "string"}, "City": {"type": ["null", "string"]}}
    ann = annotation("ukg_pro", "by_ssn", "employee", keys=["SSN"])
    messages = [schema_msg("by_ssn", props, ["SSN"], ann), record_msg("by_ssn", {"SSN": CANARY_SSN, "City": "A"})]
    assert run_target(config, messages, tmp_path).returncode == 0
    messages[1]["record"]["City"] = "B"
    assert run_target(config, messages, tmp_path).returncode == 0
    table = query(store, "SELECT table_name FROM _schema_metadata WHERE file_name = 'ukg_pro:by_ssn'")[0][0]
    rows = query(store, f'SELECT ssn, city FROM "{table}"')
    assert len(rows) == 1
    assert rows[0][1] == "B"
    assert rows[0][0].startswith("HMAC256:")


def test_bad_policy_and_bad_key_name_the_setting(config: dict[str, Any], tmp_path: Path) -> None:
    run = run_target({**config, "pii_policy": {"default": "shred"}}, people(), tmp_path)
    assert run.returncode != 0
    assert "pii_policy" in run.stderr
    assert "shred" in run.stderr
    short = tmp_path / "short.key"
    short.write_bytes(b"too short")
    run = run_target({**config, "pii_key_file": str(short), "pii_key_create": False}, people(), tmp_path)
    assert run.returncode != 0
    assert "pii_key_file" in run.stderr
    assert "32-byte" in run.stderr


_RACE = """
import sys, time
from pathlib import Path
from target_xlr8_truths.privacy import PrivacySettings
key_file, start_at = sys.argv[1], float(sys.argv[2])
time.sleep(max(0.0, start_at - time.time()))
settings = PrivacySettings.from_config({"pii_key_file": key_file, "pii_key_create": True})
assert settings.cipher is not None
print(Path(key_file).read_text().strip())
"""


def test_concurrent_first_runs_make_one_whole_key(tmp_path: Path) -> None:
    """Several targets creating the key at once (the Postgres concurrency test's set-up) all read the same key,
    none sees an empty or half-written file, and no temporary file is left beside it."""
    import subprocess
    import sys
    import time

    from xlr8_kit.privacy.cipher import FieldCipher, load_key

    key_file = tmp_path / "keys" / "pii.key"
    start_at = str(time.time() + 3.0)  # every process past its imports before the first one looks for the key
    racers = [
        subprocess.Popen(
            [sys.executable, "-c", _RACE, str(key_file), start_at],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(12)
    ]
    outcomes = [racer.communicate(timeout=120) for racer in racers]
    assert [racer.returncode for racer in racers] == [0] * 12, [err[-2000:] for _, err in outcomes]
    keys = {out.strip() for out, _ in outcomes}
    assert len(keys) == 1
    assert keys != {""}
    assert oct(key_file.stat().st_mode & 0o777) == "0o600"
    assert [p.name for p in key_file.parent.iterdir()] == ["pii.key"]
    cipher = FieldCipher(load_key(key_file=str(key_file)))
    assert cipher.decrypt(cipher.encrypt("round trip")) == "round trip"


@pytest.mark.parametrize("path", ["record", "batch"])
def test_a_dead_letter_of_a_pii_keyed_stream_keeps_its_key_hashed_as_the_table_does(
    path: str, config: dict[str, Any], store: Path, tmp_path: Path
) -> None:
    """audit25e F19: a stream keyed by an SSN dead-lettered a record (a bad salary) with the SSN in clear in
    ``_dead_letters.record_key`` while its table held the hash. The key is stored as the table stores it, on the
    RECORD path and on a BATCH file's (the record path loads a file DuckDB's reader refuses)."""
    from xlr8_kit.privacy import FieldCipher, load_key

    props = {"SSN": {"type": "string"}, "Salary": {"type": ["null", "number"]}, "Dept": {"type": ["null", "string"]}}
    ann = annotation("ukg_pro", "by_ssn", "employee", keys=["SSN"])
    records = [{"SSN": CANARY_SSN, "Salary": "lots", "Dept": "x"}, {"SSN": "111-22-3333", "Salary": 5, "Dept": "y"}]
    messages: list[dict[str, Any]] = [schema_msg("by_ssn", props, ["SSN"], ann)]
    settings = dict(config)
    if path == "record":
        messages += [record_msg("by_ssn", r) for r in records]
    else:
        batches = tmp_path / "batches"
        batches.mkdir()
        file = batches / "by_ssn-1.jsonl"
        file.write_text("".join(json.dumps(r) + "\n" for r in records))
        settings["batch_locations"] = [str(batches)]
        messages.append({"type": "BATCH", "stream": "by_ssn", "manifest": [file.as_uri()],
                         "encoding": {"format": "jsonl", "compression": "none"}})  # fmt: skip
    run = run_target(settings, messages, tmp_path, env={"LOGLEVEL": "DEBUG"})
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.summary["streams"]["by_ssn"] == {"received": 2, "loaded": 1, "dead_lettered": 1}
    cipher = FieldCipher(load_key(key_file=config["pii_key_file"], setting="pii_key_file"))
    table = query(store, "SELECT table_name FROM _schema_metadata WHERE file_name = 'ukg_pro:by_ssn'")[0][0]
    assert query(store, f'SELECT ssn FROM "{table}"') == [(cipher.hash("111-22-3333"),)]
    letters = query(store, "SELECT record_key, error_path FROM _dead_letters")
    assert letters == [(json.dumps([cipher.hash(CANARY_SSN)]), "$.Salary")]
    haystacks = {"stderr": run.stderr.encode(), "stdout": run.stdout.encode()}
    for found in tmp_path.rglob("*"):
        if found.is_file() and found.suffix != ".json":  # the test's own config files
            haystacks[str(found)] = found.read_bytes()
    assert any(name.endswith(".duckdb") for name in haystacks)
    assert [where for where, data in haystacks.items() if CANARY_SSN.encode() in data] == []


def test_a_run_with_another_pii_key_on_the_same_store_is_refused(
    config: dict[str, Any], store: Path, tmp_path: Path
) -> None:
    """audit25e F10: a second key (another machine's ``pii_key_create``, a gather with another key file) was
    accepted silently: the same SSN hashed to another key, so the person landed twice, and the store held
    ciphertext of two keys. The first protected write records the key's check value; a run with another key stops
    before its first write, naming the settings."""
    props = {"SSN": {"type": "string"}, "Salary": {"type": ["null", "number"]}}
    ann = annotation("ukg_pro", "by_ssn", "employee", keys=["SSN"])

    def messages(salary: int) -> list[dict[str, Any]]:
        return [schema_msg("by_ssn", props, ["SSN"], ann), record_msg("by_ssn", {"SSN": CANARY_SSN, "Salary": salary})]

    first = run_target(config, messages(1), tmp_path)
    assert first.returncode == 0, first.stderr[-2000:]
    other = {**config, "pii_key_file": str(tmp_path / "other.key")}
    second = run_target(other, messages(2), tmp_path)
    assert second.returncode != 0
    assert "pii_key_file" in second.stderr
    assert "pii_key_credential_id" in second.stderr
    assert "_truths_keys" in second.stderr
    assert CANARY_SSN not in second.stderr
    assert Path(other["pii_key_file"]).read_text().strip() not in second.stderr
    table = query(store, "SELECT table_name FROM _schema_metadata WHERE file_name = 'ukg_pro:by_ssn'")[0][0]
    assert len(query(store, f'SELECT ssn FROM "{table}"')) == 1
    again = run_target(config, messages(3), tmp_path)  # the project's own key still lands
    assert again.returncode == 0, again.stderr[-2000:]
    assert len(query(store, f'SELECT ssn FROM "{table}"')) == 1


@pytest.mark.parametrize(("before", "after"), [("keep", "encrypt"), ("encrypt", "keep"), ("hash", "encrypt")])
def test_a_changed_pii_action_on_a_landed_column_is_refused(
    before: str, after: str, config: dict[str, Any], store: Path, tmp_path: Path
) -> None:
    """audit25e F14: a run whose policy protects a landed column otherwise (an edited ``pii_policy``, a gather's
    default ``encrypt`` over a pipeline's ``keep``) mixed clear text and ciphertext in one column, under metadata
    calling all of it one form. It stops before its first write, naming the column, both actions and the setting."""
    props = {"Id": {"type": "string"}, "Salary": {"type": ["null", "string"]}}
    ann = annotation("ukg_pro", "pay", "employee", keys=["Id"])

    def messages(*rows: tuple[str, str]) -> list[dict[str, Any]]:
        return [schema_msg("pay", props, ["Id"], ann)] + [record_msg("pay", {"Id": i, "Salary": s}) for i, s in rows]

    first = run_target({**config, "pii_policy": {"default": before}}, messages(("e1", "100"), ("e2", "200")), tmp_path)
    assert first.returncode == 0, first.stderr[-2000:]
    table = query(store, "SELECT table_name FROM _schema_metadata WHERE file_name = 'ukg_pro:pay'")[0][0]
    landed = query(store, f'SELECT id, salary FROM "{table}" ORDER BY id')
    changed = run_target({**config, "pii_policy": {"default": after}}, messages(("e3", "250")), tmp_path)
    assert changed.returncode != 0
    assert f"salary ({before} -> {after})" in changed.stderr
    assert "pii_policy" in changed.stderr
    assert query(store, f'SELECT id, salary FROM "{table}" ORDER BY id') == landed
    assert query(store, "SELECT pii_action FROM _truths_fields WHERE column_name = 'salary'") == [(before,)]
    same = run_target({**config, "pii_policy": {"default": before}}, messages(("e3", "250")), tmp_path)
    assert same.returncode == 0, same.stderr[-2000:]


def test_dead_letter_keys_written_in_clear_before_are_hashed_by_the_command_or_the_next_run_with_the_key(
    config: dict[str, Any], store: Path, tmp_path: Path
) -> None:
    """Dead letters written before audit25e F19 (16e03510) kept a PII key column's value in clear in
    ``record_key``; nothing hashed them. A store with such letters (the old form set in place: what the old target
    wrote, ``[record[k] for k in key_properties]``): a run without the project's key names the store and the command
    in a WARNING and changes nothing; ``xlr8 truths rekey-dead-letters`` refuses another key, then hashes them as the
    table's key is; a run with the project's key hashes any left at its store's first open."""
    import subprocess
    import sys

    import duckdb

    from xlr8_kit.privacy import FieldCipher, load_key

    props = {"SSN": {"type": "string"}, "Salary": {"type": ["null", "number"]}}
    ann = annotation("ukg_pro", "by_ssn", "employee", keys=["SSN"])
    bad = [{"SSN": CANARY_SSN, "Salary": "lots"}, {"SSN": "222-33-4444", "Salary": "many"}, {"SSN": "1", "Salary": 5}]
    run = run_target(config, [schema_msg("by_ssn", props, ["SSN"], ann), *(record_msg("by_ssn", r) for r in bad)],
                     tmp_path)  # fmt: skip
    assert run.returncode == 0, run.stderr[-2000:]
    cipher = FieldCipher(load_key(key_file=config["pii_key_file"], setting="pii_key_file"))
    marked = "SELECT project, mark FROM _truths_marks"
    assert query(store, marked) == [(PROJECT.lower(), "dead_letter_keys_hashed_v2")]  # a new store: nothing to migrate
    with duckdb.connect(str(store)) as con:  # the letters as the target wrote them before F19 (no marks table then)
        for ssn in (CANARY_SSN, "222-33-4444"):
            con.execute("UPDATE _dead_letters SET record_key = ? WHERE CAST(record_key AS VARCHAR) = ?",
                        [json.dumps([ssn]), json.dumps([cipher.hash(ssn)])])  # fmt: skip
        con.execute("DROP TABLE _truths_marks")
    old = sorted([(json.dumps([CANARY_SSN]),), (json.dumps(["222-33-4444"]),)])
    assert sorted(query(store, "SELECT CAST(record_key AS VARCHAR) FROM _dead_letters")) == old

    plain = {k: v for k, v in config.items() if not k.startswith("pii_key")}  # a run of a stream without PII
    other = [schema_msg("things", {"id": {"type": "integer"}}, ["id"]), record_msg("things", {"id": 1})]
    warned = run_target(plain, other, tmp_path)
    assert warned.returncode == 0, warned.stderr[-2000:]
    table = query(store, "SELECT table_name FROM _schema_metadata WHERE file_name = 'ukg_pro:by_ssn'")[0][0]
    assert (
        f"2 dead-letter key(s) of tables {table} in {store} keep a PII key column's value in clear in record_key"
        in warned.stderr
    )
    command = f"`xlr8 truths rekey-dead-letters --project {PROJECT.lower()} --duckdb {store} --pii-key-file"
    assert command in warned.stderr, warned.stderr[-2000:]
    assert CANARY_SSN not in warned.stderr
    assert sorted(query(store, "SELECT CAST(record_key AS VARCHAR) FROM _dead_letters")) == old

    xlr8 = [str(Path(sys.executable).parent / "xlr8"), "truths", "rekey-dead-letters", "--project", PROJECT,
            "--duckdb", str(store), "--pii-key-file"]  # fmt: skip
    wrong_key = tmp_path / "other.key"
    wrong_key.write_bytes(base64.b64encode(os.urandom(32)))
    refused = subprocess.run([*xlr8, str(wrong_key)], capture_output=True, text=True, check=False)
    assert refused.returncode == 2
    assert "--pii-key-file is not the key project" in refused.stderr
    assert refused.stderr.rstrip().endswith("nothing was changed")  # review27c L2: was "nothing was erased"
    assert sorted(query(store, "SELECT CAST(record_key AS VARCHAR) FROM _dead_letters")) == old
    assert CANARY_SSN.encode() in store.read_bytes()
    done = subprocess.run([*xlr8, config["pii_key_file"]], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        f"{table}: 2 dead-letter key(s) hashed",
        "rekey-dead-letters: 2 dead letter(s) changed in 1 table(s)",
        "rekey-dead-letters: the DuckDB file was rewritten, so the old values left its free blocks; copies and "
        "backups taken before keep them",
    ]
    # review27c M1: DuckDB left the updated rows' old blocks, SSNs and all, on its free list; the file is rewritten
    assert CANARY_SSN.encode() not in store.read_bytes()
    assert b"222-33-4444" not in store.read_bytes()
    assert not Path(f"{store}.wal").exists()
    assert not Path(f"{store}.rewrite").exists()
    hashed = sorted([(json.dumps([cipher.hash(CANARY_SSN)]),), (json.dumps([cipher.hash("222-33-4444")]),)])
    assert sorted(query(store, "SELECT CAST(record_key AS VARCHAR) FROM _dead_letters")) == hashed
    assert query(store, marked) == [(PROJECT.lower(), "dead_letter_keys_hashed_v2")]

    with duckdb.connect(str(store)) as con:  # the mark stands: a start reads it, not the letters (review27c M2)
        con.execute("UPDATE _dead_letters SET record_key = ? WHERE CAST(record_key AS VARCHAR) = ?",
                    [json.dumps([CANARY_SSN]), json.dumps([cipher.hash(CANARY_SSN)])])  # fmt: skip
    unscanned = run_target(plain, other, tmp_path)
    assert unscanned.returncode == 0, unscanned.stderr[-2000:]
    assert "dead-letter key(s)" not in unscanned.stderr
    with duckdb.connect(str(store)) as con:  # an old store again: the next run with the project's key hashes it
        con.execute("DELETE FROM _truths_marks")
    again = run_target(config, other, tmp_path)
    assert again.returncode == 0, again.stderr[-2000:]
    assert f"Hashed the clear PII key values of 1 older dead letter(s) (tables {table})" in again.stderr
    assert sorted(query(store, "SELECT CAST(record_key AS VARCHAR) FROM _dead_letters")) == hashed
    assert query(store, marked) == [(PROJECT.lower(), "dead_letter_keys_hashed_v2")]


def test_dead_letter_keys_in_clear_are_hashed_in_place_on_postgres(postgres_dsn: str, tmp_path: Path) -> None:
    """As above on PostgreSQL (JSONB keys), a composite key whose second column alone is hashed: the command names
    the schema, hashes only that place, and the letter keeps the other."""
    import subprocess
    import sys

    import psycopg

    from xlr8_kit.privacy import FieldCipher, load_key

    schema = f"t_{tmp_path.name.lower().replace('-', '_')[:40]}"
    config = {"project_id": PROJECT, "delivery": "postgres", "postgres_dsn": postgres_dsn, "postgres_schema": schema,
              "pii_key_file": str(tmp_path / "pii.key"), "pii_key_create": True}  # fmt: skip
    props = {"Dept": {"type": "string"}, "SSN": {"type": "string"}, "Salary": {"type": ["null", "number"]}}
    ann = annotation("ukg_pro", "by_ssn", "employee", keys=["Dept", "SSN"])
    letter = {"Dept": "D1", "SSN": CANARY_SSN, "Salary": "lots"}
    run = run_target(
        config, [schema_msg("by_ssn", props, ["Dept", "SSN"], ann), record_msg("by_ssn", letter)], tmp_path
    )
    assert run.returncode == 0, run.stderr[-2000:]
    cipher = FieldCipher(load_key(key_file=config["pii_key_file"], setting="pii_key_file"))
    select = f"SELECT CAST(record_key AS VARCHAR) FROM {schema}._dead_letters"
    with psycopg.connect(postgres_dsn, autocommit=True) as con:
        assert con.execute(select).fetchall() == [(json.dumps(["D1", cipher.hash(CANARY_SSN)]),)]
        con.execute(f"UPDATE {schema}._dead_letters SET record_key = %s", [json.dumps(["D1", CANARY_SSN])])  # pre-F19
        con.execute(f"DROP TABLE {schema}._truths_marks")  # as a store written before the mark
    other = [schema_msg("things", {"id": {"type": "integer"}}, ["id"]), record_msg("things", {"id": 1})]
    warned = run_target({k: v for k, v in config.items() if not k.startswith("pii_key")}, other, tmp_path)
    assert warned.returncode == 0, warned.stderr[-2000:]
    assert f"in PostgreSQL schema {schema} keep a PII key column's value in clear" in warned.stderr
    assert postgres_dsn not in warned.stderr
    done = subprocess.run(
        [str(Path(sys.executable).parent / "xlr8"), "truths", "rekey-dead-letters", "--project", PROJECT,
         "--postgres-dsn", postgres_dsn, "--postgres-schema", schema, "--pii-key-file", config["pii_key_file"]],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[1] == "rekey-dead-letters: 1 dead letter(s) changed in 1 table(s)"
    assert f"until `VACUUM FULL {schema}._dead_letters`" in done.stdout.splitlines()[2]
    with psycopg.connect(postgres_dsn, autocommit=True) as con:
        assert con.execute(select).fetchall() == [(json.dumps(["D1", cipher.hash(CANARY_SSN)]),)]
        marks = con.execute(f"SELECT project, mark FROM {schema}._truths_marks").fetchall()
        assert marks == [(PROJECT.lower(), "dead_letter_keys_hashed_v2")]
        con.execute(f"UPDATE {schema}._dead_letters SET record_key = %s", [json.dumps(["D1", CANARY_SSN])])
    unscanned = run_target({k: v for k, v in config.items() if not k.startswith("pii_key")}, other, tmp_path)
    assert unscanned.returncode == 0, unscanned.stderr[-2000:]
    assert "dead-letter key(s)" not in unscanned.stderr  # the mark is read, not the letters (review27c M2)


@pytest.mark.parametrize("marked", ["no mark", "first mark"])
def test_dead_letters_whose_key_no_longer_fits_the_table_s_key_are_named_never_reported_clean(
    config: dict[str, Any], store: Path, tmp_path: Path, marked: str
) -> None:
    """review27c L3: a letter written when the table's key was (Dept, SSN), SSN in clear, on a table now keyed by
    SSN alone: which place held the SSN cannot be told from the current key, so it cannot be re-keyed. It was
    skipped in silence: the command said "no dead letter keeps a hashed key column's value in clear", exit 0, the
    start-up said nothing, and the store was marked migrated. Now the command names the table and the count, exit
    1; a run's start warns (never the value); the store is not marked while such letters are there.
    review28d M4: a store the first check already marked (``dead_letter_keys_hashed``, the state that check left)
    is scanned once more (was: exit 0, "no dead letter keeps ..."). review28d M3: ``--rewrite`` still rewrites the
    file when such letters are named, and says so (was: skipped in silence)."""
    import subprocess
    import sys

    import duckdb

    from xlr8_kit.privacy import FieldCipher, load_key

    props = {"SSN": {"type": "string"}, "Salary": {"type": ["null", "number"]}}
    ann = annotation("ukg_pro", "by_ssn", "employee", keys=["SSN"])
    run = run_target(config, [schema_msg("by_ssn", props, ["SSN"], ann), record_msg("by_ssn", {"SSN": CANARY_SSN,
                     "Salary": "lots"})], tmp_path)  # fmt: skip
    assert run.returncode == 0, run.stderr[-2000:]
    cipher = FieldCipher(load_key(key_file=config["pii_key_file"], setting="pii_key_file"))
    with duckdb.connect(str(store)) as con:  # as an older target wrote it under the older key (Dept, SSN)
        con.execute("UPDATE _dead_letters SET record_key = ? WHERE CAST(record_key AS VARCHAR) = ?",
                    [json.dumps(["HR", CANARY_SSN]), json.dumps([cipher.hash(CANARY_SSN)])])  # fmt: skip
        if marked == "no mark":
            con.execute("DROP TABLE _truths_marks")
        else:  # as the first check's version left it: marked, the letter skipped
            con.execute("UPDATE _truths_marks SET mark = 'dead_letter_keys_hashed'")
    table = query(store, "SELECT table_name FROM _schema_metadata WHERE file_name = 'ukg_pro:by_ssn'")[0][0]
    v2 = "SELECT count(*) FROM _truths_marks WHERE mark = 'dead_letter_keys_hashed_v2'"

    xlr8 = [str(Path(sys.executable).parent / "xlr8"), "truths", "rekey-dead-letters", "--project", PROJECT,
            "--duckdb", str(store), "--pii-key-file", config["pii_key_file"]]  # fmt: skip
    done = subprocess.run(xlr8, capture_output=True, text=True, check=False)
    assert done.returncode == 1, (done.stdout, done.stderr)
    assert f"{table}: 1 dead letter(s) whose key no longer fits the table's key (it changed)" in done.stdout
    assert "no dead letter keeps" not in done.stdout
    assert CANARY_SSN not in done.stdout + done.stderr
    assert query(store, v2) == [(0,)]

    rewritten = subprocess.run([*xlr8, "--rewrite"], capture_output=True, text=True, check=False)
    assert rewritten.returncode == 1, (rewritten.stdout, rewritten.stderr)
    assert f"{table}: 1 dead letter(s) whose key no longer fits" in rewritten.stdout
    assert "the DuckDB file was rewritten" in rewritten.stdout

    plain = {k: v for k, v in config.items() if not k.startswith("pii_key")}
    warned = run_target(plain, [schema_msg("things", {"id": {"type": "integer"}}, ["id"]),
                                record_msg("things", {"id": 1})], tmp_path)  # fmt: skip
    assert warned.returncode == 0, warned.stderr[-2000:]
    assert f"1 dead letter(s) of tables {table} have a key that no longer fits the table's key" in warned.stderr
    assert CANARY_SSN not in warned.stderr
    assert query(store, v2) == [(0,)]


def test_a_hashed_letter_of_an_older_key_width_is_judged_on_its_pii_column_only(
    config: dict[str, Any], store: Path, tmp_path: Path
) -> None:
    """review28d M2: a letter written under the key (Dept, SSN), its SSN hashed, on a table whose key was then
    extended to (Dept, SSN, Day): its clear Dept is no PII. It was named "may keep a PII value in clear" (exit 1
    for good, the store never marked, the letters to be deleted). Now judged on the SSN's place in the key it was
    written under (the table's older ``_schema_metadata`` version): clean, exit 0, the store marked; a letter of that
    width holding the SSN in clear is still named."""
    import subprocess
    import sys

    import duckdb

    props = {"Dept": {"type": "string"}, "SSN": {"type": "string"}, "Day": {"type": "string"},
             "Salary": {"type": ["null", "number"]}}  # fmt: skip
    ann = annotation("ukg_pro", "by_dept", "employee", keys=["Dept", "SSN"])
    first = [schema_msg("by_dept", props, ["Dept", "SSN"], ann),
             record_msg("by_dept", {"Dept": "HR", "SSN": "111-22-3333", "Day": "d1", "Salary": 1}),
             record_msg("by_dept", {"Dept": "HR", "SSN": CANARY_SSN, "Day": "d1", "Salary": "lots"})]  # fmt: skip
    run = run_target(config, first, tmp_path)
    assert run.returncode == 0, run.stderr[-2000:]
    ann = annotation("ukg_pro", "by_dept", "employee", keys=["Dept", "SSN", "Day"])
    second = [schema_msg("by_dept", props, ["Dept", "SSN", "Day"], ann),
              record_msg("by_dept", {"Dept": "HR", "SSN": "111-22-3333", "Day": "d2", "Salary": 2})]  # fmt: skip
    run = run_target(config, second, tmp_path)
    assert run.returncode == 0, run.stderr[-2000:]
    assert "key properties extended" in run.stderr
    letters = query(store, "SELECT CAST(record_key AS VARCHAR) FROM _dead_letters")
    assert len(letters) == 1, letters
    key = json.loads(letters[0][0])
    assert len(key) == 2, key  # written under (Dept, SSN)
    assert key[0] == "HR"
    assert key[1] not in (CANARY_SSN, None)  # hashed
    with duckdb.connect(str(store)) as con:  # a store from before the mark
        con.execute("DROP TABLE _truths_marks")

    xlr8 = [str(Path(sys.executable).parent / "xlr8"), "truths", "rekey-dead-letters", "--project", PROJECT,
            "--duckdb", str(store), "--pii-key-file", config["pii_key_file"]]  # fmt: skip
    done = subprocess.run(xlr8, capture_output=True, text=True, check=False)
    assert done.returncode == 0, (done.stdout, done.stderr)
    assert "no dead letter keeps a hashed key column's value in clear" in done.stdout
    assert "no longer fits" not in done.stdout
    assert query(store, "SELECT mark FROM _truths_marks") == [("dead_letter_keys_hashed_v2",)]

    with duckdb.connect(str(store)) as con:  # the same letter with its SSN in clear: named
        con.execute("UPDATE _dead_letters SET record_key = ?", [json.dumps(["HR", CANARY_SSN])])
        con.execute("DELETE FROM _truths_marks")
    done = subprocess.run(xlr8, capture_output=True, text=True, check=False)
    assert done.returncode == 1, (done.stdout, done.stderr)
    assert "1 dead letter(s) whose key no longer fits" in done.stdout
