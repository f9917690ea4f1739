"""Storage: SQLAlchemy 2 models, the engine and session factory, and repositories.

Protocol and page code reach the database only through the repositories in this package.
"""
