"""Verification certificates, fingerprints, and private keys that never show."""

from __future__ import annotations

import datetime
import hashlib
import os
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from devtools.pki import make_ca
from fleet.crypto import keys, pki

NOW = datetime.datetime.now(datetime.UTC)


def test_the_verification_certificate_carries_the_code_and_the_cas_signature() -> None:
    ca = make_ca("root")
    code = "ab" * 32
    verification = x509.load_pem_x509_certificate(pki.verification_certificate(ca.cert, ca.key, code, NOW).encode())
    assert verification.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == code
    assert verification.issuer == ca.cert.subject
    ca.key.public_key().verify(
        verification.signature, verification.tbs_certificate_bytes, ec.ECDSA(verification.signature_hash_algorithm)
    )  # raises if not the CA's


def test_the_certificate_id_is_the_sha256_of_the_der_encoding() -> None:
    ca = make_ca("root")
    assert pki.certificate_id(ca.cert) == hashlib.sha256(ca.cert.public_bytes(serialization.Encoding.DER)).hexdigest()


def test_two_certificates_in_one_file_are_refused() -> None:
    ca = make_ca("root")
    with pytest.raises(pki.CertificateError, match="exactly one PEM certificate"):
        pki.load_certificate((ca.cert_pem * 2).encode())


def test_a_key_is_loaded_from_an_environment_variable_or_a_file(tmp_path: Path) -> None:
    ca = make_ca("root")
    (tmp_path / "root.key").write_text(ca.key_pem)
    for ref, environ in (
        (keys.KeyRef(env="ROOT_KEY"), {"ROOT_KEY": ca.key_pem}),
        (keys.KeyRef(file=str(tmp_path / "root.key")), {}),
    ):
        assert pki.key_matches(ca.cert, keys.load_private_key(ref, environ))


@pytest.mark.parametrize(
    ("ref", "environ", "message"),
    [
        (keys.KeyRef(env="ROOT_KEY"), {}, "the CA private key's environment variable ROOT_KEY is not set"),
        (
            keys.KeyRef(file="/nonexistent/root.key"),
            {},
            "cannot read the CA private key file /nonexistent/root.key: No such file or directory",
        ),
    ],
)
def test_a_missing_key_is_named_by_its_reference(ref: keys.KeyRef, environ: dict[str, str], message: str) -> None:
    with pytest.raises(keys.KeyUnavailable) as caught:
        keys.load_private_key(ref, environ)
    assert str(caught.value) == message


def test_a_damaged_key_error_carries_no_key_material() -> None:
    pem = make_ca("root").key_pem
    damaged = pem.replace(pem.splitlines()[1], pem.splitlines()[1][::-1])
    with pytest.raises(keys.KeyUnavailable) as caught:
        keys.load_private_key(keys.KeyRef(env="ROOT_KEY"), {"ROOT_KEY": damaged})
    shown = str(caught.value) + repr(caught.value.__cause__) + repr(caught.value.__context__)
    assert "is not an unencrypted PEM private key" in shown
    for line in damaged.splitlines()[1:-1]:
        assert line not in shown
    assert caught.value.__suppress_context__


def test_a_key_file_that_is_a_fifo_or_too_large_is_refused_without_blocking(tmp_path: Path) -> None:
    fifo, large = tmp_path / "ca.key", tmp_path / "large.key"
    os.mkfifo(fifo)  # a read would wait forever for a writer
    large.write_bytes(b"x" * (keys.MAX_KEY_BYTES + 1))
    for path, why in ((fifo, "not a regular file"), (large, "more than a file of this kind holds")):
        with pytest.raises(keys.KeyUnavailable, match=f"cannot read the CA private key file {path}: .*{why}"):
            keys.load_private_key(keys.KeyRef(file=str(path)))
