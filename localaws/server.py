"""Serve the local AWS endpoint: ``python -m localaws [--port N] [--plain]``.

Binds 127.0.0.1 only. Prints ``localaws listening on http://127.0.0.1:PORT``
once it accepts requests. ``--plain`` serves moto without fleet's fixes (the
tests use it to show each fix is needed). Faults can be armed at any time
(localaws.faults).
"""

from __future__ import annotations

import argparse

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from werkzeug.serving import make_server

from localaws import faults, fixes, lambda_fixes, ledger, seed


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="localaws", description=__doc__)
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--plain", action="store_true", help="serve moto without fleet's fixes")
    args = parser.parse_args(argv)

    if not args.plain:
        fixes.apply()
    ledger.install()
    app = faults.FaultApp(seed.SeedApp(ledger.LedgerApp(DomainDispatcherApplication(create_backend_app))))
    if not args.plain:
        app = lambda_fixes.CodeApp(app)
    server = make_server("127.0.0.1", args.port, app, threaded=True)
    if not args.plain:
        lambda_fixes.listening_at(f"http://127.0.0.1:{server.server_port}")
    print(f"localaws listening on http://127.0.0.1:{server.server_port}", flush=True)
    server.serve_forever()
