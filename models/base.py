"""Base models: timestamps in UTC, optimistic locking by a version column."""

from __future__ import annotations

import datetime as dt

from peewee import DateTimeField, IntegerField, Model

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
            cls.update(data).where((cls._meta.primary_key == self._pk) & (cls.version == expected_version)).execute()
        )
        if changed != 1:
            raise ConflictError(self, expected_version)
        self.version = expected_version + 1
        self.updated_at = data[cls.updated_at]
