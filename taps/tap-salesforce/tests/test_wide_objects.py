"""Wide objects (audit24a M4): a REST query's fields go in the URL, and Salesforce refuses URI and headers over
16,384 bytes. The tap reads such an object by Bulk when it may choose, and otherwise names the object and the
setting. The emulator's Account carries 600 more custom fields (opt-in) and answers 414 past the limit."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from xlr8_kit.testing.singer_cli import parse_singer_messages, run_tap_cli, write_json

WIDE = {"wide_fields": {"Account": 600}}


def test_m4_a_wide_object_is_read_by_bulk_when_the_api_is_auto(sf: Any, caplog: Any) -> None:
    with sf.start_sandbox({"Account": 40}, **WIDE) as sandbox:
        em = sf.emulator(sandbox)
        run = sf.run_tap(sf.password_config(sandbox, objects=["Account"]))  # api_type auto, 40 rows: REST by count
        jobs = list(em._jobs.values())
        long_gets = [path for method, path in em.request_log if method == "GET" and path.endswith("/query")]
    assert len(run.records("Account")) == 40
    assert "Wide_Custom_Field_0599_Txt__c" in run.records("Account")[0]
    assert jobs  # by Bulk 2.0: the SOQL went in a POST body
    assert not long_gets
    assert "Account: the REST query would be a" in caplog.text


def test_m4_a_wide_object_asked_for_by_rest_names_the_object_and_the_setting(sf: Any, tmp_path: Path) -> None:
    with sf.start_sandbox({"Account": 40}, **WIDE) as sandbox:
        config = sf.password_config(sandbox, objects=["Account"], api_type="rest")
        result = run_tap_cli("tap-salesforce", ["--config", write_json(tmp_path / "config.json", config)], tmp_path)
    assert result.returncode != 0
    assert "Account: the REST query of its" in result.stderr
    assert "api_type_overrides" in result.stderr
    assert not [m for m in parse_singer_messages(result.stdout) if m["type"] == "RECORD"]
