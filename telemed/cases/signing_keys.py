"""Who signs the minutes PDF: a certificate per council, issued by Telemed's own CA, or
one certificate from a real CA named in the settings.

Telemed's CA is made on first start in ``<data_dir>/signing/ca.pem`` (its key and its
certificate in one 0600 file, written once whichever process gets there first, like the
audit key), and each council's certificate and key on first use in
``council-<id>.pem`` beside it. A hospital that trusts the CA's certificate (``GET
/api/v1/signing/ca.pem``) sees every council's signature as
valid. With ``TELEMED_PDF_SIGNING_KEY`` and ``TELEMED_PDF_SIGNING_CERTS`` (the signer's
certificate first, then its chain up to the root) every council signs with that
certificate instead, and the chain's last certificate is the one exported.

Keys are ECDSA P-256: made in a millisecond, accepted by every current PDF reader.
Certificates are dated by the real clock, never the server's injectable one: pyHanko
stamps the signing time from it, and readers check validity against it.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from telemed.keyfiles import create_once

CA_LIFETIME = timedelta(days=20 * 365)
COUNCIL_LIFETIME = timedelta(days=10 * 365)
# Certificates start an hour early: a reader's clock a little behind ours still sees them valid.
BACKDATE = timedelta(hours=1)


@dataclass(frozen=True)
class SigningIdentity:
    """A key and its certificate chain (the signer's first), as PEM: what a PDF worker
    process needs to sign, and nothing of the server."""

    key_pem: bytes
    chain_pem: tuple[bytes, ...]


class CouncilSigners:
    def __init__(self, directory: Path, ca: SigningIdentity, *, shared: bool) -> None:
        self._directory = directory
        self._ca = ca
        # True: one configured certificate signs for every council.
        self._shared = shared
        self._councils: dict[int, SigningIdentity] = {}
        self._lock = threading.Lock()

    @classmethod
    def load_or_create(
        cls, data_dir: Path, key_path: Path | None, certs_path: Path | None
    ) -> CouncilSigners:
        """The configured certificate when both paths are set; else Telemed's own CA,
        made now if there is none yet (blocking: at start-up)."""
        directory = data_dir / "signing"
        if key_path is not None and certs_path is not None:
            chain = tuple(
                c.public_bytes(serialization.Encoding.PEM)
                for c in x509.load_pem_x509_certificates(certs_path.read_bytes())
            )
            return cls(directory, SigningIdentity(key_path.read_bytes(), chain), shared=True)
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        path = directory / "ca.pem"
        if not path.exists():
            create_once(path, _pem_file(*_new_ca(datetime.now(UTC))))
        return cls(directory, _read_identity(path), shared=False)

    @property
    def trust_anchor_pem(self) -> bytes:
        """The certificate a hospital trusts: Telemed's CA, or the configured chain's top."""
        return self._ca.chain_pem[-1]

    def for_council(self, council_id: int, name: str, seat: str) -> SigningIdentity:
        """The council's signing identity, issued on first use."""
        if self._shared:
            return self._ca
        with self._lock:
            known = self._councils.get(council_id)
            if known is not None:
                return known
            path = self._directory / f"council-{council_id}.pem"
            if not path.exists():
                key, cert = _issue(self._ca, name, seat, datetime.now(UTC))
                create_once(path, _pem_file(key, cert))
            council = _read_identity(path)
            identity = SigningIdentity(council.key_pem, (*council.chain_pem, *self._ca.chain_pem))
            self._councils[council_id] = identity
            return identity


def _new_ca(now: datetime) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Telemed"),
            x509.NameAttribute(NameOID.COMMON_NAME, "Telemed council signing CA"),
        ]
    )
    public = key.public_key()
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - BACKDATE)
        .not_valid_after(now + CA_LIFETIME)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(cert_sign=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .sign(key, hashes.SHA256())
    )
    return key, cert


def _issue(
    ca: SigningIdentity, council: str, seat: str, now: datetime
) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    ca_key = serialization.load_pem_private_key(ca.key_pem, password=None)
    assert isinstance(ca_key, ec.EllipticCurvePrivateKey)
    ca_cert = x509.load_pem_x509_certificate(ca.chain_pem[0])
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, seat[:64] or "Telemed"),
            x509.NameAttribute(NameOID.COMMON_NAME, council[:64] or "Council"),
        ]
    )
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - BACKDATE)
        .not_valid_after(min(now + COUNCIL_LIFETIME, ca_cert.not_valid_after_utc))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(cert_sign=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    return key, cert


def _key_usage(*, cert_sign: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=not cert_sign,
        content_commitment=not cert_sign,  # non-repudiation: what a signature on minutes is
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=cert_sign,
        crl_sign=cert_sign,
        encipher_only=False,
        decipher_only=False,
    )


def _pem_file(key: ec.EllipticCurvePrivateKey, cert: x509.Certificate) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ) + cert.public_bytes(serialization.Encoding.PEM)


def _read_identity(path: Path) -> SigningIdentity:
    data = path.read_bytes()
    key = serialization.load_pem_private_key(data, password=None)
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    certs = x509.load_pem_x509_certificates(data)
    return SigningIdentity(
        key_pem, tuple(c.public_bytes(serialization.Encoding.PEM) for c in certs)
    )
