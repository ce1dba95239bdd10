"""A stand-in for the GitHub CLI, `gh`, holding one pull request's comments in a JSON file.

It answers the calls the plan workflow's comment step makes, as GitHub's REST
API and gh would: list the issue's comments (`gh api .../issues/N/comments
--paginate --jq EXPR`, the filter run by jq as gh runs it), update one (`gh api
--method PATCH .../issues/comments/ID -F body=@FILE`), add one (`gh pr comment N
--body-file FILE`). Any other call, or one without GH_TOKEN and GH_REPO, fails
loudly: a workflow that changes how it calls gh must change this too.

Run as a script: `python gh_stand_in.py STORE ARGS...` (the runner's `gh` on PATH).
"""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path
from typing import Any

import jq


def main(store: Path, args: list[str]) -> int:
    if not os.environ.get("GH_TOKEN"):
        return refuse("gh: no GH_TOKEN: the step must pass the token")
    repo = os.environ.get("GH_REPO", "")
    data: dict[str, Any] = json.loads(store.read_text()) if store.exists() else {"comments": [], "next": 1}
    if data.setdefault("repository", repo) != repo:
        return refuse(f"gh: GH_REPO {repo!r} is not the repository {data['repository']!r}")
    match args:
        case ["api", path, "--paginate", "--jq", expression] if re.fullmatch(
            rf"repos/{re.escape(repo)}/issues/\d+/comments", path
        ):
            number = int(path.split("/")[-2])
            listed = [c for c in data["comments"] if c["issue"] == number]
            for value in jq.compile(expression).input_value(listed).all():
                print(value if isinstance(value, str) else json.dumps(value))
        case ["api", "--method", "PATCH", path, "-F", body] if re.fullmatch(
            rf"repos/{re.escape(repo)}/issues/comments/\d+", path
        ) and body.startswith("body=@"):
            [comment] = [c for c in data["comments"] if c["id"] == int(path.rsplit("/", 1)[1])]
            comment["body"] = Path(body.removeprefix("body=@")).read_text()
            comment["updates"] += 1
        case ["pr", "comment", number, "--body-file", file] if number.isdigit():
            data["comments"].append(
                {"id": data["next"], "issue": int(number), "updates": 0, "body": Path(file).read_text()}
            )
            data["next"] += 1
        case _:
            return refuse(f"gh stand-in: no stand-in for `gh {' '.join(args)}`")
    store.write_text(json.dumps(data))
    return 0


def refuse(text: str) -> int:
    print(text, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]), sys.argv[2:]))
