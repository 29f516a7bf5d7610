"""Every response of one cold read, one line each (method, URL, status, type, length, sha256 of the body), so two
builds of the sandbox can be compared at a scale the served-bytes golden does not reach (issue 14 goal 1):

    .venv/bin/python bench/emulator_page_digests.py oracle_hcm workers 100000 /tmp/new.txt
    PYTHONPATH=/work/base/sandbox/src:/work/base/shared/src \\
        .venv/bin/python bench/emulator_page_digests.py oracle_hcm workers 100000 /tmp/base.txt
    cmp /tmp/base.txt /tmp/new.txt

The reader is the bench's ceiling (``bench/ceilings/<product>.py``) against a fresh in-process sandbox on seed 42.
As in ``sandbox/tests/test_served_bytes_golden.py``, issued tokens, token bytes and uuid4s come from a counter and the
sandbox's ephemeral URL is blanked; a token answer's ``issued_at`` (the wall clock, in ms) is zeroed. So equal builds
write equal files. Figures only: nothing here is a test.
"""

from __future__ import annotations

import hashlib
import itertools
import re
import secrets
import sys
import uuid
from pathlib import Path
from typing import Any

import requests

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))
import ceilings  # noqa: E402 - needs bench/ on sys.path first

_ISSUED_AT = re.compile(rb'"issued_at":\s*"\d+"')


def main(argv: list[str]) -> int:
    if len(argv) != 4:
        raise SystemExit("usage: emulator_page_digests.py PRODUCT STREAM SCALE OUT")
    product, stream_arg, scale, out = argv[0], argv[1], int(argv[2]), Path(argv[3])
    from xlr8_sandbox.platform.server import run_sandbox

    module = ceilings.load(product)
    stream = ceilings.resolve_stream(module, stream_arg)
    counter = itertools.count()
    secrets.token_hex = lambda n=32: f"{next(counter):0{2 * (n or 32)}x}"  # type: ignore[assignment]
    secrets.token_urlsafe = lambda n=32: f"tok{next(counter):0{n or 32}d}"  # type: ignore[assignment]
    secrets.token_bytes = lambda n=32: next(counter).to_bytes(n or 32, "big")  # type: ignore[assignment]
    uuid.uuid4 = lambda: uuid.UUID(int=next(counter))
    lines: list[str] = []
    original = requests.Session.send
    with run_sandbox([product], seed=42, scale=scale) as sandbox:
        url = sandbox.url(product)

        def send(self: requests.Session, request: Any, **kwargs: Any) -> requests.Response:
            response = original(self, request, **kwargs)
            body = _ISSUED_AT.sub(b'"issued_at":"0"', response.content.replace(url.encode(), b"URL"))
            lines.append(
                f"{request.method} {request.url.replace(url, 'URL')} {response.status_code} "
                f"{response.headers.get('content-type')} {len(body)} {hashlib.sha256(body).hexdigest()}"
            )
            return response

        requests.Session.send = send  # type: ignore[method-assign]
        try:
            rows = sum(1 for _ in module.read(url, sandbox.emulator(product).test_credentials(), stream))
        finally:
            requests.Session.send = original  # type: ignore[method-assign]
    out.write_text("\n".join(lines) + "\n")
    print(f"{product} {stream} scale {scale:,}: {rows:,} rows, {len(lines)} responses -> {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
