"""Where each document goes in an export (`export_path`): safe, short and one-to-one."""

from __future__ import annotations

from pathlib import PurePosixPath

import pytest
from hypothesis import given
from hypothesis import strategies as st

from archive.export import export_path, safe_relpath

uri_parts = st.text(min_size=0, max_size=400)


def test_plain_paths_stay_and_uris_are_mapped() -> None:
    assert export_path("notes/a b.txt") == PurePosixPath("notes/a b.txt")
    assert export_path("https://n.example/a/b?q=1#f") == PurePosixPath(
        "web/https/n.example/~2Fa~2Fb~3Fq~3D1~23f"
    )
    assert export_path("https://n.example") == PurePosixPath("web/https/n.example/~")
    assert export_path("http://../..") == PurePosixPath("web/http/~2E~2E/~2F..")
    with pytest.raises(ValueError):
        export_path("../escape")
    with pytest.raises(ValueError):
        export_path("/etc/passwd")


@given(st.sampled_from(["http", "https", "ftp", "x-y.z+w"]), uri_parts, uri_parts)
def test_every_uri_maps_to_a_safe_short_path(scheme: str, host: str, rest: str) -> None:
    uri = f"{scheme}://{host.replace('/', '')}/{rest}"
    path = export_path(uri)
    assert safe_relpath(str(path)) == path  # relative, no "", ".", "..", no NUL
    assert path.parts[0] == "web" and len(path.parts) == 4  # never a folder of another URI
    assert all(len(part.encode()) <= 255 for part in path.parts)
    assert all(c.isascii() and c.isprintable() and c not in '\\:*?"<>|' for c in str(path))


@given(uri_parts, uri_parts)
def test_distinct_uris_never_share_a_path(a: str, b: str) -> None:
    first, second = f"https://h/{a}", f"https://h/{b}"
    if first != second:
        assert export_path(first) != export_path(second)
