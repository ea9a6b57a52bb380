"""Ed25519 signed notes (C2SP signed-note), checkpoints and witness cosignatures, byte-exact.

A checkpoint an outsider can trust must be signed in a format other tools read: key IDs,
verifier strings and private key files follow Go's `golang.org/x/mod/sumdb/note`, the
checkpoint body follows C2SP tlog-checkpoint and cosignatures C2SP tlog-cosignature
(cosignature/v1, Ed25519). Everything here is pure: text and bytes in, text and bytes out;
the keys themselves are `cryptography` Ed25519 keys.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

# `cryptography` loads when a key signs or checks (parsing notes and keys needs none of it):
# `archive verify` of an archive without signatures never pays for it.
if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import (
        Ed25519PrivateKey,
        Ed25519PublicKey,
    )

# Signature type bytes of C2SP signed-note.
ED25519 = 0x01
COSIGNATURE_V1 = 0x04
KEY_TYPES = (ED25519, COSIGNATURE_V1)

PRIVATE_PREFIX = "PRIVATE+KEY+"
EM_DASH = "\u2014"
MAX_SIGNATURES = 100  # the spec asks verifiers to accept at least 16
_SPACES = re.compile(r"\s", re.UNICODE)
_CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f\x7f]")


class SignatureError(ValueError):
    """A key, note or signature that is malformed or does not verify."""


def _b64decode(text: str, what: str) -> bytes:
    """Strict standard base64 (RFC 4648 section 4, padded)."""
    try:
        return base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError):
        raise SignatureError(f"{what} is not base64") from None


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def check_key_name(name: str) -> str:
    """A key name is non-empty, has no Unicode space and no '+' (signed-note)."""
    if not isinstance(name, str) or not name:
        raise SignatureError("key name is empty")
    if _SPACES.search(name) or "+" in name or _CONTROL.search(name):
        raise SignatureError(f"key name {name!r} contains a space, '+' or control character")
    return name


def key_id(name: str, key_type: int, public: bytes) -> bytes:
    """SHA-256(name || 0x0A || type || public key)[:4]: the 4-byte key ID of signed-note."""
    return hashlib.sha256(name.encode("utf-8") + b"\n" + bytes([key_type]) + public).digest()[:4]


def _public_bytes(key: Ed25519PublicKey) -> bytes:
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    return key.public_bytes(Encoding.Raw, PublicFormat.Raw)


@dataclass(frozen=True)
class Verifier:
    """A public key with its name: checks note signatures (type 0x01) and cosignatures.

    `key_type` is the type byte of its verifier string; the same Ed25519 key checks both
    kinds of signature, each under its own key ID (0x01 for notes, 0x04 for cosignatures).
    """

    name: str
    public: bytes
    key_type: int = ED25519

    def __post_init__(self) -> None:
        check_key_name(self.name)
        if len(self.public) != 32:
            raise SignatureError("an Ed25519 public key is 32 bytes")
        if self.key_type not in KEY_TYPES:
            raise SignatureError(f"unsupported key type 0x{self.key_type:02x}")

    @property
    def key_id(self) -> bytes:
        """The ID of this key's signatures of its own type."""
        return key_id(self.name, self.key_type, self.public)

    @property
    def note_key_id(self) -> bytes:
        return key_id(self.name, ED25519, self.public)

    @property
    def cosignature_key_id(self) -> bytes:
        return key_id(self.name, COSIGNATURE_V1, self.public)

    def __str__(self) -> str:
        """`NAME+<8 hex key ID>+<base64(type || public key)>`, Go's note verifier format."""
        blob = bytes([self.key_type]) + self.public
        return f"{self.name}+{self.key_id.hex()}+{_b64(blob)}"

    def check(self, message: bytes, signature: bytes) -> bool:
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

        try:
            Ed25519PublicKey.from_public_bytes(self.public).verify(signature, message)
        except (InvalidSignature, ValueError):
            return False
        return True


def parse_verifier(text: str) -> Verifier:
    """Read `NAME+<hex key ID>+<base64(type || key)>`; the key ID must match the key."""
    text = text.strip()
    parts = text.split("+", 2)
    if len(parts) != 3:
        raise SignatureError("a verifier key is NAME+KEYID+KEY")
    name, hex_id, blob_b64 = parts
    check_key_name(name)
    blob = _b64decode(blob_b64, "verifier key")
    if len(blob) != 33 or blob[0] not in KEY_TYPES:
        raise SignatureError("verifier key is not an Ed25519 key (type 0x01 or 0x04)")
    verifier = Verifier(name, blob[1:], blob[0])
    if not re.fullmatch(r"[0-9a-f]{8}", hex_id) or bytes.fromhex(hex_id) != verifier.key_id:
        raise SignatureError(f"verifier key ID {hex_id!r} does not match its key")
    return verifier


@dataclass(frozen=True)
class Signer:
    """A private key with its name. Never stored in an archive: it lives in a 0600 file."""

    name: str
    seed: bytes = field(repr=False)
    key_type: int = ED25519

    def __post_init__(self) -> None:
        check_key_name(self.name)
        if len(self.seed) != 32:
            raise SignatureError("an Ed25519 private key seed is 32 bytes")
        if self.key_type not in KEY_TYPES:
            raise SignatureError(f"unsupported key type 0x{self.key_type:02x}")

    @property
    def _key(self) -> Ed25519PrivateKey:
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

        return Ed25519PrivateKey.from_private_bytes(self.seed)

    @property
    def verifier(self) -> Verifier:
        return Verifier(self.name, _public_bytes(self._key.public_key()), self.key_type)

    def sign_bytes(self, message: bytes) -> bytes:
        return self._key.sign(message)

    def private_text(self) -> str:
        """`PRIVATE+KEY+NAME+<hex key ID>+<base64(type || seed)>` and a newline (Go's format)."""
        blob = bytes([self.key_type]) + self.seed
        return f"{PRIVATE_PREFIX}{self.name}+{self.verifier.key_id.hex()}+{_b64(blob)}\n"


def generate(name: str, key_type: int = ED25519) -> Signer:
    """A fresh key pair named `name` (os.urandom via cryptography)."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import (
        Encoding,
        NoEncryption,
        PrivateFormat,
    )

    key = Ed25519PrivateKey.generate()
    seed = key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
    return Signer(name, seed, key_type)


def parse_signer(text: str) -> Signer:
    """Read a private key file's text; the key ID must match the key."""
    text = text.strip()
    if not text.startswith(PRIVATE_PREFIX):
        raise SignatureError("not a private key (PRIVATE+KEY+NAME+KEYID+KEY)")
    parts = text[len(PRIVATE_PREFIX) :].split("+", 2)
    if len(parts) != 3:
        raise SignatureError("not a private key (PRIVATE+KEY+NAME+KEYID+KEY)")
    name, hex_id, blob_b64 = parts
    check_key_name(name)
    blob = _b64decode(blob_b64, "private key")
    if len(blob) != 33 or blob[0] not in KEY_TYPES:
        raise SignatureError("private key is not an Ed25519 key (type 0x01 or 0x04)")
    signer = Signer(name, blob[1:], blob[0])
    if hex_id != signer.verifier.key_id.hex():
        raise SignatureError("private key ID does not match its key")
    return signer


# Notes -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class NoteSignature:
    """One signature line: `— NAME base64(key ID || signature)`."""

    name: str
    key_id: bytes
    signature: bytes

    def line(self) -> str:
        return f"{EM_DASH} {self.name} {_b64(self.key_id + self.signature)}\n"


@dataclass(frozen=True)
class Note:
    """A note's text (ending in a newline) and its signature lines, in order."""

    text: str
    signatures: tuple[NoteSignature, ...] = ()

    def __str__(self) -> str:
        return self.text + "\n" + "".join(s.line() for s in self.signatures)

    def add(self, signature: NoteSignature) -> Note:
        """This note with one more signature (an identical line is not repeated)."""
        if signature in self.signatures:
            return self
        return Note(self.text, (*self.signatures, signature))


def check_note_text(text: str) -> str:
    """Note text is non-empty, ends with a newline and has no control character but newline."""
    if not text.endswith("\n"):
        raise SignatureError("note text must end with a newline")
    if _CONTROL.search(text):
        raise SignatureError("note text contains a control character")
    return text


def parse_note(data: str | bytes) -> Note:
    """Split a signed note at its last blank line into text and signature lines (strict)."""
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8")
        except UnicodeDecodeError:
            raise SignatureError("note is not UTF-8") from None
    if _CONTROL.search(data):
        raise SignatureError("note contains a control character")
    cut = data.rfind("\n\n")
    if cut < 0:
        raise SignatureError("note has no blank line before its signatures")
    text, sig_block = data[: cut + 1], data[cut + 2 :]
    if not sig_block.endswith("\n"):
        raise SignatureError("note must end with a newline")
    lines = sig_block[:-1].split("\n")
    if len(lines) > MAX_SIGNATURES:
        raise SignatureError(f"note has more than {MAX_SIGNATURES} signatures")
    sigs = []
    for line in lines:
        parts = line.split(" ")
        if len(parts) != 3 or parts[0] != EM_DASH:
            raise SignatureError("malformed signature line")
        check_key_name(parts[1])
        blob = _b64decode(parts[2], "signature")
        if len(blob) < 5:
            raise SignatureError("signature is too short")
        sigs.append(NoteSignature(parts[1], blob[:4], blob[4:]))
    return Note(check_note_text(text), tuple(sigs))


def sign_note(text: str, signer: Signer) -> NoteSignature:
    """An Ed25519 note signature (type 0x01) over the note text, final newline included."""
    check_note_text(text)
    verifier = signer.verifier
    return NoteSignature(
        signer.name, key_id(signer.name, ED25519, verifier.public), signer.sign_bytes(text.encode())
    )


def open_note(note: Note, verifiers: Iterable[Verifier]) -> list[Verifier]:
    """The known keys whose signature on the note verifies (signed-note rules).

    Signatures from unknown keys (name and ID not both known) are ignored; a known key's
    signature that fails to verify rejects the whole note, and so does no verified one.
    """
    known = {(v.name, v.note_key_id): v for v in verifiers}
    message = note.text.encode("utf-8")
    good: list[Verifier] = []
    for sig in note.signatures:
        verifier = known.get((sig.name, sig.key_id))
        if verifier is None:
            continue
        if not verifier.check(message, sig.signature):
            raise SignatureError(f"the signature of {sig.name} does not verify")
        if verifier not in good:
            good.append(verifier)
    if not good:
        names = ", ".join(sorted({v.name for v in known.values()})) or "none given"
        raise SignatureError(f"the note is not signed by a trusted key ({names})")
    return good


# Checkpoints -------------------------------------------------------------------------------


@dataclass(frozen=True)
class CheckpointBody:
    """C2SP tlog-checkpoint note text: origin, tree size, root hash, extension lines."""

    origin: str
    size: int
    root: bytes
    extensions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        o = self.origin
        if not o or "\n" in o or o != o.strip() or _CONTROL.search(o):
            raise SignatureError("checkpoint origin must be one non-empty line")
        if isinstance(self.size, bool) or not isinstance(self.size, int) or self.size < 0:
            raise SignatureError("checkpoint size must be a non-negative integer")
        if len(self.root) != 32:
            raise SignatureError("checkpoint root must be a SHA-256 hash")
        for line in self.extensions:
            if not line or "\n" in line or _CONTROL.search(line):
                raise SignatureError("checkpoint extension lines must be non-empty lines")

    def text(self) -> str:
        lines = [self.origin, str(self.size), _b64(self.root), *self.extensions]
        return "".join(line + "\n" for line in lines)


def parse_checkpoint(text: str) -> CheckpointBody:
    """Read a checkpoint body (strict: decimal size without leading zeros, base64 root)."""
    check_note_text(text)
    lines = text[:-1].split("\n")
    if len(lines) < 3:
        raise SignatureError("a checkpoint has at least 3 lines")
    origin, size_s, root_b64, *ext = lines
    if not re.fullmatch(r"0|[1-9][0-9]*", size_s):
        raise SignatureError(f"checkpoint size {size_s!r} is not a decimal number")
    root = _b64decode(root_b64, "checkpoint root")
    return CheckpointBody(origin, int(size_s), root, tuple(ext))


def signed_checkpoint(body: CheckpointBody, signers: Sequence[Signer]) -> Note:
    """The checkpoint as a note signed by each signer."""
    text = body.text()
    return Note(text, tuple(sign_note(text, s) for s in signers))


# Cosignatures ------------------------------------------------------------------------------


def cosignature_message(checkpoint_text: str, timestamp: int) -> bytes:
    """What a cosignature/v1 signs: header line, time line, then the checkpoint text."""
    check_note_text(checkpoint_text)
    if isinstance(timestamp, bool) or not 0 <= timestamp <= 2**63 - 1:
        raise SignatureError("cosignature time is out of range")
    return f"cosignature/v1\ntime {timestamp}\n{checkpoint_text}".encode()


def cosign(checkpoint_text: str, signer: Signer, timestamp: int) -> NoteSignature:
    """A witness's cosignature/v1 line: key ID (type 0x04) || u64 time || Ed25519 sig."""
    public = signer.verifier.public
    sig = signer.sign_bytes(cosignature_message(checkpoint_text, timestamp))
    return NoteSignature(
        signer.name,
        key_id(signer.name, COSIGNATURE_V1, public),
        struct.pack(">Q", timestamp) + sig,
    )


def check_cosignature(checkpoint_text: str, sig: NoteSignature, witness: Verifier) -> int | None:
    """The cosignature's time when `sig` is `witness`'s valid cosignature of the text, else
    None (another key's line, or a bad one)."""
    if sig.name != witness.name or sig.key_id != witness.cosignature_key_id:
        return None
    if len(sig.signature) != 8 + 64:
        return None
    (timestamp,) = struct.unpack(">Q", sig.signature[:8])
    try:
        message = cosignature_message(checkpoint_text, timestamp)
    except SignatureError:
        return None
    return timestamp if witness.check(message, sig.signature[8:]) else None


def cosignatures(note: Note, witnesses: Iterable[Verifier]) -> dict[str, int]:
    """Witness name -> time of each given witness's valid cosignature on the note."""
    found: dict[str, int] = {}
    for witness in witnesses:
        for sig in note.signatures:
            t = check_cosignature(note.text, sig, witness)
            if t is not None:
                found[str(witness)] = t
    return found
