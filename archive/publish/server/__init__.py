"""Serving the published archive: a read-only snapshot, uvicorn workers, a response cache."""
