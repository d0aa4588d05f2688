CREATE TABLE "pending_my_number" ("id" INTEGER NOT NULL PRIMARY KEY, "created_at" DATETIME NOT NULL, "updated_at" DATETIME NOT NULL, "change_id" INTEGER NOT NULL, "person_id" INTEGER NOT NULL, "ciphertext" BLOB NOT NULL, "key_id" VARCHAR(16) NOT NULL, "checked_against_document" INTEGER NOT NULL, FOREIGN KEY ("change_id") REFERENCES "pending_change" ("id") ON DELETE CASCADE, FOREIGN KEY ("person_id") REFERENCES "person" ("id") ON DELETE CASCADE);
CREATE INDEX "pending_my_number_change_id" ON "pending_my_number" ("change_id");
CREATE INDEX "pending_my_number_person_id" ON "pending_my_number" ("person_id");
CREATE UNIQUE INDEX "pending_my_number_change_id_person_id" ON "pending_my_number" ("change_id", "person_id");
