"""A demo household's year of charges and payments (調定・収納), with arrears and the actions taken."""

from __future__ import annotations

import calendar
import datetime as dt

from models import ArrearsAction, Charge, InstallmentPlan, Payment
from services.demo.base import add_months, month_end, next_weekday


class BillingMixin:
    """Part of HouseholdMaker: rent and parking charges, payments by method, arrears and their actions."""

    def charges(self, household_id, rent, proxy, rent_transfer, contracts, forced) -> None:
        """調定 of rent and parking for the year of charges; payments, or arrears for about 5% of households."""
        rng = self.rng
        as_of = self.as_of
        move_in = self.current_move_in
        arrears = forced is None and not proxy and self.chance(0.05)
        late_payer = not arrears and self.chance(0.08)
        due_months = [m for m in self.months if month_end(m) < as_of]
        unpaid_from = None
        if arrears:
            count = rng.choices((1, 2, 3, 4, 5, 6, 8, 11), (25, 25, 18, 10, 8, 6, 5, 3))[0]
            unpaid = [m for m in due_months if month_end(m) >= move_in][-count:]
            unpaid_from = unpaid[0] if unpaid else None
            if unpaid_from is not None:
                self.stats["arrears"] += 1
        sources = [("rent", None, rent, 0, rent_transfer is not None)]
        for contract_id, start, fee, reduction, by_transfer in contracts:
            sources.append(("parking", (contract_id, start), fee, reduction, by_transfer))
        unpaid_total = 0
        unpaid_months = 0
        for month in self.months:
            end = month_end(month)
            month_unpaid = 0
            for kind, contract, amount, reduction, by_transfer in sources:
                starts = move_in if contract is None else contract[1]
                if end < starts:
                    continue
                days = calendar.monthrange(month.year, month.month)[1]
                if starts > month:  # 日割り: the month of moving in (SPEC §3.2)
                    amount = amount * ((end - starts).days + 1) // days
                    reduction = reduction * ((end - starts).days + 1) // days
                if amount <= 0:
                    continue
                charge_id = self.writer.add(
                    Charge,
                    household=household_id,
                    kind=kind,
                    period=month,
                    source_key="rent" if contract is None else f"parking:{contract[0]}",
                    parking_contract=None if contract is None else contract[0],
                    amount=amount,
                    reduction_amount=min(reduction, amount),
                    due_date=end,
                )
                payable = amount - min(reduction, amount)
                if payable <= 0:
                    continue
                if unpaid_from is not None and month >= unpaid_from and end < as_of:
                    month_unpaid += payable
                    if self.chance(0.25):  # a part paid at the counter
                        part = payable // 2 // 100 * 100
                        if part > 0:
                            paid_on = self.day_between(
                                end + dt.timedelta(days=5), min(as_of, end + dt.timedelta(days=40))
                            )
                            if paid_on <= as_of:
                                self.writer.add(
                                    Payment,
                                    charge=charge_id,
                                    amount=part,
                                    receipt_date=paid_on,
                                    posted_date=paid_on,
                                    method="counter",
                                )
                                month_unpaid -= part
                    continue
                self.payment(charge_id, payable, month, end, kind, proxy, by_transfer, late_payer)
            if month_unpaid > 0:
                unpaid_total += month_unpaid
                unpaid_months += 1
                self.arrears_actions(household_id, end, unpaid_total, unpaid_months)

    def payment(self, charge_id, payable, month, end, kind, proxy, by_transfer, late_payer) -> None:
        """The payment of one charge by the household's method, when it has been received by as_of."""
        rng = self.rng
        if kind == "rent" and proxy:
            method, receipt, posted = (
                "proxy",
                month.replace(day=25),
                month.replace(day=25) + dt.timedelta(days=3),
            )
        elif by_transfer:
            # 口座振替 on the last day of the month (the next weekday), posted when the result file comes back.
            receipt = next_weekday(end)
            method, posted = "bank_transfer", receipt + dt.timedelta(days=4)
        else:
            method = "payment_slip" if self.chance(0.75) else "counter"
            receipt = self.day_between(month.replace(day=5), end)
            posted = receipt if method == "counter" else receipt + dt.timedelta(days=rng.randint(2, 6))
        if late_payer and self.chance(0.2) and method != "proxy":
            method = "payment_slip"
            receipt = end + dt.timedelta(days=rng.randint(10, 40))
            posted = receipt + dt.timedelta(days=rng.randint(2, 6))
        if posted > self.as_of:
            return  # not yet received or posted
        self.writer.add(
            Payment, charge=charge_id, amount=payable, receipt_date=receipt, posted_date=posted, method=method
        )

    def arrears_actions(self, household_id, due: dt.date, amount_due: int, months_due: int) -> None:
        """督促 after each unpaid month, 催告 from the second, guarantor notice and contacts from the third."""
        add = self.writer.add
        demand_on = (due + dt.timedelta(days=1)).replace(day=20)
        steps = [(demand_on, "demand", "督促状を送付")]
        if months_due >= 2:
            steps.append((demand_on + dt.timedelta(days=15), "urge", "催告書を送付"))
            steps.append((demand_on + dt.timedelta(days=18), "phone", "電話で納付を依頼(留守番電話に伝言)"))
        if months_due == 3:
            steps.append((demand_on + dt.timedelta(days=20), "guarantor_notice", "連帯保証人へ滞納を通知"))
            steps.append((demand_on + dt.timedelta(days=25), "visit", "訪問(不在のため不在票を投函)"))
            steps.append(
                (demand_on + dt.timedelta(days=26), "eviction_list", "滞納3か月: 明渡請求の検討対象")
            )
        if months_due == 4 and self.chance(0.5):
            consult = demand_on + dt.timedelta(days=10)
            steps.append((consult, "consultation", "納付相談(分納を希望)"))
            if consult <= self.as_of:
                months = self.rng.choice((12, 18, 24))
                monthly = -(-amount_due // months // 100) * 100
                add(
                    InstallmentPlan,
                    household=household_id,
                    total_amount=amount_due,
                    monthly_amount=monthly,
                    start_month=add_months(consult.replace(day=1), 1),
                    months=months,
                    acknowledged_on=consult,
                    status="active",
                )
                steps.append((consult, "installment", f"分納誓約({months}回)"))
        for day, kind, note in steps:
            if day <= self.as_of:
                add(
                    ArrearsAction,
                    household=household_id,
                    kind=kind,
                    action_date=day,
                    amount_due=amount_due,
                    months_due=months_due,
                    note=note,
                )
