"""The 公社 contractor portal (/portal, SPEC §5): the estates of the user's own office, nothing else.

Only the role ``contractor`` reaches it, through the policy table (blueprints/policy.py, section
"portal"); city staff never open a portal page and contractors never a staff page. Every query goes
through blueprints/portal/scoped.py, which answers 404 for anything outside the office's estates.
Each area is a nested blueprint ("portal.<area>"), registered below.
"""

from __future__ import annotations

from flask import Blueprint, render_template, url_for
from flask_babel import lazy_gettext as _l
from werkzeug.routing import BuildError

from blueprints.main import navigation as nav
from blueprints.portal import scoped
from models import Household, HouseholdApplication, Inquiry, RepairRequest

bp = Blueprint("portal", __name__, url_prefix="/portal")

PORTAL_HOME = ("portal.home", _l("ホーム"))


@bp.before_request
def require_office():
    """A contractor account without an office (or past its contract) has no portal: 403."""
    scoped.office_or_403()


@bp.app_context_processor
def portal_context() -> dict:
    """What templates/portal/base.html needs: the office (lazy) and the portal's own navigation."""
    return {"portal_office": scoped.office_of, "portal_navigation": portal_navigation}


def portal_navigation() -> list[nav.NavItem]:
    """The portal home, then the contractor entries of the shared navigation table that exist."""
    from flask import current_app, request

    available = {rule.endpoint for rule in current_app.url_map.iter_rules()}
    items = []
    for endpoint, label in (PORTAL_HOME,) + nav.NAVIGATION["contractor"]:
        if endpoint not in available:
            continue
        try:
            url = url_for(endpoint)
        except BuildError:
            continue
        current = request.endpoint == endpoint or (
            endpoint != "portal.home"
            and request.blueprint is not None
            and endpoint.rsplit(".", 1)[0] == request.blueprint
        )
        items.append(nav.NavItem(endpoint, label, url, current))
    return items


@bp.get("/")
def home():
    """The office's desk: its name, how many estates and households it manages, and its open items
    (applications waiting for the city or returned to it, open inquiries, open repair requests)."""
    office = scoped.office_or_403()
    counts = {
        "estates": scoped.estates().count(),
        "households": scoped.households().where(Household.status != "moved_out").count(),
        "submitted": scoped.applications().where(HouseholdApplication.state == "submitted").count(),
        "returned": scoped.applications().where(HouseholdApplication.state == "returned").count(),
        "inquiries": scoped.inquiries().where(Inquiry.status == "open").count(),
        "repairs": scoped.repairs().where(RepairRequest.status.in_(["received", "ordered"])).count(),
    }
    return render_template("portal/home.html", office=office, counts=counts)


# The areas (imported here, after bp exists: each module imports blueprints.portal.scoped).
from blueprints.portal.applications import bp as applications_bp  # noqa: E402
from blueprints.portal.changes import bp as changes_bp  # noqa: E402
from blueprints.portal.households import bp as households_bp  # noqa: E402
from blueprints.portal.inquiries import bp as inquiries_bp  # noqa: E402
from blueprints.portal.procedures import bp as procedures_bp  # noqa: E402

bp.register_blueprint(households_bp)
bp.register_blueprint(procedures_bp)
bp.register_blueprint(applications_bp)
bp.register_blueprint(inquiries_bp)
bp.register_blueprint(changes_bp)
