"""Pure rules of the law and of the formats: no Flask, no database."""
