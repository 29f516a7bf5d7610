"""The first stream's first query sent beside the describe (issue 14 goal 5).

A sync's start is serial: token, describe (the streams need it), then the first stream's page 1 with its ranged
read's plan, then the ranges' first pages: at 100 ms a request, four round trips before the middle of the read.
Page 1 and the plan need only the catalog's fields, the object's name and the state's bookmark, so they go out
beside the describe (``send``), built from the catalog as the stream will build them (``predicted``). The stream
takes them (``take`` on its client) only when the query it builds once the describe is in is that very query
(the same SOQL text to the same endpoint): a field the describe no longer has (dropped, renamed, no longer
queryable) makes another query, and the early one is given up (cut if still out; a query spent) and the read goes
as it would have. The plan's two queries are derived from the same name, key and WHERE, so the same match holds
for them.

Only an object's first read (no bookmark, no ``start_date``, no ``filters``) is sent early, for the first stream
the SDK syncs (they sync in name order). The REST requests are optional (``optional_requests``: near the quota
share they leave the last slot to a needed request) and run over their own connections (``xlr8_kit.http.abort``)
so a query no longer wanted is cut, never waited for. An answer that is the vendor's (a Salesforce error body:
QUERY_TIMEOUT, INVALID_FIELD, ...) is the query's answer, raised where the stream would have read it; a request
refused by the quota guard or given up is sent again by the stream as usual.

Through Bulk API 2.0 (``api_type: bulk``) what goes out early is the query job's creation (``EarlyBulkJob``,
optional too), so the org runs the job while the describe is out: its first poll comes a round trip sooner. The
stream takes the job only if it would create that very job (same SOQL, same operation); a job not taken is aborted
(``abort_bulk_job``) on every way out (another query, a failure, the quota stop, SIGTERM, the run's end), never
left running. Each job counts against the org's daily query jobs (``DailyBulkV2QueryJobs``, 10,000 per rolling 24
hours), an aborted one too: a catalog the describe disagrees with costs one job per run. Reads from a bookmark send
nothing early: their SOQL depends on how the SDK reads the state (the replication key it names, signposts), and a
guess that misses spends a job on each daily incremental run.
"""

from __future__ import annotations

import atexit
import contextvars
import logging
import re
import threading
import time
import typing as t
from concurrent.futures import Future, ThreadPoolExecutor

from xlr8_kit.http import abort as kit_abort
from xlr8_kit.http.abort import EXEMPT_GRACE_SECONDS, Abort, grace_left
from xlr8_kit.http.errors import QuotaExhaustedError, RequestAbortedError, ServerUnavailableError
from xlr8_kit.http.session import optional_requests

if t.TYPE_CHECKING:
    import requests
    from singer_sdk.singerlib.catalog import CatalogEntry

    from xlr8_tap_salesforce.ranges import Plan

_T = t.TypeVar("_T")

logger = logging.getLogger(__name__)


class EarlyQuery:
    """A query's page 1 (and its ranged read's plan) sent before the stream that reads it exists (see the module)."""

    def __init__(
        self,
        soql: str,
        include_deleted: bool,
        page: t.Callable[[], requests.Response],
        plan: t.Callable[[], Plan] | None,
    ) -> None:
        self.soql = soql
        self.include_deleted = include_deleted
        #: When page 1 (and the plan) went out: a ranged read waits for the plan as long as page 1 took from here.
        self.sent = time.monotonic()
        self._page_abort = Abort()
        #: The plan's: the ranged read that takes the plan gives it up as its own (``RangedQuery``'s ``abort``).
        self.plan_abort = Abort()
        self._pool = ThreadPoolExecutor(2 if plan is not None else 1, thread_name_prefix="xlr8-early")
        self._page = self._submit(self._page_abort, page)
        self.plan: Future[Plan] | None = self._submit(self.plan_abort, plan) if plan is not None else None

    def _submit(self, abort: Abort, fn: t.Callable[[], _T]) -> Future[_T]:
        def run() -> _T:
            with abort.applied(), optional_requests():
                return fn()

        return self._pool.submit(contextvars.copy_context().run, run)

    def matches(self, soql: str, include_deleted: bool) -> bool:
        return soql == self.soql and include_deleted == self.include_deleted

    def page(self) -> requests.Response | None:
        """Page 1's answer (a 2xx, classified as the session classifies any); raises the vendor's error answer (a
        quota refusal from the org included); None when the kit's guard refused to send it near the quota share, or
        it was given up: the stream sends it itself."""
        try:
            return self._page.result()
        except RequestAbortedError:
            return None
        except QuotaExhaustedError as exc:
            if exc.status is not None:
                raise  # the org's own refusal (403 REQUEST_LIMIT_EXCEEDED): not asked again (review 19e)
            return None  # the kit's guard refused to send it

    def close(self) -> None:
        """Give up what is still out (its connections cut) and end the threads."""
        self._page_abort.abort()
        self.plan_abort.abort()
        self._pool.shutdown(wait=True, cancel_futures=True)
        self._page_abort.close()
        self.plan_abort.close()


#: Once a signal ends the process, how long from it its way out waits for the answers of Bulk creates still out, to
#: abort the jobs they made: less than the kit's ``EXEMPT_GRACE_SECONDS`` (when the create's own connection is cut),
#: leaving the abort PATCH time. A create still unanswered then is logged (a job may run on the org).
CREATE_GRACE_SECONDS = 10.0

#: Creates a caller's interruption left to their own thread's abort (``BulkJobCreate.take``) and not yet aborted.
_LEFT: set[BulkJobCreate] = set()
_LEFT_LOCK = threading.Lock()


@atexit.register
def _abort_left_before_exit() -> None:
    """Run at the interpreter's exit while daemon threads still live (``BulkJobCreate._abort_at_exit``).

    A second Ctrl-C (or SIGTERM) during that wait ends it at once: whoever presses it again wants out, and the wait
    is only for the org's sake. Each create whose job is not aborted yet is logged once (the job may run on); no
    "Exception ignored in atexit callback" traceback (ends22: the handler's SystemExit escaped the callback)."""
    with _LEFT_LOCK:
        left = list(_LEFT)
    try:
        for create in left:
            create._abort_at_exit()
    except (KeyboardInterrupt, SystemExit):
        for create in left:
            create._given_up_at_exit()


def on_own_thread(fn: t.Callable[[], _T], name: str) -> Future[_T]:
    """``fn()`` on a daemon thread of its own, in a copy of this context: nothing joins it at exit, so the way out
    waits for it only as long as it chooses (``BulkJobCreate.close``)."""
    future: Future[_T] = Future()
    future.set_running_or_notify_cancel()
    context = contextvars.copy_context()

    def run() -> None:
        try:
            result = context.run(fn)
        except BaseException as exc:  # noqa: BLE001 - handed to whoever waits on the future
            future.set_exception(exc)
        else:
            future.set_result(result)

    threading.Thread(target=run, name=name, daemon=True).start()
    return future


class BulkJobCreate:
    """A Bulk API 2.0 query job's create, sent on a thread of its own and waited for (``take``) where the job is
    wanted. The create is never cut (a job the org made whose answer was cut would run on unseen), and neither is the
    wait for it by a signal: the handler's ``SystemExit`` on the main thread ends the wait (``take``), not the create,
    and the way out (``close``) aborts the job once the create answers (review 20e: a create sent on the main thread
    was cut, its job ran on). ``optional``: a request the kit's quota guard may refuse near its share (``take``
    answers None then)."""

    def __init__(
        self, soql: str, create: t.Callable[[], str], abort: t.Callable[[str], None], *, optional: bool = False
    ) -> None:
        self.soql = soql
        self._abort = abort
        self._optional = optional
        self._taken = False
        #: Set once one of the two ways that abort a job not taken has it (``close``, ``_abort_once_answered``).
        self._claimed = False
        self._claim_lock = threading.Lock()
        self._aborted_late = threading.Event()
        #: When a caller's interruption left the wait in ``take`` (outside a CLI run).
        self._left_at = 0.0
        #: ``close`` logged the create unanswered: the exit hook does not log it again (review 22a: one job, two lines).
        self._warned = False

        def run() -> str:
            if not optional:
                return create()
            with optional_requests():
                return create()

        self._job = on_own_thread(run, "xlr8-bulk-create")

    def take(self) -> str | None:
        """The job's id, the caller's from now on; raises the org's error answer to the create (a quota refusal from
        the org included: not asked again); None when the kit's guard refused to send an optional create. A signal
        while it waits leaves the job to ``close`` (outside a tap's CLI run also aborted once the create answers)."""
        try:
            job_id = self._job.result()
        except BaseException as exc:
            if self._job.done() and self._job.exception() is exc:
                self._taken = True  # the create's own answer: it made no job
                if isinstance(exc, QuotaExhaustedError) and exc.status is None and self._optional:
                    return None  # the kit's guard refused to send it
            elif not kit_abort.PROCESS_RUN:
                # A caller's Ctrl-C (a connector): no way out may follow, so the job is aborted on the create's thread
                # once it answers (review 21c: it ran on unless a later read on the connector closed it), and the
                # interpreter's exit waits for that abort (``_abort_left_before_exit``).
                self._left_at = time.monotonic()
                with _LEFT_LOCK:
                    _LEFT.add(self)
                self._job.add_done_callback(self._abort_once_answered)
            raise
        self._taken = True
        return job_id

    def _claim(self) -> bool:
        with self._claim_lock:
            claimed, self._claimed = self._claimed, True
        return not claimed

    def _abort_once_answered(self, job: Future[str]) -> None:
        try:
            if job.exception() is None and self._claim():
                self._abort(job.result())
        finally:
            self._aborted_late.set()  # or nothing to abort: a create that failed, a job ``close`` claimed
            with _LEFT_LOCK:
                _LEFT.discard(self)

    def _abort_at_exit(self) -> None:
        """The interpreter is exiting (a script its Ctrl-C ended): the create's daemon thread, which aborts the job once
        the create answers, would die with it (review 21f: the job ran on). Waits for that abort as a CLI run's way
        out does, bounded from the interruption: ``CREATE_GRACE_SECONDS`` for the answer, ``EXEMPT_GRACE_SECONDS``
        in all."""
        try:
            self._job.exception(timeout=self._grace_left(CREATE_GRACE_SECONDS))
        except TimeoutError:
            if self._claim() and not self._warned:
                self._unseen("is still unanswered at exit")
            return
        self._aborted_late.wait(self._grace_left(EXEMPT_GRACE_SECONDS))

    def _given_up_at_exit(self) -> None:
        """A second interruption ended the exit's wait (``_abort_left_before_exit``): a job not aborted yet is logged,
        once (not again if ``close`` or the wait had logged it)."""
        if self._aborted_late.is_set() or self._warned:
            return
        if self._claim():
            self._unseen("is still unanswered at exit, whose wait a second interruption ended", waited=False)
            return
        self._warned = True  # answered: its abort, on the create's thread, is still out
        # the id, so the user can find the job and abort it by hand (review23f Low 3: the line named only the object)
        answered = self._job.done() and self._job.exception() is None
        logger.warning(
            "salesforce bulk query job %s of %s: its abort is still out at exit, whose wait a second interruption "
            "ended; the job may run on the org",
            self._job.result() if answered else "(id unknown)",
            sobject_of(self.soql),
        )

    def close(self) -> None:
        """Not taken: wait for the create's answer, then abort the job it made (one attempt, ``abort``). A create
        that failed made nothing. Once a signal ends the process the wait is bounded (``CREATE_GRACE_SECONDS``)."""
        if self._taken:
            return
        try:
            job_id = self._job.result(timeout=self._grace_left(CREATE_GRACE_SECONDS))
        except TimeoutError:
            # left to the create's thread (``take``): not claimed, so a late answer is still aborted while the process
            # lives (a notebook); the exit hook then only claims it
            self._unseen("is still unanswered", left=bool(self._left_at))
            return
        except RequestAbortedError:
            self._taken = True
            return  # not sent: the process was ending
        except Exception as exc:  # noqa: BLE001 - the org's answer made no job (its error is not this run's)
            if grace_left() is not None and isinstance(exc, ServerUnavailableError) and exc.status is None:
                self._unseen("got no answer after the signal")  # sent, none read: the org may have made the job
            self._taken = True
            return
        self._taken = True  # a second signal during the wait above leaves it to the next way out
        if self._claim():
            self._abort(job_id)
        else:  # aborted on the create's thread (``take``): the exit waits for that abort
            self._aborted_late.wait(self._grace_left(EXEMPT_GRACE_SECONDS))

    def _grace_left(self, grace: float) -> float | None:
        """Seconds left of ``grace`` from the signal that ends the process, or from a caller's interruption of
        ``take`` (the in-process gatherer's way out, which ignores a second signal: ``xlr8_gather.gather``); None
        (no bound) while neither came."""
        left = grace_left(grace)
        if left is None and self._left_at:
            left = max(0.0, self._left_at + grace - time.monotonic())
        return left

    def _unseen(self, what: str, *, left: bool = False, waited: bool = True) -> None:
        self._taken = self._warned = True
        fate = "is aborted if the create answers before this process exits, else it" if left else "is not aborted and"
        logger.warning(
            "salesforce bulk query job of %s: its create %s%s; the job it may have made %s may run on the org",
            sobject_of(self.soql),
            what,
            f" (waited up to {CREATE_GRACE_SECONDS:g} s)" if waited else "",
            fate,
        )


class EarlyBulkJob(BulkJobCreate):
    """A Bulk API 2.0 query job created before the stream that reads it exists (see the module); optional. A job not
    taken is aborted once its create answered (``close``)."""

    def __init__(
        self, soql: str, include_deleted: bool, create: t.Callable[[], str], abort: t.Callable[[str], None]
    ) -> None:
        self.include_deleted = include_deleted
        super().__init__(soql, create, abort, optional=True)

    def matches(self, soql: str, include_deleted: bool) -> bool:
        """The very job the stream would create: the same SOQL text and operation (query or queryAll)."""
        return soql == self.soql and include_deleted == self.include_deleted


def sobject_of(soql: str) -> str:
    """The sObject a SOQL reads (for a log line: not the query, whose terms hold record values)."""
    found = re.search(r" FROM (\w+)", soql)
    return found.group(1) if found else "a query"


class Predicted(t.NamedTuple):
    """The first query of a stream's first read, as the stream will build it from the catalog entry."""

    name: str
    fields: list[str]
    replication_key: str | None
    include_deleted: bool


def predicted(entry: CatalogEntry, *, include_deleted: bool, deleted_at: str) -> Predicted:
    """What the stream of ``entry`` selects (``SalesforceStream.selected_fields``: the schema's properties the
    catalog selects, plus Id, the replication key and IsDeleted; ``deleted_at`` is the tap's own), the key the SDK
    gives it from the catalog, and whether it reads deleted rows (``queryAll``): a guess the stream checks."""
    metadata = entry.metadata.get(())
    key = entry.replication_key or (getattr(metadata, "replication_key", None) if metadata is not None else None)
    properties = entry.schema.to_dict().get("properties") or {}
    mask = entry.metadata.resolve_selection()
    always = {"Id", key, "IsDeleted"}
    fields = [
        name for name in properties if name != deleted_at and (name in always or mask.get(("properties", name), True))
    ]
    return Predicted(entry.tap_stream_id, fields, key, include_deleted and "IsDeleted" in properties)
