"""Base models: timestamps in UTC, optimistic locking by a version column."""

from __future__ import annotations

import datetime as dt

from peewee import CharField, Check, DateTimeField, IntegerField, Model

from extensions import db


def utcnow() -> dt.datetime:
    """Naive UTC now: the database stores UTC, screens show Asia/Tokyo."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


class ConflictError(Exception):
    """Someone else saved the record since it was read (optimistic locking)."""

    def __init__(self, instance, expected_version: int):
        super().__init__(f"{type(instance).__name__} {instance.id} changed since version {expected_version}")
        self.instance = instance
        self.expected_version = expected_version


class BaseModel(Model):
    """Every table: peewee model bound to the shared database proxy, snake_case table names."""

    class Meta:
        database = db
        legacy_table_names = False


class TimestampedModel(BaseModel):
    """A table whose rows record when they were created and last changed."""

    created_at = DateTimeField(default=utcnow)
    updated_at = DateTimeField(default=utcnow)


class EditableModel(TimestampedModel):
    """A record people edit: the version column guards against silent overwrites."""

    version = IntegerField(default=1)

    def save_versioned(self, expected_version: int, only=None) -> None:
        """UPDATE … WHERE version = expected; raise ConflictError when another edit came first."""
        cls = type(self)
        data = {field: getattr(self, field.name) for field in (only or cls._meta.sorted_fields)}
        data.pop(cls._meta.primary_key, None)
        data[cls.version] = expected_version + 1
        data[cls.updated_at] = utcnow()
        changed = (
            cls.update(data)
            .where((cls._meta.primary_key == self._pk) & (cls.version == expected_version))
            .execute()
        )
        if changed != 1:
            raise ConflictError(self, expected_version)
        self.version = expected_version + 1
        self.updated_at = data[cls.updated_at]


class CodeField(CharField):
    """A short code column whose allowed values the database enforces with a CHECK constraint.

    choices is a sequence of (code, Japanese label) pairs; the label is what screens show.
    """

    def __init__(self, choices, **kwargs):
        kwargs.setdefault("max_length", max(8, *(len(code) for code, _ in choices)))
        super().__init__(choices=list(choices), **kwargs)

    def bind(self, model, name, set_attribute=True):
        super().bind(model, name, set_attribute)
        allowed = ", ".join("'" + code.replace("'", "''") + "'" for code, _ in self.choices)
        check = f"{self.column_name} IN ({allowed})"
        if self.null:
            check = f"{self.column_name} IS NULL OR {check}"
        self.constraints = [Check(check)]

    def label(self, code) -> str:
        """The Japanese label of a code (the code itself when unknown)."""
        return dict(self.choices).get(code, code or "")


class YenField(IntegerField):
    """An amount in whole yen, never negative (CHECK >= 0)."""

    def bind(self, model, name, set_attribute=True):
        super().bind(model, name, set_attribute)
        self.constraints = [Check(f"{self.column_name} >= 0")]
