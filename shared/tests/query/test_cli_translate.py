"""``xlr8 translate``: the real console script, readable and JSON output, clear errors with exit code 2."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from xlr8_kit.cli import main


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def test_console_script_translates_for_several_products() -> None:
    exe = shutil.which("xlr8", path=str(Path(sys.executable).parent))
    assert exe is not None, "the xlr8 console script is not installed in this environment"
    query = 'employee where hire_date >= 2024-01-01 and last_name = "O\'Brien" fields employee_id limit 10'
    done = subprocess.run(
        [exe, "translate", "--to", "sap_sf,oracle_hcm", query], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert "successfactors (odata_v2) stream User:" in done.stdout
    assert "$filter = hireDate ge datetime'2024-01-01T00:00:00' and lastName eq 'O''Brien'" in done.stdout
    assert "$top = 10" in done.stdout
    assert "oracle_hcm (oracle_rest) stream workers:" in done.stdout
    assert "q = HireDate >= '2024-01-01' and LastName = 'O''Brien'" in done.stdout
    assert "limit 10 applied after fetching" in done.stdout


def test_json_output_names_pushed_and_post_fetch_parts() -> None:
    code, out, _ = run("translate", "--json", "--to", "salesforce", "contact where title != 'CFO' fields contact_id")
    assert code == 0
    info = json.loads(out)
    assert info["params"] == {"q": "SELECT Id, Title FROM Contact"}
    assert info["pushed_down"] is None
    assert info["post_fetch"] == "Title != 'CFO'"


def test_source_product_names() -> None:
    code, out, _ = run("translate", "--from", "successfactors", "--to", "ukg_pro", "User where hireDate >= 2020-01-01")
    assert code == 0
    assert "stream employment_details" in out
    assert "after fetching: originalHireDate >= 2020-01-01" in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["translate", "--to", "peoplesoft", "employee"], "unknown product 'peoplesoft'"),
        (["translate", "--to", "workday", "employee where shoe_size = 9"], "'shoe_size' is not carried by workday_hcm"),
        (["translate", "--to", "workday", "employee where"], "expected a field name"),
        (["translate", "--to", "workday", "--strict", "employee where hire_date >= 2024-01-01"], "cannot apply"),
        (["translate", "--to", " , ", "employee"], "--to needs at least one product id"),
    ],
)
def test_bad_input_exits_2_with_a_clear_message(argv: list[str], message: str) -> None:
    code, out, err = run(*argv)
    assert code == 2
    assert out == ""
    assert err.startswith("xlr8: error: ")
    assert message in err
