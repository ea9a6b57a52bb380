"""Trusted time for checkpoints: RFC 3161 time-stamp tokens asked of a TSA, and checked.

The archive's own clock proves nothing to an outsider; a token from a time-stamp authority
says the checkpoint note existed at a time the TSA vouches for. Requests, replies and
their verification go through `rfc3161-client` and `cryptography` (no hand-written ASN.1);
the stored reply is the TSA's TimeStampResp DER exactly as received, so
`openssl ts -verify -data NOTE -in REPLY.tsr -CAfile CA.pem` checks it too.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

# rfc3161-client and X.509 load when a token or certificate is read, httpx when a token is
# fetched: checking an archive without tokens never pays for them (they were most of the
# imports of `archive verify`).
if TYPE_CHECKING:
    from cryptography import x509

QUERY_TYPE = "application/timestamp-query"
REPLY_TYPE = "application/timestamp-reply"
MAX_REPLY = 1 << 20  # a token is a few KiB; a bigger answer is not one
SHA256_OID = "2.16.840.1.101.3.4.2.1"


class TimestampError(ValueError):
    """A TSA that cannot be reached, a reply that is no token, or a token that fails."""


@dataclass(frozen=True)
class TokenInfo:
    """What a time-stamp token says: when, by whom, over which digest."""

    time: str  # ISO 8601, UTC, as the TSA wrote genTime
    serial: int
    tsa: str
    digest_algorithm: str
    digest: str  # hex of the message imprint

    def as_dict(self) -> dict:
        return {
            "time": self.time,
            "serial": self.serial,
            "tsa": self.tsa,
            "digest_algorithm": self.digest_algorithm,
            "digest": self.digest,
        }


def build_request(data: bytes) -> tuple[bytes, int | None]:
    """A TimeStampReq (DER) over SHA-256(data), asking for the TSA's certificate; and its
    nonce, which the reply must echo."""
    from rfc3161_client import HashAlgorithm, TimestampRequestBuilder

    req = (
        TimestampRequestBuilder()
        .data(data)
        .hash_algorithm(HashAlgorithm.SHA256)
        .nonce(nonce=True)
        .cert_request(cert_request=True)
        .build()
    )
    return req.as_bytes(), req.nonce


def _decode(reply: bytes):
    from rfc3161_client import decode_timestamp_response

    try:
        return decode_timestamp_response(reply)
    except Exception as e:  # the Rust parser raises its own error types
        raise TimestampError(f"not a time-stamp reply: {e}") from None


def _signer_subject(resp) -> str:
    """The subject of the certificate that signed the token (the one its SignerInfo names)."""
    from cryptography import x509

    try:
        infos = list(resp.signed_data.signer_infos)
        for der in resp.signed_data.certificates:
            cert = x509.load_der_x509_certificate(der)
            if infos and (cert.issuer, cert.serial_number) == (
                infos[0].issuer,
                infos[0].serial_number,
            ):
                return cert.subject.rfc4514_string()
    except (ValueError, TypeError):
        pass
    return "unknown TSA"


def describe(reply: bytes) -> TokenInfo:
    """Read a granted TimeStampResp without trusting it (for display; `verify` checks)."""
    from rfc3161_client import PKIStatus

    resp = _decode(reply)
    if PKIStatus(resp.status) not in (PKIStatus.GRANTED, PKIStatus.GRANTED_WITH_MODS):
        raise TimestampError(f"the TSA refused: status {resp.status} {resp.status_string}")
    info = resp.tst_info
    imprint = info.message_imprint
    algorithm = imprint.hash_algorithm.dotted_string
    return TokenInfo(
        time=info.gen_time.isoformat().replace("+00:00", "Z"),
        serial=info.serial_number,
        tsa=_signer_subject(resp),
        digest_algorithm="sha256" if algorithm == SHA256_OID else algorithm,
        digest=imprint.message.hex(),
    )


def check_reply(reply: bytes, data: bytes, nonce: int | None) -> TokenInfo:
    """The TSA's fresh reply is granted, over SHA-256(data), with our nonce (no trust yet)."""
    info = describe(reply)
    if info.digest != hashlib.sha256(data).hexdigest():
        raise TimestampError("the TSA's token is over other data")
    resp = _decode(reply)
    if nonce is not None and resp.tst_info.nonce != nonce:
        raise TimestampError("the TSA's token does not echo the request's nonce")
    return info


def check_url(url: str) -> str:
    """Only http(s) URLs with a host: a TSA address is not a file path."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise TimestampError(f"not an http(s) TSA URL: {url!r}")
    return url


def fetch(url: str, data: bytes, timeout: float = 30.0) -> bytes:
    """Ask the TSA at `url` for a token over `data`; the TimeStampResp DER, checked to be
    a granted reply over this data with our nonce."""
    import httpx  # only here: checking a token needs no HTTP client

    query, nonce = build_request(data)
    try:
        response = httpx.post(
            check_url(url),
            content=query,
            headers={"Content-Type": QUERY_TYPE, "Accept": REPLY_TYPE},
            timeout=timeout,
        )
    except httpx.HTTPError as e:
        raise TimestampError(f"cannot reach the TSA at {url}: {e}") from None
    if response.status_code != 200:
        raise TimestampError(f"the TSA at {url} answered HTTP {response.status_code}")
    reply = response.content
    if len(reply) > MAX_REPLY:
        raise TimestampError(f"the TSA at {url} answered {len(reply)} bytes: not a token")
    check_reply(reply, data, nonce)
    return reply


def load_certificates(pem: bytes) -> list[x509.Certificate]:
    """Every certificate of a PEM file (a CA bundle, or a chain)."""
    from cryptography import x509

    try:
        certs = x509.load_pem_x509_certificates(pem)
    except ValueError as e:
        raise TimestampError(f"no PEM certificate: {e}") from None
    return certs


def verify(
    reply: bytes,
    data: bytes,
    roots: Sequence[x509.Certificate],
    intermediates: Sequence[x509.Certificate] = (),
) -> TokenInfo:
    """The token's signature, its certificate chain up to one of `roots` (valid at the
    token's time) and its imprint equal to the hash of `data`; TimestampError otherwise."""
    from rfc3161_client import VerificationError, VerifierBuilder

    if not roots:
        raise TimestampError("no trusted TSA certificate given")
    info = describe(reply)
    builder = VerifierBuilder()
    for cert in roots:
        builder = builder.add_root_certificate(cert)
    for cert in intermediates:
        builder = builder.add_intermediate_certificate(cert)
    try:
        ok = builder.build().verify_message(_decode(reply), data)
    except VerificationError as e:
        raise TimestampError(f"time-stamp token does not verify: {e}") from None
    except ValueError as e:
        raise TimestampError(f"time-stamp token does not verify: {e}") from None
    if not ok:
        raise TimestampError("time-stamp token does not verify")
    return info
