"""Which BATCH files a target or mapper may read, and which it may delete; reading their records.

A BATCH manifest is input like any other: it must not be a way to load (and then delete) an arbitrary local file.
A reader (target-xlr8-truths, mapper-common) reads only regular files whose real path (symlinks resolved) lies under
a configured batch location, and deletes only those the tap wrote for this run: created after the reading process
started (less a grace for a tap that started first) by the same user. Anything else is refused with the file and the
setting named.
"""

from __future__ import annotations

import gzip
import os
import stat
import time
import typing as t
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlparse

from xlr8_kit.singer_io import loads_exact

#: A tap started by the same ``meltano run`` may write its first file a little before the target is up.
START_GRACE_SECONDS = 60.0
PROCESS_STARTED = time.time()


class BatchFileRefused(RuntimeError):
    """A BATCH manifest names a file outside the configured batch locations (or not a local regular file)."""


@dataclass(frozen=True)
class BatchLocations:
    roots: tuple[Path, ...]
    not_before: float = PROCESS_STARTED - START_GRACE_SECONDS

    @classmethod
    def from_config(cls, config: t.Mapping[str, t.Any]) -> BatchLocations:
        """``batch_locations``, plus the storage root of the SDK's own ``batch_config`` when one is set."""
        declared = [str(p) for p in config.get("batch_locations") or []]
        root = ((config.get("batch_config") or {}).get("storage") or {}).get("root")
        if root:
            declared.append(str(root))
        return cls(tuple(Path(_local_path(p, "batch_locations")).expanduser().resolve() for p in declared))

    def readable(self, url: str, stream: str) -> Path:
        """The real path of a manifest entry the target may read; raises ``BatchFileRefused`` otherwise."""
        if not self.roots:
            raise BatchFileRefused(
                f"stream {stream}: BATCH message received but setting 'batch_locations' is empty; set it to the "
                "directory the tap writes batch files to (its batch_config storage root)"
            )
        path = Path(_local_path(url, f"stream {stream}: BATCH manifest entry")).expanduser()
        try:
            real = path.resolve(strict=True)
            mode = real.stat().st_mode
        except OSError as exc:
            raise BatchFileRefused(f"stream {stream}: BATCH file {path} cannot be read ({exc.strerror})") from None
        if not stat.S_ISREG(mode):
            raise BatchFileRefused(f"stream {stream}: BATCH file {path} is not a regular file")
        if not any(real.is_relative_to(root) for root in self.roots):
            where = ", ".join(str(r) for r in self.roots)
            raise BatchFileRefused(
                f"stream {stream}: BATCH file {path} is outside setting 'batch_locations' ({where}); refused"
            )
        return real

    def owned(self, path: Path) -> bool:
        """The tap wrote this file for this run, so the target may delete it once it is loaded."""
        try:
            info = path.lstat()
        except OSError:
            return False
        return info.st_uid == os.getuid() and min(info.st_mtime, info.st_ctime) >= self.not_before


def _local_path(url: str, what: str) -> str:
    parsed = urlparse(url)
    if parsed.scheme in ("", "file") and parsed.netloc in ("", "localhost"):
        return unquote(parsed.path) if parsed.scheme else url
    raise BatchFileRefused(f"{what} {url!r}: only local files (file:// or a path) are supported")


def batch_file_records(path: Path, compression: str | None) -> t.Iterator[dict[str, t.Any]]:
    """The records of one JSON-lines BATCH file, values as a RECORD line would give them (``Decimal`` fractions)."""
    zipped = compression == "gzip" or path.name.endswith(".gz")
    with gzip.open(path, "rb") if zipped else path.open("rb") as lines:
        for line in lines:
            if line.strip():
                yield loads_exact(line)
