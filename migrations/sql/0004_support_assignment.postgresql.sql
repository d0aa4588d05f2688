CREATE TABLE "support_assignment" ("id" SERIAL NOT NULL PRIMARY KEY, "created_at" TIMESTAMP NOT NULL, "updated_at" TIMESTAMP NOT NULL, "household_id" INTEGER NOT NULL, "user_id" INTEGER NOT NULL, "assigned_by_id" INTEGER, "ended_at" TIMESTAMP, FOREIGN KEY ("household_id") REFERENCES "household" ("id") ON DELETE RESTRICT, FOREIGN KEY ("user_id") REFERENCES "user" ("id") ON DELETE RESTRICT, FOREIGN KEY ("assigned_by_id") REFERENCES "user" ("id") ON DELETE RESTRICT);
CREATE INDEX "support_assignment_household_id" ON "support_assignment" ("household_id");
CREATE INDEX "support_assignment_user_id" ON "support_assignment" ("user_id");
CREATE INDEX "support_assignment_assigned_by_id" ON "support_assignment" ("assigned_by_id");
CREATE UNIQUE INDEX "support_assignment_one_current" ON "support_assignment" ("household_id", "user_id") WHERE ended_at IS NULL;
