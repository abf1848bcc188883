"""Storage: SQLAlchemy 2 tables, engines and sessions, Alembic migrations."""
