"""Bulk insertion for the generator: ids assigned in Python, rows buffered per table, batched INSERTs."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from peewee import AutoField, Model, PostgresqlDatabase, fn

from models.base import utcnow

# Rows per multi-row INSERT on PostgreSQL (psycopg2's execute_values); SQLite takes them all in executemany.
ROWS_PER_STATEMENT = 500


class BulkWriter:
    """Buffers rows of many tables and writes them in dependency order.

    Ids are assigned here from MAX(id)+1 (read once per table), so a household's persons, charges and
    payments can refer to each other before anything is written and nothing is read back.
    """

    def __init__(self, database, models: Iterable[type[Model]]):
        self.database = database
        self.models = list(models)  # dependency order (models.ALL_MODELS order)
        self._next_id = {model: (model.select(fn.MAX(model.id)).scalar() or 0) + 1 for model in self.models}
        self._rows: dict[type[Model], list[dict]] = {model: [] for model in self.models}
        self.counts: Counter[str] = Counter()
        self._written: set[type[Model]] = set()

    def new_id(self, model: type[Model]) -> int:
        """Reserve the next id of a table."""
        value = self._next_id[model]
        self._next_id[model] = value + 1
        return value

    def add(self, table: type[Model], /, **values) -> int:
        """Buffer one row (an id is assigned unless given); returns its id."""
        if "id" not in values:
            values["id"] = self.new_id(table)
        self._rows[table].append(values)
        return values["id"]

    def flush(self) -> None:
        """Write every buffered row (call inside db.atomic()); tables in dependency order."""
        now = utcnow()
        for model in self.models:
            rows = self._rows[model]
            if not rows:
                continue
            self._insert(model, rows, now)
            self.counts[model._meta.table_name] += len(rows)
            self._written.add(model)
            self._rows[model] = []

    def _insert(self, model: type[Model], rows: list[dict], now) -> None:
        # Every column is written: what a row leaves out takes the field's default (timestamps: now).
        # Values go to the driver as they are (peewee registers SQLite adapters for date and Decimal;
        # psycopg2 adapts them itself), through one prepared statement: peewee's per-value SQL
        # building would cost more than the database does.
        fields = model._meta.sorted_fields
        postgres = isinstance(self.database, PostgresqlDatabase)
        stamp = now if postgres else now.isoformat(" ")  # as peewee's SQLite adapter writes it
        fill = {}
        for field in fields:
            if field.name in ("created_at", "updated_at"):
                fill[field.name] = stamp
            elif field.default is not None and not isinstance(field, AutoField):
                fill[field.name] = field.default() if callable(field.default) else field.default
            else:
                fill[field.name] = None
        names = [field.name for field in fields]
        params = [tuple(row.get(n, fill[n]) for n in names) for row in rows]
        columns = ", ".join(f'"{field.column_name}"' for field in fields)
        table = model._meta.table_name
        cursor = self.database.cursor()
        # Table and column names come from the model, never from data.
        if postgres:
            from psycopg2.extras import execute_values

            sql = f'INSERT INTO "{table}" ({columns}) VALUES %s'  # noqa: S608
            execute_values(cursor, sql, params, page_size=ROWS_PER_STATEMENT)
        else:
            marks = ", ".join("?" * len(fields))
            cursor.executemany(f'INSERT INTO "{table}" ({columns}) VALUES ({marks})', params)  # noqa: S608

    def sync_sequences(self) -> None:
        """PostgreSQL: move each id sequence past the ids assigned here (SQLite needs nothing)."""
        if not isinstance(self.database, PostgresqlDatabase):
            return
        for model in self._written:
            table = model._meta.table_name
            maximum = f'(SELECT COALESCE(MAX(id), 1) FROM "{table}")'  # noqa: S608 - a model's table name
            used = f'(SELECT COUNT(*) > 0 FROM "{table}")'  # noqa: S608
            self.database.execute_sql(
                f"SELECT setval(pg_get_serial_sequence(%s, 'id'), {maximum}, {used})", (f'"{table}"',)
            )
