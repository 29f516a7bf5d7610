"""A recording proxy in front of an emulator: while recording, every request is forwarded and its latest answer kept;
once switched to replay, an identical request (method, path, query, body) is answered from memory, after the
latency set (a request never recorded is forwarded live).

The emulators render every page in Python (a few thousand rows/s), so the wall time of a tap against them measures
the emulator. Behind this proxy a warm-up run records the pages once; the runs that follow measure the client (and
the added per-request latency) alone. The emulator's own URL is rewritten to the proxy's in every answer (token
responses carry ``instance_url``, pages carry next links). Only for deterministic request sequences: a request the
warm-up did not make is forwarded live.

    uv run python bench/replay_proxy.py --upstream http://127.0.0.1:38833 --port 0
    curl -X POST $PROXY/__replay?latency_ms=100     # after the warm-up run; __record goes back to recording
"""

from __future__ import annotations

import argparse
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import requests

#: Request headers that select a different answer for the same URL.
VARY_HEADERS = ("Sforce-Query-Options", "Accept")
HOP_HEADERS = {"connection", "keep-alive", "transfer-encoding", "content-length", "content-encoding", "date", "server"}


class ReplayProxy:
    def __init__(self, upstream: str, latency_ms: float) -> None:
        self.upstream = upstream.rstrip("/")
        self.latency = latency_ms / 1000
        self.cache: dict[tuple[str, str, bytes], tuple[int, list[tuple[str, str]], bytes]] = {}
        self.lock = threading.Lock()
        self.session = requests.Session()
        self.url = ""
        self.hits = 0
        self.misses = 0
        self.replaying = False

    def answer(self, method: str, path: str, headers: dict[str, str], body: bytes) -> tuple[int, list, bytes]:
        # Headers that change the answer (Salesforce's page size travels in one) are part of the request's identity.
        key = (method, path, body + "".join(f"\n{h}: {headers.get(h, '')}" for h in VARY_HEADERS).encode())
        with self.lock:
            cached = self.cache.get(key) if self.replaying else None
        if cached is not None:
            self.hits += 1
            return cached
        self.misses += 1
        sent = {k: v for k, v in headers.items() if k.lower() not in ("host", "content-length", "accept-encoding")}
        upstream_body = body.replace(self.url.encode(), self.upstream.encode())
        response = self.session.request(method, self.upstream + path, headers=sent, data=upstream_body or None)
        content = response.content.replace(self.upstream.encode(), self.url.encode())
        kept = [
            (k, v.replace(self.upstream, self.url)) for k, v in response.headers.items() if k.lower() not in HOP_HEADERS
        ]
        result = (response.status_code, kept, content)
        if not self.replaying:  # a miss while replaying is answered live, never kept (a job status would freeze)
            with self.lock:
                self.cache[key] = result
        return result


def serve(proxy: ReplayProxy, port: int) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:
            pass

        def _handle(self) -> None:
            if self.path.startswith(("/__replay", "/__record")):
                proxy.replaying = self.path.startswith("/__replay")
                query = self.path.partition("?")[2]
                proxy.latency = float(query.partition("latency_ms=")[2] or 0) / 1000 if "latency_ms=" in query else 0
                message = f"replaying={proxy.replaying} latency={proxy.latency} cached={len(proxy.cache)}".encode()
                self.send_response(200)
                self.send_header("Content-Length", str(len(message)))
                self.end_headers()
                self.wfile.write(message)
                return
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            if proxy.latency:
                time.sleep(proxy.latency)
            status, headers, content = proxy.answer(self.command, self.path, dict(self.headers), body)
            self.send_response(status)
            for name, value in headers:
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(content)))
            self.end_headers()
            self.wfile.write(content)

        do_GET = do_POST = do_PATCH = do_DELETE = do_PUT = _handle

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    proxy.url = f"http://127.0.0.1:{server.server_address[1]}"
    return server


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--upstream", required=True)
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    proxy = ReplayProxy(args.upstream, 0.0)
    server = serve(proxy, args.port)
    print(proxy.url, flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
