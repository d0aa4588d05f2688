"""The policy table: every route is in it, nothing stale is, and each role gets exactly what it says."""

from __future__ import annotations

import pytest
from flask import url_for

from blueprints.policy import POLICY, PUBLIC, ROLES, rule_for
from extensions import db
from models import AuditEntry
from tests.conftest import csrf_token_of

IGNORED_METHODS = {"HEAD", "OPTIONS"}
# These end the very session the test walks with; their refusals are tested in test_auth.py.
SIGNS_OUT = {"auth.logout", "auth.sessions.end_all"}


def _routes(app):
    for rule in app.url_map.iter_rules():
        for method in sorted(rule.methods - IGNORED_METHODS):
            yield rule, method


def test_every_route_and_method_is_in_the_policy(app):
    missing = sorted(
        f"{method} {rule.endpoint}"
        for rule, method in _routes(app)
        if rule_for(rule.endpoint, method) is None
    )
    assert missing == [], f"routes missing from blueprints/policy.py: {missing}"


def test_the_policy_names_only_real_routes(app):
    real = {(rule.endpoint, method) for rule, method in _routes(app)}
    stale = sorted(f"{m} {e}" for e, methods in POLICY.items() for m in methods if (e, m) not in real)
    assert stale == []


def _sample(converter) -> object:
    return (
        999_999
        if type(converter).__name__ in ("IntegerConverter", "NumberConverter", "RecordIdConverter")
        else "x"
    )


@pytest.mark.parametrize("role", ROLES)
def test_each_role_is_refused_exactly_where_the_policy_says(request, app, role):
    """Real requests as each role: a role outside an endpoint's rule gets 403 and an access.denied
    entry; a role inside it is never refused by the policy (the view may still answer 4xx)."""
    client = request.getfixturevalue(f"{role}_client")
    token = csrf_token_of(client)
    checked = 0
    for rule, method in _routes(app):
        allowed = rule_for(rule.endpoint, method)
        if allowed == PUBLIC or rule.endpoint in SIGNS_OUT:
            continue
        with app.test_request_context():
            url = url_for(rule.endpoint, **{name: _sample(c) for name, c in rule._converters.items()})
        with app.app_context(), db.connection_context():
            before = AuditEntry.select().where(AuditEntry.action == "access.denied").count()
        response = client.open(url, method=method, headers={"X-CSRFToken": token})
        with app.app_context(), db.connection_context():
            denied = AuditEntry.select().where(AuditEntry.action == "access.denied").count() - before
        if role in allowed:
            assert denied == 0, (role, method, rule.endpoint)
        else:
            assert (response.status_code, denied) == (403, 1), (
                role,
                method,
                rule.endpoint,
                response.status_code,
            )
        checked += 1
    assert checked >= 10  # the walk reached the signed-in endpoints
