"""Serve the local AWS endpoint: ``python -m localaws [--port N] [--plain]``.

Binds 127.0.0.1 only. Prints ``localaws listening on http://127.0.0.1:PORT``
once it accepts requests. ``--plain`` serves moto without fleet's fixes (the
tests use it to show each fix is needed). Faults can be armed at any time
(localaws.faults). ``--accept-access-key`` refuses every other credential
this endpoint did not issue (localaws.credentials); ``--exit-with-stdin``
ends the endpoint when its standard input closes, so it never outlives the
process that started it (`fleet local`), however that process ended.
"""

from __future__ import annotations

import argparse
import sys
import threading
from collections.abc import Callable, Iterable
from typing import Any

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from werkzeug.serving import BaseWSGIServer, make_server

from localaws import credentials, faults, fixes, lambda_fixes, ledger, seed


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="localaws", description=__doc__)
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--plain", action="store_true", help="serve moto without fleet's fixes")
    parser.add_argument(
        "--accept-access-key",
        action="append",
        default=[],
        metavar="KEY",
        help="accept requests signed with KEY and with keys this endpoint issued; refuse others",
    )
    parser.add_argument("--refusal-hint", default="", help="what a refused request's message tells the user to do")
    parser.add_argument("--exit-with-stdin", action="store_true", help="end when standard input closes")
    args = parser.parse_args(argv)

    if not args.plain:
        fixes.apply()
    ledger.install()
    moto = DomainDispatcherApplication(create_backend_app)
    app: Callable[..., Iterable[bytes]] = seed.SeedApp(ledger.LedgerApp(moto))
    if args.accept_access_key:
        app = credentials.IssuedOnly(app, args.accept_access_key, args.refusal_hint)
    app = faults.FaultApp(app)
    if not args.plain:
        app = lambda_fixes.CodeApp(app)
    server = make_server("127.0.0.1", args.port, app, threaded=True)
    if not args.plain:
        lambda_fixes.listening_at(f"http://127.0.0.1:{server.server_port}")
    if args.exit_with_stdin:
        threading.Thread(target=_shutdown_at_end_of_input, args=(server,), daemon=True).start()
    print(f"localaws listening on http://127.0.0.1:{server.server_port}", flush=True)
    try:
        server.serve_forever()
    finally:
        server.server_close()


def _shutdown_at_end_of_input(server: BaseWSGIServer) -> None:
    stream: Any = sys.stdin.buffer
    while stream.read(4096):
        pass
    server.shutdown()
