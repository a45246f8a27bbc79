"""The schema changes only through migrations, and the migrations match the models."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext


def test_migrations__match_the_models(app, db):
    """Does autogenerate find nothing to do after `db upgrade`?"""
    with db.engine.connect() as conn:
        from models import include_in_schema_compare

        context = MigrationContext.configure(conn, opts={
            "compare_type": True, "include_object": include_in_schema_compare})
        diff = compare_metadata(context, db.metadata)
    assert diff == []


def test_app__startup_never_creates_tables(tmp_path, monkeypatch):
    """Does building the app leave a new database empty (no create_all)?"""
    from sqlalchemy import create_engine, inspect

    from tests.conftest import make_test_app

    url = f"sqlite:///{tmp_path / 'fresh.sqlite3'}"
    app = make_test_app(SQLALCHEMY_DATABASE_URI=url)
    with app.app_context():
        assert app.test_client().get("/healthz").status_code == 200
    engine = create_engine(url)
    assert inspect(engine).get_table_names() == []
    engine.dispose()
