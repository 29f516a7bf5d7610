"""SAP S/4HANA emulator: OData v2 services under ``/sap/opu/odata/sap/<SERVICE>``, an OData v4 (RAP) service under
``/sap/opu/odata4/sap/api_purchaseorder_2/srvd_a2x/sap/purchaseorder/0001``, the SOAP-RFC handler
``/sap/bc/soap/rfc`` for read-only BAPIs, and the OAuth 2.0 token endpoint ``/sap/bc/sec/oauth2/token``.

Protocol as SAP documents it: ``sap-client`` on every call (this system is client 100; another client is refused
before authentication, as the ICF logon does), Basic for the communication user or a bearer token from the
client-credentials grant, ``$format=json`` for v2 (JSON verbose ``d.results``, ``__count``, ``__next``) and JSON
for v4 (``value``, ``@odata.count``, relative ``@odata.nextLink``; Edm.Decimal as a number unless the client sends
``IEEE754Compatible=true``). Paging is client-driven (``$top``/``$skip``) and server-driven: no page is longer than
``server_page_size`` and a longer window continues through ``$skiptoken``. Errors are Gateway's JSON bodies.

Test switches: ``server_page_size``, ``repeat_next_link`` (every next link is the first one: a broken server),
``ignore_skip`` (``$skip`` is ignored), ``expand_ignored`` (``$expand`` answered with deferred links),
``expand_page_size`` (inline collections cut after that many rows with a ``__next``), ``change_order`` (another
user's change to a generated order or item, e.g. its deletion code), ``change_assignment`` (a posting's change to
an account assignment that leaves the order's stamp as it was),
``insert_at`` (where ``insert_records`` puts new business partners
among the partners created at run time, which come before the rest: 0, ahead of everything, by default; natural
order only, a read with ``$orderby`` sorts them by key), ``insert_key`` (the key the next inserted partner gets
instead of ``N`` + its number: where it sorts under ``$orderby``) and
``before_request`` (called before each OData request is served: changes by others while a client pages),
``shuffle_ties`` (an analytical set's groups are shuffled per request, seeded by its ``$skip``, before the stable
``$orderby`` sort: rows tied under an incomplete order, or an answer without one, differ from window to window as
SAP promises no order among them).
``edit`` changes a row added at run time in place (another user's edit while a client pages). Answers carry the
``Date`` header in sandbox time, the clock the change stamps follow.
"""

from __future__ import annotations

import base64
import binascii
import json
import threading
from collections import deque
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, urlencode

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from xlr8_kit.soap import SOAP11, build_envelope, element, parse_envelope
from xlr8_kit.soap import local_name as soap_local_name
from xlr8_kit.soap.rfc import RFC_NS, decode, encode
from xlr8_sandbox.platform.emulator import FaultResponse, ProductEmulator, SandboxContext
from xlr8_sandbox.platform.rowcache import RowCache, json_bytes
from xlr8_sandbox.products.s4hana.data import V2_ROOT, S4Data
from xlr8_sandbox.products.s4hana.odata import (
    S4Error,
    S4Set,
    Service,
    aggregate_rows,
    dumps_v4,
    from_filter_error,
    serialize_v2,
    serialize_v4,
    v4_filter_to_v2,
)
from xlr8_sandbox.products.successfactors_odata import (
    ODataRequestError,
    SnapshotStore,
    decode_skiptoken,
    encode_skiptoken,
    parse_filter,
    parse_orderby,
    sort_rows,
)

SAP_CLIENT = "100"
COMM_USER = "XLR8_COMM_USER"
COMM_PASSWORD = "sandbox-s4-Password1"  # emulator test credential, not a real secret
OAUTH_CLIENT_ID = "XLR8_OAUTH_CLIENT"
OAUTH_CLIENT_SECRET = "sandbox-s4-client-secret"  # emulator test credential, not a real secret
TOKEN_PATH = "/sap/bc/sec/oauth2/token"
TOKEN_TTL = 3600.0
DEFAULT_SERVER_PAGE_SIZE = 1000


class S4HanaEmulator(ProductEmulator):
    product_id = "s4hana"
    title = "SAP S/4HANA (OData v2/v4, SOAP-RFC)"
    #: The key the next partner ``insert_records`` creates gets (None: ``N`` + its number).
    insert_key: str | None = None
    sandbox_date_header = True

    def __init__(self, ctx: SandboxContext) -> None:
        super().__init__(ctx)
        self.data = S4Data(ctx.company)
        self.services = {s.path: s for s in self.data.services()}
        self._metadata = {s.path: s.metadata() for s in self.services.values()}
        self.snapshots = SnapshotStore()
        self._lock = threading.Lock()
        #: Matching rows and serialized generated rows per request shape and data version (XLR8_SANDBOX_CACHE=0).
        self.row_cache = RowCache()
        self.reset()

    # --- platform hooks ---------------------------------------------------------------------------------------

    def routes(self) -> list[BaseRoute]:
        v4 = "/sap/opu/odata4/sap/{group}/srvd_a2x/sap/{name}/{version}"
        return [
            Route(TOKEN_PATH, self._token, methods=["POST"]),
            Route("/sap/bc/soap/rfc", self._rfc, methods=["POST"]),
            Route(V2_ROOT + "/{service}/{entity}/$count", self._count, methods=["GET"]),
            Route(V2_ROOT + "/{service}/{entity}/{nav}", self._navigation, methods=["GET"]),
            Route(V2_ROOT + "/{service}/{entity}", self._collection, methods=["GET"]),
            Route(V2_ROOT + "/{service}/", self._service_document, methods=["GET"]),
            Route(v4 + "/{entity}/$count", self._count, methods=["GET"]),
            Route(v4 + "/{entity}", self._collection, methods=["GET"]),
        ]

    def test_credentials(self) -> dict[str, str]:
        return {
            "sap_client": SAP_CLIENT,
            "username": COMM_USER,
            "password": COMM_PASSWORD,
            "client_id": OAUTH_CLIENT_ID,
            "client_secret": OAUTH_CLIENT_SECRET,
        }

    def quota_error_response(self) -> FaultResponse:
        body = S4Error(429, "/IWFND/CM_BEC/026", "Too many requests; the service is throttled. Retry later.")
        return FaultResponse(429, json.dumps(body.body()), headers={"Retry-After": "1"})

    def error_body_response(self) -> FaultResponse:
        body = S4Error(
            200, "/IWBEP/CM_MGW_RT/000", "In the context of Data Services an unknown internal error occurred"
        )
        return FaultResponse(200, json.dumps(body.body()))

    def insert_records(self, count: int) -> None:
        """Suppliers created in S/4 by someone else while a client pages: business partners ahead of the rest."""
        with self._lock:
            for _ in range(count):
                self._inserted += 1
                n = self._inserted
                now = self.ctx.clock.now()
                extra = self.service("API_BUSINESS_PARTNER").sets["A_BusinessPartner"].entity.extra
                key, self.insert_key = self.insert_key or f"N{n:09d}", None
                extra.insert(min(self.insert_at, len(extra)), {
                    "BusinessPartner": key, "Customer": "", "Supplier": "", "BusinessPartnerCategory": "2",
                    "BusinessPartnerFullName": f"Inserted partner {n}",
                    "BusinessPartnerName": f"Inserted partner {n}",
                    "BusinessPartnerGrouping": "BPSU", "Language": "EN", "CreationDate": now,
                    "CreationTime": now.time(),
                    "LastChangeDate": now, "LastChangeTime": now.time(), "IsMarkedForArchiving": False,
                    "BusinessPartnerIsBlocked": False,
                })  # fmt: skip

    def delete_partner(self, business_partner: str) -> None:
        """Another user deleted a business partner created at run time (``insert_records``): the rows after it
        move up one place."""
        with self._lock:
            extra = self.service("API_BUSINESS_PARTNER").sets["A_BusinessPartner"].entity.extra
            extra[:] = [row for row in extra if row["BusinessPartner"] != business_partner]
            self._deleted += 1  # a new data version: row caches key on it

    def edit(self, service: str, entity_set: str, key: tuple[Any, ...], changes: dict[str, Any]) -> None:
        """Change a row added at run time in place, as another user edits it while a client pages (a page asked
        for afterwards serves the new values, as Gateway reads each page when it is asked for)."""
        entity = self.service(service).sets[entity_set].entity
        with self._lock:
            row = next((r for r in entity.extra if entity.key_of(r) == key), None)
            if row is None:
                raise KeyError(f"{entity_set}{key} was not added at run time")
            row.update(changes)
            self._edited += 1  # a new data version: row caches key on it

    def change_order(self, order: str, item: str | None = None, **changes: Any) -> None:
        """Another user changes a generated purchase order (``item`` None) or one of its items, e.g. deletes it in
        ME22N (``PurchasingDocumentDeletionCode="L"``); every set and expansion serving the row shows it."""
        self._change((order, item), changes)

    def change_assignment(self, order: str, item: str, number: str = "01", **changes: Any) -> None:
        """A posting changes one account assignment of a generated order without stamping the order's
        ``LastChangeDateTime``, as an invoice receipt may: nothing shows it stamps the order (review28a M4)."""
        self._change((order, item, number), changes)

    def _change(self, key: tuple[str | None, ...], changes: dict[str, Any]) -> None:
        with self._lock:
            self.data.order_changes.setdefault(key, {}).update(changes)
            self._edited += 1  # a new data version: row caches key on it

    def reset(self) -> None:
        with self._lock:
            self.data.order_changes.clear()
            for service in self.services.values():
                for s4set in service.sets.values():
                    s4set.entity.extra.clear()
            self._inserted = 0
            self._deleted = 0
            self._edited = 0
        self.snapshots = SnapshotStore()
        self.row_cache.clear()
        with self._lock:
            #: (path, decoded query) of the latest OData requests since the last reset (the platform log omits
            #: queries; bounded so a long-running sandbox does not grow).
            self.queries: deque[tuple[str, str]] = deque(maxlen=10_000)
        self.server_page_size = DEFAULT_SERVER_PAGE_SIZE
        self.repeat_next_link = False
        self.ignore_skip = False
        #: ``$expand`` is accepted but navigation properties stay ``__deferred`` (a server that did not expand).
        self.expand_ignored = False
        #: Inline collections longer than this are cut with a ``__next`` link (legal v2 JSON verbose, MS-ODATA
        #: 2.2.6.3.9.1): a server that pages its expansions.
        self.expand_page_size: int | None = None
        #: Rewrites each inline ``__next`` as written (a reverse proxy or ``sap-client`` alias naming another
        #: host, or a relative link: both legal on the wire, review27e H1); None keeps the absolute link.
        self.inline_next_link: Callable[[str], str] | None = None
        self.insert_at = 0
        self.insert_key = None
        #: Called with (path, query) before an OData request is served (others' changes while a client pages).
        self.before_request: Callable[[str, dict[str, str]], None] | None = None
        self.shuffle_ties = False

    def service(self, name: str) -> Service:
        return next(s for s in self.services.values() if s.name == name)

    # --- request plumbing ---------------------------------------------------------------------------------------

    def _service_of(self, request: Request) -> Service:
        params = request.path_params
        if "service" in params:
            path = f"{V2_ROOT}/{params['service']}"
        else:
            path = f"/sap/opu/odata4/sap/{params['group']}/srvd_a2x/sap/{params['name']}/{params['version']}"
        service = self.services.get(path)
        if service is None:
            raise S4Error(
                404, "/IWFND/MED/170", f"No service found for namespace '/SAP/', name '{path.rsplit('/', 1)[-1]}'"
            )
        return service

    def _check_client(self, request: Request) -> Response | None:
        """The ICF refuses an unknown client before anyone logs on (HTML, not OData)."""
        client = request.query_params.get("sap-client")
        if client is not None and client != SAP_CLIENT:
            page = f"<html><head><title>Logon Error Message</title></head><body><p>Client {client} is not available in this system</p></body></html>"  # noqa: E501
            return Response(page, status_code=401, media_type="text/html")
        return None

    def _authorised(self, request: Request) -> str:
        header = request.headers.get("authorization", "")
        scheme, _, value = header.partition(" ")
        if scheme.lower() == "basic":
            try:
                user, _, password = base64.b64decode(value, validate=True).decode().partition(":")
            except (binascii.Error, UnicodeDecodeError):
                user, password = "", ""
            if user.upper() == COMM_USER and password == COMM_PASSWORD:
                return COMM_USER
        elif scheme.lower() == "bearer":
            token = self.ctx.tokens.check(self.product_id, value)
            if token is not None:
                return token.subject
        raise S4Error(401, "/IWFND/CM_CONSUMER/401", "Logon failed: user or password incorrect, or token expired")

    def _guard(handler: Callable[..., Response]) -> Callable[..., Any]:  # type: ignore[misc]
        """sap-client, authentication, then Gateway-shaped errors for anything the request got wrong."""

        async def wrapped(self: S4HanaEmulator, request: Request) -> Response:
            refused = self._check_client(request)
            if refused is not None:
                return refused
            v4 = "group" in request.path_params
            with self._lock:
                self.queries.append((request.url.path, unquote(request.url.query)))
            if self.before_request is not None:
                self.before_request(request.url.path, dict(request.query_params))
            try:
                self._authorised(request)
                return handler(self, request)
            except ODataRequestError as exc:
                error = exc if isinstance(exc, S4Error) else from_filter_error(exc)
                body = error.body_v4() if v4 else error.body()
                return JSONResponse(body, status_code=error.status)

        return wrapped

    @staticmethod
    def _set_of(service: Service, request: Request) -> S4Set:
        name = request.path_params.get("entity", "")
        if "(" in name:
            raise S4Error(400, "/IWBEP/CM_MGW_RT/021", "Reads by key are not emulated; use $filter on the keys")
        s4set = service.sets.get(name)
        if s4set is None:
            raise S4Error(404, "/IWBEP/CM_MGW_RT/021", f"Resource not found for segment '{name}'")
        return s4set

    # --- handlers -----------------------------------------------------------------------------------------------

    @_guard
    def _service_document(self, request: Request) -> Response:
        service = self._service_of(request)
        return JSONResponse({"d": {"EntitySets": list(service.sets)}})

    @_guard
    def _count(self, request: Request) -> Response:
        service = self._service_of(request)
        s4set = self._set_of(service, request)
        if s4set.aggregate:
            rows = self._aggregated(service, s4set, request, self._select(s4set, request.query_params.get("$select")))
            return Response(str(len(rows)), media_type="text/plain")
        return Response(str(len(self._matching(service, s4set, request))), media_type="text/plain")

    @staticmethod
    def _select(s4set: S4Set, text: str | None) -> list[str] | None:
        """``$select`` checked against the set (Gateway answers an unknown property with 400); ``*`` on an
        analytical set is every property."""
        select = [s.strip() for s in text.split(",")] if text else None
        if select is not None and s4set.aggregate and "*" in select:
            return None
        navs = {nav.name for nav in s4set.navs}
        for name in select or []:
            if name not in s4set.entity.by_name and name not in navs:
                raise S4Error(400, "/IWBEP/CM_MGW_RT/022", f"Property '{name}' is invalid")
        return select

    def _aggregated(
        self, service: Service, s4set: S4Set, request: Request, select: list[str] | None
    ) -> list[dict[str, Any]]:
        """An analytical set's answer (``aggregate_rows`` over every posted line), kept per (filter, order, select,
        data version) like ``_matching``."""
        params = request.query_params
        if self.shuffle_ties:  # another order of ties per window: nothing kept, the salt is the request's $skip
            salt = self._int(params.get("$skip"), "$skip") or 0
            lines = (self._resolve(s4set, None, i) for i in range(self._natural_count(s4set)))
            return aggregate_rows(
                s4set.entity, lines, select, params.get("$filter"), params.get("$orderby"), tie_salt=salt
            )
        key = ("aggregate", service.path, s4set.entity.name, params.get("$filter"), params.get("$orderby"),
               tuple(select or ()), select is None)  # fmt: skip
        kept = self.row_cache.rows(key, self._data_version())
        if kept is not None and 0 in kept:
            return list(kept[0])
        lines = (self._resolve(s4set, None, i) for i in range(self._natural_count(s4set)))
        found = aggregate_rows(s4set.entity, lines, select, params.get("$filter"), params.get("$orderby"))
        if kept is not None:
            kept[0] = list(found)
        return found

    @_guard
    def _collection(self, request: Request) -> Response:
        service = self._service_of(request)
        if request.path_params.get("entity") == "$metadata":
            return Response(self._metadata[service.path], media_type="application/xml")
        s4set = self._set_of(service, request)
        entity = s4set.entity
        params = request.query_params
        if service.version == 2 and params.get("$format", "json").lower() != "json":
            raise S4Error(400, "/IWBEP/CM_MGW_RT/020", "Only $format=json is emulated")
        expand = self._expand_tree(service, s4set, params.get("$expand"))
        select = self._select(s4set, params.get("$select"))
        top = self._int(params.get("$top"), "$top")
        skip = 0 if self.ignore_skip else (self._int(params.get("$skip"), "$skip") or 0)
        token = params.get("$skiptoken")
        offset, snapshot = self._decode_token(token) if token else (skip, None)
        end = None if top is None else skip + top
        page_size = self.server_page_size
        prefer = request.headers.get("prefer", "")
        if service.version >= 4 and "odata.maxpagesize=" in prefer:
            asked = prefer.split("odata.maxpagesize=", 1)[1].split(",")[0].strip()
            if asked.isdigit() and int(asked) > 0:
                page_size = min(page_size, int(asked))

        identities: list[int | dict[str, Any]] | None = None
        filtered = bool(params.get("$filter") or params.get("$orderby")) or s4set.aggregate
        if snapshot:
            identities = self.snapshots.get(snapshot)
        elif s4set.aggregate:
            identities = list(self._aggregated(service, s4set, request, select))
        elif filtered:
            identities = self._matching(service, s4set, request)
        if s4set.aggregate and select is not None:
            # The generated key and each selected measure's unit come with every row.
            units = [getattr(entity.by_name[n], "unit", None) for n in select]
            select = [*select, *(n for n in (*entity.keys, *units) if n and n not in select)]
        total = len(identities) if identities is not None else self._natural_count(s4set)
        stop = min(total, end if end is not None else total, offset + page_size)
        picked = range(offset, max(offset, stop))
        kept = None if expand or s4set.aggregate else self._kept_rows(service, s4set, request, select)
        if kept is None:
            rows = [r for i in picked if (r := self._resolve(s4set, identities, i)) is not None]
        more = stop < (min(total, end) if end is not None else total)
        next_token = None
        if more:
            if identities is not None and snapshot is None and filtered:
                snapshot = self.snapshots.create(identities)
            next_token = self._encode_token(skip if self.repeat_next_link else stop, snapshot)
        elif snapshot:
            self.snapshots.drop(snapshot)
        link_params = [(k, v) for k, v in params.multi_items() if k != "$skiptoken"]
        if next_token:
            link_params.append(("$skiptoken", next_token))
        query = urlencode(link_params, safe="$/,():'", quote_via=quote)
        if kept is not None:
            return self._page_from_kept(service, s4set, request, kept, identities, picked, total, next_token, query)
        if service.version == 2:
            service_url = str(request.base_url).rstrip("/") + service.path
            results = [self._expanded_v2(service, s4set, row, service_url, expand) for row in rows]
            if select is not None:
                results = [
                    {k: v for k, v in r.items() if k in select or k == "__metadata" or k in expand} for r in results
                ]
            body: dict[str, Any] = {}
            if params.get("$inlinecount") == "allpages":
                body["__count"] = str(total)  # only when asked for, ahead of the results (Gateway's order)
            body["results"] = results
            if next_token:
                body["__next"] = f"{service_url}/{entity.name}?{query}"
            return JSONResponse({"d": body})
        ieee = "ieee754compatible=true" in request.headers.get("accept", "").lower().replace(" ", "")
        values = [serialize_v4(s4set, row, ieee754_compatible=ieee) for row in rows]
        if select is not None:
            values = [{k: v for k, v in r.items() if k in select} for r in values]
        v4_body: dict[str, Any] = {"@odata.context": f"$metadata#{entity.name}", "@odata.metadataEtag": 'W/"20260105"'}
        if params.get("$count") == "true":
            v4_body["@odata.count"] = total
        v4_body["value"] = values
        if next_token:
            v4_body["@odata.nextLink"] = f"{entity.name}?{query}"
        media = "application/json;odata.metadata=minimal" + (";IEEE754Compatible=true" if ieee else "")
        return Response(dumps_v4(v4_body), media_type=media)

    def _expand_tree(self, service: Service, s4set: S4Set, text: str | None) -> dict[str, Any]:
        """``$expand=to_A,to_A/to_B`` as a tree of navigation names, each checked against its set's navigation
        properties (Gateway answers an unknown one with 400). v4 ``$expand`` is not emulated."""
        tree: dict[str, Any] = {}
        if not text:
            return tree
        if service.version >= 4:
            raise S4Error(400, "/IWBEP/CM_MGW_RT/020", "$expand is not emulated for OData v4 services")
        for path in (p.strip() for p in text.split(",")):
            current, node = s4set, tree
            for segment in path.split("/"):
                nav = next((n for n in current.navs if n.name == segment), None)
                if nav is None or nav.related is None:
                    raise S4Error(
                        400, "/IWBEP/CM_MGW_RT/021", f"Property '{segment}' at offset '0' has invalid value '{path}'"
                    )
                node = node.setdefault(segment, {})
                current = service.sets[nav.target]
        return tree

    def _expanded_v2(
        self, service: Service, s4set: S4Set, row: dict[str, Any], service_url: str, expand: dict[str, Any]
    ) -> dict[str, Any]:
        """A v2 entry with the ``expand`` tree's navigation properties inline (``{"results": [...]}`` for a
        collection, as JSON verbose writes them); ``expand_ignored`` leaves them deferred (a server that did not
        expand)."""
        out = serialize_v2(service, s4set, row, service_url)
        if self.expand_ignored:
            return out
        for nav in s4set.navs:
            if nav.name not in expand or nav.related is None:
                continue
            target = service.sets[nav.target]
            children = [
                self._expanded_v2(service, target, child, service_url, expand[nav.name]) for child in nav.related(row)
            ]
            if not nav.many:
                out[nav.name] = children[0] if children else None
                continue
            out[nav.name] = self._inline_page(out["__metadata"]["uri"], nav.name, children, 0, expand[nav.name])
        return out

    def _inline_page(
        self, uri: str, nav: str, children: list[dict[str, Any]], start: int, expand: dict[str, Any]
    ) -> dict[str, Any]:
        """``children[start:]`` as an inline (or navigation) collection: whole, or cut after ``expand_page_size``
        rows with a ``__next`` to the navigation's URL that carries the nested ``$expand`` on."""
        page = self.expand_page_size
        if page is None or len(children) - start <= page:
            return {"results": children[start:]}
        query = [("$skiptoken", str(start + page)), ("$format", "json")]
        if expand:
            query.append(("$expand", ",".join(_expand_paths(expand))))
        link = f"{uri}/{nav}?{urlencode(query, safe='$/,', quote_via=quote)}"
        if self.inline_next_link is not None:
            link = self.inline_next_link(link)
        return {"results": children[start : start + page], "__next": link}

    def _navigation(self, request: Request) -> Response:
        """``A_PurchaseOrder('PO1')/to_PurchaseOrderItem``: the related rows of one row, paged as an inline
        collection is (``expand_page_size``, ``$skiptoken`` the offset), nested ``$expand`` as on the collection.
        Only what an inline ``__next`` link asks for: other reads by key are not emulated."""
        service = self._service_of(request)
        name, _, key = request.path_params["entity"].partition("(")
        s4set = service.sets.get(name)
        nav = next((n for n in s4set.navs if n.name == request.path_params["nav"]), None) if s4set else None
        if s4set is None or nav is None or nav.related is None or service.version != 2 or not key.endswith(")"):
            raise S4Error(404, "/IWBEP/CM_MGW_RT/021", f"Resource not found for segment '{request.path_params['nav']}'")
        params = request.query_params
        if params.get("$format", "json").lower() != "json":
            raise S4Error(400, "/IWBEP/CM_MGW_RT/020", "Only $format=json is emulated")
        wanted = dict(
            (k.strip(), v.strip().strip("'")) if "=" in part else (s4set.entity.keys[0], part.strip().strip("'"))
            for part in key[:-1].split(",")
            for k, _, v in [part.partition("=")]
        )
        rows = (self._resolve(s4set, None, i) for i in range(self._natural_count(s4set)))
        row = next((r for r in rows if r and all(str(r.get(k)) == v for k, v in wanted.items())), None)
        if row is None:
            raise S4Error(404, "/IWBEP/CM_MGW_RT/021", f"Resource not found for segment '{name}({key}'")
        target = service.sets[nav.target]
        expand = self._expand_tree(service, target, params.get("$expand"))
        service_url = str(request.base_url).rstrip("/") + service.path
        uri = serialize_v2(service, s4set, row, service_url)["__metadata"]["uri"]
        children = [self._expanded_v2(service, target, child, service_url, expand) for child in nav.related(row)]
        start = self._int(params.get("$skiptoken"), "$skiptoken") or 0
        return JSONResponse({"d": self._inline_page(uri, nav.name, children, start, expand)})

    def _data_version(self) -> tuple[Any, ...]:
        with self._lock:
            return (self.ctx.company.data_version(), self._inserted, self._deleted, self._edited)

    def _kept_rows(
        self, service: Service, s4set: S4Set, request: Request, select: list[str] | None
    ) -> dict[int, Any] | None:
        """Serialized generated rows for this request's shape (None with the cache off)."""
        ieee = "ieee754compatible=true" in request.headers.get("accept", "").lower().replace(" ", "")
        shape = (
            "rows",
            service.path,
            s4set.entity.name,
            str(request.base_url),
            tuple(select or ()),
            select is None,
            ieee,
        )
        return self.row_cache.rows(shape, self._data_version())

    def _page_from_kept(
        self,
        service: Service,
        s4set: S4Set,
        request: Request,
        kept: dict[int, Any],
        identities: list[Any] | None,
        picked: range,
        total: int,
        next_token: str | None,
        query: str,
    ) -> Response:
        """The page ``_collection`` renders, each generated row serialized once per (shape, data version)."""
        params = request.query_params
        entity = s4set.entity
        select = [s.strip() for s in params["$select"].split(",")] if params.get("$select") else None
        ieee = "ieee754compatible=true" in request.headers.get("accept", "").lower().replace(" ", "")
        service_url = str(request.base_url).rstrip("/") + service.path
        extra = len(entity.extra)

        def render(row: dict[str, Any]) -> str:
            if service.version == 2:
                result = serialize_v2(service, s4set, row, service_url)
                if select is not None:
                    result = {k: v for k, v in result.items() if k in select or k == "__metadata"}
                return json_bytes(result).decode()
            value = serialize_v4(s4set, row, ieee754_compatible=ieee)
            if select is not None:
                value = {k: v for k, v in value.items() if k in select}
            return dumps_v4(value)

        parts: list[str] = []
        for i in picked:
            ident = identities[i] if identities is not None else i
            generated = ident - extra if isinstance(ident, int) and ident >= extra else None
            text = None if generated is None else kept.get(generated)
            if text is None:
                row = self._resolve(s4set, identities, i)
                text = "" if row is None else render(row)
                if generated is not None and self.row_cache.room_for(len(text) + 1):
                    kept[generated] = text
            if text:
                parts.append(text)
        if service.version == 2:
            head = ",".join(parts)
            count = ""
            if params.get("$inlinecount") == "allpages":
                count = '"__count":' + json_bytes(str(total)).decode() + ","
            tail = ""
            if next_token:
                tail += ',"__next":' + json_bytes(f"{service_url}/{entity.name}?{query}").decode()
            body = ('{"d":{' + count + '"results":[' + head + "]" + tail + "}}").encode()
            return Response(body, media_type="application/json")
        v4_head: dict[str, Any] = {"@odata.context": f"$metadata#{entity.name}", "@odata.metadataEtag": 'W/"20260105"'}
        if params.get("$count") == "true":
            v4_head["@odata.count"] = total
        text = dumps_v4(v4_head)[:-1] + ', "value": [' + ", ".join(parts) + "]"
        if next_token:
            text += ', "@odata.nextLink": ' + json.dumps(f"{entity.name}?{query}", ensure_ascii=False)
        media = "application/json;odata.metadata=minimal" + (";IEEE754Compatible=true" if ieee else "")
        return Response(text + "}", media_type=media)

    def _natural_count(self, s4set: S4Set) -> int:
        return len(s4set.entity.extra) + s4set.entity.count()

    def _resolve(self, s4set: S4Set, identities: list[Any] | None, i: int) -> dict[str, Any] | None:
        ident = identities[i] if identities is not None else i
        if isinstance(ident, dict):
            return ident
        extra = s4set.entity.extra
        if ident < len(extra):
            return extra[ident]
        return s4set.entity.row(ident - len(extra))

    def _matching(self, service: Service, s4set: S4Set, request: Request) -> list[Any]:
        """Identities (row indexes) of the rows the request's $filter keeps, in $orderby order if given; kept per
        (filter, order, data version) once a scan succeeded (a refused filter is refused again)."""
        params = request.query_params
        key = ("match", service.path, s4set.entity.name, params.get("$filter"), params.get("$orderby"))
        kept = self.row_cache.rows(key, self._data_version())
        if kept is not None and 0 in kept:
            return list(kept[0])
        found = self._scan(service, s4set, request)
        if kept is not None:
            kept[0] = list(found)
        return found

    def _scan(self, service: Service, s4set: S4Set, request: Request) -> list[Any]:
        params = request.query_params
        text = params.get("$filter")
        try:
            if text and service.version >= 4:
                text = v4_filter_to_v2(text)
            predicate = parse_filter(text, s4set.entity) if text else None
            order = parse_orderby(params["$orderby"], s4set.entity) if params.get("$orderby") else None
        except ODataRequestError as exc:
            raise from_filter_error(exc) from None
        matched: list[tuple[int, dict[str, Any]]] = []
        for i in range(self._natural_count(s4set)):
            row = self._resolve(s4set, None, i)
            if row is not None and (predicate is None or predicate(row)):
                matched.append((i, row))
        if order:
            positions = {id(row): i for i, row in matched}
            return [positions[id(row)] for row in sort_rows([row for _, row in matched], order)]
        return [i for i, _ in matched]

    @staticmethod
    def _int(value: str | None, name: str) -> int | None:
        if value is None:
            return None
        if not value.isdigit():
            raise S4Error(400, "/IWBEP/CM_MGW_RT/022", f"Invalid system query option value {name}={value}")
        return int(value)

    @staticmethod
    def _encode_token(offset: int, snapshot: str | None) -> str:
        return encode_skiptoken(offset, snapshot)

    @staticmethod
    def _decode_token(token: str) -> tuple[int, str | None]:
        try:
            return decode_skiptoken(token)
        except ODataRequestError:
            raise S4Error(400, "/IWBEP/CM_MGW_RT/022", "Invalid $skiptoken") from None

    # --- OAuth 2.0 client credentials ---------------------------------------------------------------------------

    async def _token(self, request: Request) -> Response:
        fields = dict(parse_qsl((await request.body()).decode("utf-8", "replace"), keep_blank_values=True))
        client_id, secret = fields.get("client_id"), fields.get("client_secret")
        scheme, _, value = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() == "basic":
            try:
                client_id, _, secret = base64.b64decode(value, validate=True).decode().partition(":")
            except (binascii.Error, UnicodeDecodeError):
                client_id, secret = None, None
        if fields.get("grant_type") != "client_credentials":
            return JSONResponse({"error": "unsupported_grant_type"}, status_code=400)
        if client_id != OAUTH_CLIENT_ID or secret != OAUTH_CLIENT_SECRET:
            return JSONResponse(
                {"error": "invalid_client", "error_description": "Client authentication failed"}, status_code=401
            )
        token = self.ctx.tokens.issue(self.product_id, COMM_USER, ttl=TOKEN_TTL)
        return JSONResponse(
            {"access_token": token.token, "token_type": "Bearer", "expires_in": int(TOKEN_TTL), "scope": "ZAPI"}
        )

    # --- SOAP-RFC -------------------------------------------------------------------------------------------------

    async def _rfc(self, request: Request) -> Response:
        refused = self._check_client(request)
        if refused is not None:
            return refused
        try:
            self._authorised(request)
        except S4Error:
            return Response("Logon failed", status_code=401, media_type="text/plain")
        try:
            message = parse_envelope(await request.body())
        except Exception:  # noqa: BLE001 - any unreadable request is the client's fault
            return self._rfc_fault("Client", "The request is not a SOAP envelope")
        payload = message.body
        if payload is None or payload.tag.split("}")[0].lstrip("{") != RFC_NS:
            return self._rfc_fault("Client", f"Payload must be an RFC function in namespace {RFC_NS}")
        function = soap_local_name(payload)
        handler = _BAPIS.get(function)
        if handler is None:
            return self._rfc_fault("Client", f"Function module {function} not found")
        result = handler(self, decode(payload))
        response = element(f"{{{RFC_NS}}}{function}.Response", *(encode(k, v) for k, v in result.items()),
                           nsmap={"urn": RFC_NS})  # fmt: skip
        return Response(build_envelope(response, version=SOAP11), media_type="text/xml; charset=utf-8")

    @staticmethod
    def _rfc_fault(code: str, text: str) -> Response:
        soap = SOAP11.namespace
        fault = element(f"{{{soap}}}Fault", element("faultcode", f"soap-env:{code}"), element("faultstring", text))
        return Response(build_envelope(fault, version=SOAP11), status_code=500, media_type="text/xml; charset=utf-8")

    def _po_getdetail(self, params: dict[str, Any]) -> dict[str, Any]:
        number = str(params.get("PURCHASEORDER") or "").strip()
        items = self.data.po_items_of(number)
        if not items:
            message = {"TYPE": "E", "ID": "06", "NUMBER": "019", "MESSAGE": f"Purchase order {number} does not exist",
                       "LOG_NO": "", "LOG_MSG_NO": "000000", "MESSAGE_V1": number, "PARAMETER": "PURCHASEORDER",
                       "ROW": "0", "FIELD": "", "SYSTEM": "S4HCLNT100"}  # fmt: skip
            return {"POHEADER": {}, "POITEM": [], "RETURN": [message]}
        header = self.data.purchase_order(int(number[2:]) - 1)
        rows = [self.data.purchase_order_item(k) for k in items]
        return {
            "POHEADER": {
                "PO_NUMBER": number, "COMP_CODE": header["CompanyCode"], "DOC_TYPE": "NB", "VENDOR": header["Supplier"],
                "CURRENCY": header["DocumentCurrency"], "DOC_DATE": header["PurchaseOrderDate"].date().isoformat(),
                "PURCH_ORG": "1010", "PUR_GROUP": "001", "CREATED_BY": header["CreatedByUser"],
            },
            "POITEM": [
                {"PO_ITEM": r["PurchaseOrderItem"], "SHORT_TEXT": r["PurchaseOrderItemText"], "PLANT": "1010",
                 "QUANTITY": str(r["OrderQuantity"]), "PO_UNIT": r["PurchaseOrderQuantityUnit"],
                 "NET_PRICE": str(r["NetPriceAmount"]), "ACCTASSCAT": "K"}
                for r in rows
            ],
            "RETURN": [],
        }  # fmt: skip

    def _companycode_getlist(self, params: dict[str, Any]) -> dict[str, Any]:
        entities = self.ctx.company.legal_entities
        return {
            "COMPANYCODE_LIST": [{"COMP_CODE": e.code, "COMP_NAME": e.name} for e in entities],
            "RETURN": {"TYPE": "", "CODE": "", "MESSAGE": "", "LOG_NO": "", "LOG_MSG_NO": "000000"},
        }


_BAPIS: dict[str, Callable[[S4HanaEmulator, dict[str, Any]], dict[str, Any]]] = {
    "BAPI_PO_GETDETAIL1": S4HanaEmulator._po_getdetail,
    "BAPI_COMPANYCODE_GETLIST": S4HanaEmulator._companycode_getlist,
}


__all__ = ["COMM_PASSWORD", "COMM_USER", "OAUTH_CLIENT_ID", "OAUTH_CLIENT_SECRET", "SAP_CLIENT", "S4HanaEmulator"]


def _expand_paths(tree: dict[str, Any], prefix: str = "") -> list[str]:
    """An ``$expand`` tree back as its paths: ``{"a": {"b": {}}}`` -> ``a, a/b``."""
    return [p for name, sub in tree.items() for p in (f"{prefix}{name}", *_expand_paths(sub, f"{prefix}{name}/"))]
