"""A client certificate whose key stays encrypted on disk: the passphrase travels with ``Session.cert`` to the
connection pool (urllib3's ``key_password``), and OpenSSL decrypts the key in memory at each handshake. requests
alone cannot pass a passphrase; writing the clear key to a file left it behind whenever a run was SIGKILLed or
OOM-killed (audit25d F7)."""

from __future__ import annotations

import typing as t

from requests.adapters import HTTPAdapter


class ClientCertificate(tuple[str, str]):
    """``(cert_file, key_file)`` as requests expects it in ``Session.cert``, plus the key's passphrase (never in its
    repr)."""

    key_password: str | None

    def __new__(cls, cert_file: str, key_file: str, key_password: str | None = None) -> ClientCertificate:
        made = super().__new__(cls, (cert_file, key_file))
        made.key_password = key_password
        return made

    def __repr__(self) -> str:
        return f"ClientCertificate({self[0]!r}, {self[1]!r}{', key_password=***' if self.key_password else ''})"

    # A tuple subclass is copied and pickled by calling ``cls(*tuple(self))``, which dropped the passphrase argument
    # (TypeError), so a session carrying one could not be copied (review25b F6). Copies in this process keep it; a
    # pickle is refused: it would write the passphrase into bytes that may leave the process or land on disk.
    def __copy__(self) -> ClientCertificate:
        return ClientCertificate(self[0], self[1], self.key_password)

    def __deepcopy__(self, memo: dict[int, t.Any]) -> ClientCertificate:
        return self.__copy__()

    def __reduce_ex__(self, protocol: t.SupportsIndex) -> t.NoReturn:
        raise TypeError(
            "ClientCertificate is not picklable: it carries the client key's passphrase; build MutualTLS from the "
            "cert_file, key_file and passphrase settings in the other process instead"
        )


class KeyPasswordAdapter(HTTPAdapter):
    """Passes a ``ClientCertificate``'s passphrase to the pool, so the encrypted key file is loaded as it is. The
    passphrase is part of urllib3's pool key: pools of different keys are never shared."""

    def build_connection_pool_key_attributes(self, request: t.Any, verify: t.Any, cert: t.Any = None) -> t.Any:
        host_params, pool_kwargs = super().build_connection_pool_key_attributes(request, verify, cert)
        password = getattr(cert, "key_password", None)
        if password:
            t.cast(dict[str, t.Any], pool_kwargs)["key_password"] = password
        return host_params, pool_kwargs
