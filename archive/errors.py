"""The one exception type every layer raises for a user-facing failure."""


class ArchiveError(Exception):
    """A user-facing failure: printed as one line, never as a traceback."""
