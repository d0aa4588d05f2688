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
	$(BIN)/flask users demo-officer
	@echo ""
	@echo "  市営住宅管理システム: http://$(HOST):$(PORT)/"
	@echo ""
	$(BIN)/flask run --host $(HOST) --port $(PORT)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# The catalogue must match the source: extraction that would change it fails.
catalog: install
	$(BIN)/pybabel extract -F babel.cfg -k _l -k _n:1,2 -o $(VENV)/messages.pot --omit-header --no-location . >/dev/null 2>&1
	$(BIN)/pybabel update -i $(VENV)/messages.pot -d translations --omit-header --no-location --check --ignore-obsolete >/dev/null
	$(BIN)/python -m tests.check_catalog

# Developer helper: refresh the catalogues after changing strings.
translations: install
	$(BIN)/pybabel extract -F babel.cfg -k _l -k _n:1,2 -o $(VENV)/messages.pot --omit-header --no-location .
	$(BIN)/pybabel update -i $(VENV)/messages.pot -d translations --omit-header --no-location --ignore-obsolete
	$(BIN)/pybabel compile -d translations

test: install lint catalog
	$(BIN)/pytest $(PYTEST_ARGS)

bench: install
	$(BIN)/python -m bench.run

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
