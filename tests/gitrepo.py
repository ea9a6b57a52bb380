"""Throwaway git repositories for tests: fixed identities and dates, so oids are stable."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

# git as the tests run it: no user config, no GIT_* variables from outside, C locale.
GIT_ENV = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
GIT_ENV.update(LC_ALL="C", GIT_CONFIG_NOSYSTEM="1", GIT_CONFIG_GLOBAL=os.devnull)


class Repo:
    """A repository whose every git call gets the next fixed, increasing date."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.tick = 0
        root.mkdir(parents=True, exist_ok=True)
        self.git("init", "--quiet", "--initial-branch=main")
        self.git("config", "user.name", "Test Author")
        self.git("config", "user.email", "author@example.org")
        self.git("config", "commit.gpgsign", "false")

    def git(self, *args: str | bytes) -> bytes:
        self.tick += 1
        clock = f"{self.tick // 60:02d}:{self.tick % 60:02d}"
        env = dict(
            GIT_ENV,
            GIT_AUTHOR_DATE=f"2020-01-01T00:{clock}+02:00",
            GIT_COMMITTER_DATE=f"2021-06-01T00:{clock}-05:00",
            GIT_COMMITTER_NAME="Test Committer",
            GIT_COMMITTER_EMAIL="committer@example.org",
        )
        done = subprocess.run(["git", *args], cwd=self.root, env=env, capture_output=True)
        assert done.returncode == 0, done.stderr.decode()
        return done.stdout

    def write(self, name: str | bytes, data: bytes) -> None:
        path = os.path.join(os.fsencode(self.root), os.fsencode(name))
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(data)

    def remove(self, name: str) -> None:
        os.remove(self.root / name)

    def commit(self, message: str, *extra: str) -> str:
        self.git("add", "--all")
        self.git("commit", "--quiet", "--allow-empty", "-m", message, *extra)
        return self.rev("HEAD")

    def rev(self, spec: str) -> str:
        return self.git("rev-parse", spec).decode().strip()
