"""`archive package`: the read side as a deployable bundle, for any number of replicas.

A bundle is a directory: the archive's public snapshot (immutable: it never changes once
written), the site's metadata, Datasette's inspect data (table counts, computed once here),
a requirements.txt (Datasette pinned to the version in use, and the plugin: wheels copied into
the bundle, or pip specs), a Dockerfile in the shape `datasette package` writes (the snapshot
served with `-i`, so the plugin's response cache and remembered grants apply), and
bundle.json, which says what was packaged (the snapshot's SHA-256, its latest checkpoint), so
every replica can be checked to serve the same tree. Replicas are stateless: put as many as
needed behind any load balancer, with one DATASETTE_SECRET for all of them.
"""

from __future__ import annotations

import hashlib
import json
import os
import shlex
import shutil
import tempfile
from dataclasses import asdict, dataclass
from importlib.metadata import version as installed_version
from pathlib import Path

from archive import __version__
from archive.errors import ArchiveError
from archive.passages.indexing import indexed_snapshot
from archive.publish.server.app import inspect_data, settings
from archive.publish.server.serve import say_indexing
from archive.store import Store, now_iso

SNAPSHOT = "archive.db"
METADATA = "metadata.yml"
INSPECT = "inspect-data.json"
WHEELS = "wheels"
PORT = 8001
PYTHON_IMAGE = "python:3.11-slim"  # the interpreter the compiled diff core is built for
DISTRIBUTION = "provenance-archive"


@dataclass(frozen=True)
class Bundle:
    """What `archive package` wrote: bundle.json's content."""

    archive_version: str
    datasette_version: str
    snapshot: str
    sha256: str
    size: int
    taken_at: str
    run_id: int | None
    tree_size: int | None
    tree_root: str | None
    requirements: list[str]
    command: list[str]

    def as_dict(self) -> dict:
        return asdict(self)


def setting_value(value: object) -> str:
    """A Datasette setting as `datasette serve --setting NAME VALUE` takes it."""
    if isinstance(value, bool):
        return "on" if value else "off"
    return str(value)


def serve_command(allow_sql: bool, port: str = "$PORT") -> list[str]:
    """The replica's command: Datasette over the snapshot (immutable, counts precomputed)
    with the settings `archive serve` uses."""
    cmd = ["datasette", "serve", "--host", "0.0.0.0", "-i", SNAPSHOT]
    cmd += ["--inspect-file", INSPECT, "--metadata", METADATA]
    for name, value in settings(allow_sql).items():
        cmd += ["--setting", name, setting_value(value)]
    return [*cmd, "--port", port]


def requirements(wheels: list[str], installs: list[str]) -> list[str]:
    """What a replica installs: Datasette as tested here, then the plugin (bundled wheels,
    pip specs, or this release by name)."""
    plugin = [f"./{WHEELS}/{name}" for name in wheels] + list(installs)
    this = f"{DISTRIBUTION}=={__version__}"
    return [f"datasette=={installed_version('datasette')}", *(plugin or [this])]


def dockerfile(command: list[str], has_wheels: bool) -> str:
    """A Dockerfile like `datasette package`'s: dependencies first (a cached layer), then the
    snapshot; the shell form so $PORT is the container's."""
    copy_wheels = f"COPY {WHEELS}/ ./{WHEELS}/\n" if has_wheels else ""
    quoted = " ".join(part if part == "$PORT" else shlex.quote(part) for part in command)
    return (
        f"FROM {PYTHON_IMAGE}\n"
        "WORKDIR /app\n"
        "COPY requirements.txt ./\n"
        f"{copy_wheels}"
        "RUN pip install --no-cache-dir -r requirements.txt\n"
        f"COPY {SNAPSHOT} {METADATA} {INSPECT} bundle.json ./\n"
        f"ENV PORT={PORT}\n"
        f"EXPOSE {PORT}\n"
        f"CMD {quoted}\n"
    )


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _check_dest(dest: Path) -> None:
    """DEST must be new, or an empty directory: a bundle never overwrites anything."""
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise ArchiveError(f"{dest} exists and is not an empty directory: never overwritten")
    if not dest.parent.is_dir():
        raise ArchiveError(f"{dest.parent} is not a directory")


def write_bundle(
    db: str,
    dest: Path,
    metadata: Path | None,
    allow_sql: bool = True,
    wheels: tuple[Path, ...] = (),
    installs: tuple[str, ...] = (),
) -> Bundle:
    """Write the bundle into the new (or empty) directory `dest`, whole or not at all: it is
    built beside it and renamed into place. Returns bundle.json's data."""
    for wheel in wheels:
        if not wheel.is_file() or wheel.suffix != ".whl":
            raise ArchiveError(f"{wheel} is not a wheel file (.whl)")
    dest = dest.absolute()
    _check_dest(dest)
    with Store(db, create=False) as store:
        work = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", suffix=".partial", dir=dest.parent))
        try:
            os.chmod(work, 0o755)
            taken_at = now_iso()
            latest = store.latest_checkpoint()
            # public: no absolute path of this machine
            indexed_snapshot(store, work / SNAPSHOT, notice=say_indexing)
            bundle = _fill(work, latest, taken_at, metadata, allow_sql, wheels, installs)
            if dest.exists():
                dest.rmdir()  # empty, checked above
            os.replace(work, dest)
        except OSError as e:
            shutil.rmtree(work, ignore_errors=True)
            raise ArchiveError(f"cannot write the bundle: {e}") from None
        except BaseException:
            shutil.rmtree(work, ignore_errors=True)
            raise
    return bundle


def _fill(
    dest: Path,
    latest: dict | None,
    taken_at: str,
    metadata: Path | None,
    allow_sql: bool,
    wheels: tuple[Path, ...],
    installs: tuple[str, ...],
) -> Bundle:
    """Everything beside the snapshot, and bundle.json."""
    snapshot = dest / SNAPSHOT
    inspect = inspect_data(str(snapshot))
    for entry in inspect.values():
        entry["file"] = SNAPSHOT  # where it is in the replica, not here
    (dest / INSPECT).write_text(json.dumps(inspect, indent=2), encoding="utf-8")
    if metadata is not None:
        shutil.copyfile(metadata, dest / METADATA)
    else:
        (dest / METADATA).write_text("{}\n", encoding="utf-8")
    if wheels:
        (dest / WHEELS).mkdir()
        for wheel in wheels:
            shutil.copyfile(wheel, dest / WHEELS / wheel.name)
    reqs = requirements([w.name for w in wheels], list(installs))
    (dest / "requirements.txt").write_text("\n".join(reqs) + "\n", encoding="utf-8")
    command = serve_command(allow_sql)
    (dest / "Dockerfile").write_text(dockerfile(command, bool(wheels)), encoding="utf-8")
    bundle = Bundle(
        archive_version=__version__,
        datasette_version=installed_version("datasette"),
        snapshot=SNAPSHOT,
        sha256=_sha256(snapshot),
        size=snapshot.stat().st_size,
        taken_at=taken_at,
        run_id=latest["id"] if latest else None,
        tree_size=latest["tree_size"] if latest else None,
        tree_root=latest["tree_root"] if latest else None,
        requirements=reqs,
        command=command,
    )
    (dest / "bundle.json").write_text(json.dumps(bundle.as_dict(), indent=2) + "\n", "utf-8")
    return bundle
