"""Source provenance from sidecars (`<file>.meta.yml|.meta.json`), front matter and file names.

The keys are normalised so that the store can keep `source_url`, `publisher`, `retrieved_at`,
`author`, `licence` and `notes` in columns whatever spelling the sidecar author used; any
other key is kept under its own (normalised) name.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re

import yaml

SIDECAR_SUFFIXES = (".meta.yml", ".meta.yaml", ".meta.json")

_ALIASES = {
    "source_url": "source_url", "url": "source_url", "source": "source_url", "link": "source_url",
    "publisher": "publisher", "publication": "publisher", "site": "publisher",
    "retrieved_at": "retrieved_at", "retrieved": "retrieved_at", "fetched_at": "retrieved_at",
    "accessed": "retrieved_at", "accessed_at": "retrieved_at", "date_retrieved": "retrieved_at",
    "author": "author", "authors": "author", "by": "author",
    "licence": "licence", "license": "licence",
    "notes": "notes", "note": "notes",
}  # fmt: skip
_FILENAME = re.compile(r"^(\d{3})_([0-9a-f]{16})\.[A-Za-z0-9]{1,10}$")
_MAX_DEPTH = 20
_MAX_NODES = 10_000
# Python refuses to print integers over 4300 digits; far below that, a number is not provenance.
_MAX_INT_BITS = 1024


class SidecarError(ValueError):
    """A malformed sidecar or front matter (one-line message)."""


def is_sidecar(path: str) -> bool:
    """True for `<file>.meta.yml|.meta.yaml|.meta.json` (case-insensitive)."""
    return os.path.basename(path).lower().endswith(SIDECAR_SUFFIXES)


def _plain(value: object, depth: int = 0, budget: list[int] | None = None) -> object:
    """JSON-safe plain data: dates to ISO strings, tuples to lists; bounded depth and size so
    YAML alias bombs (shared sub-trees that expand exponentially) stay cheap. Anything a
    hostile sidecar can smuggle in (binary, sets, numbers too long to print, lone
    surrogates) is a SidecarError, never an exception further down."""
    budget = [_MAX_NODES] if budget is None else budget
    budget[0] -= 1
    if depth > _MAX_DEPTH or budget[0] < 0:
        raise SidecarError("sidecar: nesting too deep or too large")
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, dict):
        return {_key(k): _plain(v, depth + 1, budget) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v, depth + 1, budget) for v in value]
    if isinstance(value, str):
        return _text(value)
    if isinstance(value, bool) or value is None or isinstance(value, float):
        return value
    if isinstance(value, int):
        if value.bit_length() > _MAX_INT_BITS:
            raise SidecarError(f"sidecar: number too large (over {_MAX_INT_BITS} bits)")
        return value
    raise SidecarError(f"sidecar: unsupported value of type {type(value).__name__}")


def _text(value: str) -> str:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise SidecarError("sidecar: text holds a lone surrogate (not Unicode)") from None
    return value


def _key(key: object) -> str:
    """A mapping key as text; keys are scalars (YAML allows a date or a number there)."""
    if isinstance(key, dict | list | tuple | set | bytes):
        raise SidecarError(f"sidecar: unsupported key of type {type(key).__name__}")
    plain = _plain(key, 0, [1])
    return str(plain)


def _iso(value: object) -> str:
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, str):
        for parse in (dt.date.fromisoformat, dt.datetime.fromisoformat):
            try:
                return parse(value.strip()).isoformat()
            except ValueError:
                continue
    raise SidecarError(f"sidecar: retrieved_at is not an ISO 8601 date: {str(value)[:60]!r}")


def normalise(mapping: dict) -> dict:
    """Normalised provenance keys; raises SidecarError on conflicting aliases or bad values."""
    out: dict = {}
    budget = [_MAX_NODES]
    keyed = sorted(((_key(k), v) for k, v in mapping.items()), key=lambda kv: kv[0])
    for raw_key, raw_value in keyed:
        key = re.sub(r"[\s\-]+", "_", raw_key.strip().lower())
        name = _ALIASES.get(key, key)
        value = _plain(raw_value, 0, budget)
        if name == "retrieved_at" and value is not None:
            value = _iso(value)
        elif (
            name == "author" and isinstance(value, list) and all(isinstance(v, str) for v in value)
        ):
            value = "; ".join(value)
        if name in out and out[name] != value:
            raise SidecarError(f"sidecar: conflicting values for {name!r}")
        out[name] = value
    return out


def _load_yaml(text: str, what: str) -> object:
    try:
        return yaml.safe_load(text)
    except Exception as exc:  # PyYAML raises ValueError/TypeError/... on hostile scalars
        reason = " ".join(str(exc).split())[:160]
        kind = "" if isinstance(exc, yaml.YAMLError) else f"{type(exc).__name__}: "
        raise SidecarError(f"{what}: malformed YAML ({kind}{reason})") from None


def parse_sidecar(name: str, data: bytes) -> dict:
    """Parse a sidecar's bytes (format from its name) into normalised provenance keys."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise SidecarError("sidecar: not UTF-8") from None
    if name.lower().endswith(".json"):
        try:
            parsed = json.loads(text)
        except (ValueError, RecursionError) as exc:  # ValueError: also 5000-digit numbers
            reason = " ".join(str(exc).split())[:160]
            raise SidecarError(f"sidecar: malformed JSON ({reason})") from None
    else:
        parsed = _load_yaml(text, "sidecar")
    if not isinstance(parsed, dict):
        raise SidecarError(f"sidecar: expected a mapping, got {type(parsed).__name__}")
    return normalise(parsed)


_FENCE = re.compile(r"^(?:---|\.\.\.)[ \t]*$")


def front_matter(text: str) -> tuple[dict, int]:
    """YAML front matter at the very top (`---` ... `---`) and the offset where the body starts."""
    start = 1 if text.startswith("\ufeff") else 0
    first_end = text.find("\n", start)
    if first_end < 0 or text[start:first_end].rstrip("\r \t") != "---":
        return {}, 0
    pos = first_end + 1
    while pos <= len(text):
        nl = text.find("\n", pos)
        line_end = len(text) if nl < 0 else nl
        if _FENCE.match(text[pos:line_end].rstrip("\r")):
            parsed = _load_yaml(text[first_end + 1 : pos], "front matter")
            if parsed is None:
                parsed = {}
            if not isinstance(parsed, dict):
                kind = type(parsed).__name__
                raise SidecarError(f"front matter: expected a mapping, got {kind}")
            return normalise(parsed), (len(text) if nl < 0 else nl + 1)
        if nl < 0:
            break
        pos = nl + 1
    raise SidecarError("front matter: no closing '---' line")


def filename_identifiers(path: str) -> dict:
    """Corpus number and identifier from seed-style names `NNN_<16 hex>.<ext>`; {} otherwise."""
    m = _FILENAME.match(os.path.basename(path))
    if not m:
        return {}
    return {"corpus_number": m.group(1), "identifier": m.group(2)}
