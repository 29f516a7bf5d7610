"""Resilient HTTP for every tap (RELIABILITY A, D5, G).

- ``session``: ``HttpPolicy`` and ``ResilientSession`` (retries, Retry-After, timeouts, TLS and redirect safety,
  breaker, rate limiter, quota guard, audit). Bound per logical request:
  ``max_attempts * (1 + max_redirects)`` HTTP requests, within ``max_elapsed`` seconds.
- ``classify``: ``ResponseClassifier`` and the verdicts (ok, retry, quota, auth, fatal) product bases override.
- ``errors``: what stops a run, each with a redacted message naming path and status, never the query string.
- ``abort``: requests another thread can give up (their own connections, cut at ``abort()``).
- ``retry``, ``breaker``, ``ratelimit``, ``audit``: the mechanisms, usable alone (e.g. a secrets-manager client
  writing its own ``AuditLog`` lines with ``kind="secrets"``).
"""

from xlr8_kit.http.audit import AuditLog
from xlr8_kit.http.classify import ResponseClassifier, Verdict
from xlr8_kit.http.session import HttpPolicy, ResilientSession

__all__ = ["AuditLog", "HttpPolicy", "ResilientSession", "ResponseClassifier", "Verdict"]
