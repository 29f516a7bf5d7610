"""audit25d F6: UKG Pro's gateway enforces its quotas over a window ("normally 1 minute") and answers 429 without a
Retry-After for the rest of it. The kit gave such a 429 the 5xx backoff (1+2+4+8 s) and the run failed after about
15 s; now it waits the product's window out (``http.rate_window``, 60 s for UKG Pro)."""

from __future__ import annotations

from xlr8_kit.testing.fake_time import FakeTime, with_fake_time
from xlr8_kit.testing.singer_cli import select_streams, sync_in_process
from xlr8_sandbox.platform.faults import FaultSpec
from xlr8_tap_ukg_pro.tap import TapUkgPro

from .conftest import ukg_config

SPENT = FaultSpec(kind="status", status=429, body='{"message":"Rate limit is exceeded."}', after=1)


class _QuotaWindow(FakeTime):
    """The tap's clock; the gateway's 429s end 40 s (on that clock) after they began."""

    def __init__(self, sandbox, seconds: float) -> None:
        super().__init__()
        self.sandbox, self.seconds, self.began = sandbox, seconds, None

    def sleep(self, seconds: float) -> None:
        super().sleep(seconds)
        if self.began is None:
            self.began = self.now - seconds
        if self.now - self.began >= self.seconds:
            self.sandbox.faults.clear("ukg_pro")


def test_a_429_without_retry_after_for_40_s_is_waited_out(url: str, sandbox, emulator) -> None:
    config = ukg_config(url)
    catalog = select_streams(
        with_fake_time(TapUkgPro, FakeTime())(config=config, parse_env_config=False).catalog_dict,
        {"employment_details"},
    )
    clean = sync_in_process(TapUkgPro(config=config, catalog=catalog, parse_env_config=False), exact_decimals=True)
    sandbox.faults.add("ukg_pro", "*", SPENT)
    fake = _QuotaWindow(sandbox, 40.0)
    tap = with_fake_time(TapUkgPro, fake)(config=config, catalog=catalog, parse_env_config=False)
    out = sync_in_process(tap, exact_decimals=True)
    assert out.records("employment_details") == clean.records("employment_details")
    assert fake.began is not None
    assert fake.now - fake.began >= 40
    assert all(wait >= 60 for wait in fake.sleeps)  # each 429 waits the window, not 0.5 .. 8 s
