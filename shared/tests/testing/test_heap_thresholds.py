"""A tap's malloc thresholds: fixed on glibc as the command starts (its console script's ``main``, not the import of
its package), a user's own setting left alone, the target's untouched. Each case runs in a fresh interpreter and
asks glibc (``mallinfo2``) whether an 8 MB block was mmapped, or (``malloc_stats``) how many arenas there are once a
second thread has allocated."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

GLIBC = bool(os.confstr("CS_GNU_LIBC_VERSION")) if "CS_GNU_LIBC_VERSION" in os.confstr_names else False
pytestmark = pytest.mark.skipif(not GLIBC, reason="mallopt thresholds exist only in glibc")

#: glibc's ``mallinfo2`` (``hblkhd``: the bytes it holds in mmapped blocks).
MALLINFO = """
import ctypes, json
class Info(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in
                "arena ordblks smblks hblks hblkhd usmblks fsmblks uordblks fordblks keepcost".split()]
mallinfo2 = ctypes.CDLL(None).mallinfo2
mallinfo2.restype = Info
"""

#: Run after ``setup``: the bytes glibc holds in mmapped blocks grow by the block's size when an 8 MB block is
#: served by mmap, and not at all when it comes from the heap.
PROBE = (
    MALLINFO
    + """done = {setup}
before = mallinfo2().hblkhd
block = b"x" * (8 * 2**20)
print(json.dumps({{"set": list(done), "mmapped": mallinfo2().hblkhd - before}}))
"""
)

#: A second thread allocates blocks that come from an arena (under the mmap threshold), then glibc lists its arenas
#: (``malloc_stats`` writes one "Arena N:" line each to stderr).
SECOND_THREAD = """
import ctypes, threading
def allocate():
    blocks = [bytearray(200_000) for _ in range(5)]
thread = threading.Thread(target=allocate)
thread.start()
thread.join()
ctypes.CDLL(None).malloc_stats()
"""


def _probe(setup: str, **env: str) -> tuple[list[str], int]:
    """The variables ``setup`` reports set, and the growth of glibc's mmapped bytes as an 8 MB block is made."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_") and k != "GLIBC_TUNABLES"}
    code = PROBE.format(setup=setup)
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env={**clean, **env}, check=True
    )
    result = json.loads(done.stdout)
    return list(result["set"]), int(result["mmapped"])


FIX = "__import__('xlr8_kit.startup', fromlist=['x']).fix_heap_thresholds()"
BLOCK = 8 * 2**20


def test_by_default_glibc_mmaps_an_8_mb_block() -> None:
    """The control: without the fix the block is mmapped (what makes the other cases able to fail)."""
    assert _probe("()")[1] >= BLOCK


def test_fixed_thresholds_serve_an_8_mb_block_from_the_heap() -> None:
    assert _probe(FIX) == (["MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "MALLOC_ARENA_MAX"], 0)


def test_a_threshold_the_user_set_wins() -> None:
    done, mmapped = _probe(FIX, MALLOC_MMAP_THRESHOLD_=str(2**20))
    assert done == ["MALLOC_TRIM_THRESHOLD_", "MALLOC_ARENA_MAX"]
    assert mmapped >= BLOCK  # the user's 1 MB threshold held
    done, mmapped = _probe(FIX, GLIBC_TUNABLES="glibc.malloc.mmap_threshold=1048576:glibc.malloc.trim_threshold=131072")
    assert done == ["MALLOC_ARENA_MAX"]
    assert mmapped >= BLOCK


ROOT = Path(__file__).resolve().parents[3]
#: Every plugin's console script and its module (the taps', the mapper's, both targets').
SCRIPTS: dict[str, str] = {
    name: target.split(":")[0]
    for project in sorted([*ROOT.glob("taps/*/pyproject.toml"), *ROOT.glob("target-*/pyproject.toml")])
    for name, target in tomllib.loads(project.read_text())["project"]["scripts"].items()
    if target.endswith(".__main__:main")
}
#: The one plugin whose command leaves glibc's defaults (its peak is close to goal 4's limit: ``xlr8_kit.startup``).
UNFIXED = {"target-xlr8-truths"}

#: Run at the end: the growth of glibc's mmapped bytes as an 8 MB block is made (printed), then the arenas once a
#: second thread has allocated (``SECOND_THREAD``).
AT_END = (
    MALLINFO
    + """before = mallinfo2().hblkhd
block = b"x" * (8 * 2**20)
print(json.dumps({"mmapped": mallinfo2().hblkhd - before}), flush=True)
"""
    + SECOND_THREAD
)


def _heap(code: str, **env: str) -> tuple[int, int]:
    """``AT_END``'s mmapped bytes and arenas in a fresh interpreter running ``code`` (which runs ``AT_END``)."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_") and k != "GLIBC_TUNABLES"}
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env={**clean, **env}, check=True
    )
    mmapped = json.loads(done.stdout.splitlines()[-1])["mmapped"]
    return int(mmapped), sum(line.startswith("Arena ") for line in done.stderr.splitlines())


def _imported(module: str) -> str:
    """Code importing a plugin as a host process would (its package, then its ``__main__``, which imports the plugin's
    class), then measuring."""
    return f"import {module.rpartition('.')[0]}\nimport {module}\n" + AT_END


def _console(script: str, before: str = "") -> str:
    """Code running the installed console script ``script --about`` as its shell would (``runpy`` of the script
    file), measuring as the command ends: in its ``atexit`` handlers, which a tap's ``main`` runs before
    ``os._exit`` (``xlr8_kit.process_end``); a click command ending in ``SystemExit`` runs them here."""
    path = str(Path(sys.executable).with_name(script))
    return (
        "import atexit, runpy, sys\n"
        f"atexit.register(exec, {AT_END!r}, {{}})\n{before}\n"
        f"sys.argv = [{path!r}, '--about']\n"
        "try:\n"
        f"    runpy.run_path({path!r}, run_name='__main__')\n"
        "except SystemExit:\n"
        "    atexit._run_exitfuncs()\n"
    )


def test_every_plugin_command_is_listed() -> None:
    """The control for the two tests below: the ten taps, the mapper and both targets."""
    assert len(SCRIPTS) == len(list(ROOT.glob("taps/*/pyproject.toml"))) + 2
    assert {"tap-common", "tap-salesforce", "mapper-common", "target-common", "target-xlr8-truths"} <= set(SCRIPTS)


@pytest.mark.parametrize("script", sorted(SCRIPTS))
def test_a_plugin_command_fixes_them_and_the_target_does_not(script: str) -> None:
    mmapped, arenas = _heap(_console(script))
    if script in UNFIXED:
        assert (mmapped >= BLOCK, arenas) == (True, 2)
    else:
        assert (mmapped, arenas) == (0, 1)


@pytest.mark.parametrize("script", sorted(SCRIPTS))
def test_importing_a_plugin_leaves_the_host_allocator_as_it_is(script: str) -> None:
    """A process that imports a tap (user code calling ``Tap(...).sync_all()``, the SDK's test helpers, even the
    ``__main__`` module) keeps glibc's defaults: the 8 MB block mmapped, a second thread in an arena of its own."""
    mmapped, arenas = _heap(_imported(SCRIPTS[script]))
    assert mmapped >= BLOCK
    assert arenas == 2


#: Run after ``setup``: ``SECOND_THREAD``.
ARENAS = "done = {setup}\n" + SECOND_THREAD


def _arenas(setup: str, **env: str) -> int:
    """glibc's arenas once a thread besides the main one has allocated, after ``setup``."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_") and k != "GLIBC_TUNABLES"}
    done = subprocess.run(
        [sys.executable, "-c", ARENAS.format(setup=setup)],
        capture_output=True,
        text=True,
        env={**clean, **env},
        check=True,
    )
    return sum(line.startswith("Arena ") for line in done.stderr.splitlines())


def test_every_thread_allocates_from_one_arena() -> None:
    """By default a second thread gets an arena of its own (the control); fixed, it shares the main one (a ranged
    read's reader threads then reuse the memory the others freed instead of each keeping its own)."""
    assert _arenas("()") == 2
    assert _arenas(FIX) == 1
    assert _arenas(FIX, MALLOC_ARENA_MAX="2") == 2  # the user's setting wins
    assert _arenas(FIX, GLIBC_TUNABLES="glibc.malloc.arena_max=2") == 2
    assert _heap(_console("tap-common"))[1] == 1
    assert _heap(_console("target-xlr8-truths"))[1] == 2


@pytest.mark.parametrize("value", ["", "0", "abc", "-1"])
def test_an_arena_count_glibc_ignores_leaves_the_tap_setting_on(value: str) -> None:
    """glibc ignores these values (a second thread would get its own arena): the tap's one arena still holds."""
    assert _arenas(FIX, MALLOC_ARENA_MAX=value) == 1


def test_a_threshold_glibc_ignores_leaves_the_tap_setting_on() -> None:
    done, mmapped = _probe(FIX, MALLOC_MMAP_THRESHOLD_="lots")
    assert "MALLOC_MMAP_THRESHOLD_" in done
    assert mmapped == 0


def test_a_python_without_ctypes_starts_a_tap_with_nothing_fixed() -> None:
    """A Python built without libffi has no ``_ctypes``: the tap's command runs, its allocator as glibc set it (the
    measure at the end gets ctypes back first: ``atexit`` runs the last handler registered first)."""
    no_ctypes = (
        "import ctypes as real_ctypes\n"
        "atexit.register(exec, 'import sys; sys.modules[\"ctypes\"] = real_ctypes', {'real_ctypes': real_ctypes})\n"
        "sys.modules['ctypes'] = None\n"
    )
    assert _heap(_console("tap-common", before=no_ctypes))[0] >= BLOCK
