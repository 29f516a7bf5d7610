"""The Salesforce emulator's wire protocol, checked with plain HTTP (what any client, not only this tap, sees)."""

from __future__ import annotations

import time
from typing import Any

import jwt
import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from xlr8_sandbox.products.salesforce import soql

JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"


def _token(url: str, **form: str) -> requests.Response:
    return requests.post(f"{url}/services/oauth2/token", data=form, timeout=30)


def _session(sandbox: Any) -> tuple[str, dict[str, str]]:
    url = sandbox.url("salesforce")
    creds = sandbox.emulator("salesforce").test_credentials()
    body = _token(
        url, grant_type="client_credentials", client_id=creds["client_id"], client_secret=creds["client_secret"]
    )
    return body.json()["instance_url"], {"Authorization": f"Bearer {body.json()['access_token']}"}


def _assertion(key: rsa.RSAPrivateKey, creds: dict[str, str], aud: str = "https://login.salesforce.com") -> str:
    now = int(time.time())
    claims = {"iss": creds["client_id"], "sub": creds["username"], "aud": aud, "exp": now + 180, "iat": now}
    return jwt.encode(claims, key, algorithm="RS256")


def test_token_response_has_instance_url_and_no_expires_in(sandbox: Any) -> None:
    creds = sandbox.emulator("salesforce").test_credentials()
    body = _token(
        sandbox.url("salesforce"),
        grant_type="password",
        client_id=creds["client_id"],
        client_secret=creds["client_secret"],
        username=creds["username"],
        password=creds["password"] + creds["security_token"],
    ).json()
    assert {"access_token", "instance_url", "issued_at", "token_type", "id", "signature"} <= set(body)
    assert "expires_in" not in body
    assert body["instance_url"] == sandbox.url("salesforce")


def test_jwt_bearer_is_verified_with_the_registered_key(sandbox: Any) -> None:
    em = sandbox.emulator("salesforce")
    creds = em.test_credentials()
    url = sandbox.url("salesforce")
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    rejected = _token(url, grant_type=JWT_GRANT, assertion=_assertion(stranger, creds))
    assert rejected.status_code == 400
    assert rejected.json()["error"] == "invalid_grant"
    em.register_jwt_key(
        stranger.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    accepted = _token(url, grant_type=JWT_GRANT, assertion=_assertion(stranger, creds))
    assert accepted.status_code == 200
    wrong_audience = _token(url, grant_type=JWT_GRANT, assertion=_assertion(stranger, creds, aud="https://evil"))
    assert wrong_audience.status_code == 400


def test_errors_limits_header_and_quota(sandbox: Any) -> None:
    base, headers = _session(sandbox)
    em = sandbox.emulator("salesforce")
    bad = requests.get(f"{base}/services/data/v60.0/query", params={"q": "SELECT Nope FROM Account"}, headers=headers)
    assert bad.status_code == 400
    assert bad.json() == [
        {"message": "No such column 'Nope' on entity 'Account'.", "errorCode": "INVALID_FIELD", "fields": []}
    ]
    assert bad.headers["Sforce-Limit-Info"].startswith("api-usage=")
    unauthenticated = requests.get(f"{base}/services/data/v60.0/limits", timeout=30)
    assert unauthenticated.status_code == 401
    assert unauthenticated.json()[0]["errorCode"] == "INVALID_SESSION_ID"
    em.api_limit = em.api_used
    spent = requests.get(f"{base}/services/data/v60.0/limits", headers=headers, timeout=30)
    assert spent.status_code == 403
    assert spent.json()[0]["errorCode"] == "REQUEST_LIMIT_EXCEEDED"
    assert spent.headers["Sforce-Limit-Info"] == f"api-usage={em.api_used}/{em.api_limit}"


def test_query_paging_batch_size_and_stale_locator(sandbox: Any) -> None:
    base, headers = _session(sandbox)
    params = {"q": "SELECT Id FROM Contact"}
    first = requests.get(
        f"{base}/services/data/v60.0/query",
        params=params,
        headers={**headers, "Sforce-Query-Options": "batchSize=200"},
        timeout=30,
    ).json()
    assert len(first["records"]) == 100  # 100 contacts at scale 100: one page
    assert first["done"] is True
    stale = requests.get(f"{base}/services/data/v60.0/query/01gdeadbeef-200", headers=headers, timeout=30)
    assert stale.json()[0]["errorCode"] == "INVALID_QUERY_LOCATOR"


def test_deleted_rows_only_through_query_all(sandbox: Any) -> None:
    base, headers = _session(sandbox)
    em = sandbox.emulator("salesforce")
    em.delete("Case", 2)
    q = {"q": "SELECT Id, IsDeleted FROM Case WHERE IsDeleted = true"}
    live = requests.get(f"{base}/services/data/v60.0/query", params=q, headers=headers, timeout=30).json()
    everything = requests.get(f"{base}/services/data/v60.0/queryAll", params=q, headers=headers, timeout=30).json()
    assert live["records"] == []
    assert [r["Id"] for r in everything["records"]] == [em.objects["Case"].record_id(2)]


def test_describe_is_shaped_like_the_real_api(sandbox: Any) -> None:
    base, headers = _session(sandbox)
    batch = requests.post(
        f"{base}/services/data/v60.0/composite/batch",
        json={"batchRequests": [{"method": "GET", "url": "v60.0/sobjects/Account/describe"}]},
        headers=headers,
        timeout=30,
    ).json()
    describe = batch["results"][0]["result"]
    fields = {f["name"]: f for f in describe["fields"]}
    assert fields["AnnualRevenue"]["soapType"] == "xsd:double"
    assert (fields["AnnualRevenue"]["precision"], fields["AnnualRevenue"]["scale"]) == (18, 2)
    assert fields["BillingAddress"]["type"] == "address"
    assert fields["BillingCity"]["compoundFieldName"] == "BillingAddress"
    assert fields["HQ_Location__c"]["type"] == "location"
    assert fields["Days_Since_Review__c"]["calculated"] is True
    assert fields["ParentId"]["referenceTo"] == ["Account"]
    assert fields["Id"]["nillable"] is False


@pytest.mark.parametrize(
    ("text", "record", "expected"),
    [
        ("SELECT Id FROM A WHERE N >= 10 AND (S = 'x' OR B = true)", {"N": 12, "S": "y", "B": True}, True),
        ("SELECT Id FROM A WHERE N >= 10 AND (S = 'x' OR B = true)", {"N": 12, "S": "y", "B": False}, False),
        ("SELECT Id FROM A WHERE D > 2020-01-01T00:00:00Z", {"D": "2020-01-01T00:00:01.000+0000"}, True),
        ("SELECT Id FROM A WHERE S IN ('a', 'b') AND T != null", {"S": "b", "T": "t"}, True),
        ("SELECT Id FROM A WHERE S LIKE 'O\\'Br%'", {"S": "O'Brien"}, True),
        ("SELECT Id FROM A WHERE C < 2024-01-01", {"C": "2023-12-31"}, True),
    ],
)
def test_soql_subset(text: str, record: dict[str, Any], expected: bool) -> None:
    assert soql.matches(soql.parse(text).where, record) is expected


def test_soql_rejects_what_it_does_not_support() -> None:
    with pytest.raises(soql.SoqlError):
        soql.parse("SELECT Id FROM Account GROUP BY Name")
    with pytest.raises(soql.SoqlError):
        soql.parse("SELECT Id FROM Account WHERE")


def test_descending_limit_gives_the_newest_rows(sandbox: Any) -> None:
    """``ORDER BY SystemModstamp DESC, Id DESC LIMIT n`` (the ranged read's planning query): the last rows of the
    ascending order, reversed, touched rows included; without a LIMIT a descending order is refused."""
    base, headers = _session(sandbox)
    em = sandbox.emulator("salesforce")
    em.touch("Contact", 5)
    url = f"{base}/services/data/v60.0/queryAll"
    ascending = requests.get(
        url, params={"q": "SELECT Id, SystemModstamp FROM Contact ORDER BY SystemModstamp, Id"}, headers=headers,
        timeout=30,
    ).json()["records"]  # fmt: skip
    newest = requests.get(
        url,
        params={"q": "SELECT Id, SystemModstamp FROM Contact ORDER BY SystemModstamp DESC, Id DESC LIMIT 3"},
        headers=headers,
        timeout=30,
    ).json()
    assert newest["done"] is True
    assert [r["Id"] for r in newest["records"]] == [r["Id"] for r in reversed(ascending[-3:])]
    assert newest["records"][0]["Id"] == em.objects["Contact"].record_id(5)
    before = "SystemModstamp < 2019-01-01T01:30:00Z"
    below = requests.get(
        url,
        params={"q": f"SELECT Id FROM Contact WHERE {before} ORDER BY SystemModstamp DESC, Id DESC LIMIT 1"},
        headers=headers,
        timeout=30,
    ).json()["records"]
    assert below == [{"attributes": below[0]["attributes"], "Id": em.objects["Contact"].record_id(89)}]
    refused = requests.get(
        url, params={"q": "SELECT Id FROM Contact ORDER BY SystemModstamp DESC"}, headers=headers, timeout=30
    )
    assert refused.json()[0]["errorCode"] == "MALFORMED_QUERY"


def test_an_eleventh_open_cursor_releases_the_oldest_before_api_56(sf: Any) -> None:
    """Before API version 56.0 Salesforce keeps 10 query cursors open per user: opening one more releases the
    oldest, whose next page then answers INVALID_QUERY_LOCATOR; the others page on. 56.0 removed the limit."""
    with sf.start_sandbox({"Account": 400}) as sandbox:
        _eleven_cursors(sandbox, "55.0", released=True)
        _eleven_cursors(sandbox, "56.0", released=False)


def _eleven_cursors(sandbox: Any, version: str, *, released: bool) -> None:
    base, headers = _session(sandbox)
    paged = {**headers, "Sforce-Query-Options": "batchSize=200"}
    nexts = []
    for _ in range(11):
        body = requests.get(
            f"{base}/services/data/v{version}/query", params={"q": "SELECT Id FROM Account"}, headers=paged, timeout=30
        ).json()
        nexts.append(body["nextRecordsUrl"])
    oldest = requests.get(base + nexts[0], headers=paged, timeout=30)
    if released:
        assert oldest.status_code == 400
        assert oldest.json()[0]["errorCode"] == "INVALID_QUERY_LOCATOR"
    else:
        assert oldest.status_code == 200
    for url in nexts[1:]:
        assert requests.get(base + url, headers=paged, timeout=30).status_code == 200
