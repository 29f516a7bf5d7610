"""The emulators' connections are TCP_NODELAY, as a vendor's front end (and uvicorn bound by host and port) serves:
the sandbox binds its own listening socket, and one made without ``IPPROTO_TCP`` kept asyncio from setting it on the
connections it accepts. Nagle then held a response's body until the client acknowledged its headers, and a client
on a reused keep-alive connection delays that acknowledgement by up to 40 ms: a 0 ms page read 40 ms slower whenever
it went over a connection an earlier call had opened (the environment's CA bundle for data calls, audit25d F9, put
Oracle's page 1 on the describe call's connection and the read widened as if the tenant were far away)."""

from __future__ import annotations

import socket

import requests

from xlr8_sandbox.platform.server import Sandbox


def test_every_accepted_connection_is_tcp_nodelay(sandbox: Sandbox) -> None:
    server = sandbox.products["toy"].server
    with requests.Session() as client:
        for _ in range(2):  # the second over the first's keep-alive connection
            assert client.get(f"{sandbox.url('toy')}/api/v1/employees", timeout=5).status_code == 401
        connections = list(server.server_state.connections)
        assert connections, "the client's keep-alive connection is open"
        for connection in connections:
            sock = connection.transport.get_extra_info("socket")
            assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
