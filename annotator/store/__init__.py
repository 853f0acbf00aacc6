"""Persistence: SQLAlchemy ORM, engine and migrations. Queries return domain objects."""
