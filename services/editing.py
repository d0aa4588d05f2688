"""Writes to the tenant file: every create, update and end of a record, with its audit entry.

    changes = editing.update(instance, expected_version, {"phone": "0441234567"},
                             household_id=7, action="person.update", **audit_context())

One transaction holds the business change and its audit entry (both or neither). Updates are
optimistic: the UPDATE names the version the editor read, and ConflictError is raised when someone
saved in between (the screen answers 409 with both versions, never a silent overwrite).

The audit entry is household-centred when the record belongs to a household: target_table
"household", target_ids [household id], fields "table.column" and changes {"table.column": [before,
after]} for every column that is not C3 (特定個人情報: named in fields, never its value). That is what
the history of each section of the household file reads back. Records outside a household (estates,
units, parking lots) are audited against their own table.
"""

from __future__ import annotations

import datetime as dt
import decimal
from collections.abc import Iterable, Mapping

from peewee import IntegrityError

from extensions import db
from models.base import ConflictError, EditableModel
from models.classification import classify
from services import audit

__all__ = ["ConflictError", "RuleViolation", "create", "update", "diff", "history_value"]


class RuleViolation(ValueError):
    """A business rule refused the change: message for the user, field it belongs to (or None)."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field


def history_value(value):
    """A value as the audit trail stores it: dates ISO, decimals as text, the rest as is."""
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, float):
        value = decimal.Decimal(str(value))
    if isinstance(value, decimal.Decimal):
        return format(value.normalize(), "f")  # 45.50 and 45.5 are the same figure
    if isinstance(value, EditableModel):
        return value.id
    return value


def _column_value(instance, name: str):
    field = instance._meta.fields[name]
    if hasattr(field, "rel_model"):
        return instance.__data__.get(name)
    return getattr(instance, name)


def diff(instance, values: Mapping) -> dict:
    """{column: (before, after)} for the values that differ from the instance (as stored)."""
    changed = {}
    for name, after in values.items():
        before = _column_value(instance, name)
        if isinstance(after, EditableModel):
            after = after.id
        if history_value(before) != history_value(after):
            changed[name] = (before, after)
    return changed


def _audit_shape(table: str, changed: Mapping) -> tuple[list[str], dict]:
    fields, changes = [], {}
    for name, (before, after) in changed.items():
        qualified = f"{table}.{name}"
        fields.append(qualified)
        if classify(table, name) != "C3":
            changes[qualified] = [history_value(before), history_value(after)]
    return fields, changes


def _target(instance, household_id: int | None) -> tuple[str, list[int]]:
    if household_id is not None:
        return "household", [household_id]
    return instance._meta.table_name, [instance.id]


def update(
    instance: EditableModel,
    expected_version: int,
    values: Mapping,
    *,
    household_id: int | None,
    action: str,
    actor=None,
    session_ref: str | None = None,
    ip: str | None = None,
    extra_fields: Iterable[str] = (),
) -> dict:
    """Save the changed values of one record if it is still at expected_version; audit the change.

    Returns {column: (before, after)} of what changed (empty: nothing written, nothing audited).
    ConflictError when another edit came first; RuleViolation when the database refuses the values
    (a unique or check constraint); nothing is written in either case.
    """
    if instance.version != expected_version:
        raise ConflictError(instance, expected_version)
    changed = diff(instance, values)
    if not changed and not extra_fields:
        return {}
    table = instance._meta.table_name
    fields, changes = _audit_shape(table, changed)
    fields += list(extra_fields)
    target_table, target_ids = _target(instance, household_id)
    for name, (_, after) in changed.items():
        setattr(instance, name, after)
    only = [instance._meta.fields[name] for name in changed]
    try:
        with db.atomic():
            instance.save_versioned(expected_version, only=only)
            audit.record(
                action,
                actor=actor,
                session_ref=session_ref,
                ip=ip,
                target_table=target_table,
                target_ids=target_ids,
                fields=fields,
                changes=changes,
                reason=f"{table} {instance.id}",
            )
    except IntegrityError as exc:
        raise RuleViolation(_integrity_message(exc)) from exc
    return changed


def create(
    model: type[EditableModel],
    values: Mapping,
    *,
    household_id: int | None,
    action: str,
    actor=None,
    session_ref: str | None = None,
    ip: str | None = None,
) -> EditableModel:
    """Insert one record and audit it (fields named; non-C3 values as [None, value])."""
    instance = model(**values)
    table = model._meta.table_name
    try:
        with db.atomic():
            instance.save(force_insert=True)
            changed = {name: (None, _column_value(instance, name)) for name in values}
            fields, changes = _audit_shape(table, changed)
            target_table, target_ids = _target(instance, household_id)
            audit.record(
                action,
                actor=actor,
                session_ref=session_ref,
                ip=ip,
                target_table=target_table,
                target_ids=target_ids,
                fields=fields,
                changes=changes,
                reason=f"{table} {instance.id}",
            )
    except IntegrityError as exc:
        raise RuleViolation(_integrity_message(exc)) from exc
    return instance


def _integrity_message(exc: IntegrityError) -> str:
    from flask_babel import lazy_gettext as _

    text = str(exc).lower()
    if "unique" in text or "duplicate" in text:
        return _("同じ内容の登録がすでにあります。一覧を確認してください。")
    return _("入力された内容の組み合わせは登録できません。各項目を確認してください。")
