"""Scenario tests: the real tap against the emulator over HTTP on 127.0.0.1, asserting on what was emitted."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest

from xlr8_kit.http.errors import ReauthorizationRequiredError

ACCOUNTS = 1000


def _ids(records: list[dict[str, Any]]) -> list[str]:
    return [r["Id"] for r in records]


def _account_config(sf: Any, sandbox: Any, **extra: Any) -> dict[str, Any]:
    """Reads from the bookmark exactly (no lookback window read again: test_lookback.py), so runs compare exactly."""
    return sf.password_config(sandbox, **{"objects": ["Account"], "api_type": "rest", "lookback_seconds": 0, **extra})


def test_rest_paging_follows_next_records_url(sf: Any) -> None:
    with sf.start_sandbox({"Account": ACCOUNTS}) as sandbox:
        # one cursor: a ranged read's follow-ups depend on where its plan puts the bounds (test_ranged_reads.py)
        run = sf.run_tap(_account_config(sf, sandbox, batch_size=200, rest_concurrent_queries=1))
        log = sf.emulator(sandbox).request_log
    ids = _ids(run.records("Account"))
    assert len(ids) == ACCOUNTS
    assert len(set(ids)) == ACCOUNTS
    assert ids == sorted(ids)  # (SystemModstamp, Id) order is the index order here
    follow_ups = [p for _, p in log if "/queryAll/01g" in p]  # deletes are read too, so queryAll
    assert len(follow_ups) == ACCOUNTS // 200 - 1


def test_exact_decimals_survive_to_the_record_line(sf: Any, sandbox: Any) -> None:
    run = sf.run_tap(_account_config(sf, sandbox))
    record = run.records("Account")[0]
    account = sf.emulator(sandbox).objects["Account"].base_record(0)
    assert Decimal(str(record["AnnualRevenue"])) == account["AnnualRevenue"]
    line = next(line for line in run.lines if '"RECORD"' in line)
    assert f'"AnnualRevenue": {account["AnnualRevenue"]}' in line.replace('":', '": ').replace('":  ', '": ')
    assert run.schema("Account")["properties"]["AnnualRevenue"]["type"] == ["number", "null"]


def test_bulk_locators_give_the_same_records_as_rest(sf: Any) -> None:
    with sf.start_sandbox({"Account": 450}) as sandbox:
        rest = sf.run_tap(_account_config(sf, sandbox))
        bulk = sf.run_tap(_account_config(sf, sandbox, api_type="bulk", bulk_max_records=100))
        log = sf.emulator(sandbox).request_log
    result_pages = [p for _, p in log if p.endswith("/results")]
    assert len(result_pages) == 5  # 450 rows, 100 per page: four locators then "null"
    rest_records, bulk_records = rest.records("Account"), bulk.records("Account")
    assert len(bulk_records) == 450
    assert bulk_records == rest_records  # types, compound address/location and nulls rebuilt from CSV
    assert isinstance(bulk_records[0]["NumberOfEmployees"], int)
    assert isinstance(bulk_records[0]["IsDeleted"], bool)
    assert bulk_records[0]["BillingAddress"]["city"] == rest_records[0]["BillingCity"]


def test_auto_api_choice_uses_bulk_above_threshold(sf: Any) -> None:
    with sf.start_sandbox({"Account": 300}) as sandbox:
        config = sf.password_config(sandbox, objects=["Account", "Project__c"], bulk_threshold=250)
        run = sf.run_tap(config)
        log = sf.emulator(sandbox).request_log
    jobs = [p for m, p in log if m == "POST" and p.endswith("/jobs/query")]
    assert len(jobs) == 1  # Account (300 rows) went Bulk, Project__c (10 rows) REST
    assert len(run.records("Account")) == 300
    assert len(run.records("Project__c")) == 10


def test_deletes_are_emitted_with_sdc_deleted_at(sf: Any, sandbox: Any) -> None:
    config = _account_config(sf, sandbox)
    first = sf.run_tap(config)
    em = sf.emulator(sandbox)
    em.ctx.clock.advance(timedelta(days=1))
    em.delete("Account", 7)
    em.touch("Account", 8, Name="Renamed Account")
    second = sf.run_tap(config, state=first.state)
    by_id = {r["Id"]: r for r in second.records("Account")}
    deleted = by_id[em.objects["Account"].record_id(7)]
    assert deleted["IsDeleted"] is True
    assert deleted["_sdc_deleted_at"] == deleted["SystemModstamp"]
    assert by_id[em.objects["Account"].record_id(8)]["Name"] == "Renamed Account"
    assert by_id[em.objects["Account"].record_id(8)]["_sdc_deleted_at"] is None
    without = sf.run_tap({**config, "include_deleted": False}, state=first.state)
    assert _ids(without.records("Account")) == [em.objects["Account"].record_id(8)]


def test_a6_request_limit_exceeded_stops_with_state_safe(sf: Any) -> None:
    with sf.start_sandbox({"Account": ACCOUNTS}) as sandbox:
        em = sf.emulator(sandbox)
        config = _account_config(sf, sandbox, batch_size=200)
        config["http"] = {"max_quota_share": 1.0}
        # one cursor: a ranged read's planning queries would race page 1 for the 3 calls left (0 rows landed once)
        config["rest_concurrent_queries"] = 1
        em.api_limit = 4  # describe batch, global describe is skipped (objects set), then 3 query pages
        stopped = sf.run_tap(config)
        first_ids = _ids(stopped.records("Account"))
        assert 0 < len(first_ids) < ACCOUNTS
        assert stopped.tap.quota_stopped
        em.api_limit = 10_000
        resumed = sf.run_tap(config, state=stopped.state)
    second_ids = _ids(resumed.records("Account"))
    assert set(first_ids) | set(second_ids) == {em.objects["Account"].record_id(i) for i in range(ACCOUNTS)}
    assert not set(first_ids) & set(second_ids)  # boundary Ids de-duplicated


def test_a7_quota_guard_stops_before_the_limit(sf: Any) -> None:
    with sf.start_sandbox({"Account": ACCOUNTS}) as sandbox:
        em = sf.emulator(sandbox)
        em.api_limit = 10
        # the default ranged read: page 1 goes out with its planning queries and the ranges side by side, and the
        # guard counts the requests in flight, not only the usage answered before them
        config = _account_config(sf, sandbox, batch_size=200, api_quota_share=0.5)
        assert "rest_concurrent_queries" not in config
        run = sf.run_tap(config)
        assert em.api_used <= 5  # the guard stopped at 50 % of 10: the org's quota is never exhausted
    assert run.tap.quota_stopped
    assert 0 < len(run.records("Account")) < ACCOUNTS
    bookmark = run.state["bookmarks"]["Account"]["replication_key_value"]
    assert bookmark == run.records("Account")[-1]["SystemModstamp"]


def test_e6_equal_timestamps_across_a_checkpoint_lose_nothing(sf: Any) -> None:
    with sf.start_sandbox({"Account": 600}) as sandbox:
        em = sf.emulator(sandbox)
        config = _account_config(sf, sandbox, batch_size=200)
        config["http"] = {"max_quota_share": 1.0}
        em.api_limit = 2  # describe + one page of 200: the page ends inside a group of three equal timestamps
        first = sf.run_tap(config)
        em.api_limit = 10_000
        second = sf.run_tap(config, state=first.state)
    first_records, second_records = first.records("Account"), second.records("Account")
    assert len(first_records) == 200
    last = first_records[-1]
    straddler = second_records[0]
    assert straddler["SystemModstamp"] == last["SystemModstamp"]  # the next record shares the checkpoint time
    assert straddler["Id"] == em.objects["Account"].record_id(200)
    assert len(first_records) + len(second_records) == 600
    assert set(_ids(first_records)).isdisjoint(_ids(second_records))


def test_b2_session_revoked_mid_run_refreshes_once_and_continues(sf: Any) -> None:
    with sf.start_sandbox({"Account": ACCOUNTS}) as sandbox:
        em = sf.emulator(sandbox)
        em.revoke_sessions_at_request = 3
        run = sf.run_tap(_account_config(sf, sandbox, batch_size=200))
    assert len(set(_ids(run.records("Account")))) == ACCOUNTS
    assert run.tap.kit.authenticator.refresh_count == 2


def test_b2_second_invalid_session_is_fatal(sf: Any, sandbox: Any) -> None:
    em = sf.emulator(sandbox)
    em.session_ttl = 0  # every session is dead on arrival: the forced refresh cannot help
    creds = em.test_credentials()
    with pytest.raises(ReauthorizationRequiredError, match="re-authentication required") as caught:
        sf.run_tap(_account_config(sf, sandbox))
    for secret in (creds["client_secret"], creds["password"], creds["security_token"]):
        assert secret not in str(caught.value)


def test_query_timeout_splits_the_date_window(sf: Any) -> None:
    with sf.start_sandbox({"Account": ACCOUNTS}, query_timeout_rows=300) as sandbox:
        run = sf.run_tap(_account_config(sf, sandbox, min_window_seconds=1))
        log = sf.emulator(sandbox).request_log
    ids = _ids(run.records("Account"))
    assert ids == [sf.emulator(sandbox).objects["Account"].record_id(i) for i in range(ACCOUNTS)]
    assert len([p for _, p in log if p.endswith("/queryAll")]) > 4  # timed-out queries, then smaller windows


def test_query_timeout_below_the_smallest_window_is_fatal(sf: Any) -> None:
    with sf.start_sandbox({"Account": 50}, query_timeout_rows=0) as sandbox:
        from xlr8_tap_salesforce.client import QueryTimeoutError

        with pytest.raises(QueryTimeoutError, match="QUERY_TIMEOUT"):
            sf.run_tap(_account_config(sf, sandbox, min_window_seconds=86_400 * 365))


def test_formula_fields_reread_when_asked(sf: Any, sandbox: Any) -> None:
    config = _account_config(sf, sandbox)
    first = sf.run_tap(config)
    em = sf.emulator(sandbox)
    em.ctx.clock.advance(timedelta(days=10))
    plain = sf.run_tap(config, state=first.state)
    reread = sf.run_tap({**config, "reread_formula_fields": True}, state=first.state)
    assert plain.records("Account") == []  # nothing touched SystemModstamp
    before = {r["Id"]: r["Days_Since_Review__c"] for r in first.records("Account")}
    after = {r["Id"]: r["Days_Since_Review__c"] for r in reread.records("Account")}
    assert after.keys() == before.keys()
    assert all(after[k] == before[k] + 10 for k in before)


def test_formula_fields_reread_starts_at_start_date(sf: Any, sandbox: Any) -> None:
    """bk24: the re-read restarts the bookmark as a first run does, from ``start_date``: it read every row, landing
    rows older than ``start_date`` that no run of this config had landed."""
    every = sf.run_tap(_account_config(sf, sandbox)).records("Account")
    stamps = sorted(r["SystemModstamp"] for r in every)
    config = _account_config(sf, sandbox, start_date=stamps[len(stamps) // 2])
    first = sf.run_tap(config)
    assert 0 < len(first.records("Account")) < len(every)
    reread = sf.run_tap({**config, "reread_formula_fields": True}, state=first.state)
    assert sorted(_ids(reread.records("Account"))) == sorted(_ids(first.records("Account")))


@pytest.mark.parametrize("flow", ["jwt_bearer", "refresh_token", "client_credentials", "password"])
def test_every_auth_flow_reads_data(sf: Any, sandbox: Any, flow: str) -> None:
    creds = sf.emulator(sandbox).test_credentials()
    fields = {
        "jwt_bearer": ("client_id", "username", "private_key"),
        "refresh_token": ("client_id", "client_secret", "refresh_token"),
        "client_credentials": ("client_id", "client_secret"),
        "password": ("client_id", "client_secret", "username", "password", "security_token"),
    }[flow]
    config = {
        "login_url": sandbox.url("salesforce"),
        "auth_type": flow,
        **{k: creds[k] for k in fields},
        "objects": ["Project__c"],
    }
    run = sf.run_tap(config)
    assert len(run.records("Project__c")) == 10


def test_b4_wrong_password_is_a_clear_error_without_secrets(sf: Any, sandbox: Any) -> None:
    from xlr8_kit.http.errors import AuthenticationError

    config = _account_config(sf, sandbox)
    config["password"] = "wrong-password-123"
    with pytest.raises(AuthenticationError) as caught:
        sf.run_tap(config)
    assert "wrong-password-123" not in str(caught.value)
    assert "invalid_grant" in str(caught.value) or "re-author" in str(caught.value)


@pytest.mark.parametrize(
    ("config", "needle"),
    [
        ({"auth_type": "saml"}, "setting 'auth_type' must be one of"),
        ({"auth_type": "jwt_bearer", "client_id": "x", "username": "u"}, "needs setting(s): 'private_key'"),
        ({}, "setting 'auth_type'"),
        ({"auth": "flat"}, "setting 'auth' (legacy) must be an object"),
    ],
)
def test_bad_auth_settings_name_the_field(config: Any, needle: str) -> None:
    from xlr8_tap_salesforce.tap import SalesforceSettings

    with pytest.raises(ValueError, match=re.escape(needle)):
        SalesforceSettings.parse(config)


def test_the_legacy_auth_object_still_reads_data(sf: Any, sandbox: Any) -> None:
    """Configs written before the flat settings (``auth: {type, client_id, ...}``) keep working, secrets redacted."""
    creds = sf.emulator(sandbox).test_credentials()
    auth = {"type": "client_credentials", "client_id": creds["client_id"], "client_secret": creds["client_secret"]}
    run = sf.run_tap({"login_url": sandbox.url("salesforce"), "auth": auth, "objects": ["Project__c"]})
    assert len(run.records("Project__c")) == 10
    assert run.tap.settings.auth.type == "client_credentials"
    assert creds["client_secret"] not in run.tap.kit.redactor.redact("x " + creds["client_secret"])


def test_universal_filters_are_pushed_into_soql(sf: Any, sandbox: Any) -> None:
    config = sf.password_config(
        sandbox, objects=["Account", "Contact"], filters="crm_account where industry = 'Retail'"
    )
    run = sf.run_tap(config)
    accounts = run.records("Account")
    expected = [
        r["Id"]
        for r in (sf.emulator(sandbox).objects["Account"].base_record(i) for i in range(50))
        if r["Industry"] == "Retail"
    ]
    assert expected
    assert [a["Id"] for a in accounts] == expected
    assert len(run.records("Contact")) == 100  # the filter names accounts only
    stream = run.tap.streams["Account"]
    assert "Industry = 'Retail'" in stream._soql(stream.selected_fields(), None, None)
    assert run.tap.streams["Contact"].universal_filter is None


def test_filters_that_fit_no_stream_are_refused(sf: Any, sandbox: Any) -> None:
    from xlr8_kit.query import QueryError

    with pytest.raises(QueryError, match="filters"):
        sf.run_tap(sf.password_config(sandbox, objects=["Contact"], filters="crm_account where industry = 'Retail'"))


def test_e8_expired_query_locator_reissues_from_the_last_record(sf: Any) -> None:
    with sf.start_sandbox({"Account": ACCOUNTS}) as sandbox:
        em = sf.emulator(sandbox)
        em.expire_cursors_at_request = 3  # describe, first page, then the second page's locator is gone
        # one cursor: the query re-issued once (ranged reads re-plan it: test_ranged_reads.py)
        run = sf.run_tap(_account_config(sf, sandbox, batch_size=200, rest_concurrent_queries=1))
        log = em.request_log
    ids = _ids(run.records("Account"))
    assert ids == [em.objects["Account"].record_id(i) for i in range(ACCOUNTS)]  # nothing lost, nothing twice
    assert len([p for _, p in log if p.endswith("/queryAll")]) == 2  # the query was re-issued once


def test_count_that_times_out_means_bulk(sf: Any) -> None:
    with sf.start_sandbox({"Account": 400}, query_timeout_rows=300) as sandbox:
        run = sf.run_tap(sf.password_config(sandbox, objects=["Account"], bulk_threshold=100_000, min_window_seconds=1))
        log = sf.emulator(sandbox).request_log
    assert len([p for m, p in log if m == "POST" and p.endswith("/jobs/query")]) >= 1
    assert len({r["Id"] for r in run.records("Account")}) == 400


def test_bulk_jobs_of_independent_objects_start_together(sf: Any, sandbox: Any) -> None:
    config = sf.password_config(sandbox, objects=["Account", "Contact", "Project__c"], api_type="bulk")
    run = sf.run_tap(config)
    log = sf.emulator(sandbox).request_log
    creates = [i for i, (m, p) in enumerate(log) if m == "POST" and p.endswith("/jobs/query")]
    first_results = next(i for i, (_, p) in enumerate(log) if p.endswith("/results"))
    assert len(creates) == 3  # one job per object, none created twice
    assert max(creates) < first_results  # all running server-side before the first result page is read
    assert (len(run.records("Account")), len(run.records("Contact")), len(run.records("Project__c"))) == (50, 100, 10)


def _catalog_without(sf: Any, config: dict[str, Any], drop: set[str], replication_key: str | None) -> dict[str, Any]:
    """A catalog as a user might save it: fields removed and the replication key chosen (or none)."""
    from xlr8_tap_salesforce.tap import TapSalesforce

    catalog = TapSalesforce(config=config, parse_env_config=False).catalog_dict
    for stream in catalog["streams"]:
        for name in drop:
            stream["schema"]["properties"].pop(name, None)
        stream["metadata"] = [m for m in stream["metadata"] if m["breadcrumb"][-1:] not in [[n] for n in drop]]
        stream["replication_key"] = replication_key
        stream["replication_method"] = "INCREMENTAL" if replication_key else "FULL_TABLE"
        for entry in stream["metadata"]:
            if entry["breadcrumb"] == []:
                entry["metadata"]["replication-key"] = replication_key
                entry["metadata"]["valid-replication-keys"] = [replication_key] if replication_key else []
                entry["metadata"]["forced-replication-method"] = stream["replication_method"]
    return catalog


def test_replication_key_falls_back_to_last_modified_date(sf: Any, sandbox: Any) -> None:
    from xlr8_tap_salesforce import discovery
    from xlr8_tap_salesforce.streams import stream_class
    from xlr8_tap_salesforce.tap import TapSalesforce

    config = sf.password_config(sandbox, objects=["Project__c"])
    tap = TapSalesforce(config=config, parse_env_config=False)
    describe = tap.client.describe_many(["Project__c"])["Project__c"]
    schema = discovery.object_schema(describe)
    del schema["properties"]["SystemModstamp"]
    stream = stream_class("Project__c")(tap, info=discovery.ObjectInfo.from_describe(describe), schema=schema)
    assert stream.replication_key == "LastModifiedDate"

    catalog = _catalog_without(sf, config, {"SystemModstamp"}, "LastModifiedDate")
    run = sf.run_tap(config, catalog=catalog)
    assert len(run.records("Project__c")) == 10
    assert run.state["bookmarks"]["Project__c"]["replication_key"] == "LastModifiedDate"


def test_object_without_timestamps_is_read_in_full(sf: Any, sandbox: Any) -> None:
    config = sf.password_config(sandbox, objects=["Project__c"])
    catalog = _catalog_without(sf, config, {"SystemModstamp", "LastModifiedDate", "CreatedDate"}, None)
    first = sf.run_tap(config, catalog=catalog)
    second = sf.run_tap(config, catalog=catalog, state=first.state)
    assert len(first.records("Project__c")) == 10
    assert _ids(first.records("Project__c")) == _ids(second.records("Project__c"))
    assert "replication_key_value" not in first.state["bookmarks"].get("Project__c", {})


def test_failed_bulk_job_with_query_timeout_splits_the_window(sf: Any) -> None:
    with sf.start_sandbox({"Account": 700}, query_timeout_rows=300) as sandbox:
        run = sf.run_tap(_account_config(sf, sandbox, api_type="bulk", min_window_seconds=1))
        em = sf.emulator(sandbox)
        states = [job.state for job in em._jobs.values()]
    assert "Failed" in states  # the first, whole-range job failed with QUERY_TIMEOUT while processing
    assert "JobComplete" in states
    assert _ids(run.records("Account")) == [em.objects["Account"].record_id(i) for i in range(700)]


def test_bulk_csv_with_quotes_and_newlines_matches_rest(sf: Any, sandbox: Any) -> None:
    config = sf.password_config(sandbox, objects=["Case"], api_type="rest")
    rest = sf.run_tap(config).records("Case")
    bulk = sf.run_tap({**config, "api_type": "bulk", "bulk_max_records": 7}).records("Case")
    assert '"export"' in rest[0]["Description"]
    assert "\n" in rest[0]["Description"]
    assert bulk == rest


@pytest.mark.parametrize("api_type", ["rest", "bulk"])
def test_base64_fields_land_as_the_blob_url_from_rest_and_null_from_bulk(sf: Any, sandbox: Any, api_type: str) -> None:
    run = sf.run_tap(sf.password_config(sandbox, objects=["Attachment"], api_type=api_type))
    log = sf.emulator(sandbox).request_log
    attachments = run.records("Attachment")
    assert len(attachments) == 10
    first = min(attachments, key=lambda r: r["Id"])
    assert first["Name"] == "SOW-00001.txt"
    if api_type == "rest":
        assert first["Body"] == f"/services/data/v60.0/sobjects/Attachment/{first['Id']}/Body"
    else:
        assert [p for m, p in log if m == "POST" and p.endswith("/jobs/query")]  # Bulk really ran, and succeeded
        assert first["Body"] is None
        assert all(r["Body"] is None for r in attachments)
