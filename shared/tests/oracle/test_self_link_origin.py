"""A cut child's ``self`` link is followed only on the tenant's own origin (review23b #1), compared as scheme, host
and effective port: real pods' links name ``:443`` where ``base_url`` does not (review23i #1: the text comparison
refused every such link, so every cut child stopped the run)."""

from urllib.parse import urlsplit

import pytest

from xlr8_kit.oracle.stream import _origin

BASE = "https://acme-fa-ext.oraclecloud.com/hcmRestApi/resources/11.13.18.05"


@pytest.mark.parametrize(
    "link",
    [
        "https://acme-fa-ext.oraclecloud.com:443/hcmRestApi/resources/11.13.18.05/workers/00020000000EACED",
        "https://ACME-FA-EXT.oraclecloud.com/hcmRestApi/resources/11.13.18.05/workers/00020000000EACED",
        "HTTPS://acme-fa-ext.oraclecloud.com:443/hcmRestApi/resources/11.13.18.05/workers/00020000000EACED",
    ],
)
def test_a_link_naming_the_default_port_or_another_case_is_the_tenant(link: str) -> None:
    assert _origin(urlsplit(link)) == _origin(urlsplit(BASE))


@pytest.mark.parametrize(
    "link",
    [
        "https://acme-fa-ext.oraclecloud.com:8443/hcmRestApi/resources/11.13.18.05/workers/x",
        "http://acme-fa-ext.oraclecloud.com/hcmRestApi/resources/11.13.18.05/workers/x",
        "https://elsewhere.example/hcmRestApi/resources/11.13.18.05/workers/x",
        "https://acme-fa-ext.oraclecloud.com:99999/hcmRestApi/resources/11.13.18.05/workers/x",
        "https://acme-fa-ext.oraclecloud.com.elsewhere.example/hcmRestApi/workers/x",
    ],
)
def test_another_port_scheme_or_host_is_not(link: str) -> None:
    assert _origin(urlsplit(link)) != _origin(urlsplit(BASE))
