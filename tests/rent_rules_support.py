"""The seeded masters (migrations/0002) loaded once per test module, for the pure rules' table tests."""

from __future__ import annotations

import datetime as dt
import shutil
from dataclasses import dataclass

from app import create_app
from extensions import db
from rules.damages import DamagesMasters
from rules.income import IncomeMasters
from rules.rent import RentMasters
from tests.conftest import test_config


@dataclass(frozen=True)
class Seeded:
    rent: RentMasters  # fiscal year 2026
    income_2025: IncomeMasters
    income_2024: IncomeMasters
    damages: DamagesMasters


def load_seeded(migrated_template, base) -> Seeded:
    """Read the masters of a freshly migrated database (a copy of the session's template)."""
    from services.masters import damages_masters, income_masters, rent_masters

    shutil.copy(migrated_template, base / "test.db")
    app = create_app(test_config(base))
    with app.app_context():
        db.connect(reuse_if_open=True)
        try:
            return Seeded(
                rent=rent_masters(2026),
                income_2025=income_masters(2025),
                income_2024=income_masters(2024),
                damages=damages_masters(dt.date(2030, 4, 1)),
            )
        finally:
            db.close()
