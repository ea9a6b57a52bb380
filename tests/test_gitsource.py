"""ingest.gitsource against real git repositories built in temporary directories."""

from __future__ import annotations

import io
import os
import subprocess
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ingest.gitsource import (
    BATCH_WINDOW,
    LOG_FORMAT,
    Change,
    GitError,
    GitSource,
    nul_tokens,
    parse_log,
    parse_raw_meta,
    path_text,
    refusal,
)
from tests.gitrepo import GIT_ENV, Repo

SAMPLE = Path(__file__).resolve().parent.parent / "samples" / "terms-sample.bundle"


def read_all(location: str | Path, **kw: str) -> list:
    with GitSource(location) as src:
        return list(src.commits(**kw))


def by_path(commit) -> dict[str, Change]:
    return {c.path: c for c in commit.changes}


def test_add_modify_delete_readd_and_metadata(tmp_path: Path) -> None:
    repo = Repo(tmp_path / "r")
    repo.write("a.txt", b"one\n")
    repo.write("dir/b.txt", b"bee\n")
    c1 = repo.commit("First\n\nBody line \u00e9\nX-engine-version: 1.0\n")
    repo.write("a.txt", b"two\n")
    c2 = repo.commit("modify a")
    os.remove(tmp_path / "r" / "dir" / "b.txt")
    c3 = repo.commit("delete b")
    repo.write("dir/b.txt", b"bee again\n")
    c4 = repo.commit("re-add b")

    commits = read_all(tmp_path / "r")
    assert [c.oid for c in commits] == [c1, c2, c3, c4]
    first = commits[0]
    assert first.parents == ()
    assert commits[1].parents == (c1,)
    assert first.author_name == "Test Author"
    assert first.author_email == "author@example.org"
    assert first.author_date == "2020-01-01T00:00:06+02:00"
    assert first.committer_name == "Test Committer"
    assert first.committer_email == "committer@example.org"
    assert first.committer_date == "2021-06-01T00:00:06-05:00"
    assert first.message == "First\n\nBody line \u00e9\nX-engine-version: 1.0\n"
    assert by_path(first) == {
        "a.txt": Change("A", "a.txt", repo.rev(f"{c1}:a.txt"), "100644"),
        "dir/b.txt": Change("A", "dir/b.txt", repo.rev(f"{c1}:dir/b.txt"), "100644"),
    }
    assert commits[1].changes == (Change("M", "a.txt", repo.rev(f"{c2}:a.txt"), "100644"),)
    assert commits[2].changes == (Change("D", "dir/b.txt", None, "100644"),)
    assert commits[3].changes == (Change("A", "dir/b.txt", repo.rev(f"{c4}:dir/b.txt"), "100644"),)


def test_message_is_byte_exact_against_the_commit_object(tmp_path: Path) -> None:
    repo = Repo(tmp_path / "r")
    parent = repo.commit("Record new changes\n\n  indented https://example.org/a?b=c\n\n\ttab\n\n")
    # A hand-made commit object: odd whitespace, no final newline, non-ASCII.
    message = "\n  lead\n\nsnapshot https://example.org/x \u00e9\n\n  end"
    obj = (
        f"tree {repo.rev('HEAD^{tree}')}\nparent {parent}\n"
        "author A <a@x> 1577836800 +0130\ncommitter C <c@x> 1577836801 -0000\n\n" + message
    )
    crafted = (
        subprocess.run(
            ["git", "hash-object", "-t", "commit", "-w", "--stdin"],
            cwd=repo.root,
            env=GIT_ENV,
            input=obj.encode(),
            capture_output=True,
            check=True,
        )
        .stdout.decode()
        .strip()
    )
    repo.git("update-ref", "HEAD", crafted)
    commits = read_all(tmp_path / "r")
    for commit in commits:
        raw = repo.git("cat-file", "commit", commit.oid)
        assert commit.message.encode() == raw.split(b"\n\n", 1)[1]
    assert commits[1].message == message
    assert commits[1].author_date == "2020-01-01T01:30:00+01:30"
    assert commits[1].committer_date == "2020-01-01T00:00:01+00:00"


def test_rename_is_delete_plus_add(tmp_path: Path) -> None:
    repo = Repo(tmp_path / "r")
    repo.write("old.md", b"same content\n" * 20)
    repo.commit("add")
    os.rename(tmp_path / "r" / "old.md", tmp_path / "r" / "new.md")
    repo.commit("rename")
    commits = read_all(tmp_path / "r")
    blob = repo.rev("HEAD:new.md")
    assert sorted(commits[1].changes, key=lambda c: c.path) == [
        Change("A", "new.md", blob, "100644"),
        Change("D", "old.md", None, "100644"),
    ]


def test_merge_lists_first_parent_chain_and_merge_changes(tmp_path: Path) -> None:
    repo = Repo(tmp_path / "r")
    repo.write("main.txt", b"m1\n")
    c1 = repo.commit("c1")
    repo.git("checkout", "--quiet", "-b", "side")
    repo.write("side.txt", b"s1\n")
    s1 = repo.commit("s1")
    repo.write("side.txt", b"s2\n")
    s2 = repo.commit("s2")
    repo.git("checkout", "--quiet", "main")
    repo.write("main.txt", b"m2\n")
    c2 = repo.commit("c2")
    repo.git("merge", "--quiet", "--no-ff", "--no-edit", "side")
    merge = repo.rev("HEAD")

    with GitSource(tmp_path / "r") as src:
        commits = list(src.commits())
        assert [c.oid for c in commits] == [c1, c2, merge]
        assert commits[2].parents == (c2, s2)
        assert commits[2].changes == (Change("A", "side.txt", repo.rev("side:side.txt"), "100644"),)
        assert src.count_commits() == 3
        # Another ref reads that ref's own first-parent chain.
        assert [c.oid for c in src.commits("side")] == [c1, s1, s2]
        # A side commit is not on main's first-parent chain: resuming after it is an error.
        with pytest.raises(GitError, match="not on the first-parent chain"):
            src.commits(after=s1)
        with pytest.raises(GitError, match="not on the first-parent chain"):
            src.count_commits(after=s2)


def test_binary_blobs_are_exact_and_match_cat_file(tmp_path: Path) -> None:
    repo = Repo(tmp_path / "r")
    payload = bytes(range(256)) * 8 + b"\0\r\n\r" + b"\n" * 3
    repo.write("bin/data.bin", payload)
    repo.write("empty", b"")
    repo.write("crlf.txt", b"a\r\nb\r\n")
    repo.commit("binary")
    with GitSource(tmp_path / "r") as src:
        (commit,) = src.commits()
        oids = [c.blob for c in sorted(commit.changes, key=lambda c: c.path)]
        got = list(src.read_blobs(oids))
    assert [oid for oid, _ in got] == oids
    for oid, data in got:
        assert data == repo.git("cat-file", "blob", oid)
    assert dict(got)[repo.rev("HEAD:bin/data.bin")] == payload
    assert dict(got)[repo.rev("HEAD:empty")] == b""


def test_non_utf8_path_is_backslash_escaped(tmp_path: Path) -> None:
    repo = Repo(tmp_path / "r")
    repo.write(b"caf\xe9.txt", b"latin-1 name\n")
    repo.write("na\u00efve/\u65e5\u672c.md", b"utf-8 name\n")
    repo.commit("odd names")
    (commit,) = read_all(tmp_path / "r")
    assert sorted(c.path for c in commit.changes) == ["caf\\xe9.txt", "na\u00efve/\u65e5\u672c.md"]
    assert path_text(b"caf\xe9.txt") == "caf\\xe9.txt"


def test_empty_commit_has_no_changes(tmp_path: Path) -> None:
    repo = Repo(tmp_path / "r")
    root = repo.commit("empty root")
    repo.write("a", b"a\n")
    repo.commit("add a")
    empty = repo.commit("nothing changed")
    commits = read_all(tmp_path / "r")
    assert [c.oid for c in commits][0] == root
    assert commits[0].changes == ()
    assert commits[2].oid == empty and commits[2].changes == ()
    assert len(commits[1].changes) == 1


def test_symlinks_are_changes_and_submodules_are_skipped(tmp_path: Path) -> None:
    repo = Repo(tmp_path / "r")
    repo.write("target.txt", b"t\n")
    os.symlink("target.txt", tmp_path / "r" / "link")
    repo.commit("link")
    gitlink = "1" * 40
    repo.git("update-index", "--add", "--cacheinfo", f"160000,{gitlink},vendor/sub")
    repo.git("commit", "--quiet", "-m", "submodule")
    os.remove(tmp_path / "r" / "link")
    repo.write("link", b"now a file\n")
    repo.commit("type change")
    with GitSource(tmp_path / "r") as src:
        commits = list(src.commits())
        link = by_path(commits[0])["link"]
        assert link.mode == "120000"
        assert dict(src.read_blobs([link.blob]))[link.blob] == b"target.txt"
    assert commits[1].changes == ()
    assert commits[2].changes == (Change("T", "link", repo.rev("HEAD:link"), "100644"),)


def test_bundle_reads_like_the_repository_and_cleans_up(tmp_path: Path) -> None:
    repo = Repo(tmp_path / "r")
    for i in range(4):
        repo.write(f"doc{i % 2}.md", f"version {i}\n".encode())
        repo.commit(f"v{i}")
    bundle = tmp_path / "h.bundle"
    repo.git("bundle", "create", "--quiet", str(bundle), "main")
    with GitSource(bundle) as src:
        tmp = Path(src.tmpdir)
        assert tmp.is_dir()
        assert src.head == repo.rev("HEAD")
        from_bundle = list(src.commits())
    assert not tmp.exists()
    assert from_bundle == read_all(tmp_path / "r")


def test_after_resumes_exactly(tmp_path: Path) -> None:
    repo = Repo(tmp_path / "r")
    for i in range(6):
        repo.write(f"f{i % 3}", f"{i}\n".encode())
        repo.commit(f"c{i}")
    with GitSource(tmp_path / "r") as src:
        full = list(src.commits())
        for i, commit in enumerate(full):
            assert list(src.commits(after=commit.oid)) == full[i + 1 :]
            assert src.count_commits(after=commit.oid) == len(full) - i - 1
        assert list(src.commits(after=full[2].oid[:10])) == full[3:]
        # `after` newer than the ref's tip is not on its chain either.
        with pytest.raises(GitError, match="not on the first-parent chain"):
            src.commits(ref=full[1].oid, after=full[3].oid)
        assert list(src.commits(ref=full[3].oid, after=full[1].oid)) == full[2:4]
        with pytest.raises(GitError, match="bad ref"):
            src.commits(after="0" * 40)
        with pytest.raises(GitError, match="bad ref"):
            src.commits(ref="--all")


def test_read_blobs_order_duplicates_errors_and_early_stop(tmp_path: Path) -> None:
    repo = Repo(tmp_path / "r")
    for i in range(30):
        repo.write(f"f{i:02d}", f"content {i}\n".encode() * (i + 1))
    repo.commit("many")
    with GitSource(tmp_path / "r") as src:
        oids = [c.blob for c in next(iter(src.commits())).changes]
        wanted = list(reversed(oids)) + oids[:3]
        assert [o for o, _ in src.read_blobs(wanted)] == wanted
        # Stop early: the process must stay in step for the next call.
        partial = src.read_blobs(oids)
        assert next(partial)[0] == oids[0]
        partial.close()
        assert [d for _, d in src.read_blobs(oids[5:8])] == [
            repo.git("cat-file", "blob", o) for o in oids[5:8]
        ]
        with pytest.raises(GitError, match="cannot read blob"):
            list(src.read_blobs([oids[0], "f" * 40]))
        with pytest.raises(GitError, match="is a tree"):
            list(src.read_blobs([repo.rev("HEAD^{tree}")]))
        with pytest.raises(GitError, match="not a full object id"):
            list(src.read_blobs(["HEAD"]))
        assert list(src.read_blobs(oids[:1])) == [(oids[0], repo.git("cat-file", "blob", oids[0]))]


@pytest.mark.parametrize("kind", ["missing", "plain_dir", "subdir", "file", "bad_bundle"])
def test_bad_location_raises_one_line_git_error(tmp_path: Path, kind: str) -> None:
    repo = Repo(tmp_path / "r")
    repo.write("sub/a", b"a")
    repo.commit("a")
    location = {
        "missing": tmp_path / "nope",
        "plain_dir": tmp_path / "plain",
        "subdir": tmp_path / "r" / "sub",
        "file": tmp_path / "notes.txt",
        "bad_bundle": tmp_path / "bad.bundle",
    }[kind]
    (tmp_path / "plain").mkdir()
    (tmp_path / "notes.txt").write_text("hello\n")
    (tmp_path / "bad.bundle").write_bytes(b"# v2 git bundle\n" + b"\x00garbage" * 10)
    with pytest.raises(GitError) as info:
        GitSource(location)
    assert "\n" not in str(info.value) and str(info.value)


def test_unborn_head_is_a_bad_ref(tmp_path: Path) -> None:
    Repo(tmp_path / "r")
    with pytest.raises(GitError, match="bad ref"):
        GitSource(tmp_path / "r")


def test_bare_repository(tmp_path: Path) -> None:
    repo = Repo(tmp_path / "r")
    repo.write("a", b"a")
    repo.commit("a")
    repo.git("clone", "--quiet", "--bare", str(tmp_path / "r"), str(tmp_path / "b.git"))
    assert read_all(tmp_path / "b.git") == read_all(tmp_path / "r")


# --- the parser alone, on synthetic `git log -z --raw` output ---------------------------------

field = st.binary(max_size=40).filter(lambda b: b"\0" not in b)
raw_path = st.binary(min_size=1, max_size=30).filter(lambda b: b"\0" not in b)
oid_st = st.text("0123456789abcdef", min_size=40, max_size=40)


@st.composite
def log_entries(draw):
    entries = []
    for _ in range(draw(st.integers(0, 4))):
        changes = [
            (draw(st.sampled_from("AMDT")), draw(raw_path), draw(oid_st))
            for _ in range(draw(st.integers(0, 3)))
        ]
        entries.append((draw(oid_st), draw(st.lists(oid_st, max_size=2)), draw(field), changes))
    return entries


def render(entries) -> bytes:
    """What `git log -z --raw --format=LOG_FORMAT` prints for these commits."""
    assert LOG_FORMAT.startswith("%x01")
    out = b""
    for oid, parents, text, changes in entries:
        fields = [oid.encode(), " ".join(parents).encode(), text, b"e@x", b"2020-01-01T00:00:00Z"]
        fields += [text, b"c@x", b"2020-01-01T00:00:00Z", text]
        out += b"\x01" + b"\0".join(fields) + b"\0\0"
        if changes:
            out += b"\n"
        for status, path, blob in changes:
            old = "000000" if status == "A" else "100644"
            new = "000000" if status == "D" else "100755"
            out += f":{old} {new} {'0' * 40} {blob} {status}".encode() + b"\0" + path + b"\0"
    return out


@settings(max_examples=150, deadline=None)
@given(log_entries(), st.integers(1, 64))
def test_parser_roundtrips_any_bytes_at_any_chunk_size(entries, chunk: int) -> None:
    commits = list(parse_log(nul_tokens(io.BytesIO(render(entries)), chunk)))
    assert [c.oid for c in commits] == [e[0] for e in entries]
    for commit, (_, parents, text, changes) in zip(commits, entries, strict=True):
        assert commit.parents == tuple(parents)
        assert commit.message == commit.author_name == text.decode("utf-8", "backslashreplace")
        assert [(c.status, c.path, c.blob) for c in commit.changes] == [
            (s, path_text(p), None if s == "D" else b) for s, p, b in changes if refusal(p) is None
        ]
        assert [r.path for r in commit.refused] == [
            path_text(p) for s, p, _ in changes if s != "D" and refusal(p) is not None
        ]


@given(st.binary(max_size=40))
def test_path_text_is_utf8_text_and_exact_for_valid_utf8(raw: bytes) -> None:
    shown = path_text(raw)
    shown.encode("utf-8")  # never a lone surrogate
    try:
        assert shown == raw.decode("utf-8").replace("\\", "\\\\")
    except UnicodeDecodeError:
        assert "\\x" in shown


@pytest.mark.parametrize(
    ("old", "new", "status", "expected"),
    [
        ("000000", "160000", "A", None),  # submodule added
        ("160000", "160000", "M", None),  # submodule moved to another commit
        ("160000", "000000", "D", None),  # submodule removed
        ("100644", "160000", "T", Change("D", "p", None, "100644")),  # file became submodule
        ("160000", "100644", "T", Change("A", "p", "b" * 40, "100644")),  # and back
        ("100644", "120000", "T", Change("T", "p", "b" * 40, "120000")),  # file became symlink
        ("100644", "100755", "M", Change("M", "p", "b" * 40, "100755")),
    ],
)
def test_raw_entry_modes(old: str, new: str, status: str, expected: Change | None) -> None:
    blob = "0" * 40 if new == "000000" else "b" * 40
    assert parse_raw_meta(f":{old} {new} {'a' * 40} {blob} {status}".encode(), b"p") == expected


def test_parser_rejects_out_of_place_output() -> None:
    with pytest.raises(GitError):
        list(parse_log(iter([b"garbage"])))
    with pytest.raises(GitError):
        list(parse_log(iter([b"\x01" + b"a" * 40, b"", b"", b"", b"", b"", b"", b"", b"", b":x"])))


# --- the real sample -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def sample():
    with GitSource(SAMPLE) as src:
        yield src, list(src.commits())


def test_sample_commit_and_change_counts(sample) -> None:
    src, commits = sample
    assert len(commits) == 1383 == src.count_commits()
    assert commits[-1].oid == src.head == "979b1ace7d6216f94b3d431d35e8c7216755d617"
    changes = [c for commit in commits for c in commit.changes]
    assert len(changes) == 1383
    added = {c.path for c in changes if c.status == "A"}
    assert len(added) == 44 == len({c.path for c in changes})
    assert {c.status for c in changes} == {"A", "M"}
    assert commits[0].author_date.startswith("2012-")
    assert commits[-1].author_date.startswith("2026-")
    assert "X-engine-version: " in commits[-1].message


def test_sample_per_path_counts_match_git_log(sample) -> None:
    src, commits = sample
    for path in [
        "Wolfram/Privacy Policy.md",
        "Alexa/Terms of Service.md",
        "Bolt/Privacy Policy.md",
    ]:
        ours = sum(1 for commit in commits if any(c.path == path for c in commit.changes))
        theirs = src.git("log", "--first-parent", "--format=%H", "--", path).split()
        assert ours == len(theirs) > 0


def test_sample_blobs_in_bulk(sample) -> None:
    src, commits = sample
    oids = [c.blob for commit in commits for c in commit.changes]
    assert len(oids) > BATCH_WINDOW  # exercises the pipelined window
    sizes = {oid: len(data) for oid, data in src.read_blobs(oids)}
    expected = src.git(
        "cat-file", "--batch-check=%(objectname) %(objectsize)", "--batch-all-objects"
    )
    all_sizes = dict(line.split() for line in expected.decode().splitlines())
    assert all(sizes[oid] == int(all_sizes[oid]) for oid in oids)
    last = commits[-1].changes[0].blob
    assert dict(src.read_blobs([last]))[last] == src.git("cat-file", "blob", last)
