"""Serve product emulators on 127.0.0.1, one port per product (its instance URL), in background threads.

``run_sandbox(["salesforce"], seed=42, scale=100)`` is how tests, the demo and the bench start emulators:
ephemeral ports by default (tests never clash), fixed ``DEFAULT_PORTS`` for the ``sandbox`` Meltano environment.
Every product app is wrapped by ``SandboxMiddleware`` (request log, latency, faults) and serves the admin API
under ``/__sandbox/`` (see ``xlr8_sandbox.platform.admin``). In Python::

    with run_sandbox(["salesforce"], scale=100, latency_ms=0, faults="flaky") as sandbox:
        sandbox.faults.add("salesforce", "/services/data/*/query*", FaultSpec("status", status=503, times=2))
        sandbox.ctx.clock.advance(timedelta(days=1))
        sandbox.requests("salesforce")   # what the product was asked
"""

from __future__ import annotations

import contextlib
import gc
import importlib
import socket
import threading
import typing as t
from collections.abc import Iterator
from dataclasses import dataclass, field

import uvicorn
from starlette.applications import Starlette

from xlr8_sandbox.company import Company
from xlr8_sandbox.platform.admin import build_admin_app, reset_sandbox
from xlr8_sandbox.platform.emulator import ProductEmulator, SandboxContext
from xlr8_sandbox.platform.faults import FaultRegistry
from xlr8_sandbox.platform.middleware import SandboxMiddleware
from xlr8_sandbox.platform.requestlog import LoggedRequest

#: Fixed ports used by meltano.yml's ``sandbox`` environment and ``xlr8-sandbox``.
DEFAULT_PORTS: dict[str, int] = {
    "salesforce": 18101,
    "successfactors": 18102,
    "workday": 18103,
    "ukg_pro": 18104,
    "ukg_wfm": 18105,
    "ukg_ready": 18106,
    "s4hana": 18107,
    "oracle_hcm": 18108,
    "oracle_erp": 18109,
    "common": 18110,
}


def load_emulator(product_id: str) -> type[ProductEmulator]:
    from xlr8_sandbox.products import EMULATORS

    if product_id not in EMULATORS:
        raise KeyError(f"no emulator for product {product_id!r}; available: {', '.join(sorted(EMULATORS))}")
    module, _, cls = EMULATORS[product_id].partition(":")
    return getattr(importlib.import_module(module), cls)


@dataclass
class RunningProduct:
    emulator: ProductEmulator
    url: str
    server: uvicorn.Server
    thread: threading.Thread


@dataclass
class Sandbox:
    ctx: SandboxContext
    products: dict[str, RunningProduct] = field(default_factory=dict)

    def url(self, product_id: str) -> str:
        return self.products[product_id].url

    def emulator(self, product_id: str) -> ProductEmulator:
        return self.products[product_id].emulator

    @property
    def faults(self) -> FaultRegistry:
        return self.ctx.faults

    def apps(self) -> dict[str, t.Any]:
        """Each product's URL and the ASGI app served there (``xlr8_kit.testing.in_process``: the same answers
        without the socket)."""
        return {running.url: running.server.config.app for running in self.products.values()}

    def requests(self, product_id: str | None = None, path_prefix: str = "") -> list[LoggedRequest]:
        """Requests the products answered (bounded log), oldest first."""
        return self.ctx.requests.entries(product_id, path_prefix)

    def reset(self) -> None:
        """No faults or latency, empty request log, no inserted records, clock at its start, every emulator's own
        ``reset()`` done."""
        reset_sandbox(self.ctx)


def build_app(emulator: ProductEmulator) -> SandboxMiddleware:
    """The product's routes behind the platform layer (logging, latency, faults, admin API)."""
    return SandboxMiddleware(Starlette(routes=emulator.routes()), emulator=emulator, admin=build_admin_app(emulator))


@contextlib.contextmanager
def run_sandbox(
    products: list[str],
    *,
    seed: int = 42,
    scale: int = 100,
    fixed_ports: bool = False,
    ctx: SandboxContext | None = None,
    latency_ms: float = 0.0,
    faults: str | None = None,
    ports: dict[str, int] | None = None,
    port_wait: float = 0.0,
) -> Iterator[Sandbox]:
    """Start the given products' emulators; stop them on exit.

    ``latency_ms`` delays every request of every product; ``faults`` names a profile from
    ``xlr8_sandbox.platform.faults.PROFILES``; ``ports`` overrides ports per product (0 = ephemeral).
    With ``fixed_ports`` one sandbox at a time holds ``DEFAULT_PORTS`` (an inter-process lock): another fails at
    once, or waits up to ``port_wait`` seconds for it to finish.
    """
    with contextlib.ExitStack() as stack:
        if fixed_ports:
            stack.enter_context(fixed_ports_lock(port_wait))
        with _serve(products, seed, scale, fixed_ports, ctx, latency_ms, faults, ports) as sandbox:
            yield sandbox


#: The standalone server's youngest-generation threshold (CPython's default 700): a cold read allocates a few
#: hundred thousand short-lived rows and dicts, and at 700 the collector ran ~1,400 times a 100,000-worker read.
SERVING_GC_THRESHOLD = 10_000


def tune_collector_for_serving() -> None:
    """For a process that only serves (``xlr8-sandbox``, the bench's emulator child), once the emulators are up: what
    start-up built (modules, routes, the company's tables) lives as long as the process, so the collector's full
    passes need not walk it again on every read (``gc.freeze``), and its youngest generation is collected every
    ``SERVING_GC_THRESHOLD`` allocations. Not in ``run_sandbox``: tests, the demo and the bench run it inside their
    own processes, whose collector is theirs."""
    gc.collect()
    gc.freeze()
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(SERVING_GC_THRESHOLD, older, oldest)


@contextlib.contextmanager
def fixed_ports_lock(wait: float) -> Iterator[None]:
    """Serialise sandboxes on the fixed ports across processes (demo, bench, tests)."""
    import fcntl
    import os
    import tempfile
    import time
    from pathlib import Path

    path = Path(tempfile.gettempdir()) / "xlr8-sandbox-fixed-ports.lock"
    with path.open("a+") as handle:
        deadline = time.monotonic() + wait
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    handle.seek(0)
                    holder = handle.read().strip() or "unknown"
                    raise OSError(
                        f"another sandbox holds the fixed sandbox ports (pid {holder}); stop it or use ephemeral ports"
                    ) from None
                time.sleep(0.5)
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@contextlib.contextmanager
def _serve(
    products: list[str],
    seed: int,
    scale: int,
    fixed_ports: bool,
    ctx: SandboxContext | None,
    latency_ms: float,
    faults: str | None,
    ports: dict[str, int] | None,
) -> Iterator[Sandbox]:
    context = ctx or SandboxContext(company=Company(seed=seed, scale=scale))
    if faults:
        context.faults.apply_profile(faults)
    if latency_ms:
        context.faults.set_latency("*", latency_ms)
    sandbox = Sandbox(ctx=context)
    try:
        for product_id in products:
            emulator = load_emulator(product_id)(context)
            port = (ports or {}).get(product_id, DEFAULT_PORTS.get(product_id, 0) if fixed_ports else 0)
            # IPPROTO_TCP, not 0: asyncio sets TCP_NODELAY only on accepted sockets of that protocol, as a vendor's
            # front end (and uvicorn bound by host and port) has it; without it Nagle held a body behind its headers
            # until a delayed ACK, 40 ms on a reused keep-alive connection (tests/test_server_sockets.py).
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind(("127.0.0.1", port))
            except OSError as exc:
                sock.close()
                raise OSError(
                    f"cannot serve {product_id} on 127.0.0.1:{port} ({exc.strerror}); is another sandbox running?"
                ) from exc
            port = sock.getsockname()[1]
            config = uvicorn.Config(
                build_app(emulator),
                log_level="warning",
                access_log=False,
                lifespan="off",
                log_config=None,
                timeout_graceful_shutdown=2,
                timeout_keep_alive=int(emulator.keep_alive_seconds),
                date_header=not emulator.sandbox_date_header,  # the middleware sends it in sandbox time
            )
            server = uvicorn.Server(config)
            thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
            thread.start()
            sandbox.products[product_id] = RunningProduct(emulator, f"http://127.0.0.1:{port}", server, thread)
        for running in sandbox.products.values():
            while not running.server.started:
                if not running.thread.is_alive():
                    raise RuntimeError(f"emulator {running.emulator.product_id} failed to start")
                threading.Event().wait(0.01)
        yield sandbox
    finally:
        for running in sandbox.products.values():
            running.server.should_exit = True
        for running in sandbox.products.values():
            running.thread.join(timeout=10)
