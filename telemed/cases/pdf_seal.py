"""Signing a finished minutes PDF (PAdES baseline B-B, with pyHanko), in the PDF worker.

The signature covers the whole file as laid out: a reader that trusts the signing
certificate's CA shows it valid, and any change to the signed bytes afterwards shows it
broken. Like ``telemed.cases.pdf`` this module imports nothing of the server: a worker
process imports it to sign what it has just laid out.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

from pyhanko.keys import load_certs_from_pemder_data, load_private_key_from_pemder_data
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.sign import fields, signers
from pyhanko_certvalidator.registry import SimpleCertificateStore

FIELD_NAME = "TelemedMinutesSignature"


@dataclass(frozen=True)
class Seal:
    """Who signs and what the signature says; PEM bytes, so it crosses to a worker."""

    key_pem: bytes
    chain_pem: tuple[bytes, ...]  # the signer's certificate first
    reason: str
    location: str
    name: str


def seal_pdf(pdf: bytes, seal: Seal) -> bytes:
    key = load_private_key_from_pemder_data(seal.key_pem, passphrase=None)
    certs = list(load_certs_from_pemder_data(b"".join(seal.chain_pem)))
    signer = signers.SimpleSigner(
        signing_cert=certs[0],
        signing_key=key,
        cert_registry=SimpleCertificateStore.from_certs(certs),
    )
    meta = signers.PdfSignatureMetadata(
        field_name=FIELD_NAME,
        subfilter=fields.SigSeedSubFilter.PADES,
        md_algorithm="sha256",
        reason=seal.reason,
        location=seal.location,
        name=seal.name,
    )
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
    out = signers.sign_pdf(writer, meta, signer=signer)
    signed: bytes = out.getvalue()
    return signed
