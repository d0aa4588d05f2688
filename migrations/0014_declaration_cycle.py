"""The yearly 収入申告 cycle: a note on a declaration's status.

``income_declaration.status_note``: why a declaration's status was set by the cycle rather than by a
declaration received — the 法34条 investigation asked of the tax office, or the 市民税 extract (課税
年度, file) the figures of a 税情報で認定 declaration are keyed from. Free text about a household: C2.
"""

from peewee import TextField


def up(migrator, db):
    migrator.migrate(migrator.add_column("income_declaration", "status_note", TextField(null=True)))
