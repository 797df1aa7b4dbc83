"""Storage edges: Redis keys and connections, the SQL system of record."""
