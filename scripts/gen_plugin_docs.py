"""Generate every plugin's Meltano definition and README reference from its own ``--about`` output.

For each tap under ``taps/`` and for ``target-xlr8-truths``:

- ``plugins/<extractors|loaders>/<name>--xlr8.yml``: a Meltano Hub-format plugin definition another project adds
  with ``meltano add <type> <name> --from-ref <file or raw URL>`` (settings, kinds, sensitive flags, capabilities);
- the plugin's entry under ``plugins:`` in ``meltano.yml`` (name, variant, pip_url; its hand-written
  ``settings_group_validation``, ``config`` and a mapper's ``mappings`` are kept) and its definition in Meltano's
  lock file ``plugins/<type>/<name>--xlr8.lock`` (namespace, executable, capabilities, settings). Meltano parses
  meltano.yml on every command but reads a lock file only for the plugins the command uses: with thirteen plugins'
  settings inline, parsing meltano.yml cost every ``meltano run`` ~0.2 s CPU before it started anything;
- the plugin's ``LICENSE`` (the root one) and ``py.typed`` in its package;
- the generated blocks of the plugin's README (install paths, Meltano snippet, capabilities, settings table from
  ``--about --format=markdown``, usage, and the exit codes from ``xlr8_kit.exits.EXIT_CODES`` when the plugin's
  command ends through the kit). A README without the markers is reshaped once: its hand-written text is kept
  between the two blocks;
- the exit-code table of the root ``README.md`` (its ``exit-codes`` block).

Run it after adding a tap or changing settings (``uv run python scripts/gen_plugin_docs.py``); ``--check`` exits 1
when anything is out of date (the test suite runs the same comparison).
"""

from __future__ import annotations

import argparse
import inspect
import io
import json
import re
import subprocess
import sys
import tomllib
import typing as t
from dataclasses import dataclass
from importlib.metadata import entry_points
from pathlib import Path

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq

ROOT = Path(__file__).resolve().parents[1]
#: The repository the git-URL install paths point at (also in every pyproject's [project.urls]).
REPO_URL = "https://github.com/xlr8-intelligence/xlr8-connectors"
VARIANT = "xlr8"
#: Settings every SDK plugin accepts; plugin definition files list them, meltano.yml keeps to the plugin's own.
SDK_BUILTINS = frozenset(
    {
        "stream_maps",
        "stream_map_config",
        "faker_config",
        "flattening_enabled",
        "flattening_max_depth",
        "flattening_max_key_length",
        "flattening_separator",
        "batch_config",
        "load_method",
        "process_activate_version_messages",
    }
)
BEGIN, END = "<!-- BEGIN GENERATED: {} (scripts/gen_plugin_docs.py) -->", "<!-- END GENERATED: {} -->"


@dataclass(frozen=True)
class Plugin:
    """One installable Singer plugin of the workspace."""

    directory: Path
    distribution: str
    executable: str
    plugin_type: str  # extractors | mappers | loaders

    @property
    def name(self) -> str:
        return self.executable

    @property
    def namespace(self) -> str:
        return self.name.replace("-", "_")

    @property
    def subdirectory(self) -> str:
        return self.directory.relative_to(ROOT).as_posix()

    @property
    def definition_path(self) -> Path:
        return ROOT / "plugins" / self.plugin_type / f"{self.name}--{VARIANT}.yml"

    @property
    def lock_path(self) -> Path:
        """Where Meltano reads the definition of a plugin that meltano.yml declares by ``variant``."""
        return ROOT / "plugins" / self.plugin_type / f"{self.name}--{VARIANT}.lock"

    @property
    def readme(self) -> Path:
        return self.directory / "README.md"

    def handles_exits(self) -> bool:
        """Whether the plugin's console script ends through the kit (``xlr8_kit.exits``), so its codes apply."""
        from xlr8_kit.exits import handles_exits

        script = next(iter(entry_points(group="console_scripts", name=self.executable)), None)
        if script is None:
            return False
        main = script.load()
        return handles_exits(inspect.unwrap(main))  # a tap's: ``xlr8_kit.process_end``'s and ``startup``'s wrappers


_KINDS = {"target": "loaders", "mapper": "mappers"}
_SINGULAR = {"extractors": "extractor", "mappers": "mapper", "loaders": "loader"}


def discover_plugins() -> list[Plugin]:
    """Every tap under ``taps/`` (new ones included automatically) and the target."""
    found = []
    for pyproject in [*sorted(ROOT.glob("taps/*/pyproject.toml")), *sorted(ROOT.glob("target-*/pyproject.toml"))]:
        project = tomllib.loads(pyproject.read_text())["project"]
        directory = pyproject.parent
        scripts = project.get("scripts", {})
        executable = directory.name if directory.name in scripts else next(iter(scripts))
        kind = _KINDS.get(executable.split("-", 1)[0], "extractors")
        found.append(Plugin(directory, project["name"], executable, kind))
    return found


def about(plugin: Plugin, fmt: str = "json") -> str:
    """The plugin's own ``--about`` from the environment this script runs in (the workspace venv)."""
    exe = Path(sys.executable).parent / plugin.executable
    done = subprocess.run(
        [str(exe), "--about", f"--format={fmt}"], capture_output=True, text=True, check=False, timeout=120
    )
    if done.returncode != 0:
        raise SystemExit(f"{plugin.executable} --about failed:\n{done.stderr[-2000:]}")
    return done.stdout


def setting_kind(spec: dict[str, t.Any]) -> str:
    """Meltano's ``kind`` for a JSON-schema property (as the SDK writes them)."""
    if "enum" in spec:
        return "options"
    types = spec.get("type", "string")
    types = [types] if isinstance(types, str) else [x for x in types if x != "null"]
    first = types[0] if types else "object"
    if first == "string" and spec.get("format") in ("date-time", "date"):
        return "date_iso8601"
    if first == "number":
        return "integer" if _whole_default(spec) else "decimal"
    return {"number": "decimal"}.get(first, first) if first in {"string", "integer", "number", "boolean",
                                                                   "array", "object"} else "object"  # fmt: skip


def _whole_default(spec: dict[str, t.Any]) -> bool:
    """A ``number`` whose default is a whole number is declared ``integer``: Meltano 4.4.1 turns a ``decimal`` value
    given as a string (environment variable, ``.env``, ``meltano config set``) into a ``Decimal`` it cannot write to
    the plugin's config file (TypeError, the run fails). Fractional values from meltano.yml still pass unchanged."""
    default = spec.get("default")
    return isinstance(default, int | float) and not isinstance(default, bool) and float(default).is_integer()


def _has_secret(spec: dict[str, t.Any]) -> bool:
    return any(sub.get("secret") or _has_secret(sub) for sub in spec.get("properties", {}).values())


def settings_from_about(info: dict[str, t.Any], *, builtins: bool) -> list[dict[str, t.Any]]:
    """One Meltano setting per config key. An object holding a secret is declared field by field (dotted names), so
    every secret is its own ``sensitive`` setting; other objects (``http``) stay one ``object`` setting."""
    out: list[dict[str, t.Any]] = []

    def add(name: str, spec: dict[str, t.Any]) -> None:
        if "properties" in spec and _has_secret(spec):
            for sub, sub_spec in spec["properties"].items():
                add(f"{name}.{sub}", sub_spec)
            return
        setting: dict[str, t.Any] = {"name": name, "kind": setting_kind(spec)}
        if spec.get("default") is not None:
            setting["value"] = int(spec["default"]) if setting["kind"] == "integer" else spec["default"]
        if spec.get("secret") or spec.get("writeOnly"):
            setting["sensitive"] = True
        if "enum" in spec:
            setting["options"] = [{"label": str(v), "value": v} for v in spec["enum"] if v is not None]
        if spec.get("description"):
            setting["description"] = spec["description"]
        out.append(setting)

    for name, spec in info["settings"]["properties"].items():
        if builtins or name not in SDK_BUILTINS:
            add(name, spec)
    return out


def _label(info: dict[str, t.Any], plugin: Plugin) -> str:
    stem = plugin.name.removeprefix("tap-").removeprefix("target-")
    return " ".join(p.upper() if len(p) <= 3 else p.capitalize() for p in stem.split("-"))


def git_requirement(distribution: str, subdirectory: str) -> str:
    return f"{distribution} @ git+{REPO_URL}.git#subdirectory={subdirectory}"


def pip_url_git(plugin: Plugin) -> str:
    """Plain pip from git: the kit named explicitly (it is not on PyPI yet), then the plugin."""
    reqs = [
        git_requirement("xlr8-connector-kit", "shared"),
        *(git_requirement(name, sub) for name, sub in _workspace_deps(plugin)),
        git_requirement(plugin.distribution, plugin.subdirectory),
    ]
    return " ".join(f"'{r}'" for r in reqs)


def local_pip_url(plugin: Plugin) -> str:
    """Editable paths inside this repository (``meltano install`` from the project root): the kit, the workspace
    packages the plugin depends on (target-common uses tap-common's client), then the plugin."""
    paths = ["./shared", *(f"./{sub}" for _, sub in _workspace_deps(plugin)), f"./{plugin.subdirectory}"]
    return " ".join(f"-e {path}" for path in paths)


def _workspace_deps(plugin: Plugin) -> list[tuple[str, str]]:
    """(distribution, subdirectory) of the workspace plugins this one depends on (besides the kit)."""
    deps = tomllib.loads((plugin.directory / "pyproject.toml").read_text())["project"].get("dependencies", [])
    names = {re.split(r"[\s\[<>=!~;@]", d, maxsplit=1)[0] for d in deps}
    found = []
    for other in sorted(ROOT.glob("taps/*/pyproject.toml")):
        name = tomllib.loads(other.read_text())["project"]["name"]
        if name in names:
            found.append((name, other.parent.relative_to(ROOT).as_posix()))
    return found


def hub_definition(plugin: Plugin, info: dict[str, t.Any], groups: list[list[str]] | None) -> dict[str, t.Any]:
    definition: dict[str, t.Any] = {
        "name": plugin.name,
        "namespace": plugin.namespace,
        "variant": VARIANT,
        "label": _label(info, plugin),
        "description": info.get("description") or "",
        "repo": REPO_URL,
        "docs": f"{REPO_URL}/blob/main/{plugin.subdirectory}/README.md",
        "pip_url": pip_url_git(plugin),
        "executable": plugin.executable,
        "capabilities": sorted(info["capabilities"]),
        "keywords": ["meltano_sdk", "xlr8"],
    }
    if groups:
        definition["settings_group_validation"] = groups
    definition["settings"] = settings_from_about(info, builtins=True)
    return definition


# --- meltano.yml ------------------------------------------------------------------------------------------------


def _yaml() -> YAML:
    yaml = YAML()
    yaml.preserve_quotes = True
    yaml.width = 4096
    yaml.indent(mapping=2, sequence=2, offset=0)
    return yaml


def update_meltano_yml(text: str, plugins: list[Plugin]) -> str:
    """meltano.yml with each plugin's entry regenerated (its definition is in its lock file, ``lock_definition``);
    everything else (environments, other plugins, their order, the hand-written settings_group_validation, base
    ``config`` and a mapper's ``mappings``) is kept as written."""
    yaml = _yaml()
    project = yaml.load(text)
    for plugin in plugins:
        section = project.setdefault("plugins", CommentedMap()).setdefault(plugin.plugin_type, CommentedSeq())
        current = next((p for p in section if p.get("name") == plugin.name), None)
        entry = CommentedMap()
        entry["name"] = plugin.name
        entry["variant"] = VARIANT
        entry["pip_url"] = local_pip_url(plugin)
        if current is not None and current.get("settings_group_validation"):
            entry["settings_group_validation"] = current["settings_group_validation"]
        if current is not None and current.get("config"):
            entry["config"] = current["config"]  # this project's own values (defaults live in the tap)
        if current is not None and current.get("mappings"):
            entry["mappings"] = current["mappings"]  # a mapper's named mappings are this project's own
        if current is None:
            section.append(entry)
        else:
            section[section.index(current)] = entry
    buffer = io.StringIO()
    yaml.dump(project, buffer)
    return buffer.getvalue()


def lock_definition(plugin: Plugin, info: dict[str, t.Any]) -> str:
    """The plugin's Meltano lock file (JSON, as ``meltano lock`` writes one): what meltano.yml declared inline
    before, the plugin's own settings without the SDK built-ins (``SDK_BUILTINS``), and the same ``pip_url`` as the
    meltano.yml entry: the entry's is the one installed, but ``meltano install`` skips a plugin whose locked
    definition has none ("not installable")."""
    definition = {
        "plugin_type": plugin.plugin_type,
        "name": plugin.name,
        "namespace": plugin.namespace,
        "variant": VARIANT,
        "pip_url": local_pip_url(plugin),
        "executable": plugin.executable,
        "capabilities": sorted(info["capabilities"]),
        "settings": settings_from_about(info, builtins=False),
    }
    return json.dumps(definition, indent=2) + "\n"


def settings_groups(meltano_yml: str, plugin: Plugin) -> list[list[str]] | None:
    project = _yaml().load(meltano_yml)
    for entry in (project.get("plugins") or {}).get(plugin.plugin_type) or []:
        if entry.get("name") == plugin.name and entry.get("settings_group_validation"):
            return [list(group) for group in entry["settings_group_validation"]]
    return None


def dump_definition(definition: dict[str, t.Any]) -> str:
    buffer = io.StringIO()
    yaml = _yaml()
    yaml.dump(definition, buffer)
    kind, name = definition_type(definition), definition["name"]
    header = "# Generated by scripts/gen_plugin_docs.py from `--about`; do not edit. Add to a Meltano project with\n"
    header += f"#   meltano add {kind} {name} --from-ref <this file or its raw URL>\n"
    return header + buffer.getvalue()


def definition_type(definition: dict[str, t.Any]) -> str:
    return _SINGULAR[_KINDS.get(definition["name"].split("-", 1)[0], "extractors")]


# --- README -----------------------------------------------------------------------------------------------------


def settings_table(markdown: str) -> str:
    """The settings table of ``--about --format=markdown`` (its ``## Settings`` section, table only)."""
    section = markdown.split("## Settings", 1)[1]
    rows = [line for line in section.splitlines() if line.startswith("|")]
    return "\n".join(rows)


def install_block(plugin: Plugin, info: dict[str, t.Any]) -> str:
    kind = _SINGULAR[plugin.plugin_type]
    extra = "[postgres]" if plugin.distribution == "xlr8-target-truths" else ""
    git_kit = git_requirement("xlr8-connector-kit", "shared")
    git_plugin = git_requirement(plugin.distribution, plugin.subdirectory)
    definition_url = f"{REPO_URL}/raw/main/plugins/{plugin.plugin_type}/{plugin.name}--{VARIANT}.yml"
    extra_note = (
        "\nThe `postgres` extra adds psycopg for `delivery=postgres`; DuckDB and upload need none.\n" if extra else ""
    )
    return f"""## Install

Python 3.11. Every plugin needs the kit, `xlr8-connector-kit`, which is not on a package index yet: name it
explicitly beside the plugin (pip cannot find it by name otherwise).

From git (plain pip, no checkout):

```bash
pip install "{git_kit}" \\
            "{git_plugin}"
```

From a local wheel index (offline installs, CI; build the wheels once with `uv build --all-packages -o dist` in a
checkout):

```bash
pip install --find-links dist {plugin.distribution}{extra}
```

From PyPI, once the packages are published: `pip install {plugin.distribution}{extra}`.
{extra_note}
## Meltano

In a Meltano project of your own, add the plugin from its definition file (settings, kinds and secrets declared):

```bash
meltano add {kind} {plugin.name} --from-ref {definition_url}
```

or declare it by hand in `meltano.yml` (then `meltano install`):

```yaml
plugins:
  {plugin.plugin_type}:
  - name: {plugin.name}
    namespace: {plugin.namespace}
    pip_url: {pip_url_git(plugin)}
    executable: {plugin.executable}
```

Secrets are `sensitive` settings: `meltano config set {plugin.name} <setting> <value>` stores them in `.env`, never in
`meltano.yml`. Inside this repository the plugin is already declared (`pip_url: {local_pip_url(plugin)}`), and
`uv run {plugin.executable}` is the fast path for development."""


def reference_block(plugin: Plugin, info: dict[str, t.Any], markdown: str) -> str:
    capabilities = "\n".join(f"- `{c}`" for c in info["capabilities"])
    if plugin.plugin_type == "extractors":
        usage = f"""```bash
{plugin.executable} --about --format=markdown
{plugin.executable} --config config.json --discover > catalog.json
{plugin.executable} --config config.json --catalog catalog.json --state state.json \\
    | target-xlr8-truths --config target.json
meltano run {plugin.name} target-xlr8-truths
```"""
    else:
        usage = f"""```bash
{plugin.executable} --about --format=markdown
tap-salesforce --config tap.json --catalog catalog.json | {plugin.executable} --config config.json
meltano run tap-salesforce {plugin.name}
```"""
    exit_codes = ""
    if plugin.handles_exits():
        from xlr8_kit.exits import markdown_table

        partial = "allow_partial_run" in info["settings"]["properties"]
        exit_codes = f"""

## Exit codes

From `xlr8_kit.exits` (the same for every plugin built on the kit).

{markdown_table(partial_runs=partial)}"""
    return f"""## Capabilities

{capabilities}

## Settings

Generated from `{plugin.executable} --about --format=markdown` (the SDK's built-in settings included). Every
setting can also be given as an environment variable, e.g. `{plugin.namespace.upper()}_<SETTING>`, with
`--config=ENV`.

{settings_table(markdown)}

## Usage

{usage}{exit_codes}"""


def _block(name: str, body: str) -> str:
    return f"{BEGIN.format(name)}\n{body}\n{END.format(name)}"


def _replace_block(text: str, name: str, body: str) -> str | None:
    pattern = re.compile(re.escape(BEGIN.format(name)) + r".*?" + re.escape(END.format(name)), re.S)
    if not pattern.search(text):
        return None
    return pattern.sub(lambda _m: _block(name, body), text, count=1)


def render_readme(current: str, plugin: Plugin, info: dict[str, t.Any], markdown: str) -> str:
    install, reference = install_block(plugin, info), reference_block(plugin, info, markdown)
    updated = _replace_block(current, "install", install)
    if updated is not None:
        updated = _replace_block(updated, "reference", reference)
        if updated is not None:
            return updated
    # First run (the SDK's README shape): title, description (the first paragraph), install and Meltano, the
    # hand-written text on streams and behaviour (its old settings section dropped), capabilities, settings, usage.
    lines = current.splitlines()
    title = lines[0] if lines and lines[0].startswith("# ") else f"# {plugin.name}"
    body = "\n".join(lines[1:] if lines and lines[0].startswith("# ") else lines)
    body = re.sub(r"\n## Settings\n.*?(?=\n## |\Z)", "\n", "\n" + body, flags=re.S).strip()
    description, _, rest = body.partition("\n\n")
    if description.startswith(("#", "-", "|", "```")):
        description, rest = info.get("description") or "", body
    rest = rest.strip()
    if rest and not rest.startswith("## "):
        heading = "## Streams and behaviour" if plugin.plugin_type == "extractors" else "## Behaviour"
        rest = f"{heading}\n\n{rest}"
    parts = [title, description, _block("install", install), rest, _block("reference", reference)]
    return "\n\n".join(p for p in parts if p) + "\n"


# --- driver -----------------------------------------------------------------------------------------------------


def generate(plugins: list[Plugin]) -> dict[Path, str]:
    """Every generated file's wanted content."""
    meltano_yml = (ROOT / "meltano.yml").read_text()
    infos = {p.name: json.loads(about(p)) for p in plugins}
    wanted: dict[Path, str] = {ROOT / "meltano.yml": update_meltano_yml(meltano_yml, plugins)}
    from xlr8_kit.exits import markdown_table

    root_readme = (ROOT / "README.md").read_text()
    wanted[ROOT / "README.md"] = _replace_block(root_readme, "exit-codes", markdown_table()) or root_readme
    for plugin in plugins:
        info = infos[plugin.name]
        definition = hub_definition(plugin, info, settings_groups(meltano_yml, plugin))
        wanted[plugin.definition_path] = dump_definition(definition)
        wanted[plugin.lock_path] = lock_definition(plugin, info)
        readme = plugin.readme.read_text() if plugin.readme.exists() else f"# {plugin.name}\n\n{info['description']}\n"
        wanted[plugin.readme] = render_readme(readme, plugin, info, about(plugin, "markdown"))
        wanted[plugin.directory / "LICENSE"] = (ROOT / "LICENSE").read_text()  # each distribution ships it
        for package in _wheel_packages(plugin.directory):
            wanted[plugin.directory / package / "py.typed"] = ""
    return wanted


def _wheel_packages(directory: Path) -> list[str]:
    tool = tomllib.loads((directory / "pyproject.toml").read_text()).get("tool", {})
    return list(tool.get("hatch", {}).get("build", {}).get("targets", {}).get("wheel", {}).get("packages", []))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if a generated file is out of date")
    parser.add_argument("plugins", nargs="*", help="plugin names (default: every tap and the target)")
    args = parser.parse_args(argv)
    plugins = [p for p in discover_plugins() if not args.plugins or p.name in args.plugins]
    stale = []
    for path, content in generate(plugins).items():
        if path.exists() and path.read_text() == content:
            continue
        stale.append(path.relative_to(ROOT))
        if not args.check:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(content)
    verb = "out of date" if args.check else "written"
    for path in stale:
        print(f"{verb}: {path}")
    return 1 if args.check and stale else 0


if __name__ == "__main__":
    sys.exit(main())
