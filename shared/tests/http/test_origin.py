"""``xlr8_kit.http.origin``: credentials follow a link only to the tenant's own origin, compared as scheme, host and
effective port. Real links name ``:443`` where the configured URL does not: Oracle's ``self`` links (review23i #1)
and SAP's ``__next`` (KBA 2489065, audit24a M1); the text comparison refused every one, so every multi-page read
stopped after its first page."""

from urllib.parse import urlparse, urlsplit

import pytest

from xlr8_kit.http.origin import origin, same_origin
from xlr8_kit.odata.paging import same_origin as odata_same_origin

BASE = "https://acme-fa-ext.oraclecloud.com/hcmRestApi/resources/11.13.18.05"
SAP = "https://apisalesdemo4.successfactors.com"


@pytest.mark.parametrize(
    "link",
    [
        "https://acme-fa-ext.oraclecloud.com:443/hcmRestApi/resources/11.13.18.05/workers/00020000000EACED",
        "https://ACME-FA-EXT.oraclecloud.com/hcmRestApi/resources/11.13.18.05/workers/00020000000EACED",
        "HTTPS://acme-fa-ext.oraclecloud.com:443/hcmRestApi/resources/11.13.18.05/workers/00020000000EACED",
        "https://acme-fa-ext.oraclecloud.com./hcmRestApi/resources/11.13.18.05/workers/00020000000EACED",
    ],
)
def test_a_link_naming_the_default_port_another_case_or_a_trailing_dot_is_the_tenant(link: str) -> None:
    assert origin(urlsplit(link)) == origin(urlsplit(BASE))
    assert same_origin(link, BASE)


@pytest.mark.parametrize(
    "link",
    [
        "https://acme-fa-ext.oraclecloud.com:8443/hcmRestApi/resources/11.13.18.05/workers/x",
        "http://acme-fa-ext.oraclecloud.com/hcmRestApi/resources/11.13.18.05/workers/x",
        "https://elsewhere.example/hcmRestApi/resources/11.13.18.05/workers/x",
        "https://acme-fa-ext.oraclecloud.com:99999/hcmRestApi/resources/11.13.18.05/workers/x",
        "https://acme-fa-ext.oraclecloud.com.elsewhere.example/hcmRestApi/workers/x",
        "https://acme-fa-ext.oraclecloud.com@elsewhere.example/hcmRestApi/workers/x",
        # review24a #1: read as the tenant by urlsplit, connected to elsewhere.example by requests/urllib3
        "https://elsewhere.example\\@acme-fa-ext.oraclecloud.com/hcmRestApi/workers/x",
        "https://elsewhere.example:1\\@acme-fa-ext.oraclecloud.com/hcmRestApi/workers/x",
        "https://user@acme-fa-ext.oraclecloud.com/hcmRestApi/workers/x",
        "https://acme-fa-ext.oraclecloud.com%2F@elsewhere.example/hcmRestApi/workers/x",
    ],
)
def test_another_port_scheme_or_host_is_not(link: str) -> None:
    assert origin(urlsplit(link)) != origin(urlsplit(BASE))
    assert not same_origin(link, BASE)


@pytest.mark.parametrize(
    ("link", "same"),
    [
        (f"{SAP}:443/odata/v2/User?$format=json&$skiptoken=eyJ", True),  # KBA 2489065's own form
        ("https://APISalesDemo4.SuccessFactors.com/odata/v2/User?$skiptoken=eyJ", True),
        ("https://apisalesdemo4.successfactors.com.:443/odata/v2/User?$skiptoken=eyJ", True),
        ("http://apisalesdemo4.successfactors.com:443/odata/v2/User?$skiptoken=eyJ", False),
        ("https://apisalesdemo4.successfactors.com:80/odata/v2/User?$skiptoken=eyJ", False),
        ("https://api4.successfactors.com/odata/v2/User?$skiptoken=eyJ", False),
    ],
)
def test_odata_next_links_compare_origins(link: str, same: bool) -> None:
    assert odata_same_origin(urlparse(link), SAP) is same


def test_a_configured_url_naming_the_port_matches_links_without_it() -> None:
    assert odata_same_origin(urlparse(f"{SAP}/odata/v2/User?$skiptoken=eyJ"), f"{SAP}:443")
