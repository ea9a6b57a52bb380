"""A missing tool never skips a test: it fails, saying how to get it."""

from __future__ import annotations

import pytest

from tests import tools

ABSENT = "no-such-tool-for-provenance-archive"


def test_a_tool_make_test_could_install_fails_the_test(monkeypatch) -> None:
    monkeypatch.delenv("REQUIRE_TOOLS", raising=False)
    monkeypatch.setattr(tools, "installable", lambda: True)
    with pytest.raises(pytest.fail.Exception, match="`make test` installs it"):
        tools.need_tool(ABSENT)


def test_a_tool_this_machine_cannot_install_fails_saying_how_to_get_it(monkeypatch) -> None:
    monkeypatch.delenv("REQUIRE_TOOLS", raising=False)
    monkeypatch.setattr(tools, "installable", lambda: False)
    with pytest.raises(pytest.fail.Exception, match="package manager"):
        tools.need_tool(ABSENT)


def test_a_required_tool_always_fails(monkeypatch) -> None:
    monkeypatch.setenv("REQUIRE_TOOLS", "1")
    monkeypatch.setattr(tools, "installable", lambda: False)
    with pytest.raises(pytest.fail.Exception, match="REQUIRE_TOOLS=1"):
        tools.need_tool(ABSENT)


def test_a_present_tool_is_its_path() -> None:
    assert tools.need_tool("sh").endswith("/sh")
