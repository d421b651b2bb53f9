"""Storage: SQLAlchemy tables, the unit of work, repositories and Alembic migrations.

``tables`` declares every table on one ``Base.metadata``; ``db`` makes engines and migrates;
``uow`` opens the one transaction a service works in; ``repositories`` query without committing.
Importing this package imports nothing heavy: import the modules where they are needed.
"""
