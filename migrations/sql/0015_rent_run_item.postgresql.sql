CREATE TABLE "rent_run_item" ("id" SERIAL NOT NULL PRIMARY KEY, "created_at" TIMESTAMP NOT NULL, "updated_at" TIMESTAMP NOT NULL, "run_id" INTEGER NOT NULL, "household_id" INTEGER NOT NULL, "decision_id" INTEGER, "previous_id" INTEGER, "estate_id" INTEGER, "previous_rent" INTEGER CHECK (previous_rent >= 0), "rent" INTEGER CHECK (rent >= 0), "reasons" VARCHAR(200) NOT NULL, "problem" VARCHAR(19) CHECK (problem IS NULL OR problem IN ('no_tenancy', 'no_figures', 'no_declaration', 'no_figures_declared', 'invalid_facts', 'already_decided')), "resident_three_years" BOOLEAN NOT NULL, FOREIGN KEY ("run_id") REFERENCES "rent_run" ("id") ON DELETE RESTRICT, FOREIGN KEY ("household_id") REFERENCES "household" ("id") ON DELETE RESTRICT, FOREIGN KEY ("decision_id") REFERENCES "rent_decision" ("id") ON DELETE RESTRICT, FOREIGN KEY ("previous_id") REFERENCES "rent_decision" ("id") ON DELETE RESTRICT, FOREIGN KEY ("estate_id") REFERENCES "estate" ("id") ON DELETE RESTRICT);
CREATE INDEX "rent_run_item_run_id" ON "rent_run_item" ("run_id");
CREATE INDEX "rent_run_item_household_id" ON "rent_run_item" ("household_id");
CREATE INDEX "rent_run_item_decision_id" ON "rent_run_item" ("decision_id");
CREATE INDEX "rent_run_item_previous_id" ON "rent_run_item" ("previous_id");
CREATE INDEX "rent_run_item_estate_id" ON "rent_run_item" ("estate_id");
CREATE UNIQUE INDEX "rent_run_item_run_id_household_id" ON "rent_run_item" ("run_id", "household_id");
CREATE INDEX "rent_run_item_run_id_problem" ON "rent_run_item" ("run_id", "problem");
CREATE INDEX "rent_run_item_run_id_estate_id" ON "rent_run_item" ("run_id", "estate_id");
