"""The local stack for tests and benchmarks: the real Rasa server, action server and web app
started as processes on free ports (`servers`), and throw-away SQLite/PostgreSQL databases and
Redis prefixes (`databases`). Not used by the product itself."""
