"""Start and stop the local AWS endpoint (``python -m localaws``) as a process."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

from fleet.operations.local import CREDENTIALS as LOCAL_CREDENTIALS  # accepted by the local endpoint only

READS = ("Describe", "List", "Get")


@dataclass
class LocalAws:
    """The local AWS endpoint, started on a free port of 127.0.0.1."""

    plain: bool = False
    options: tuple[str, ...] = ()  # more of `python -m localaws`'s options
    url: str = ""
    _process: subprocess.Popen[str] | None = field(default=None, repr=False)

    def start(self) -> LocalAws:
        command = [sys.executable, "-m", "localaws", "--port", "0"]
        if self.plain:
            command.append("--plain")
        command.extend(self.options)
        self._process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        assert self._process.stdout is not None
        line = self._process.stdout.readline()
        if "listening on " not in line:
            self.stop()
            raise RuntimeError(f"local AWS endpoint did not start: {line!r}")
        self.url = line.rsplit(" ", 1)[1].strip()
        return self

    def stop(self) -> None:
        if self._process is not None:
            self._process.terminate()
            self._process.wait(timeout=10)
            self._process = None

    def environment(self) -> dict[str, str]:
        """What a process needs to talk to this endpoint instead of AWS."""
        return {**LOCAL_CREDENTIALS, "FLEET_AWS_ENDPOINT_URL": self.url}

    def calls(self) -> dict[str, int]:
        """API calls served so far, as {"service:Operation": count}."""
        with urllib.request.urlopen(f"{self.url}/_localaws/calls", timeout=10) as response:
            return dict(json.load(response))

    def calls_in_order(self) -> list[str]:
        """The last calls served (up to 100,000), oldest first, as "service:Operation"."""
        with urllib.request.urlopen(f"{self.url}/_localaws/calls/order", timeout=10) as response:
            return list(json.load(response))

    def writes(self) -> dict[str, int]:
        """The IoT calls served so far that are not reads."""
        return {
            name: count
            for name, count in self.calls().items()
            if name.startswith("iot:") and not name.split(":", 1)[1].startswith(READS)
        }

    def arm_faults(self, *rules: dict[str, object]) -> None:
        """Inject faults from now on (localaws.faults.Rule fields); replaces any armed before."""
        self._faults("POST", json.dumps(list(rules)).encode())

    def clear_faults(self) -> None:
        self._faults("DELETE")

    def faults_injected(self) -> dict[str, int]:
        """Faults injected since they were last armed or cleared, by kind."""
        return dict(self._faults("GET")["injected"])

    def faults_by_rule(self) -> list[int]:
        """How many times each armed rule fired, in the order they were armed."""
        return list(self._faults("GET")["by_rule"])

    def _faults(self, method: str, body: bytes | None = None) -> dict[str, Any]:
        request = urllib.request.Request(f"{self.url}/_localaws/faults", data=body, method=method)
        with urllib.request.urlopen(request, timeout=10) as response:
            answer: dict[str, Any] = json.load(response)
        return answer

    def reset(self) -> None:
        """Forget all AWS state and the call counts."""
        for path, method in (
            ("/moto-api/reset", "POST"),
            ("/_localaws/calls", "DELETE"),
            ("/_localaws/faults", "DELETE"),
        ):
            request = urllib.request.Request(f"{self.url}{path}", method=method)
            urllib.request.urlopen(request, timeout=10).close()

    def __enter__(self) -> LocalAws:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
