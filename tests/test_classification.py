"""Every column of every table has a data class (SECURITY.md: a test fails on an unclassified column)."""

from peewee import ForeignKeyField

from models import ALL_MODELS
from models.classification import CLASSIFICATION, LEVELS, classify, columns_of_level


def test_every_column_is_classified():
    missing = [
        f"{model._meta.table_name}.{field.column_name}"
        for model in ALL_MODELS
        for field in model._meta.sorted_fields
        if classify(model._meta.table_name, field.column_name, isinstance(field, ForeignKeyField)) is None
    ]
    assert missing == [], f"unclassified columns: {missing}"


def test_classification_names_only_real_columns():
    real = {
        (model._meta.table_name, field.column_name)
        for model in ALL_MODELS
        for field in model._meta.sorted_fields
    }
    stale = [(t, c) for t, cols in CLASSIFICATION.items() for c in cols if (t, c) not in real]
    assert stale == []


def test_levels_are_known_and_my_number_is_the_only_c3():
    assert {lvl for cols in CLASSIFICATION.values() for lvl in cols.values()} <= set(LEVELS)
    assert columns_of_level("C3") == [
        ("pending_my_number", "ciphertext"),  # a number typed on the portal, held until the city approves
        ("personal_number", "blind_index"),
        ("personal_number", "ciphertext"),
    ]


def test_sensitive_columns_are_not_downgraded():
    # Income, welfare, disability and bank accounts are 要配慮/financial (C2) at least.
    for table, column in [
        ("member_income", "salary_revenue"),
        ("welfare_period", "start_date"),
        ("person", "disability_grade"),
        ("bank_transfer", "account_number"),
        ("household", "support_measure"),
        ("income_declaration", "seirei_getsushu"),
    ]:
        assert classify(table, column) == "C2", (table, column)
