"""Small factories for tests: the least a valid row needs, overridable by keyword."""

from __future__ import annotations

import datetime as dt
import itertools

from models import Building, Estate, Household, Person, Tenancy, Unit, Ward

_seq = itertools.count(1)


def make_ward(**kw) -> Ward:
    n = next(_seq)
    return Ward.create(**{"code": f"W{n}", "name": f"テスト{n}区", **kw})


def make_estate(ward=None, **kw) -> Estate:
    n = next(_seq)
    return Estate.create(
        **{
            "code": f"E{n:04d}",
            "name": f"市営テスト{n}住宅",
            "ward": ward or make_ward(),
            "address": "川崎市",
            **kw,
        }
    )


def make_building(estate=None, **kw) -> Building:
    n = next(_seq)
    return Building.create(
        **{
            "estate": estate or make_estate(),
            "number": f"{n}",
            "structure": "fire_resistant",
            "year_built": 1990,
            "floors": 5,
            **kw,
        }
    )


def make_unit(building=None, **kw) -> Unit:
    n = next(_seq)
    return Unit.create(
        **{
            "housing_code": f"U{n:06d}",
            "building": building or make_building(),
            "room_number": f"{100 + n}",
            "floor_area": "60.00",
            "floor": 1,
            **kw,
        }
    )


def make_household(**kw) -> Household:
    n = next(_seq)
    return Household.create(**{"household_no": f"H{n:07d}", "first_move_in_date": dt.date(2010, 4, 1), **kw})


def make_person(household=None, **kw) -> Person:
    return Person.create(
        **{
            "household": household or make_household(),
            "name": "川崎 太郎",
            "name_kana": "カワサキ タロウ",
            "kana_key": "カワサキタロウ",
            "birth_date": dt.date(1970, 1, 1),
            "sex": "male",
            "relation": "head",
            "is_head": True,
            "member_from": dt.date(2010, 4, 1),
            **kw,
        }
    )


def make_tenancy(household=None, unit=None, **kw) -> Tenancy:
    return Tenancy.create(
        **{
            "household": household or make_household(),
            "unit": unit or make_unit(),
            "move_in_date": dt.date(2010, 4, 1),
            **kw,
        }
    )


def make_office(**kw):
    """A 公社 office (事務所)."""
    from models import Office

    n = next(_seq)
    return Office.create(**{"code": f"OF{n:04d}", "name": f"テスト事務所{n}", **kw})


def make_account(role: str = "staff", office=None, **kw):
    """A user row without authenticators, for service-level tests (make_user in conftest registers a
    software key and is what web tests need). Unlike make_user, a contractor keeps office=None."""
    from models import User

    n = next(_seq)
    return User.create(
        **{
            "login_id": f"acct-{role}{n}",
            "display_name": f"試験 {role}{n}",
            "role": role,
            "office": office,
            **kw,
        }
    )


def make_assignment(household, user, **kw):
    """A 支援措置 assignment: user may see the protected household (until ended_at is set)."""
    from models import SupportAssignment

    return SupportAssignment.create(**{"household": household, "user": user, **kw})
