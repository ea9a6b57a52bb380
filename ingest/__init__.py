"""Turning sources into records: walking, reading, hashing, decoding, extracting."""
