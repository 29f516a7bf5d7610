"""A plugin process's start-up: its imports and what the garbage collector does with them.

A tap or target imports ~600 modules (singer_sdk, requests, jsonschema, the kit) before its first record: ~0.3 s
of CPU in a run of 1-3 s. Two things about the garbage collector cost a share of that, and neither changes what
the process does:

- while the modules import, the collector runs dozens of times over a heap that only grows (25-40 ms);
- at exit, the interpreter's final collections walk every one of those objects again (60-70 ms; with the heap
  frozen, the exit costs ~13 ms of module teardown).

``paused_gc()`` wraps a console script's import of its plugin class; ``freeze_start_up_objects()`` runs when the
command starts (``xlr8_kit.exits``) and moves everything alive then into the collector's permanent generation
(``gc.freeze``): modules, classes and functions that live until the process ends anyway. The cyclic garbage the
paused imports left (about 1 MB) is frozen with them.

``plugin_imports()`` is what every plugin's console-script module (``xlr8_tap_x/__main__.py``) wraps its import in:
``paused_gc()``, singer_sdk imported with two of its dependencies deferred (``deferred_imports``, ``DEFERRED``),
and the freeze as the imports end, before the collector is switched back on. Without that freeze, the first
allocation after ``gc.enable()`` starts a collection over every object the paused imports made (20-40 ms: the
cost the pause was meant to save, moved, not saved).

``DEFERRED``: singer_sdk's ``__init__`` imports every part of the SDK, and two of them take names from libraries
that only a rare path calls: ``singer_sdk.target_base`` takes ``Parallel``, ``delayed`` and ``parallel_config``
from joblib (a target draining its sinks in parallel; joblib imports numpy whenever it is installed) and
``singer_sdk.helpers._batch`` takes ``UPath`` from universal_pathlib (BATCH files' storage; it imports fsspec and
asyncio). That is 60-140 ms of a tap's ~0.35 s start-up that a RECORD run never uses. While singer_sdk imports,
``deferred_imports`` puts a stand-in module in ``sys.modules`` for each; the stand-in's listed names are functions
that import the real module at their first call and return what the real name returns (the real ``Parallel``,
the real ``UPath`` instance). The stand-ins leave ``sys.modules`` as soon as singer_sdk is imported, so any later
``import joblib`` / ``import upath`` (ours, a user's, the SDK's own lazy imports) gets the real module. It holds
because singer_sdk only ever calls those names (``tests``: an AST check of the installed SDK; any other name
asked of a stand-in imports the real module at once). No file of singer_sdk is changed.

Two more are deferred the same way (10-15 ms of CPU at every start): ``singer_sdk.about`` takes ``SpecifierSet`` and
``Version`` from packaging (eight modules; only ``--about`` calls them, for the supported Python versions), and
backoff, which singer_sdk's REST streams import, imports its ``_async`` module for coroutine targets, and with it
asyncio (thirty modules). No tap decorates a coroutine: ``backoff._decorator`` calls ``_async``'s three functions only
for one. A stand-in for a submodule is found without importing its package (which would import the real one).

Three more (~20 ms of CPU at every start, issue 14 goal 2, session 13): ``importlib_metadata`` (singer_sdk's
``entry_points``, called for BATCH encoder plug-ins), ``logging.config`` (``dictConfig``, called only with a logging
config file, ``SINGER_SDK_LOG_CONFIG``; singer_sdk asks it of the ``logging`` package, so the stand-in stays there
as the package's attribute until the real module replaces it) and charset_normalizer, which requests imports by name
and calls only to guess the encoding of a body whose response names none (``detect``). requests checks its version
as it loads, so that stand-in carries the real ``__version__``, read from the package's one-line ``version`` module
(``STAND_IN_VALUES``); requests.packages' two legacy aliases of it keep the stand-in, whose names resolve.

jsonschema and referencing (~40-60 ms of CPU and 25 modules at every start, issue 14 goal 2, session 14): singer_sdk
takes names from them as it imports (``validators.Draft202012Validator``, ``referencing.Registry``,
``referencing.jsonschema.DRAFT202012``) and builds one more from them (``plugin_base.JSONSchemaValidator``:
``validators.extend`` of the class, reading its ``VALIDATORS["properties"]``), but uses them only to validate (its
own config check, which the kit's taps replace with ``xlr8_kit.config_check`` and jsonschema for a config it cannot
prove valid; a sink's records) or to resolve a schema's ``$ref``. For a plugin importing the whole SDK
(``plugin_imports()``: the taps, the mapper, target-common) those names are ``_Lazy`` stand-ins (``LAZY_NAMES``,
``LAZY_CALLS``): reading an attribute or an item of one while the real module is not imported gives another
stand-in, ``validators.extend`` gives one for the class it would build; calling one, an ``isinstance`` against one
or any other use imports the real module and acts on the real value (built then as singer_sdk would have built it).
``import jsonschema`` (singer_sdk's sinks) binds a ``_StandIn`` whose every name is the real one. target-xlr8-truths
(``SDK_FOR_A_TARGET``) validates every record and imports them as before.

jsonpath_ng (~15-20 ms of CPU and 20 modules at every start, issue 14 goal 2, session 15) the same way:
``singer_sdk.helpers.jsonpath`` takes ``Child``, ``Slice`` (``isinstance`` checks) and ``ext.parse`` from it and uses
them only in ``extract_jsonpath``, which the kit's ``extract_records`` calls only for a path other than ``$.name[*]``
(a tap's ``records_jsonpath``, the SDK's JSONPath paginators): the first such call imports it, in whichever thread.

A target (``plugin_imports(SDK_FOR_A_TARGET)``) skips singer_sdk's ``__init__`` altogether: it imports the SDK's
plugin, mapper, sink and target modules, and the package sits in ``sys.modules`` with its ``__init__`` not yet run
(``_InitOnFirstName``), so the streams, ``Tap``, the schema sources and with them requests, urllib3 and backoff
(~150 modules, ~0.05 s of CPU) never load in a target run. Submodules import as usual; the first other name asked
of the package (``from singer_sdk import Tap``, ``singer_sdk.Stream``) runs the real ``__init__`` then, so nothing
that needs it sees a difference. Taps import singer_sdk whole: they use all of it.

A tap's, the mapper's or target-common's console entry (``main``, ``with_heap_thresholds``) also fixes glibc's
malloc thresholds (``fix_heap_thresholds``) as the command starts. A page's buffers are multi-MB (a 10 MB body, its
text, its RECORD lines); by default glibc serves each from a fresh ``mmap`` and unmaps it when it is freed, so every
page faults its memory in again. Fixed thresholds keep them in the heap: UKG Pro, 1,000,000 rows: minor faults 258k
-> 33-36k, system CPU 0.9-1.5 -> 0.4 s, peak RSS 117 -> 134 MB (bench/README, malloc10). With glibc's default, each
thread that allocates gets an arena of its own (up to 8 per core), which keeps the free memory of its own busiest
moment: Salesforce's ranged REST read parses pages on up to 6 threads, and at 1,000,000 Accounts the arenas held
~100 MB free beside ~60 MB in use (peak 316-335 MB). One arena for every thread (``M_ARENA_MAX`` 1) reuses what the
others freed (peak 239-248 MB; threads rarely wait for it: they allocate holding the GIL; bench/README, mem16). The
target is left alone: its peak is close to goal 4's limit (target-common, a plain SDK target, is fixed as the taps
are). The setting is the command's, not the package's: ``mallopt`` is process-wide, and past 8 arenas glibc no
longer takes ``M_ARENA_MAX`` at all, so importing a tap (``Tap(...).sync_all()`` from user code, the SDK's test
helpers, ``xlr8_tap_x.__main__`` itself) leaves the host's allocator as it is. A process that embeds a tap and wants
the one arena sets ``MALLOC_ARENA_MAX=1`` in its environment before it starts (and, for the page buffers,
``MALLOC_MMAP_THRESHOLD_=33554432`` and ``MALLOC_TRIM_THRESHOLD_=67108864``).
"""

from __future__ import annotations

import gc
import importlib
import importlib.machinery
import importlib.util
import os
import sys
import types
import typing as t
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager

_frozen = False

#: ``mallopt`` parameters (glibc's malloc.h) and the values a tap fixes: blocks under 32 MB come from the heap, up to
#: 64 MB freed at its top stays mapped, and every thread allocates from the one heap (``M_ARENA_MAX`` 1: glibc's
#: default gives each thread that allocates an arena of its own, up to 8 per core, and each keeps the free memory of
#: its own busiest moment; a ranged read's readers parse pages on 5-6 threads). An environment variable the user
#: set for one of them wins.
HEAP_THRESHOLDS: dict[str, tuple[int, int, str]] = {
    "MALLOC_MMAP_THRESHOLD_": (-3, 32 * 2**20, "glibc.malloc.mmap_threshold"),
    "MALLOC_TRIM_THRESHOLD_": (-1, 64 * 2**20, "glibc.malloc.trim_threshold"),
    "MALLOC_ARENA_MAX": (-8, 1, "glibc.malloc.arena_max"),
}


def _user_set(variable: str) -> bool:
    """Whether the user's ``variable`` is one glibc takes (digits; an arena count of at least 1): a value glibc
    ignores (empty, ``0`` arenas, ``abc``) must not switch the tap's own setting off."""
    text = os.environ.get(variable, "").strip()
    return text.isdigit() and (variable != "MALLOC_ARENA_MAX" or int(text) >= 1)


def fix_heap_thresholds() -> tuple[str, ...]:
    """On glibc, ``mallopt`` each of ``HEAP_THRESHOLDS`` the user did not set (as its variable or in
    ``GLIBC_TUNABLES``); returns the variables' names it set. Anywhere else (musl, macOS, a Python built without
    ``ctypes``), or if anything fails, nothing: a tap never fails over its allocator."""
    try:
        if not os.confstr("CS_GNU_LIBC_VERSION"):
            return ()
        import ctypes

        mallopt = ctypes.CDLL(None).mallopt
        tunables = os.environ.get("GLIBC_TUNABLES", "")
        done = []
        for variable, (parameter, value, tunable) in HEAP_THRESHOLDS.items():
            if not _user_set(variable) and tunable not in tunables and mallopt(parameter, value) == 1:
                done.append(variable)
        return tuple(done)
    except (AttributeError, ImportError, OSError, ValueError):
        return ()


def with_heap_thresholds(command: Callable[..., t.Any]) -> Callable[..., t.Any]:
    """``command`` (a tap's, the mapper's or target-common's click command) as its console script's ``main``: the
    heap thresholds fixed as it starts, not when its module is imported, so a process importing the plugin keeps
    its allocator (module doc)."""

    def main(*args: t.Any, **kwargs: t.Any) -> t.Any:
        fix_heap_thresholds()
        return command(*args, **kwargs)

    main.__wrapped__ = command  # type: ignore[attr-defined]  # the click command, as functools.wraps leaves it
    return main


#: numpy's BLAS starts a pool of threads as it is imported, and they spin for a while: ~0.07 s CPU at import and
#: ~0.12 s over a tap's run (UKG Pro employment_details, 100,000 records: 15.3 vs 16.5 µs CPU per record).
#: joblib imports numpy whenever it is installed (the target needs it for DuckDB's Python functions; a workspace
#: venv has it for every tap); singer_sdk's joblib is deferred to its first call (``DEFERRED``), but numpy still
#: loads there or in the target. No plugin does linear algebra, so one thread is enough; a value the user set is
#: kept.
_ONE_BLAS_THREAD = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


@contextmanager
def paused_gc() -> Iterator[None]:
    """No collections inside (a console script importing its plugin); the collector's state is restored after.
    Also keeps numpy's BLAS to one thread (``_ONE_BLAS_THREAD``), which must be set before numpy is imported."""
    for name in _ONE_BLAS_THREAD:
        os.environ.setdefault(name, "1")
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def freeze_start_up_objects() -> None:
    """Once per process, as a command starts: ``gc.freeze()`` what the imports built (see the module doc). Later
    calls (a test running several commands in one process) do nothing."""
    global _frozen
    if not _frozen:
        _frozen = True
        gc.freeze()


#: The libraries singer_sdk imports as it loads but only calls on rare paths, and the names it takes from them;
#: each name is only ever called (see the module doc).
DEFERRED: dict[str, tuple[str, ...]] = {
    "joblib": ("Parallel", "delayed", "parallel_config"),  # singer_sdk.target_base: parallel drain of sinks
    "upath": ("UPath",),  # singer_sdk.helpers._batch: where BATCH files are written and read
    "packaging.specifiers": ("SpecifierSet",),  # singer_sdk.about: supported Python versions (``--about``)
    "packaging.version": ("Version",),  # singer_sdk.about, the same
    "backoff._async": ("retry_predicate", "retry_exception", "aretry_context"),  # backoff: coroutine targets only
    "importlib_metadata": ("entry_points",),  # singer_sdk.helpers._compat: BATCH encoder plug-ins (BATCH runs)
    "logging.config": ("dictConfig",),  # singer_sdk._logging: only with SINGER_SDK_LOG_CONFIG set
    "charset_normalizer": ("detect",),  # requests: guessing a body's encoding when the response names none
}
#: Deferred modules singer_sdk does not import itself: the module whose source takes their names.
DEFERRED_FOR: dict[str, str] = {"backoff._async": "backoff._decorator", "charset_normalizer": "requests"}
#: Values a stand-in carries, not defers: ``{module: (submodule, names)}``, the names read from that submodule of
#: the package, run on its own (not the package's ``__init__``). requests checks charset_normalizer's
#: ``__version__`` as it imports (a warning on stderr without it), from its one-line ``version`` module.
STAND_IN_VALUES: dict[str, tuple[str, tuple[str, ...]]] = {"charset_normalizer": ("version", ("__version__",))}


class _StandIn(types.ModuleType):
    """A module in ``sys.modules`` while singer_sdk imports: its names import the real module when called."""

    def __getattr__(self, name: str) -> t.Any:
        if name.startswith("__"):  # the import system probing (__path__, __file__): a plain module has none
            raise AttributeError(name)
        return getattr(real_module(self.__name__), name)  # a name nobody listed: the real one, now


def real_module(name: str) -> types.ModuleType:
    """The real module ``name``, imported if it is not yet (a stand-in still in ``sys.modules`` is dropped)."""
    if isinstance(sys.modules.get(name), _StandIn):
        del sys.modules[name]
    return importlib.import_module(name)


def _deferred_call(module: str, name: str) -> Callable[..., t.Any]:
    def call(*args: t.Any, **kwargs: t.Any) -> t.Any:
        return getattr(real_module(module), name)(*args, **kwargs)

    call.__name__ = call.__qualname__ = name
    call.__doc__ = f"``{module}.{name}``, its module imported at the first call (``xlr8_kit.startup.DEFERRED``)."
    return call


def _installed(module: str) -> bool:
    """Whether ``module`` can be imported, found without importing it or, for a submodule, its package (whose
    ``__init__`` may import the submodule itself: backoff's imports ``_async``)."""
    package, _, child = module.rpartition(".")
    if not package:
        return importlib.util.find_spec(module) is not None
    if package in sys.modules:
        return importlib.util.find_spec(module) is not None
    found = importlib.util.find_spec(package.partition(".")[0])
    for part in package.split(".")[1:]:
        if found is None or found.submodule_search_locations is None:
            return False
        found = importlib.machinery.PathFinder.find_spec(part, found.submodule_search_locations)
    if found is None or found.submodule_search_locations is None:
        return False
    return importlib.machinery.PathFinder.find_spec(child, found.submodule_search_locations) is not None


def _run_alone(name: str) -> types.ModuleType:
    """Submodule ``name`` run on its own: found in its package's directory without importing the package, not put in
    ``sys.modules`` (``STAND_IN_VALUES``)."""
    package, _, child = name.rpartition(".")
    found = importlib.util.find_spec(package)
    assert found is not None
    assert found.submodule_search_locations is not None
    spec = importlib.machinery.PathFinder.find_spec(child, found.submodule_search_locations)
    if spec is None or spec.loader is None:
        raise ModuleNotFoundError(name, name=name)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


#: Names singer_sdk takes from jsonschema and referencing as it imports, as ``_Lazy`` stand-ins (module doc);
#: ``LAZY_CALLS`` are called as it imports and give a ``_Lazy`` for their result. A module listed here is a
#: ``_StandIn`` too, set as its package's attribute when the package also has one (``from jsonschema import
#: validators``).
LAZY_NAMES: dict[str, tuple[str, ...]] = {
    "jsonschema": (),  # singer_sdk.sinks.core: ``import jsonschema``, its names read when a sink validates
    "jsonschema.validators": ("Draft202012Validator",),  # singer_sdk.typing
    "referencing": ("Registry",),  # singer_sdk.singerlib.schema: ``resolve_schema_references``
    "referencing.jsonschema": ("DRAFT202012",),  # the same
    "jsonpath_ng": ("Child", "Slice"),  # singer_sdk.helpers.jsonpath: ``isinstance`` of a compiled path
    "jsonpath_ng.ext": ("parse",),  # the same: compiling a path (``extract_jsonpath``)
}
LAZY_CALLS: dict[str, tuple[str, ...]] = {"jsonschema.validators": ("extend",)}  # plugin_base.JSONSchemaValidator


def _is_real(module: str) -> bool:
    return module in sys.modules and not isinstance(sys.modules[module], _StandIn)


class _Lazy:
    """A value from a module not imported yet (``LAZY_NAMES``): attributes and items read from it before the module
    is imported are ``_Lazy`` too; a call (its ``_Lazy`` arguments made real), ``isinstance``, ``issubclass``, a
    subclass, comparison, hashing, iteration, ``repr`` or a dunder attribute import the module and use the real
    value."""

    __slots__ = ("_module", "_resolve", "_value")

    def __init__(self, module: str, resolve: Callable[[], t.Any]) -> None:
        object.__setattr__(self, "_module", module)
        object.__setattr__(self, "_resolve", resolve)

    def _real(self) -> t.Any:
        try:
            return object.__getattribute__(self, "_value")
        except AttributeError:
            value = self._resolve()
            object.__setattr__(self, "_value", value)
            return value

    def _later(self) -> bool:
        """True while a read can stay lazy: not resolved, and the real module not imported."""
        try:
            object.__getattribute__(self, "_value")
        except AttributeError:
            return not _is_real(self._module)
        return False

    def __getattr__(self, name: str) -> t.Any:
        if name.startswith("__") or not self._later():
            return getattr(self._real(), name)
        return _Lazy(self._module, lambda: getattr(self._real(), name))

    def __getitem__(self, key: t.Any) -> t.Any:
        if not self._later():
            return self._real()[key]
        return _Lazy(self._module, lambda: self._real()[key])

    def __call__(self, *args: t.Any, **kwargs: t.Any) -> t.Any:
        return self._real()(*map(_real, args), **{name: _real(value) for name, value in kwargs.items()})

    def __instancecheck__(self, instance: t.Any) -> bool:
        return isinstance(instance, self._real())

    def __subclasscheck__(self, subclass: t.Any) -> bool:
        return issubclass(subclass, self._real())

    def __mro_entries__(self, bases: tuple[t.Any, ...]) -> tuple[t.Any, ...]:
        return (self._real(),)

    def __eq__(self, other: object) -> bool:
        return bool(self._real() == _real(other))

    def __hash__(self) -> int:
        return hash(self._real())

    def __bool__(self) -> bool:
        return bool(self._real())

    def __iter__(self) -> Iterator[t.Any]:
        return iter(self._real())

    def __len__(self) -> int:
        return len(self._real())

    def __contains__(self, item: object) -> bool:
        return item in self._real()

    def __or__(self, other: t.Any) -> t.Any:
        return self._real() | _real(other)

    def __ror__(self, other: t.Any) -> t.Any:
        return _real(other) | self._real()

    def __repr__(self) -> str:
        return repr(self._real())


def _real(value: t.Any) -> t.Any:
    return value._real() if type(value) is _Lazy else value


class _LazyStandIn(_StandIn):
    """A ``LAZY_NAMES`` module's stand-in: a name nobody listed is the real one (``_real_lazy_module``)."""

    def __getattr__(self, name: str) -> t.Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return getattr(_real_lazy_module(self.__name__), name)


def _real_lazy_module(module: str) -> types.ModuleType:
    """``real_module`` for a ``LAZY_NAMES`` module: every lazy stand-in still in ``sys.modules`` is dropped first
    (jsonschema imports referencing and its own submodules), so a use while singer_sdk imports works too."""
    for name, stand_in in list(sys.modules.items()):  # imports may run beside; so may another reader thread
        if isinstance(stand_in, _LazyStandIn) and sys.modules.get(name) is stand_in:
            sys.modules.pop(name, None)
    return importlib.import_module(module)


def _lazy_name(module: str, name: str) -> _Lazy:
    return _Lazy(module, lambda: getattr(_real_lazy_module(module), name))


def _lazy_call(module: str, name: str) -> Callable[..., t.Any]:
    def real_call(*args: t.Any, **kwargs: t.Any) -> t.Any:
        function = getattr(_real_lazy_module(module), name)
        return function(*map(_real, args), **{key: _real(value) for key, value in kwargs.items()})

    def call(*args: t.Any, **kwargs: t.Any) -> t.Any:
        if _is_real(module):
            return real_call(*args, **kwargs)
        return _Lazy(module, lambda: real_call(*args, **kwargs))

    call.__name__ = call.__qualname__ = name
    call.__doc__ = f"``{module}.{name}``, called when its result is first used (``xlr8_kit.startup.LAZY_CALLS``)."
    return call


@contextmanager
def deferred_imports(deferred: Mapping[str, tuple[str, ...]] = DEFERRED) -> Iterator[None]:
    """Stand-ins for ``deferred``'s modules in ``sys.modules`` inside, gone after. A module already imported, or not
    installed (its import then fails as it would have), gets no stand-in."""
    stand_ins = {}
    for module, names in deferred.items():
        if module in sys.modules or not _installed(module):
            continue
        stand_in = _StandIn(module, f"Stand-in for {module} while singer_sdk imports (xlr8_kit.startup).")
        for name in names:
            setattr(stand_in, name, _deferred_call(module, name))
        if module in STAND_IN_VALUES:
            submodule, values = STAND_IN_VALUES[module]
            source = _run_alone(f"{module}.{submodule}")
            for name in values:
                setattr(stand_in, name, getattr(source, name))
        stand_ins[module] = sys.modules[module] = stand_in
    try:
        yield
    finally:
        for module, stand_in in stand_ins.items():
            if sys.modules.get(module) is not stand_in:
                continue
            del sys.modules[module]
            package, _, child = module.rpartition(".")
            if package in sys.modules and not hasattr(sys.modules[package], child):
                # ``import logging.config`` found the stand-in and bound ``logging``; its code asks ``logging.config``
                # of the package, which the import system sets only as it loads a submodule. The stand-in stays
                # there, resolving its names; the real module's import replaces it (``real_module``).
                setattr(sys.modules[package], child, stand_in)


@contextmanager
def lazy_imports(
    names: Mapping[str, tuple[str, ...]] = LAZY_NAMES, calls: Mapping[str, tuple[str, ...]] = LAZY_CALLS
) -> Iterator[None]:
    """``_StandIn`` modules holding ``_Lazy`` names and calls (``LAZY_NAMES``, ``LAZY_CALLS``) in ``sys.modules``
    inside, gone after; a submodule's stand-in is its package stand-in's attribute. Nothing for a package (and its
    submodules) already imported or not installed."""
    skipped = {root for root in {m.partition(".")[0] for m in names} if root in sys.modules or not _installed(root)}
    stand_ins: dict[str, _LazyStandIn] = {}
    for module, listed in names.items():
        if module.partition(".")[0] in skipped:
            continue
        stand_in = _LazyStandIn(module, f"Stand-in for {module} while singer_sdk imports (xlr8_kit.startup).")
        for name in listed:
            setattr(stand_in, name, _lazy_name(module, name))
        for name in calls.get(module, ()):
            setattr(stand_in, name, _lazy_call(module, name))
        stand_ins[module] = sys.modules[module] = stand_in
        package, _, child = module.rpartition(".")
        if package in stand_ins:
            setattr(stand_ins[package], child, stand_in)
    try:
        yield
    finally:
        for module, stand_in in stand_ins.items():
            if sys.modules.get(module) is stand_in:
                del sys.modules[module]


#: The parts of singer_sdk's ``__init__`` a target uses: the rest of it (the streams with requests, urllib3 and
#: backoff, ``Tap``, the schema sources) is what a tap builds on, ~0.05 s of a target's start-up for nothing.
SDK_FOR_A_TARGET = ("singer_sdk.plugin_base", "singer_sdk.mapper_base", "singer_sdk.sinks", "singer_sdk.target_base")


class _InitOnFirstName(types.ModuleType):
    """A package whose ``__init__`` has not run: its submodules import as usual (Python needs only ``__path__``);
    the first other name asked of it runs the real ``__init__``, so ``from singer_sdk import Tap`` still works."""

    def __getattr__(self, name: str) -> t.Any:
        if name.startswith("__") and name != "__all__":  # the import system probing: nothing to run for
            raise AttributeError(name)
        if importlib.util.find_spec(f"{self.__name__}.{name}") is not None:
            return importlib.import_module(f"{self.__name__}.{name}")  # what ``from package import sub`` gets
        self.__class__ = types.ModuleType  # type: ignore[assignment]  # a plain package now: its __init__ asks for names
        spec = self.__spec__
        assert spec is not None
        assert spec.loader is not None
        spec.loader.exec_module(self)
        return getattr(self, name)


def _package_without_init(name: str) -> types.ModuleType:
    """``name`` in ``sys.modules`` as a package whose ``__init__`` runs at the first name asked of it."""
    spec = importlib.util.find_spec(name)
    if spec is None or spec.loader is None:
        raise ModuleNotFoundError(name, name=name)
    package = importlib.util.module_from_spec(spec)
    package.__class__ = _InitOnFirstName
    sys.modules[name] = package
    return package


@contextmanager
def plugin_imports(sdk_parts: tuple[str, ...] = ()) -> Iterator[None]:
    """A plugin's console script imports its class inside: the collector paused, singer_sdk imported first with
    ``DEFERRED`` deferred, and everything imported frozen before the collector runs again (module doc). With
    ``sdk_parts`` (a target: ``SDK_FOR_A_TARGET``) only those submodules are imported, singer_sdk's ``__init__``
    not until a name is asked of the package itself. The heap thresholds are the console entry's
    (``with_heap_thresholds``), not the import's."""
    with paused_gc():
        if "singer_sdk" not in sys.modules:
            with deferred_imports():
                if sdk_parts:
                    _package_without_init("singer_sdk")
                    for part in sdk_parts:
                        __import__(part)  # as an ``import`` statement does: ``-X importtime`` lists it
                else:
                    with lazy_imports():
                        import singer_sdk  # noqa: F401
        yield
        freeze_start_up_objects()
