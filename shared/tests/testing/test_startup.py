"""The start-up helpers leave the garbage collector as they found it, and a plugin's command freezes once."""

from __future__ import annotations

import gc
import os
import subprocess
import sys
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from xlr8_kit.startup import DEFERRED, DEFERRED_FOR, STAND_IN_VALUES, paused_gc


def test_paused_gc_restores_the_collector_state() -> None:
    assert gc.isenabled()
    with paused_gc():
        assert not gc.isenabled()
    assert gc.isenabled()
    gc.disable()
    try:
        with paused_gc():
            assert not gc.isenabled()
        assert not gc.isenabled()  # it was off before: left off
    finally:
        gc.enable()


def test_paused_gc_restores_the_collector_when_the_import_fails() -> None:
    try:
        with paused_gc():
            raise ImportError("a tap that does not import")
    except ImportError:
        pass
    assert gc.isenabled()


def test_a_kit_command_freezes_the_start_up_objects_once() -> None:
    """In a fresh process (the freeze is per process): the command's start freezes what exists; a second call
    does not freeze what was created in between."""
    probe = (
        "import gc\n"
        "from xlr8_kit.startup import freeze_start_up_objects\n"
        "assert gc.get_freeze_count() == 0\n"
        "freeze_start_up_objects()\n"
        "first = gc.get_freeze_count()\n"
        "assert first > 0 and gc.isenabled()\n"
        "later = [[i] for i in range(1000)]\n"
        "freeze_start_up_objects()\n"
        "assert gc.get_freeze_count() == first\n"
    )
    subprocess.run([sys.executable, "-c", probe], check=True)


def _probe(code: str) -> str:
    """Run ``code`` in a fresh interpreter (start-up state is per process) and return what it printed."""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def test_plugin_imports_load_singer_sdk_without_the_deferred_libraries_and_freeze() -> None:
    out = _probe(
        "import gc, sys\n"
        "from xlr8_kit.startup import plugin_imports\n"
        "with plugin_imports():\n"
        "    import singer_sdk\n"
        "deferred = ('joblib', 'upath', 'fsspec', 'numpy', 'packaging', 'asyncio', 'importlib_metadata',\n"
        "    'logging.config', 'charset_normalizer')\n"
        "print(sorted(m for m in deferred if m in sys.modules))\n"
        "print(sorted(n for n, m in sys.modules.items() if type(m).__name__ == '_StandIn'))\n"
        "print(gc.isenabled(), gc.get_freeze_count() > 10000)\n"
        "from requests.packages import chardet\n"
        "guessed = chardet.detect(b'plain ascii')['encoding']\n"
        "print(guessed, chardet.__version__ == sys.modules['charset_normalizer'].__version__)\n"
    )
    # requests.packages aliases its detection module under two legacy names as it imports: the stand-in stays
    # there, and its names resolve to the real module's
    aliases = "['requests.packages.chardet', 'requests.packages.charset_normalizer']"
    assert out.splitlines() == ["[]", aliases, "True True", "ascii True"]


def test_the_deferred_names_give_the_real_objects_when_called() -> None:
    """What singer_sdk calls: joblib's parallel drain of a target's sinks (through the SDK's own ``_drain_all``)
    and universal_pathlib's ``UPath`` for BATCH storage return what the real names return."""
    out = _probe(
        "import sys, types\n"
        "from xlr8_kit.startup import plugin_imports\n"
        "with plugin_imports():\n"
        "    import singer_sdk\n"
        "from singer_sdk import target_base\n"
        "from singer_sdk.helpers import _batch\n"
        "drained = []\n"
        "target_base.Target._drain_all(types.SimpleNamespace(drain_one=drained.append), list(range(5)), 2)\n"
        "import joblib, upath\n"
        "assert type(joblib).__name__ == 'module' and joblib.__file__, joblib\n"
        "assert isinstance(target_base.Parallel(n_jobs=1), joblib.Parallel)\n"
        "assert isinstance(target_base.parallel_config(backend='threading'), joblib.parallel_config)\n"
        "assert target_base.delayed(abs)(-3) == joblib.delayed(abs)(-3)\n"
        "p = _batch.UPath('file:///tmp/batches/x.jsonl.gz')\n"
        "assert type(p) is type(upath.UPath('file:///tmp/batches/x.jsonl.gz')), type(p)\n"
        "assert p == upath.UPath('file:///tmp/batches/x.jsonl.gz')\n"
        "head, tail = _batch.StorageTarget.split_url('file:///tmp/batches/x.jsonl.gz')\n"
        "print(sorted(drained), head, tail)\n"
    )
    assert out.split()[:5] == ["[0,", "1,", "2,", "3,", "4]"]
    assert out.split()[-2:] == ["file:///tmp/batches", "x.jsonl.gz"]  # what singer_sdk 0.54.9 gives


def test_the_deferred_packaging_and_backoff_names_work_when_called() -> None:
    """``--about``'s supported Python versions (``SpecifierSet``, ``Version``) as packaging gives them; backoff retries
    a plain function without asyncio, and a coroutine through its real ``_async`` (imported at that call)."""
    out = _probe(
        "import sys\n"
        "from xlr8_kit.startup import plugin_imports\n"
        "with plugin_imports():\n"
        "    import singer_sdk\n"
        "from singer_sdk import about\n"
        "print(list(about.get_supported_pythons('>=3.10,<3.13')))\n"
        "import backoff\n"
        "calls = []\n"
        "@backoff.on_exception(backoff.constant, ValueError, max_tries=3, interval=0)\n"
        "def flaky():\n"
        "    calls.append(1)\n"
        "    if len(calls) < 3:\n"
        "        raise ValueError\n"
        "    return len(calls)\n"
        "print(flaky(), 'asyncio' in sys.modules)\n"
        "@backoff.on_exception(backoff.constant, ValueError, max_tries=2, interval=0)\n"
        "async def coroutine():\n"
        "    calls.append(2)\n"
        "    if calls.count(2) < 2:\n"
        "        raise ValueError\n"
        "    return 'retried'\n"
        "import asyncio\n"
        "print(asyncio.run(coroutine()), type(sys.modules['backoff._async']).__name__)\n"
        "import packaging.specifiers\n"
        "real = packaging.specifiers.SpecifierSet('>=3.10')\n"
        "print(type(packaging.specifiers).__name__, about.SpecifierSet('>=3.10') == real)\n"
    )
    assert out.splitlines() == ["['3.10', '3.11', '3.12']", "3 False", "retried module", "module True"]


def _sdk_imports_from(
    module: str, importer: str = "singer_sdk", values: tuple[str, ...] = ()
) -> tuple[set[str], list[str]]:
    """Names ``importer``'s installed source (singer_sdk's, or one package's or module's) takes from ``module`` at
    import time (``TYPE_CHECKING`` blocks left out; a submodule taken whole, ``from backoff import _async``, or
    imported by its dotted name, ``import logging.config``, counts the attributes called on it), and every use of
    them that is not a call (``file:line name``), except of ``values`` (names a stand-in carries as they are).
    Annotations do not count where the module has ``from __future__ import annotations`` (they stay strings)."""
    import ast
    import importlib.util

    spec = importlib.util.find_spec(importer)
    assert spec is not None
    assert spec.origin
    if spec.submodule_search_locations:
        paths = sorted(Path(next(iter(spec.submodule_search_locations))).rglob("*.py"))
    else:
        paths = [Path(spec.origin)]
    package, _, child = module.rpartition(".")
    names: set[str] = set()
    not_called: list[str] = []
    for path in paths:
        tree = ast.parse(path.read_text(), str(path))
        checking = {
            id(node)
            for block in ast.walk(tree)
            if isinstance(block, ast.If) and "TYPE_CHECKING" in ast.unparse(block.test)
            for node in ast.walk(block)
        }
        taken = {}
        whole = set()  # names bound to the module itself
        dotted = False
        for node in ast.walk(tree):
            if id(node) in checking:
                continue
            if isinstance(node, ast.Import) and any(
                a.name == module or a.name.startswith(module + ".") for a in node.names
            ):
                if package and [(a.name, a.asname) for a in node.names] == [(module, None)]:
                    dotted = True  # ``import logging.config``: its uses are ``logging.config.<name>``
                else:
                    not_called.append(f"{path.name}:{node.lineno} import {module}")
            if isinstance(node, ast.ImportFrom) and package and node.module == package:
                whole |= {alias.asname or alias.name for alias in node.names if alias.name == child}
            if isinstance(node, ast.ImportFrom) and (
                node.module == module or (node.module or "").startswith(f"{module}.")
            ):
                for alias in node.names:
                    taken[alias.asname or alias.name] = alias.name
                    names.add(alias.name if node.module == module else f"{node.module}.{alias.name}")
        calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call)]
        allowed = {id(n.func) for n in calls}
        for call in calls:
            func = call.func
            if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and func.value.id in whole:
                names.add(func.attr)
                allowed.add(id(func.value))
            if dotted and isinstance(func, ast.Attribute) and ast.unparse(func.value) == module:
                names.add(func.attr)
                allowed.add(id(func.value))
        if "from __future__ import annotations" in ast.unparse(tree):
            annotations = [
                n.returns if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef) else n.annotation
                for n in ast.walk(tree)
                if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef | ast.arg | ast.AnnAssign)
            ]
            allowed |= {id(n) for a in annotations if a is not None for n in ast.walk(a)}
        for node in ast.walk(tree):
            taken_or_whole = isinstance(node, ast.Name) and (node.id in taken or node.id in whole)
            if taken_or_whole and id(node) not in allowed and taken.get(node.id) not in values:
                not_called.append(f"{path.name}:{node.lineno} {node.id}")
            the_module = dotted and isinstance(node, ast.Attribute) and ast.unparse(node) == module
            if the_module and id(node) not in allowed:
                not_called.append(f"{path.name}:{node.lineno} {module}")
    return names, not_called


def _requests_detection_calls() -> set[str]:
    """What requests asks of its character detection module, which ``requests.compat`` imports by name
    (``importlib.import_module``, so the import itself is not in the AST) and binds as ``chardet``: every
    attribute used on that name, each of which must be called, bar ``__name__`` (``requests.packages``)."""
    import ast
    import importlib.util

    spec = importlib.util.find_spec("requests")
    assert spec is not None
    assert spec.submodule_search_locations
    root = Path(next(iter(spec.submodule_search_locations)))
    assert '"charset_normalizer"' in (root / "compat.py").read_text()
    called, other = set(), []
    for path in sorted(root.glob("*.py")):
        if path.name == "help.py":  # ``python -m requests.help``: imports the real modules itself
            continue
        tree = ast.parse(path.read_text(), str(path))
        funcs = {id(n.func) for n in ast.walk(tree) if isinstance(n, ast.Call)}
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "chardet":
                if id(node) in funcs:
                    called.add(node.attr)
                elif node.attr != "__name__":
                    other.append(f"{path.name}:{node.lineno} chardet.{node.attr}")
    assert other == [], f"requests uses its detection module other than by calling it: {other}"
    return called


def test_deferred_lists_every_name_singer_sdk_takes_and_it_only_calls_them() -> None:
    """A stand-in name is a function: it holds only while singer_sdk calls it, never subclasses it or checks an
    ``isinstance`` against it. An SDK upgrade that uses another name or uses one differently fails here."""
    for module, listed in DEFERRED.items():
        values = STAND_IN_VALUES.get(module, ("", ()))[1]
        names, not_called = _sdk_imports_from(module, DEFERRED_FOR.get(module, "singer_sdk"), values)
        if module == "charset_normalizer":
            names |= _requests_detection_calls()
            # ``python -m requests.help`` imports it itself, long after the stand-in left ``sys.modules``
            not_called = [use for use in not_called if use != "help.py:17 import charset_normalizer"]
        assert names - set(values) == set(listed), module
        assert not_called == [], f"singer_sdk uses {module} names other than by calling them: {not_called}"


def test_a_name_not_listed_gets_the_real_module_and_stand_ins_leave_sys_modules() -> None:
    out = _probe(
        "import sys\n"
        "from xlr8_kit.startup import deferred_imports, real_module\n"
        "with deferred_imports({'colorsys': ('rgb_to_hsv',), 'os': ('getcwd',), 'no_such_module_x': ('f',)}):\n"
        "    assert type(sys.modules['os']).__name__ == 'module'  # already imported\n"
        "    assert 'no_such_module_x' not in sys.modules  # not installed: no stand-in, its import fails as before\n"
        "    from colorsys import rgb_to_hsv\n"
        "    assert type(sys.modules['colorsys']).__name__ == '_StandIn'\n"
        "print('colorsys' in sys.modules)\n"
        "import colorsys\n"
        "print(type(colorsys).__name__, rgb_to_hsv(0.2, 0.4, 0.4) == colorsys.rgb_to_hsv(0.2, 0.4, 0.4))\n"
        "with deferred_imports({'colorsys': ('rgb_to_hsv',)}):\n"
        "    pass  # already imported: nothing to stand in for\n"
        "del sys.modules['colorsys']\n"
        "with deferred_imports({'colorsys': ('rgb_to_hsv',)}):\n"
        "    import colorsys as early\n"
        "    hls = early.hls_to_rgb  # a name nobody listed: the real module, imported now\n"
        "    print(type(sys.modules['colorsys']).__name__, hls is sys.modules['colorsys'].hls_to_rgb)\n"
        "print(type(sys.modules['colorsys']).__name__)\n"
    )
    assert out.splitlines() == ["False", "module True", "module True", "module"]


@settings(max_examples=60, deadline=None)
@given(
    path=st.lists(st.text(st.characters(blacklist_characters="/\x00", codec="utf-8"), min_size=1), min_size=1).map(
        "/".join
    ),
    values=st.lists(st.integers()),
)
def test_a_deferred_name_returns_what_the_real_name_returns(path: str, values: list[int]) -> None:
    """The stand-in functions, called as singer_sdk calls them, against the real names (both modules are already
    imported in this process, so the comparison is with the very objects the stand-ins resolve)."""
    import joblib
    import upath

    from xlr8_kit.startup import _deferred_call

    deferred_upath = _deferred_call("upath", "UPath")
    for url in (f"/{path}", f"file:///{path}"):
        made, real = deferred_upath(url), upath.UPath(url)
        assert type(made) is type(real)
        assert made == real
        assert made.parts == real.parts
    parallel, delayed = _deferred_call("joblib", "Parallel"), _deferred_call("joblib", "delayed")
    with _deferred_call("joblib", "parallel_config")(backend="threading", n_jobs=2):
        backend, n_jobs = joblib.parallel.get_active_backend()
        drained = parallel()(delayed(abs)(v) for v in values)
    assert (type(backend).__name__, n_jobs) == ("ThreadingBackend", 2)  # the keywords reach joblib
    assert drained == joblib.Parallel(n_jobs=1)(joblib.delayed(abs)(v) for v in values)


def test_a_targets_imports_leave_singer_sdks_init_until_a_name_is_asked_of_it() -> None:
    out = _probe(
        "import sys, types\n"
        "from xlr8_kit.startup import SDK_FOR_A_TARGET, plugin_imports\n"
        "with plugin_imports(SDK_FOR_A_TARGET):\n"
        "    from singer_sdk import typing as th\n"
        "    from singer_sdk.target_base import Target\n"
        "tap_side = ('singer_sdk.streams', 'singer_sdk.tap_base', 'requests', 'urllib3')\n"
        "print(sorted(m for m in tap_side if m in sys.modules), type(sys.modules['singer_sdk']) is types.ModuleType)\n"
        "print(sorted(n for n, m in sys.modules.items() if type(m).__name__ == '_StandIn'), th.__name__)\n"
        "import singer_sdk\n"
        "from singer_sdk import RESTStream, Tap\n"  # the first name asked of the package runs its __init__
        "from singer_sdk.streams import RESTStream as Rest\n"
        "print(sorted(m for m in tap_side if m in sys.modules), type(singer_sdk) is types.ModuleType)\n"
        "print(RESTStream is Rest, issubclass(Rest, singer_sdk.Stream), singer_sdk.Target is Target, Tap.__name__)\n"
        "import warnings\n"
        "with warnings.catch_warnings(record=True):\n"
        "    warnings.simplefilter('always')\n"
        "    print(singer_sdk.SQLTarget.__name__)\n"  # the package's own __getattr__, as before
    )
    assert out.splitlines() == [
        "[] False",
        "[] singer_sdk.typing",
        "['requests', 'singer_sdk.streams', 'singer_sdk.tap_base', 'urllib3'] True",
        "True True True Tap",
        "SQLTarget",
    ]


def test_the_deferred_logging_config_detection_and_entry_points_work_when_called(tmp_path: Path) -> None:
    """A logging config file (``SINGER_SDK_LOG_CONFIG``: ``logging.config.dictConfig``, asked of the ``logging``
    package), a response body whose encoding requests must guess (charset_normalizer), the SDK's BATCH encoder
    plug-ins (``importlib_metadata.entry_points``): each as the real module gives it, and no warning at import
    (requests checks charset_normalizer's version)."""
    config = tmp_path / "logging.yml"
    config.write_text(
        "version: 1\n"
        "disable_existing_loggers: false\n"
        "formatters: {marked: {format: 'MARKED %(levelname)s %(name)s %(message)s'}}\n"
        "handlers: {console: {class: logging.StreamHandler, formatter: marked, stream: 'ext://sys.stdout'}}\n"
        "root: {level: INFO, handlers: [console]}\n"
    )
    probe = (
        "import sys, logging\n"
        "from xlr8_kit.startup import plugin_imports\n"
        "with plugin_imports():\n"
        "    import singer_sdk\n"
        "    from singer_sdk import _logging\n"
        "    from singer_sdk.helpers._compat import entry_points\n"
        "print(sorted(m for m in ('logging.config', 'charset_normalizer', 'importlib_metadata') if m in sys.modules))\n"
        "_logging._setup_console_logging()\n"
        "logging.getLogger('tap-x').info('configured')\n"
        "import requests\n"
        "body = 'Grüße aus Köln, ça va très bien'.encode('latin-1')\n"
        "response = requests.models.Response()\n"
        "response._content, response.encoding = body, None\n"
        "guessed = response.apparent_encoding\n"
        "import charset_normalizer\n"
        "print(guessed == charset_normalizer.detect(body)['encoding'], response.text == body.decode(guessed))\n"
        "import importlib_metadata\n"
        "print(entry_points(group='console_scripts') == importlib_metadata.entry_points(group='console_scripts'))\n"
    )
    env = {**os.environ, "SINGER_SDK_LOG_CONFIG": str(config)}
    done = subprocess.run(
        [sys.executable, "-W", "error", "-c", probe], capture_output=True, text=True, check=False, env=env
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.splitlines() == ["[]", "MARKED INFO tap-x configured", "True True", "True"]


#: Every use a tap's process can make of the names singer_sdk takes from jsonschema and referencing (``LAZY_NAMES``),
#: printed: the SDK's own config check (defaults filled in, errors), its default validator with the format
#: checker, ``isinstance`` against it, a subclass of it, a sink's record validator, ``$ref`` resolution and the
#: kit's config errors (which import jsonschema only when ``config_check`` cannot prove the config valid).
_VALIDATION_USES = """
import singer_sdk.plugin_base as plugin_base, singer_sdk.typing as th
from singer_sdk.singerlib import resolve_schema_references
from singer_sdk.sinks.core import JSONSchemaValidator as SinkValidator
from singer_sdk.exceptions import ConfigValidationError, InvalidRecord
from xlr8_tap_common.tap import TapCommon
base = {"api_base_url": "http://127.0.0.1:9", "email": "a@b.c", "password": "pw"}
TapCommon(config=base, parse_env_config=False)
print("valid config imports jsonschema:", "jsonschema" in sys.modules)
schema = {"type": "object", "properties": {"a": {"type": "integer", "default": 7}, "d": {"type": "string",
          "format": "date"}}, "required": ["d"]}
config = {}
print(sorted(e.message for e in plugin_base.JSONSchemaValidator(schema).iter_errors(config)), config)
checker = th.DEFAULT_JSONSCHEMA_VALIDATOR(schema, format_checker=th.DEFAULT_JSONSCHEMA_VALIDATOR.FORMAT_CHECKER)
print(sorted(e.message for e in checker.iter_errors({"a": "x", "d": "not a date"})))
print(isinstance(checker, th.DEFAULT_JSONSCHEMA_VALIDATOR), th.DEFAULT_JSONSCHEMA_VALIDATOR.__name__)
class Mine(th.DEFAULT_JSONSCHEMA_VALIDATOR): pass
print(issubclass(Mine, th.DEFAULT_JSONSCHEMA_VALIDATOR), Mine({"type": "string"}).is_valid(3))
sink = SinkValidator(schema, validate_formats=True)
try:
    sink.validate({"a": 1, "d": "2026-13-45"})
except InvalidRecord as exc:
    print("invalid record:", exc)
print(resolve_schema_references({"type": "object", "properties": {"x": {"$ref": "#/definitions/y"}},
                                 "definitions": {"y": {"type": "string"}}}))
try:
    TapCommon(config={**base, "page_size": "many", "acknowledge_updates": 3}, parse_env_config=False)
except ConfigValidationError as exc:
    print(sorted(exc.errors))
"""


def test_jsonschema_and_referencing_load_only_when_something_validates() -> None:
    """A tap's start-up leaves jsonschema and referencing unimported (``xlr8_kit.startup.LAZY_NAMES``); every use
    of them then gives what it gives when they are imported first (no stand-ins at all), and a valid config is
    checked without them (``xlr8_kit.config_check``)."""
    lazy = _probe(
        "import sys, xlr8_tap_common.__main__\n"
        "print([m for m in ('jsonschema', 'referencing', 'jsonschema_specifications') if m in sys.modules])\n"
        + _VALIDATION_USES
    )
    real = _probe(
        "import sys, jsonschema, referencing.jsonschema, xlr8_tap_common.__main__\n"
        "import singer_sdk.typing as th\n"
        "assert th.DEFAULT_JSONSCHEMA_VALIDATOR is jsonschema.Draft202012Validator  # no stand-ins: imported first\n"
        "print([])\n" + _VALIDATION_USES
    )
    assert lazy == real.replace("valid config imports jsonschema: True", "valid config imports jsonschema: False")
    lines = lazy.splitlines()
    assert lines[0] == "[]"
    assert "{'a': 7}" in lines[2]  # the SDK's validator filled the default in
    assert "valid config imports jsonschema: False" in lines
    assert "must be of type" in lines[-1]
