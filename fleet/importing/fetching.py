"""What AWS gives per certificate only: its PEM (one DescribeCertificate each)
and, with ``--things``, the things it is attached to (one ListPrincipalThings
each). Paced per account, region and API like every call of fleet
(fleet.aws.pacing), several calls in flight per place and places in parallel,
with a progress line every FLEET_PROGRESS_SECONDS.

Resumable: each PEM is written whole (fleet.files.write_atomic) under
``imported/.fetched/<fingerprint>.pem`` as it arrives, and what a PEM does not
say (the date AWS last changed a certificate's status, which dates a
revocation; its things) goes into a journal beside it before the PEM, so a
killed import, run again, finds in the repository everything it had and
fetches only the rest: a PEM already anywhere under the manifests as
``<fingerprint>.pem`` is never fetched again.

A PEM that does not parse, or is not the certificate AWS listed, is said and
skipped; a certificate deleted since the listing is skipped.
"""

from __future__ import annotations

import datetime
import json
import os
import re
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fleet.aws.certificates import Certificates
from fleet.aws.errors import AwsError, NotFound
from fleet.crypto import pki
from fleet.files import write_atomic
from fleet.importing.estate import Place

STAGING = Path("imported") / ".fetched"  # under the manifests folder
JOURNAL = "facts.jsonl"
PEM_NAME = re.compile(r"^([0-9a-f]{64})\.pem$")
IN_FLIGHT = 4  # calls in flight per place: the pacer, not the round trip, sets the pace


@dataclass(frozen=True)
class Job:
    """What to ask AWS about one certificate in one place."""

    fingerprint: str
    arn: str
    pem: bool = False  # its PEM (DescribeCertificate)
    dated: bool = False  # and when AWS last changed its status (a revocation's date)
    things: bool = False  # the things it is attached to (ListPrincipalThings)


@dataclass
class Fetched:
    pems: dict[str, Path]  # fingerprint -> a file under the manifests holding its PEM
    modified: dict[str, str] = field(default_factory=dict)  # fingerprint -> ISO date AWS last changed its status
    things: dict[tuple[str, str, str], tuple[str, ...]] = field(default_factory=dict)  # (fp, account id, region)
    unreadable: list[tuple[Place, str, str]] = field(default_factory=list)  # (place, fingerprint, why)
    gone: list[tuple[Place, str]] = field(default_factory=list)  # deleted since the listing
    calls: int = 0  # calls made


def pems_in(manifests: Path) -> dict[str, Path]:
    """Every file under the manifests named ``<fingerprint>.pem`` (the import's, the ledger's copies),
    but an empty one."""
    found: dict[str, Path] = {}
    for folder, subfolders, names in os.walk(manifests):
        subfolders.sort()
        for name in sorted(names):
            match = PEM_NAME.match(name)
            if match and match[1] not in found and os.stat(os.path.join(folder, name)).st_size:
                found[match[1]] = Path(folder) / name
    return found


class Journal:
    """An append-only file of JSON lines; a line cut short by a kill is ignored."""

    def __init__(self, path: Path):
        self.path = path
        self._lock = threading.Lock()

    def read(self) -> Iterator[dict[str, Any]]:
        if not self.path.is_file():
            return
        for line in self.path.read_text(encoding="utf-8").splitlines():
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if isinstance(record, dict):
                yield record

    def add(self, record: Mapping[str, Any]) -> None:
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="utf-8") as stream:
                stream.write(json.dumps(record, sort_keys=True) + "\n")
                stream.flush()


def fetch(
    manifests: Path,
    jobs: Mapping[Place, list[Job]],
    iot_for: Callable[[Place], Any],
    rate: float,
    every: float,
    say: Callable[[str], None],
) -> Fetched:
    """Do the jobs (what the repository holds already is not asked again); an AwsError stops them all."""
    staging = manifests / STAGING
    journal = Journal(staging / JOURNAL)
    fetched = Fetched(pems_in(manifests))
    for record in journal.read():
        if "modified" in record:
            fetched.modified[record["fp"]] = record["modified"]
        elif "things" in record:
            fetched.things[(record["fp"], record["account_id"], record["region"])] = tuple(record["things"])
    todo = {
        place: [job for job in (_left(job, place, fetched) for job in place_jobs) if job is not None]
        for place, place_jobs in jobs.items()
    }
    todo = {place: place_jobs for place, place_jobs in sorted(todo.items()) if place_jobs}
    _announce(jobs, todo, rate, say)
    if not todo:
        return fetched
    progress = _Progress({place: len(place_jobs) for place, place_jobs in todo.items()}, every, say)
    lock, stop = threading.Lock(), threading.Event()
    failures: list[AwsError] = []

    def work(place: Place, queue: Iterator[Job]) -> None:
        api = Certificates(iot_for(place), place.where)
        while not stop.is_set():
            with lock:
                job = next(queue, None)
            if job is None:
                return
            try:
                _do(job, place, api, staging, journal, fetched, lock)
            except AwsError as error:
                with lock:
                    failures.append(error)
                stop.set()
                return
            except BaseException:
                stop.set()
                raise
            progress.step(place)

    with ThreadPoolExecutor(max_workers=IN_FLIGHT * len(todo)) as pool:
        workers = [
            pool.submit(work, place, queue)
            for place, queue in ((place, iter(place_jobs)) for place, place_jobs in todo.items())
            for _ in range(IN_FLIGHT)
        ]
    for worker in workers:
        worker.result()  # what is not an AWS error (a file that cannot be written) surfaces here
    if failures:
        raise failures[0]
    progress.done()
    return fetched


def _left(job: Job, place: Place, fetched: Fetched) -> Job | None:
    """What of the job the repository and the journal do not answer already."""
    pem = job.pem and (job.fingerprint not in fetched.pems or (job.dated and job.fingerprint not in fetched.modified))
    things = job.things and (job.fingerprint, *place.key) not in fetched.things
    if not (pem or things):
        return None
    return Job(job.fingerprint, job.arn, pem, job.dated and pem, things)


def _do(
    job: Job, place: Place, api: Certificates, staging: Path, journal: Journal, fetched: Fetched, lock: threading.Lock
) -> None:
    if job.things:
        try:
            things = tuple(sorted(api.things_of(job.arn)))
        except NotFound:
            things = ()
        journal.add(
            {"fp": job.fingerprint, "account_id": place.account_id, "region": place.region, "things": list(things)}
        )
        with lock:
            fetched.things[(job.fingerprint, *place.key)] = things
            fetched.calls += 1
    if not job.pem:
        return
    try:
        described = api.describe(job.fingerprint)
    except NotFound:
        with lock:
            fetched.gone.append((place, job.fingerprint))
            fetched.calls += 1
        return
    with lock:
        fetched.calls += 1
    if job.dated:  # before the PEM: a PEM in the repository means its date is in the journal
        modified = described["lastModifiedDate"].astimezone(datetime.UTC).date().isoformat()
        journal.add({"fp": job.fingerprint, "modified": modified})
        with lock:
            fetched.modified[job.fingerprint] = modified
    try:
        cert = pki.load_certificate(str(described.get("certificatePem") or "").encode())
        found = pki.certificate_id(cert)
    except pki.CertificateError as error:
        with lock:
            fetched.unreadable.append((place, job.fingerprint, str(error)))
        return
    if found != job.fingerprint:
        with lock:
            fetched.unreadable.append((place, job.fingerprint, f"its PEM is another certificate ({found})"))
        return
    path = staging / f"{job.fingerprint}.pem"
    write_atomic(path, pki.to_pem(cert), durable=False)  # one a power cut left empty is fetched again
    with lock:
        fetched.pems[job.fingerprint] = path


def _announce(
    jobs: Mapping[Place, list[Job]], todo: Mapping[Place, list[Job]], rate: float, say: Callable[[str], None]
) -> None:
    pems = sum(job.pem for place_jobs in todo.values() for job in place_jobs)
    things = sum(job.things for place_jobs in todo.values() for job in place_jobs)
    had = sum(job.pem for place_jobs in jobs.values() for job in place_jobs) - pems
    slowest = max(
        (max(sum(j.pem for j in place_jobs), sum(j.things for j in place_jobs)) for place_jobs in todo.values()),
        default=0,
    )
    kept = f" ({had:,} already in the repository)" if had else ""
    said_things = f" and the things of {things:,}" if things else ""
    say(
        f"fleet import: fetching {pems:,} PEM(s){kept}{said_things}, one call each, at {rate:g} calls a second "
        f"per account and region: about {_duration(slowest / rate)}"
    )


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{max(seconds, 1):.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


class _Progress:
    """A line every ``every`` seconds: how many calls each place has made of how many."""

    def __init__(
        self,
        totals: Mapping[Place, int],
        every: float,
        say: Callable[[str], None],
        clock: Callable[[], float] = time.monotonic,
    ):
        self._totals = dict(totals)
        self._done = dict.fromkeys(totals, 0)
        self._every = every
        self._say = say
        self._clock = clock
        self._last = clock()
        self._lock = threading.Lock()

    def step(self, place: Place) -> None:
        with self._lock:
            self._done[place] += 1
            if self._clock() - self._last < self._every:
                return
            self._last = self._clock()
            self._print()

    def done(self) -> None:
        with self._lock:
            self._print()

    def _print(self) -> None:
        done, total = sum(self._done.values()), sum(self._totals.values())
        each = "; ".join(f"{p.label} {self._done[p]:,}/{self._totals[p]:,}" for p in self._totals)
        try:
            self._say(f"fleet import: {done:,} of {total:,} certificates read ({each})")
            sys.stderr.flush()
        except (OSError, ValueError):
            pass  # a lost progress line must not stop the import
