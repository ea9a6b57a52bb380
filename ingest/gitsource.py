"""Read a git history in bulk: per-commit metadata and tree changes, then blob bytes.

This is the read side of `archive ingest --git`. One `git log --raw -z` stream gives every
commit's provenance and its changes against its first parent; one long-lived
`git cat-file --batch` process serves blob bytes. Rename detection is left to the archive,
so renames appear here as a delete plus an add.
"""

from __future__ import annotations

import io
import os
import re
import shutil
import subprocess
import tempfile
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from ingest.paths import check_relative, path_text

SUBMODULE = "160000"
NOT_FILES = frozenset({"000000", SUBMODULE})  # absent, or a submodule (not a document)
OID = re.compile(rb"[0-9a-f]{40}(?:[0-9a-f]{24})?")
OID_TEXT = re.compile(r"[0-9a-f]{40}(?:[0-9a-f]{24})?")
BUNDLE_SIGNATURES = (b"# v2 git bundle\n", b"# v3 git bundle\n")
CHUNK = 1 << 16
# Outstanding `cat-file` requests; 1000 * 65 bytes stays under a 64 KiB pipe, so writes never
# block while git is blocked on its own output (no deadlock, no writer thread).
BATCH_WINDOW = 1000

# Config that could change what `git log` prints, pinned on the command line (highest priority).
CONFIG_OVERRIDES = (
    "core.quotepath=off",
    "i18n.logOutputEncoding=UTF-8",
    "log.showSignature=false",
    "log.mailmap=false",
    "diff.renames=false",
    "log.showRoot=true",
    "core.abbrev=no",
)
FIELDS = ("%H", "%P", "%an", "%ae", "%aI", "%cn", "%ce", "%cI", "%B")
# \x01 marks a commit; NUL ends each field. Paths never land in a field position.
LOG_FORMAT = "%x01" + "%x00".join(FIELDS) + "%x00"


class GitError(RuntimeError):
    """A git source cannot be read (not a repository, bad ref, git missing, corrupt bundle)."""


@dataclass(frozen=True)
class Change:
    status: str  # "A" | "M" | "D" | "T"
    path: str
    blob: str | None  # new content's blob oid; None for "D"
    mode: str  # new mode; for "D" the mode the path had


@dataclass(frozen=True)
class Refused:
    """A tree entry that cannot become a document (hostile or unrepresentable path)."""

    path: str  # stored-path encoding of the raw bytes (see ingest.paths)
    reason: str


@dataclass(frozen=True)
class Commit:
    oid: str
    parents: tuple[str, ...]
    author_name: str
    author_email: str
    author_date: str
    committer_name: str
    committer_email: str
    committer_date: str
    message: str
    changes: tuple[Change, ...]
    refused: tuple[Refused, ...] = ()


def git_env() -> dict[str, str]:
    """An environment in which no GIT_* variable, system or global config, locale or replace
    ref can change git's output: same repository in, same records out, on any machine."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update(
        LC_ALL="C",
        LANG="C",
        LANGUAGE="",
        GIT_CONFIG_NOSYSTEM="1",
        GIT_CONFIG_GLOBAL=os.devnull,
        GIT_NO_REPLACE_OBJECTS="1",
        GIT_TERMINAL_PROMPT="0",
        GIT_OPTIONAL_LOCKS="0",
        GIT_ATTR_NOSYSTEM="1",
    )
    return env


def git_base(git_dir: str | None = None) -> list[str]:
    cmd = ["git"]
    for item in CONFIG_OVERRIDES:
        cmd += ["-c", item]
    if git_dir is not None:
        cmd.append(f"--git-dir={git_dir}")
    return cmd


def one_line(stderr: bytes, fallback: str) -> str:
    """The first meaningful line of git's complaint, so errors stay one line."""
    for line in stderr.decode("utf-8", "backslashreplace").splitlines():
        line = line.strip()
        if line and not line.startswith("hint:"):
            return line
    return fallback


def run_git(
    args: list[str], env: dict[str, str], cwd: str | None = None, check: bool = True
) -> bytes:
    """git's stdout; a failure becomes a one-line GitError (or b"" when check is False)."""
    try:
        done = subprocess.run(args, env=env, cwd=cwd, capture_output=True, check=False)
    except FileNotFoundError as exc:
        raise GitError("git is not installed or not on PATH") from exc
    if done.returncode != 0 and not check:
        return b""
    if done.returncode != 0:
        raise GitError(one_line(done.stderr, f"git {args[-1]} failed ({done.returncode})"))
    return done.stdout


def is_bundle(path: Path) -> bool:
    with open(path, "rb") as f:
        return f.read(16) in BUNDLE_SIGNATURES


def refusal(path: bytes) -> str | None:
    """Why a path from a git tree must not become a document, or None.

    Git itself refuses to check such entries out, but a hand-made tree (`git mktree`,
    `hash-object`) can hold them: a `.git` component (in any case, with trailing dots or
    spaces: what case-folding file systems treat as `.git`), `..`, an absolute path, NUL."""
    reason = check_relative(path)
    if reason is not None:
        return reason
    for part in path.split(b"/"):
        if part.rstrip(b". ").lower() == b".git":
            return "path has a '.git' component"
    return None


def parse_raw_meta(meta: bytes, path: bytes) -> Change | Refused | None:
    """One `--raw` entry (":oldmode newmode oldoid newoid status", path) as a Change.

    Submodules are not documents: they are dropped, and a file<->submodule type change
    becomes the delete or add of the file side. A hostile path is Refused when it brings
    content, and dropped when it goes (it never became a document)."""
    try:
        old_mode, new_mode, _old_oid, new_oid, status = meta.lstrip(b"\n")[1:].decode().split()
    except (UnicodeDecodeError, ValueError) as exc:
        raise GitError(f"unexpected git log --raw entry: {meta[:80]!r}") from exc
    status = status[:1]
    if status not in "AMDT":
        raise GitError(f"unexpected change status {status!r} in git log output")
    old_is_file = old_mode not in NOT_FILES
    bad = refusal(path)
    if new_mode in NOT_FILES:
        if bad is not None:
            return None
        return Change("D", path_text(path), None, old_mode) if old_is_file else None
    if bad is not None:
        return Refused(path_text(path), f"git: {bad}: not archived")
    return Change(status if old_is_file else "A", path_text(path), new_oid, new_mode)


def nul_tokens(stream: IO[bytes], chunk_size: int = CHUNK) -> Iterator[bytes]:
    """NUL-separated tokens of a byte stream, read in chunks so memory stays flat."""
    rest = b""
    while chunk := stream.read(chunk_size):
        parts = (rest + chunk).split(b"\0")
        rest = parts.pop()
        yield from parts
    if rest:
        yield rest


def text(raw: bytes) -> str:
    return raw.decode("utf-8", "backslashreplace")


def make_commit(
    fields: list[bytes], changes: list[Change], refused: list[Refused] | None = None
) -> Commit:
    oid, parents, an, ae, ad, cn, ce, cd, message = fields
    return Commit(
        oid=oid[1:].decode("ascii"),
        parents=tuple(parents.decode("ascii").split()),
        author_name=text(an),
        author_email=text(ae),
        author_date=ad.decode("ascii"),
        committer_name=text(cn),
        committer_email=text(ce),
        committer_date=cd.decode("ascii"),
        message=text(message),
        changes=tuple(changes),
        refused=tuple(refused or ()),
    )


def parse_log(tokens: Iterator[bytes]) -> Iterator[Commit]:
    """Commits from the NUL tokens of `git log -z --raw --format=LOG_FORMAT`.

    Each token's role follows from its position (marker, fixed fields, then meta/path pairs),
    so any byte in a path or message is safe; anything out of place raises GitError."""
    fields: list[bytes] | None = None
    changes: list[Change] = []
    refused: list[Refused] = []
    for token in tokens:
        head = token.lstrip(b"\n")
        if not head:
            continue
        if head[:1] == b"\x01" and OID.fullmatch(head[1:]):
            if fields is not None:
                yield make_commit(fields, changes, refused)
            fields = [head]
            for _ in range(len(FIELDS) - 1):
                fields.append(next(tokens, b""))
            changes, refused = [], []
        elif head[:1] == b":" and fields is not None:
            path = next(tokens, None)
            if not path:
                raise GitError("git log output ended inside a change entry")
            change = parse_raw_meta(head, path)
            if isinstance(change, Refused):
                refused.append(change)
            elif change is not None:
                changes.append(change)
        else:
            raise GitError(f"unexpected git log output: {head[:80]!r}")
    if fields is not None:
        yield make_commit(fields, changes, refused)


class BlobStream(io.RawIOBase):
    """One blob's bytes as they come from `git cat-file --batch` (read at most `size`)."""

    def __init__(self, source: IO[bytes], oid: str, size: int) -> None:
        super().__init__()
        self.source, self.oid, self.size, self.left = source, oid, size, size

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        n = min(len(buffer), self.left)
        if n == 0:
            return 0
        got = self.source.readinto(memoryview(buffer)[:n])
        if not got:
            raise GitError(f"cannot read blob {self.oid}: truncated reply from git cat-file")
        self.left -= got
        return got

    def read_all(self) -> bytes:
        data = self.source.read(self.left)
        if len(data) != self.left:
            raise GitError(f"cannot read blob {self.oid}: truncated reply from git cat-file")
        self.left = 0
        return data

    def skip_rest(self) -> None:
        while self.left:
            got = len(self.source.read(min(self.left, CHUNK)))
            if not got:
                raise GitError(f"cannot read blob {self.oid}: truncated reply from git cat-file")
            self.left -= got


class GitSource:
    """A repository (work tree or bare) or a .bundle file, read without touching the network."""

    def __init__(self, location: str | Path) -> None:
        self.env = git_env()
        self.tmpdir: str | None = None
        self.batch: subprocess.Popen[bytes] | None = None
        path = Path(location).expanduser().absolute()
        if not path.exists():
            raise GitError(f"no such repository or bundle: {path}")
        if path.is_file():
            if not is_bundle(path):
                raise GitError(f"not a git bundle: {path}")
            self.git_dir = self.clone_bundle(path)
        else:
            self.git_dir = self.find_git_dir(path)
        try:
            self.head = self.resolve("HEAD")
        except GitError:
            self.close()
            raise

    def clone_bundle(self, bundle: Path) -> str:
        self.tmpdir = tempfile.mkdtemp(prefix="gitsource-")
        target = os.path.join(self.tmpdir, "repo.git")
        try:
            run_git(
                git_base() + ["clone", "--bare", "--quiet", "--", str(bundle), target],
                self.env,
                cwd=self.tmpdir,
            )
        except GitError as exc:
            self.close()
            raise GitError(f"cannot read bundle {bundle}: {exc}") from None
        self.point_head_at_only_branch(target)
        return target

    def point_head_at_only_branch(self, git_dir: str) -> None:
        """A bundle made without HEAD (`git bundle create f main`) clones with an unborn HEAD;
        when the bundle holds exactly one branch, that branch is what HEAD must mean."""
        base = git_base(git_dir)
        if run_git(base + ["rev-parse", "--verify", "--quiet", "HEAD"], self.env, check=False):
            return
        refs = run_git(base + ["for-each-ref", "--format=%(refname)", "refs/heads/"], self.env)
        branches = refs.decode("utf-8", "surrogateescape").split()
        if len(branches) == 1:
            run_git(base + ["symbolic-ref", "HEAD", branches[0]], self.env)

    def find_git_dir(self, path: Path) -> str:
        """The repository at exactly `path`: a ceiling stops git from finding an enclosing one."""
        env = dict(self.env, GIT_CEILING_DIRECTORIES=str(path.parent))
        try:
            out = run_git(git_base() + ["rev-parse", "--absolute-git-dir"], env, cwd=str(path))
        except GitError as exc:
            raise GitError(f"not a git repository: {path} ({exc})") from None
        return out.decode("utf-8", "surrogateescape").rstrip("\n")

    def git(self, *args: str) -> bytes:
        return run_git(git_base(self.git_dir) + list(args), self.env)

    def resolve(self, ref: str) -> str:
        """The commit oid a ref names; refuses option-like refs so a ref can't become a flag."""
        if ref.startswith("-"):
            raise GitError(f"bad ref: {ref!r}")
        try:
            out = self.git(
                "rev-parse", "--verify", "--quiet", "--end-of-options", f"{ref}^{{commit}}"
            )
        except GitError:
            out = b""
        oid = out.decode("ascii", "replace").strip()
        if not OID_TEXT.fullmatch(oid):
            raise GitError(f"bad ref: {ref!r} is not a commit in {self.git_dir}")
        return oid

    def revision_range(self, ref: str, after: str | None) -> str:
        """`after..ref`, once `after` is checked to be on ref's first-parent chain.

        Cheap check: the oldest commit of the range must have `after` as first parent."""
        tip = self.resolve(ref)
        if after is None:
            return tip
        base = self.resolve(after)
        if base == tip:
            return f"{base}..{tip}"
        out = self.git("rev-list", "--first-parent", "--parents", f"{base}..{tip}")
        lines = out.decode("ascii").splitlines()
        oldest = lines[-1].split() if lines else []
        if len(oldest) < 2 or oldest[1] != base:
            raise GitError(f"{after!r} is not on the first-parent chain of {ref!r}")
        return f"{base}..{tip}"

    def commits(self, ref: str = "HEAD", after: str | None = None) -> Iterator[Commit]:
        """First-parent chain of `ref`, oldest first, each with its changes against its first
        parent (root against the empty tree). Errors in ref/after raise here, not on iteration."""
        rev = self.revision_range(ref, after)
        cmd = git_base(self.git_dir) + [
            "log",
            "--first-parent",
            "--reverse",
            "--raw",
            "-z",
            "--root",
            "--no-renames",
            "--diff-merges=first-parent",
            "--no-abbrev",
            "--no-color",
            "--no-notes",
            "--no-show-signature",
            "--no-decorate",
            f"--format={LOG_FORMAT}",
            rev,
            "--",
        ]
        return self.stream_commits(cmd)

    def stream_commits(self, cmd: list[str]) -> Iterator[Commit]:
        with tempfile.TemporaryFile() as errors:
            proc = subprocess.Popen(cmd, env=self.env, stdout=subprocess.PIPE, stderr=errors)
            assert proc.stdout is not None
            try:
                yield from parse_log(nul_tokens(proc.stdout))
                code = proc.wait()
            finally:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
                proc.stdout.close()
            if code != 0:
                errors.seek(0)
                raise GitError(one_line(errors.read(), f"git log failed ({code})"))

    def count_commits(self, ref: str = "HEAD", after: str | None = None) -> int:
        rev = self.revision_range(ref, after)
        return int(self.git("rev-list", "--first-parent", "--count", rev))

    def start_batch(self) -> subprocess.Popen[bytes]:
        if self.batch is None or self.batch.poll() is not None:
            self.batch = subprocess.Popen(
                git_base(self.git_dir) + ["cat-file", "--batch"],
                env=self.env,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
            )
        return self.batch

    def read_blobs(self, oids: Iterable[str]) -> Iterator[tuple[str, bytes]]:
        """(oid, exact bytes) for each blob oid, in input order, through one persistent
        `git cat-file --batch` process with requests pipelined ahead of the replies."""
        for oid, _size, stream in self.stream_blobs(oids):
            yield oid, stream.read_all()

    def stream_blobs(self, oids: Iterable[str]) -> Iterator[tuple[str, int, BlobStream]]:
        """(oid, size, stream) for each blob oid, in input order: the stream reads the blob's
        bytes straight from git, so a large blob never has to be held in memory. A stream is
        valid until the next item is asked for (what it left unread is skipped then)."""
        proc = self.start_batch()
        assert proc.stdin is not None and proc.stdout is not None
        pending: deque[str] = deque()
        source = iter(oids)
        exhausted = False
        current: BlobStream | None = None
        try:
            while True:
                while not exhausted and len(pending) < BATCH_WINDOW:
                    oid = next(source, None)
                    if oid is None:
                        exhausted = True
                        break
                    if not OID_TEXT.fullmatch(oid):
                        raise GitError(f"not a full object id: {oid!r}")
                    proc.stdin.write(oid.encode("ascii") + b"\n")
                    pending.append(oid)
                if not pending:
                    return
                proc.stdin.flush()
                oid = pending.popleft()
                current = self.read_reply(proc.stdout, oid)
                yield oid, current.size, current
                self.finish(current)
                current = None
        finally:
            if current is not None:
                try:
                    self.finish(current)
                except GitError:
                    pending.clear()
            self.drain(pending)

    def read_reply(self, stdout: IO[bytes], oid: str) -> BlobStream:
        header = stdout.readline()
        parts = header.split()
        if len(parts) != 3:
            self.stop_batch()
            raise GitError(f"cannot read blob {oid}: {text(header).strip() or 'git exited'}")
        got, kind, size = parts
        if got.decode() != oid or not size.isdigit():
            self.stop_batch()
            raise GitError(f"cannot read blob {oid}: unexpected reply from git cat-file")
        stream = BlobStream(stdout, oid, int(size))
        if kind != b"blob":
            self.finish(stream)
            raise GitError(f"object {oid} is a {kind.decode()}, not a blob")
        return stream

    def finish(self, stream: BlobStream) -> None:
        """Skip what a reader left of a reply and check its closing newline."""
        try:
            stream.skip_rest()
            if stream.source.read(1) != b"\n":
                raise GitError(f"cannot read blob {stream.oid}: truncated reply from git cat-file")
        except GitError:
            self.stop_batch()
            raise

    def drain(self, pending: deque[str]) -> None:
        """Discard replies a caller stopped waiting for, so the next read stays in step."""
        proc = self.batch
        if not pending or proc is None or proc.poll() is not None:
            return
        assert proc.stdin is not None and proc.stdout is not None
        try:
            proc.stdin.flush()
            for _ in range(len(pending)):
                parts = proc.stdout.readline().split()
                if len(parts) == 3:
                    proc.stdout.read(int(parts[2]) + 1)
                elif len(parts) != 2:
                    raise OSError("cat-file out of step")
        except (OSError, ValueError):
            self.stop_batch()
        pending.clear()

    def stop_batch(self) -> None:
        proc, self.batch = self.batch, None
        if proc is None:
            return
        for stream in (proc.stdin, proc.stdout):
            try:
                if stream is not None:
                    stream.close()
            except OSError:
                pass
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def close(self) -> None:
        self.stop_batch()
        if self.tmpdir is not None:
            shutil.rmtree(self.tmpdir, ignore_errors=True)
            self.tmpdir = None

    def __enter__(self) -> GitSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
