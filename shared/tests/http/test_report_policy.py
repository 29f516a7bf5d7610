"""F13: the report read timeout is a setting of its own, validated by name, and a report call's budget holds the
one re-run a read timeout gets (the calls themselves: tap-workday ``test_report_timeout``, tap-ukg-pro
``test_raas``)."""

from __future__ import annotations

import pytest

from xlr8_kit.http.session import HttpPolicy
from xlr8_kit.rest import http_policy_from_config


def test_report_read_timeout_is_validated_by_name() -> None:
    assert http_policy_from_config({}).report_read_timeout == 1800
    assert http_policy_from_config({"http": {"report_read_timeout": 600}}).report_read_timeout == 600
    with pytest.raises(ValueError, match=r"http\.report_read_timeout=0\.0"):
        http_policy_from_config({"http": {"report_read_timeout": 0}})
    with pytest.raises(ValueError, match=r"http\.report_read_timeout must be a number"):
        http_policy_from_config({"http": {"report_read_timeout": "long"}})


def test_a_report_call_reads_with_its_own_timeout_and_has_room_for_one_rerun() -> None:
    pages = HttpPolicy(read_timeout=120, report_read_timeout=1500, max_elapsed=1800, connect_timeout=10)
    report = pages.for_report()
    assert (pages.read_timeout, pages.max_elapsed) == (120, 1800)  # page calls unchanged
    assert report.read_timeout == 1500
    assert report.max_elapsed >= 2 * (10 + 1500)  # two full waits fit: the run and its one re-run
    assert HttpPolicy(report_read_timeout=60, max_elapsed=1800).for_report().max_elapsed == 1800  # never shorter
