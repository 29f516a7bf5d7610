"""``answered_in_process``: an emulator's answers without the socket (the standard tests' collection)."""

from __future__ import annotations

from collections.abc import Iterator
from unittest import mock

import pytest
import requests
from requests.adapters import HTTPAdapter

from xlr8_kit.testing.in_process import answered_in_process
from xlr8_sandbox.platform.server import Sandbox, run_sandbox


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    with run_sandbox(["successfactors"], scale=5) as running:
        yield running


def _refused(adapter: HTTPAdapter, request: requests.PreparedRequest, *args: object, **kwargs: object) -> None:
    raise requests.ConnectionError(f"network refused: {request.url}")


def test_the_app_answers_as_over_http_with_the_network_refused(sandbox: Sandbox) -> None:
    """The same status, headers and body as over HTTP (a product route that refuses no auth, the admin API), with
    every request that reaches the network refused; a POST's body reaches the same emulator state."""
    url = sandbox.url("successfactors")
    paths = ["/odata/v2/$metadata", "/__sandbox/clock", "/odata/v2/User?$top=1"]
    over_http = [requests.get(url + path, timeout=10) for path in paths]
    with mock.patch.object(HTTPAdapter, "send", _refused), answered_in_process(sandbox.apps()):
        in_process = [requests.get(url + path, timeout=10) for path in paths]
        advanced = requests.post(url + "/__sandbox/clock/advance", json={"days": 2}, timeout=10)
    for http, local in zip(over_http, in_process, strict=True):
        assert (local.status_code, local.content) == (http.status_code, http.content)
        assert local.headers["content-type"] == http.headers["content-type"]
        assert local.url == http.url
    assert over_http[0].status_code == 401  # the route's own answer, auth included
    assert advanced.status_code == 200
    assert sandbox.ctx.clock.now().isoformat() == advanced.json()["now"]  # the served emulator's own clock


def test_other_urls_and_the_time_after_go_out_as_usual(sandbox: Sandbox) -> None:
    """Only the given base URLs are answered in process (another port goes to the network, refused here), and the
    patch ends with the block: the next request is over HTTP and in the emulator's request log."""
    url = sandbox.url("successfactors")
    with (
        mock.patch.object(HTTPAdapter, "send", _refused),
        answered_in_process({"http://127.0.0.1:1": sandbox.apps()[url]}),
        pytest.raises(requests.ConnectionError, match="network refused"),
    ):
        requests.get(url + "/__sandbox/clock", timeout=10)
    before = len(sandbox.requests("successfactors"))
    assert requests.get(url + "/odata/v2/$metadata", timeout=10).status_code == 401
    assert len(sandbox.requests("successfactors")) == before + 1
