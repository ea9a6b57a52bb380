"""ingest/ against hostile input: names, swapped files, front matter, sidecars, git trees."""

from __future__ import annotations

import io
import json
import os
import subprocess
import threading
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ingest.chunks import Prefixed, chunk_stream, read_head
from ingest.folder import ReadError, open_entry, read_entry, scan
from ingest.formats import FormatError, readable_text
from ingest.gitsource import GitSource, Refused, refusal
from ingest.hashing import blake3_hex, digests
from ingest.paths import PathError, check_relative, path_bytes, path_text
from ingest.sidecar import SidecarError, front_matter, parse_sidecar
from tests.gitrepo import Repo

# --- names ---------------------------------------------------------------------------------


@given(st.binary(max_size=60))
def test_stored_path_is_reversible(raw: bytes) -> None:
    text = path_text(raw)
    text.encode("utf-8")  # storable as SQLite text
    assert path_bytes(text) == raw


@given(st.binary(max_size=20), st.binary(max_size=20))
def test_two_names_never_share_a_stored_path(a: bytes, b: bytes) -> None:
    if a != b:
        assert path_text(a) != path_text(b)


def test_raw_byte_and_its_escape_spelled_out_stay_two_documents(tmp_path: Path) -> None:
    root = os.fsencode(tmp_path)
    for name, data in ((b"\xff.txt", b"raw byte\n"), (b"\\xff.txt", b"spelled out\n")):
        with open(os.path.join(root, name), "wb") as f:
            f.write(data)
    entries, problems = scan(str(tmp_path))
    assert problems == []
    assert sorted(e.path for e in entries) == ["\\\\xff.txt", "\\xff.txt"]
    assert {path_bytes(e.path): read_entry(e) for e in entries} == {
        b"\xff.txt": b"raw byte\n",
        b"\\xff.txt": b"spelled out\n",
    }


@pytest.mark.parametrize("text", ["a\\b", "a\\x4", "a\\xZZ", "\\", "\ud800"])
def test_text_no_name_encodes_to_is_refused(text: str) -> None:
    with pytest.raises(PathError):
        path_bytes(text)


@pytest.mark.parametrize(
    ("raw", "why"),
    [
        (b"", "empty"),
        (b"a\0b", "NUL"),
        (b"/etc/passwd", "absolute"),
        (b"a//b", "empty component"),
        (b"../x", "'..'"),
        (b"a/./b", "'.'"),
    ],
)
def test_unrepresentable_relative_names(raw: bytes, why: str) -> None:
    reason = check_relative(raw)
    assert reason is not None and why in reason


# --- files swapped between the scan and the read ------------------------------------------


@pytest.fixture
def tree(tmp_path: Path) -> tuple[Path, Path]:
    root = tmp_path / "root"
    (root / "sub").mkdir(parents=True)
    (root / "doc.txt").write_bytes(b"inside\n")
    (root / "sub" / "doc.txt").write_bytes(b"inside too\n")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "doc.txt").write_bytes(b"SECRET\n")
    return root, outside


def _entry(root: Path, path: str):
    entries, _ = scan(str(root))
    return next(e for e in entries if e.path == path)


def test_file_swapped_for_a_link_to_a_secret_is_a_problem(tree) -> None:
    root, outside = tree
    entry = _entry(root, "doc.txt")
    os.remove(root / "doc.txt")
    os.symlink(outside / "doc.txt", root / "doc.txt")
    with pytest.raises(ReadError, match="link"):
        read_entry(entry)


def test_folder_swapped_for_a_link_is_a_problem(tree) -> None:
    root, outside = tree
    entry = _entry(root, "sub/doc.txt")
    os.rename(root / "sub", root / "old")
    os.symlink(outside, root / "sub")
    with pytest.raises(ReadError, match="link"):
        read_entry(entry)


def test_file_swapped_for_another_file_is_a_problem(tree) -> None:
    root, outside = tree
    entry = _entry(root, "doc.txt")
    os.rename(outside / "doc.txt", root / "doc.txt")  # same name, another inode
    with pytest.raises(ReadError, match="another file"):
        read_entry(entry)


def test_file_swapped_for_a_fifo_does_not_block(tree) -> None:
    root, _ = tree
    entry = _entry(root, "doc.txt")
    os.remove(root / "doc.txt")
    os.mkfifo(root / "doc.txt")
    result: list[BaseException] = []

    def read() -> None:
        try:
            read_entry(entry)
        except BaseException as exc:  # noqa: BLE001 - handed to the test thread
            result.append(exc)

    worker = threading.Thread(target=read, daemon=True)
    worker.start()
    worker.join(10)
    assert not worker.is_alive(), "open of a swapped-in fifo blocked"
    assert isinstance(result[0], ReadError) and "fifo" in result[0].strerror


def test_unchanged_file_reads_and_a_link_inside_the_root_is_followed(tree) -> None:
    root, _ = tree
    os.symlink("sub/doc.txt", root / "link.txt")
    entries, problems = scan(str(root))
    assert problems == []
    got = {e.path: read_entry(e) for e in entries}
    assert got == {
        "doc.txt": b"inside\n",
        "link.txt": b"inside too\n",
        "sub/doc.txt": b"inside too\n",
    }
    link = next(e for e in entries if e.path == "link.txt")
    assert link.blake3 == blake3_hex(b"inside too\n")
    with open_entry(link) as f:
        assert f.read(6) == b"inside"


def test_folder_swapped_during_the_walk_is_never_listed(tree) -> None:
    """A folder replaced by a link before the walk enters it is a problem, not a way out."""
    root, outside = tree
    os.rename(root / "sub", root / "old")
    os.symlink(outside, root / "sub")
    entries, problems = scan(str(root))
    assert all("SECRET" not in read_entry(e).decode() for e in entries)
    assert [p.path for p in problems] == ["sub"]


# --- front matter, sidecars, extractors ---------------------------------------------------

HOSTILE_YAML = [
    "date: 2024-02-30",
    "n: " + "9" * 5000,
    "n: 0x" + "f" * 5000,
    "n: !!binary aGVsbG8=",
    "n: !!set {a, b}",
    "? [a, b]\n: c",
    "n: !!python/object:os.system x",
    "a: &a [*a]",
    "n: .nan",
    "a: &a [1,2]\nb: &b [*a,*a]\nc: &c [*b,*b]\nd: &d [*c,*c]\ne: &e [*d,*d]\nf: &f [*e,*e]\n"
    "g: &g [*f,*f]\nh: &h [*g,*g]\ni: &i [*h,*h]\nj: &j [*i,*i]\nk: &k [*j,*j]\nl: [*k,*k]",
    "retrieved_at: 2024-13-45",
    "2024-02-30: x",
]


@pytest.mark.parametrize("body", HOSTILE_YAML)
def test_hostile_front_matter_is_a_sidecar_error_or_plain_data(body: str) -> None:
    try:
        meta, _ = front_matter(f"---\n{body}\n---\ntext\n")
    except SidecarError as exc:
        assert "\n" not in str(exc)
    else:
        json.dumps(meta).encode("utf-8")


@pytest.mark.parametrize("body", HOSTILE_YAML)
def test_hostile_yaml_sidecar_is_a_sidecar_error_or_plain_data(body: str) -> None:
    try:
        meta = parse_sidecar("a.txt.meta.yml", body.encode())
    except SidecarError:
        return
    json.dumps(meta).encode("utf-8")


@pytest.mark.parametrize(
    "body",
    [
        '{"n": ' + "9" * 5000 + "}",
        '{"n": "\\ud800"}',
        '{"\\udc00": 1}',
        "[" * 100_000,
        '{"n": 1e999999}',
    ],
)
def test_hostile_json_sidecar(body: str) -> None:
    try:
        meta = parse_sidecar("a.txt.meta.json", body.encode())
    except SidecarError:
        return
    json.dumps(meta).encode("utf-8")


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200))
def test_front_matter_raises_nothing_but_sidecar_error(body: str) -> None:
    try:
        meta, _ = front_matter("---\n" + body + "\n---\n")
    except SidecarError:
        return
    json.dumps(meta).encode("utf-8")


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=200), st.sampled_from(["x.meta.json", "x.meta.yml"]))
def test_sidecar_raises_nothing_but_sidecar_error(data: bytes, name: str) -> None:
    try:
        meta = parse_sidecar(name, data)
    except SidecarError:
        return
    json.dumps(meta).encode("utf-8")


@pytest.mark.parametrize(
    ("data", "media"),
    [
        (b"PK\x03\x04" + b"\0" * 40, "application/vnd.openxmlformats-officedocument"
         ".wordprocessingml.document"),
        (b"%PDF-1.4\n" + b"\xff" * 100, "application/pdf"),
        (b"\0\0\0<html>", "text/html"),
    ],
)  # fmt: skip
def test_broken_formats_are_a_format_error(data: bytes, media: str) -> None:
    with pytest.raises(FormatError):
        readable_text(data, media)


def test_docx_zip_bomb_is_not_inflated(tmp_path: Path) -> None:
    import zipfile

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("[Content_Types].xml", "<x/>")
        with zf.open("word/document.xml", "w", force_zip64=True) as f:
            block = b"\0" * (1 << 20)
            for _ in range(300):
                f.write(block)
    assert len(buf.getvalue()) < 2 << 20
    media = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
    with pytest.raises(FormatError, match="inflates"):
        readable_text(buf.getvalue(), media)


# --- git trees ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "bad"),
    [
        (b".git/config", True),
        (b"sub/.GIT/hooks/post-checkout", True),
        (b".git./config", True),
        (b"..", True),
        (b"a/../b", True),
        (b"/etc/passwd", True),
        (b"a\0b", True),
        (b".gitignore", False),
        (b"docs/.github/x.md", False),
        (b"caf\xe9.txt", False),
    ],
)
def test_git_path_refusal(raw: bytes, bad: bool) -> None:
    assert (refusal(raw) is not None) is bad


def test_hostile_git_tree_entries_are_refused_per_file(tmp_path: Path) -> None:
    repo = Repo(tmp_path / "r")
    repo.write("loose", b"x\n")
    blob = repo.git("hash-object", "-w", "loose").decode().strip()
    sub = _mktree(repo, f"100644 blob {blob}\tconfig\n")
    top = _mktree(
        repo,
        f"040000 tree {sub}\t.git\n040000 tree {sub}\t..\n040000 tree {sub}\t.GiT\n"
        f"100644 blob {blob}\tok.txt\n",
    )
    commit = repo.git("commit-tree", top, "-m", "hostile").decode().strip()
    repo.git("update-ref", "refs/heads/main", commit)
    with GitSource(repo.root) as src:
        (got,) = list(src.commits())
    assert [c.path for c in got.changes] == ["ok.txt"]
    assert sorted(r.path for r in got.refused) == ["../config", ".GiT/config", ".git/config"]
    assert all(isinstance(r, Refused) and r.reason.startswith("git: ") for r in got.refused)


def _mktree(repo: Repo, listing: str) -> str:
    done = subprocess.run(
        ["git", "mktree"], cwd=repo.root, input=listing.encode(), capture_output=True, check=True
    )
    return done.stdout.decode().strip()


# --- chunks ---------------------------------------------------------------------------------

SMALL = dict(avg=256, low=64, high=1024)


def _random(n: int, seed: int) -> bytes:
    import random

    return random.Random(seed).randbytes(n)


def test_chunks_rebuild_the_content_and_hash_it_while_streaming() -> None:
    data = _random(50_000, 1)
    chunker = chunk_stream(io.BytesIO(data), **SMALL)
    pieces = list(chunker)
    assert b"".join(p.data for p in pieces) == data
    assert [p.offset for p in pieces] == [
        sum(len(q.data) for q in pieces[:i]) for i in range(len(pieces))
    ]
    assert all(p.blake3 == blake3_hex(p.data) and 64 <= len(p.data) <= 1024 for p in pieces[:-1])
    assert chunker.digests == digests(data) and chunker.size == len(data)


def test_an_insertion_leaves_most_chunks_shared() -> None:
    data = _random(100_000, 2)
    edited = data[:40_000] + b"an insertion in the middle" + data[40_000:]
    before = {p.blake3 for p in chunk_stream(io.BytesIO(data), **SMALL)}
    after = [p.blake3 for p in chunk_stream(io.BytesIO(edited), **SMALL)]
    changed = sum(h not in before for h in after)
    assert 0 < changed <= 5 and len(after) > 300  # only the chunks around the edit


def test_digests_need_the_whole_stream() -> None:
    chunker = chunk_stream(io.BytesIO(b"abc"))
    with pytest.raises(RuntimeError):
        _ = chunker.digests
    assert [p.data for p in chunker] == [b"abc"]
    assert chunker.digests == digests(b"abc")


def test_git_blobs_stream_in_pieces_and_stay_in_step(tmp_path: Path) -> None:
    repo = Repo(tmp_path / "r")
    big = _random(300_000, 3)
    repo.write("big.bin", big)
    repo.write("small.txt", b"small\n")
    repo.commit("two")
    with GitSource(repo.root) as src:
        oids = {c.path: c.blob for c in next(iter(src.commits())).changes}
        wanted = [oids["big.bin"], oids["small.txt"], oids["big.bin"], oids["small.txt"]]
        seen = []
        for i, (oid, size, stream) in enumerate(src.stream_blobs(wanted)):
            if i == 0:
                pieces = []
                while piece := stream.read(65536):
                    pieces.append(piece)
                assert b"".join(pieces) == big and size == len(big)
            elif i == 2:
                assert stream.read(10) == big[:10]  # the rest is skipped for us
            else:
                assert stream.read_all() == b"small\n"
            seen.append(oid)
        assert seen == wanted
        for _oid, _size, stream in src.stream_blobs([oids["big.bin"]]):
            chunked = chunk_stream(stream)
            assert b"".join(p.data for p in chunked) == big and chunked.digests == digests(big)


def test_a_head_read_to_sniff_is_put_back_in_front() -> None:
    data = _random(200_000, 4)
    stream = io.BytesIO(data)
    head = read_head(stream, 70_000)
    assert head == data[:70_000]
    chunker = chunk_stream(Prefixed(head, stream), **SMALL)
    assert b"".join(p.data for p in chunker) == data and chunker.digests == digests(data)


def test_extraction_never_hands_the_store_a_lone_surrogate(monkeypatch) -> None:
    from ingest import extract as extract_module
    from ingest.extract.base import Partial

    def broken_pdf_strings(text, ctx):
        return Partial({"title": "bad \ud835 title"}, [("keyword", 0, "x\udc00", None)])

    monkeypatch.setattr(
        extract_module, "EXTRACTORS", (("broken", broken_pdf_strings),), raising=True
    )
    result = extract_module.extract("text", media_type="text/plain", path="a.txt", encoding="utf-8")
    json.dumps(result.fields).encode("utf-8")
    assert result.fields["title"] == "bad \ufffd title"
    assert all(str(v).encode("utf-8") for item in result.items for v in item if v is not None)
