"""City staff screens (/staff): one module per area, each a nested blueprint under "staff"."""

from __future__ import annotations

from flask import Blueprint

from blueprints.staff.household import bp as household_bp
from blueprints.staff.households import bp as households_bp
from blueprints.staff.persons import bp as persons_bp

bp = Blueprint("staff", __name__, url_prefix="/staff")
bp.register_blueprint(households_bp)
bp.register_blueprint(household_bp)
bp.register_blueprint(persons_bp)
