"""External tools the tests check our output with (b3sum, sha256sum): found, or a loud skip.

`make test` installs them (scripts/ensure-tools.sh); CI sets REQUIRE_TOOLS=1, where a missing
tool fails the test instead of skipping it, so a check is never silently dropped there.
"""

from __future__ import annotations

import os
import shutil

import pytest


def need_tool(name: str) -> str:
    """The tool's path; skip (fail under REQUIRE_TOOLS=1) when it is not installed."""
    path = shutil.which(name)
    if path:
        return path
    reason = f"{name} is not installed (`make tools` installs it)"
    if os.environ.get("REQUIRE_TOOLS") == "1":
        pytest.fail(reason + " and REQUIRE_TOOLS=1")
    pytest.skip(reason)
