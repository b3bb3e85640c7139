"""The minutes PDF of a signed decision carries a PAdES signature of the council's
certificate: valid and trusted against the exported CA, broken by any changed byte."""

from __future__ import annotations

import asyncio
import io
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from pyhanko.keys import load_cert_from_pemder
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import async_validate_pdf_signature
from pyhanko.sign.validation.status import PdfSignatureStatus
from pyhanko_certvalidator import ValidationContext

from telemed.clock import ManualClock
from telemed.settings import Settings
from tests.cases.test_minutes_pdf import pdf_of
from tests.support.cases import create_case, decide
from tests.support.server import RunningServer, running

PYHANKO = Path(sys.executable).with_name("pyhanko")


async def exported_ca(server: RunningServer, directory: Path) -> Path:
    """The CA certificate as a hospital downloads it: no sign-in needed."""
    async with server.http().get("/api/v1/signing/ca.pem") as response:
        assert response.status == 200
        assert response.content_type == "application/x-pem-file"
        pem = await response.read()
    assert pem.startswith(b"-----BEGIN CERTIFICATE-----")
    path = directory / "ca.pem"
    path.write_bytes(pem)
    return path


async def status_of(pdf: bytes, ca: Path) -> PdfSignatureStatus:
    [signature] = PdfFileReader(io.BytesIO(pdf)).embedded_signatures
    context = ValidationContext(trust_roots=[load_cert_from_pemder(str(ca))])
    return await async_validate_pdf_signature(signature, context)


def tampered(pdf: bytes) -> bytes:
    """One byte changed inside the signed range (the first range starts at byte 0): a
    character of the header's binary comment, which leaves the file readable."""
    [signature] = PdfFileReader(io.BytesIO(pdf)).embedded_signatures
    start, length = signature.byte_range[0], signature.byte_range[1]
    at = 11
    assert start <= at < start + length
    changed = bytearray(pdf)
    changed[at] ^= 0x01
    return bytes(changed)


def cli_validate(pdf: bytes, ca: Path, directory: Path) -> subprocess.CompletedProcess[str]:
    path = directory / "minutes.pdf"
    path.write_bytes(pdf)
    command = [str(PYHANKO), "sign", "validate", "--trust", str(ca), str(path)]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)


async def test_the_signed_minutes_validate_against_the_exported_ca_and_not_once_altered(
    server: RunningServer, tmp_path: Path
) -> None:
    doctor = await server.sign_in("bs.namcan")
    case_id, _ = await decide(server, doctor)
    pdf = await pdf_of(doctor, case_id)
    ca = await exported_ca(server, tmp_path)

    status = await status_of(pdf, ca)
    assert (status.intact, status.valid, status.trusted, status.bottom_line) == (True,) * 4
    assert status.signing_cert.subject.native["common_name"] == "Hội đồng chuyên môn miền Nam"
    [signature] = PdfFileReader(io.BytesIO(pdf)).embedded_signatures
    assert signature.sig_object["/SubFilter"] == "/ETSI.CAdES.detached"  # PAdES
    assert f"ca số {case_id}" in signature.sig_object["/Reason"]

    broken = await status_of(tampered(pdf), ca)
    assert (broken.intact, broken.bottom_line) == (False, False)

    # Trusting nothing: intact, but not trusted.
    stranger = tmp_path / "stranger.pem"
    stranger.write_bytes(_self_signed_pem())
    untrusted = await status_of(pdf, stranger)
    assert (untrusted.intact, untrusted.trusted) == (True, False)

    # The command line that docs/security.md gives a hospital.
    ok = await asyncio.to_thread(cli_validate, pdf, ca, tmp_path)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "INTACT:TRUSTED" in ok.stdout
    bad = await asyncio.to_thread(cli_validate, tampered(pdf), ca, tmp_path)
    assert bad.returncode != 0, bad.stdout


async def test_minutes_without_a_signed_decision_carry_no_signature(
    server: RunningServer,
) -> None:
    doctor = await server.sign_in("bs.namcan")
    case_id = int((await create_case(doctor))["id"])
    pdf = await pdf_of(doctor, case_id)
    assert PdfFileReader(io.BytesIO(pdf)).embedded_signatures == []


async def test_the_ca_is_made_once_and_kept_across_restarts(
    settings: Settings, clock: ManualClock, tmp_path: Path
) -> None:
    pems = []
    for _ in range(2):
        async with running(settings, clock) as server:
            pems.append((await exported_ca(server, tmp_path)).read_bytes())
    assert pems[0] == pems[1]
    ca_file = settings.data_dir / "signing" / "ca.pem"
    assert ca_file.stat().st_mode & 0o777 == 0o600


async def test_a_certificate_from_a_real_ca_replaces_telemeds_own(
    make_settings: Callable[..., Settings], clock: ManualClock, tmp_path: Path
) -> None:
    root_pem, key_pem, chain_pem = _real_ca_chain()
    (tmp_path / "key.pem").write_bytes(key_pem)
    (tmp_path / "chain.pem").write_bytes(chain_pem)
    settings = make_settings(
        pdf_signing_key=tmp_path / "key.pem", pdf_signing_certs=tmp_path / "chain.pem"
    )
    async with running(settings, clock) as server:
        doctor = await server.sign_in("bs.namcan")
        case_id, _ = await decide(server, doctor)
        pdf = await pdf_of(doctor, case_id)
        exported = await exported_ca(server, tmp_path)
    assert exported.read_bytes() == root_pem
    status = await status_of(pdf, exported)
    assert (status.intact, status.trusted, status.bottom_line) == (True, True, True)
    assert status.signing_cert.subject.native["common_name"] == "Bệnh viện Chợ Rẫy"
    assert not (settings.data_dir / "signing" / "ca.pem").exists()


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _usage(*, ca: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=not ca,
        content_commitment=not ca,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=ca,
        crl_sign=ca,
        encipher_only=False,
        decipher_only=False,
    )


def _cert(
    subject: str,
    key: ec.EllipticCurvePrivateKey,
    issuer: str,
    issuer_key: ec.EllipticCurvePrivateKey,
    *,
    ca: bool,
) -> x509.Certificate:
    now = datetime.now(UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(_name(issuer))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(hours=1))
        .not_valid_after(now + timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .add_extension(_usage(ca=ca), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()),
            critical=False,
        )
        .sign(issuer_key, hashes.SHA256())
    )


def _pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _self_signed_pem() -> bytes:
    key = ec.generate_private_key(ec.SECP256R1())
    return _pem(_cert("Someone else", key, "Someone else", key, ca=True))


def _real_ca_chain() -> tuple[bytes, bytes, bytes]:
    """A root, an intermediate and a hospital's signing certificate, as a real CA issues
    them: the root's PEM, the signer's key and the chain file (signer first)."""
    root_key, middle_key, key = (ec.generate_private_key(ec.SECP256R1()) for _ in range(3))
    root = _cert("Root CA", root_key, "Root CA", root_key, ca=True)
    middle = _cert("Issuing CA", middle_key, "Root CA", root_key, ca=True)
    leaf = _cert("Bệnh viện Chợ Rẫy", key, "Issuing CA", middle_key, ca=False)
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return _pem(root), key_pem, _pem(leaf) + _pem(middle) + _pem(root)
