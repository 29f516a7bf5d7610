"""Static egress: every request of a tap through one HTTPS proxy, for customers who allowlist source IPs.

HTTPS goes through ``CONNECT`` so TLS stays end to end (the proxy sees only the host and port, the tap still verifies
the vendor's certificate); plain-http loopback (the sandbox) is forwarded. The proxy's password is a secret like any
other: redacted everywhere, never in an error. Settings: ``proxy_url``, ``proxy_username``, ``proxy_password``,
per tap or per credential (credential fields override the tap's).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

from xlr8_kit.http.errors import AuthenticationError

PROXY_SETTINGS = ("proxy_url", "proxy_username", "proxy_password")


class ProxyAuthenticationError(AuthenticationError):
    """The proxy answered 407: its credentials are wrong (never retried, names the settings only)."""


def proxy_map(config: Mapping[str, Any]) -> dict[str, str]:
    """``requests`` proxies for the config's ``proxy_url`` (credentials from their own settings), or {}."""
    url = config.get("proxy_url")
    if not url:
        return {}
    if not isinstance(url, str):
        raise ValueError("setting 'proxy_url' must be a URL string such as http://proxy.example:3128")
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        # the value is not quoted: a URL of another form (socks5://user:pw@host, user:pw@host) may carry a password
        raise ValueError(
            "setting 'proxy_url' must be an http:// or https:// proxy URL with a host, such as "
            "http://proxy.example:3128 (the value is not shown: it may carry credentials)"
        )
    if parts.username or parts.password:
        raise ValueError("setting 'proxy_url' must not carry credentials; use 'proxy_username' and 'proxy_password'")
    user, password = config.get("proxy_username"), config.get("proxy_password")
    if bool(user) != bool(password):
        missing = "proxy_password" if user else "proxy_username"
        raise ValueError(f"setting '{missing}' is required when the other proxy credential is set")
    netloc = parts.netloc
    if user and password:
        netloc = f"{quote(str(user), safe='')}:{quote(str(password), safe='')}@{netloc}"
    full = urlunsplit((parts.scheme, netloc, parts.path, "", ""))
    return {"http": full, "https": full}


def proxy_refused(proxy: str, detail: str) -> ProxyAuthenticationError:
    where = urlsplit(proxy).hostname or "the proxy"
    port = urlsplit(proxy).port
    return ProxyAuthenticationError(
        f"proxy {where}{f':{port}' if port else ''} refused the request ({detail}): check settings "
        "'proxy_username' and 'proxy_password'",
        status=407,
    )
