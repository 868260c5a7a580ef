"""The application database: its schema (the only place that declares a table) and the
engine and migrations (`python -m storage.database`)."""
