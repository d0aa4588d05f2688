"""Numbers in URLs from the attacker's side: every route with a number in its path, given numbers no
record has (0, a huge id, one past what the database can hold, a year far away), answers 4xx — never 500."""

from __future__ import annotations

import pytest

NUMBERS = (0, 99_999_999, 2**63 - 1, 2**63, 10**30)


def _numeric_rules(app):
    for rule in app.url_map.iter_rules():
        ints = [name for name, conv in rule._converters.items() if type(conv).__name__ == "RecordIdConverter"]
        others = [name for name in rule.arguments if name not in ints]
        if ints and not others and "GET" in rule.methods and not rule.endpoint.startswith("static"):
            yield rule, ints


def _url(rule, names, value) -> str:
    path = rule.rule
    for name in names:
        path = path.replace(f"<int:{name}>", str(value))
    return path


@pytest.mark.parametrize("role", ["officer", "contractor"])
def test_unknown_numbers_in_any_route_never_give_a_server_error(app, make_user, login, role):
    client = app.test_client()
    login(client, make_user(role))
    rules = list(_numeric_rules(app))
    assert len(rules) > 40  # the household file, estates, parking, rent, portal … all take ids
    failures = []
    for rule, names in rules:
        for value in NUMBERS:
            url = _url(rule, names, value)
            status = client.get(url).status_code
            if status >= 500:
                failures.append((url, status))
    assert failures == []


def test_a_number_past_a_64_bit_id_matches_no_route(app):
    adapter = app.url_map.bind("localhost")
    assert adapter.match("/staff/household/9223372036854775807")[0] == "staff.household.show"
    with pytest.raises(Exception) as caught:
        adapter.match("/staff/household/9223372036854775808")
    assert getattr(caught.value, "code", None) == 404
