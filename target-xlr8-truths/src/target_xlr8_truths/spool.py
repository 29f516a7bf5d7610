"""The target's own directory for the plaintext files a batch needs for a moment (DuckDB's read_json input,
decompressed BATCH files, upload CSVs).

Records are personal data: they are spooled only under a directory this user owns with mode 0700, one
subdirectory per target process. A file lives only while its batch is staged; a process killed meanwhile leaves its
subdirectory behind, and the next target to start removes every subdirectory whose process is gone.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import stat
import tempfile
import typing as t
from pathlib import Path


class SpoolError(RuntimeError):
    """The spool directory is not private to this user."""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class Spool:
    def __init__(self, root: str | Path) -> None:
        self.root = Path(root).expanduser().absolute()
        self.root.mkdir(mode=0o700, parents=True, exist_ok=True)
        info = self.root.lstat()
        if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid():
            raise SpoolError(f"setting 'spool_dir' ({self.root}) must be a directory owned by this user")
        os.chmod(self.root, 0o700)
        self.removed_stale = self._remove_stale()
        self.dir = self.root / str(os.getpid())
        shutil.rmtree(self.dir, ignore_errors=True)  # a dead namesake's leftovers (pid reuse)
        self.dir.mkdir(mode=0o700)
        atexit.register(self.close)  # a fatal error ends the process without the end-of-pipe cleanup

    def _remove_stale(self) -> int:
        removed = 0
        for child in self.root.iterdir():
            if child.name.isdigit() and int(child.name) != os.getpid() and not _alive(int(child.name)):
                shutil.rmtree(child, ignore_errors=True)
                removed += 1
        return removed

    @contextlib.contextmanager
    def file(self, suffix: str) -> t.Iterator[tuple[int, Path]]:
        """A new private file (descriptor, path), removed when the block ends, whatever happens inside it."""
        fd, name = tempfile.mkstemp(suffix=suffix, dir=self.dir)
        try:
            yield fd, Path(name)
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(name)

    def close(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)
