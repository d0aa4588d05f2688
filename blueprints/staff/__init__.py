"""City staff screens (/staff): one module per area, each a nested blueprint under "staff"."""

from __future__ import annotations

from flask import Blueprint

from blueprints.staff.applications import bp as applications_bp
from blueprints.staff.approvals import bp as approvals_bp
from blueprints.staff.arrears import bp as arrears_bp
from blueprints.staff.billing import bp as billing_bp
from blueprints.staff.certifications import bp as certifications_bp
from blueprints.staff.declarations import bp as declarations_bp
from blueprints.staff.estates import bp as estates_bp
from blueprints.staff.events import bp as events_bp
from blueprints.staff.guarantors import bp as guarantors_bp
from blueprints.staff.household import bp as household_bp
from blueprints.staff.households import bp as households_bp
from blueprints.staff.income import bp as income_bp
from blueprints.staff.jobs import bp as jobs_bp
from blueprints.staff.lookup import bp as lookup_bp
from blueprints.staff.masters import bp as masters_bp
from blueprints.staff.members import bp as members_bp
from blueprints.staff.notices import bp as notices_bp
from blueprints.staff.offices import bp as offices_bp
from blueprints.staff.parking import bp as parking_bp
from blueprints.staff.persons import bp as persons_bp
from blueprints.staff.rent_quote import bp as rent_quote_bp
from blueprints.staff.rent_runs import bp as rent_runs_bp
from blueprints.staff.transfers import bp as transfers_bp

bp = Blueprint("staff", __name__, url_prefix="/staff")
bp.register_blueprint(households_bp)
bp.register_blueprint(household_bp)
bp.register_blueprint(persons_bp)
bp.register_blueprint(lookup_bp)
bp.register_blueprint(members_bp)
bp.register_blueprint(events_bp)
bp.register_blueprint(guarantors_bp)
bp.register_blueprint(transfers_bp)
bp.register_blueprint(estates_bp)
bp.register_blueprint(parking_bp)
bp.register_blueprint(income_bp)
bp.register_blueprint(billing_bp)
bp.register_blueprint(arrears_bp)
bp.register_blueprint(declarations_bp)
bp.register_blueprint(certifications_bp)
bp.register_blueprint(jobs_bp)
bp.register_blueprint(notices_bp)
bp.register_blueprint(offices_bp)
bp.register_blueprint(applications_bp)
bp.register_blueprint(masters_bp)
bp.register_blueprint(approvals_bp)
bp.register_blueprint(rent_quote_bp)
bp.register_blueprint(rent_runs_bp)
