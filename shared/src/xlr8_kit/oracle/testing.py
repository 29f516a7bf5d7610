"""What both Oracle taps' tests share: a config for the product's emulator and an in-process run of the tap
(``fusion_test_helpers``, one line in each conftest), and the check that the Meltano plugin definition matches what
the tap reports (settings, secrets, capabilities, one settings group per auth flow, ``pip_url``) and that the
sandbox points at the emulator; ``unstamped`` to compare two runs' STATEs; ``ScriptedStopwatch`` for a read's timing
verdicts decided by the test."""

from __future__ import annotations

import json
import threading
import typing as t
from functools import partial
from pathlib import Path

import yaml

from xlr8_kit.oracle.settings import REQUIRED_BY_AUTH
from xlr8_kit.oracle.stopwatch import Stopwatch
from xlr8_kit.oracle.stream import FULL_READ_AT
from xlr8_kit.rest import KIT_SETTINGS
from xlr8_kit.testing.meltano_e2e import declared_plugin
from xlr8_kit.testing.singer_cli import SingerOutput, run_tap_cli, sync_tap


def unstamped(states: t.Any) -> t.Any:
    """STATE messages (or one state) with every whole-read stamp (``FULL_READ_AT``) blanked: it is a wall-clock
    reading to the second, so two runs' STATEs differ by it alone when a second ticks between them. The runs compared
    keep the shipped ``full_read_every_days`` (review24f #2), so a stamp must be there: none means the default's path
    was not run."""
    found = 0

    def blank(value: t.Any) -> t.Any:
        nonlocal found
        if isinstance(value, dict):
            found += FULL_READ_AT in value
            return {k: "<stamp>" if k == FULL_READ_AT else blank(v) for k, v in value.items()}
        if isinstance(value, list):
            return [blank(v) for v in value]
        return value

    blanked = blank(states)
    assert found, f"no {FULL_READ_AT} in the STATE: the shipped full_read_every_days was not run"
    return blanked


class ScriptedStopwatch(Stopwatch):
    """A stopwatch whose readings the test decides (``FusionStream.stopwatch``), so a read's timing verdicts
    (``xlr8_kit.oracle.ranges``: ranges or one cursor, the width, pages ahead, splits) are the same on any machine:
    every answer's round trip is ``round_trip`` seconds, and each thread's clock moves ``tick`` seconds a reading and
    never otherwise, so what a page costs the tap, and the emitter's wait for a page, are a few ticks each whatever
    the load. ``round_trip`` 0.1 against a tick of 0.1 ms: pages that come back 100 times slower than they cost,
    latency by every judge. A thread's busy time (``busy``: on our own CPU or waiting for one) moves only by ``hold``,
    and how often it slept (``blocks``) by a ``hold`` that slept. Its readings are per thread: a difference taken
    across two threads means nothing under it. The emitter's own verdict (``ranges.WAITED``) and the cut children's
    wait are a tick whatever happened: a test of those must not use it."""

    def __init__(self, round_trip: float, tick: float = 0.0001) -> None:
        self.seconds = round_trip
        self.tick = tick
        self._threads = threading.local()

    def now(self) -> float:
        reading: float = getattr(self._threads, "now", 0.0) + self.tick
        self._threads.now = reading
        return reading

    def round_trip(self, response: t.Any) -> float:
        return self.seconds

    def busy(self) -> float:
        return float(getattr(self._threads, "busy", 0.0))

    def blocks(self) -> int:
        return int(getattr(self._threads, "blocks", 0))

    def hold(self, seconds: float, *, busy: bool, slept: bool | None = None) -> None:
        """The calling thread's clock moves ``seconds`` (say inside a body's read): on our own machine (``busy``:
        the thread on a CPU or starved of one) or not (waiting for the tenant, on the wire). ``slept``: the
        thread slept meanwhile (by default when not ``busy``); ``busy`` and ``slept`` both: it waited for a part
        of the body, then for a CPU while the rest came in (a trickled body on a starved machine)."""
        self._threads.now = getattr(self._threads, "now", 0.0) + seconds
        if busy:
            self._threads.busy = float(getattr(self._threads, "busy", 0.0)) + seconds
        if not busy if slept is None else slept:
            self._threads.blocks = self.blocks() + 1


class ConfigFor(t.Protocol):
    def __call__(self, url: str, **extra: t.Any) -> dict[str, t.Any]: ...


def fusion_test_helpers(tap_class: type, *, username: str, password: str) -> tuple[ConfigFor, partial[SingerOutput]]:
    """``(config_for, run_tap)`` for one Oracle tap's tests: ``config_for(url, **extra)`` is a basic-auth config
    for the emulator at ``url`` (small pages, no waiting between extract polls); ``run_tap(config, streams=...,
    state=..., fake=...)`` syncs in-process over real HTTP and returns what the tap wrote."""

    def config_for(url: str, **extra: t.Any) -> dict[str, t.Any]:
        return {
            "base_url": url,
            "username": username,
            "password": password,
            "page_size": 40,
            "extract_poll_interval": 0,
            **extra,
        }

    return config_for, partial(sync_tap, tap_class)


def assert_meltano_plugin(
    meltano_yml: Path, tap: str, product_settings: t.Any, sandbox_url: str, workdir: Path
) -> None:
    project = yaml.safe_load(meltano_yml.read_text())
    plugin = declared_plugin(meltano_yml.parent, "extractors", tap)
    settings = {s["name"]: s for s in plugin["settings"]}
    schema = {**product_settings.to_dict()["properties"], **KIT_SETTINGS.to_dict()["properties"]}
    assert set(settings) == set(schema)
    for name, spec in schema.items():
        assert bool(settings[name].get("sensitive")) == bool(spec.get("secret")), name
        assert settings[name]["kind"] != "object" or name == "http", name  # flat: no object-typed auth setting
    about = run_tap_cli(tap, ["--about", "--format=json"], workdir)
    assert about.returncode == 0, about.stderr
    assert sorted(plugin["capabilities"]) == sorted(json.loads(about.stdout)["capabilities"])
    assert plugin["pip_url"] == f"-e ./shared -e ./taps/{tap}"
    flows = [set(group) - {"base_url", "auth_type"} for group in plugin["settings_group_validation"]]
    assert flows == [set(REQUIRED_BY_AUTH[k]) for k in ("basic", "oauth_client_credentials", "oauth_jwt")]
    sandbox = next(e for e in project["environments"] if e["name"] == "sandbox")
    configured = next(p for p in sandbox["config"]["plugins"]["extractors"] if p["name"] == tap)
    assert configured["config"]["base_url"] == sandbox_url
