"""delivery=upload: for an engine that is running, each stream goes as one CSV to ``POST /api/upload`` and the
job is polled at ``GET /api/upload/status/{job_id}``. Rows are assembled (upserted, evolved) in a local DuckDB
staging file first; STATE is held until every upload has completed, because only then is anything committed.
"""

from __future__ import annotations

import os
import time
import typing as t

import requests

from target_xlr8_truths.naming import quote, snake_case

if t.TYPE_CHECKING:
    from target_xlr8_truths.store import StreamInfo
    from target_xlr8_truths.target import TargetXlr8Truths

DONE = {"completed", "complete", "done", "success", "succeeded"}
FAILED = {"failed", "error", "errored", "cancelled"}
CONNECT_TIMEOUT, READ_TIMEOUT = 10.0, 300.0


class UploadError(RuntimeError):
    """The engine refused an upload or its job failed; STATE is not emitted, so a re-run resends the stream."""


def upload_file_name(info: StreamInfo) -> str:
    """Stable per stream and carrying the entity keyword the engine derives entity_type from."""
    return f"{snake_case(info.product)}_{snake_case(info.entity)}_{snake_case(info.stream)}.csv"


def upload_streams(
    target: TargetXlr8Truths,
    infos: list[StreamInfo],
    *,
    sleep: t.Callable[[float], None] = time.sleep,
    clock: t.Callable[[], float] = time.monotonic,
) -> list[str]:
    """Upload each stream's staged table; returns the job ids, in stream order."""
    config = target.config
    base = str(config["upload_url"]).rstrip("/")
    headers = {"Authorization": f"Bearer {config['upload_api_key']}"} if config.get("upload_api_key") else {}
    timeout = float(config.get("upload_timeout", 600))
    interval = float(config.get("upload_poll_interval", 2))
    store = target.store
    jobs = []
    with requests.Session() as session:
        for info in infos:
            if not store.table_columns(info.table_name):
                continue
            with target.spool.file(".csv") as (fd, spooled):
                os.close(fd)
                path = str(spooled)
                store.execute(f"COPY (SELECT * FROM {quote(info.table_name)}) TO '{path}' (HEADER, DELIMITER ',')")  # noqa: S608
                with open(path, "rb") as csv_file:
                    response = session.post(
                        f"{base}/api/upload",
                        files={"file": (upload_file_name(info), csv_file, "text/csv")},
                        data={
                            "project": target.project,
                            "truth_type": info.truth_type,
                            "processing_type": "structured",
                        },
                        headers=headers,
                        timeout=(CONNECT_TIMEOUT, READ_TIMEOUT),
                    )
            if response.status_code >= 400:
                raise UploadError(
                    f"engine refused the upload of stream {info.stream!r}: HTTP {response.status_code} "
                    f"{target.redactor.redact(response.text[:300])}"
                )
            job_id = str(response.json().get("job_id") or "")
            if not job_id:
                raise UploadError(f"engine accepted stream {info.stream!r} but returned no job_id")
            _wait_for(session, base, job_id, headers, info, timeout, interval, sleep, clock, target)
            jobs.append(job_id)
    return jobs


def _wait_for(
    session: requests.Session,
    base: str,
    job_id: str,
    headers: dict[str, str],
    info: StreamInfo,
    timeout: float,
    interval: float,
    sleep: t.Callable[[float], None],
    clock: t.Callable[[], float],
    target: TargetXlr8Truths,
) -> None:
    deadline = clock() + timeout
    while True:
        response = session.get(
            f"{base}/api/upload/status/{job_id}", headers=headers, timeout=(CONNECT_TIMEOUT, READ_TIMEOUT)
        )
        if response.status_code >= 500:
            status = "retry"
        elif response.status_code >= 400:
            raise UploadError(f"status of upload job {job_id} ({info.stream}): HTTP {response.status_code}")
        else:
            status = str(response.json().get("status", "")).lower()
        if status in DONE:
            target.logger.info("engine finished upload job %s for stream %s", job_id, info.stream)
            return
        if status in FAILED:
            detail = target.redactor.redact(str(response.json().get("error", ""))[:300])
            raise UploadError(f"engine upload job {job_id} for stream {info.stream!r} failed: {detail}")
        if clock() >= deadline:
            raise UploadError(
                f"upload job {job_id} for stream {info.stream!r} not finished after setting 'upload_timeout' "
                f"({timeout:g} s)"
            )
        sleep(interval)
