"""FieldCipher imports cryptography at its first encryption or decryption, not when it is built or hashes: a target
run with a key file but nothing to encrypt skips ~10 ms of imports. What it writes and reads is unchanged."""

from __future__ import annotations

import subprocess
import sys


def test_cryptography_loads_at_the_first_encryption_and_values_still_round_trip() -> None:
    probe = (
        "import sys\n"
        "from xlr8_kit.privacy import FieldCipher\n"
        "one, other = FieldCipher(bytes(range(32))), FieldCipher(bytes(32))\n"
        "same = one.hash('a') == FieldCipher(bytes(range(32))).hash('a') != other.hash('a')\n"
        "print(same, 'cryptography' in sys.modules)\n"
        "token = one.encrypt('Ada Lovelace')\n"
        "print(token.startswith('ENC256:'), 'cryptography' in sys.modules)\n"
        "print(FieldCipher(bytes(range(32))).decrypt(token))\n"  # a fresh cipher decrypts first
        "try:\n"
        "    other.decrypt(token)\n"
        "except ValueError as exc:\n"
        "    print(exc)\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.splitlines() == [
        "True False",
        "True True",
        "Ada Lovelace",
        "ENC256 value does not decrypt with this key",
    ]
