"""Concurrency slots per vendor tenant, shared by every worker process on the machine (or on a shared filesystem).

A tenant with ``max_concurrent = n`` has n lock files; a sync holds one (``fcntl.flock``, released by the kernel
when the holder dies, so a killed worker never leaks a slot). The tenant's requests-per-second budget is split over
its n slots and handed to each tap as its client-side rate limit, so the tenant never sees more than its budget.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import time
from collections.abc import Iterator
from pathlib import Path

from xlr8_orchestration.settings import TenantPolicy


class TenantBusyError(TimeoutError):
    """Every slot of the tenant stayed taken for the whole wait."""


@contextlib.contextmanager
def tenant_slot(
    lock_dir: Path, tenant: str, policy: TenantPolicy, *, wait_seconds: float = 3600.0, poll: float = 0.2
) -> Iterator[int]:
    """Hold one of the tenant's slots for the duration of the block; yields the slot number."""
    lock_dir.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256(tenant.encode()).hexdigest()[:16]
    deadline = time.monotonic() + wait_seconds
    while True:
        for slot in range(policy.max_concurrent):
            path = lock_dir / f"tenant-{digest}-{slot}.lock"
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                continue
            try:
                os.ftruncate(fd, 0)
                os.write(fd, f"{tenant}\n{os.getpid()}\n".encode())
                yield slot
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
                os.close(fd)
            return
        if time.monotonic() >= deadline:
            raise TenantBusyError(f"tenant {tenant}: all {policy.max_concurrent} slot(s) busy for {wait_seconds:.0f}s")
        time.sleep(poll)
