"""Release check: every distribution builds (``uv build``), passes ``twine check``, and each plugin's wheel installs
alone in a clean venv and runs. The workspace's own distributions come only from the freshly built wheels
(``--no-index --find-links``, never an index); third-party dependencies at the lockfile's versions (``uv export``),
which the uv cache usually already holds.

The Salesforce tap alone syncs against an emulator started from the sandbox distribution in its own venv, and the
tap's venv holds no uvicorn (the emulators are not a tap's dependency).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib
import zipfile
from email.parser import Parser
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
PLUGINS = [*sorted(p.parent.name for p in ROOT.glob("taps/*/pyproject.toml")), "target-xlr8-truths"]
KIT = "xlr8-connector-kit"
PROJECT_ID = "6f1c2a9e-5a4d-4b8e-9c1f-0a5d5a4d0b01"


def _run(cmd: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=600, check=False, **kwargs)
    assert done.returncode == 0, f"{' '.join(cmd)} failed:\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}"
    return done


def _distribution(directory: Path) -> str:
    return str(tomllib.loads((directory / "pyproject.toml").read_text())["project"]["name"])


def _plugin_dir(name: str) -> Path:
    return ROOT / "target-xlr8-truths" if name.startswith("target-") else ROOT / "taps" / name


@pytest.fixture(scope="module")
def dist(pkg: Any, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    _run([pkg.uv(), "build", "--all-packages", "--quiet", "-o", str(out)], cwd=ROOT)
    return out


@pytest.fixture
def make_venv(pkg: Any, dist: Path, tmp_path: Path) -> Any:
    """``make_venv(name, *distributions, extras=())``: a clean venv holding those workspace distributions (from the
    built wheels only) and their locked third-party dependencies; returns its bin directory."""

    def make(label: str, *distributions: str, extras: tuple[str, ...] = ()) -> Path:
        venv = tmp_path / label
        uv = pkg.uv()
        _run([uv, "venv", "--quiet", "--python", sys.executable, str(venv)])
        python = str(venv / "bin" / "python")
        _run([uv, "pip", "install", "--quiet", "--python", python, "--no-index", "--no-deps", "--find-links",
              str(dist), *distributions])  # fmt: skip
        requirements = tmp_path / f"{label}-requirements.txt"
        for distribution in distributions:
            export = [uv, "export", "--frozen", "--quiet", "--package", distribution, "--no-emit-workspace",
                      "--no-dev", "--no-hashes", "--no-header", *(f"--extra={e}" for e in extras)]  # fmt: skip
            with requirements.open("a") as handle:
                handle.write(_run(export, cwd=ROOT).stdout)
        _run([uv, "pip", "install", "--quiet", "--python", python, "-r", str(requirements)])
        _run([uv, "pip", "check", "--python", python])  # every dependency of every installed distribution is there
        return venv / "bin"

    return make


def _importable(bin_dir: Path, module: str) -> bool:
    probe = f"import importlib.util, sys; sys.exit(0 if importlib.util.find_spec({module!r}) else 3)"
    return subprocess.run([str(bin_dir / "python"), "-c", probe], check=False).returncode == 0


def test_every_distribution_builds_and_passes_twine_check(pkg: Any, dist: Path) -> None:
    version = pkg.workspace_version()
    for directory in pkg.member_dirs():
        stem = _distribution(directory).replace("-", "_")
        assert (dist / f"{stem}-{version}-py3-none-any.whl").is_file(), f"no wheel for {directory.name}"
        assert (dist / f"{stem}-{version}.tar.gz").is_file(), f"no sdist for {directory.name}"
    files = sorted(str(p) for p in [*dist.glob("*.whl"), *dist.glob("*.tar.gz")])
    checked = _run([str(Path(sys.executable).parent / "twine"), "check", "--strict", *files])
    assert checked.stdout.count("PASSED") == len(files), checked.stdout


def test_wheels_carry_license_readme_urls_and_py_typed(pkg: Any, dist: Path) -> None:
    for wheel in sorted(dist.glob("*.whl")):
        with zipfile.ZipFile(wheel) as archive:
            names = archive.namelist()
            metadata_name = next(n for n in names if n.endswith(".dist-info/METADATA"))
            metadata = Parser().parsestr(archive.read(metadata_name).decode())
        assert metadata["License-Expression"] == "Apache-2.0", wheel.name
        assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names), wheel.name
        assert metadata["Description-Content-Type"] == "text/markdown", wheel.name
        assert len(metadata.get_payload() or "") > 200, f"{wheel.name}: no README in the long description"
        assert metadata.get_all("Project-URL"), wheel.name
        assert "Typing :: Typed" in (metadata.get_all("Classifier") or []), wheel.name
        assert any(n.endswith("/py.typed") for n in names), f"{wheel.name} has no py.typed"
        if wheel.name.startswith("xlr8_connector_kit-"):
            assert not any(n.startswith("xlr8_sandbox/") for n in names), "the kit's wheel carries the emulators"


@pytest.mark.parametrize("name", PLUGINS)
def test_each_plugin_wheel_installs_alone_and_reports_about(pkg: Any, make_venv: Any, name: str) -> None:
    distribution = _distribution(_plugin_dir(name))
    bin_dir = make_venv(name, KIT, distribution)
    about = json.loads(_run([str(bin_dir / name), "--about", "--format=json"]).stdout)
    assert about["name"] == name
    assert about["version"] == pkg.workspace_version()
    assert not _importable(bin_dir, "uvicorn")  # the emulators are not a plugin's dependency
    assert not _importable(bin_dir, "xlr8_sandbox")
    assert not _importable(bin_dir, "meltano")


def test_target_alone_lands_and_reads_truths_without_postgres(make_venv: Any, tmp_path: Path) -> None:
    """A plain install of the target (no extra): DuckDB delivery lands records, ``read_truths()`` reads them back
    (pytz is a dependency), psycopg is absent, and delivery=postgres fails at start naming the extra."""
    bin_dir = make_venv("target", KIT, "xlr8-target-truths")
    assert not _importable(bin_dir, "psycopg")
    store = tmp_path / "truths.duckdb"
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"project_id": PROJECT_ID, "duckdb_path": str(store)}))
    messages = [
        {"type": "SCHEMA", "stream": "things", "key_properties": ["id"],
         "schema": {"type": "object", "properties": {"id": {"type": "integer"},
                                                     "seen_at": {"type": "string", "format": "date-time"}}}},
        {"type": "RECORD", "stream": "things", "record": {"id": 1, "seen_at": "2026-01-02T03:04:05Z"}},
        {"type": "RECORD", "stream": "things", "record": {"id": 2, "seen_at": "2026-01-03T03:04:05Z"}},
        {"type": "STATE", "value": {"bookmarks": {"things": {"id": 2}}}},
    ]  # fmt: skip
    stdin = "".join(json.dumps(m) + "\n" for m in messages)
    _run([str(bin_dir / "target-xlr8-truths"), "--config", str(config)], input=stdin)
    reader = (
        "import sys; from target_xlr8_truths import read_truths; "
        f"truths = read_truths({PROJECT_ID!r}, duckdb_path={str(store)!r}); "
        "print(sorted((r['id'], str(r['seen_at'])) for t in truths for r in t.content))"
    )
    read = _run([str(bin_dir / "python"), "-c", reader])
    assert read.stdout.strip() == "[(1, '2026-01-02 03:04:05+00:00'), (2, '2026-01-03 03:04:05+00:00')]"

    config.write_text(json.dumps({"project_id": PROJECT_ID, "delivery": "postgres", "postgres_dsn": "postgresql://x"}))
    failed = subprocess.run(
        [str(bin_dir / "target-xlr8-truths"), "--config", str(config)],
        input="",
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert failed.returncode != 0
    assert "delivery=postgres" in failed.stderr
    assert "xlr8-target-truths[postgres]" in failed.stderr


def test_salesforce_alone_syncs_against_the_sandbox_distribution(make_venv: Any, tmp_path: Path) -> None:
    sandbox_bin = make_venv("sandbox", KIT, "xlr8-sandbox")
    tap_bin = make_venv("tap", KIT, "xlr8-tap-salesforce")
    assert not _importable(tap_bin, "uvicorn")
    assert _importable(sandbox_bin, "uvicorn")
    server = subprocess.Popen(
        [str(sandbox_bin / "xlr8-sandbox"), "salesforce", "--ephemeral", "--json", "--quiet"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert server.stdout is not None
        line = ""
        while not line.startswith("{"):
            line = server.stdout.readline()
            assert line, f"xlr8-sandbox exited: {server.stderr.read() if server.stderr else ''}"
        salesforce = json.loads(line)["salesforce"]
        creds = salesforce["credentials"]
        config = {
            "login_url": salesforce["url"],
            "auth_type": "password",
            **{k: creds[k] for k in ("client_id", "client_secret", "username", "password", "security_token")},
            "objects": ["Account", "Project__c"],
        }
        (tmp_path / "config.json").write_text(json.dumps(config))
        discovered = _run([str(tap_bin / "tap-salesforce"), "--config", str(tmp_path / "config.json"), "--discover"])
        catalog = json.loads(discovered.stdout)
        for entry in catalog["streams"]:
            entry["metadata"][0]["metadata"]["selected"] = True
        (tmp_path / "catalog.json").write_text(json.dumps(catalog))
        synced = _run(
            [str(tap_bin / "tap-salesforce"), "--config", str(tmp_path / "config.json"),
             "--catalog", str(tmp_path / "catalog.json")]
        )  # fmt: skip
    finally:
        server.terminate()
        server.wait(timeout=30)
    records = [json.loads(line) for line in synced.stdout.splitlines() if line.startswith('{"type":"RECORD"')]
    by_stream: dict[str, int] = {}
    for record in records:
        by_stream[record["stream"]] = by_stream.get(record["stream"], 0) + 1
    assert by_stream == {"Account": 50, "Project__c": 10}
    assert creds["client_secret"] not in synced.stdout + synced.stderr
