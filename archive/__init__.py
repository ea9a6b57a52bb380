"""provenance-archive: the store, diffs, ledger, verification and publishing."""

__version__ = "0.1.0"
