"""`flask rent run` killed with SIGKILL in the middle, run again: the same drafts as an uninterrupted run.

The demo city (as of 2026-11-26) is built once into a SQLite file and copied: the command runs on one
copy, is killed after some batches committed and before the end, and runs again to the end; a clean
run goes on the other copy. Every draft decision and run item must be identical, none duplicated, and
the database file intact.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from app import create_app
from extensions import db
from tests.conftest import test_config

ROOT = Path(__file__).resolve().parent.parent
HOUSEHOLDS = 900
DECISION_COLUMNS = (
    "household_id, tenancy_id, unit_id, fiscal_year, kind, effective_from, seirei_getsushu, bracket, "
    "base_amount, standard_rent, market_rent, rent_status, years_over, rent, deposit, state, masters_used, "
    "explanation"
)


@pytest.fixture(scope="module")
def demo_file(tmp_path_factory, migrated_template):
    """A demo city of HOUSEHOLDS households and the staff member who runs the year, in a closed file."""
    from models import User
    from services import demo
    from services.vault import keyring_for

    base = tmp_path_factory.mktemp("kill")
    shutil.copy(migrated_template, base / "test.db")
    application = create_app(test_config(base))
    with application.app_context():
        db.connect(reuse_if_open=True)
        demo.seed_demo(keyring_for(application.config), households=HOUSEHOLDS, as_of=dt.date(2026, 11, 26))
        User.create(login_id="k-runner", display_name="年次 担当", role="staff")
        db.execute_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        db.close()
    return base


def _copy(demo_file: Path, target: Path) -> Path:
    target.mkdir()
    shutil.copy(demo_file / "test.db", target / "test.db")
    shutil.copytree(demo_file / "instance", target / "instance")
    return target


def _command(base: Path, batch: int = 4) -> tuple[list[str], dict]:
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{base / 'test.db'}",
        "FLASK_APP": "app",
        "INSTANCE_PATH": str(base / "instance"),
        "KEY_DIR": str(base / "instance" / "keys"),
    }
    args = [sys.executable, "-m", "flask", "rent", "run", "--fiscal-year", "2027", "--as", "k-runner",
            "--batch", str(batch), "--quiet"]  # fmt: skip
    return args, env


def _progress(path: Path) -> tuple[int, int, str] | None:
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=1) as conn:
            row = conn.execute("SELECT households_done, households_total, state FROM rent_run").fetchone()
    except sqlite3.OperationalError:
        return None
    return row


def _rows(path: Path) -> tuple[list, list, str]:
    with sqlite3.connect(path) as conn:
        decisions = conn.execute(
            f"SELECT {DECISION_COLUMNS} FROM rent_decision WHERE run_id IS NOT NULL ORDER BY household_id"
        ).fetchall()
        items = conn.execute(
            "SELECT household_id, problem, reasons, rent, previous_rent, resident_three_years, estate_id "
            "FROM rent_run_item ORDER BY household_id"
        ).fetchall()
        integrity = conn.execute("PRAGMA integrity_check").fetchone()[0]
    return decisions, items, integrity


def test_killed_mid_run_then_resumed_equals_a_clean_run(demo_file, tmp_path):
    killed = _copy(demo_file, tmp_path / "killed")
    clean = _copy(demo_file, tmp_path / "clean")
    args, env = _command(killed)
    process = subprocess.Popen(args, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    seen = None
    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline and process.poll() is None:
            seen = _progress(killed / "test.db")
            if seen and seen[2] == "running" and seen[0] > 0:
                os.kill(process.pid, signal.SIGKILL)
                break
            time.sleep(0.01)
    finally:
        process.wait(timeout=60)
    assert process.returncode == -signal.SIGKILL, (process.returncode, process.stderr.read().decode()[-2000:])
    done, total, state = _progress(killed / "test.db")
    assert state == "running" and 0 < done < total, (done, total, state)

    # The rest, and the clean run, in larger batches: the batch size changes nothing in the result.
    args, env = _command(killed, batch=100)
    again = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr[-2000:]
    assert "確認待ち" in again.stdout or "preview" in again.stdout
    args_clean, env_clean = _command(clean, batch=100)
    fresh = subprocess.run(args_clean, cwd=ROOT, env=env_clean, capture_output=True, text=True, timeout=300)
    assert fresh.returncode == 0, fresh.stderr[-2000:]

    resumed_decisions, resumed_items, resumed_ok = _rows(killed / "test.db")
    clean_decisions, clean_items, clean_ok = _rows(clean / "test.db")
    assert resumed_ok == clean_ok == "ok"
    assert len(resumed_items) > HOUSEHOLDS * 0.9
    assert len({row[0] for row in resumed_decisions}) == len(resumed_decisions)  # one draft per household
    assert len({row[0] for row in resumed_items}) == len(resumed_items)
    assert resumed_decisions == clean_decisions
    assert resumed_items == clean_items
    assert _progress(killed / "test.db")[:2] == (len(resumed_items), len(resumed_items))


def test_the_demo_decided_this_years_rent_it_charges(demo_file):
    """`flask seed demo` writes the approved decision in force for every household in residence, with the
    rent it charges, its explanation and the masters used (what a run for the next year compares with)."""
    with sqlite3.connect(demo_file / "test.db") as conn:
        residents = conn.execute(
            "SELECT COUNT(*) FROM household h WHERE h.status != 'moved_out' AND EXISTS "
            "(SELECT 1 FROM tenancy t WHERE t.household_id = h.id AND t.status = 'active')"
        ).fetchone()[0]
        decisions = conn.execute(
            "SELECT household_id, kind, effective_from, rent, rent_status, masters_used, explanation, unit_id, "
            "tenancy_id FROM rent_decision WHERE fiscal_year = 2026 AND state = 'approved'"
        ).fetchall()
        charged = dict(
            conn.execute(
                "SELECT c.household_id, c.amount FROM charge c JOIN tenancy t ON t.household_id = c.household_id "
                "AND t.status = 'active' WHERE c.kind = 'rent' AND c.period = '2026-11-01' "
                "AND t.move_in_date < '2026-11-01'"
            ).fetchall()
        )
        units = dict(conn.execute("SELECT id, unit_id FROM tenancy WHERE status = 'active'").fetchall())
    assert len(decisions) == residents == len({row[0] for row in decisions})
    assert {row[1] for row in decisions} == {"annual", "move_in"}
    assert all(row[2] >= "2026-04-01" for row in decisions)
    assert all(units[row[8]] == row[7] for row in decisions)
    by_household = {row[0]: row for row in decisions}
    assert len(charged) > HOUSEHOLDS * 0.9
    assert all(by_household[hid][3] == amount for hid, amount in charged.items())
    assert {row[4] for row in decisions} == {"normal", "over_income", "high_income", "undeclared"}
    assert all('"rent_base_band"' in row[5] and "家賃" in row[6] for row in decisions)
