"""A tap's start-up imports only what every run needs: the query language, key handling (cryptography, PyJWT,
signxml) load when a setting asks for them; singer_sdk's joblib (and numpy through it) and universal_pathlib
(fsspec) when the SDK calls them (``xlr8_kit.startup.DEFERRED``). Every run pays for its imports before the first
record (issue 14: a 50,000-record run takes 1-3 s, start-up 0.3-0.5 s of it)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

#: Modules a tap with no ``filters`` setting and no key-based auth flow never uses.
LAZY = ("xlr8_kit.query", "jwt", "signxml", "cryptography")
#: Modules no plugin command (taps and the target) imports before the SDK calls them: a parallel drain of sinks
#: (joblib, which imports numpy), BATCH storage (upath, fsspec), ``--about``'s Python versions (packaging), backoff
#: retrying a coroutine (asyncio), BATCH encoder plug-ins (importlib_metadata), a logging config file
#: (logging.config), requests guessing a body's encoding (charset_normalizer).
DEFERRED_BY_THE_SDK = (
    "joblib",
    "numpy",
    "upath",
    "fsspec",
    "packaging",
    "asyncio",
    "importlib_metadata",
    "logging.config",
    "charset_normalizer",
)


def tap_modules() -> list[str]:
    """The module behind every ``tap-*`` console script (``taps/*/pyproject.toml``)."""
    modules = []
    for project in sorted(ROOT.glob("taps/tap-*/pyproject.toml")):
        scripts = tomllib.loads(project.read_text())["project"]["scripts"]
        modules += [target.split(":")[0] for name, target in scripts.items() if name.startswith("tap-")]
    return modules


@pytest.mark.parametrize("module", tap_modules())
def test_tap_module_imports_no_optional_machinery(module: str) -> None:
    probe = f"import sys, {module}; print(' '.join(m for m in {LAZY!r} if m in sys.modules))"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.split() == [], f"{module} imports {done.stdout.strip()} at start-up"


def plugin_scripts() -> list[str]:
    """The module behind every plugin's console script: the taps', the targets' and the mapper's."""
    modules = tap_modules()
    for project in [ROOT / "taps/mapper-common/pyproject.toml", *sorted(ROOT.glob("target-*/pyproject.toml"))]:
        scripts = tomllib.loads(project.read_text())["project"]["scripts"]
        modules += [target.split(":")[0] for target in scripts.values()]
    return modules


def test_every_plugin_command_is_its_script_module() -> None:
    """Each console script runs ``<package>.__main__:main`` (imports inside ``plugin_imports``), not the plugin
    class's ``cli`` directly, which would import singer_sdk whole and leave the imported heap unfrozen."""
    assert len(plugin_scripts()) == len(list(ROOT.glob("taps/*/pyproject.toml"))) + 2
    assert [m for m in plugin_scripts() if not m.endswith(".__main__")] == []


@pytest.mark.parametrize("module", plugin_scripts())
def test_plugin_command_imports_singer_sdk_without_what_only_rare_paths_call(module: str) -> None:
    probe = (
        f"import gc, sys, {module}; "
        f"print(' '.join(m for m in {DEFERRED_BY_THE_SDK!r} if m in sys.modules) or '-', gc.get_freeze_count() > 0)"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["-", "True"], f"{module} start-up: {done.stdout.strip()}"


#: What only validation uses (``xlr8_kit.startup.LAZY_NAMES``): a tap's or the mapper's start-up does not import it; a
#: target validates every record and imports it as it starts.
VALIDATION = ("jsonschema", "referencing", "jsonschema_specifications", "rpds", "attrs")
#: ``extract_jsonpath``'s parser (``LAZY_NAMES`` too): imported at the first path the kit's ``extract_records`` does
#: not read itself.
JSONPATH = ("jsonpath_ng", "jsonpath_ng.ext", "jsonpath_ng._ply.yacc")


@pytest.mark.parametrize("module", [*tap_modules(), "xlr8_mapper_common.__main__"])
def test_tap_and_mapper_commands_import_no_validation_library(module: str) -> None:
    lazy = VALIDATION + JSONPATH
    probe = f"import sys, {module}; print(' '.join(m for m in {lazy!r} if m in sys.modules) or '-')"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["-"], f"{module} start-up: {done.stdout.strip()}"


def test_a_valid_config_file_is_checked_without_jsonschema(tmp_path: Path) -> None:
    """``tap-common --discover`` (every setting checked, no request) from a config file with fractions (the SDK
    reads them as Decimal) and an ``http`` block: proven valid by ``xlr8_kit.config_check``, so jsonschema never
    loads; an invalid one still gets jsonschema's errors, naming the setting."""
    probe = (
        "import sys\n"
        "from xlr8_tap_common.__main__ import main\n"
        "try:\n"
        "    main.__wrapped__(['--config', sys.argv[1], '--discover'])\n"
        "except SystemExit as exit:\n"
        "    print(exit.code, 'jsonschema' in sys.modules, file=sys.stderr)\n"
    )
    config = {"api_base_url": "http://127.0.0.1:9", "email": "a@b.c", "password": "pw",
              "page_size": 200, "start_date": "2024-01-01",
              "http": {"max_attempts": 3, "backoff_base": 0.25, "read_timeout": 12.5}}  # fmt: skip
    results = []
    for extra in ({}, {"page_size": 2.5}):
        path = tmp_path / "config.json"
        path.write_text(json.dumps({**config, **extra}))
        done = subprocess.run([sys.executable, "-c", probe, str(path)], capture_output=True, text=True, check=False)
        results.append(done.stderr.splitlines()[-1])
        if extra:
            assert "setting 'page_size' must be of type ['integer', 'null']" in done.stderr
        else:
            assert '"tap_stream_id":"purchase_orders"' in done.stdout
    assert results == ["0 False", "1 True"]


@pytest.mark.parametrize("module", plugin_scripts())
def test_plugin_command_keeps_numpys_blas_to_one_thread(module: str) -> None:
    # joblib (through singer_sdk) imports numpy when it is installed; its BLAS pool of spinning threads cost a tap
    # ~0.12 s of CPU per run. joblib now loads only if the SDK calls it, and the target's DuckDB functions load
    # numpy: the variable must be set before either, so the script module sets it.
    probe = f"import os, {module}; print(os.environ['OPENBLAS_NUM_THREADS'], os.environ['OMP_NUM_THREADS'])"
    env = {k: v for k, v in os.environ.items() if not k.endswith("_NUM_THREADS")}
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, env=env)
    blas, omp = done.stdout.split()
    assert (blas, omp) == ("1", "1"), f"{module}: BLAS threads {blas}, OpenMP threads {omp}"
    kept = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        check=True,
        env={**env, "OPENBLAS_NUM_THREADS": "3"},
    )
    assert kept.stdout.split()[0] == "3", "a value the user set is kept"


def tap_classes() -> list[tuple[str, str]]:
    """``(module, class)`` of every tap's plugin class (``taps/tap-*/pyproject.toml``: the ``tap-*`` script's
    package, whose ``tap`` module defines it)."""
    classes = []
    for module in tap_modules():
        package = module.split(".")[0]
        project = ROOT / "taps" / package.replace("xlr8_", "").replace("_", "-")
        lines = (project / "src" / package / "tap.py").read_text().splitlines()
        name = next(line.split("(")[0].removeprefix("class ") for line in lines if line.startswith("class Tap"))
        classes.append((f"{package}.tap", name))
    return classes


@pytest.mark.parametrize(("module", "name"), tap_classes())
def test_versions_are_read_without_the_metadata_email_parser(module: str, name: str) -> None:
    """The version line every run logs (``tap-x v…, Meltano SDK v…``) and the streams' User-Agent read the
    versions ``importlib.metadata`` gives, from the ``Version`` header alone: the email parser behind
    ``Distribution.metadata`` (``email.policy``) is never imported for them."""
    probe = (
        f"import sys\n"
        f"from {module} import {name} as Tap\n"
        f"lines = []\n"
        f"Tap.print_version(lines.append)\n"
        f"print(lines[0], 'email.policy' in sys.modules)\n"
        f"from xlr8_kit.rest import sdk_version\n"
        f"from importlib import metadata\n"
        f"print(metadata.version(Tap.package_name), metadata.version('singer_sdk'), sdk_version())\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    first, second = done.stdout.splitlines()
    version, sdk, ours = second.split()
    assert first.split() == [first.split()[0], f"v{version},", "Meltano", "SDK", f"v{sdk}", "False"]
    assert ours == sdk


#: Paths through every branch of ``singer_sdk.helpers.jsonpath.extract_jsonpath`` (the ``[*]`` over an object takes
#: its ``isinstance(path, Child)`` / ``Slice`` branch), and the data they read.
JSONPATH_CASES = (
    ("$.a[*]", {"a": [1, {"b": 2}]}),
    ("$.a[*]", {"a": {"x": 1}}),
    ("$.a[:]", {"a": [1, 2]}),
    ("$", {"b": 1}),
    ("$.a[0:1]", {"a": [3, 4]}),
    ("$.a.b[*].c", {"a": {"b": [{"c": 1}, {"c": 2}, {}]}}),
    ("$.a[?(@.v > 1)]", {"a": [{"v": 1}, {"v": 2}]}),
)


def test_jsonpath_at_its_first_use_after_a_lazy_start_gives_what_an_eager_one_gives() -> None:
    """A tap started with jsonpath_ng lazy (``LAZY_NAMES``) extracts what one started with it imported gives, also
    when four reader threads ask for the first path at once; jsonpath_ng is not imported until then."""
    probe = (
        "import json, sys, threading, warnings\n"
        "warnings.simplefilter('ignore')\n"
        "if sys.argv[1] == 'eager':\n"
        "    import jsonpath_ng.ext\n"
        "import xlr8_tap_ukg_ready.__main__\n"
        "from singer_sdk.helpers.jsonpath import extract_jsonpath\n"
        "before = 'jsonpath_ng' in sys.modules\n"
        "cases = json.loads(sys.argv[2])\n"
        "found = [None] * 4\n"
        "def read(i):\n"
        "    found[i] = [list(extract_jsonpath(path, data)) for path, data in cases]\n"
        "threads = [threading.Thread(target=read, args=(i,)) for i in range(4)]\n"
        "for thread in threads: thread.start()\n"
        "for thread in threads: thread.join()\n"
        "assert all(f == found[0] for f in found), found\n"
        "from singer_sdk.helpers import jsonpath\n"
        "path = jsonpath._compile_jsonpath('$.a[:]')\n"
        "kinds = [isinstance(path, jsonpath.Child), isinstance(path.right, jsonpath.Slice)]\n"
        "kinds.append(isinstance(path, jsonpath.Slice))\n"
        "print(json.dumps([before, found[0], kinds]))\n"
    )
    cases = json.dumps(JSONPATH_CASES)
    results = {}
    for start in ("lazy", "eager"):
        done = subprocess.run([sys.executable, "-c", probe, start, cases], capture_output=True, text=True, check=True)
        results[start] = json.loads(done.stdout)
    assert results["lazy"][0] is False, "jsonpath_ng imported at a tap's start-up"
    assert results["eager"][0] is True
    assert results["lazy"][1:] == results["eager"][1:]
    assert results["eager"][2] == [True, True, False], "the SDK's isinstance checks of a compiled path"
    assert results["eager"][1][0] == [1, {"b": 2}]
    assert results["eager"][1][5] == [1, 2]


#: What a ``meltano run tap-salesforce target-xlr8-truths`` imports: Meltano's CLI, the tap and the target, and the
#: target's DuckDB store, which it imports only when it first lands a stream (review22d).
RUN_MODULES = ("meltano.cli", "xlr8_tap_salesforce.tap", "target_xlr8_truths.target", "target_xlr8_truths.duckdb_store")

#: Reports each imported module (its source inside the venv or the workspace) whose bytecode on disk is missing or
#: stale, read as importlib would: the .pyc header's source mtime and size against the source file's.
BYTECODE_PROBE = """
import os, struct, sys
for name in sys.argv[2:]:
    __import__(name)
roots = (sys.prefix, sys.argv[1])
for name, module in sorted(sys.modules.items()):
    source, cached = getattr(module, "__file__", None), getattr(module, "__cached__", None)
    if not source or not cached or not source.endswith(".py") or not source.startswith(roots):
        continue
    try:
        with open(cached, "rb") as pyc:
            header = pyc.read(16)
    except OSError:
        print(name)
        continue
    flags, mtime, size = struct.unpack("<III", header[4:16])
    stat = os.stat(source)
    if flags == 0 and (mtime, size) != (int(stat.st_mtime) & 0xFFFFFFFF, stat.st_size & 0xFFFFFFFF):
        print(name)
"""


def test_what_a_meltano_run_imports_loads_from_bytecode_on_disk() -> None:
    """scripts/bootstrap.sh compiles the venv and the workspace's sources where Python writes no bytecode itself
    (PYTHONDONTWRITEBYTECODE, as in CI): else every meltano, tap and target process compiles its imports from source
    each run (bench/README "`meltano run`'s fixed cost"; about 1.6 s of CPU a run, review22d). The probe runs with
    the variable set, so it writes nothing and sees what a run finds. Without the variable in this shell the
    bootstrap compiles nothing (the first run writes what it imports): nothing to check."""
    if not os.environ.get("PYTHONDONTWRITEBYTECODE"):
        pytest.skip("PYTHONDONTWRITEBYTECODE is not set: Python writes bytecode at first import, bootstrap need not")
    probe = ["-c", BYTECODE_PROBE, str(ROOT), *RUN_MODULES]
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    env.pop("PYTHONPYCACHEPREFIX", None)
    done = subprocess.run([sys.executable, *probe], capture_output=True, text=True, check=True, env=env, cwd=ROOT)
    missing = done.stdout.split()
    assert missing == [], f"{len(missing)} modules without current bytecode, e.g. {missing[:8]}: run bootstrap.sh"
