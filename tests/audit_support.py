"""A small fleet for the audit's tests, written as a user would, and audited the way `fleet audit` does."""

from __future__ import annotations

import datetime
import json
from typing import Any

import gmpy2
from cryptography.hazmat.primitives.asymmetric import rsa

from devtools.pki import Issued, issue
from fleet.audit import from_manifests, run
from fleet.audit.findings import Finding
from fleet.manifest import load_fleet
from tests.conftest import Manifests

REGIONS = frozenset({"us-east-1", "eu-west-1"})
ACCOUNTS = """\
accounts:
  prod:
    id: "111111111111"
    deployer_role_arn: arn:aws:iam::111111111111:role/fleet-deployer
    regions: [us-east-1, eu-west-1]
"""
CAS = """\
cas:
  root:
    certificate: pki/root.pem
    mode: SNI_ONLY
    placements:
      - account: prod
"""
DEVICES = """\
policies:
  telemetry:
    document: telemetry.json
device_certificates:
  line-1:
    ca: root
    certificates: devices
    policies: [telemetry]
"""
# The example fleet's policy: each device connects as its own thing and publishes under its own client ID.
SOUND_POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Action": "iot:Connect",
            "Resource": "arn:aws:iot:{{region}}:{{account_id}}:client/${iot:Connection.Thing.ThingName}",
        },
        {
            "Effect": "Allow",
            "Action": "iot:Publish",
            "Resource": "arn:aws:iot:{{region}}:{{account_id}}:topic/telemetry/${iot:ClientId}",
        },
    ],
}


def small_fleet(
    manifests: Manifests, devices: int = 2, policy: dict[str, Any] | None = None, **device_options: Any
) -> list[Issued]:
    root = manifests.ca("root")
    issued = [issue(root, f"device-{n}", **device_options) for n in range(devices)]
    for n, device in enumerate(issued):
        device.write(manifests.root / "devices" / f"device-{n}.pem")
    manifests.text("accounts.yaml", ACCOUNTS)
    manifests.text("cas.yaml", CAS)
    manifests.text("devices.yaml", DEVICES)
    manifests.text("telemetry.json", json.dumps(policy or SOUND_POLICY, indent=2))
    return issued


def audit(manifests: Manifests, now: datetime.datetime | None = None) -> list[Finding]:
    """What `fleet audit` finds in the test's manifests (paths shown from the manifests' parent)."""
    collector = from_manifests.FactsCollector()
    fleet = load_fleet(
        manifests.root, known_regions=REGIONS, display_root=manifests.root.parent, observe=collector, now=now
    )
    inventory = from_manifests.inventory(fleet, collector.facts, manifests.root.parent)
    return run(inventory, fleet.audit, now or datetime.datetime.now(datetime.UTC))


def checks(findings: list[Finding]) -> list[str]:
    return [f.check for f in findings]


def roca_key(bits: int = 1024) -> rsa.RSAPrivateKey:
    """An RSA key with the structure of Infineon's flawed generator (CVE-2017-15361): each prime is
    k * M + (65537^a mod M), M the product of the first primes (Nemec et al., CCS 2017)."""
    primes = [int(p) for p in _first_primes(39)]
    m = 1
    for p in primes:
        m *= p
    state = gmpy2.random_state(2017)

    def prime() -> int:
        while True:
            k = int(gmpy2.mpz_urandomb(state, bits // 2 - m.bit_length()))
            a = int(gmpy2.mpz_urandomb(state, 62))
            candidate = k * m + pow(65537, a, m)
            if candidate.bit_length() == bits // 2 and gmpy2.is_prime(candidate) and (candidate - 1) % 65537:
                return candidate

    p, q = prime(), prime()
    e = 65537
    d = pow(e, -1, (p - 1) * (q - 1))
    numbers = rsa.RSAPrivateNumbers(
        p, q, d, rsa.rsa_crt_dmp1(d, p), rsa.rsa_crt_dmq1(d, q), rsa.rsa_crt_iqmp(p, q), rsa.RSAPublicNumbers(e, p * q)
    )
    return numbers.private_key()


def _first_primes(n: int) -> list[int]:
    found: list[int] = []
    candidate = 2
    while len(found) < n:
        if all(candidate % p for p in found):
            found.append(candidate)
        candidate += 1
    return found
