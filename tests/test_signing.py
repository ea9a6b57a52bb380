"""archive.ledger.signing: signed notes, keys, checkpoints and cosignatures, byte-exact."""

from __future__ import annotations

import base64
import hashlib
import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from archive.ledger import signing
from archive.ledger.signing import (
    CheckpointBody,
    Note,
    SignatureError,
    check_cosignature,
    cosign,
    cosignature_message,
    cosignatures,
    generate,
    open_note,
    parse_checkpoint,
    parse_note,
    parse_signer,
    parse_verifier,
    sign_note,
    signed_checkpoint,
)

# The example of Go's golang.org/x/mod/sumdb/note documentation (the reference code).
GO_SKEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
GO_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
GO_TEXT = (
    "If you think cryptography is the answer to your problem,\n"
    "then you don't know what your problem is.\n"
)
GO_SIG = (
    "\u2014 PeterNeumann "
    "x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"
)
# The example of C2SP signed-note.md.
SPEC_VKEY = "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k"
SPEC_NOTE = (
    "This is an example message.\n\n\u2014 example.com/foo "
    "Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6TfXppzi2ONncAlTgK7Ztg1ERYNZXsYjOBH3mFXmRKuwHjG1Yu72IneyaQM=\n"
)


def test_go_reference_key_and_signature_byte_for_byte() -> None:
    signer = parse_signer(GO_SKEY)
    assert signer.private_text() == GO_SKEY + "\n"
    assert str(signer.verifier) == GO_VKEY
    assert parse_verifier(GO_VKEY) == signer.verifier
    # Ed25519 is deterministic: the same key and text give Go's exact note.
    note = Note(GO_TEXT, (sign_note(GO_TEXT, signer),))
    assert str(note) == GO_TEXT + "\n" + GO_SIG
    assert open_note(parse_note(str(note)), [parse_verifier(GO_VKEY)]) == [signer.verifier]


def test_c2sp_example_note_verifies() -> None:
    note = parse_note(SPEC_NOTE.encode())
    assert note.text == "This is an example message.\n"
    assert open_note(note, [parse_verifier(SPEC_VKEY)])[0].name == "example.com/foo"
    assert str(note) == SPEC_NOTE


def test_key_id_is_the_specified_hash() -> None:
    signer = generate("example.org/log")
    public = signer.verifier.public
    want = hashlib.sha256(b"example.org/log\n\x01" + public).digest()[:4]
    assert signer.verifier.key_id == want
    assert (
        signer.verifier.cosignature_key_id
        == (hashlib.sha256(b"example.org/log\n\x04" + public).digest()[:4])
    )
    name, hex_id, blob = str(signer.verifier).split("+", 2)
    assert (name, bytes.fromhex(hex_id)) == ("example.org/log", want)
    assert base64.b64decode(blob) == b"\x01" + public


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "PeterNeumann+c74f20a3",
        "PeterNeumann+c74f20a4+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",  # wrong ID
        "Peter Neumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
        "PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",  # unknown type
        "PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWBADKEY==",
        "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10T!",
    ],
)
def test_bad_verifier_keys_are_refused(bad: str) -> None:
    with pytest.raises(SignatureError):
        parse_verifier(bad)


def test_mangled_private_keys_are_refused() -> None:
    for i in range(len(GO_SKEY)):
        mangled = GO_SKEY[:i] + chr(ord(GO_SKEY[i]) + 1) + GO_SKEY[i + 1 :]
        with pytest.raises(SignatureError):
            parse_signer(mangled)
    with pytest.raises(SignatureError):
        parse_signer(GO_VKEY)  # a public key is not a private key


def test_note_rules_unknown_ignored_bad_known_rejects_none_rejects() -> None:
    log, other = generate("example.org/log"), generate("example.org/other")
    text = "hello\n"
    good = Note(text, (sign_note(text, other), sign_note(text, log)))
    assert open_note(parse_note(str(good)), [log.verifier]) == [log.verifier]
    with pytest.raises(SignatureError, match="not signed by a trusted key"):
        open_note(Note(text, (sign_note(text, other),)), [log.verifier])
    forged = Note("hellO\n", (sign_note(text, log),))
    with pytest.raises(SignatureError, match="does not verify"):
        open_note(forged, [log.verifier])
    # Same name, another key: its ID differs, so it is ignored, not trusted.
    impostor = generate("example.org/log")
    with pytest.raises(SignatureError, match="not signed"):
        open_note(Note(text, (sign_note(text, impostor),)), [log.verifier])


@pytest.mark.parametrize(
    "bad",
    [
        "no blank line\n\u2014 a AAAAAAA=\n",
        "text\n\n\u2014 a AAAAAAA=",  # no final newline
        "text\n\n- a AAAAAAAA\n",  # not an em dash
        "text\n\n\u2014 a not*base64\n",
        "text\n\n\u2014 a AAA=\n",  # shorter than a key ID
        "te\x01xt\n\n\u2014 a AAAAAAAA\n",
        "text\n\n\u2014 a b AAAAAAAA\n",
    ],
)
def test_malformed_notes_are_refused(bad: str) -> None:
    with pytest.raises(SignatureError):
        parse_note(bad)


def test_note_text_may_hold_blank_lines_split_at_the_last() -> None:
    log = generate("example.org/log")
    text = "a\n\nb\n"
    note = parse_note(str(Note(text, (sign_note(text, log),))))
    assert note.text == text
    open_note(note, [log.verifier])


def test_checkpoint_body_round_trip_and_strictness() -> None:
    root = hashlib.sha256(b"x").digest()
    body = CheckpointBody("example.org/log", 12, root, ("ext one",))
    text = body.text()
    assert text == f"example.org/log\n12\n{base64.b64encode(root).decode()}\next one\n"
    assert parse_checkpoint(text) == body
    for bad in (
        "o\n012\n" + base64.b64encode(root).decode() + "\n",
        "o\n-1\n" + base64.b64encode(root).decode() + "\n",
        "o\n1\n" + base64.b64encode(root[:31]).decode() + "\n",
        "o\n1\n",
        "o\n1\n" + base64.b64encode(root).decode(),
    ):
        with pytest.raises(SignatureError):
            parse_checkpoint(bad)


def test_signed_checkpoint_verifies_and_tampering_is_caught() -> None:
    log = generate("example.org/log")
    body = CheckpointBody("example.org/log", 3, hashlib.sha256(b"r").digest())
    note = signed_checkpoint(body, [log])
    assert open_note(parse_note(str(note)), [log.verifier]) == [log.verifier]
    tampered = str(note).replace("\n3\n", "\n4\n", 1)
    with pytest.raises(SignatureError):
        open_note(parse_note(tampered), [log.verifier])


def test_cosignature_layout_and_check() -> None:
    log, witness = generate("example.org/log"), generate("example.org/witness")
    text = CheckpointBody("example.org/log", 5, hashlib.sha256(b"r").digest()).text()
    sig = cosign(text, witness, 1679315147)
    assert sig.key_id == signing.key_id("example.org/witness", 0x04, witness.verifier.public)
    assert struct.unpack(">Q", sig.signature[:8]) == (1679315147,)
    assert len(sig.signature) == 72
    message = b"cosignature/v1\ntime 1679315147\n" + text.encode()
    assert cosignature_message(text, 1679315147) == message
    assert witness.verifier.check(message, sig.signature[8:])
    assert check_cosignature(text, sig, witness.verifier) == 1679315147
    # Another text, another witness, a changed time: not this cosignature.
    assert check_cosignature(text.replace("5", "6"), sig, witness.verifier) is None
    assert check_cosignature(text, sig, log.verifier) is None
    bumped = signing.NoteSignature(
        sig.name, sig.key_id, struct.pack(">Q", 1679315148) + sig.signature[8:]
    )
    assert check_cosignature(text, bumped, witness.verifier) is None
    # In a note with the log's own signature: the log's opens it, the witness's is found.
    note = signed_checkpoint(parse_checkpoint(text), [log]).add(sig)
    reread = parse_note(str(note))
    assert open_note(reread, [log.verifier]) == [log.verifier]
    assert cosignatures(reread, [witness.verifier]) == {str(witness.verifier): 1679315147}
    # A cosignature is not a note signature: the witness key alone does not open the note.
    with pytest.raises(SignatureError):
        open_note(reread, [witness.verifier])


def test_witness_verifier_string_of_type_4_round_trips() -> None:
    witness = generate("example.org/witness", signing.COSIGNATURE_V1)
    vkey = str(witness.verifier)
    assert base64.b64decode(vkey.split("+", 2)[2])[0] == 0x04
    assert parse_verifier(vkey) == witness.verifier
    assert parse_signer(witness.private_text()) == witness
    text = "example.org/log\n1\n" + base64.b64encode(bytes(32)).decode() + "\n"
    assert check_cosignature(text, cosign(text, witness, 7), parse_verifier(vkey)) == 7


@given(st.text(alphabet=st.characters(blacklist_categories=("Cc", "Cs")), min_size=0))
def test_any_text_line_signs_and_round_trips(line: str) -> None:
    text = line.replace("\n", "") + "\n"
    note = Note(text, (sign_note(text, KEY),))
    reread = parse_note(str(note).encode("utf-8"))
    assert reread == note
    assert open_note(reread, [KEY.verifier]) == [KEY.verifier]


KEY = generate("example.org/hypothesis")
