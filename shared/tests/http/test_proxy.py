"""Static egress: requests through an authenticating proxy, TLS verified end to end, wrong credentials named."""

from __future__ import annotations

from pathlib import Path

import pytest

from xlr8_kit.http.proxy import ProxyAuthenticationError, proxy_map
from xlr8_kit.http.session import HttpPolicy, ResilientSession
from xlr8_kit.testing.faultserver import FaultServer, Reply, make_certificate, server_tls_context
from xlr8_kit.testing.proxy import TestProxy

PROXY_PASSWORD = "proxy-canary-pw-7731"


def _session(proxy_url: str, password: str, *, ca_bundle: str | None = None) -> ResilientSession:
    session = ResilientSession(HttpPolicy(max_attempts=1, ca_bundle=ca_bundle), product="test")
    session.proxies.update(proxy_map({"proxy_url": proxy_url, "proxy_username": "egress", "proxy_password": password}))
    return session


def test_https_goes_through_connect_and_tls_is_still_verified(tmp_path: Path) -> None:
    cert, key = make_certificate(tmp_path)
    with FaultServer(tls=server_tls_context(cert, key)) as origin, TestProxy("egress", PROXY_PASSWORD) as proxy:
        origin.script("/api/ping", Reply(200, {"ok": True}))
        verified = _session(proxy.url, PROXY_PASSWORD, ca_bundle=str(cert))
        response = verified.get(f"{origin.url}/api/ping")
        assert response.json() == {"ok": True}
        assert proxy.log.accepted == [("CONNECT", f"127.0.0.1:{origin.port}")]  # a tunnel: the proxy saw no path
        # Without the CA the vendor's certificate is still checked through the tunnel: refused, not retried.
        with pytest.raises(Exception, match="certificate") as refused:
            _session(proxy.url, PROXY_PASSWORD).get(f"{origin.url}/api/ping")
        assert type(refused.value).__name__ == "TLSVerificationError"


@pytest.mark.parametrize("scheme", ["https", "http"])
def test_wrong_proxy_password_names_the_settings_never_the_secret(scheme: str, tmp_path: Path) -> None:
    cert, key = make_certificate(tmp_path)
    tls = server_tls_context(cert, key) if scheme == "https" else None
    with FaultServer(tls=tls) as origin, TestProxy("egress", "the-right-one-1234") as proxy:
        origin.script("/api/ping", Reply(200, {"ok": True}))
        session = _session(proxy.url, PROXY_PASSWORD, ca_bundle=str(cert))
        with pytest.raises(ProxyAuthenticationError) as refused:
            session.get(f"{origin.url}/api/ping")
        message = str(refused.value)
        assert "'proxy_username'" in message
        assert "'proxy_password'" in message
        assert PROXY_PASSWORD not in message
        assert proxy.log.refused == 1  # not retried: a wrong password does not get better
        assert origin.count() == 0


@pytest.mark.parametrize(
    ("config", "setting"),
    [
        ({"proxy_url": "ftp://proxy:21"}, "proxy_url"),
        ({"proxy_url": "http://u:p@proxy:3128"}, "proxy_url"),
        ({"proxy_url": "http://proxy:3128", "proxy_username": "u"}, "proxy_password"),
        ({"proxy_url": "http://proxy:3128", "proxy_password": "secret-pw-1234"}, "proxy_username"),
    ],
)
def test_bad_proxy_settings_are_named(config: dict[str, str], setting: str) -> None:
    with pytest.raises(ValueError, match=f"'{setting}'"):
        proxy_map(config)
