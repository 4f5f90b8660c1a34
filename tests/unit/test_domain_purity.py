"""The domain imports only the standard library and eventsourcing.domain (a checked rule)."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

DOMAIN = Path(__file__).resolve().parents[2] / "domain"
ALLOWED = {"eventsourcing.domain", "domain"}


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def test_domain_imports_only_stdlib_and_eventsourcing_domain() -> None:
    files = sorted(DOMAIN.glob("*.py"))
    assert files
    offenders = {}
    for path in files:
        bad = {
            m
            for m in _imports(path)
            if m.split(".")[0] not in sys.stdlib_module_names
            and m != "__future__"
            and not any(m == a or m.startswith(a + ".") for a in ALLOWED)
        }
        if bad:
            offenders[path.name] = sorted(bad)
    assert offenders == {}
