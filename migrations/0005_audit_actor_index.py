"""An index for one actor's recent audit entries (read budget, per-user reports)."""


def up(migrator, db):
    db.execute_sql('CREATE INDEX "audit_entry_actor_id_at" ON "audit_entry" ("actor_id", "at")')
