"""One Fusion REST client per tap instance (shared by its streams, discovery and the connector): describe
documents fetched once, collections paged to the end, and the bounded polling the bulk paths (HCM Extracts, ESS
jobs) need. Every call goes through the kit's ``ResilientSession`` with the tap's authenticator."""

from __future__ import annotations

import time
import typing as t
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from urllib.parse import urlparse

import requests

from xlr8_kit.http.classify import DEFAULT_CLASSIFIER, NOT_JSON, Verdict, json_or_not
from xlr8_kit.http.errors import AuthenticationError, ClientRequestError, KitHTTPError, ServerUnavailableError
from xlr8_kit.oracle.describe import Resource, parse_describe
from xlr8_kit.oracle.protocol import MAX_LIMIT, UNPARSABLE, CollectionError, FusionClassifier, body, collection_page

if t.TYPE_CHECKING:
    from xlr8_kit.http.session import ResilientSession
    from xlr8_kit.redaction import Redactor

MAX_MESSAGE = 400
CLASSIFIER = FusionClassifier()


class BulkJobError(KitHTTPError):
    """A bulk job (extract, ESS request) that ended in error, was cancelled, or did not finish in time."""


def classify_unread(response: requests.Response) -> Verdict:
    """A streamed download: a 2xx is judged by its headers only (an HTML sign-in page is an error), so the body
    stays unread until the caller iterates it; anything else is classified as usual (error bodies are small)."""
    if response.status_code < 300:
        return "fatal" if "html" in (response.headers.get("Content-Type") or "") else "ok"
    return DEFAULT_CLASSIFIER.classify(response)


def error_detail(response: requests.Response) -> str:
    """Fusion's error text: ``o:errorDetails[].detail`` / ``detail`` / ``title`` of a JSON body, else plain text."""
    body = json_or_not(response)
    if body is NOT_JSON:
        return " ".join(response.text.split())[:MAX_MESSAGE]
    if isinstance(body, Mapping):
        details = [d.get("detail") for d in body.get("o:errorDetails") or [] if isinstance(d, Mapping)]
        text = "; ".join(str(d) for d in details if d) or body.get("detail") or body.get("title") or ""
        return str(text)[:MAX_MESSAGE]
    return str(body)[:MAX_MESSAGE]


def raise_for_status(response: requests.Response, redactor: Redactor, product: str) -> None:
    """A final non-2xx answer as the kit's error, with Fusion's detail (naming the bad attribute), redacted."""
    status = response.status_code
    if status < 400:
        return
    path = urlparse(response.url).path
    detail = error_detail(response)
    message = redactor.redact(f"{product}: HTTP {status} for path {path}" + (f": {detail}" if detail else ""))
    if status in (401, 403):
        raise AuthenticationError(message + " (check the credentials and the user's roles)", status=status, path=path)
    if status == 429 or status >= 500:
        raise ServerUnavailableError(message, status=status, path=path)
    raise ClientRequestError(message, status=status, path=path)


@dataclass
class FusionClient:
    session: ResilientSession
    authenticator: requests.auth.AuthBase | None
    base_url: str
    api: str  # "hcmRestApi" or "fscmRestApi"
    api_version: str
    framework_version: str
    redactor: Redactor
    product: str
    _described: dict[str, Resource] = field(default_factory=dict)

    @property
    def resources_url(self) -> str:
        return f"{self.base_url}/{self.api}/resources/{self.api_version}"

    @property
    def headers(self) -> dict[str, str]:
        return {"REST-Framework-Version": self.framework_version, "Accept": "application/json"}

    def request(self, method: str, url: str, *, json_body: bool = True, **kwargs: t.Any) -> requests.Response:
        """One call; ``json_body=False`` for documents that are not Fusion JSON (content server downloads), and
        with ``stream=True`` a 2xx body is never read here (judged by its content type), so it can be streamed."""
        headers = {**self.headers, **kwargs.pop("headers", {})}
        if kwargs.get("stream"):
            classify = classify_unread
        else:
            classify = CLASSIFIER.classify if json_body else DEFAULT_CLASSIFIER.classify
        response = self.session.request(
            method, url, headers=headers, classify=classify, authenticate=self.authenticator, **kwargs
        )
        raise_for_status(response, self.redactor, self.product)
        return response

    def get_json(self, path_or_url: str, params: Mapping[str, t.Any] | None = None) -> t.Any:
        url = path_or_url if "://" in path_or_url else f"{self.resources_url}/{path_or_url.lstrip('/')}"
        return self.request_json("GET", url, params=dict(params or {}))

    def request_json(self, method: str, url: str, **kwargs: t.Any) -> t.Any:
        """``request``'s JSON answer: the parse the classifier kept (``protocol.body``), not a second parse of the
        body; a 2xx that is not JSON is a ``ClientRequestError`` naming the path."""
        response = self.request(method, url, **kwargs)
        payload = body(response)
        if payload is not UNPARSABLE:
            return payload
        payload = json_or_not(response)  # a body the kit's parse refuses, read (or refused) as before
        if payload is NOT_JSON:
            path = urlparse(url).path
            raise ClientRequestError(f"{self.product}: {path} did not answer JSON", path=path)
        return payload

    def describe(self, resource: str) -> Resource:
        """``GET <resource>/describe``, once per resource and client."""
        if resource not in self._described:
            self._described[resource] = parse_describe(self.get_json(f"{resource}/describe"), resource)
        return self._described[resource]

    def iter_items(self, resource: str, params: Mapping[str, t.Any], *, page_size: int = MAX_LIMIT) -> Iterator[dict]:
        """Every item of a collection query, page by page (offset moves by the rows received)."""
        offset = 0
        while True:
            payload = self.get_json(resource, {**params, "onlyData": "true", "limit": page_size, "offset": offset})
            try:
                items, has_more = collection_page(payload)
            except CollectionError as exc:
                raise ClientRequestError(f"{self.product} {resource}: {exc}", path=resource) from None
            yield from items
            if not has_more or not items:
                return
            offset += len(items)


def wait_for_job(
    fetch: Callable[[], Mapping[str, t.Any]],
    *,
    status_key: str,
    message_key: str,
    done: set[str],
    failed: set[str],
    interval: float,
    timeout: float,
    what: str,
    sleep: Callable[[float], None] = time.sleep,
) -> Mapping[str, t.Any]:
    """Poll a job's status row (``fetch``) until done; a failure carries the vendor's message (``message_key``)."""
    last: dict[str, t.Any] = {}

    def status() -> str:
        last.update(fetch())
        return str(last.get(status_key) or "")

    try:
        poll_until(status, done=done, failed=failed, interval=interval, timeout=timeout, what=what, sleep=sleep)
    except BulkJobError as exc:
        message = last.get(message_key)
        raise BulkJobError(f"{exc}" + (f": {message}" if message else "")) from None
    return last


def poll_until(
    check: Callable[[], str],
    *,
    done: set[str],
    failed: set[str],
    interval: float,
    timeout: float,
    what: str,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> str:
    """Poll ``check()`` (returns a status) until it is in ``done``; a status in ``failed`` or running past
    ``timeout`` raises ``BulkJobError`` naming the job and its last status."""
    deadline = clock() + timeout
    while True:
        status = check()
        if status in done:
            return status
        if status in failed:
            raise BulkJobError(f"{what} ended with status {status}")
        if clock() + interval > deadline:
            raise BulkJobError(f"{what} still {status} after {timeout:g} s (extract_timeout); not waiting longer")
        sleep(interval)
