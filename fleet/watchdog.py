"""fleet's processes end soon after the engine that started them is gone.

Pulumi starts the dynamic provider (through a shell wrapper) and the program
(through the language host) in process groups of their own, and passes each
the engine's address; when the `pulumi` CLI is killed, nothing stops them: a
provider went on registering certificates beside the next run. This watchdog,
started by the program and on the provider's first call to AWS, checks every
second that the engine still accepts connections, and ends the process (exit
70) after two refusals in a row. A write in flight may complete; no new one
starts after that: the next run settles it by reading AWS.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

INTERVAL = 1.0
EXIT_CODE = 70  # EX_SOFTWARE: ended by fleet, not by a fault of its own
_ADDRESS = re.compile(r"^(?P<host>[\w.-]+|\[[0-9a-fA-F:]+\]):(?P<port>\d{1,5})$")

_lock = threading.Lock()
_started: list[threading.Thread] = []


def engine_address(argv: Sequence[str]) -> tuple[str, int] | None:
    """The engine's address as the provider (its last argument) or program (`--engine`) was given it."""
    arguments = list(argv[1:])
    if "--engine" in arguments[:-1]:
        candidate = arguments[arguments.index("--engine") + 1]
    elif arguments:
        candidate = arguments[-1]
    else:
        return None
    found = _ADDRESS.match(candidate)
    return (found["host"].strip("[]"), int(found["port"])) if found else None


def engine_reachable(address: tuple[str, int], timeout: float = 2.0) -> bool:
    try:
        with socket.create_connection(address, timeout=timeout):
            return True
    except ConnectionRefusedError:
        return False
    except OSError:
        return True  # a slow or busy engine is not a gone engine


def watch(
    address: tuple[str, int],
    on_gone: Callable[[], None],
    interval: float = INTERVAL,
    reachable: Callable[[tuple[str, int]], bool] = engine_reachable,
) -> None:
    refused = 0
    while True:
        time.sleep(interval)
        refused = 0 if reachable(address) else refused + 1
        if refused >= 2:
            on_gone()
            return


def _stop() -> None:
    try:  # stderr was a pipe to the engine: it may be gone with it
        sys.stderr.write(
            "fleet: the Pulumi engine that started this process is gone; it stops here, and the next "
            "run settles what it was doing by reading AWS\n"
        )
        sys.stderr.flush()
    except (OSError, ValueError):
        pass
    os._exit(EXIT_CODE)


def _arguments() -> list[str]:
    """This process's arguments as it was started (the language host replaces sys.argv
    with the program's before running it; /proc keeps the originals)."""
    try:
        raw = Path("/proc/self/cmdline").read_bytes()
    except OSError:
        return list(sys.argv)
    return [a.decode(errors="replace") for a in raw.split(b"\0") if a][1:]  # without the interpreter


def _started_by_the_engine(arguments: Sequence[str]) -> bool:
    """Whether this is the dynamic provider (`python -m pulumi.dynamic`) or the program
    (`pulumi-language-python-exec`), rather than a test or a command of fleet's own."""
    spec = getattr(sys.modules.get("__main__"), "__spec__", None)
    return (spec is not None and spec.name == "pulumi.dynamic.__main__") or any(
        a.endswith("pulumi-language-python-exec") for a in arguments[:1]
    )


def ensure_started() -> None:
    """Start the watchdog once per process, in a process the engine started."""
    arguments = _arguments()
    if not _started_by_the_engine(arguments):
        return
    with _lock:
        if _started:
            return
        address = engine_address(arguments)
        if address is None:
            return
        thread = threading.Thread(target=watch, args=(address, _stop), name="fleet-engine-watchdog", daemon=True)
        thread.start()
        _started.append(thread)


def end_quietly_when_interrupted() -> None:
    """The engine interrupts the program (SIGINT) when a resource fails or the run is
    cancelled; Python's answer, a KeyboardInterrupt traceback, was printed under the run's
    real error. The program only reads AWS: ending at once loses nothing."""
    if not _started_by_the_engine(_arguments()):
        return
    try:
        signal.signal(signal.SIGINT, lambda _signum, _frame: os._exit(1))
    except ValueError:
        pass  # not the main thread: Python's default stays
