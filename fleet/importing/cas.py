"""How each CA AWS has is declared: one entry per CA however many places hold
it, with each placement's status, auto-registration and registration config,
and its mode. A DEFAULT-mode CA is declared without its private key, with
the places where it is registered already (``registered_in``): the key is
needed only to register it anywhere else.

A CA the manifests declare already gets the placements it lacks; where it is
placed already, a difference with AWS is a conflict, left as the manifests
say. A CA fleet validate would refuse (expired, not a CA, unreadable), or
registered in different modes in different places (the manifests give a CA
one mode), is left out, and so are the certificates registered under it.
"""

from __future__ import annotations

import datetime
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from fleet.crypto import pki
from fleet.importing.estate import CaFound, Place, PlaceEstate
from fleet.importing.existing import Existing
from fleet.importing.names import slug, unique
from fleet.importing.notes import CONFLICT, LEFT_OUT, Note
from fleet.manifest.desired import CaPlacementSpec


@dataclass(frozen=True, order=True)
class Settings:
    """A placement's settings, as AWS has them."""

    status: str
    auto_registration: str
    registration_config: tuple[tuple[str, str], ...]  # sorted (manifest key, value)


@dataclass(frozen=True)
class CaImport:
    name: str
    certificate_id: str
    pem: str  # the certificate, as fleet writes PEMs
    mode: str
    places: tuple[tuple[Place, Settings], ...]  # where it is added: everywhere for a new CA, else where it lacks
    declared: bool  # the manifests declare it already (the places are added to it)
    registered_in: tuple[str, ...]  # ACCOUNT_ID/REGION to add to registered_in (DEFAULT mode, no key)


@dataclass(frozen=True)
class Decided:
    imported: tuple[CaImport, ...]
    names: dict[str, str]  # certificate id -> CA name, for every CA whose certificates can be declared under it
    placed: frozenset[tuple[str, str, str]]  # (CA id, account id, region): where the manifests will place each
    left_out: dict[str, str]  # certificate id -> why its certificates are left out with it
    pems: dict[str, str]  # certificate id -> PEM, for every CA AWS has
    notes: tuple[Note, ...]


def decide(estates: Iterable[PlaceEstate], existing: Existing, now: datetime.datetime) -> Decided:
    found: dict[str, dict[Place, CaFound]] = defaultdict(dict)
    for estate in estates:
        for ca_id, ca in estate.cas.items():
            found[ca_id][estate.place] = ca
    declared = {(p.certificate_id, p.account_id, p.region): p for p in existing.fleet.ca_placements}
    taken = set(existing.ca_files) | set(existing.ca_names.values())
    imported: list[CaImport] = []
    names = dict(existing.ca_names)
    left_out: dict[str, str] = {}
    pems: dict[str, str] = {}
    notes: list[Note] = []
    placed = set(declared)
    for ca_id, places in sorted(found.items()):
        first = places[min(places)]
        pems[ca_id] = first.pem
        name = existing.ca_names.get(ca_id)
        subject = f"CA {name or ca_id}"
        if name is None:
            problem = _problem(first.pem, ca_id, now)
            modes = sorted({ca.state.mode for ca in places.values()})
            if problem is None and len(modes) > 1:
                problem = (
                    f"registered in mode {modes[0]} in some places and {modes[1]} in others, and the "
                    "manifests give a CA one mode"
                )
            if problem is not None:
                left_out[ca_id] = f"its CA {ca_id} is left out"
                notes.append(Note(LEFT_OUT, subject, f"{problem}: left out, with the certificates registered under it"))
                continue
            cert = pki.load_certificate(first.pem.encode())
            name = unique(slug(pki.common_name(cert) or "", "ca"), taken)
            taken.add(name)
        names[ca_id] = name
        mode = next((p.mode for p in existing.fleet.ca_placements if p.certificate_id == ca_id), first.state.mode)
        new = []
        for place, ca in sorted(places.items()):
            spec = declared.get((ca_id, place.account_id, place.region))
            if spec is not None:
                notes.extend(_compare(spec, ca, place))
            elif ca.state.mode != mode:
                notes.append(
                    Note(
                        CONFLICT,
                        subject,
                        f"registered in mode {ca.state.mode}, declared {mode}: not "
                        "placed there, and its certificates there are left out",
                        place.label,
                    )
                )
            else:
                new.append((place, _settings(ca)))
        placed.update((ca_id, place.account_id, place.region) for place, _ in new)
        if not new:
            continue
        keyless = mode == "DEFAULT" and not _has_key(existing, name)
        imported.append(
            CaImport(
                name,
                ca_id,
                pki.to_pem(pki.load_certificate(first.pem.encode())),
                mode,
                tuple(new),
                declared=ca_id in existing.ca_names,
                registered_in=tuple(f"{p.account_id}/{p.region}" for p, _ in new) if keyless else (),
            )
        )
    return Decided(tuple(imported), names, frozenset(placed), left_out, pems, tuple(notes))


def _problem(pem: str, ca_id: str, now: datetime.datetime) -> str | None:
    """Why fleet validate would refuse the CA, or None."""
    try:
        cert = pki.load_certificate(pem.encode())
    except pki.CertificateError as error:
        return f"its PEM cannot be read ({error})"
    if pki.certificate_id(cert) != ca_id:
        return "its PEM is another certificate"
    if not pki.is_ca(cert):
        return "it is not a CA certificate (basicConstraints CA:TRUE missing)"
    invalid = pki.validity_problem(cert, now)
    return f"it is {invalid}" if invalid else None


def _settings(ca: CaFound) -> Settings:
    return Settings(ca.state.status, ca.state.auto_registration, tuple(sorted(ca.state.registration_config.items())))


def _has_key(existing: Existing, name: str) -> bool:
    return any(p.private_key is not None for p in existing.fleet.ca_placements if p.ca == name)


def _compare(spec: CaPlacementSpec, ca: CaFound, place: Place) -> list[Note]:
    have = _settings(ca)
    differences = [
        f"{what} {aws} in AWS, {declared} at {spec.source}"
        for what, aws, declared in (
            ("mode", ca.state.mode, spec.mode),
            ("status", have.status, spec.status),
            ("auto-registration", have.auto_registration, spec.auto_registration),
            ("registration config", _config(have.registration_config), _config(spec.registration_config)),
        )
        if aws != declared
    ]
    return [Note(CONFLICT, f"CA {spec.ca}", "; ".join(differences), place.label)] if differences else []


def _config(config: tuple[tuple[str, str], ...]) -> str:
    return ", ".join(f"{k}={v}" for k, v in config) or "none"
