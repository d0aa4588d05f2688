"""Authorization: one policy table (endpoint × method → who may), enforced before every request.

Deny by default: an endpoint missing from the table is refused for everyone (and a test walks
app.url_map and fails on it). PUBLIC endpoints need no login; every other entry names the roles
allowed. The role is read from the database on each request (no role cached in the cookie), so a
change of role or a deactivation applies at the next request.
"""

from __future__ import annotations

from collections.abc import Iterable

from flask import abort, current_app, redirect, request, url_for

PUBLIC = "public"
ROLES = ("staff", "officer", "contractor", "auditor", "sysadmin")
ALL_ROLES = frozenset(ROLES)
CITY = frozenset({"staff", "officer"})  # the whole tenant file within the seven purposes
OFFICER = frozenset({"officer"})
AUDIT_READERS = frozenset({"officer", "auditor"})
CONTRACTOR = frozenset({"contractor"})

POLICY: dict[str, dict[str, object]] = {}


def allow(endpoint: str, methods: Iterable[str], who) -> None:
    """Declare who may call an endpoint with the given methods (PUBLIC or a set of roles)."""
    rules = POLICY.setdefault(endpoint, {})
    for method in methods:
        if method in rules:
            raise ValueError(f"{endpoint} {method} is declared twice in the policy")
        rules[method] = who if who == PUBLIC else frozenset(who)


# The shell.
allow("static", ["GET"], PUBLIC)
allow("main.health", ["GET"], PUBLIC)
allow("main.language", ["POST"], PUBLIC)
allow("main.home", ["GET"], ALL_ROLES)

# Authentication: the ceremonies and the pages around them are public (the ceremony is the check);
# everything about one's own account needs a signed-in user; ending others' sessions is for officers.
allow("auth.login", ["GET"], PUBLIC)
allow("auth.login_options", ["POST"], PUBLIC)
allow("auth.login_verify", ["POST"], PUBLIC)
allow("auth.enroll", ["GET"], PUBLIC)
allow("auth.enroll_options", ["POST"], PUBLIC)
allow("auth.enroll_verify", ["POST"], PUBLIC)
allow("auth.logout", ["POST"], PUBLIC)
allow("auth.logged_out", ["GET"], PUBLIC)
allow("auth.step_up", ["GET"], ALL_ROLES)
allow("auth.step_up_options", ["POST"], ALL_ROLES)
allow("auth.step_up_verify", ["POST"], ALL_ROLES)
allow("auth.authenticators.index", ["GET"], ALL_ROLES)
allow("auth.authenticators.add_options", ["POST"], ALL_ROLES)
allow("auth.authenticators.add_verify", ["POST"], ALL_ROLES)
allow("auth.authenticators.rename", ["POST"], ALL_ROLES)
allow("auth.authenticators.remove", ["POST"], ALL_ROLES)
allow("auth.sessions.index", ["GET"], ALL_ROLES)
allow("auth.sessions.end", ["POST"], ALL_ROLES)
allow("auth.sessions.end_others", ["POST"], ALL_ROLES)
allow("auth.sessions.end_all", ["POST"], ALL_ROLES)
allow("auth.sessions.all_sessions", ["GET"], OFFICER)
allow("auth.sessions.end_user", ["POST"], OFFICER)

# City staff screens.

# Finding households
allow("staff.households.index", ["GET", "POST"], CITY)
allow("staff.persons.my_number", ["GET"], CITY)
allow("staff.persons.reveal_my_number", ["POST"], CITY)

# The household file
allow("staff.household.show", ["GET"], CITY)
allow("staff.household.section", ["GET"], CITY)
allow("staff.household.edit", ["GET", "POST"], CITY)
allow("staff.lookup.postal", ["POST"], CITY)

# Members (世帯員)
# -- members --
allow("staff.members.edit", ["GET", "POST"], CITY)
allow("staff.members.welfare_new", ["GET", "POST"], CITY)
allow("staff.members.welfare_edit", ["GET", "POST"], CITY)
allow("staff.members.welfare_end", ["GET", "POST"], CITY)
allow("staff.members.my_number", ["GET", "POST"], CITY)

# Household changes (世帯の異動)
# -- events --
allow("staff.events.join", ["GET", "POST"], CITY)
allow("staff.events.birth", ["GET", "POST"], CITY)
allow("staff.events.leave", ["GET", "POST"], CITY)
allow("staff.events.death", ["GET", "POST"], CITY)
allow("staff.events.succession", ["GET", "POST"], CITY)
allow("staff.events.transfer", ["GET", "POST"], CITY)
allow("staff.events.transfer_units", ["GET"], CITY)
allow("staff.events.move_out", ["GET", "POST"], CITY)
allow("staff.events.move_out_confirm", ["POST"], CITY)

# Guarantors and emergency contacts
# -- guarantors --
allow("staff.guarantors.add", ["GET", "POST"], CITY)
allow("staff.guarantors.edit", ["GET", "POST"], CITY)
allow("staff.guarantors.dismiss", ["GET", "POST"], CITY)

# Bank-transfer registrations and the bank list
# -- transfers --
allow("staff.transfers.register", ["GET", "POST"], CITY)
allow("staff.transfers.end", ["GET", "POST"], CITY)
allow("staff.transfers.bank_search", ["POST"], CITY)
allow("staff.transfers.branch_search", ["POST"], CITY)

# Estates, buildings, units
# -- estates --
allow("staff.estates.index", ["GET"], CITY)
allow("staff.estates.vacancies", ["GET"], CITY)
allow("staff.estates.show", ["GET"], CITY)
allow("staff.estates.section", ["GET"], CITY)
allow("staff.estates.edit", ["GET", "POST"], CITY)
allow("staff.estates.edit_building", ["GET", "POST"], CITY)
allow("staff.estates.unit", ["GET"], CITY)
allow("staff.estates.unit_section", ["GET"], CITY)
allow("staff.estates.edit_unit", ["GET", "POST"], CITY)
allow("staff.estates.add_figure", ["GET", "POST"], CITY)
allow("staff.estates.edit_figure", ["GET", "POST"], CITY)

# Parking
# -- parking --
allow("staff.parking.index", ["GET"], CITY)
allow("staff.parking.inspections", ["GET"], CITY)
allow("staff.parking.new_lot", ["GET", "POST"], CITY)
allow("staff.parking.lot", ["GET"], CITY)
allow("staff.parking.edit_lot", ["GET", "POST"], CITY)
allow("staff.parking.add_spaces", ["GET", "POST"], CITY)
allow("staff.parking.edit_space", ["GET", "POST"], CITY)
allow("staff.parking.new_contract", ["GET", "POST"], CITY)
allow("staff.parking.edit_contract", ["GET", "POST"], CITY)
allow("staff.parking.end_contract", ["GET", "POST"], CITY)
allow("staff.parking.new_vehicle", ["GET", "POST"], CITY)
allow("staff.parking.edit_vehicle", ["GET", "POST"], CITY)
allow("staff.parking.inspection", ["GET", "POST"], CITY)
allow("staff.parking.end_vehicle", ["GET", "POST"], CITY)

# Income declarations (収入申告) entered by staff
# -- income --
allow("staff.income.new", ["GET", "POST"], CITY)
allow("staff.income.edit", ["GET", "POST"], CITY)

# Reductions, charges and payments (減免・調定・収納)
# -- billing --
allow("staff.billing.reduction_new", ["GET", "POST"], CITY)
allow("staff.billing.reduction_edit", ["GET", "POST"], CITY)
allow("staff.billing.reduction_decide", ["GET", "POST"], OFFICER)  # 減免の承認・却下: an officer's decision
allow("staff.billing.reduction_end", ["GET", "POST"], OFFICER)
allow("staff.billing.charge_correct", ["GET", "POST"], CITY)
allow("staff.billing.charge_cancel", ["GET", "POST"], CITY)
allow("staff.billing.payment_new", ["GET", "POST"], CITY)
allow("staff.billing.payment_reverse", ["GET", "POST"], CITY)

# Arrears actions and inquiries (滞納対応・問合せ)
# -- arrears --
allow("staff.arrears.action_new", ["GET", "POST"], CITY)
allow("staff.arrears.plan_new", ["GET", "POST"], CITY)
allow("staff.arrears.plan_edit", ["GET", "POST"], CITY)
allow("staff.arrears.plan_status", ["GET", "POST"], CITY)
allow("staff.arrears.inquiry_new", ["GET", "POST"], CITY)
allow("staff.arrears.inquiry_edit", ["GET", "POST"], CITY)
allow("staff.arrears.inquiry_close", ["GET", "POST"], CITY)

# -- portal core --
# The 公社 portal: contractors only (staff never open a portal page; contractors never a staff page).
allow("portal.home", ["GET"], CONTRACTOR)
allow("portal.households.index", ["GET", "POST"], CONTRACTOR)
allow("portal.households.show", ["GET"], CONTRACTOR)
allow("portal.procedures.index", ["GET"], CONTRACTOR)
allow("portal.procedures.new", ["GET", "POST"], CONTRACTOR)
allow("portal.procedures.edit", ["GET", "POST"], CONTRACTOR)
allow("portal.applications.index", ["GET"], CONTRACTOR)
allow("portal.applications.new", ["GET", "POST"], CONTRACTOR)
allow("portal.applications.show", ["GET"], CONTRACTOR)
allow("portal.applications.edit", ["GET", "POST"], CONTRACTOR)
allow("portal.applications.withdraw", ["POST"], CONTRACTOR)
allow("portal.inquiries.index", ["GET"], CONTRACTOR)
allow("portal.inquiries.repairs_index", ["GET"], CONTRACTOR)
allow("portal.inquiries.new", ["GET", "POST"], CONTRACTOR)
allow("portal.inquiries.edit", ["GET", "POST"], CONTRACTOR)
allow("portal.inquiries.repair_new", ["GET", "POST"], CONTRACTOR)
allow("portal.inquiries.repair_edit", ["GET", "POST"], CONTRACTOR)
# The city's side of the portal: 公社 offices and their wards (officers), applications decided by staff.
allow("staff.offices.index", ["GET"], OFFICER)
allow("staff.offices.ward", ["GET", "POST"], OFFICER)
allow("staff.applications.index", ["GET"], CITY)
allow("staff.applications.show", ["GET", "POST"], CITY)


# Background jobs and the notices issued (一括処理・発行帳票)
# -- notices --
allow("staff.jobs.index", ["GET"], CITY)
allow("staff.jobs.show", ["GET"], CITY)
allow("staff.notices.index", ["GET"], CITY)
allow("staff.notices.download", ["GET"], CITY)  # audited: the PDF holds names and addresses

# -- certifications --
# Certification follow-up: certified households, 明渡請求 (approval, extension decision and withdrawal are
# an officer's), 意見申出 and 更正 (decided by an officer).
allow("staff.certifications.index", ["GET"], CITY)
allow("staff.certifications.certified", ["GET"], CITY)
allow("staff.certifications.evictions_index", ["GET"], CITY)
allow("staff.certifications.eviction_new", ["GET", "POST"], CITY)
allow("staff.certifications.eviction", ["GET"], CITY)
allow("staff.certifications.post_damages", ["POST"], CITY)
allow("staff.certifications.eviction_approve", ["POST"], OFFICER)
allow("staff.certifications.eviction_extension", ["POST"], CITY)
allow("staff.certifications.eviction_extension_decide", ["POST"], OFFICER)
allow("staff.certifications.eviction_vacate", ["POST"], CITY)
allow("staff.certifications.eviction_withdraw", ["POST"], OFFICER)
allow("staff.certifications.reviews_index", ["GET"], CITY)
allow("staff.certifications.objection_new", ["GET", "POST"], CITY)
allow("staff.certifications.correction_new", ["GET", "POST"], CITY)
allow("staff.certifications.review", ["GET"], CITY)
allow("staff.certifications.review_decide", ["POST"], OFFICER)
allow("staff.certifications.review_withdraw", ["POST"], CITY)

# The yearly 収入申告 cycle: sending the forms, following up, reminders (routine staff work)
# -- declarations --
allow("staff.declarations.index", ["GET"], CITY)
allow("staff.declarations.year", ["GET"], CITY)
allow("staff.declarations.start", ["GET", "POST"], CITY)
allow("staff.declarations.not_submitted", ["POST"], CITY)
allow("staff.declarations.reminders", ["GET", "POST"], CITY)
allow("staff.declarations.status", ["GET", "POST"], CITY)


# Masters (マスタ): staff read them; an officer adds, edits or deletes a version not yet in force.
# -- masters --
allow("staff.masters.index", ["GET"], CITY)
allow("staff.masters.parameter", ["GET"], CITY)
allow("staff.masters.table", ["GET"], CITY)
allow("staff.masters.parameter_new", ["GET", "POST"], OFFICER)
allow("staff.masters.parameter_edit", ["GET", "POST"], OFFICER)
allow("staff.masters.parameter_delete", ["GET", "POST"], OFFICER)
allow("staff.masters.table_new", ["GET", "POST"], OFFICER)
allow("staff.masters.table_edit", ["GET", "POST"], OFFICER)
allow("staff.masters.table_delete", ["GET", "POST"], OFFICER)

# Renewal of a granted reduction (減免の更新): staff register it, an officer decides it (reduction_decide).
# -- reductions --
allow("staff.billing.reduction_renew", ["GET", "POST"], CITY)


# -- portal changes --
# The 公社's changes waiting for approval: city staff review them (an agent opens none: 403); the
# agent enters and follows its own office's changes on the portal.
allow("staff.approvals.index", ["GET"], CITY)
allow("staff.approvals.show", ["GET"], CITY)
allow("staff.approvals.approve", ["POST"], CITY)
allow("staff.approvals.return_", ["POST"], CITY)
allow("portal.changes.index", ["GET"], CONTRACTOR)
allow("portal.changes.show", ["GET"], CONTRACTOR)
allow("portal.changes.withdraw", ["POST"], CONTRACTOR)
allow("portal.changes.resubmit", ["GET", "POST"], CONTRACTOR)
allow("portal.changes.household", ["GET"], CONTRACTOR)
allow("portal.changes.section", ["GET"], CONTRACTOR)
allow("portal.changes.inspection", ["GET", "POST"], CONTRACTOR)
allow("portal.changes.vehicle_edit", ["GET", "POST"], CONTRACTOR)
allow("portal.changes.vehicle_end", ["GET", "POST"], CONTRACTOR)
allow("portal.changes.vehicle_new", ["GET", "POST"], CONTRACTOR)
allow("portal.changes.contract_new", ["GET", "POST"], CONTRACTOR)
allow("portal.changes.transfer_new", ["GET", "POST"], CONTRACTOR)
allow("portal.changes.bank_search", ["POST"], CONTRACTOR)
allow("portal.changes.branch_search", ["POST"], CONTRACTOR)
allow("portal.changes.income_new", ["GET", "POST"], CONTRACTOR)


# -- rent rules --
# 家賃試算: city staff answer "what would my rent be?"; nothing is stored.
allow("staff.rent_quote.quote", ["GET", "POST"], CITY)

# -- rent run --
# The yearly rent run (年次家賃決定): city staff start and follow it; only an officer approves, and never
# the person who started it (services.rent_run checks the four-eyes rule).
allow("staff.rent_runs.index", ["GET"], CITY)
allow("staff.rent_runs.start", ["POST"], CITY)
allow("staff.rent_runs.show", ["GET"], CITY)
allow("staff.rent_runs.progress", ["GET"], CITY)
allow("staff.rent_runs.approve", ["POST"], OFFICER)
allow("staff.rent_runs.cancel", ["POST"], CITY)


def rule_for(endpoint: str | None, method: str):
    """What the table says for a request: PUBLIC, a set of roles, or None (not declared → denied)."""
    if endpoint is None:
        return PUBLIC  # no route matched: the 404/405 handlers answer, nothing is disclosed
    method = "GET" if method in ("HEAD", "OPTIONS") else method
    return POLICY.get(endpoint, {}).get(method)


def current_identity():
    """The signed-in user (None when anonymous). Provided by the authentication layer."""
    from flask_login import current_user

    return current_user if current_user and current_user.is_authenticated else None


def enforce():
    """before_request: allow, send an anonymous user to login, or refuse (403) — audited."""
    rule = rule_for(request.endpoint, request.method)
    if rule == PUBLIC:
        return None
    user = current_identity()
    if rule is None:
        current_app.logger.error(
            "endpoint %s %s is not in the policy table", request.endpoint, request.method
        )
        _audit_denied(user, "not in policy")
        abort(403)
    if user is None:
        if request.headers.get("HX-Request") or request.accept_mimetypes.best == "application/json":
            abort(401)
        return redirect(url_for("auth.login"), code=303)
    if user.role not in rule:
        _audit_denied(user, "role")
        abort(403)
    return None


def _audit_denied(user, reason: str) -> None:
    from blueprints.context import audit_context
    from services import audit

    audit.record(
        "access.denied",
        outcome="denied",
        reason=f"{reason}: {request.method} {request.endpoint}",
        **audit_context(),
    )
