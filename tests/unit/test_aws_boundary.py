"""boto3 and botocore are imported under fleet/aws/ only, by every module of fleet,
one added tomorrow too (the import-linter contract "only fleet.aws talks to boto3"
says the same): the rest of fleet reaches AWS through fleet.aws. Read from each
module's syntax tree, so an import inside a function counts as well."""

from __future__ import annotations

import ast
from pathlib import Path

import fleet

ROOT = Path(fleet.__file__).resolve().parent
AWS_LIBRARIES = ("boto3", "botocore")


def aws_imports(path: Path) -> list[str]:
    """`line: module` of each import of boto3 or botocore in the module."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        found += [f"{node.lineno}: {name}" for name in names if name.split(".")[0] in AWS_LIBRARIES]
    return found


def test_only_fleet_aws_imports_boto3_or_botocore() -> None:
    modules = sorted(ROOT.rglob("*.py"))
    assert ROOT / "recovery.py" in modules or len(modules) > 50  # the walk sees fleet's modules
    outside = {
        str(path.relative_to(ROOT.parent)): imports
        for path in modules
        if "aws" not in path.relative_to(ROOT).parts[:1] and (imports := aws_imports(path))
    }
    assert outside == {}


def test_the_check_sees_an_import_inside_a_function(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text("def f():\n    import boto3\n    from botocore.config import Config\n    import json\n")
    assert aws_imports(module) == ["2: boto3", "3: botocore.config"]
