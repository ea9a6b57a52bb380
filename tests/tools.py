"""Tools the tests run (b3sum, patch, openssl, chromium, ...): found, never skipped.

`make test` installs them (scripts/ensure-tools.sh, scripts/ensure-chromium.sh) with apt-get
as root or with passwordless sudo. A missing tool fails the test, saying how to get it: run
`make test` (or `make tools` / `make browser`) where it can install it, else install it with
the machine's package manager. CI sets REQUIRE_TOOLS=1 and REQUIRE_BROWSER=1 and says so.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess

import pytest


@functools.cache
def installable() -> bool:
    """Whether `make test` could install a missing Debian tool here: apt-get, run as root
    or through passwordless sudo (the ensure-*.sh scripts' own test)."""
    if shutil.which("apt-get") is None:
        return False
    if os.geteuid() == 0:
        return True
    sudo = shutil.which("sudo")
    if sudo is None:
        return False
    return subprocess.run([sudo, "-n", "true"], capture_output=True).returncode == 0


def missing(reason: str, required_by: str) -> None:
    """A tool is missing: the test fails, saying how to get it (a test that cannot run
    its check has not passed it)."""
    if os.environ.get(required_by) == "1":
        pytest.fail(f"{reason} and {required_by}=1")
    if installable():
        pytest.fail(f"{reason}; `make test` installs it on this machine: run it")
    pytest.fail(
        f"{reason}; `make test` cannot install it here (no apt-get as root or sudo):"
        " install it with this machine's package manager"
    )


def need_tool(name: str) -> str:
    """The tool's path; otherwise see `missing`."""
    path = shutil.which(name)
    if path:
        return path
    missing(f"{name} is not installed (`make tools` installs it)", "REQUIRE_TOOLS")
    raise AssertionError("unreachable")  # missing() always raises
