"""meltano.yml, the Hub-format plugin definition files and every plugin's README agree with the plugin's own
``--about`` (names, kinds, sensitive flags, capabilities, settings table). Every tap under ``taps/`` is covered.

Regenerate with ``uv run python scripts/gen_plugin_docs.py``.
"""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from xlr8_kit.testing.meltano_e2e import declared_plugin

ROOT = Path(__file__).resolve().parents[2]
PLUGINS = [*sorted(p.parent.name for p in ROOT.glob("taps/*/pyproject.toml")), "target-xlr8-truths"]
#: JSON-schema type -> Meltano setting kind, written out here independently of the generator.
KINDS = {"string": "string", "integer": "integer", "number": "decimal", "boolean": "boolean", "array": "array",
         "object": "object"}  # fmt: skip


_KINDS = {"target": "loaders", "mapper": "mappers"}


def _meltano_yml() -> dict[str, Any]:
    return dict(yaml.safe_load((ROOT / "meltano.yml").read_text()))


def _plugin_entry(name: str) -> dict[str, Any]:
    """meltano.yml's entry over the definition in the plugin's lock file (how Meltano reads it)."""
    return declared_plugin(ROOT, _KINDS.get(name.split("-", 1)[0], "extractors"), name)


def _expected_kind(spec: dict[str, Any]) -> str:
    if "enum" in spec:
        return "options"
    types = spec.get("type", "string")
    first = next(t for t in ([types] if isinstance(types, str) else types) if t != "null")
    if first == "string" and spec.get("format") in ("date-time", "date"):
        return "date_iso8601"
    if first == "number" and float(spec.get("default") or 0.5).is_integer():
        return "integer"  # Meltano 4.4.1 cannot write a `decimal` given as a string to the config file
    return KINDS[first]


def _about_settings(about: dict[str, Any], sdk_builtins: frozenset[str]) -> dict[str, dict[str, Any]]:
    """The plugin's own settings by Meltano name: an object holding a secret is one dotted setting per field."""
    flat: dict[str, dict[str, Any]] = {}

    def walk(name: str, spec: dict[str, Any]) -> None:
        props = spec.get("properties") or {}
        if any(sub.get("secret") for sub in props.values()):
            for sub, sub_spec in props.items():
                walk(f"{name}.{sub}", sub_spec)
        else:
            flat[name] = spec

    for name, spec in about["settings"]["properties"].items():
        if name not in sdk_builtins:
            walk(name, spec)
    return flat


@pytest.mark.parametrize("name", PLUGINS)
def test_meltano_yml_settings_match_about(pkg: Any, name: str) -> None:
    """Names, kinds, sensitive flags and options of meltano.yml's settings are the plugin's --about schema."""
    about = pkg.about_json(name)
    expected = _about_settings(about, pkg.gen().SDK_BUILTINS)
    declared = {s["name"]: s for s in _plugin_entry(name)["settings"]}
    assert sorted(declared) == sorted(expected)
    for setting_name, spec in expected.items():
        setting = declared[setting_name]
        assert setting["kind"] == _expected_kind(spec), setting_name
        assert bool(setting.get("sensitive")) == bool(spec.get("secret")), setting_name
        if "enum" in spec:
            assert [o["value"] for o in setting["options"]] == [v for v in spec["enum"] if v is not None]
    # Every secret is its own setting: Meltano then masks it in `config list` and stores it in .env.
    for setting in declared.values():
        if setting["kind"] == "object":
            nested = about["settings"]["properties"].get(setting["name"], {}).get("properties") or {}
            assert not any(s.get("secret") for s in nested.values()), f"{setting['name']} hides a secret"


@pytest.mark.parametrize("name", PLUGINS)
def test_meltano_yml_plugin_is_installable_and_declares_what_about_reports(pkg: Any, name: str) -> None:
    entry = _plugin_entry(name)
    about = pkg.about_json(name)
    assert sorted(entry["capabilities"]) == sorted(about["capabilities"])
    plugin_dir = next(p.directory for p in pkg.gen().discover_plugins() if p.name == name)
    assert entry["pip_url"] == f"-e ./shared -e ./{plugin_dir.relative_to(ROOT).as_posix()}"
    assert entry["executable"] == name
    groups = entry.get("settings_group_validation")
    assert groups, f"{name}: settings_group_validation (one group per auth flow / delivery) is missing"
    declared = {s["name"] for s in entry["settings"]}
    for group in groups:
        assert set(group) <= declared, f"{name}: group {group} names undeclared settings"


def test_meltano_yml_declares_plugins_by_variant_and_their_definitions_live_in_lock_files(pkg: Any) -> None:
    """meltano.yml names each generated plugin (variant, pip_url, the project's own config); its definition is in
    its lock file, which Meltano reads only for the plugins a command runs. Every Meltano command parses all of
    meltano.yml: with the thirteen definitions inline that cost ~0.2 s CPU before `meltano run` started a plugin."""
    generated = {p.name: p for p in pkg.gen().discover_plugins()}
    project_keys = {"name", "variant", "pip_url", "settings_group_validation", "config", "mappings"}
    for kind, entries in _meltano_yml()["plugins"].items():
        for entry in entries:
            if entry["name"] not in generated:
                continue
            assert set(entry) <= project_keys, f"{entry['name']}: {sorted(set(entry) - project_keys)} inline"
            assert entry["variant"] == pkg.gen().VARIANT
            lock = json.loads(generated[entry["name"]].lock_path.read_text())
            assert (lock["plugin_type"], lock["name"], lock["variant"]) == (kind, entry["name"], entry["variant"])
            assert lock["settings"], entry["name"]
            assert lock["pip_url"] == entry["pip_url"]  # `meltano install` skips a plugin whose lock has none
    assert len((ROOT / "meltano.yml").read_bytes()) < 20_000  # environments and entries, not definitions


def test_every_extractor_writes_batch_files_on_one_convention() -> None:
    """One BATCH convention for every tap: plain JSON lines under the project's batch directory, files of 10,000
    records, so a STATE follows every 10,000 records (RELIABILITY E15: review 19c found 50,000 broke it). A larger
    ``batch_size`` is the user's trade (README "BATCH file size": files grow to it, ``xlr8_kit.batching.file_sizes``;
    at 50,000 the target's CPU falls 10-30%, bench/README, branches pipe19 and batch19)."""
    extractors = {entry["name"]: entry for entry in _meltano_yml()["plugins"]["extractors"]}
    taps = sorted(p.parent.name for p in ROOT.glob("taps/tap-*/pyproject.toml"))
    assert "tap-salesforce" in taps  # the glob found the taps
    assert set(taps) <= set(extractors)
    for name in taps:
        batch_config = (extractors[name].get("config") or {}).get("batch_config")
        assert batch_config, f"{name}: no batch_config in meltano.yml"
        assert batch_config["encoding"] == {"format": "jsonl", "compression": "none"}, name
        assert batch_config["storage"] == {"root": f"file://${{MELTANO_PROJECT_ROOT}}/.meltano/batches/{name}"}, name
        assert batch_config.get("batch_size") == 10_000, f"{name}: batch_size {batch_config.get('batch_size')}"


def test_meltano_yml_has_no_deprecated_version_key() -> None:
    assert "version" not in _meltano_yml()  # Meltano 4 warns about it on every command


def test_generated_files_are_current(pkg: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    """meltano.yml plugin definitions, plugins/*/*--xlr8.yml and the README blocks are what the generator writes
    from --about now (run scripts/gen_plugin_docs.py after changing settings)."""
    gen = pkg.gen()
    monkeypatch.setattr(gen, "about", lambda plugin, fmt="json": pkg.about(plugin.name, fmt))
    assert gen.main(["--check"]) == 0, capsys.readouterr().out


@pytest.mark.parametrize("name", PLUGINS)
def test_hub_definition_matches_about(pkg: Any, name: str) -> None:
    plugin = next(p for p in pkg.gen().discover_plugins() if p.name == name)
    definition = yaml.safe_load(plugin.definition_path.read_text())
    about = pkg.about_json(name)
    assert definition["name"] == name
    assert definition["executable"] == name
    assert sorted(definition["capabilities"]) == sorted(about["capabilities"])
    by_name = {s["name"]: s for s in definition["settings"]}
    expected = _about_settings(about, frozenset())  # the definition lists the SDK's built-in settings too
    assert sorted(by_name) == sorted(expected)
    for setting_name, spec in expected.items():
        assert by_name[setting_name]["kind"] == _expected_kind(spec), setting_name
        assert bool(by_name[setting_name].get("sensitive")) == bool(spec.get("secret")), setting_name
    assert "xlr8-connector-kit @ git+" in definition["pip_url"]  # the kit named explicitly: it is on no index yet
    assert definition["settings_group_validation"] == _plugin_entry(name)["settings_group_validation"]


@pytest.mark.parametrize("name", PLUGINS)
def test_readme_has_the_sdk_shape_and_the_about_settings_table(pkg: Any, name: str) -> None:
    plugin = next(p for p in pkg.gen().discover_plugins() if p.name == name)
    readme = plugin.readme.read_text()
    headings = re.findall(r"^## (.+)$", readme, flags=re.M)
    wanted = ["Install", "Meltano", "Capabilities", "Settings", "Usage"]
    assert [h for h in headings if h in wanted] == wanted, headings
    about_settings = pkg.about(name, "markdown").split("## Settings", 1)[1]
    table = [line for line in about_settings.splitlines() if line.startswith("|")]
    assert table, "--about --format=markdown printed no settings table"
    settings_section = readme.split("## Settings", 1)[1].split("\n## ", 1)[0]
    assert [line for line in settings_section.splitlines() if line.startswith("|")] == table
    for capability in pkg.about_json(name)["capabilities"]:
        assert f"- `{capability}`" in readme
    assert f"#subdirectory={plugin.subdirectory}" in readme
    assert "#subdirectory=shared" in readme
    assert "--find-links" in readme
    assert f"meltano add {_KINDS.get(name.split('-', 1)[0], 'extractors')[:-1]}" in readme


@pytest.mark.parametrize("name", PLUGINS)
def test_about_reports_the_workspace_version(pkg: Any, name: str) -> None:
    assert pkg.about_json(name)["version"] == pkg.workspace_version()


def test_every_distribution_has_the_one_version_license_and_metadata(pkg: Any) -> None:
    """Versions come from one place: every distribution carries the workspace root's version (bump them together)."""
    version = pkg.workspace_version()
    license_text = (ROOT / "LICENSE").read_text()
    assert "Apache License" in license_text
    assert "Version 2.0" in license_text
    for directory in pkg.member_dirs():
        project = tomllib.loads((directory / "pyproject.toml").read_text())["project"]
        where = directory.relative_to(ROOT)
        assert project["version"] == version, f"{where}: version {project['version']} != workspace {version}"
        assert project["license"] == "Apache-2.0", where
        assert (directory / "LICENSE").read_text() == license_text, f"{where}/LICENSE differs from the root LICENSE"
        assert (directory / project["readme"]).is_file(), where
        assert project.get("classifiers"), where
        assert project.get("urls"), where
        packages = tomllib.loads((directory / "pyproject.toml").read_text())["tool"]["hatch"]["build"]["targets"]
        for package in packages["wheel"]["packages"]:
            assert (directory / package / "py.typed").is_file(), f"{where}/{package}/py.typed is missing"
