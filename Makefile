# 市営住宅管理システム — the two commands are `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PORT   ?= 5000
HOST   ?= localhost
export FLASK_APP := app:create_app

.PHONY: install run test lint catalog translations bench db-upgrade clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Reinstall only when pyproject.toml changes.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

translations/%/LC_MESSAGES/messages.mo: translations/%/LC_MESSAGES/messages.po $(VENV)/.installed
	$(BIN)/pybabel compile --statistics -d translations -l $* 2>/dev/null

install: $(VENV)/.installed translations/ja/LC_MESSAGES/messages.mo translations/en/LC_MESSAGES/messages.mo

run: install
	$(BIN)/flask db upgrade
	$(BIN)/flask seed demo --if-empty
	WEBAUTHN_ORIGINS=http://localhost:$(PORT) $(BIN)/flask users demo-officer
	@echo ""
	@echo "  市営住宅管理システム: http://$(HOST):$(PORT)/"
	@echo ""
	WEBAUTHN_ORIGINS=http://localhost:$(PORT) $(BIN)/flask run --host $(HOST) --port $(PORT)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# The catalogue must match the source: extraction that would change it fails.
# The .po files keep their header: without one Babel treats a catalogue as fuzzy and compile skips it.
# (--no-location belongs to extract only; update rejects it. The POT has no header, hence
# --ignore-pot-creation-date, or every check would see a new creation date.)
catalog: install
	$(BIN)/pybabel extract -F babel.cfg -k _l -k _n:1,2 -c i18n: -o $(VENV)/messages.pot --omit-header --no-location . >/dev/null 2>&1
	$(BIN)/pybabel update -i $(VENV)/messages.pot -d translations --ignore-obsolete --ignore-pot-creation-date --check >/dev/null
	$(BIN)/python -m tests.check_catalog

# Developer helper: refresh the catalogues after changing strings.
# Then fill the new msgstrs (ja: the msgid itself; en: the English) and run `make catalog`.
translations: install
	$(BIN)/pybabel extract -F babel.cfg -k _l -k _n:1,2 -c i18n: -o $(VENV)/messages.pot --omit-header --no-location .
	$(BIN)/pybabel update -i $(VENV)/messages.pot -d translations --ignore-obsolete --ignore-pot-creation-date
	$(BIN)/pybabel compile -d translations

test: install lint catalog
	$(BIN)/pytest $(PYTEST_ARGS)

bench: install
	$(BIN)/python -m bench.run

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
