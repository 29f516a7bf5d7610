"""A local stand-in of the engine's upload API: ``POST /api/upload`` (multipart) and
``GET /api/upload/status/{job_id}``. Jobs report ``processing`` for a few polls, then ``completed`` (or ``failed``).
"""

from __future__ import annotations

import json
import threading
import uuid
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Upload:
    job_id: str
    fields: dict[str, str]
    filename: str
    content: str
    authorization: str | None
    polls: int = 0


@dataclass
class UploadStandIn:
    polls_before_done: int = 2
    fail_jobs: bool = False
    uploads: list[Upload] = field(default_factory=list)
    server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def start(self) -> UploadStandIn:
        standin = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _send(self, code: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self) -> None:
                if self.path != "/api/upload":
                    self._send(404, {"detail": "not found"})
                    return
                body = self.rfile.read(int(self.headers["Content-Length"]))
                message = BytesParser(policy=HTTP).parsebytes(
                    f"Content-Type: {self.headers['Content-Type']}\r\n\r\n".encode() + body
                )
                fields: dict[str, str] = {}
                filename, content = "", ""
                for part in message.iter_parts():
                    name = part.get_param("name", header="content-disposition")
                    payload = part.get_payload(decode=True)
                    if part.get_filename():
                        filename, content = part.get_filename(), payload.decode()
                    else:
                        fields[str(name)] = payload.decode()
                if not filename or "project" not in fields:
                    self._send(422, {"detail": "file and project are required"})
                    return
                upload = Upload(str(uuid.uuid4()), fields, filename, content, self.headers.get("Authorization"))
                standin.uploads.append(upload)
                self._send(200, {"job_id": upload.job_id, "status": "queued"})

            def do_GET(self) -> None:
                prefix = "/api/upload/status/"
                job = next((u for u in standin.uploads if self.path == prefix + u.job_id), None)
                if job is None:
                    self._send(404, {"detail": "unknown job"})
                    return
                job.polls += 1
                if job.polls <= standin.polls_before_done:
                    self._send(200, {"status": "processing"})
                elif standin.fail_jobs:
                    self._send(200, {"status": "failed", "error": "could not parse file"})
                else:
                    self._send(200, {"status": "completed"})

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
