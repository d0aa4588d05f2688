"""`flask rent quote`: a JSON household in, the rent out (SPEC §4.6 E1 end to end), and every kind of
bad input answered with exit code 2 and one message naming the field — never a traceback."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

E1 = {
    "fiscal_year": 2026,
    "income_year": 2025,
    "household_category": "general",
    "members": [
        {
            "relation": "本人",
            "birth_date": "1985-05-01",
            "salary_income": 3_500_000,
            "pension_income": 0,
            "other_income": 0,
            "disability": "none",
            "widow": False,
            "single_parent": False,
            "dependent": False,
        },
        {
            "relation": "配偶者",
            "birth_date": "1987-06-01",
            "salary_income": 0,
            "pension_income": 0,
            "other_income": 0,
            "disability": "none",
            "widow": False,
            "single_parent": False,
            "dependent": True,
        },
        {
            "relation": "子",
            "birth_date": "2015-04-01",
            "salary_income": 0,
            "pension_income": 0,
            "other_income": 0,
            "disability": "none",
            "widow": False,
            "single_parent": False,
            "dependent": True,
        },
    ],
    "remote_dependents": [],
    "unit": {
        "floor_area": 60.0,
        "structure": "fire_resistant",
        "age_years": 20,
        "convenience_coefficient": 1.0,
        "market_rent": 90_000,
    },
    "location_coefficient": 1.0,
    "tenancy": {"years_resided": 0, "previous_seirei_getsushu": []},
    "declared": True,
}


def quote(runner, body):
    text = body if isinstance(body, str) else json.dumps(body, ensure_ascii=False)
    return runner.invoke(args=["rent", "quote"], input=text)


def changed(path: str, value=None, *, delete: bool = False) -> dict:
    """E1 with one field (a dotted path, [i] for list items) set to value or deleted."""
    body = copy.deepcopy(E1)
    parts = path.replace("[", ".").replace("]", "").split(".")
    target = body
    for part in parts[:-1]:
        target = target[int(part)] if part.isdigit() else target[part]
    last = int(parts[-1]) if parts[-1].isdigit() else parts[-1]
    if delete:
        del target[last]
    else:
        target[last] = value
    return body


def test_e1_end_to_end(runner):
    result = quote(runner, E1)
    assert result.exit_code == 0, result.stderr
    out = json.loads(result.stdout)
    assert {k: v for k, v in out.items() if k != "explanation"} == {
        "seirei_getsushu": 125_833,
        "bracket": 3,
        "base_amount": 45_400,
        "standard_rent": 38_600,
        "status": "normal",
        "rent": 38_600,
        "deposit": 115_800,
        "eligible": True,
    }
    assert any("2,370,000円" in step for step in out["explanation"])  # 給与所得 from the revenue


def test_e1_with_location_and_convenience(runner):
    body = changed("location_coefficient", 1.15)
    body["unit"]["convenience_coefficient"] = 0.85
    out = json.loads(quote(runner, body).stdout)
    assert (out["rent"], out["deposit"]) == (37_700, 113_100)


def test_undeclared_pays_market_rent(runner):
    out = json.loads(quote(runner, changed("declared", False)).stdout)
    assert (out["status"], out["rent"], out["deposit"]) == ("undeclared", 90_000, 270_000)
    assert out["standard_rent"] == 38_600  # still shown, for comparison


def test_over_income_and_high_income_through_json(runner):
    # E2's person (160,000) resident 3 years: over the 一般 limit, 1st year, column 1:
    # 本来家賃 区分5 49,700; 49,700 + (90,000 − 49,700) × 1/5 = 57,760 → 57,700. Not eligible.
    body = changed("members", [dict(E1["members"][0], salary_income=3_000_000)])
    body["tenancy"] = {"years_resided": 3, "previous_seirei_getsushu": []}
    out = json.loads(quote(runner, body).stdout)
    assert (out["seirei_getsushu"], out["status"], out["rent"], out["eligible"]) == (
        160_000,
        "over_income",
        57_700,
        False,
    )
    # 給与収入 10,000,000 → 8,050,000; (8,050,000 − 100,000) / 12 = 662,500, 5 years, last year too.
    body["members"][0]["salary_income"] = 10_000_000
    body["tenancy"] = {"years_resided": 5, "previous_seirei_getsushu": [500_000]}
    out = json.loads(quote(runner, body).stdout)
    assert (out["status"], out["rent"]) == ("high_income", 90_000)


def test_years_over_limit_before_is_optional(runner):
    body = changed("members", [dict(E1["members"][0], salary_income=3_000_000)])
    body["tenancy"] = {"years_resided": 10, "previous_seirei_getsushu": [], "years_over_limit_before": 2}
    out = json.loads(quote(runner, body).stdout)
    assert out["rent"] == 73_800  # 3rd year: 49,700 + 40,300 × 3/5 = 73,880


ERRORS = [
    ("{not json", "(入力)"),
    ("[]", "(入力)"),
    ('{"fiscal_year": NaN}', "(入力)"),
    (changed("members", []), "members"),
    (changed("members[1].birth_date", delete=True), "members[1].birth_date"),
    (changed("members[1].birth_date", "2025-02-30"), "members[1].birth_date"),
    (changed("members[1].birth_date", "令和7年1月1日"), "members[1].birth_date"),
    (changed("members[0].salary_income", -1), "members[0].salary_income"),
    (changed("members[0].salary_income", 3_500_000.0), "members[0].salary_income"),
    (changed("members[0].salary_income", "3500000"), "members[0].salary_income"),
    (changed("members[0].salary_income", True), "members[0].salary_income"),
    (changed("members[2].dependent", 1), "members[2].dependent"),
    (changed("members[1].disability", "severe"), "members[1].disability"),
    (changed("members[0].relation", "子"), "members[0].relation"),
    (changed("members[1].salary_revenue", 1), "members[1].salary_revenue"),  # unknown field
    (changed("household_category", "特認"), "household_category"),
    (changed("income_year", 2024), "income_year"),
    (changed("fiscal_year", 1990), "fiscal_year"),
    (changed("remote_dependents", [{"birth_date": "2000-01-01"}]), "remote_dependents[0].disability"),
    (changed("unit.structure", "steel"), "unit.structure"),
    (changed("unit.floor_area", 0), "unit.floor_area"),
    (changed("unit.market_rent", 90_000.5), "unit.market_rent"),
    (changed("unit.convenience_coefficient", 1.31), "unit.convenience_coefficient"),
    (changed("location_coefficient", 1.7), "location_coefficient"),
    (changed("location_coefficient", 0.69), "location_coefficient"),
    (changed("tenancy.previous_seirei_getsushu", [100, -5]), "tenancy.previous_seirei_getsushu[1]"),
    (changed("tenancy.years_resided", delete=True), "tenancy.years_resided"),
    (changed("declared", "yes"), "declared"),
    (changed("extra", 1), "extra"),
]


@pytest.mark.parametrize(("body", "path"), ERRORS)
def test_invalid_input_exit_2_naming_the_field(runner, body, path):
    result = quote(runner, body)
    assert result.exit_code == 2
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"{path}: ")
    assert "Traceback" not in result.stderr


def test_convenience_bound_follows_the_quotes_location(runner):
    # 立地係数 1.6 → 利便性係数 at most 1.6/1.6 = 1.0.
    body = changed("location_coefficient", 1.6)
    body["unit"]["convenience_coefficient"] = 1.01
    assert quote(runner, body).exit_code == 2
    body["unit"]["convenience_coefficient"] = 1.0
    assert quote(runner, body).exit_code == 0


def test_as_a_process_on_a_fresh_database(tmp_path, migrated_template):
    """The real command line: `flask rent quote` on a freshly migrated database, no traceback on error."""
    import shutil

    shutil.copy(migrated_template, tmp_path / "q.db")
    root = Path(__file__).resolve().parent.parent
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'q.db'}",
        "FLASK_APP": "app",
        "INSTANCE_PATH": str(tmp_path / "instance"),
        "KEY_DIR": str(tmp_path / "instance" / "keys"),
    }
    flask = [sys.executable, "-m", "flask", "rent", "quote"]
    done = subprocess.run(
        flask, input=json.dumps(E1), capture_output=True, text=True, cwd=root, env=env, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["rent"] == 38_600
    bad = subprocess.run(
        flask, input='{"fiscal_year": 2026', capture_output=True, text=True, cwd=root, env=env, timeout=60
    )
    assert bad.returncode == 2
    assert bad.stderr.startswith("(入力): ") and "Traceback" not in bad.stderr
