"""The SuccessFactors emulator driven by pyodata, a standard OData v2 client that knows nothing of this project:
it parses ``$metadata`` in strict mode (any malformed or inconsistent EDMX is fatal), then reads entity sets,
single entities by key (simple and composite, with effective dates), ``$expand`` of navigation properties the EDMX
declares, and ``$count``, resolving every URI it is given.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pyodata
import pytest
import requests
from pyodata.v2.model import Config, PolicyFatal

from xlr8_sandbox.products.successfactors import API_PASSWORD, API_USER, COMPANY_ID
from xlr8_sandbox.testing import emulator_fixtures

sandbox, emulator, url = emulator_fixtures("successfactors", scale=100)


@pytest.fixture(name="client")
def client_fixture(url: str, emulator: Any) -> Any:
    session = requests.Session()
    session.auth = (f"{API_USER}@{COMPANY_ID}", API_PASSWORD)
    strict = Config(default_error_policy=PolicyFatal(), retain_null=True)
    return pyodata.Client(f"{url}/odata/v2", session, config=strict)


def test_strict_metadata_declares_every_served_entity_set(client: Any, emulator: Any) -> None:
    names = {s.name for s in client.schema.entity_sets}
    assert names == set(emulator.entities)
    user = client.schema.entity_type("User")
    assert [k.name for k in user.key_proprties] == ["userId"]
    job = client.schema.entity_type("EmpJob")
    assert {k.name for k in job.key_proprties} == {"seqNumber", "startDate", "userId"}


def test_entity_set_page_and_count(client: Any) -> None:
    users = client.entity_sets.User.get_entities().top(5).execute()
    assert len(users) == 5
    total = client.entity_sets.User.get_entities().count().execute()
    assert total >= 5
    active = client.entity_sets.User.get_entities().filter("status eq 'active'").count().execute()
    assert 0 < active <= total


def test_entity_by_key_is_the_row_its_metadata_uri_names(client: Any, url: str) -> None:
    first = client.entity_sets.User.get_entities().top(1).execute()[0]
    by_key = client.entity_sets.User.get_entity(first.userId).execute()
    assert by_key.userId == first.userId
    assert by_key.lastName == first.lastName
    session = requests.Session()
    session.auth = (f"{API_USER}@{COMPANY_ID}", API_PASSWORD)
    uri = session.get(f"{url}/odata/v2/User", params={"$top": "1", "$format": "json"}, timeout=30).json()["d"][
        "results"
    ][0]["__metadata"]["uri"]
    followed = session.get(uri, params={"$format": "json"}, timeout=30)
    assert followed.status_code == 200
    assert followed.json()["d"]["__metadata"]["uri"] == uri


def test_composite_key_with_an_effective_date(client: Any) -> None:
    history = (
        client.entity_sets.EmpJob.get_entities()
        .custom("fromDate", "1900-01-01")
        .filter("userId eq 'E000001'")
        .execute()
    )
    assert len(history) >= 1
    for row in history:
        fetched = client.entity_sets.EmpJob.get_entity(
            userId=row.userId, startDate=row.startDate, seqNumber=row.seqNumber
        ).execute()
        assert fetched.startDate == row.startDate
        assert fetched.jobCode == row.jobCode
    with pytest.raises(pyodata.exceptions.HttpError):
        client.entity_sets.EmpJob.get_entity(
            userId="E000001", startDate=datetime(1901, 1, 1, tzinfo=UTC), seqNumber=1
        ).execute()


def test_expand_declared_navigation_properties(client: Any) -> None:
    employment = client.entity_sets.EmpEmployment.get_entities().top(3).expand("jobInfoNav,userNav").execute()
    assert len(employment) == 3
    for row in employment:
        assert row.userNav.userId == row.userId
        assert all(job.userId == row.userId for job in row.jobInfoNav)
    user = client.entity_sets.User.get_entity("E000001").expand("empInfo").execute()
    assert user.empInfo.userId == "E000001"


def test_multi_level_expand(client: Any) -> None:
    employment = client.entity_sets.EmpEmployment.get_entities().top(2).expand("jobInfoNav/userNav").execute()
    assert len(employment) == 2
    for row in employment:
        jobs = list(row.jobInfoNav)
        assert jobs
        assert all(job.userNav.userId == row.userId for job in jobs)
