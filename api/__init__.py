"""HTTP API of user-insights, served by the worker or on its own against a ClickHouse server."""
