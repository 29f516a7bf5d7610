"""The Fusion REST framework both Oracle emulators serve: resources declared once (attributes, keys, children,
finders, row generators) and the protocol around them.

``GET /<api>/resources/<version>/<resource>/describe``; ``GET .../<resource>`` with ``limit`` (default 25, larger
than 500 lowered to 500), ``offset``, ``hasMore``, ``totalResults=true``, ``onlyData=true`` (no ``links``),
``fields=A,B;child:C``, ``expand=child,child.grandchild|all`` (ignored beside ``fields``, whose named children are
expanded: "If both are provided, only fields will be considered", Oracle), ``orderBy=A:asc,B:desc``, ``q``
(simple syntax under ``REST-Framework-Version: 1``, rowmatch expressions from 2), ``finder=Name;Attr=value`` and
``effectiveDate=YYYY-MM-DD`` (effective-dated rows valid that day; default the sandbox's today); ``GET
.../<resource>/<id>`` for one item. Expanded children are arrays under framework 1 and 2 and, from 3, collection
objects of at most 25 rows (``{"items": [...], "count", "hasMore", "limit": 25, "offset": 0}``, Oracle's "Set the
REST Framework Version"); ``GET .../<resource>/<id>/child/<child>[/<id>/child/<grandchild>]`` pages one parent's
child collection (``limit`` default 25, ``offset``, ``fields``, ``expand``). Errors are 400 naming the bad
attribute: plain text under framework 1, an
``application/vnd.oracle.adf.error+json`` document from 2. Auth: HTTP Basic (integration user) or a bearer token
from ``/oauth2/v1/token`` (client credentials with client Basic auth, or a JWT user assertion).
"""

from __future__ import annotations

import base64
import binascii
import bisect
import csv
import functools
import io
import json
import os
import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any, Generic, TypeVar
from urllib.parse import parse_qsl

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from xlr8_sandbox.platform import wirejson
from xlr8_sandbox.platform.emulator import FaultResponse, ProductEmulator, SandboxContext
from xlr8_sandbox.platform.rowcache import RowCache
from xlr8_sandbox.products.oracle_fusion.query import AttrInfo, QueryError, parse_q, typed

API_VERSIONS = ("11.13.18.05", "latest")
DEFAULT_LIMIT = 25
MAX_LIMIT = 500
END_OF_TIME = date(4712, 12, 31)
COLLECTION_TYPE = "application/vnd.oracle.adf.resourcecollection+json"
ITEM_TYPE = "application/vnd.oracle.adf.resourceitem+json"
ERROR_TYPE = "application/vnd.oracle.adf.error+json"
JWT_AUDIENCE = "https://identity.oraclecloud.com/"
TOKEN_TTL = 3600.0

Row = dict[str, Any]


@dataclass(frozen=True)
class Attr:
    name: str
    type: str = "string"
    queryable: bool = True
    updatable: bool = False


def no_rows(_parent: Row) -> list[Row]:
    return []


#: How the emulator's ``UniqID`` hashes start (the shape of Fusion's: hex of a serialized key, opaque to clients).
_HASH_HEAD = "00020000000EACED0005"


def uniq_id(key: str) -> str:
    """The emulator's ``<resource>UniqID`` of an item with key value ``key`` (reversible here, opaque to a client)."""
    return _HASH_HEAD + key.encode().hex().upper()


def _unhash(item_id: str) -> str | None:
    if not item_id.startswith(_HASH_HEAD):
        return None
    try:
        return bytes.fromhex(item_id[len(_HASH_HEAD) :]).decode()
    except ValueError:
        return None


@dataclass
class ChildDef:
    """A child resource: its rows come from the parent's source row (keys starting ``__`` are never sent)."""

    name: str
    attrs: list[Attr]
    keys: tuple[str, ...]
    rows: Callable[[Row], list[Row]] = no_rows
    children: dict[str, ChildDef] = field(default_factory=dict)

    @property
    def effective_dated(self) -> bool:
        return any(a.name == "EffectiveStartDate" for a in self.attrs)


@dataclass
class ResourceDef(ChildDef):
    """A top-level resource: ``count()`` rows, row ``i`` from ``row(i)``, in key order."""

    count: Callable[[], int] = lambda: 0
    row: Callable[[int], Row] = lambda i: {}
    #: Named row finders: finder name -> its bind attributes (equality on each).
    finders: dict[str, tuple[str, ...]] = field(default_factory=dict)
    #: Oracle documents this resource's item id as a ``<resource>UniqID`` hash ("the client should not generate the
    #: hash key value"): items are addressed only by the hash their ``self`` link carries; a plain key is a 404.
    hashed_id: bool = False
    #: Attributes added at run time (a flexfield configured on the tenant): name -> value of a source row.
    extra: dict[str, tuple[Attr, Callable[[Row], Any]]] = field(default_factory=dict)
    #: A cheap partial row for sort passes: ``sort_row(i)`` holds the attributes ``sort_attrs`` with the values
    #: ``row(i)`` has, and nothing else. An ``orderBy`` read sorts (and matches a ``q`` reading only those) on
    #: them instead of building every whole row; only while ``row`` is the function it was declared with.
    sort_row: Callable[[int], Row] | None = None
    sort_attrs: tuple[str, ...] = ()
    _sort_row_of: Callable[[int], Row] | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        self._sort_row_of = self.row

    def narrow_rows(self) -> Callable[[int], Row] | None:
        """``sort_row``, unless rows were changed since (``insert_row`` and the like replace ``row``)."""
        return self.sort_row if self.sort_row is not None and self.row is self._sort_row_of else None

    def all_attrs(self) -> list[Attr]:
        return [*self.attrs, *(a for a, _ in self.extra.values())]

    def source_row(self, i: int) -> Row:
        row = self.row(i)
        for name, (_attr, value) in self.extra.items():
            row[name] = value(row)
        return row


@dataclass(kw_only=True)
class PolledJob:
    """A bulk job (HCM extract flow, ESS request) that answers RUNNING for ``polls_left`` status reads, then
    succeeds, or fails with ``fail`` as its message."""

    polls_left: int
    fail: str | None
    status: str = "RUNNING"

    def observe(self, success: str, error: str = "ERROR") -> str:
        """One status read (the caller holds the emulator's lock)."""
        if self.status == "RUNNING":
            if self.polls_left > 0:
                self.polls_left -= 1
            else:
                self.status = error if self.fail else success
        return self.status


JobT = TypeVar("JobT", bound=PolledJob)


class FusionRequestError(Exception):
    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def json_default(value: Any) -> Any:
    """Decimals as JSON numbers (Fusion sends amounts as numbers), anything else as text."""
    if isinstance(value, Decimal):
        return float(value)
    return str(value)


def items_response(items: list[Row]) -> JSONResponse:
    """One page holding every item (flow and ESS job status reads): no paging, no links."""
    return JSONResponse({"items": items, "count": len(items), "hasMore": False, "limit": 25, "offset": 0})


def csv_chunks(columns: Sequence[str], rows: Iterable[Sequence[Any]], chunk_chars: int = 64_000) -> Iterator[str]:
    """A bulk job's CSV output (header line, ``\\n`` line ends) in pieces of a little over ``chunk_chars``."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow(row)
        if buffer.tell() > chunk_chars:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def _describe_node(node: ChildDef, base: str) -> dict[str, Any]:
    attrs = node.all_attrs() if isinstance(node, ResourceDef) else node.attrs
    finders = [{"name": "PrimaryKey", "attributes": [{"name": k} for k in node.keys], "title": "PrimaryKey"}]
    if isinstance(node, ResourceDef):
        finders += [
            {"name": name, "attributes": [{"name": a, "type": "string"} for a in binds], "title": name}
            for name, binds in node.finders.items()
        ]
    return {
        "discrColumnType": False,
        "title": node.name,
        "attributes": [
            {
                "name": a.name,
                "type": a.type,
                "updatable": a.updatable,
                "mandatory": a.name in node.keys,
                "queryable": a.queryable,
                "allowChanges": "always" if a.updatable else "never",
                "precision": None,
                "title": a.name,
                "properties": {},
            }
            for a in attrs
        ],
        "collection": {"rangeSize": DEFAULT_LIMIT, "finders": finders, "actions": [{"name": "get", "method": "GET"}]},
        "item": {"links": [{"rel": "self", "href": f"{base}/{{id}}", "name": "self", "kind": "item"}]},
        "children": {
            name: _describe_node(child, f"{base}/{{id}}/child/{name}") for name, child in node.children.items()
        },
    }


@functools.lru_cache(maxsize=64)
def parse_fields(text: str | None) -> dict[str, list[str]]:
    """``A,B;child:C,D`` -> {"": [A, B], "child": [C, D]}."""
    if not text:
        return {}
    spec: dict[str, list[str]] = {}
    for i, part in enumerate(text.split(";")):
        path, _, names = part.rpartition(":") if ":" in part else ("", "", part)
        if i == 0 and ":" in part:
            spec[""] = []
        spec[path] = [n.strip() for n in names.split(",") if n.strip()]
    return spec


class FusionEmulator(ProductEmulator, Generic[JobT]):
    """Shared by the HCM and ERP emulators; a subclass sets ``api``, credentials and ``build_resources()``, and
    keeps its bulk jobs (``JobT``: HCM extract flows, ERP ESS requests) in ``jobs``."""

    api = ""
    username = ""
    password = ""
    client_id = ""
    client_secret = ""

    def __init__(self, ctx: SandboxContext) -> None:
        super().__init__(ctx)
        self.company = ctx.company
        self._lock = threading.Lock()
        self.resources: dict[str, ResourceDef] = self.build_resources()
        #: Bumped when resource definitions change (attributes added, reset): part of the row cache's data version.
        self._changes = 0
        #: Collection pages rendered once per (request URL, data version) (``XLR8_SANDBOX_CACHE=0`` disables).
        self.row_cache = RowCache()
        self._index_cache: OrderedDict[tuple[Any, ...], tuple[list[tuple[Any, ...]], list[int]]] = OrderedDict()
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.jwt_private_key_pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode()
        self._jwt_public_key = key.public_key()
        self.throttle_remaining = 0
        self.throttle_retry_after = 1
        #: Query strings of collection requests, in order (tests read what the client asked).
        self.collection_queries: list[dict[str, str]] = []
        #: Called with the number of collection requests so far before one is served (changes while paging).
        self.before_collection: Callable[[int], None] | None = None
        #: Bulk jobs by the id clients poll them with.
        self.jobs: dict[Any, JobT] = {}
        self.jobs_lock = threading.Lock()
        #: Scenario switches for the next job submitted: its number of RUNNING status reads, the error it ends with.
        self.job_running_polls = 1
        self.fail_next_job: str | None = None

    def build_resources(self) -> dict[str, ResourceDef]:
        raise NotImplementedError

    def extra_routes(self) -> list[BaseRoute]:
        return []

    # --- platform hooks ---------------------------------------------------------------------------------------

    def routes(self) -> list[BaseRoute]:
        base = f"/{self.api}/resources/{{version}}"
        return [
            Route("/oauth2/v1/token", self._token, methods=["POST"]),
            *self.extra_routes(),
            Route(f"{base}/{{resource}}/describe", self._describe, methods=["GET"]),
            Route(f"{base}/{{resource}}", self._collection, methods=["GET"]),
            Route(f"{base}/{{resource}}/{{item_id}}", self._item, methods=["GET"]),
            Route(f"{base}/{{resource}}/{{item_id}}/child/{{rest:path}}", self._child_collection, methods=["GET"]),
        ]

    def test_credentials(self) -> dict[str, str]:
        return {
            "username": self.username,
            "password": self.password,
            "client_id": self.client_id,
            "client_secret": self.client_secret,
            "private_key": self.jwt_private_key_pem,
        }

    def quota_error_response(self) -> FaultResponse:
        return FaultResponse(
            429,
            json.dumps({"title": "Too Many Requests", "status": "429", "detail": "Request rate limit exceeded."}),
            content_type=ERROR_TYPE,
            headers={"Retry-After": "1"},
        )

    def error_body_response(self) -> FaultResponse:
        """Fusion behind a misrouted load balancer: the identity domain's HTML sign-in page with 200."""
        return FaultResponse(
            200, "<html><head><title>Sign In</title></head><body>Oracle Cloud</body></html>", "text/html"
        )

    def reset(self) -> None:
        with self._lock:
            self.resources = self.build_resources()
            self._index_cache.clear()
            self._changes += 1
            self.throttle_remaining = 0
            self.collection_queries.clear()
            self.before_collection = None
        with self.jobs_lock:
            self.jobs.clear()
            self.job_running_polls = 1
            self.fail_next_job = None

    def _job_switches(self) -> dict[str, Any]:
        """``polls_left`` and ``fail`` of a job being submitted (the caller holds ``jobs_lock``); spends
        ``fail_next_job``."""
        fail, self.fail_next_job = self.fail_next_job, None
        return {"polls_left": self.job_running_polls, "fail": fail}

    # --- switches for scenarios -------------------------------------------------------------------------------

    def throttle(self, requests: int, retry_after: int = 1) -> None:
        """The next ``requests`` data requests answer 503 with Retry-After (Fusion's throttling)."""
        with self._lock:
            self.throttle_remaining = requests
            self.throttle_retry_after = retry_after

    def insert_row(self, resource: str, row: Row) -> None:
        """A row another user created: last in the resource's key order (a new key from the sequence); an
        ``orderBy`` places it by its values (e.g. a ``LastUpdateDate`` stamped when its transaction began)."""
        with self._lock:
            defined = self.resources[resource]
            base_count, base_row = defined.count, defined.row

            def count() -> int:
                return base_count() + 1

            def row_at(i: int) -> Row:
                return dict(row) if i == base_count() else base_row(i)

            defined.count, defined.row = count, row_at
            self._index_cache.clear()
            self._changes += 1

    def delete_row(self, resource: str, index: int) -> None:
        """Another user deleted the row at ``index`` of the resource's key order: the rows after it move up."""
        with self._lock:
            defined = self.resources[resource]
            base_count, base_row = defined.count, defined.row

            def count() -> int:
                return base_count() - 1

            def row_at(i: int) -> Row:
                return base_row(i if i < index else i + 1)

            defined.count, defined.row = count, row_at
            self._index_cache.clear()
            self._changes += 1

    def change_rows(self, resource: str, change: Callable[[int, Row], Row]) -> None:
        """Other users changed rows: from now on the row at ``index`` of the resource's key order is
        ``change(index, row)`` (the row as it was; return it as it is to leave it alone), e.g. a new
        ``LastUpdateDate`` for an update, or one timestamp for most rows (a mass update)."""
        with self._lock:
            defined = self.resources[resource]
            base_row = defined.row

            def row_at(i: int) -> Row:
                return change(i, base_row(i))

            defined.row = row_at
            self._index_cache.clear()
            self._changes += 1

    def update_row(self, resource: str, index: int, values: Mapping[str, Any]) -> None:
        """Another user updated the row at ``index`` of the resource's key order (e.g. its ``LastUpdateDate``)."""
        self.change_rows(resource, lambda i, row: {**row, **values} if i == index else row)

    def add_attribute(self, resource: str, attr: Attr, value: Callable[[Row], Any]) -> None:
        """A tenant-defined attribute (a flexfield): in describe and in every row from now on."""
        with self._lock:
            self.resources[resource].extra[attr.name] = (attr, value)
            self._index_cache.clear()
            self._changes += 1

    # --- auth -------------------------------------------------------------------------------------------------

    def _authorized(self, request: Request) -> bool:
        header = request.headers.get("authorization", "")
        scheme, _, value = header.partition(" ")
        if scheme.lower() == "basic":
            try:
                user, _, password = base64.b64decode(value).decode().partition(":")
            except (binascii.Error, UnicodeDecodeError):
                return False
            return user == self.username and password == self.password
        if scheme.lower() == "bearer":
            return self.ctx.tokens.check(self.product_id, value) is not None
        return False

    async def _token(self, request: Request) -> Response:
        form = dict(parse_qsl((await request.body()).decode(errors="replace"), keep_blank_values=True))

        def fail(error: str, description: str, status: int = 400) -> Response:
            return JSONResponse({"error": error, "error_description": description}, status_code=status)

        client_id, client_secret = form.get("client_id"), form.get("client_secret")
        scheme, _, value = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() == "basic":
            try:
                client_id, _, client_secret = base64.b64decode(value).decode().partition(":")
            except (binascii.Error, UnicodeDecodeError):
                return fail("invalid_client", "Client authentication failed.", 401)
        grant = form.get("grant_type")
        if grant == "client_credentials":
            if client_id != self.client_id or client_secret != self.client_secret:
                return fail("invalid_client", "Client authentication failed.", 401)
        elif grant == "urn:ietf:params:oauth:grant-type:jwt-bearer":
            if client_id is not None and client_id != self.client_id:
                return fail("invalid_client", "Client authentication failed.", 401)
            if client_secret is not None and client_secret != self.client_secret:
                return fail("invalid_client", "Client authentication failed.", 401)
            try:
                claims = jwt.decode(
                    str(form.get("assertion", "")),
                    key=self._jwt_public_key,
                    algorithms=["RS256"],
                    audience=JWT_AUDIENCE,
                    options={"require": ["iss", "sub", "aud", "exp"]},
                )
            except jwt.PyJWTError as exc:
                return fail("invalid_grant", f"Invalid assertion: {exc}")
            if claims["iss"] != self.client_id or claims["sub"] != self.username:
                return fail("invalid_grant", "Invalid assertion: unknown issuer or subject.")
        else:
            return fail("unsupported_grant_type", f"Grant type {grant!r} is not supported.")
        issued = self.ctx.tokens.issue(self.product_id, str(client_id), ttl=TOKEN_TTL)
        return JSONResponse({"access_token": issued.token, "token_type": "Bearer", "expires_in": int(TOKEN_TTL)})

    # --- protocol ---------------------------------------------------------------------------------------------

    def _framework(self, request: Request) -> int:
        raw = request.headers.get("rest-framework-version", "1")
        return int(raw) if raw.isdigit() else 1

    async def _json_body(self, request: Request) -> tuple[Any, Response | None]:
        """A job submission's JSON body, or the answer refusing the request (guard, or a body that is not JSON)."""
        if (refused := self._guard(request)) is not None:
            return None, refused
        try:
            return json.loads(await request.body()), None
        except ValueError:
            return None, self._error(request, "The request body is not valid JSON.")

    def _error(self, request: Request, message: str, status: int = 400) -> Response:
        if self._framework(request) < 2:
            return PlainTextResponse(message, status_code=status)
        titles = {400: "Bad Request", 404: "Not Found", 401: "Unauthorized"}
        body = {
            "type": "http://www.w3.org/Protocols/rfc2616/rfc2616-sec10.html",
            "title": titles.get(status, "Error"),
            "status": str(status),
            "o:errorDetails": [{"detail": message, "o:errorCode": "27502"}],
        }
        return Response(json.dumps(body), status_code=status, media_type=ERROR_TYPE)

    def _guard(self, request: Request) -> Response | None:
        if not self._authorized(request):
            return Response(status_code=401, headers={"WWW-Authenticate": 'Basic realm="Oracle"'})
        if request.path_params.get("version") not in API_VERSIONS:
            return self._error(request, f"The version {request.path_params.get('version')} is not supported.", 404)
        with self._lock:
            if self.throttle_remaining > 0:
                self.throttle_remaining -= 1
                return Response(
                    "Service Unavailable",
                    status_code=503,
                    headers={"Retry-After": str(self.throttle_retry_after)},
                    media_type="text/plain",
                )
        return None

    #: Resources built here (their rows feed others, and the bench reads them) that a pod has no top-level URL for:
    #: 404 as Fusion answers an unknown resource, unless ``XLR8_SANDBOX_FUSION_UNLISTED=1`` (the bench's recorded
    #: reads of them, audit25a F2).
    unlisted: frozenset[str] = frozenset()

    def _resource(self, request: Request) -> ResourceDef:
        name = request.path_params["resource"]
        if name not in self.resources or (name in self.unlisted and not _serves_unlisted()):
            raise FusionRequestError(f"The resource {name} is not found.", 404)
        return self.resources[name]

    async def _describe(self, request: Request) -> Response:
        if (refused := self._guard(request)) is not None:
            return refused
        try:
            resource = self._resource(request)
        except FusionRequestError as exc:
            return self._error(request, str(exc), exc.status)
        base = str(request.url).rsplit("/describe", 1)[0]
        return Response(json.dumps(self.describe_document(resource.name, base)), media_type=ITEM_TYPE)

    def describe_document(self, name: str, base: str) -> dict[str, Any]:
        """What ``<name>/describe`` answers (``base``: the resource's URL, which its links start with)."""
        return {"Resources": {name: _describe_node(self.resources[name], base)}}

    async def _item(self, request: Request) -> Response:
        if (refused := self._guard(request)) is not None:
            return refused
        try:
            resource = self._resource(request)
            params = dict(request.query_params)
            found = await run_in_threadpool(self._keyed_row, resource, resource, request.path_params["item_id"], None)
            item = self._shape(
                resource, found, params, self._effective_date(params), framework=self._framework(request)
            )
            if "links" in item:
                item["links"][0]["href"] = str(request.url).split("?")[0]
        except (FusionRequestError, QueryError) as exc:
            return self._error(request, str(exc), getattr(exc, "status", 400))
        return Response(json.dumps(item, default=json_default), media_type=ITEM_TYPE)

    @staticmethod
    def item_id(resource: ResourceDef, row: Row) -> str:
        """The id in an item's URL: its ``UniqID`` hash where Oracle documents one, else its single key's value."""
        plain = "|".join(str(row.get(k)) for k in resource.keys)
        return uniq_id(plain) if resource.hashed_id or len(resource.keys) != 1 else plain

    def _keyed_row(self, resource: ResourceDef, node: ChildDef, item_id: str, parent: Row | None) -> Row:
        """The row of ``node`` whose single key is ``item_id``: a top-level row (``parent`` None), else one of
        ``parent``'s child rows."""
        if len(node.keys) != 1:
            raise FusionRequestError(f"The resource {node.name} has a composite key.", 400)
        if parent is None and resource.hashed_id:
            plain = _unhash(item_id)
            if plain is None:
                raise FusionRequestError(f"The item {item_id} is not found.", 404)
            item_id = plain
        key = node.keys[0]
        attrs = resource.all_attrs() if parent is None else node.attrs
        info = {a.name: a for a in attrs}[key]
        wanted = typed(item_id, info.type, key)
        rows: Iterable[Row] = (
            (resource.source_row(i) for i in range(resource.count())) if parent is None else node.rows(parent)
        )
        found = next((r for r in rows if typed(r.get(key), info.type, key) == wanted), None)
        if found is None:
            raise FusionRequestError(f"The item {item_id} is not found.", 404)
        return found

    async def _child_collection(self, request: Request) -> Response:
        """One parent's child collection, paged like a collection (``limit`` default 25): where a client reads
        the rest of a child that came cut in an expanded parent (framework 3+)."""
        if (refused := self._guard(request)) is not None:
            return refused
        params = dict(request.query_params)
        framework = self._framework(request)

        def page() -> dict[str, Any]:
            resource = self._resource(request)
            parts = [request.path_params["item_id"], "child", *request.path_params["rest"].strip("/").split("/")]
            node: ChildDef = resource
            row = self._keyed_row(resource, resource, parts[0], None)
            rest = parts[1:]
            while True:
                if len(rest) < 2 or rest[0] != "child" or rest[1] not in node.children:
                    raise FusionRequestError(f"The child {'/'.join(rest)} is not found.", 404)
                node = node.children[rest[1]]
                if len(rest) == 2:
                    break
                row = self._keyed_row(resource, node, rest[2], row)
                rest = rest[3:]
            effective = self._effective_date(params)
            limit = min(self._int_param(params, "limit", DEFAULT_LIMIT) or DEFAULT_LIMIT, MAX_LIMIT)
            offset = self._int_param(params, "offset", 0)
            rows = [r for r in node.rows(row) if not node.effective_dated or _valid_on(r, effective)]
            attrs = {a.name: AttrInfo(a.type, a.queryable) for a in node.attrs}
            sort_keys = self._order(params.get("orderBy"), attrs)
            if sort_keys:
                rows.sort(key=_sort_keyer(sort_keys, attrs))
            plans = _Shaping()
            items = [self._shape(node, r, params, effective, plans=plans, framework=framework)
                     for r in rows[offset : offset + limit]]  # fmt: skip
            body: dict[str, Any] = {"items": items}
            if params.get("totalResults") == "true":
                body["totalResults"] = len(rows)
            body.update(count=len(items), hasMore=offset + len(items) < len(rows), limit=limit, offset=offset)
            if params.get("onlyData") != "true":
                body["links"] = [{"rel": "self", "href": str(request.url), "name": node.name, "kind": "collection"}]
            return body

        try:
            body = await run_in_threadpool(page)
        except (FusionRequestError, QueryError) as exc:
            return self._error(request, str(exc), getattr(exc, "status", 400))
        return Response(json.dumps(body, default=json_default), media_type=COLLECTION_TYPE)

    def _effective_date(self, params: Mapping[str, str]) -> date:
        raw = params.get("effectiveDate")
        if not raw:
            return self.ctx.clock.now().date()
        try:
            return date.fromisoformat(raw)
        except ValueError:
            raise FusionRequestError(f"The value {raw} of parameter effectiveDate is not a valid date.") from None

    async def _collection(self, request: Request) -> Response:
        if (refused := self._guard(request)) is not None:
            return refused
        params = dict(request.query_params)
        with self._lock:
            self.collection_queries.append(params)
            served = len(self.collection_queries)
        if self.before_collection is not None:
            self.before_collection(served)
        try:
            resource = self._resource(request)
            framework = self._framework(request)
            # A page is a pure function of (resource, framework version, URL) and the tenant's data: rendered once
            # per data version (errors are not kept).
            with self._lock:
                version = (self.company.data_version(), self._changes)
            kept = self.row_cache.rows(("collection", resource.name, framework, str(request.url)), version)
            if kept is not None and 0 in kept:
                return Response(kept[0], media_type=COLLECTION_TYPE)
            rendered = await run_in_threadpool(self._page_bytes, resource, params, framework, str(request.url))
        except (FusionRequestError, QueryError) as exc:
            return self._error(request, str(exc), getattr(exc, "status", 400))
        if kept is not None and self.row_cache.room_for(len(rendered)):
            kept[0] = rendered
        return Response(rendered, media_type=COLLECTION_TYPE)

    def _int_param(self, params: Mapping[str, str], name: str, default: int) -> int:
        raw = params.get(name)
        if raw in (None, ""):
            return default
        if not raw.lstrip("-").isdigit() or int(raw) < 0:
            raise FusionRequestError(f"The value {raw} of parameter {name} is not valid; it must be an integer >= 0.")
        return int(raw)

    def _page_rows(
        self, resource: ResourceDef, params: Mapping[str, str], framework: int
    ) -> tuple[int, int, date, int, Sequence[int]]:
        """(limit, offset, effective date, total, the page's row indices) of one collection request."""
        limit = min(self._int_param(params, "limit", DEFAULT_LIMIT) or DEFAULT_LIMIT, MAX_LIMIT)
        offset = self._int_param(params, "offset", 0)
        effective = self._effective_date(params)
        indices = self._indices(resource, params, framework, effective)
        total = len(indices) if indices is not None else resource.count()
        chosen = indices[offset : offset + limit] if indices is not None else range(offset, min(offset + limit, total))
        return limit, offset, effective, total, chosen

    def _page(self, resource: ResourceDef, params: Mapping[str, str], framework: int, url: str) -> dict[str, Any]:
        """The page's body: a ``_PlainPage`` when every value in it is a str, int, bool or None. The reference
        renderer (``_page_text`` writes the same bytes without it, and falls back to it)."""
        limit, offset, effective, total, chosen = self._page_rows(resource, params, framework)
        plans = _Shaping()
        sources = [resource.source_row(i) for i in chosen]
        items = [self._shape(resource, r, params, effective, plans=plans, framework=framework) for r in sources]
        if params.get("onlyData") != "true":  # an item's self link: where a client reads it (and its children) from
            base = url.split("?")[0]
            for item, source in zip(items, sources, strict=True):
                item["links"][0]["href"] = f"{base}/{self.item_id(resource, source)}"
        body: dict[str, Any] = {"items": items}
        if params.get("totalResults") == "true":
            body["totalResults"] = total  # only when asked for, right after the items (Fusion's order)
        body.update(count=len(items), hasMore=offset + len(items) < total, limit=limit, offset=offset)
        if params.get("onlyData") != "true":
            body["links"] = [{"rel": "self", "href": url, "name": resource.name, "kind": "collection"}]
        return _PlainPage(body) if plans.plain else body

    #: Whether collection pages are written straight from the source rows (``_page_text``); False serves them
    #: through the reference renderer (``_page`` and ``json.dumps``): the same bytes, for A/B tests and benches.
    page_writer = True

    def _page_bytes(self, resource: ResourceDef, params: Mapping[str, str], framework: int, url: str) -> bytes | str:
        """A collection page as sent: ``_page_text`` where it can write it, else ``_page``'s body as ``json.dumps``
        writes it (the same bytes either way)."""
        if self.page_writer:
            text = self._page_text(resource, params, framework, url)
            if text is not None:
                return text.encode("ascii")
        body = self._page(resource, params, framework, url)
        written = wirejson.spaced_ascii_bytes(body) if isinstance(body, _PlainPage) else None
        return written if written is not None else json.dumps(body, default=json_default)

    def _page_text(self, resource: ResourceDef, params: Mapping[str, str], framework: int, url: str) -> str | None:
        """``json.dumps(self._page(...), default=json_default)`` written from the source rows by writers compiled
        per shape and kept (``_node_writer``), without a shaped dict per node. None where ``_page`` is
        the one to answer: any request error (raised there, in the order it always was), an empty page, a
        shape whose keys collide (an attribute named like a child or ``links``)."""
        try:
            limit, offset, effective, total, chosen = self._page_rows(resource, params, framework)
            if not chosen:
                return None
            write = self._node_writer(resource, params, "", effective, framework, top=True)
        except (FusionRequestError, QueryError, _Unwritable):
            return None
        sources = [resource.source_row(i) for i in chosen]
        if params.get("onlyData") != "true":
            base = url.split("?")[0]
            esc = wirejson.spaced_value
            items = [write(source, esc(f"{base}/{self.item_id(resource, source)}")) for source in sources]
            links = (
                f', "links": [{{"rel": "self", "href": {esc(url)}, "name": {esc(resource.name)}, '
                '"kind": "collection"}]'
            )
        else:
            items = [write(source) for source in sources]
            links = ""
        more = "true" if offset + len(items) < total else "false"
        counted = f', "totalResults": {total}' if params.get("totalResults") == "true" else ""
        return (
            f'{{"items": [{", ".join(items)}]{counted}, "count": {len(items)}, "hasMore": {more}, '
            f'"limit": {limit}, "offset": {offset}{links}}}'
        )

    def _node_writer(
        self, node: ChildDef, params: Mapping[str, str], path: str, effective: date, framework: int, top: bool
    ) -> Callable[..., str]:
        """One node's row writer for this request (``_shape``'s output as text): its attributes, then each child
        to expand (its own writer, compiled here), then links (a top-level row's ``href`` is the writer's second
        argument). Raises ``_Unwritable`` where ``_shape`` would raise or keys collide."""
        plan = self._shape_plan(node, params, path)
        if plan.bad_expand is not None:
            raise _Unwritable
        names = list(dict.fromkeys(plan.names))
        keys = set(names)
        children: list[Callable[[Row], str]] = []
        for child_name, child, child_path, dated in plan.children:
            if child_name in keys:
                raise _Unwritable
            keys.add(child_name)
            inner = self._node_writer(child, params, child_path, effective, framework, top=False)
            children.append(_child_writer(child, inner, dated, effective, framework, plan.links))
        if plan.links and "links" in keys:
            raise _Unwritable
        slots: list[tuple[str, str | None]] = [(n, n) for n in names]
        slots += [(child_name, None) for child_name, _, _, _ in plan.children]
        link = None
        if plan.links:
            slots.append(("links", None))
            link = f'[{{"rel": "self", "name": {wirejson.spaced_value(node.name)}, "kind": "item"'
        write = wirejson.spaced_object_writer(tuple(slots), json_default, decimal_as_float=True)
        if top and link is not None:
            head = link + ', "href": '
            if not children:
                return lambda row, href: write(row, head + href + "}]")
            return lambda row, href: write(row, *[c(row) for c in children], head + href + "}]")
        if link is not None:
            links_text = link + "}]"
            children.append(lambda _row: links_text)
        if not children:
            return write
        if len(children) == 1:
            only = children[0]
            return lambda row: write(row, only(row))
        return lambda row: write(row, *[c(row) for c in children])

    def _indices(
        self, resource: ResourceDef, params: Mapping[str, str], framework: int, effective: date
    ) -> list[int] | None:
        """Matching row indices in the requested order; None when every row in natural order (the fast path).

        A ``q`` ending in "after this row" for the requested ``orderBy`` (keyset paging) is served like an index
        seek: the rest of the query is matched and sorted once (cached), the page starts after the boundary."""
        attrs = {a.name: AttrInfo(a.type, a.queryable) for a in resource.all_attrs()}
        q, finder, order = params.get("q"), params.get("finder"), params.get("orderBy")
        sort_keys = self._order(order, attrs)
        natural = not sort_keys or (
            [k for k, _ in sort_keys] == list(resource.keys[: len(sort_keys)]) and all(asc for _, asc in sort_keys)
        )
        if q:
            parse_q(q, attrs, framework)  # a bad q is a 400 whichever way it is served
        seek = _KEYSET.match(q) if q and framework >= 2 and not natural else None
        if seek is not None and sort_keys == [(seek["a"], True), (seek["k"], True)]:
            base = f"({seek['rest']})" if seek["rest"] else None
            a_info, k_info = attrs[seek["a"]], attrs[seek["k"]]
            # A range of a ranged keyset read also ends at a row ("up to and including it"): a second seek.
            upto = _UPTO.match(base) if base else None
            end: tuple[Any, ...] | None = None
            if upto is not None and (upto["a"], upto["k"]) == (seek["a"], seek["k"]):
                base = upto["rest"] or None
                end = (
                    False,
                    typed(_unquote(upto["m"]), a_info.type, seek["a"]),
                    False,
                    typed(_unquote(upto["kv"]), k_info.type, seek["k"]),
                )
            keys, indices = self._matched(resource, base, finder, order, sort_keys, attrs, framework, effective)
            boundary = (
                False,
                typed(_unquote(seek["m"]), a_info.type, seek["a"]),
                False,
                typed(_unquote(seek["kv"]), k_info.type, seek["k"]),
            )
            stop = len(keys) if end is None else bisect.bisect_right(keys, end)
            return indices[bisect.bisect_right(keys, boundary) : stop]
        if not q and not finder and natural and not resource.effective_dated:
            return None
        return self._matched(resource, q, finder, order, sort_keys, attrs, framework, effective)[1]

    def _matched(
        self,
        resource: ResourceDef,
        q: str | None,
        finder: str | None,
        order: str | None,
        sort_keys: list[tuple[str, bool]],
        attrs: Mapping[str, AttrInfo],
        framework: int,
        effective: date,
    ) -> tuple[list[tuple[Any, ...]], list[int]]:
        """(sort keys, indices) of the rows matching ``q`` and ``finder`` in ``orderBy`` order, cached per query
        and sandbox time."""
        cache_key = (resource.name, q, finder, order, framework, effective, resource.count(), self.ctx.clock.now())
        with self._lock:
            if cache_key in self._index_cache:
                self._index_cache.move_to_end(cache_key)
                return self._index_cache[cache_key]
        predicates: list[Callable[[Any], bool]] = []
        if q:
            predicates.append(parse_q(q, attrs, framework))
        if finder:
            predicates.append(self._finder(resource, finder, attrs))
        natural = not sort_keys or (
            [k for k, _ in sort_keys] == list(resource.keys[: len(sort_keys)]) and all(asc for _, asc in sort_keys)
        )
        reorder = bool(sort_keys) and not natural
        source: Callable[[int], Row] = resource.source_row
        dated = resource.effective_dated
        narrow = self._narrow_source(resource, q, finder, sort_keys, attrs, framework) if reorder else None
        if narrow is not None:
            source, predicates = narrow
        key = _sort_keyer(sort_keys, attrs)
        matched: list[tuple[tuple[Any, ...], int]] = []
        if reorder and not dated and not predicates:  # an unfiltered sorted read: every row's key, no checks
            matched = [(key(source(i)), i) for i in range(resource.count())]
        else:
            for i in range(resource.count()):
                row = source(i)
                if dated and not _valid_on(row, effective):
                    continue
                if all(p(row) for p in predicates):
                    matched.append((key(row) if reorder else (), i))
        if reorder:
            matched.sort()
        result = ([k for k, _ in matched] if reorder else [], [i for _, i in matched])
        with self._lock:
            self._index_cache[cache_key] = result
            while len(self._index_cache) > 16:
                self._index_cache.popitem(last=False)
        return result

    def _narrow_source(
        self,
        resource: ResourceDef,
        q: str | None,
        finder: str | None,
        sort_keys: list[tuple[str, bool]],
        attrs: Mapping[str, AttrInfo],
        framework: int,
    ) -> tuple[Callable[[int], Row], list[Callable[[Any], bool]]] | None:
        """The resource's partial rows and the ``q`` predicate over them, when the sort and ``q`` read nothing
        else (no finder, not effective dated); None to match and sort whole rows. A ``q`` naming any other
        attribute fails to parse against the partial attributes alone, and the read takes whole rows."""
        narrow = resource.narrow_rows()
        if narrow is None or finder or resource.effective_dated:
            return None
        known = {n: attrs[n] for n in resource.sort_attrs if n in attrs and n not in resource.extra}
        if not all(name in known for name, _ in sort_keys):
            return None
        if not q:
            return narrow, []
        try:
            return narrow, [parse_q(q, known, framework)]
        except QueryError:
            return None

    def _order(self, order: str | None, attrs: Mapping[str, AttrInfo]) -> list[tuple[str, bool]]:
        keys: list[tuple[str, bool]] = []
        for part in (order or "").split(","):
            if not part.strip():
                continue
            name, _, direction = part.strip().partition(":")
            if name not in attrs:
                raise FusionRequestError(f"The attribute {name} in the orderBy parameter is not found.")
            if direction not in ("", "asc", "desc"):
                raise FusionRequestError(f"The sort direction {direction} of attribute {name} is not valid.")
            keys.append((name, direction != "desc"))
        return keys

    def _finder(self, resource: ResourceDef, finder: str, attrs: Mapping[str, AttrInfo]) -> Callable[[Row], bool]:
        name, _, binds = finder.partition(";")
        allowed = resource.keys if name == "PrimaryKey" else resource.finders.get(name)
        if allowed is None:
            raise FusionRequestError(f"The finder {name} is not found in resource {resource.name}.")
        wanted: dict[str, Any] = {}
        for pair in binds.split(","):
            if not pair.strip():
                continue
            attr, _, value = pair.partition("=")
            if attr not in allowed:
                raise FusionRequestError(f"The bind variable {attr} is not found in finder {name}.")
            wanted[attr] = typed(value, attrs[attr].type, attr)
        return lambda r: all(typed(r.get(a), attrs[a].type, a) == v for a, v in wanted.items())

    def _shape(
        self,
        node: ChildDef,
        row: Row,
        params: Mapping[str, str],
        effective: date,
        path: str = "",
        plans: _Shaping | None = None,
        framework: int = 1,
    ) -> Row:
        """The row as sent: ``fields`` for this level, expanded children, links unless ``onlyData``. ``plans``
        keeps what depends only on the request per node (a page shapes every row the same way). A child is an
        array under framework 1 and 2; from 3 a collection object of its first ``DEFAULT_LIMIT`` rows with
        ``hasMore`` (the rest from the child's own URL), as Fusion sends it."""
        if plans is None:
            plans = _Shaping()
        plan = plans.get((id(node), path))
        if plan is None:  # a bad ``fields`` raises here, before any child is shaped (as it always did)
            plan = plans[(id(node), path)] = self._shape_plan(node, params, path)
        get = row.get
        out = {n: get(n) for n in plan.names}
        if plans.plain and not _PLAIN_TYPES(map(type, out.values())):
            plans.plain = False
        for child_name, child, child_path, dated in plan.children:
            rows = [r for r in child.rows(row) if not dated or _valid_on(r, effective)]
            if framework < 3:
                out[child_name] = [self._shape(child, r, params, effective, child_path, plans, framework) for r in rows]
                continue
            shaped = [
                self._shape(child, r, params, effective, child_path, plans, framework) for r in rows[:DEFAULT_LIMIT]
            ]
            kids: dict[str, Any] = {"items": shaped, "count": len(shaped), "hasMore": len(rows) > DEFAULT_LIMIT,
                                    "limit": DEFAULT_LIMIT, "offset": 0}  # fmt: skip
            if plan.links:
                kids["links"] = [{"rel": "self", "name": child.name, "kind": "collection"}]
            out[child_name] = kids
        if plan.bad_expand is not None:  # raised after the children, as it always was
            raise FusionRequestError(f"The child {plan.bad_expand} in the {plan.bad_source} parameter is not found.")
        if plan.links:
            out["links"] = [{"rel": "self", "name": node.name, "kind": "item"}]
        return out

    def _shape_plan(self, node: ChildDef, params: Mapping[str, str], path: str) -> _ShapePlan:
        fields = _parsed_fields(params.get("fields"))
        attrs = node.all_attrs() if isinstance(node, ResourceDef) else node.attrs
        names = [a.name for a in attrs]
        wanted = fields.get(path)
        if wanted:
            for name in wanted:
                if name not in names:
                    raise FusionRequestError(f"The attribute {name} in the fields parameter is not found.")
        # Oracle: fields "cannot be combined with expand query parameter. If both are provided, only fields will be
        # considered"; the children it names are expanded, their missing ancestors "processed implicitly".
        expand = tuple(p for p in fields if p) if fields else _expand_paths(params.get("expand"))
        source = "fields" if fields else "expand"
        children: list[tuple[str, ChildDef, str, bool]] = []
        for child_name, child in node.children.items():
            child_path = f"{path}.{child_name}".lstrip(".")
            if not (
                ("all" in expand and not path) or any(p == child_path or p.startswith(child_path + ".") for p in expand)
            ):
                continue
            children.append((child_name, child, child_path, child.effective_dated))
        bad_expand = None
        for p in expand:
            head = p.split(".")[0] if not path else None
            if head and head != "all" and head not in node.children:
                bad_expand = head
                break
        return _ShapePlan(list(wanted or names), children, bad_expand, source, params.get("onlyData") != "true")


class _Unwritable(Exception):
    """A page ``_page_text`` leaves to ``_page`` (an error to raise there, or keys that collide)."""


def _child_writer(
    child: ChildDef, write: Callable[[Row], str], dated: bool, effective: date, framework: int, links: bool
) -> Callable[[Row], str]:
    """The text of one expanded child under a parent's source row, as ``_shape`` builds it: an array under
    framework 1 and 2, from 3 a collection object of its first ``DEFAULT_LIMIT`` rows."""
    rows_of = child.rows
    if framework < 3:

        def array(row: Row) -> str:
            rows = rows_of(row)
            if dated:
                rows = [r for r in rows if _valid_on(r, effective)]
            return "[" + ", ".join([write(r) for r in rows]) + "]"

        return array
    tail = f', "limit": {DEFAULT_LIMIT}, "offset": 0'
    if links:
        tail += f', "links": [{{"rel": "self", "name": {wirejson.spaced_value(child.name)}, "kind": "collection"}}]'
    tail += "}"

    def collection(row: Row) -> str:
        rows = rows_of(row)
        if dated:
            rows = [r for r in rows if _valid_on(r, effective)]
        shaped = [write(r) for r in rows[:DEFAULT_LIMIT]]
        more = "true" if len(rows) > DEFAULT_LIMIT else "false"
        return f'{{"items": [{", ".join(shaped)}], "count": {len(shaped)}, "hasMore": {more}{tail}'

    return collection


class _Shaping(dict[tuple[int, str], "_ShapePlan"]):
    """The plans of one response's ``_shape`` calls (per node and path), and whether every attribute value they
    picked was a str, int, bool or None: then the page, built of those and of what ``_shape`` and ``_page`` add
    (dicts, lists, str, int, bool), is a ``_PlainPage`` without walking it again."""

    plain = True


class _PlainPage(dict[str, Any]):
    """A page body built of dicts, lists, str, int, bool and None alone (``_Shaping.plain``): written by
    ``wirejson.spaced_ascii_bytes``, the same bytes as ``json.dumps`` several times faster. Whoever changes one
    after ``_page`` keeps to those types."""


#: Whether every type of an iterable is one ``spaced_ascii_bytes`` takes (one C-level pass over a row's values).
_PLAIN_TYPES = frozenset({str, int, bool, type(None)}).issuperset


@dataclass(frozen=True)
class _ShapePlan:
    """How ``_shape`` renders one node for one request: its attributes, the children to expand (name, node, path,
    effective-dated), the first unknown child head (an error) and the parameter naming it (``expand``, or
    ``fields`` when given: then ``expand`` is ignored, as Fusion documents), and whether rows carry links."""

    names: list[str]
    children: list[tuple[str, ChildDef, str, bool]]
    bad_expand: str | None
    bad_source: str
    links: bool


#: "After this row" in ``orderBy=A:asc,K:asc`` order, as keyset paging clients send it (optionally after other
#: conditions): ``(A > 'm' or (A = 'm' and K > k) or A is null)``.
_KEYSET = re.compile(
    r"^(?:\((?P<rest>.*)\) and )?\(?\((?P<a>\w+) > (?P<m>'(?:[^']|'')*') or \((?P=a) = (?P=m) and "
    r"(?P<k>\w+) > (?P<kv>'(?:[^']|'')*'|-?[\d.]+)\) or (?P=a) is null\)\)?$",
    re.S,
)


#: "Up to and including this row" as the last condition of the rest of a keyset ``q`` (a range of a ranged read):
#: ``(<rest>) and ((A < 'm' or (A = 'm' and K <= k)))``, or that condition alone.
_UPTO = re.compile(
    r"^(?:(?P<rest>.*) and )?\(\((?P<a>\w+) < (?P<m>'(?:[^']|'')*') or \((?P=a) = (?P=m) and "
    r"(?P<k>\w+) <= (?P<kv>'(?:[^']|'')*'|-?[\d.]+)\)\)\)$",
    re.S,
)


def _unquote(literal: str) -> str:
    return literal[1:-1].replace("''", "'") if literal.startswith("'") else literal


class _Desc:
    """Reverses the order of one sort column."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value

    def __lt__(self, other: _Desc) -> bool:
        return bool(other.value < self.value)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Desc) and self.value == other.value

    def __hash__(self) -> int:
        return hash(self.value)


def _sort_keyer(sort_keys: list[tuple[str, bool]], attrs: Mapping[str, AttrInfo]) -> Callable[[Row], tuple[Any, ...]]:
    """A row's sort key for one sort pass: per column, nulls last, then the typed value (ascending or descending).
    A datetime column's text is typed once per distinct text (rows share their stamps); errors as ``typed``'s."""
    columns: list[tuple[str, str, bool, dict[Any, Any] | None]] = [
        (name, attrs[name].type, asc, {} if attrs[name].type in ("datetime", "timestamp") else None)
        for name, asc in sort_keys
    ]

    def key(row: Row) -> tuple[Any, ...]:
        parts: list[Any] = []
        for name, kind, asc, memo in columns:
            raw = row.get(name)
            value: Any
            if kind == "integer" and type(raw) is int:
                value = raw  # ``typed``'s int(str(raw)): the same int
            elif memo is None or type(raw) is not str:
                value = typed(raw, kind, name)
            elif (value := memo.get(raw)) is None:
                value = memo[raw] = typed(raw, kind, name)
            parts.append(value is None)
            parts.append((value if asc else _Desc(value)) if value is not None else 0)
        return tuple(parts)

    return key


@functools.lru_cache(maxsize=64)
@functools.lru_cache(maxsize=256)
def _parsed_fields(text: str | None) -> dict[str, list[str]]:
    """``parse_fields`` once per ``fields`` text rather than once per row (``_shape`` only reads the result)."""
    return parse_fields(text)


def _serves_unlisted() -> bool:
    """``XLR8_SANDBOX_FUSION_UNLISTED=1``: serve ``FusionEmulator.unlisted`` resources at top level anyway (read
    per request: a cached answer kept the first test's environment for every later one in the process)."""
    return os.environ.get("XLR8_SANDBOX_FUSION_UNLISTED", "").strip() == "1"


def _expand_paths(text: str | None) -> tuple[str, ...]:
    return tuple(p.strip() for p in (text or "").split(",") if p.strip())


@functools.lru_cache(maxsize=4096)
def _day(text: str) -> date:
    """``date.fromisoformat``, kept per text: every dated child row is checked per page, and rows share their
    dates (the end of time, hire days)."""
    return date.fromisoformat(text)


def _valid_on(row: Row, day: date) -> bool:
    start, end = row.get("EffectiveStartDate"), row.get("EffectiveEndDate")
    start_d = _day(start if type(start) is str else str(start)) if start else date.min
    end_d = _day(end if type(end) is str else str(end)) if end else date.max
    return start_d <= day <= end_d
