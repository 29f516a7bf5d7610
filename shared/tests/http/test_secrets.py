"""RELIABILITY section D: secrets never reach logs, exceptions, STATE or the audit log; the audit trail itself."""

from __future__ import annotations

import base64
import json
import logging
import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote, quote_plus

import pytest

from xlr8_kit.http.audit import AuditLog
from xlr8_kit.http.errors import AuditLogError, KitHTTPError
from xlr8_kit.http.session import HttpPolicy, ResilientSession
from xlr8_kit.redaction import MASK, RedactingFilter, Redactor
from xlr8_kit.testing.faultserver import FaultServer, RecordedRequest, Reply

HERE = Path(__file__).parent

USERNAME = "demo.user@example.com"
CLIENT_ID = "demo-client-id"
CLIENT_SECRET = "cs-Canary/Secret+9z="
PASSWORD = 'Pa$$ w0rd"Canary\\1'
API_KEY = "ak-Canary?key=7&x"
ACCESS_TOKENS = ["at-Canary.Access-5b1d", "at-Canary.Access-2nd-77aa"]
REFRESH_TOKEN = "rt-Canary.Refresh-8c2e"


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def canary_forms() -> dict[str, str]:
    """Every secret in every form it may take on the way out: plain, base64, URL-encoded, JSON-escaped, Basic."""
    forms: dict[str, str] = {}
    for secret in [CLIENT_SECRET, PASSWORD, API_KEY, REFRESH_TOKEN, *ACCESS_TOKENS]:
        forms[f"plain {secret}"] = secret
        forms[f"base64 {secret}"] = _b64(secret)
        forms[f"urlencoded {secret}"] = quote(secret, safe="")
        forms[f"urlencoded+ {secret}"] = quote_plus(secret)
        forms[f"json {secret}"] = json.dumps(secret)[1:-1]
        forms[f"json-in-json {secret}"] = json.dumps(json.dumps(secret)[1:-1])[1:-1]
    forms["basic client"] = _b64(f"{CLIENT_ID}:{CLIENT_SECRET}")
    forms["basic user"] = _b64(f"{USERNAME}:{PASSWORD}")
    return forms


def find_canaries(text: str) -> list[str]:
    return [name for name, form in canary_forms().items() if form in text]


def test_d1_canary_scanner_positive_control():
    """The scanner must see each form, or a clean scan would prove nothing."""
    for name, form in canary_forms().items():
        assert find_canaries(f"noise {form} noise") != [], name
    assert find_canaries("nothing secret here: demo-client-id /items") == []


def _echo(request: RecordedRequest) -> str:
    """What careless servers do: echo the request (headers, query, body) in an error page."""
    return json.dumps(
        {
            "error": "internal",
            "headers": request.headers,
            "query": request.raw_query,
            "body": request.body.decode(errors="replace"),
            "debug": {
                "basic": _b64(f"{USERNAME}:{PASSWORD}"),
                "password_urlencoded": quote_plus(PASSWORD),
                "password_json": json.dumps(PASSWORD),
            },
        }
    )


class CarelessApi:
    def __init__(self, server: FaultServer) -> None:
        self.token_calls = 0
        self.item_calls: dict[str, int] = {}
        server.route("/oauth/token", self.token)
        server.route("/items", self.items)

    def token(self, request: RecordedRequest) -> Reply:
        self.token_calls += 1
        if self.token_calls == 1:
            return Reply(500, body=_echo(request), headers={"Content-Type": "application/json"})
        token = ACCESS_TOKENS[min(self.token_calls - 2, 1)]
        return Reply(200, body={"access_token": token, "refresh_token": REFRESH_TOKEN, "expires_in": 3600})

    def items(self, request: RecordedRequest) -> Reply:
        page = request.query.get("page", ["1"])[0]
        self.item_calls[page] = self.item_calls.get(page, 0) + 1
        if page == "1" and self.item_calls[page] == 1:
            return Reply(500, body=_echo(request), headers={"Content-Type": "application/json", "Retry-After": "0"})
        if page == "1":
            return Reply(
                200,
                body={"items": [{"id": 1, "name": "Alice Example"}, {"id": 2, "name": "Bob"}], "next_page": "2"},
                headers={"Sforce-Limit-Info": "api-usage=10/5000", "X-RateLimit-Remaining": "99"},
            )
        return Reply(401, body=_echo(request), headers={"Content-Type": "application/json"})


def test_d1_full_sync_at_debug_leaks_no_secret(tmp_path):
    audit_path = tmp_path / "audit.jsonl"
    with FaultServer() as server:
        api = CarelessApi(server)
        config = {
            "base_url": server.url,
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "username": USERNAME,
            "password": PASSWORD,
            "api_key": API_KEY,
            "audit_log_path": str(audit_path),
            "http": {"max_attempts": 3, "backoff_base": 0.01, "backoff_max": 0.02},
        }
        config_path = tmp_path / "config.json"
        config_path.write_text(json.dumps(config))
        env = {**os.environ, "LOGLEVEL": "DEBUG", "XLR8_RUN_ID": "run-d1"}
        result = subprocess.run(
            [sys.executable, str(HERE / "demo_tap.py"), "--config", str(config_path)],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
            check=False,
        )
        total_requests = server.count()
    audit_text = audit_path.read_text()
    assert result.returncode != 0  # page 2 is refused twice: re-authentication required
    # positive controls: the run really happened, logged at DEBUG and hit every error path
    assert "Alice Example" in result.stdout
    assert '"type":"RECORD"' in result.stdout
    assert "DEBUG" in result.stderr
    assert "re-authentication required" in result.stderr
    assert "HTTP 500" in result.stderr  # the retried echo pages were logged (masked)
    assert MASK in result.stderr
    assert api.token_calls == 3
    # no secret, in any form, anywhere
    assert find_canaries(result.stdout) == []
    assert find_canaries(result.stderr) == []
    assert find_canaries(audit_text) == []
    # D5: one audit line per HTTP attempt, token calls included
    lines = [json.loads(line) for line in audit_text.splitlines()]
    assert len(lines) == total_requests == 7
    assert [line["kind"] for line in lines].count("token") == 3
    assert {line["run_id"] for line in lines} == {"run-d1"}
    assert all("?" not in line["path"] for line in lines)
    assert any(line["rate_limit"].get("sforce-limit-info") == "api-usage=10/5000" for line in lines)


def test_d1_exception_text_is_masked(server, make_session):
    redactor = Redactor()
    redactor.add(API_KEY)
    server.script("/fatal", Reply(503, body={"echo": API_KEY}), repeat_last=True)
    session = make_session(redactor=redactor, max_attempts=2)
    with pytest.raises(KitHTTPError) as caught:
        session.get(server.url + "/fatal", params={"api_key": API_KEY})
    assert find_canaries(str(caught.value)) == []
    assert MASK in str(caught.value)


def test_d1_logging_filter_masks_messages_args_and_tracebacks():
    redactor = Redactor()
    redactor.add_pair(USERNAME, PASSWORD)
    logger = logging.getLogger("xlr8_tests.d1")
    logger.propagate = False
    captured: list[str] = []

    class ListHandler(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            captured.append(self.format(record))

    handler = ListHandler()
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    handler.addFilter(RedactingFilter(redactor))
    logger.addHandler(handler)
    try:
        logger.warning("login as %s with %s", USERNAME, PASSWORD)
        logger.warning("header Authorization: Basic %s", _b64(f"{USERNAME}:{PASSWORD}"))
        try:
            raise RuntimeError(f"connect failed password={quote_plus(PASSWORD)}")
        except RuntimeError:
            logger.exception("boom")
    finally:
        logger.removeHandler(handler)
    text = "\n".join(captured)
    assert find_canaries(text) == []
    assert USERNAME in text  # positive control: non-secret values stay readable
    assert "RuntimeError: connect failed password=***" in text


def test_d4_longest_first_and_minimum_length():
    redactor = Redactor()
    redactor.add("abcd")
    redactor.add("abcdefgh")
    redactor.add("ab")  # too short to mask safely: ignored
    assert redactor.redact("xxabcdefghyy abcd ab") == f"xx{MASK}yy {MASK} ab"
    assert "ab" not in redactor
    assert redactor.redact("a cab is not a secret") == "a cab is not a secret"


def test_d4_secret_added_after_a_redaction_is_masked_too():
    """The pattern is compiled at the first redaction after a secret is added (a token obtained mid-run)."""
    redactor = Redactor()
    assert redactor.redact("nothing registered yet") == "nothing registered yet"
    redactor.add("first-secret")
    assert redactor.redact("first-secret second-secret") == f"{MASK} second-secret"
    redactor.add("second-secret")
    assert redactor.redact("first-secret second-secret") == f"{MASK} {MASK}"


def test_d4_derived_forms_are_masked():
    redactor = Redactor()
    redactor.add_pair(USERNAME, PASSWORD)
    for form in (PASSWORD, quote(PASSWORD, safe=""), quote_plus(PASSWORD), json.dumps(PASSWORD)[1:-1]):
        assert redactor.redact(f"<{form}>") == f"<{MASK}>"
    assert redactor.redact("Basic " + _b64(f"{USERNAME}:{PASSWORD}")) == f"Basic {MASK}"


def test_d5_audit_one_line_per_attempt_without_secrets(server, make_session, tmp_path):
    audit_path = tmp_path / "audit.jsonl"
    redactor = Redactor()
    redactor.add("tok-audit-secret-1234")
    server.script("/oauth/token", Reply(200, body={"access_token": "tok-audit-secret-1234"}))
    server.script(
        "/items",
        Reply(503, headers={"Retry-After": "1"}),
        Reply(429, headers={"Retry-After": "2", "X-RateLimit-Remaining": "0", "X-RateLimit-Limit": "100"}),
        Reply(200, body={"items": [1, 2, 3]}, headers={"Sforce-Limit-Info": "api-usage=12/5000"}),
    )
    session = make_session(redactor=redactor, audit_path=str(audit_path))
    token = session.post(server.url + "/oauth/token", data={"secret": "tok-audit-secret-1234"}, kind="token")
    assert token.status_code == 200
    session.get(
        server.url + "/items?api_key=tok-audit-secret-1234&page=2",
        headers={"Authorization": "Bearer tok-audit-secret-1234"},
    )
    text = audit_path.read_text()
    lines = [json.loads(line) for line in text.splitlines()]
    assert len(lines) == 4 == server.count()
    assert [(line["kind"], line["path"], line["status"], line["attempt"]) for line in lines] == [
        ("token", "/oauth/token", 200, 1),
        ("api", "/items", 503, 1),
        ("api", "/items", 429, 2),
        ("api", "/items", 200, 3),
    ]
    for line in lines:
        assert line["run_id"] == "run-123"
        assert line["product"] == "testprod"
        assert line["credential_id"] == "cred-1"
        assert line["method"] in {"GET", "POST"}
        assert line["duration_ms"] >= 0
        assert line["time"].endswith("+00:00")
    assert lines[2]["rate_limit"] == {"retry-after": "2", "x-ratelimit-remaining": "0", "x-ratelimit-limit": "100"}
    assert lines[3]["rate_limit"] == {"sforce-limit-info": "api-usage=12/5000"}
    assert lines[3]["bytes"] == len(b'{"items": [1, 2, 3]}')
    assert "tok-audit-secret-1234" not in text
    assert "api_key" not in text
    assert "page=2" not in text


def test_d5_transport_failures_are_audited_too(make_session, tmp_path):
    audit_path = tmp_path / "audit.jsonl"
    session = make_session(audit_path=str(audit_path), max_attempts=2)
    with pytest.raises(KitHTTPError):
        session.get("http://127.0.0.1:9/nothing?key=zzz")
    lines = [json.loads(line) for line in audit_path.read_text().splitlines()]
    assert [(line["status"], line["error"], line["attempt"]) for line in lines] == [
        (None, "connection refused", 1),
        (None, "connection refused", 2),
    ]


def test_d5_unwritable_audit_path_fails_closed_at_start(tmp_path, server):
    missing_dir = tmp_path / "no-such-dir" / "audit.jsonl"
    with pytest.raises(AuditLogError, match="audit_log_path") as caught:
        ResilientSession(HttpPolicy(audit_path=str(missing_dir)))
    assert "cannot be opened" in str(caught.value)
    assert server.count() == 0


def test_d5_audit_write_failure_stops_further_calls(server, make_session):
    """/dev/full accepts the open and fails every write with ENOSPC: a full disk mid-run."""
    server.script("/items", Reply(200, body={"items": []}), repeat_last=True)
    session = make_session(audit_path="/dev/full")
    with pytest.raises(AuditLogError, match="could not be written"):
        session.get(server.url + "/items")
    with pytest.raises(AuditLogError, match="failed earlier"):
        session.get(server.url + "/items")
    assert server.count() == 1  # only the attempt whose line failed; nothing after it


def test_d5_audit_record_redacts_every_field(tmp_path):
    redactor = Redactor()
    redactor.add("sekret-in-path-1234")
    audit = AuditLog(tmp_path / "a.jsonl", run_id="r", product="p", credential_id="c", redactor=redactor)
    audit.record(
        method="GET",
        path="/users/sekret-in-path-1234",
        status=200,
        attempt=1,
        duration_ms=1.0,
        bytes_received=0,
        headers={"Retry-After": "5", "Authorization": "Bearer x", "Set-Cookie": "sid=1"},
    )
    audit.close()
    line = json.loads((tmp_path / "a.jsonl").read_text())
    assert line["path"] == f"/users/{MASK}"
    assert line["rate_limit"] == {"retry-after": "5"}


def test_d1_uncaught_exception_traceback_is_masked(tmp_path):
    """A non-kit exception carrying a secret escapes to the interpreter: its printed traceback is masked."""
    script = tmp_path / "crash.py"
    script.write_text(
        "from xlr8_kit.redaction import Redactor\n"
        "r = Redactor.default()\n"
        f"r.add({API_KEY!r})\n"
        "r.install_logging_filter()\n"
        f"raise RuntimeError('upstream said: key=' + {quote_plus(API_KEY)!r} + ' raw=' + {API_KEY!r})\n"
    )
    result = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 1
    assert "RuntimeError: upstream said: key=*** raw=***" in result.stderr  # positive control: it was printed
    assert find_canaries(result.stderr) == []
