"""Navigation per role: one table, filtered by the endpoints the app actually has, so it grows with the screens."""

from __future__ import annotations

from typing import NamedTuple

from flask import current_app, request, url_for
from flask_babel import lazy_gettext as _l
from werkzeug.routing import BuildError

ROLES = ("staff", "officer", "contractor", "auditor", "sysadmin")

ROLE_LABELS = {
    # i18n: role names as shown beside the user's name in the header
    "staff": _l("担当職員"),
    "officer": _l("保護責任者"),
    "contractor": _l("公社職員"),
    "auditor": _l("監査"),
    "sysadmin": _l("運用保守"),
}

HOME = ("main.home", _l("ホーム"))

# City staff screens (SPEC §3, §7-§10): the whole tenant file within the seven purposes.
_STAFF = (
    ("staff.households.index", _l("世帯・入居者")),
    ("staff.estates.index", _l("団地・住戸")),
    ("staff.estates.vacancies", _l("空き住戸")),
    ("staff.parking.index", _l("駐車場")),
    ("staff.parking.inspections", _l("車検切れ")),
    ("staff.declarations.index", _l("収入申告")),
    ("staff.rent.index", _l("家賃決定")),
    ("staff.rent_runs.index", _l("年次家賃決定")),
    ("staff.rent_quote.quote", _l("家賃試算")),
    ("staff.billing.index", _l("調定・収納")),
    ("staff.arrears.index", _l("滞納整理")),
    ("staff.certifications.evictions_index", _l("明渡請求")),
    ("staff.matching.index", _l("庁内連携照合")),
    ("staff.inquiries.index", _l("問合せ")),
    ("staff.disclosure.index", _l("開示請求")),
    ("staff.approvals.index", _l("承認待ち")),
    ("staff.applications.index", _l("公社の届出・申請")),
    ("staff.notices.index", _l("発行帳票")),
    ("staff.masters.index", _l("マスタ")),
)

# The assessment's promises (SPEC §11): officers review them, auditors read them.
_AUDIT_READ = (
    ("audit.trail.index", _l("監査証跡")),
    ("audit.reports.index", _l("監査レポート")),
    ("audit.promises.index", _l("評価書の対策状況")),
)
_OFFICER_ONLY = (
    ("audit.training.index", _l("研修")),
    ("audit.incidents.index", _l("事故記録")),
    ("staff.offices.index", _l("公社事務所と担当区")),
)

# The 公社 portal (SPEC §5): the estates of the user's own office only.
_CONTRACTOR = (
    ("portal.home", _l("事務所の窓口")),
    ("portal.households.index", _l("世帯照会")),
    ("portal.procedures.index", _l("入退去手続")),
    ("portal.applications.index", _l("届出・申請")),
    ("portal.income.index", _l("収入申告")),
    ("portal.parking.index", _l("駐車場")),
    ("portal.transfers.index", _l("口座振替")),
    ("portal.inquiries.index", _l("問合せ")),
    ("portal.changes.index", _l("入力の状況")),
)

# Every signed-in user manages their own authenticators and sessions (SECURITY.md).
_ACCOUNT = (("auth.authenticators.index", _l("認証器とログイン状況")),)

# role → entries after the home link, in display order. sysadmin opens no screen with personal data.
NAVIGATION: dict[str, tuple[tuple[str, object], ...]] = {
    "staff": _STAFF + _ACCOUNT,
    "officer": _STAFF + _AUDIT_READ + _OFFICER_ONLY + _ACCOUNT,
    "contractor": _CONTRACTOR + _ACCOUNT,
    "auditor": _AUDIT_READ + _ACCOUNT,
    "sysadmin": _ACCOUNT,
}


class NavItem(NamedTuple):
    """One link of the navigation, ready for the template."""

    endpoint: str
    label: object
    url: str
    current: bool


def role_of(user) -> str | None:
    """The role name of an authenticated user (a string or an enum with a string value), else None."""
    if user is None or not getattr(user, "is_authenticated", False):
        return None
    role = getattr(user, "role", None)
    role = getattr(role, "value", role)
    return role if role in NAVIGATION else None


def role_label(user):
    """The display name of the user's role, or an empty string."""
    role = role_of(user)
    return ROLE_LABELS[role] if role else ""


def registered_endpoints() -> set[str]:
    """Endpoints that have a GET route in the app."""
    return {rule.endpoint for rule in current_app.url_map.iter_rules() if "GET" in (rule.methods or ())}


def has_endpoint(endpoint: str) -> bool:
    """True when the app has a route for endpoint (templates show optional links only when it exists)."""
    return any(rule.endpoint == endpoint for rule in current_app.url_map.iter_rules())


def items_for(user) -> list[NavItem]:
    """The home link, then the user's role entries whose endpoints exist and need no URL arguments."""
    role = role_of(user)
    entries = (HOME,) + (NAVIGATION[role] if role else ())
    available = registered_endpoints()
    current = request.endpoint if request else None
    items = []
    for endpoint, label in entries:
        if endpoint not in available:
            continue
        try:
            url = url_for(endpoint)
        except BuildError:
            continue
        items.append(NavItem(endpoint, label, url, endpoint == current))
    return items


def current_user_or_none():
    """Flask-Login's current user once login exists; None before (no login manager on the app)."""
    if not hasattr(current_app, "login_manager"):
        return None
    from flask_login import current_user

    return current_user._get_current_object()


def navigation() -> list[NavItem]:
    """The navigation for whoever makes this request (called from the layout, so error pages can skip it)."""
    return items_for(current_user_or_none())
