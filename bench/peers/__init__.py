"""Peer taps (other projects' taps for the same product), installed on demand into their own virtualenvs and run
against the same emulator as our tap, so every bench run prints the ratio to them.

Never in the workspace lockfile: each peer lives in ``$XDG_CACHE_HOME/xlr8-bench/peers/<name>`` (default
``~/.cache``), created with ``uv venv`` + ``uv pip install <requirement>`` the first time it is needed. A peer whose
login host is fixed to the vendor's is started through a launcher in this folder that points it at the emulator.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Peer:
    name: str
    product: str
    requirement: str
    #: Script run by the peer's interpreter instead of its console script (None: run ``executable``).
    launcher: str | None
    executable: str
    #: The peer's config against the emulator: (url, credentials, stream, api) -> config.
    config: Any = field(repr=False)
    #: Values of the bench's ``XLR8_BENCH_SALESFORCE_API`` the peer can read.
    apis: tuple[str, ...] = ("rest",)

    @property
    def home(self) -> Path:
        cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
        return cache / "xlr8-bench" / "peers" / self.name

    def ensure_installed(self) -> Path:
        """The peer's interpreter, installing it first when absent."""
        python = self.home / "bin" / "python"
        marker = self.home / ".installed"
        if python.exists() and marker.exists() and marker.read_text() == self.requirement:
            return python
        uv = shutil.which("uv") or str(Path.home() / ".local" / "bin" / "uv")
        shutil.rmtree(self.home, ignore_errors=True)
        subprocess.run([uv, "venv", "-q", "--python", f"{sys.version_info.major}.{sys.version_info.minor}",
                        str(self.home)], check=True)  # fmt: skip
        env = {**os.environ, "VIRTUAL_ENV": str(self.home)}
        subprocess.run([uv, "pip", "install", "-q", self.requirement], check=True, env=env)
        marker.write_text(self.requirement)
        return python

    def command(self, python: Path) -> list[str]:
        if self.launcher is not None:
            return [str(python), str(HERE / self.launcher)]
        return [str(python.parent / self.executable)]


def _singer_io_salesforce_config(url: str, credentials: dict[str, str], stream: str, api: str) -> dict[str, Any]:
    return {
        "client_id": credentials["client_id"],
        "client_secret": credentials["client_secret"],
        "refresh_token": credentials["refresh_token"],
        "start_date": "2000-01-01T00:00:00Z",
        "api_type": api.upper(),
        "select_fields_by_default": True,
        "xlr8_login_url": url,  # read by the launcher only
    }


PEERS: dict[str, list[Peer]] = {
    "salesforce": [
        Peer(
            name="singer-io-tap-salesforce",
            product="salesforce",
            requirement="tap-salesforce==2.8.1",
            launcher="singer_io_salesforce.py",
            executable="tap-salesforce",
            config=_singer_io_salesforce_config,
            apis=("rest", "bulk"),
        ),
    ],
}


def for_product(product: str) -> list[Peer]:
    return PEERS.get(product, [])
