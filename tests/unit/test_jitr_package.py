"""The just-in-time function's package (fleet.jitr.package): the same bytes for
the same fleet version and configuration, code entries untouched by the
configuration, and a handler that imports and decides from the zip alone,
with the boto3 AWS's Python runtime supplies and nothing compiled (no
cryptography: fleet.jitr.presented reads certificates as cryptography does)."""

from __future__ import annotations

import datetime
import io
import json
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from devtools.pki import issue, make_ca
from fleet.crypto import pki
from fleet.jitr import package
from fleet.jitr.activation import Presented
from fleet.jitr.presented import presented
from tests.jitr_support import SANDBOX

CA = make_ca("Factory Root")


def entries(built: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(built)) as archive:
        return {info.filename: archive.read(info) for info in archive.infolist()}


def test_the_same_configuration_gives_the_same_bytes_and_another_changes_only_its_own_entry() -> None:
    first, again, other = package.build('{"a":1}'), package.build('{"a":1}'), package.build('{"a":2}')
    assert first == again and package.code_sha256(first) == package.code_sha256(again)
    assert first != other
    code = {k: v for k, v in entries(first).items() if k != "fleet-jitr.json"}
    assert code == {k: v for k, v in entries(other).items() if k != "fleet-jitr.json"}
    with zipfile.ZipFile(io.BytesIO(first)) as archive:
        infos = archive.infolist()
    names = [i.filename for i in infos]
    assert names[:-1] == sorted(names[:-1]) and names[-1] == "fleet-jitr.json"
    assert {i.date_time for i in infos} == {(1980, 1, 1, 0, 0, 0)}
    assert {i.compress_type for i in infos} == {zipfile.ZIP_STORED}
    assert "fleet/jitr/handler.py" in names and "asn1crypto/x509.py" in names
    assert not [n for n in names if n.endswith((".so", ".pyd", ".pyc"))]  # nothing compiled travels


def test_a_kept_package_is_found_by_its_digest_and_a_tampered_one_is_not(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setattr("tempfile.tempdir", None)
    built = package.build('{"b":1}')
    digest = package.keep(built)
    assert package.kept(digest) == built
    [path] = list(tmp_path.rglob("*.zip"))
    path.write_bytes(built + b"x")
    assert package.kept(digest) is None


CHECK = (
    SANDBOX
    + """
import json
import fleet.jitr.handler
from fleet.jitr.activation import judge
from fleet.jitr.presented import presented
config = fleet.jitr.handler.Configuration.of(json.loads(open(sys.argv[1] + "/fleet-jitr.json").read()))
found = presented(sys.argv[3])
verdict = judge(found, "PENDING_ACTIVATION", "ACTIVE", True, {found.serial}, config.revoked)
outside = sorted(m.__file__ for m in list(sys.modules.values()) if getattr(m, "__file__", None)
                 and m.__name__.split(".")[0] in ("fleet", "asn1crypto") and not m.__file__.startswith(sys.argv[1]))
print(json.dumps({"reason": verdict.reason, "outside": outside, "cryptography": "cryptography" in sys.modules}))
"""
)


def test_the_handler_imports_and_decides_from_the_package_alone(tmp_path: Path) -> None:
    config = {"version": 1, "placements": {}, "revoked": [], "places": {}}
    with zipfile.ZipFile(io.BytesIO(package.build(json.dumps(config)))) as archive:
        archive.extractall(tmp_path / "task")
    device = issue(CA, "device-1")
    done = subprocess.run(
        [
            sys.executable,
            "-I",
            "-S",
            "-c",
            CHECK,
            str(tmp_path / "task"),
            sysconfig.get_paths()["purelib"],
            device.cert_pem,
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {
        "reason": f"serial {device.cert.serial_number:x} is on the CA's revocation list",
        "outside": [],
        "cryptography": False,
    }


def read_with_cryptography(pem: str) -> Presented:
    cert = pki.load_certificate(pem.encode())
    return Presented(
        pki.certificate_id(cert),
        cert.serial_number,
        pki.is_ca(cert),
        cert.not_valid_before_utc,
        cert.not_valid_after_utc,
    )


@pytest.mark.parametrize(
    "certificate",
    [
        issue(CA, "device"),
        issue(CA, "sub-ca", is_ca=True),
        issue(CA, "rsa-device", key=rsa.generate_private_key(public_exponent=65537, key_size=2048)),
        issue(CA, "expired", not_before=datetime.datetime(2001, 1, 1, tzinfo=datetime.UTC), days=30),
        issue(CA, "far-future", not_before=datetime.datetime(2060, 6, 1, 12, 30, tzinfo=datetime.UTC), days=10),
        CA,
    ],
    ids=["device", "subordinate-ca", "rsa", "expired", "after-2049", "self-signed-ca"],
)
def test_the_lambda_reads_a_certificate_as_cryptography_does(certificate: object) -> None:
    pem = certificate.cert_pem  # type: ignore[attr-defined]
    assert presented(pem) == read_with_cryptography(pem)


def test_what_cannot_be_read_is_said() -> None:
    found = presented("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")
    assert isinstance(found, str) and found.startswith("its PEM cannot be read (")
