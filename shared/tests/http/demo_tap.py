"""A minimal tap on the kit's base classes, run in-process and through its real CLI by the HTTP tests.

Its authenticator does what the kit's authenticators must: token calls through the runtime session (audited as
``token``), tokens registered with the redactor the moment they arrive (RELIABILITY D2), and a
``force_refresh()`` hook the session uses on a 401.
"""

from __future__ import annotations

import typing as t

import requests
from singer_sdk import typing as th
from singer_sdk.pagination import JSONPathPaginator

from xlr8_kit.redaction import Redactor
from xlr8_kit.rest import KIT_SETTINGS, KitRESTStream, KitRuntime, KitTap


class DemoTokenAuth(requests.auth.AuthBase):
    def __init__(self, runtime: KitRuntime, *, token_url: str, client_id: str, client_secret: str) -> None:
        self.runtime = runtime
        self.token_url = token_url
        self.client_id = client_id
        self.client_secret = client_secret
        self.access_token: str | None = None

    def _fetch(self) -> None:
        prepared = requests.Request(
            "POST",
            self.token_url,
            auth=(self.client_id, self.client_secret),
            data={"grant_type": "client_credentials"},
        ).prepare()
        response = self.runtime.session.send(prepared, kind="token")
        response.raise_for_status()
        payload = response.json()
        Redactor.default().add(payload["access_token"])
        Redactor.default().add(payload.get("refresh_token"))
        self.access_token = payload["access_token"]

    def force_refresh(self) -> None:
        self._fetch()

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        if self.access_token is None:
            self._fetch()
        request.headers["Authorization"] = f"Bearer {self.access_token}"
        return request


class ItemsStream(KitRESTStream):
    name = "items"
    path = "/items"
    xlr8_entity = "employee"
    primary_keys: t.ClassVar[list[str]] = ["id"]
    records_jsonpath = "$.items[*]"
    schema = th.PropertiesList(
        th.Property("id", th.IntegerType),
        th.Property("name", th.StringType),
    ).to_dict()

    @property
    def url_base(self) -> str:
        return str(self.config["base_url"])

    def get_new_paginator(self) -> JSONPathPaginator:
        return JSONPathPaginator("$.next_page")

    def get_url_params(self, context: t.Any, next_page_token: t.Any) -> dict[str, t.Any]:
        params: dict[str, t.Any] = {"api_key": self.config.get("api_key")}
        if next_page_token:
            params["page"] = next_page_token
        return params


class DemoTap(KitTap):
    name = "tap-kitdemo"
    product_id = "universal"
    config_jsonschema = th.PropertiesList(
        th.Property("base_url", th.StringType, required=True),
        th.Property("client_id", th.StringType),
        th.Property("client_secret", th.StringType, secret=True),
        th.Property("username", th.StringType),
        th.Property("password", th.StringType, secret=True),
        th.Property("api_key", th.StringType, secret=True),
        *KIT_SETTINGS.wrapped.values(),
    ).to_dict()

    def build_authenticator(self, runtime: KitRuntime) -> requests.auth.AuthBase | None:
        config = self.resolved_config
        return DemoTokenAuth(
            runtime,
            token_url=str(config["base_url"]) + "/oauth/token",
            client_id=str(config.get("client_id")),
            client_secret=str(config.get("client_secret")),
        )

    def discover_streams(self) -> list[ItemsStream]:
        return [ItemsStream(self)]


if __name__ == "__main__":
    DemoTap.cli()
