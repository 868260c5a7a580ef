"""The schema of both databases (the only place that declares a table), and the application
database's engine and migrations (`python -m storage.database`)."""
