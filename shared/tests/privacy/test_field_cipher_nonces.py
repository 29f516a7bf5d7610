"""FieldCipher draws its nonces from a pool filled by one ``os.urandom`` call per 1,024 values: every encryption
still gets a nonce no other encryption got, in this process, in its threads and in a forked child."""

from __future__ import annotations

import base64
import os
import threading

from xlr8_kit.privacy import ENC_PREFIX, FieldCipher
from xlr8_kit.privacy.cipher import _NONCES_PER_DRAW

KEY = bytes(range(32))
NONCE = 12


def _nonce(token: str) -> bytes:
    assert token.startswith(ENC_PREFIX)
    return base64.b64decode(token[len(ENC_PREFIX) :], validate=True)[:NONCE]


def test_every_encryption_gets_its_own_nonce_across_pool_draws() -> None:
    cipher = FieldCipher(KEY)
    values = [f"value-{i}" for i in range(3 * _NONCES_PER_DRAW + 7)]  # several draws and a partial one
    tokens = [cipher.encrypt(v) for v in values]
    assert len({_nonce(t) for t in tokens}) == len(values)
    assert [cipher.decrypt(t) for t in tokens] == values
    sealed = base64.b64decode(tokens[0][len(ENC_PREFIX) :])
    assert len(sealed) == NONCE + len(values[0]) + 16  # nonce, ciphertext, GCM tag: the engine's layout


def test_threads_encrypting_at_once_never_share_a_nonce() -> None:
    cipher = FieldCipher(KEY)
    start = threading.Barrier(4)
    found: list[list[str]] = [[] for _ in range(4)]

    def work(out: list[str]) -> None:
        start.wait()
        out.extend(cipher.encrypt("x") for _ in range(2 * _NONCES_PER_DRAW))

    threads = [threading.Thread(target=work, args=(out,)) for out in found]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    nonces = [_nonce(t) for out in found for t in out]
    assert len(nonces) == 8 * _NONCES_PER_DRAW
    assert len(set(nonces)) == len(nonces)


def test_a_forked_child_never_reuses_the_parents_pooled_nonces() -> None:
    cipher = FieldCipher(KEY)
    cipher.encrypt("fill the pool")  # the pool now holds 1,023 nonces the parent has not used
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: report its next nonces and leave without running pytest's teardown
        try:
            os.close(read_end)
            os.write(write_end, b"".join(_nonce(cipher.encrypt("child")) for _ in range(20)))
        finally:
            os._exit(0)
    os.close(write_end)
    child = b""
    while chunk := os.read(read_end, 4096):
        child += chunk
    os.close(read_end)
    os.waitpid(pid, 0)
    parent = {_nonce(cipher.encrypt("parent")) for _ in range(20)}
    child_nonces = {child[i : i + NONCE] for i in range(0, len(child), NONCE)}
    assert len(child_nonces) == 20
    assert not parent & child_nonces
