"""The notices of the yearly rent run: what each page says (services.notices lays it out and logs it).

- 家賃決定通知書: to every household whose rent was decided, with the computation step by step, the
  rent of this year beside it, the period for an objection (意見申出) and the 教示 (審査請求, 取消訴訟).
- 収入超過者認定通知書: to every household resident the minimum years (3) on 1 April, saying whether it
  is a 収入超過者 (法28条), with its 政令月収 and the 入居収入基準 it was compared with (SPEC §3.5).
- 高額所得者認定通知書: to the households certified 高額所得者 (法29条), with the 政令月収 of each year.

Pages are generated household by household (a run may hold 100,000), in household order.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator

from flask import current_app

from models import Building, Estate, Household, RentDecision, RentRun, Unit
from models.rent_runs import RentRunItem
from rules import certification as certification_rules
from rules import rent as rent_rules
from rules import wareki
from rules.income import age_at
from services import masters, notices
from services import rent_decisions as decisions

CHUNK = 500


def _date(day: dt.date | None) -> str:
    return wareki.to_wareki(day) if day else ""


def _yen(value: int | None) -> str:
    return f"{value:,}円" if value is not None else "—"


def _period(fiscal_year: int) -> str:
    return f"{_date(dt.date(fiscal_year, 4, 1))}から{_date(dt.date(fiscal_year + 1, 3, 31))}まで"


def _dwelling(unit: Unit) -> str:
    """The dwelling by estate, building and room; not the 住宅コード (twelve digits that the My Number guard
    rightly refuses to print on a notice)."""
    building = unit.building
    return f"{building.estate.name} {building.number}号棟 {unit.room_number}号室"


def _appeal_note() -> str:
    city = current_app.config["CITY_NAME"]
    return (
        f"この処分に不服がある場合は、この処分があったことを知った日の翌日から起算して3か月以内に、{city}長に対して"
        "審査請求をすることができます。また、この処分の取消しの訴えは、この処分があったことを知った日の翌日から"
        f"起算して6か月以内に、{city}を被告として({city}長が被告の代表者となります。)提起することができます。"
    )


def _decision_page(kind: str, decision: RentDecision, addressee, title: str, body: list, subject: str):
    """The notice of a decision: its body, then where to object to `subject` until the deadline (when
    there is one) and the note on appeals."""
    if decision.objection_deadline is not None:
        body.append(
            notices.Paragraph(
                f"{subject}について意見がある場合は、{_date(decision.objection_deadline)}までに、"
                "市営住宅管理課へ申し出てください。"
            )
        )
    body.append(notices.Note(_appeal_note()))
    return notices.NoticePage(
        kind,
        decision.household_id,
        addressee,
        title,
        body,
        subject_table="rent_decision",
        subject_id=decision.id,
    )


def _decisions(run: RentRun, kind: str) -> Iterator[tuple[RentDecision, RentRunItem | None]]:
    """The run's approved decisions (with their unit), chunk by chunk in household order."""
    last = 0
    while True:
        query = (
            RentDecision.select(RentDecision, Unit, Building, Estate, Household)
            .join(Unit, on=(RentDecision.unit == Unit.id))
            .join(Building)
            .join(Estate)
            .switch(RentDecision)
            .join(Household, on=(RentDecision.household == Household.id))
            .where(
                (RentDecision.run == run.id)
                & (RentDecision.state == "approved")
                & (RentDecision.household > last)
            )
        )
        if kind == "high_income":
            query = query.where(RentDecision.rent_status == "high_income")
        chunk = list(query.order_by(RentDecision.household).limit(CHUNK))
        if not chunk:
            return
        items = {
            item.decision_id: item
            for item in RentRunItem.select().where(
                (RentRunItem.run == run.id) & RentRunItem.decision.in_([d.id for d in chunk])
            )
        }
        for decision in chunk:
            yield decision, items.get(decision.id)
        last = chunk[-1].household_id


def _address(household: Household):
    try:
        return notices.address_of(household)
    except ValueError:
        current_app.logger.warning("rent run notice: household %s has no address; no page", household.id)
        return None


def pages(run: RentRun, kind: str) -> Iterator[notices.NoticePage]:
    """The pages of one kind of the run's notices."""
    rent_masters = masters.rent_masters(run.fiscal_year)
    for decision, item in _decisions(run, kind):
        household = decision.household
        if kind == "over_income" and (item is None or not item.resident_three_years):
            continue
        addressee = _address(household)
        if addressee is None:
            continue
        if kind == "rent_decision":
            yield rent_decision_page(run, decision, item, addressee)
        elif kind == "over_income":
            yield over_income_page(run, decision, addressee, rent_masters)
        else:
            yield high_income_page(run, decision, addressee, rent_masters)


def rent_decision_page(run, decision: RentDecision, item, addressee) -> notices.NoticePage:
    """家賃決定通知書: the rent of the year, how it was computed, how to object."""
    fy = run.fiscal_year
    label = wareki.fiscal_year_label(fy)
    status = decision.rent_status
    rows = [
        ("住宅", _dwelling(decision.unit)),
        ("適用期間", _period(fy)),
        ("家賃(月額)", _yen(decision.rent)),
        (
            "家賃の区分",
            rent_rules.STATUSES[status]
            + (f"(超過{decision.years_over}年目)" if status == "over_income" else ""),
        ),
    ]
    if decision.seirei_getsushu is not None:
        rows.append(("政令月収", _yen(decision.seirei_getsushu)))
        rows.append(("収入分位", f"{decision.bracket}"))
        rows.append(("本来家賃", _yen(decision.standard_rent)))
    rows.append(("近傍同種家賃", _yen(decision.market_rent)))
    if item is not None and item.previous_rent is not None:
        difference = decision.rent - item.previous_rent
        sign = "+" if difference > 0 else ("−" if difference < 0 else "±")
        rows.append(
            (
                f"{wareki.fiscal_year_label(fy - 1)}の家賃(月額)",
                f"{_yen(item.previous_rent)}(差 {sign}{abs(difference):,}円)",
            )
        )
    # The steps as computed, without the period (in the table above) and the closing "家賃 n円" (the same
    # figure as 家賃(月額)): what remains is the computation itself.
    steps = json.loads(decision.explanation)[1:]
    if steps and steps[-1].startswith("家賃 "):
        steps = steps[:-1]
    body = [
        notices.Paragraph(
            f"{label}の市営住宅の家賃を、公営住宅法及び"
            f"{current_app.config['CITY_NAME']}営住宅条例の規定により、下記のとおり決定しましたので通知します。"
        ),
        notices.Table(rows, heading="決定の内容"),
        notices.Steps(steps, heading="家賃の算定"),
    ]
    if status == "undeclared":
        body.append(
            notices.Paragraph(
                "収入の申告がなかったため、家賃は近傍同種家賃となっています。申告書を提出されたときは、"
                "申告された収入により家賃を決定し直します。"
            )
        )
    return _decision_page(
        "rent_decision",
        decision,
        addressee,
        f"{label} 家賃決定通知書",
        body,
        "この決定の内容(収入の認定を含みます。)",
    )


def _years_resided(household: Household, fiscal_year: int) -> int:
    return age_at(household.first_move_in_date, masters.fiscal_year_start(fiscal_year))


def over_income_page(run, decision: RentDecision, addressee, rent_masters) -> notices.NoticePage:
    """収入超過者認定通知書: whether the household is a 収入超過者 this year, and on what figures."""
    fy = run.fiscal_year
    label = wareki.fiscal_year_label(fy)
    household = decision.household
    years = _years_resided(household, fy)
    limit = rent_masters.income_limit(household.category)
    category = decisions.CATEGORY_LABELS.get(household.category, household.category)
    rows = [
        ("住宅", _dwelling(decision.unit)),
        ("当初入居日", _date(household.first_move_in_date)),
        ("入居年数(4月1日現在)", f"{years}年"),
        (f"入居収入基準({category})", _yen(limit)),
    ]
    if decision.seirei_getsushu is None:
        opening = (
            f"{label}の収入超過者の認定について、収入の申告がなかったため、政令月収による認定を行うことができません"
            "でした。家賃は近傍同種家賃となります。速やかに収入の申告をしてください。"
        )
        rows.append(("政令月収", "申告なし"))
        rows.append(("認定の結果", "認定できません(収入未申告)"))
        steps = ["収入の申告がないため、政令月収を算定できません"]
    else:
        test = certification_rules.over_income(
            decision.seirei_getsushu, household.category, years, rent_masters
        )
        rows.append(
            (f"政令月収({wareki.fiscal_year_label(fy - 1)}の収入申告)", _yen(decision.seirei_getsushu))
        )
        if test.result:
            opening = (
                f"{label}において、あなたの世帯を公営住宅法第28条第1項に規定する収入超過者と認定しましたので"
                "通知します。"
            )
            rows.append(("認定の結果", f"収入超過者に該当します(超過{decision.years_over}年目)"))
        else:
            opening = f"{label}において、あなたの世帯は公営住宅法第28条第1項に規定する収入超過者に該当しませんので通知します。"
            rows.append(("認定の結果", "収入超過者に該当しません"))
        steps = test.explanation
    body = [
        notices.Paragraph(opening),
        notices.Table(rows, heading="認定の内容"),
        notices.Steps(steps, heading="認定の根拠"),
    ]
    if decision.rent_status in ("over_income", "high_income"):
        body.append(
            notices.Paragraph(
                "収入超過者は、公営住宅を明け渡すよう努めなければなりません(公営住宅法第28条第1項)。"
                f"{label}の家賃は、別に送付する家賃決定通知書のとおり {_yen(decision.rent)} です。"
            )
        )
    return _decision_page(
        "over_income", decision, addressee, f"{label} 収入超過者認定通知書", body, "この認定"
    )


def high_income_page(run, decision: RentDecision, addressee, rent_masters) -> notices.NoticePage:
    """高額所得者認定通知書: the 政令月収 of each year against the limit, what follows (法29条)."""
    fy = run.fiscal_year
    label = wareki.fiscal_year_label(fy)
    household = decision.household
    computation = decisions.compute(household, fy, masters=rent_masters)
    test = computation.high_income_test
    rows = [
        ("住宅", _dwelling(decision.unit)),
        ("当初入居日", _date(household.first_move_in_date)),
        ("入居年数(4月1日現在)", f"{computation.years_resided}年"),
        ("高額所得者の基準(政令月収)", _yen(rent_masters.high_income_limit)),
        (f"政令月収({wareki.fiscal_year_label(fy - 1)}の申告)", _yen(decision.seirei_getsushu)),
    ]
    for back, value in enumerate(
        computation.previous[: rent_masters.high_income_consecutive_years - 1], start=2
    ):
        rows.append((f"政令月収({wareki.fiscal_year_label(fy - back)}の申告)", _yen(value)))
    rows.append((f"{label}の家賃(月額)", f"{_yen(decision.rent)}(近傍同種家賃)"))
    body = [
        notices.Paragraph(
            f"{label}において、あなたの世帯を公営住宅法第29条第1項に規定する高額所得者と認定しましたので通知します。"
        ),
        notices.Table(rows, heading="認定の内容"),
        notices.Steps(test.explanation if test else [], heading="認定の根拠"),
        notices.Paragraph(
            "高額所得者に対しては、期限を定めて住宅の明渡しを請求することがあります(公営住宅法第29条第1項)。"
            "明渡しの期限は、請求の日の翌日から起算して6か月を経過した日以後の日となります。"
            "住宅の確保についての相談は、市営住宅管理課で受け付けています。"
        ),
    ]
    return _decision_page(
        "high_income", decision, addressee, f"{label} 高額所得者認定通知書", body, "この認定"
    )
