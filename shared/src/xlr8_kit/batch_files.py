"""Which BATCH files a target or mapper may read, and which it may delete; reading their records.

A BATCH manifest is input like any other: it must not be a way to load (and then delete) an arbitrary local file.
A reader (target-xlr8-truths, mapper-common) reads only regular files whose real path (symlinks resolved) lies under
a configured batch location, and deletes only those the tap wrote for this run: created after the reading process
started (less a grace for a tap that started first) by the same user. Anything else is refused with the file and the
setting named.
"""

from __future__ import annotations

import contextlib
import fcntl
import gzip
import os
import re
import stat
import time
import typing as t
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlparse

from xlr8_kit.singer_io import loads_exact

#: A tap started by the same ``meltano run`` may write its first file a little before the target is up.
START_GRACE_SECONDS = 60.0
PROCESS_STARTED = time.time()


#: The end of a name the kit's writer gives (``{stem}{owner_tag()}-{index}.jsonl`` or ``.json.gz``; while written,
#: ``.{name}.partial``): the writing process's id and its parent's (the ``meltano run`` or shell pipeline).
_OWNED = re.compile(r"~(\d+)~(\d+)-\d+\.(?:jsonl|json\.gz)(?:\.partial)?$")


def owner_tag() -> str:
    """What a batch file name carries of its writer: this process's id and its parent's."""
    return f"~{os.getpid()}~{os.getppid()}"


def _alive(pid: int) -> bool:
    """A process of that id exists (another user's too); an id that cannot be checked counts as alive."""
    if pid <= 0:
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True


def _run_alive(owner: re.Match[str]) -> bool:
    """The writer of a kit-named file (``~pid~ppid``) or its parent run still exists. A parent of pid 1 (or 0) tells
    nothing: meltano as a container's entrypoint, or a child re-parented to init/a subreaper, is always "alive"
    there, so its files were never cleaned (review27c L1); the writer's pid, the age and the readers' locks
    (``hold_for_readers``) then decide."""
    parent = int(owner[2])
    return _alive(int(owner[1])) or (parent > 1 and _alive(parent))


#: How long a dead writer's ``.partial`` file must have gone unwritten before it is removed: the writer's pid can
#: look dead from another pid namespace (pods sharing a batch volume) while it still appends (review26c M1).
STALE_PARTIAL_IDLE_SECONDS = 6 * 3600.0


def remove_stale(directory: Path, ended: list[Path] | None = None) -> int:
    """Removes what killed runs left in ``directory`` that no one can ever read: the kit writer's ``.partial``
    files (``owner_tag``), this user's, whose writer and its parent are both gone and that went unwritten for
    ``STALE_PARTIAL_IDLE_SECONDS``. A ``.partial`` is never named in a BATCH message (the writer renames it first),
    so no reader can load it; the idle age keeps a live writer seen from another pid namespace. A complete file is
    never removed here (review26c M1): "tap to a file now, target later", a pod sharing the volume, or a tap behind
    a wrapper that exited may still send it to a target, and losing it loses the extract. Its target removes it once
    loaded (``hold_batch_files``). Returns the files removed; ``ended`` gets those complete files of this user whose
    writer and parent are gone (``xlr8 batches clean`` removes them on the operator's word)."""
    try:
        entries = list(os.scandir(directory))
    except OSError:
        return 0
    removed = 0
    idle_since = time.time() - STALE_PARTIAL_IDLE_SECONDS
    for entry in entries:
        owner = _OWNED.search(entry.name)
        partial = entry.name.endswith(".partial")
        if owner is None or (not partial and ended is None) or _run_alive(owner):
            continue
        try:
            info = entry.stat(follow_symlinks=False)
            if not entry.is_file(follow_symlinks=False) or info.st_uid != os.getuid():
                continue
            if not partial:
                if ended is not None:
                    ended.append(Path(entry.path))
                continue
            if info.st_mtime > idle_since:
                continue
            os.unlink(entry.path)
        except OSError:
            continue
        removed += 1
    return removed


def remove_stale_under(roots: t.Iterable[Path], ended: list[Path] | None = None) -> int:
    """``remove_stale`` in each batch location and the folders right under it (a reader's location is often the
    parent of one folder per tap: ``.meltano/batches``)."""
    removed = 0
    for root in roots:
        removed += remove_stale(root, ended)
        with contextlib.suppress(OSError):
            for entry in os.scandir(root):
                if entry.is_dir(follow_symlinks=False):
                    removed += remove_stale(Path(entry.path), ended)
    return removed


#: Folders this process reads BATCH files from, held with a shared ``flock`` for its lifetime (``hold_for_readers``).
_READER_HOLDS: dict[Path, int] = {}


def hold_for_readers(roots: t.Iterable[Path]) -> list[Path]:
    """A reader (a target, a mapper) holds a shared ``flock`` on each of its batch locations for its lifetime, so
    ``xlr8 batches clean`` (which needs the folder exclusively) leaves every file a running reader may still be sent
    alone: the files ahead in its input are closed, their writer long gone (``tap > out.jsonl`` replayed days later),
    and only the lock tells them apart (review27c H1). Waits while a clean-up holds the folder (a moment); a folder
    that does not exist yet is skipped (its files will be this run's, kept by their live writer). Returns the held."""
    held = []
    for root in roots:
        if root in _READER_HOLDS:
            held.append(root)
            continue
        try:
            fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        except OSError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_SH)
        except OSError:
            os.close(fd)
            continue
        _READER_HOLDS[root] = fd  # released when the process ends (the kernel drops the lock with the descriptor)
        held.append(root)
    return held


@contextlib.contextmanager
def _cleaning(folder: Path) -> t.Iterator[bool]:
    """Whether no reader holds ``folder`` or a folder above it (a reader reads anywhere under its location): each
    taken exclusively, without waiting, for the time the files are removed; False when any is held."""
    fds: list[int] = []
    try:
        for place in (folder, *folder.parents):
            try:
                fd = os.open(place, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
            except OSError:
                continue
            fds.append(fd)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                yield False
                return
        yield True
    finally:
        for fd in fds:
            os.close(fd)


@dataclass
class Cleaning:
    """What ``clean_ended_runs`` found: files removed (or, dry run, that would be), and kit files kept, by reason."""

    removed: list[Path]
    held: list[Path] = field(default_factory=list)  # folders a running reader holds (``hold_for_readers``): skipped
    failed: list[str] = field(default_factory=list)  # files or folders that could not be removed or listed, why
    live: int = 0  # the writer or its parent run still exists (``meltano run``, a shell pipeline)
    open: int = 0  # some process has the file open (a target reading it)
    recent: int = 0  # last written more recently than the age asked


def _open_files() -> set[tuple[int, int]]:
    """(device, inode) of every file a process this user can inspect has open (``/proc/<pid>/fd``): a target
    reading a BATCH file has it open. Processes of other users (or another pid namespace) are not seen."""
    found: set[tuple[int, int]] = set()
    with contextlib.suppress(OSError):
        for pid in os.listdir("/proc"):
            if not pid.isdigit():
                continue
            try:
                fds = os.listdir(f"/proc/{pid}/fd")
            except OSError:
                continue
            for fd in fds:
                with contextlib.suppress(OSError):
                    info = os.stat(f"/proc/{pid}/fd/{fd}")
                    found.add((info.st_dev, info.st_ino))
    return found


def clean_ended_runs(roots: t.Iterable[Path], older_than: float, *, dry_run: bool = False) -> Cleaning:
    """The operator's clean-up (``xlr8 batches clean``) of what ended runs left in ``roots`` and the folders right
    under them: the kit writer's files (``owner_tag`` names; complete and ``.partial``), this user's regular files,
    last written more than ``older_than`` seconds ago, whose writer and its parent are both gone and that no process
    has open. Complete files are what the automatic clean-up (``remove_stale``) must keep: a file written by a tap
    that has ended may still be sent to a target later (``tap > out.jsonl``; a pod sharing the volume, whose pids
    look dead from here). The age is the operator's word that no such run is pending: the files of a run still
    going are kept by the pid check where its pids are visible, and by the age where they are not (review26c M1)."""
    cutoff = time.time() - older_than
    result = Cleaning([])
    busy: set[tuple[int, int]] | None = None
    folders: dict[Path, None] = {}  # each once, though a root is given twice or lies right under another
    for root in roots:
        folders[root.resolve()] = None
        with contextlib.suppress(OSError):
            for e in sorted(os.scandir(root), key=lambda e: e.name):
                if e.is_dir(follow_symlinks=False):
                    folders[Path(e.path).resolve()] = None
    for folder in folders:
        with _cleaning(folder) as free:
            if not free:
                result.held.append(folder)
                continue
            busy = _clean_folder(folder, cutoff, dry_run, result, busy)
    return result


def _clean_folder(
    folder: Path, cutoff: float, dry_run: bool, result: Cleaning, busy: set[tuple[int, int]] | None
) -> set[tuple[int, int]] | None:
    """``clean_ended_runs`` in one folder no reader holds; returns the open files once looked up."""
    try:
        entries = sorted(os.scandir(folder), key=lambda e: e.name)
    except OSError as exc:
        result.failed.append(f"{folder}: cannot be listed ({exc.strerror})")
        return busy
    for entry in entries:
        owner = _OWNED.search(entry.name)
        if owner is None:
            continue
        try:
            info = entry.stat(follow_symlinks=False)
        except OSError:
            continue
        if not stat.S_ISREG(info.st_mode) or info.st_uid != os.getuid():
            continue
        if _run_alive(owner):
            result.live += 1
            continue
        if info.st_mtime > cutoff:
            result.recent += 1
            continue
        if busy is None:
            busy = _open_files()
        if (info.st_dev, info.st_ino) in busy:
            result.open += 1
            continue
        if not dry_run:
            try:
                os.unlink(entry.path)
            except OSError as exc:
                result.failed.append(f"{entry.path}: cannot be removed ({exc.strerror})")
                continue
        result.removed.append(Path(entry.path))
    return busy


def private_dir(directory: Path) -> None:
    """``directory`` made 0700, or, existing and this user's, narrowed to 0700: in a 0755 batch folder every local
    user could list the files (names, sizes), and could read those an earlier version left 0644. Another user's
    folder (a shared root) keeps its mode; the files in it are 0600."""
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    info = directory.stat()
    if info.st_uid == os.getuid() and stat.S_IMODE(info.st_mode) & 0o077:
        with contextlib.suppress(OSError):
            os.chmod(directory, stat.S_IMODE(info.st_mode) & 0o700)


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
