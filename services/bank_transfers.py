"""口座振替登録: register an account for rent or parking, ending the current one in the same transaction.

    transfer = bank_transfers.register(household, values, seen="12-3", **audit_context())

Ending a registration without a replacement (口座振替の廃止) is a plain versioned update of its
valid_to (services.editing.update, action "bank_transfer.end").

One current registration per household and purpose (the partial unique index
bank_transfer_one_current). Registering a new one ends the current one the day before the new one
starts, in the same transaction: the history of accounts is kept, nothing is overwritten. ``seen`` is
the current registration the person saw when opening the form ("<id>-<version>", "0" for none): when
someone else registered or ended one in between, Superseded is raised (the screen answers 409 with
both), never a silent replacement.

Audit entries are filed under the household ("bank_transfer.column" fields) so that the section's
history shows them. The account number is C2 and the screens show only its last 3 digits
(SECURITY.md, field scope): the trail keeps it masked the same way, so the history never shows it in
full either.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

from flask_babel import lazy_gettext as _l
from peewee import IntegrityError

from extensions import db
from models import BankTransfer, Household
from models.base import ConflictError
from rules import wareki
from services import audit
from services.editing import RuleViolation, history_value
from services.household_file import mask_account

COLUMNS = (
    "purpose",
    "bank_code",
    "branch_code",
    "account_type",
    "account_number",
    "holder_kana",
    "valid_from",
)
MASKED = {"account_number": mask_account}


class Superseded(Exception):
    """The current registration of the purpose is no longer the one the person saw."""

    def __init__(self, current: BankTransfer | None):
        super().__init__("the current bank transfer registration changed")
        self.current = current


def current_of(household_id: int, purpose: str) -> BankTransfer | None:
    """The registration in force (valid_to not set) of a household for a purpose, or None."""
    return (
        BankTransfer.select()
        .where(
            (BankTransfer.household == household_id)
            & (BankTransfer.purpose == purpose)
            & BankTransfer.valid_to.is_null()
        )
        .first()
    )


def seen_token(transfer: BankTransfer | None) -> str:
    """What the form remembers of the current registration: "<id>-<version>", or "0" for none."""
    return f"{transfer.id}-{transfer.version}" if transfer is not None else "0"


def _shown(column: str, value):
    value = history_value(value)
    return MASKED[column](value) if column in MASKED and value else value


def _change(column: str, before, after) -> tuple[str, list]:
    return f"bank_transfer.{column}", [_shown(column, before), _shown(column, after)]


def _last_end(household_id: int, purpose: str) -> dt.date | None:
    return (
        BankTransfer.select(BankTransfer.valid_to)
        .where(
            (BankTransfer.household == household_id)
            & (BankTransfer.purpose == purpose)
            & BankTransfer.valid_to.is_null(False)
        )
        .order_by(BankTransfer.valid_to.desc())
        .limit(1)
        .scalar()
    )


def register(
    household: Household,
    values: Mapping,
    *,
    seen: str,
    actor=None,
    session_ref: str | None = None,
    ip: str | None = None,
) -> BankTransfer:
    """Register an account for values["purpose"] from values["valid_from"], ending the current one.

    values: the COLUMNS, already validated (codes in the bank list, number 7 digits, holder in
    全銀 half-width kana). Superseded when the current registration is not the one seen; RuleViolation
    when the start date does not follow the current (or last ended) registration's.
    """
    context = {"actor": actor, "session_ref": session_ref, "ip": ip}
    purpose = values["purpose"]
    valid_from = values["valid_from"]
    try:
        with db.atomic():
            current = current_of(household.id, purpose)
            if seen_token(current) != seen:
                raise Superseded(current)
            if current is not None:
                if valid_from <= current.valid_from:
                    raise RuleViolation(
                        _l(
                            "開始日は現在の登録の開始日（%(date)s）より後の日付にしてください。",
                            date=wareki.to_wareki(current.valid_from),
                        ),
                        "valid_from",
                    )
                end = valid_from - dt.timedelta(days=1)
                current.valid_to = end
                current.save_versioned(current.version, only=[BankTransfer.valid_to])
                audit.record(
                    "bank_transfer.end",
                    target_table="household",
                    target_ids=[household.id],
                    fields=["bank_transfer.valid_to"],
                    changes=dict([_change("valid_to", None, end)]),
                    reason=f"bank_transfer {current.id}",
                    **context,
                )
            else:
                last_end = _last_end(household.id, purpose)
                if last_end is not None and valid_from <= last_end:
                    raise RuleViolation(
                        _l(
                            "開始日は前の登録の終了日（%(date)s）より後の日付にしてください。",
                            date=wareki.to_wareki(last_end),
                        ),
                        "valid_from",
                    )
            transfer = BankTransfer.create(household=household.id, **{c: values[c] for c in COLUMNS})
            audit.record(
                "bank_transfer.register",
                target_table="household",
                target_ids=[household.id],
                fields=[f"bank_transfer.{c}" for c in COLUMNS],
                changes=dict(_change(c, None, values[c]) for c in COLUMNS),
                reason=f"bank_transfer {transfer.id}",
                **context,
            )
    except (IntegrityError, ConflictError):
        # Someone registered or ended one for the same purpose at the same moment (the unique index or
        # the version refused the second writer): nothing of this one was written.
        raise Superseded(current_of(household.id, purpose)) from None
    return transfer
