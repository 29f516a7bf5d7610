"""audit25d F9: the environment's proxy and CA bundle (HTTPS_PROXY / HTTP_PROXY / NO_PROXY, REQUESTS_CA_BUNDLE) apply
to requests sent as prepared requests (``session.send``: every stream's page) as they did to ``session.request``
(token calls): the token went through the customer's proxy and the data direct. ``proxy_url`` still wins."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests

from xlr8_kit.http.session import HttpPolicy, ResilientSession
from xlr8_kit.testing.faultserver import FaultServer, Reply, make_certificate, server_tls_context
from xlr8_kit.testing.proxy import TestProxy

OK = Reply(200, body={"ok": True})


def _both_paths(session: ResilientSession, url: str) -> None:
    assert session.request("POST", url + "/token", kind="token").json() == {"ok": True}
    assert session.send(session.prepare_request(requests.Request("GET", url + "/data"))).json() == {"ok": True}


def test_the_environment_proxy_carries_token_and_data_calls(monkeypatch: pytest.MonkeyPatch) -> None:
    with FaultServer() as origin, TestProxy("egress", "proxy-pass-81") as proxy:
        origin.script("*", OK, repeat_last=True)
        monkeypatch.setenv("HTTP_PROXY", proxy.url.replace("http://", "http://egress:proxy-pass-81@"))
        monkeypatch.setenv("NO_PROXY", "")
        monkeypatch.delenv("no_proxy", raising=False)
        monkeypatch.delenv("http_proxy", raising=False)
        with ResilientSession(HttpPolicy(), product="demo") as session:
            _both_paths(session, origin.url)
        assert len(proxy.log.accepted) == 2  # the token and the data call
        assert origin.count() == 2


def test_no_proxy_and_proxy_url_are_honoured_on_both_paths(monkeypatch: pytest.MonkeyPatch) -> None:
    with (
        FaultServer() as origin,
        TestProxy("egress", "proxy-pass-81") as env_proxy,
        TestProxy("own", "own-pass-92") as own,
    ):
        origin.script("*", OK, repeat_last=True)
        monkeypatch.setenv("HTTP_PROXY", env_proxy.url.replace("http://", "http://egress:proxy-pass-81@"))
        monkeypatch.delenv("http_proxy", raising=False)
        monkeypatch.setenv("NO_PROXY", "127.0.0.1")
        monkeypatch.delenv("no_proxy", raising=False)
        with ResilientSession(HttpPolicy(), product="demo") as session:
            _both_paths(session, origin.url)  # NO_PROXY: direct
        assert env_proxy.log.accepted == []
        monkeypatch.setenv("NO_PROXY", "")
        with ResilientSession(HttpPolicy(), product="demo") as session:
            session.proxies.update({"http": own.url.replace("http://", "http://own:own-pass-92@")})
            _both_paths(session, origin.url)  # the proxy_url setting wins over the environment's
        assert len(own.log.accepted) == 2
        assert env_proxy.log.accepted == []


def test_the_environment_ca_bundle_is_trusted_by_data_calls(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    cert, key = make_certificate(tmp_path)
    with FaultServer(tls=server_tls_context(cert, key)) as origin:
        origin.script("*", OK, repeat_last=True)
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(cert))
        url = origin.url.replace("http://", "https://")
        with ResilientSession(HttpPolicy(), product="demo") as session:
            _both_paths(session, url)
        assert origin.count() == 2
