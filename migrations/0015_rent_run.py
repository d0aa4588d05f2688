"""The yearly rent run's record of each household (frozen DDL): ``rent_run_item``.

One row per run and household, written with the household's draft decision in one transaction: the
draft (or the reason none could be computed), the decision in force, the reasons the rent changes,
the estate and whether the household is resident 3 years or more. A run stopped anywhere resumes
from these rows, and the preview reads them.
"""

from services.schema import run_sql_file


def up(migrator, db):
    run_sql_file(db, "0015_rent_run_item")
