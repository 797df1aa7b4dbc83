"""The ingest worker: sources, the stream producer and the stream consumers."""
