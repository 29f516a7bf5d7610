"""A tap behind a customer's egress proxy (IP allowlists): the whole sync goes through it, a wrong proxy password
stops the run with the settings named and the secret nowhere."""

from __future__ import annotations

import json
from pathlib import Path

from xlr8_kit.testing.proxy import TestProxy
from xlr8_kit.testing.singer_cli import parse_singer_messages, run_tap_cli, select_streams, write_json

from .conftest import SCALE, basic_config

PROXY_PASSWORD = "proxy-canary-pw-5512"


def test_sync_through_the_proxy_and_a_wrong_password(url: str, tmp_path: Path) -> None:
    port = url.rsplit(":", 1)[1]
    with TestProxy("egress", PROXY_PASSWORD) as proxy:
        config = {**basic_config(url), "proxy_url": proxy.url, "proxy_username": "egress",
                  "proxy_password": PROXY_PASSWORD}  # fmt: skip
        config_file = write_json(tmp_path / "config.json", config)
        discovered = run_tap_cli("tap-sap-successfactors", ["--config", config_file, "--discover"], tmp_path)
        assert discovered.returncode == 0, discovered.stderr[-2000:]
        catalog = write_json(tmp_path / "catalog.json", select_streams(json.loads(discovered.stdout), {"PerPersonal"}))
        synced = run_tap_cli("tap-sap-successfactors", ["--config", config_file, "--catalog", catalog], tmp_path)
        assert synced.returncode == 0, synced.stderr[-2000:]
        records = [m for m in parse_singer_messages(synced.stdout) if m["type"] == "RECORD"]
        assert len(records) == SCALE
        assert proxy.log.accepted  # every request went through the proxy
        assert {where for _, where in proxy.log.accepted} == {f"127.0.0.1:{port}"}

        wrong = write_json(tmp_path / "wrong.json", {**config, "proxy_password": "not-the-password-42"})
        refused = run_tap_cli("tap-sap-successfactors", ["--config", wrong, "--catalog", catalog], tmp_path)
        assert refused.returncode != 0
        assert "proxy_password" in refused.stderr
        for output in (discovered, synced, refused):
            assert PROXY_PASSWORD not in output.stdout + output.stderr
            assert "not-the-password-42" not in output.stdout + output.stderr


def test_a_proxy_url_of_another_form_is_refused_without_quoting_its_credentials(url: str, tmp_path: Path) -> None:
    """loose25: a ``proxy_url`` that is not http(s) was quoted whole in the error, so a SOCKS URL or a URL without
    its scheme carrying a password put it on stderr (the Redactor knows only ``proxy_password``)."""
    for n, proxy_url in enumerate(["socks5://egress:CANARY-pw-7d1f0b@proxy.example:1080",
                                   "egress:CANARY-pw-7d1f0b@proxy.example:3128"]):  # fmt: skip
        config_file = write_json(tmp_path / f"config{n}.json", {**basic_config(url), "proxy_url": proxy_url})
        refused = run_tap_cli("tap-sap-successfactors", ["--config", config_file, "--discover"], tmp_path)
        assert refused.returncode != 0
        assert "setting 'proxy_url' must be an http:// or https:// proxy URL" in refused.stderr
        assert "CANARY" not in refused.stdout + refused.stderr
