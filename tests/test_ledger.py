"""archive.ledger.leaves: canonical leaves, checkpoints and printable proofs."""

from __future__ import annotations

import base64
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from archive.ledger import merkle
from archive.ledger.leaves import (
    LEAF_FORMAT,
    Checkpoint,
    canonical_json,
    checkpoint_text,
    consistency_proof_json,
    inclusion_proof_json,
    parse_checkpoint_text,
    verify_proof_json,
    version_leaf,
)

RECORD = {
    "version_id": 7,
    "document_id": 3,
    "seq": 2,
    "kind": "modified",
    "path": "notes/café.md",
    "blob_blake3": "a" * 64,
    "blob_sha256": "b" * 64,
    "observed_at": "2024-05-01T12:00:00Z",
    "run_id": 4,
    "source": "corpus",
    "provenance": {"commit": "abc123", "author": "Zoë"},
}


def test_leaf_bytes_are_pinned() -> None:
    """The exact bytes are the format: changing them silently would break every old log."""
    want = (
        '{"blob_blake3":"' + "a" * 64 + '","blob_sha256":"' + "b" * 64 + '",'
        '"document_id":3,"format":"provenance-archive/leaf/v1","kind":"modified",'
        '"observed_at":"2024-05-01T12:00:00Z","path":"notes/café.md",'
        '"provenance":{"author":"Zoë","commit":"abc123"},"run_id":4,"seq":2,'
        '"source":"corpus","version_id":7}'
    ).encode()
    assert version_leaf(RECORD) == want
    assert json.loads(version_leaf(RECORD))["format"] == LEAF_FORMAT


def test_leaf_independent_of_key_order_and_deletion_leaf() -> None:
    reordered = dict(reversed(list(RECORD.items())))
    assert version_leaf(reordered) == version_leaf(RECORD)
    deleted = {**RECORD, "kind": "deleted", "blob_blake3": None, "blob_sha256": None}
    assert json.loads(version_leaf(deleted))["blob_blake3"] is None
    assert version_leaf({**RECORD, "provenance": None}) != version_leaf(RECORD)


@pytest.mark.parametrize(
    "change,exc",
    [
        ({"seq": "2"}, TypeError),
        ({"seq": True}, TypeError),
        ({"blob_blake3": "A" * 64}, ValueError),
        ({"blob_sha256": "b" * 63}, ValueError),
        ({"path": ""}, ValueError),
        ({"provenance": ["x"]}, TypeError),
        ({"provenance": {"t": float("nan")}}, ValueError),
        ({"provenance": {1: "x"}}, TypeError),
        ({"extra": 1}, ValueError),
    ],
)
def test_leaf_rejects_bad_records(change: dict, exc: type) -> None:
    with pytest.raises(exc):
        version_leaf({**RECORD, **change})


def test_leaf_rejects_missing_keys() -> None:
    rec = dict(RECORD)
    del rec["run_id"]
    with pytest.raises(ValueError, match="run_id"):
        version_leaf(rec)


def test_canonical_json_rules() -> None:
    assert (
        canonical_json({"b": 1, "a": [1.5, None, True, "é"]})
        == '{"a":[1.5,null,true,"é"],"b":1}'.encode()
    )
    for bad in (float("inf"), float("-inf"), float("nan")):
        with pytest.raises(ValueError):
            canonical_json({"x": bad})
    with pytest.raises(TypeError):
        canonical_json({"x": b"bytes"})
    with pytest.raises(ValueError):
        canonical_json("\ud800")  # lone surrogate cannot be UTF-8


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.text()
    | st.floats(allow_nan=False, allow_infinity=False),
    lambda kids: (
        st.lists(kids, max_size=4) | st.dictionaries(st.text(max_size=5), kids, max_size=4)
    ),
    max_leaves=20,
)


@given(json_values)
def test_canonical_json_roundtrips_and_is_idempotent(value: object) -> None:
    try:
        data = canonical_json(value)
    except ValueError:  # surrogates from st.text()
        return
    assert canonical_json(json.loads(data)) == data


odd_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.text(max_size=3)
    | st.floats()
    | st.binary(max_size=2)
    | st.tuples(st.integers()),
    lambda kids: (
        st.lists(kids, max_size=3)
        | st.dictionaries(st.text(max_size=3) | st.integers() | st.none(), kids, max_size=3)
    ),
    max_leaves=12,
)


@given(odd_values)
def test_the_fast_check_agrees_with_the_full_one(value: object) -> None:
    """canonical_json checks plain values without building paths (`_plain`): whatever it
    lets through, the full check (`_check_json`) lets through; what it does not is left to
    the full check, so the verdict and the bytes never depend on the fast path."""
    from archive.ledger.leaves import _check_json, _plain

    try:
        _check_json(value)
        full = None
    except (TypeError, ValueError) as e:
        full = type(e)
    if _plain(value):
        assert full is None
    try:
        data: bytes | type = canonical_json(value)
    except (TypeError, ValueError) as e:
        data = type(e)
    if full is not None:
        assert data is full


def test_checkpoint_text_roundtrip() -> None:
    log = merkle.MerkleLog(merkle.leaf_hash(bytes([i])) for i in range(5))
    cp = Checkpoint.of(log)
    text = checkpoint_text("example.org/archive", cp)
    lines = text.split("\n")
    assert lines[:2] == ["example.org/archive", "5"] and lines[3] == ""
    assert base64.b64decode(lines[2]) == log.root
    assert parse_checkpoint_text(text) == ("example.org/archive", cp)
    empty = Checkpoint(0, merkle.EMPTY_ROOT.hex())
    assert parse_checkpoint_text(checkpoint_text("o", empty)) == ("o", empty)


@pytest.mark.parametrize(
    "text",
    [
        "o\n5\n" + base64.b64encode(b"x" * 32).decode(),  # no final newline
        "o\n05\n" + base64.b64encode(b"x" * 32).decode() + "\n",  # leading zero
        "o\n-1\n" + base64.b64encode(b"x" * 32).decode() + "\n",
        "o\n5\n" + base64.b64encode(b"x" * 31).decode() + "\n",  # wrong hash length
        "o\n5\n!!!!\n",
        "\n5\n" + base64.b64encode(b"x" * 32).decode() + "\n",
        "o\n5\n" + base64.b64encode(b"x" * 32).decode() + "\nextra\n",
    ],
)
def test_parse_checkpoint_rejects_malformed(text: str) -> None:
    with pytest.raises(ValueError):
        parse_checkpoint_text(text)


def test_checkpoint_validation() -> None:
    with pytest.raises(ValueError):
        Checkpoint(-1, "0" * 64)
    with pytest.raises(ValueError):
        Checkpoint(1, "0" * 63)
    with pytest.raises(ValueError):
        checkpoint_text("two\nlines", Checkpoint(0, "0" * 64))


def test_proof_json_roundtrip_and_tamper() -> None:
    leaves = [merkle.leaf_hash(version_leaf({**RECORD, "version_id": i})) for i in range(11)]
    r = merkle.root(leaves)
    inc = inclusion_proof_json(6, 11, leaves[6], merkle.inclusion_proof(6, leaves), r)
    assert verify_proof_json(json.loads(json.dumps(inc)))
    assert not verify_proof_json({**inc, "leaf_index": 5})
    assert not verify_proof_json({**inc, "root": "zz"})
    old = Checkpoint(4, merkle.root(leaves[:4]).hex())
    new = Checkpoint(11, r.hex())
    con = consistency_proof_json(old, new, merkle.consistency_proof(4, leaves))
    assert verify_proof_json(con)
    assert not verify_proof_json({**con, "old_size": 5})
    assert not verify_proof_json({"type": "other", "hash": "sha256", "proof": []})


class _Blob(bytes):
    """A bytes subclass: a BLOB value all the same."""


row_values = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=4)
row_values |= st.binary(max_size=4) | st.binary(max_size=4).map(_Blob)


@given(st.dictionaries(st.text(max_size=3), row_values, max_size=6), st.sets(st.text(max_size=3)))
def test_a_row_object_is_every_column_but_the_excluded_with_blobs_as_base64(
    row: dict, exclude: set
) -> None:
    from archive.ledger.records import row_object

    want = {
        k: {"base64": base64.b64encode(bytes(v)).decode("ascii")} if isinstance(v, bytes) else v
        for k, v in row.items()
        if k not in exclude
    }
    got = row_object(row, exclude)
    assert got == want and list(got) == list(want)
    assert all(type(got[k]) is type(want[k]) for k in want)
