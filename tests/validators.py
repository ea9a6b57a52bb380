"""The third-party validators the exports are checked against, called one way everywhere."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from ocfl.validator import Validator

BIN = Path(sys.executable).parent


def bagit_cli_valid(bag: Path) -> bool:
    """`bagit.py --validate BAG` (full validation, not --fast) exits 0."""
    script = BIN / "bagit.py"
    assert script.exists(), "bagit.py comes with the test extra's bagit: reinstall `.[test]`"
    cmd = [sys.executable, str(script), "--validate", str(bag)]
    return subprocess.run(cmd, capture_output=True).returncode == 0


def ocfl_object_valid(obj: Path) -> bool:
    """ocfl-py's validator on ONE object (validating a storage root misses corrupt objects)."""
    return Validator(log_warnings=False).validate_object(str(obj))
