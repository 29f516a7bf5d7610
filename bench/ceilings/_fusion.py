"""What the two Oracle ceilings share: the tap config against an emulator and Fusion collection pages of 500
until ``hasMore`` is false (plain requests)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import requests


def tap_config(url: str, credentials: dict[str, str], stream: str) -> dict[str, Any]:
    return {
        "base_url": url,
        "username": credentials["username"],
        "password": credentials["password"],
        "resources": [stream],
        "page_size": 500,
    }


def pages(url: str, credentials: dict[str, str], params: dict[str, Any]) -> Iterator[list[dict[str, Any]]]:
    session = requests.Session()
    session.auth = (credentials["username"], credentials["password"])
    session.headers["REST-Framework-Version"] = "4"
    offset = 0
    while True:
        page = session.get(url, params={**params, "onlyData": "true", "limit": 500, "offset": offset}, timeout=600)
        body = page.json()
        yield body["items"]
        if not body["hasMore"]:
            return
        offset += len(body["items"])
