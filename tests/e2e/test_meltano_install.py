"""Meltano as a user drives it: ``meltano install`` from meltano.yml's ``pip_url``s and a run from the installed
plugin venvs (not the workspace venv), every command honouring the default environment, secrets set with
``meltano config set`` kept out of meltano.yml and out of the output, and a plugin added to an outside project from
its Hub-format definition file.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from xlr8_kit.testing.meltano_e2e import (
    BIN,
    WORKSPACE_LINK_MARK,
    MeltanoProject,
    copy_plugin_locks,
    honour_default_environment,
    link_workspace_venvs,
)
from xlr8_sandbox.platform.server import run_sandbox

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
CANARY = "canary-sf-secret-5e1d9c"


def _copy_sources(dest: Path, *directories: str) -> None:
    """The project as a user checks it out: meltano.yml, the plugins' lock files and the sources its pip_urls point
    at (no venv, no tests)."""
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copy2(ROOT / "meltano.yml", dest / "meltano.yml")
    copy_plugin_locks(ROOT, dest)
    ignore = shutil.ignore_patterns("tests", "__pycache__", "*.pyc", ".venv", "*.egg-info", "build", "dist")
    for directory in directories:
        shutil.copytree(ROOT / directory, dest / directory, ignore=ignore)


def _meltano(project: Path, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """``meltano <args>`` without --environment: whatever the project itself selects applies."""
    return subprocess.run(
        [str(BIN / "meltano"), *args], cwd=project, env=env, capture_output=True, text=True, timeout=600, check=False
    )


def test_meltano_install_then_run_from_the_installed_plugin_venvs(tmp_path: Path) -> None:
    melt = MeltanoProject(tmp_path)  # no workspace links: meltano install builds real venvs
    _copy_sources(melt.project, "shared", "taps/tap-salesforce", "target-xlr8-truths")
    uv = shutil.which("uv")
    assert uv, "uv is not on PATH"
    env = {
        **melt.base_env(),
        # Nothing from the workspace venv on PATH: the plugins must come from their own venvs.
        "PATH": os.pathsep.join([str(Path(uv).parent), "/usr/local/bin", "/usr/bin", "/bin"]),
        "MELTANO_VENV_BACKEND": "uv",  # uv builds the venvs from its cache; the default pip backend works the same
    }
    installed = _meltano(melt.project, "install", "tap-salesforce", "target-xlr8-truths", env=env)
    assert installed.returncode == 0, installed.stderr[-3000:]
    venvs = {name: melt.sys_dir / kind / name / "venv" for kind, name in
             (("extractors", "tap-salesforce"), ("loaders", "target-xlr8-truths"))}  # fmt: skip
    for name, venv in venvs.items():
        assert (venv / "bin" / name).is_file(), f"meltano install built no {name} executable"
        assert not (venv / WORKSPACE_LINK_MARK).exists()
        assert not (venv / "bin").is_symlink()
    tap_python = str(venvs["tap-salesforce"] / "bin" / "python")
    assert subprocess.run([tap_python, "-c", "import uvicorn"], capture_output=True, check=False).returncode != 0
    located = subprocess.run(
        [tap_python, "-c", "import xlr8_kit, xlr8_tap_salesforce; print(xlr8_tap_salesforce.__file__)"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert located.stdout.startswith(str(melt.project / "taps" / "tap-salesforce")), located.stdout  # editable

    with run_sandbox(["salesforce"], scale=100) as sandbox:
        run_env = {
            **env,
            "TAP_SALESFORCE_LOGIN_URL": sandbox.url("salesforce"),
            "TAP_SALESFORCE_OBJECTS": json.dumps(["Account", "Project__c"]),
        }
        command = ("--environment=sandbox", "run", "tap-salesforce", "target-xlr8-truths")
        ran = _meltano(melt.project, *command, env=run_env)
        assert ran.returncode == 0, ran.stderr[-3000:]
        expected = sandbox.emulator("salesforce").objects["Account"].base_record(0)
    accounts = melt.rows("salesforce", "account", ["id", "name"], "id")
    assert len(accounts) == 50
    assert accounts[0] == (expected["Id"], expected["Name"])
    assert len(melt.rows("salesforce", "project_c", ["id"], "id")) == 10


def test_meltano_install_replaces_a_workspace_link_and_leaves_the_workspace_venv_alone(tmp_path: Path) -> None:
    """After the fast-path links (bootstrap), ``meltano install`` still builds a real plugin venv; the venv the link
    pointed at keeps its files."""
    workspace = tmp_path / "workspace-venv"
    (workspace / "bin").mkdir(parents=True)
    (workspace / "bin" / "keep-me").write_text("x")
    melt = MeltanoProject(tmp_path / "melt")
    _copy_sources(melt.project, "shared", "taps/tap-salesforce")
    assert "tap-salesforce" in link_workspace_venvs(melt.project, melt.sys_dir, venv=workspace)
    venv = melt.sys_dir / "extractors" / "tap-salesforce" / "venv"
    assert (venv / "bin").resolve() == (workspace / "bin").resolve()
    uv = shutil.which("uv")
    assert uv, "uv is not on PATH"
    env = {**melt.base_env(), "PATH": os.pathsep.join([str(Path(uv).parent), "/usr/bin", "/bin"]),
           "MELTANO_VENV_BACKEND": "uv"}  # fmt: skip
    installed = _meltano(melt.project, "install", "tap-salesforce", env=env)
    assert installed.returncode == 0, installed.stderr[-3000:]
    assert not (venv / "bin").is_symlink()
    assert (venv / "bin" / "tap-salesforce").is_file()
    assert not (venv / WORKSPACE_LINK_MARK).exists()
    assert (workspace / "bin" / "keep-me").read_text() == "x"
    assert "tap-salesforce" not in link_workspace_venvs(melt.project, melt.sys_dir, venv=workspace)  # real: kept
    assert not (venv / "bin").is_symlink()


def test_every_command_honours_the_default_environment(tmp_path: Path) -> None:
    """``meltano select tap-salesforce --list`` without --environment discovers with the sandbox settings."""
    melt = MeltanoProject.copy_of(ROOT / "meltano.yml", tmp_path)  # plugins linked to the workspace venv
    assert honour_default_environment(melt.project) == "sandbox"
    with run_sandbox(["salesforce"], scale=100) as sandbox:
        env = {
            **melt.base_env(),
            "TAP_SALESFORCE_LOGIN_URL": sandbox.url("salesforce"),
            "TAP_SALESFORCE_OBJECTS": json.dumps(["Account", "Project__c"]),
        }
        listed = _meltano(melt.project, "select", "tap-salesforce", "--list", "--all", env=env)
        config = _meltano(melt.project, "config", "list", "tap-salesforce", env=env)
    assert listed.returncode == 0, listed.stderr[-3000:]
    assert "Account.Name" in listed.stdout
    assert "Project__c.Id" in listed.stdout
    assert "will be ignored" not in listed.stderr + config.stderr
    assert config.returncode == 0, config.stderr[-3000:]
    assert "integration@acme.example" in config.stdout  # the sandbox environment's username
    for secret in ("sandbox-client-secret-7f3a", "sandbox-password-91", "SBXTOKEN42"):  # its secrets: redacted
        assert secret not in config.stdout + config.stderr
    assert "(redacted)" in config.stdout


def _assert_secret_goes_to_dotenv(project: Path, env: dict[str, str], *extra: str) -> None:
    set_ = _meltano(project, *extra, "config", "set", "tap-salesforce", "client_secret", CANARY, env=env)
    assert set_.returncode == 0, set_.stderr[-3000:]
    listed = _meltano(project, *extra, "config", "list", "tap-salesforce", "--all", env=env)
    assert listed.returncode == 0, listed.stderr[-3000:]
    printed = _meltano(project, *extra, "config", "print", "tap-salesforce", env=env)
    for output in (set_, listed, printed):
        assert CANARY not in output.stdout + output.stderr
    assert "client_secret" in listed.stdout
    assert CANARY not in (project / "meltano.yml").read_text()
    assert f"TAP_SALESFORCE_CLIENT_SECRET='{CANARY}'" in (project / ".env").read_text().replace('"', "'")


def test_config_set_keeps_a_secret_out_of_meltano_yml_and_output(tmp_path: Path) -> None:
    melt = MeltanoProject.copy_of(ROOT / "meltano.yml", tmp_path)
    honour_default_environment(melt.project)
    _assert_secret_goes_to_dotenv(melt.project, melt.base_env())
    assert "client_secret: sandbox-client-secret-7f3a" in (melt.project / "meltano.yml").read_text()  # untouched


def test_outside_project_adds_the_tap_from_its_definition_file(tmp_path: Path) -> None:
    """Another Meltano project: ``meltano add extractor tap-salesforce --from-ref <definition>`` declares every
    setting (secrets sensitive) and the git pip_url naming the kit."""
    project = tmp_path / "elsewhere"
    project.mkdir()
    definition_file = {"project_id": "outside-project", "default_environment": "dev", "environments": [{"name": "dev"}]}
    (project / "meltano.yml").write_text(yaml.safe_dump(definition_file))
    env: dict[str, Any] = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("MELTANO_", "TAP_", "TARGET_"))},
        "MELTANO_SEND_ANONYMOUS_USAGE_STATS": "false",
    }
    definition = ROOT / "plugins" / "extractors" / "tap-salesforce--xlr8.yml"
    added = _meltano(project, "add", "extractor", "tap-salesforce", "--from-ref", str(definition), "--no-install",
                     env=env)  # fmt: skip
    assert added.returncode == 0, added.stderr[-3000:]
    declared = yaml.safe_load((project / "meltano.yml").read_text())["plugins"]["extractors"][0]
    assert "xlr8-connector-kit @ git+" in declared["pip_url"]
    settings = {s["name"]: s for s in declared["settings"]}
    assert settings["client_secret"].get("sensitive") is True
    assert settings["auth_type"]["kind"] == "options"
    _assert_secret_goes_to_dotenv(project, env, "--environment=dev")
