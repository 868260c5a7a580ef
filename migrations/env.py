"""Alembic environment: runs on the connection given by storage.database.migrate()."""

from alembic import context

from storage.schema import metadata

connection = context.config.attributes.get("connection")
if connection is None:  # plain `alembic` command line: use DATABASE_URL
    import settings
    from storage.database import engine_for

    with engine_for(settings.database_url()).begin() as connection:
        context.configure(connection=connection, target_metadata=metadata)
        with context.begin_transaction():
            context.run_migrations()
else:
    context.configure(connection=connection, target_metadata=metadata)
    with context.begin_transaction():
        context.run_migrations()
