"""The portal's scope and its maker-checker flow on PostgreSQL: the crawler of tests/test_portal_scope.py
and the application flow of tests/test_portal_records.py, run again on an app whose database is a
migrated PostgreSQL one (the scoped queries are subqueries and joins both engines must run alike)."""

from __future__ import annotations

import pytest

from app import create_app
from extensions import db
from services import schema
from tests.conftest import test_config
from tests.test_portal_records import (  # noqa: F401 (collected here again, on PostgreSQL)
    test_a_move_out_procedure_is_recorded_directly_and_listed,
    test_the_city_returns_the_agent_corrects_the_city_approves,
)
from tests.test_portal_scope import (  # noqa: F401 (the fixture and the crawler)
    test_lists_and_search_show_only_the_office,
    test_portal_urls_naming_another_office_answer_404_and_write_nothing,
    world,
)

pytestmark = pytest.mark.pg


@pytest.fixture
def app(tmp_path, pg_url):
    """The app on a fresh PostgreSQL database migrated to head (overrides conftest's SQLite app)."""
    application = create_app(test_config(tmp_path, DATABASE_URL=pg_url))
    with application.app_context():
        db.connect(reuse_if_open=True)
        schema.upgrade()
        db.close()
    yield application
    if not db.is_closed():
        db.close()
