"""Read-side queries over the ClickHouse tables, shared by the HTTP API and the command line."""
